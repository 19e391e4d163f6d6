"""Unit tests of `hf_rmt.core.segments`: which tokens of each sample go into which step."""

from __future__ import annotations

import pytest
import torch

from hf_rmt.core.segments import SegmentPlan


def plan_of(mask, segment_size=3, alignment="left", max_n_segments=None, allow_empty=False):
    mask = None if mask is None else torch.tensor(mask)
    batch, seq_len = (2, 7) if mask is None else mask.shape
    return SegmentPlan(mask, batch, seq_len, segment_size, alignment, max_n_segments, torch.device("cpu"), allow_empty)


def tokens_of_step(plan, t):
    """`{sample: [positions in the padded input]}` of step `t`."""
    step = plan.step(t)
    index, real = plan.original_positions(step)
    rows = range(plan.num_tokens.shape[0]) if step.rows is None else step.rows.tolist()
    return {row: index[i][real[i]].tolist() for i, row in enumerate(rows)}


@pytest.mark.parametrize(
    "alignment, lengths", [("left", [[3, 3], [3, 3], [1, 1]]), ("right", [[1, 1], [3, 3], [3, 3]])]
)
def test_unpadded_batches_split_into_full_segments_with_one_short_one(alignment, lengths):
    plan = plan_of(None, alignment=alignment)
    assert len(plan) == 3 and plan.order is None and plan.equal_lengths
    assert [plan.step(t).lengths.tolist() for t in range(3)] == lengths
    assert plan.last_segment_lengths().tolist() == lengths[-1]
    assert [plan.step(t).continued.tolist() for t in range(3)] == [[False, False], [True, True], [True, True]]


def test_padding_anywhere_is_skipped_and_every_sample_ends_at_the_last_step():
    plan = plan_of([[1, 1, 1, 1, 1, 1, 1], [0, 1, 0, 1, 1, 0, 1]])
    assert plan.num_tokens.tolist() == [7, 4] and len(plan) == 3
    # The short sample (2 segments) skips the first step; its segments hold its valid tokens in order.
    assert tokens_of_step(plan, 0) == {0: [0, 1, 2]}
    assert tokens_of_step(plan, 1) == {0: [3, 4, 5], 1: [1, 3, 4]}
    assert tokens_of_step(plan, 2) == {0: [6], 1: [6]}
    assert plan.step(0).rows.tolist() == [0] and plan.step(1).rows is None
    assert plan.step(1).continued.tolist() == [True, False]


def test_compact_moves_valid_entries_first_in_order():
    plan = plan_of([[0, 1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    values = torch.arange(14).view(2, 7)
    assert plan.compact(values)[0, :5].tolist() == [1, 2, 4, 5, 6]
    assert torch.equal(plan.compact(values)[1], values[1])


def test_touches_tail_names_the_steps_holding_the_last_tokens():
    plan = plan_of(None)
    assert [plan.touches_tail(t, 1) for t in range(3)] == [False, False, True]
    assert [plan.touches_tail(t, 2) for t in range(3)] == [False, True, True]
    assert all(plan.touches_tail(t, 0) for t in range(3))


def test_last_segments_and_what_precedes_them():
    plan = plan_of([[1, 1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1, 1]], alignment="left")
    ids = torch.arange(10, 24).view(2, 7)
    last, real = plan.last_segments(ids)
    assert plan.last_segment_lengths().tolist() == [2, 3]
    assert last[0][real[0]].tolist() == [13, 14] and last[1].tolist() == [21, 22, 23]
    assert real.tolist() == [[False, True, True], [True, True, True]]  # left-padded
    assert plan.before_last_segment().tolist() == [[1, 1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0, 0]]


def test_limits_and_empty_samples():
    with pytest.raises(ValueError, match="needs 3 segments .* more than `max_n_segments`=2"):
        plan_of(None, max_n_segments=2)
    with pytest.raises(ValueError, match=r"samples \[1\] have none"):
        plan_of([[1, 1], [0, 0]])
    plan = plan_of([[1, 1], [0, 0]], allow_empty=True)
    assert plan.step(0).rows.tolist() == [0]
