"""Property tests (hypothesis): every sample of a batch gives what it gives alone, whatever the batch.

Random batches: 1 to 4 samples of 1 to 40 tokens (up to five 8-token segments), each placed in a row of random width
with its padding at random positions (`attention_mask` zeros anywhere: before, after and between its tokens), for the
encoder layout (a BERT classifier) and the decoder layout (a GPT-2 causal LM), with either segment alignment. Each
sample's outputs in the batch (classification logits; per-token logits at its real positions; the final memory) must
equal those of the sample run alone without padding.

Deterministic in CI: `derandomize=True` draws the same examples on every run (no example database), a modest
`max_examples`, no deadline (the machine is shared).
"""

from __future__ import annotations

import functools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_models import rmt_config, tiny_backbone

import hf_rmt


SETTINGS = settings(
    derandomize=True,
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@functools.cache
def model(layout: str, alignment: str):
    arch, task = ("bert", "sequence-classification") if layout == "encoder" else ("gpt2", "causal-lm")
    rmt = hf_rmt.get_rmt_model(tiny_backbone(arch, task, seed=0), rmt_config(arch, segment_alignment=alignment))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # off the initial values, so that memory and head matter
        for param in rmt.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))
    return rmt.eval()


@st.composite
def batches(draw):
    """`(samples, ids, mask)`: samples of random lengths, each in a row with padding at random positions."""
    count = draw(st.integers(1, 4))
    lengths = [draw(st.integers(1, 40)) for _ in range(count)]
    width = max(lengths) + draw(st.integers(0, 6))
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    samples, rows, masks = [], [], []
    for length in lengths:
        sample = torch.randint(5, 99, (length,), generator=generator)
        # Real tokens at `length` random positions of the row, in order; padding (random ids) everywhere else.
        positions = draw(st.lists(st.integers(0, width - 1), min_size=length, max_size=length, unique=True))
        positions = torch.tensor(sorted(positions))
        row = torch.randint(5, 99, (width,), generator=generator)
        row[positions] = sample
        mask = torch.zeros(width, dtype=torch.long)
        mask[positions] = 1
        samples.append(sample)
        rows.append(row)
        masks.append(mask)
    return samples, torch.stack(rows), torch.stack(masks)


def close(actual, expected, what):
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5, msg=what)


@pytest.mark.parametrize("layout", ["encoder", "decoder"])
@SETTINGS
@given(batch=batches(), alignment=st.sampled_from(["left", "right"]))
def test_each_sample_gives_what_it_gives_alone(layout, batch, alignment):
    """Encoder: the classifier's logits; decoder: the causal LM's logits at the sample's real positions; both: the
    final memory."""
    samples, ids, mask = batch
    rmt = model(layout, alignment)
    with torch.no_grad():
        together = rmt(input_ids=ids, attention_mask=mask)
        for index, sample in enumerate(samples):
            alone = rmt(input_ids=sample[None])
            logits = together.logits[index] if layout == "encoder" else together.logits[index][mask[index].bool()]
            close(logits, alone.logits[0], f"logits of sample {index}")
            close(together.memory_state[index], alone.memory_state[0], f"memory of sample {index}")


@SETTINGS
@given(batch=batches())
def test_decoder_loss_is_the_mean_over_the_batch_of_scored_tokens(batch):
    """The batch's next-token loss sums every sample's scored tokens over the batch's count: the same number as
    the samples alone, each divided by that count."""
    samples, ids, mask = batch
    rmt = model("decoder", "left")
    scored = sum(len(sample) - 1 for sample in samples)
    with torch.no_grad():
        together = rmt(input_ids=ids, attention_mask=mask, labels=ids).loss
        alone = sum(
            rmt(input_ids=sample[None], labels=sample[None], num_items_in_batch=max(scored, 1)).loss
            for sample in samples
        )
    close(together, alone, "loss")
