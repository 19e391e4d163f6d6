"""Hide a story's facts in noise tokens: choose where each fact goes, then concatenate id arrays.

Four placements, the question always last:

- `"start"`: all facts first, then the noise (the 1M paper's Memorize).
- `"random_gaps"`: each fact in a uniformly random gap between noise sentences, drawn independently and sorted so the
  facts keep their story order; several facts may share a gap (BABILong's `NoiseInjectionDataset`).
- `"segment_starts"`: each fact starts a uniformly random segment of `segment_size` tokens; facts keep their order,
  and a fact whose segment is already taken by an earlier fact follows that fact (the 1M paper's Detect & Memorize
  and Reasoning). Segments are laid out as `RMTConfig.segment_alignment` does: `"left"` fills segments from token 0
  (the last may be short), `"right"` ends a full segment at the last token (the first may be short).
- `"before_last_segment"`: as `"random_gaps"`, but only gaps where a fact (indeed all the facts) would end before the
  start of the input's last segment (segments laid out as for `"segment_starts"`), so the last segment holds only noise
  and the question and a model can only answer through its memory. Falls back to plain `"random_gaps"` (the same
  draws) when the input has one segment or the facts do not fit before the last segment.
"""

from __future__ import annotations

import numpy as np


PLACEMENTS = ("start", "random_gaps", "segment_starts", "before_last_segment")
# The placements that need the segment layout (`segment_size`).
SEGMENT_PLACEMENTS = ("segment_starts", "before_last_segment")
SEGMENT_ALIGNMENTS = ("left", "right")


def segment_starts(total_length: int, segment_size: int, alignment: str) -> np.ndarray:
    """Start offsets of the segments a sequence of `total_length` tokens is split into (ascending, from 0).

    Args:
        total_length (`int`): Tokens in the whole sequence the model segments (`input_ids`).
        segment_size (`int`): Content tokens per segment.
        alignment (`str`): `"left"` or `"right"`, as `RMTConfig.segment_alignment`.
    """
    if alignment == "left":
        return np.arange(0, total_length, segment_size)
    return np.unique(np.concatenate(([0], np.arange(total_length - segment_size, 0, -segment_size))))


def noise_offsets(
    placement: str,
    rng: np.random.Generator,
    gaps: np.ndarray,
    fact_lengths: list[int],
    context_length: int,
    starts: np.ndarray | None = None,
) -> np.ndarray:
    """Where each fact goes, as the number of noise tokens before it (non-decreasing, in `[0, n_noise]`).

    Args:
        placement (`str`): One of `PLACEMENTS`.
        rng (`np.random.Generator`): The sample's random generator.
        gaps (`np.ndarray`): Sentence boundaries in the noise (from [`NoisePool.take`]), used by `"random_gaps"` and
            `"before_last_segment"`.
        fact_lengths (`list[int]`): Token count of each fact, in story order.
        context_length (`int`): Noise plus fact tokens (the target length minus the question).
        starts (`np.ndarray`, *optional*): Segment start offsets (from [`segment_starts`]), used by
            `"segment_starts"` and `"before_last_segment"`.
    """
    n_facts = len(fact_lengths)
    if placement == "start":
        return np.zeros(n_facts, dtype=np.int64)
    if placement == "before_last_segment":
        # A gap fits when every fact drawn there, with all the fact tokens before it, ends by the last segment's start:
        # the facts that precede a fact in the input are at most all of them.
        fitting = gaps[gaps + sum(fact_lengths) <= starts[-1]]
        if len(fitting):  # else one segment (starts == [0]) or too long a story: plain random gaps
            gaps = fitting
        placement = "random_gaps"
    if placement == "random_gaps":
        return np.sort(gaps[rng.integers(len(gaps), size=n_facts)])
    # Only segments where all the facts fit before the question even if they all land in the same one (0 always does).
    candidates = starts[starts + sum(fact_lengths) <= context_length]
    positions = np.sort(candidates[rng.integers(len(candidates), size=n_facts)])
    offsets, end, placed = [], 0, 0  # `placed`: fact tokens before the current fact
    for position, length in zip(positions.tolist(), fact_lengths):
        start = max(position, end)
        offsets.append(start - placed)
        end, placed = start + length, placed + length
    return np.asarray(offsets, dtype=np.int64)


def assemble(
    noise: np.ndarray, offsets: np.ndarray, facts: list[np.ndarray], question: np.ndarray
) -> tuple[np.ndarray, list[list[int]], int]:
    """Concatenate noise pieces, facts and the question.

    Args:
        noise (`np.ndarray`): The noise ids.
        offsets (`np.ndarray`): Noise tokens before each fact, from [`noise_offsets`].
        facts (`list[np.ndarray]`): Ids of each fact, in story order.
        question (`np.ndarray`): Ids of the question.

    Returns:
        `(input_ids, fact_spans, question_start)`: the ids, each fact's `[start, end)` in them, and where the
        question starts.
    """
    pieces, spans, cut, position = [], [], 0, 0
    for offset, fact in zip(offsets.tolist(), facts):
        pieces += [noise[cut:offset], fact]
        position += offset - cut
        spans.append([position, position + len(fact)])
        position += len(fact)
        cut = offset
    pieces += [noise[cut:], question]
    return np.concatenate(pieces), spans, len(noise) + sum(len(f) for f in facts)
