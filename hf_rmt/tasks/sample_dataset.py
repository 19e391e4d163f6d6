# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`SampleDataset`: the sequence protocol of the tasks' lazily built datasets, shared by all of them."""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import torch


class SampleDataset(torch.utils.data.Dataset):
    """A map-style dataset of `num_samples` samples, each built on demand by `sample(index)` (a pure function of the
    index): `len`, integer indexing (negative indices count from the end, as for a list) and iteration."""

    num_samples: int

    def sample(self, index: int) -> dict[str, Any]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> dict[str, Any]:
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"index must be an integer, got {type(index).__name__}")
        if not -self.num_samples <= index < self.num_samples:
            raise IndexError(f"index {index} is out of range for a dataset of {self.num_samples} samples")
        return self.sample(int(index) % self.num_samples)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for index in range(self.num_samples):
            yield self.sample(index)


__all__ = ["SampleDataset"]
