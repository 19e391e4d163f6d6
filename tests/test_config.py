import pytest
from transformers import AutoConfig, BertConfig

from hf_rmt import RMTConfig


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("num_memory_tokens", 0, "`num_memory_tokens` must be an integer >= 1, got 0"),
        ("num_memory_tokens", -3, "`num_memory_tokens` must be an integer >= 1, got -3"),
        ("num_memory_tokens", 2.0, "`num_memory_tokens` must be an integer >= 1, got 2.0"),
        ("num_memory_tokens", True, "`num_memory_tokens` must be an integer >= 1, got True"),
        ("segment_size", 0, "`segment_size` must be an integer >= 1 or None, got 0"),
        ("segment_size", "64", "`segment_size` must be an integer >= 1 or None, got '64'"),
        ("max_n_segments", 0, "`max_n_segments` must be an integer >= 1 or None, got 0"),
        ("bptt_depth", -2, "`bptt_depth` must be an integer >= -1"),
        ("memory_layout", "prefix", "`memory_layout` must be one of ('encoder', 'decoder', 'seq2seq')"),
        ("segment_alignment", "center", "`segment_alignment` must be one of ('left', 'right')"),
        ("memory_init_std", 0.0, "`memory_init_std` must be a positive number or None, got 0.0"),
        ("modules_to_save", "classifier", "`modules_to_save` must be a list of module names"),
        ("memory_type", "armt", "`memory_type` must be one of ('rmt', 'associative'), got 'armt'"),
        ("memory_dim", 32, "`memory_dim` sizes the associative memory and needs `memory_type='associative'`"),
    ],
)
def test_invalid_fields_name_field_rule_and_value(field, value, message):
    with pytest.raises(ValueError) as error:
        RMTConfig(**{field: value})
    assert message in str(error.value)


@pytest.mark.parametrize("value", [0, -1, 8.0, "64"])
def test_memory_dim_must_be_a_positive_integer(value):
    with pytest.raises(ValueError, match=f"`memory_dim` must be an integer >= 1 or None, got {value!r}"):
        RMTConfig(memory_type="associative", memory_dim=value)


def test_json_round_trip_through_autoconfig(tmp_path):
    base = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
    config = RMTConfig(base_config=base.to_dict(), num_memory_tokens=5, segment_size=17, bptt_depth=3)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, RMTConfig)
    assert isinstance(loaded.base_config, BertConfig)
    assert loaded.base_config.hidden_size == 32
    assert (loaded.num_memory_tokens, loaded.segment_size, loaded.bptt_depth) == (5, 17, 3)
    assert loaded.to_json_string() == config.to_json_string()


def test_alignment_defaults_follow_the_layout():
    assert RMTConfig(memory_layout="encoder").resolved_segment_alignment == "right"
    assert RMTConfig(memory_layout="decoder").resolved_segment_alignment == "left"
    assert RMTConfig(memory_layout="decoder", segment_alignment="right").resolved_segment_alignment == "right"


def test_base_config_without_model_type_is_rejected():
    with pytest.raises(ValueError, match="`base_config` must contain `model_type`"):
        RMTConfig(base_config={"hidden_size": 32})


def test_memory_state_is_not_gathered_by_trainer():
    assert "memory_state" in RMTConfig().keys_to_ignore_at_inference
