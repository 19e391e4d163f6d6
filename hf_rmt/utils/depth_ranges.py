# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Accuracy by fact depth (`hf_rmt.eval_depth`) as both the evaluation's printout and the model card read it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def spread_over_depths(by_depth_lists: Iterable[list[Mapping[str, Any]]]) -> bool:
    """Whether the samples fall in more than one depth range: a task that always puts its fact at the same depth
    (Memorize: first) has nothing to show by depth."""
    return len({i for rows in by_depth_lists for i, row in enumerate(rows) if row.get("num_samples")}) > 1


__all__ = ["spread_over_depths"]
