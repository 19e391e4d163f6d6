"""Copy and reverse (RMT paper, arXiv:2207.06881, section 4): deterministic samples that fill exactly N segments,
answers right by construction, loss only on the answer, a tiny decoder trained on them, and bad arguments refused."""

from __future__ import annotations

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone

import hf_rmt
from hf_rmt.tasks import CopyReverseDataset


@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_samples_are_deterministic_and_depend_on_seed_and_split(task):
    data = CopyReverseDataset(40, [1, 3, 9], 8, task=task, seed=3)
    forward = [data[i] for i in range(40)]
    assert [data[i] for i in reversed(range(40))] == forward[::-1]
    assert CopyReverseDataset(40, [1, 3, 9], 8, task=task, seed=3)[17] == forward[17]
    assert data[-1] == forward[-1]
    other_seed = CopyReverseDataset(40, [1, 3, 9], 8, task=task, seed=4)
    other_split = CopyReverseDataset(40, [1, 3, 9], 8, task=task, seed=3, split="test")
    assert sum(other_seed[i]["input_ids"] == forward[i]["input_ids"] for i in range(40)) < 4
    assert sum(other_split[i]["input_ids"] == forward[i]["input_ids"] for i in range(40)) < 4
    assert {sample["num_segments"] for sample in forward} == {1, 3, 9}  # every length of the list is drawn


@pytest.mark.parametrize(("task", "copies"), [("copy", None), ("copy", 1), ("copy", 3), ("reverse", None)])
@pytest.mark.parametrize("segment_size", [5, 8, 32])
def test_answer_follows_from_the_source_and_fills_exactly_n_segments(task, copies, segment_size):
    shortest = 1 if segment_size >= 8 else 2  # 5 tokens hold no copy of 3
    data = CopyReverseDataset(30, [shortest, 2, 4, 9, 16], segment_size, task=task, copies=copies, num_symbols=7)
    repeat = data.copies
    assert repeat == (copies or (2 if task == "copy" else 1))
    for sample in data:
        ids, labels, n = sample["input_ids"], sample["labels"], sample["num_segments"]
        assert len(ids) == len(labels) == n * segment_size  # N segments of the model's size, no more, no less
        source_length = sample["source_length"]
        assert source_length == (n * segment_size - 2) // (1 + repeat) == data.source_length(n) >= 1
        source = ids[:source_length]
        assert source == sample["source"] and all(0 <= s < 7 for s in source)
        assert ids[source_length] == data.go_token_id and sample["prompt_length"] == source_length + 1
        expected = source * repeat if task == "copy" else source[::-1]
        end = source_length + 1 + len(expected)
        assert ids[source_length + 1 : end] == expected == sample["answer"]
        assert ids[end] == data.eos_token_id
        assert ids[end + 1 :] == [data.pad_token_id] * (len(ids) - end - 1)
        assert len(ids) - end - 1 < 1 + repeat  # the longest source that fits: less than one more symbol's room
        # Loss only on the answer and EOS (hf_rmt's causal-LM loss shifts them).
        assert labels[: source_length + 1] == [-100] * (source_length + 1)
        assert labels[source_length + 1 : end + 1] == ids[source_length + 1 : end + 1]
        assert labels[end + 1 :] == [-100] * (len(ids) - end - 1)
    assert data.vocab_size == 7 + 3 and {data.go_token_id, data.eos_token_id, data.pad_token_id} == {7, 8, 9}


def test_paper_lengths():
    """The paper's copy of 24 symbols is 72 tokens, 9 segments of 8 (here one symbol less: EOS is scored too); its
    long copy is 120 symbols, 360 tokens, 9 segments of 40."""
    assert CopyReverseDataset(1, 9, 8).source_length(9) == 23
    assert CopyReverseDataset(1, 9, 40).source_length(9) == 119
    assert CopyReverseDataset(1, 9, 8, task="reverse").source_length(9) == 35


def test_fields_select_keys():
    data = CopyReverseDataset(3, 2, 8, fields=["input_ids", "labels"])
    assert set(data[0]) == {"input_ids", "labels"}
    assert data[0]["input_ids"] == CopyReverseDataset(3, 2, 8)[0]["input_ids"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "sort"}, "task must be one of \\['copy', 'reverse'\\], got 'sort'"),
        ({"task": "reverse", "copies": 2}, "copies must be 1 for task='reverse'.*got 2"),
        ({"copies": 0}, "copies"),
        ({"num_segments": 0}, "num_segments"),
        ({"num_segments": []}, "num_segments must be a positive integer or a non-empty list"),
        ({"num_segments": [2, -1]}, "every num_segments"),
        ({"segment_size": 0}, "segment_size"),
        ({"num_segments": 1, "segment_size": 4}, "at least 5 tokens .* got 1 \\* 4 = 4"),
        ({"num_symbols": 1}, "num_symbols must be at least 2, got 1"),
        ({"split": "dev"}, "split must be one of .* got 'dev'"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
        ({"output_format": "classification"}, "output_format must be 'generation'.*got 'classification'"),
        ({"fields": ["input_ids", "answer_class"]}, "fields must be a non-empty list of sample keys"),
        ({"num_samples": 0}, "num_samples"),
    ],
)
def test_bad_arguments_name_the_rule_and_value(kwargs, message):
    arguments = {"num_samples": 4, "num_segments": 2, "segment_size": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        CopyReverseDataset(**arguments)


@pytest.mark.parametrize("arch", ["gpt2", "llama", "qwen2"])
def test_model_loss_is_the_answer_tokens_only(arch):
    """The RMT causal-LM loss on a sample equals the cross-entropy of its answer tokens (and EOS) alone, the samples
    filling the segments exactly (no padding mask, no partial segment), across decoder architectures."""
    data = CopyReverseDataset(4, 3, 8, task="reverse", num_symbols=5)
    torch.manual_seed(0)
    backbone = tiny_backbone(arch, "causal-lm")  # a vocabulary of 99 holds the task's 8 ids
    model = hf_rmt.get_rmt_model(backbone, rmt_config(arch)).eval()
    ids = torch.tensor([s["input_ids"] for s in data])
    labels = torch.tensor([s["labels"] for s in data])
    output = model(ids, labels=labels)
    targets = labels[:, 1:]
    log_probs = output.logits[:, :-1].float().log_softmax(-1)
    scored = targets != -100
    picked = log_probs.gather(-1, targets.clamp(min=0)[..., None])[..., 0]
    expected = -(picked * scored).sum() / scored.sum()
    torch.testing.assert_close(output.loss, expected, rtol=1e-5, atol=1e-5)
    assert int(scored.sum()) == 4 * (data.source_length(3) + 1)  # the reversed source and EOS, per sample
