"""The associative retrieval generator (ARMT paper, arXiv:2407.04841, section 3): deterministic samples, answers
that follow from the pairs (the last value of the asked key), and the output formats hf_rmt models train on."""

from __future__ import annotations

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone

import hf_rmt
from hf_rmt.tasks import AssociativeRetrievalDataset
from hf_rmt.training import RMTDataCollator


def parse(data: AssociativeRetrievalDataset, ids: list[int]):
    """Pairs and question read back from the tokens alone, checking the format on the way."""
    step = data.pair_length
    pairs = []
    position = 0
    while ids[position + data.key_size] == data.sep_token_id:
        chunk = ids[position : position + step]
        assert chunk[-1] == data.eos_token_id
        pairs.append((tuple(chunk[: data.key_size]), tuple(chunk[data.key_size + 1 : -1])))
        position += step
    query = tuple(ids[position : position + data.key_size])
    assert ids[position + data.key_size] == data.ask_token_id
    return pairs, query, position + data.key_size + 1


@pytest.mark.parametrize("variant", ["remember", "rewrite"])
def test_samples_are_deterministic_and_independent_of_order(variant):
    data = AssociativeRetrievalDataset(50, num_pairs=[3, 7, 20], variant=variant, seed=3)
    forward = [data[i] for i in range(50)]
    assert [data[i] for i in reversed(range(50))] == forward[::-1]
    assert AssociativeRetrievalDataset(50, [3, 7, 20], variant=variant, seed=3)[17] == forward[17]
    other_seed = AssociativeRetrievalDataset(50, [3, 7, 20], variant=variant, seed=4)
    other_split = AssociativeRetrievalDataset(50, [3, 7, 20], variant=variant, seed=3, split="test")
    assert sum(other_seed[i]["input_ids"] == forward[i]["input_ids"] for i in range(50)) < 5
    assert sum(other_split[i]["input_ids"] == forward[i]["input_ids"] for i in range(50)) < 5
    assert {sample["num_pairs"] for sample in forward} == {3, 7, 20}  # the curriculum's lengths are all drawn


@pytest.mark.parametrize("variant", ["remember", "rewrite"])
def test_answer_is_the_last_value_of_the_asked_key(variant):
    num_keys = 16 if variant == "rewrite" else None  # few keys: many rewrites
    data = AssociativeRetrievalDataset(200, num_pairs=[1, 5, 40], variant=variant, num_keys=num_keys)
    for sample in data:
        pairs, query, start = parse(data, sample["input_ids"])
        assert len(pairs) == sample["num_pairs"] and query == tuple(sample["query"])
        last = [value for key, value in pairs if key == query][-1]
        assert sample["input_ids"][start:] == [*last, data.eos_token_id] == sample["labels"][start:]
        assert all(label == -100 for label in sample["labels"][:start]) and start == sample["prompt_length"]
        assert sample["answer"] == " ".join(map(str, last))
        assert pairs[sample["query_pair"]] == (query, last)
        keys = [key for key, _ in pairs]
        assert sample["rewrites"] == len(keys) - len(set(keys))
        if variant == "remember":
            assert sample["rewrites"] == 0
    if variant == "rewrite":  # 16 keys and 40 pairs: most of a long sample rewrites
        assert max(sample["rewrites"] for sample in data) >= 24
        # ... and the asked key was written more than once in some samples: the answer is not its first value
        assert any([k for k, _ in parse(data, s["input_ids"])[0]].count(tuple(s["query"])) > 1 for s in data)


def test_classification_format_and_value_classes():
    data = AssociativeRetrievalDataset(30, num_pairs=4, value_size=2, num_symbols=5, output_format="classification")
    assert data.num_labels == 25 and data.vocab_size == 9 and data.pair_length == 6
    for sample in data:
        pairs, query, start = parse(data, sample["input_ids"])
        assert start == len(sample["input_ids"])  # nothing after the question
        value = [v for k, v in pairs if k == query][-1]
        assert sample["labels"] == sample["answer_class"] == value[0] * 5 + value[1]


def test_one_pair_a_segment_and_the_answer_in_the_last():
    """With `segment_size=pair_length` (the official setting) each segment holds one pair, and the last one the
    question and its answer, which the loss scores."""
    data = AssociativeRetrievalDataset(5, num_pairs=6)
    ids = data[0]["input_ids"]
    segments = [ids[i : i + data.pair_length] for i in range(0, len(ids), data.pair_length)]
    assert len(segments) == 7 and all(len(s) == data.pair_length for s in segments)
    assert all(s[data.key_size] == data.sep_token_id for s in segments[:-1])
    assert segments[-1][data.key_size] == data.ask_token_id


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_pairs=300), "variant='remember' needs a distinct key for each pair: num_pairs must be at most 256"),
        (dict(num_pairs=3, variant="overwrite"), r"variant must be one of \['remember', 'rewrite'\], got 'overwrite'"),
        (dict(num_pairs=[]), r"num_pairs must be a positive integer or a non-empty list of them, got \[\]"),
        (dict(num_pairs=[2, 0]), "every num_pairs must be a positive integer, got 0"),
        (dict(num_pairs=2, num_keys=257), "num_keys must be at most num_symbols \\*\\* key_size = 256"),
        (dict(num_pairs=2, num_symbols=1), "num_symbols must be at least 2, got 1"),
        (dict(num_pairs=2, output_format="text"), "output_format must be one of"),
        (dict(num_pairs=2, split="dev"), "split must be one of"),
        (dict(num_pairs=2, fields=["input_ids", "story"]), "fields must be a non-empty list of sample keys"),
    ],
)
def test_bad_arguments_name_the_rule_and_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AssociativeRetrievalDataset(10, **kwargs)


@pytest.mark.parametrize("memory_type", ["rmt", "associative"])
def test_batches_train_a_tiny_decoder_through_the_collator(memory_type):
    """Mixed numbers of pairs batch with `RMTDataCollator`; the causal-LM loss is the answer's (value and EOS) only."""
    data = AssociativeRetrievalDataset(4, num_pairs=[1, 3], variant="rewrite", fields=["input_ids", "labels"])
    backbone = tiny_backbone("llama", "causal-lm", vocab_size=data.vocab_size)
    config = rmt_config("llama", segment_size=data.pair_length, memory_type=memory_type)
    model = hf_rmt.get_rmt_model(backbone, config, train_backbone=True)
    batch = RMTDataCollator(pad_token_id=data.pad_token_id)([data[i] for i in range(4)])
    assert (batch["labels"] != -100).sum() == 4 * (data.value_size + 1)
    loss = model(**batch).loss
    assert torch.isfinite(loss)
    loss.backward()
    assert model.memory.weight.grad is not None and model.memory.weight.grad.abs().sum() > 0
