"""Model cards written by `save_pretrained`: YAML the Hub understands, generated sections, user sections kept."""

import os

import pytest
import torch
from huggingface_hub import ModelCard
from tiny_models import rmt_config, tiny_backbone

import hf_rmt
from hf_rmt.model_card import GENERATED_PLOT_NAME, TEMPLATE_PATH, create_or_update_model_card


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINING = {
    "task": "qa1",
    "dataset": "RMT-team/babilong",
    "curriculum": [1, 2, {"max_segments": 4, "steps": 500}],
    "learning_rate": 1e-4,
}
EVAL = {"task": "qa1", "accuracy_by_length": {1024: 0.9, "64": 1.0, 4096: 0.55}}


def tiny_rmt(arch="bert", task="sequence-classification", base="org/tiny-backbone", **config):
    model = hf_rmt.get_rmt_model(tiny_backbone(arch, task), rmt_config(arch, **config))
    model.config.base_model_name_or_path = base
    return model


def load_card(directory) -> ModelCard:
    return ModelCard.load(os.path.join(directory, "README.md"))


def test_adapter_card_metadata_and_sections(tmp_path):
    model = tiny_rmt()
    model.save_pretrained(
        tmp_path, training_info=TRAINING, eval_results=EVAL, card_data={"license": "apache-2.0", "language": "en"}
    )
    card = load_card(tmp_path)
    data = card.data
    assert data.library_name == "hf_rmt"
    assert data.base_model == "org/tiny-backbone"
    assert data.base_model_relation == "adapter"
    assert data.pipeline_tag == "text-classification"
    assert data.license == "apache-2.0" and data.language == "en"
    assert data.datasets == ["RMT-team/babilong"]
    assert data.metrics == ["accuracy"]
    assert {"hf_rmt", "recurrent-memory-transformer", "long-context", "bert"} <= set(data.tags)
    assert "base_model:adapter:org/tiny-backbone" in data.tags
    # model-index: one metric per length, parsed back into EvalResults by huggingface_hub.
    assert data.model_name == os.path.basename(tmp_path)
    by_length = {r.metric_args["input_length"]: r.metric_value for r in data.eval_results}
    assert by_length == {64: 1.0, 1024: 0.9, 4096: 0.55}
    assert {r.task_type for r in data.eval_results} == {"text-classification"}

    text = card.text
    assert "import hf_rmt" in text
    assert f'AutoModelForSequenceClassification.from_pretrained("{os.path.basename(tmp_path)}")' in text
    assert "adapter-only checkpoint" in text and "`memory`, `classifier`" in text
    assert "| Memory tokens | 4 |" in text
    assert "| Segment size | 8 tokens (15 backbone positions" in text
    assert "| BPTT | full" in text
    assert "| 3 | 4 | 32 | 500 |" in text  # curriculum stage 3: 4 segments of 8 tokens
    assert "| 1,024 | 128 | 90.0% |" in text  # accuracy table: length, segments, accuracy
    assert "arxiv.org/abs/2207.06881" in text and "2304.11062" in text
    assert text.count("<!-- hf_rmt:begin:summary -->") == 1 and text.count("<!-- hf_rmt:end:citation -->") == 1


@pytest.mark.parametrize(
    "arch, task, auto_class, pipeline_tag, snippet",
    [
        ("bert", "base", "AutoModel", "feature-extraction", "outputs.last_hidden_state"),
        ("bert", "token-classification", "AutoModelForTokenClassification", "token-classification", "logits"),
        ("bert", "masked-lm", "AutoModelForMaskedLM", "fill-mask", "logits"),
        ("gpt2", "causal-lm", "AutoModelForCausalLM", "text-generation", "model.generate("),
    ],
)
def test_full_card_per_task(tmp_path, arch, task, auto_class, pipeline_tag, snippet):
    model = tiny_rmt(arch, task, bptt_depth=2, max_n_segments=16)
    model.set_trainable(train_backbone=True)
    model.save_pretrained(tmp_path)
    assert os.path.isfile(tmp_path / "model.safetensors")
    card = load_card(tmp_path)
    assert card.data.pipeline_tag == pipeline_tag
    assert card.data.base_model_relation == "finetune"
    assert card.data.eval_results is None and "Evaluation" not in card.text and "## Training\n" not in card.text
    assert f"{auto_class}.from_pretrained(" in card.text and snippet in card.text
    assert "full checkpoint" in card.text
    assert "truncated to the last 2 memory transitions" in card.text
    assert "16 segments (128 tokens)" in card.text
    assert ("add_special_tokens=False" in card.text) == (arch == "bert")


def test_update_replaces_generated_blocks_only(tmp_path):
    model = tiny_rmt()
    model.save_pretrained(tmp_path, training_info={"task": "first-task"})
    path = tmp_path / "README.md"
    card = ModelCard.load(path)
    card.data.language = "fr"
    card.data.tags = [*card.data.tags, "my-tag"]
    text = card.text.replace("## How to use", "Hand edit inside the block.\n\n## How to use")
    text = text.replace("## Intended uses & limitations\n\nMore information needed", "## Intended uses\n\nMy notes.")
    card.text = text + "\n## Acknowledgements\n\nThanks to the team.\n"
    card.save(path)
    assert ModelCard.load(path).data.language == "fr"

    model.save_pretrained(tmp_path, training_info={"task": "second-task"})
    card = load_card(tmp_path)
    assert card.data.language == "fr"
    assert "my-tag" in card.data.tags and "recurrent-memory-transformer" in card.data.tags
    assert "My notes." in card.text and "Thanks to the team." in card.text
    assert "second-task" in card.text and "first-task" not in card.text
    assert "Hand edit inside the block." not in card.text
    assert card.text.count("<!-- hf_rmt:begin:summary -->") == 1
    assert card.text.count("## Citation") == 1


def test_regenerating_an_unchanged_card_is_a_no_op(tmp_path):
    model = tiny_rmt()
    model.save_pretrained(tmp_path, training_info=TRAINING, eval_results=EVAL, card_data={"license": "mit"})
    first = (tmp_path / "README.md").read_text()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "README.md").read_text() == first


def test_existing_card_without_markers_gets_blocks(tmp_path):
    (tmp_path / "README.md").write_text("---\nlicense: mit\n---\n# My RMT\n\nHand-written intro.\n")
    tiny_rmt().save_pretrained(tmp_path)
    card = load_card(tmp_path)
    assert card.data.license == "mit" and card.data.library_name == "hf_rmt"
    text = card.text
    assert text.index("# My RMT") < text.index("<!-- hf_rmt:begin:summary -->") < text.index("Hand-written intro.")
    assert text.index("Hand-written intro.") < text.index("<!-- hf_rmt:begin:citation -->")


def test_deleted_block_stays_deleted(tmp_path):
    model = tiny_rmt()
    model.save_pretrained(tmp_path)
    path = tmp_path / "README.md"
    text = path.read_text()
    start, end = text.index("<!-- hf_rmt:begin:citation -->"), text.index("<!-- hf_rmt:end:citation -->")
    path.write_text(text[:start] + text[end + len("<!-- hf_rmt:end:citation -->") :])
    model.save_pretrained(tmp_path)
    assert "## Citation" not in path.read_text() and "<!-- hf_rmt:begin:summary -->" in path.read_text()


def test_eval_plot_copied_or_drawn(tmp_path):
    plot = tmp_path / "my_plot.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\n fake")
    model = tiny_rmt()
    model.save_pretrained(tmp_path / "given", eval_results={**EVAL, "plot": str(plot)})
    assert (tmp_path / "given" / "my_plot.png").read_bytes() == plot.read_bytes()
    assert "![Accuracy by input length](my_plot.png)" in load_card(tmp_path / "given").text

    model.save_pretrained(tmp_path / "drawn", eval_results=EVAL)
    drawn = tmp_path / "drawn" / GENERATED_PLOT_NAME
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not drawn.exists() and "![" not in load_card(tmp_path / "drawn").text
    else:
        assert drawn.read_bytes().startswith(b"\x89PNG")
        assert f"]({GENERATED_PLOT_NAME})" in load_card(tmp_path / "drawn").text


def test_card_info_is_remembered_and_card_can_be_skipped(tmp_path):
    model = tiny_rmt()
    model.set_model_card_info(eval_results=EVAL, card_data={"license": "mit"})
    model.save_pretrained(tmp_path / "a", training_info=TRAINING)
    model.save_pretrained(tmp_path / "b")  # e.g. a later Trainer checkpoint
    card = load_card(tmp_path / "b")
    assert card.data.license == "mit" and len(card.data.eval_results) == 3 and "| 3 | 4 | 32 | 500 |" in card.text
    model.save_pretrained(tmp_path / "c", model_card=False)
    assert not (tmp_path / "c" / "README.md").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"eval_results": {"accuracy_by_length": {1024: 0.9}}}, "'task'"),
        ({"eval_results": {"task": "qa1"}}, "accuracy_by_length"),
        ({"eval_results": {"task": "qa1", "accuracy_by_length": {1024: 1.5}}}, "[0, 1], got 1024: 1.5"),
        ({"eval_results": {"task": "qa1", "accuracy_by_length": {"long": 0.5}}}, "positive integers"),
        ({"eval_results": "qa1"}, "`eval_results` must be a dict"),
        ({"training_info": {"curriculum": "1,2,4"}}, "training_info['curriculum']"),
        ({"training_info": ["qa1"]}, "`training_info` must be a dict"),
        ({"card_data": "mit"}, "`card_data` must be a dict"),
    ],
)
def test_bad_card_inputs_raise_before_writing(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as error:
        tiny_rmt().save_pretrained(tmp_path / "out", **kwargs)
    assert message in str(error.value)
    assert not (tmp_path / "out").exists()


def test_missing_plot_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"eval_results\['plot'\].*nowhere\.png"):
        tiny_rmt().save_pretrained(tmp_path, eval_results={**EVAL, "plot": "nowhere.png"})


def test_local_backbone_path_is_not_base_model(tmp_path):
    backbone = tiny_backbone("bert", "sequence-classification")
    backbone.save_pretrained(tmp_path / "backbone")
    local = type(backbone).from_pretrained(tmp_path / "backbone")
    model = hf_rmt.get_rmt_model(local, rmt_config("bert"))
    assert model.config.base_model_name_or_path == str(tmp_path / "backbone")
    model.save_pretrained(tmp_path / "adapter")
    card = load_card(tmp_path / "adapter")
    assert card.data.base_model is None and "local path" in card.text
    assert str(tmp_path) not in card.data.to_yaml()
    # `card_data` names the Hub id instead.
    model.save_pretrained(tmp_path / "adapter", card_data={"base_model": "org/tiny-backbone"})
    assert load_card(tmp_path / "adapter").data.base_model == "org/tiny-backbone"


def test_peft_card(tmp_path):
    peft = pytest.importorskip("peft")
    model = tiny_rmt()
    peft_model = peft.get_peft_model(model, hf_rmt.lora_config(model, r=4, target_modules=["query", "value"]))
    peft_model.save_pretrained(tmp_path)
    create_or_update_model_card(peft_model, tmp_path, repo_id="user/rmt-lora", eval_results=EVAL)
    card = load_card(tmp_path)
    assert card.data.library_name == "peft"
    assert card.data.base_model == "org/tiny-backbone" and card.data.base_model_relation == "adapter"
    assert not [tag for tag in card.data.tags if tag.endswith(":")]
    assert "LoRA (r=4) on `query`, `value`" in card.text
    assert 'PeftModel.from_pretrained(rmt, "user/rmt-lora")' in card.text
    assert "hf_rmt.RMTConfig(num_memory_tokens=4, segment_size=8" in card.text
    assert card.text.count("PEFT") >= 1 and len(card.data.eval_results) == 3


def test_template_is_packaged_and_linked_from_model_cards():
    link = os.path.join(REPO_ROOT, "model_cards", "TEMPLATE.md")
    assert os.path.islink(link) and not os.path.isabs(os.readlink(link))
    assert os.path.samefile(link, TEMPLATE_PATH)
    assert os.path.dirname(TEMPLATE_PATH) == os.path.dirname(hf_rmt.__file__)


def test_rejects_models_that_are_not_rmt(tmp_path):
    with pytest.raises(ValueError, match="must be an hf_rmt model or a peft model wrapping one, got BertModel"):
        create_or_update_model_card(tiny_backbone("bert"), tmp_path)


def test_example_card_parses():
    path = os.path.join(REPO_ROOT, "model_cards", "rmt-minilm-l6.md")
    card = ModelCard.load(path)
    assert card.data.library_name == "hf_rmt"
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert "recurrent-memory-transformer" in card.data.tags and card.data.pipeline_tag == "text-classification"
    assert "import hf_rmt" in card.text and "| Memory tokens | 10 |" in card.text


@torch.no_grad()
def test_card_does_not_change_weights(tmp_path):
    model = tiny_rmt()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.save_pretrained(tmp_path, eval_results=EVAL)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
