# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Per-sample row moves of `RMTStream`: the samples of a batch read different numbers of tokens per chunk, so their
partial segments are kept aligned by these gathers and scatters (no Python loop over samples)."""

from __future__ import annotations

import torch

from ..core.memory import merge_rows


def right_align(values: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's entries of `values` where `real`, moved to the right end (padding first), trimmed to the
    longest: `(batch, width)` values and their mask."""
    order = torch.sort(real.to(torch.int8), dim=1, stable=True).indices  # padding first, order kept
    width = int(real.sum(dim=1).max()) if values.shape[1] else 0
    moved, moved_real = values.gather(1, order), real.gather(1, order)
    return moved[:, values.shape[1] - width :], moved_real[:, values.shape[1] - width :]


def scatter_rows(values: torch.Tensor, rows: torch.Tensor | None, batch: int) -> torch.Tensor:
    """`values` of the samples `rows` in a `(batch, ...)` tensor, NaN for the other samples."""
    if rows is None:
        return values
    out = values.new_full((batch, *values.shape[1:]), float("nan"))
    return merge_rows(out, rows, values)


__all__ = ["right_align", "scatter_rows"]
