# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`SampleDataset`: the sequence protocol of the tasks' lazily built datasets, shared by all of them; with it the
per-sample seeding (`check_seed`, `sample_rng`) and the argument checks of the symbolic tasks (copy and reverse,
associative retrieval), whose error messages their tests and users rely on word for word.

A sample depends only on `(seed, split, task, index)` (`sample_rng`), so any index can be built on its own, in any
order, in any worker process.
"""

from __future__ import annotations

import numbers
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..utils.validation import check_positive_int
from .noise import SPLITS


# Mixed into every sample's seed, so the splits draw from disjoint seed streams.
_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}


def check_seed(seed: Any) -> int:
    """`seed` as an `int`, or a `ValueError` when it is not an integer >= 0 (bools are refused)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def sample_rng(seed: int, split: str, task: str, index: int) -> np.random.Generator:
    """The random generator of sample `index`: a function of `(seed, split, task, index)` only."""
    return np.random.default_rng([seed, _SPLIT_IDS[split], zlib.crc32(task.encode("utf-8")), index])


def check_positive(name: str, value: Any) -> int:
    """`value` as an `int`, or a `ValueError` naming `name` when it is not an integer >= 1 (the tasks' plain wording:
    `num_samples must be a positive integer, got 0`)."""
    return check_positive_int(name, value, plain=True)


def check_positive_ints(name: str, value: Any) -> tuple[int, ...]:
    """
    A positive integer or a non-empty list of them (a curriculum that mixes lengths), as a tuple.

    Args:
        name (`str`): The argument's name, as the messages show it.
        value (`int` or `list[int]`): The value to check; a string is refused as an integer, not read as a list.
    """
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            raise ValueError(f"{name} must be a positive integer or a non-empty list of them, got []")
        return tuple(check_positive(f"every {name}", v) for v in value)
    return (check_positive(name, value),)


def check_num_symbols(num_symbols: Any) -> int:
    """The size of a symbolic task's alphabet: at least 2, for a sample to carry any information."""
    value = check_positive("num_symbols", num_symbols)
    if value < 2:
        raise ValueError(f"num_symbols must be at least 2, got {num_symbols!r}")
    return value


def check_split(split: Any) -> str:
    """`split` if it is one of `SPLITS` (each draws its own seed stream), else a `ValueError` naming them."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    return split


def check_fields(fields: Sequence[str] | None, all_fields: tuple[str, ...]) -> tuple[str, ...]:
    """
    The sample keys a dataset keeps: all of them when `fields` is `None`.

    Args:
        fields (`list[str]`, *optional*): The keys asked for.
        all_fields (`tuple[str, ...]`): Every key of the dataset's samples, in their order.
    """
    if fields is None:
        return all_fields
    if isinstance(fields, str) or not fields or not set(fields) <= set(all_fields):
        raise ValueError(f"fields must be a non-empty list of sample keys from {list(all_fields)}, got {fields!r}")
    return tuple(fields)


class SampleDataset(torch.utils.data.Dataset):
    """A map-style dataset of `num_samples` samples, each built on demand by `sample(index)` (a pure function of the
    index): `len`, integer indexing (negative indices count from the end, as for a list) and iteration."""

    num_samples: int
    fields: tuple[str, ...]

    def sample(self, index: int) -> dict[str, Any]:
        raise NotImplementedError

    def _keep_fields(self, sample: dict[str, Any]) -> dict[str, Any]:
        """`sample` restricted to `self.fields`, in their order."""
        # A sample is built with every key in order, so keeping all of them needs no copy.
        if self.fields == tuple(sample):
            return sample
        return {key: sample[key] for key in self.fields}

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


__all__ = [
    "SampleDataset",
    "check_fields",
    "check_num_symbols",
    "check_positive",
    "check_positive_ints",
    "check_seed",
    "check_split",
    "sample_rng",
]
