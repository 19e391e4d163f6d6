"""`RMTStream` (issue 16): an input fed in chunks of any sizes gives the logits and memory of one call, to 1e-5 in
float32; a stream saved mid-segment and restored goes on as if uninterrupted; bad inputs get clear errors."""

from __future__ import annotations

import random

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone, with_memory_values

import hf_rmt


LENGTH = 43  # five segments of 8 and a partial one
CHUNKINGS = {"1": [1], "7": [7], "10000": [10000], "random": None}


def model_for(arch, task, memory_type="rmt"):
    # Encoders default to right alignment, under which an input's boundaries depend on its end: streams need left.
    config = rmt_config(arch, memory_type=memory_type, segment_alignment="left")
    return with_memory_values(hf_rmt.get_rmt_model(tiny_backbone(arch, task), config).eval())


def chunks_of(length, chunking, seed=0):
    """Chunk boundaries: fixed sizes repeated, or random sizes from 1 to 12."""
    rng = random.Random(seed)
    bounds, start = [], 0
    while start < length:
        size = chunking[0] if chunking else rng.randint(1, 12)
        bounds.append((start, min(start + size, length)))
        start += size
    return bounds


def _close(a, b):
    for x, y in zip([a] if isinstance(a, torch.Tensor) else a, [b] if isinstance(b, torch.Tensor) else b):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("chunking", list(CHUNKINGS), ids=list(CHUNKINGS))
@pytest.mark.parametrize(
    "arch, task, memory_type",
    [
        ("gpt2", "causal-lm", "rmt"),
        ("llama", "causal-lm", "rmt"),
        ("llama", "causal-lm", "associative"),
        ("bert", "sequence-classification", "rmt"),
        ("bert", "sequence-classification", "associative"),
        ("llama", "sequence-classification", "rmt"),
    ],
)
@torch.no_grad()
def test_chunks_give_the_logits_and_memory_of_one_call(arch, task, memory_type, chunking):
    """A causal LM's chunk logits, put together, are those of one call over the whole input; a classifier's logits
    after each chunk are those of one call over the stream read so far. The memory is that of one call either way."""
    causal = task == "causal-lm"
    model = model_for(arch, task, memory_type)
    ids = torch.randint(5, 99, (2, LENGTH), generator=torch.Generator().manual_seed(1 if causal else 2))
    stream = model.stream(batch_size=2)
    logits = []
    for a, b in chunks_of(LENGTH, CHUNKINGS[chunking]):
        logits.append(stream.feed(ids[:, a:b]).logits)
        if not causal:
            torch.testing.assert_close(logits[-1], model(ids[:, :b]).logits, atol=1e-5, rtol=1e-5)
    whole = model(ids)
    if causal:
        torch.testing.assert_close(torch.cat(logits, dim=1), whole.logits, atol=1e-5, rtol=1e-5)
    _close(stream.memory_state, whole.memory_state)


@pytest.mark.parametrize("task", ["causal-lm", "sequence-classification"])
@torch.no_grad()
def test_samples_may_read_different_tokens_per_chunk(task):
    """A chunk's attention mask says which tokens each sample reads; each sample gives what it gives alone."""
    model = model_for("llama" if task == "causal-lm" else "bert", task)
    ids = torch.randint(5, 99, (2, 40), generator=torch.Generator().manual_seed(3))
    mask = (torch.rand(2, 40, generator=torch.Generator().manual_seed(4)) > 0.3).long()
    stream = model.stream(batch_size=2)
    outs = [stream.feed(ids[:, a:b], mask[:, a:b]).logits for a, b in chunks_of(40, None, seed=5)]
    for i in range(2):
        alone = model(ids[i][mask[i].bool()][None])
        if task == "causal-lm":
            torch.testing.assert_close(
                torch.cat(outs, dim=1)[i][mask[i].bool()], alone.logits[0], atol=1e-5, rtol=1e-5
            )
        else:
            torch.testing.assert_close(outs[-1][i], alone.logits[0], atol=1e-5, rtol=1e-5)
        _close([t[i] for t in [stream.memory_state]], [alone.memory_state[0]])


@torch.no_grad()
def test_unmasked_chunks_extend_partial_segments_of_different_lengths():
    """Once a masked chunk has left the samples' partial segments at different lengths, chunks without a mask (as
    generation feeds them) go after each sample's own tokens, whether or not they complete a segment: each sample
    gives what it gives alone, and the stream's partial segments are the tails of the samples' sequences."""
    model = model_for("llama", "causal-lm")
    ids = torch.randint(5, 99, (2, 30), generator=torch.Generator().manual_seed(7))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # sample 1 reads 2 tokens of the first chunk, sample 0 all 5
    stream = model.stream(batch_size=2)
    outs = [stream.feed(ids[:, :5], mask[:, :5]).logits]
    start = 5
    for size in [1, 2, 1, 3] * 3:  # then 4 tokens: some chunks complete a segment of a sample, most do not
        outs.append(stream.feed(ids[:, start : start + size]).logits)
        start += size
    outs.append(stream.feed(ids[:, start:]).logits)
    logits = torch.cat(outs, dim=1)
    assert stream.pending_lengths == [30 % 8, 27 % 8] and stream.num_tokens == [30, 27]
    for i, length in enumerate(stream.pending_lengths):
        sample = ids[i][mask[i].bool()]
        alone = model(sample[None])
        torch.testing.assert_close(logits[i][mask[i].bool()], alone.logits[0], atol=1e-5, rtol=1e-5)
        _close([t[i] for t in [stream.memory_state]], [alone.memory_state[0]])
        assert torch.equal(stream.pending[i, :length], sample[-length:])


@pytest.mark.parametrize("task", ["causal-lm", "sequence-classification"])
@torch.no_grad()
def test_saved_and_restored_mid_segment_goes_on_as_uninterrupted(task, tmp_path):
    model = model_for("gpt2" if task == "causal-lm" else "bert", task)
    ids = torch.randint(5, 99, (1, 37), generator=torch.Generator().manual_seed(6))
    uninterrupted = model.stream()
    first = uninterrupted.feed(ids[:, :19])  # 2 segments and 3 tokens of the third
    expected = uninterrupted.feed(ids[:, 19:]).logits
    stream = model.stream()
    stream.feed(ids[:, :19])
    memory = stream.memory_state
    stream.save(tmp_path / "stream.pt")
    stream.close()
    restored = hf_rmt.RMTStream.load(model, tmp_path / "stream.pt")
    assert restored.pending_lengths == [3] and restored.num_tokens == [19]
    _close(restored.memory_state, memory)
    torch.testing.assert_close(restored.feed(ids[:, 19:]).logits, expected, atol=1e-5, rtol=1e-5)
    again = model.stream(state_dict=torch.load(tmp_path / "stream.pt", weights_only=True))
    if task == "sequence-classification":
        torch.testing.assert_close(again.logits, first.logits)


def test_bad_inputs_are_refused_clearly():
    model = model_for("gpt2", "causal-lm")
    stream = model.stream(batch_size=2)
    with pytest.raises(ValueError, match=r"shape \(2, chunk_length\).*got \(1, 3\)"):
        stream.feed(torch.ones(1, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer tensor.*torch.float32"):
        stream.feed(torch.ones(2, 3))
    with pytest.raises(ValueError, match="vocabulary"):
        stream.feed(torch.full((2, 3), 500))
    with pytest.raises(ValueError, match="logits_to_keep.*got 3"):
        stream.feed(torch.ones(2, 3, dtype=torch.long), logits_to_keep=3)
    with pytest.raises(ValueError, match="batch_size.*got 0"):
        model.stream(batch_size=0)
    stream.close()
    with pytest.raises(RuntimeError, match="closed"):
        stream.feed(torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="format 1, got 7"):
        model.stream(state_dict={"format_version": 7})
    encoder = hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), rmt_config("bert")).eval()
    with pytest.raises(ValueError, match="segment_alignment='left'.*got 'right'"):
        encoder.stream()
    with pytest.raises(ValueError, match="segment_size is 8, the model's 4"):
        small = hf_rmt.get_rmt_model(tiny_backbone("gpt2", "causal-lm"), rmt_config("gpt2", segment_size=4))
        small.stream(state_dict=model_for("gpt2", "causal-lm").stream().state_dict())
