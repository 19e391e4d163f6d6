# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`make_dataset` and `min_target_length`: the entry points of the task datasets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transformers import PreTrainedTokenizerBase

from ..utils.validation import check_positive_int
from .dataset import TaskDataset, check_seed, draw_stories, sample_rng
from .noise import SPLITS
from .registry import TaskSpec, get_task
from .tokens import get_text_cache


def min_target_length(
    task: str | TaskSpec,
    tokenizer: PreTrainedTokenizerBase,
    split: str = "train",
    seed: int = 0,
    *,
    max_story_attempts: int = 100,
) -> int:
    """The shortest `target_length` that [`make_dataset`] accepts for `task` with this tokenizer, split and seed.

    A sample must hold its story's facts and question; a dataset checks, when it is built, that one of the stories
    drawn for sample 0 fits its shortest length. This returns the fewest tokens any of those stories needs, so
    `make_dataset(task, tokenizer, n, length, split, seed)` raises for `length < min_target_length(...)` and not for
    `length >= min_target_length(...)` (later samples draw their own stories and redraw long ones, up to
    `max_story_attempts` times). Use it to check lengths before building datasets, e.g. in a CLI.

    Args:
        task (`str` or [`TaskSpec`]): A registered task name or a custom spec.
        tokenizer ([`~transformers.PreTrainedTokenizerBase`]): Lengths are counted in its tokens.
        split (`str`, defaults to `"train"`), seed (`int`, defaults to 0): As for [`make_dataset`].
        max_story_attempts (`int`, defaults to 100): As for [`TaskDataset`].

    Raises:
        `ValueError`: Unknown task or split, a negative seed.
        `TypeError`: A tokenizer that is not a HF tokenizer.
    """
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if not isinstance(tokenizer, PreTrainedTokenizerBase):
        raise TypeError(f"tokenizer must be a transformers PreTrainedTokenizerBase, got {type(tokenizer).__name__}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    rng = sample_rng(check_seed(seed), split, spec.name, 0)
    attempts = check_positive_int("max_story_attempts", max_story_attempts, plain=True)
    return min(needed for *_, needed in draw_stories(spec, get_text_cache(tokenizer), rng, attempts))


def make_dataset(
    task: str | TaskSpec,
    tokenizer: PreTrainedTokenizerBase,
    num_samples: int,
    target_length: int | Sequence[int],
    split: str = "train",
    seed: int = 0,
    **kwargs: Any,
) -> TaskDataset:
    """Build a lazily generated [`TaskDataset`]; the main entry point.

    Args:
        task (`str` or [`TaskSpec`]): `"memorize"`, `"detect_memorize"`, `"reasoning"`, `"qa1"` ... `"qa5"`.
        tokenizer ([`~transformers.PreTrainedTokenizerBase`]): Lengths are counted in its tokens.
        num_samples (`int`): The dataset length.
        target_length (`int` or `list[int]`): Tokens of context + question per sample (exact).
        split (`str`, defaults to `"train"`): `"train"`, `"validation"` or `"test"`.
        seed (`int`, defaults to 0): Base seed.
        **kwargs: `noise`, `noise_column`, `placement`, `segment_size`, `segment_alignment`, `output_format`,
            `fields`, `max_story_attempts`; see
            [`TaskDataset`].

    Example:

    ```python
    >>> from hf_rmt.tasks import make_dataset
    >>> train = make_dataset("qa1", tokenizer, num_samples=10_000, target_length=4096, split="train")
    >>> test = make_dataset("qa1", tokenizer, num_samples=1_000, target_length=4096, split="test")
    >>> sample = train[0]  # built on access; len(sample["input_ids"]) == 4096
    ```
    """
    return TaskDataset(task, tokenizer, num_samples, target_length, split, seed, **kwargs)


__all__ = ["make_dataset", "min_target_length"]
