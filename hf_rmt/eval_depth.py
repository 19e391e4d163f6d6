# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Scoring one length of `evaluate_by_length`: which answers are right, and accuracy by fact depth.

Depth is where the fact a question needs sits in the input, as BABILong's and the needle-in-a-haystack evaluations
report it: 0 at the input's start (read first, so carried through memory longest), near 1 just before the question.
A model that forgets over thousands of segments (the 1M-token paper's Detect & Memorize at 4,096 segments) fails at
low depths first; one that misreads the question fails everywhere alike. For a question with several supporting
facts the earliest one counts: it has to survive longest.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any


DEPTH_BINS = 5  # 0-20%, ..., 80-100% of the context
DEPTH_FIELDS = ["fact_spans", "supporting_facts", "question_start"]


def normalize_answer(text: str) -> str:
    """As the `rmt_accuracy` metric compares strings: surrounding white space and punctuation dropped, lower case."""
    return text.strip(string.whitespace + string.punctuation).lower()


def correct_answers(predictions: Sequence[Any], references: Sequence[Any]) -> list[bool]:
    """Per sample: exact match of generated strings (normalised), or equal class ids."""
    if predictions and isinstance(predictions[0], str):
        return [normalize_answer(p) == normalize_answer(r) for p, r in zip(predictions, references)]
    return [int(p) == int(r) for p, r in zip(predictions, references)]


def score(metric: Any, predictions: list, references: list) -> float:
    """Accuracy (exact match for strings) through the shipped `evaluate` metric when it loaded, else directly."""
    if metric is not None:
        result = metric.compute(predictions=predictions, references=references)
        return float(result["exact_match" if predictions and isinstance(predictions[0], str) else "accuracy"])
    correct = correct_answers(predictions, references)
    return sum(correct) / len(correct) if correct else 0.0


def fact_depth(sample: Mapping[str, Any]) -> float | None:
    """Where the earliest supporting fact of `sample` starts, as a fraction of the context before the question; None
    when the sample records no facts (a task without a haystack)."""
    spans, supporting, question_start = (sample.get(key) for key in DEPTH_FIELDS)
    if not spans or not supporting or not question_start:
        return None
    return min(min(spans[i][0] for i in supporting) / question_start, 1.0)


def accuracy_by_depth(
    depths: Sequence[float | None], correct: Sequence[bool], bins: int = DEPTH_BINS
) -> list[dict[str, Any]] | None:
    """`bins` equal depth ranges, each with its samples and their accuracy (None where none fell); None when no
    sample had a depth."""
    pairs = [(depth, right) for depth, right in zip(depths, correct) if depth is not None]
    if not pairs:
        return None
    rows = []
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        inside = [right for depth, right in pairs if low <= depth < high or (index == bins - 1 and depth == high)]
        accuracy = sum(inside) / len(inside) if inside else None
        rows.append({"depth": [round(low, 6), round(high, 6)], "num_samples": len(inside), "accuracy": accuracy})
    return rows


__all__ = [
    "DEPTH_BINS",
    "accuracy_by_depth",
    "correct_answers",
    "fact_depth",
    "normalize_answer",
    "score",
]
