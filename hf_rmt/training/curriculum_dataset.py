# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`CurriculumDataset`: task samples generated on the fly at the current curriculum stage's length."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..utils.validation import check_positive_int
from .curriculum import SegmentCurriculum


SampleBuilder = Callable[[int, int], dict[str, Any]]


class CurriculumDataset(torch.utils.data.Dataset):
    r"""
    A map-style dataset whose batches have the number of segments its [`SegmentCurriculum`] chooses.

    The DataLoader hands a whole batch of indices to `__getitems__`, which numbers the batch, asks the curriculum for
    its number of segments `n`, and builds every sample of the batch with `n * segment_size` tokens. Works with
    `Trainer`, `accelerate` and any `DataLoader` with a batch size, in the main process (`num_workers=0`: batches are
    numbered in the order they are built; task samples take about 3 ms per 16k tokens).

    Args:
        build (`Callable[[int, int], dict]`):
            `build(index, num_tokens)` returns sample `index` with `num_tokens` tokens (see [`from_task`] and
            [`from_samples`] for ready-made builders).
        num_samples (`int`): The dataset length.
        curriculum ([`SegmentCurriculum`]): The schedule and its state, shared with the training loop.
        segment_size (`int`): Content tokens per segment, the model's `config.segment_size`.
        train (`bool`, *optional*, defaults to `True`):
            `True`: each batch takes the next batch number and its draw. `False` (evaluation): samples have
            `num_segments` segments, or the maximum of the stage being trained, and the batch numbering is untouched.
        num_segments (`int`, *optional*): Fixed number of segments of an evaluation dataset.
    """

    def __init__(
        self,
        build: SampleBuilder,
        num_samples: int,
        curriculum: SegmentCurriculum,
        segment_size: int,
        train: bool = True,
        num_segments: int | None = None,
    ):
        if not callable(build):
            raise TypeError(f"`build` must be a callable `(index, num_tokens) -> sample`, got {type(build).__name__}.")
        if not isinstance(curriculum, SegmentCurriculum):
            raise TypeError(f"`curriculum` must be a SegmentCurriculum, got {type(curriculum).__name__}.")
        self.build = build
        self.num_samples = check_positive_int("num_samples", num_samples)
        self.curriculum = curriculum
        self.segment_size = check_positive_int("segment_size", segment_size)
        self.train = bool(train)
        self.num_segments = None if num_segments is None else check_positive_int("num_segments", num_segments)
        if self.train and self.num_segments is not None:
            raise ValueError("`num_segments` fixes the length of an evaluation dataset; use it with `train=False`.")

    # ---------------------------------------------------------------- builders

    @classmethod
    def from_task(
        cls,
        task: str,
        tokenizer: Any,
        num_samples: int,
        curriculum: SegmentCurriculum,
        segment_size: int,
        split: str = "train",
        seed: int = 0,
        train: bool | None = None,
        num_segments: int | None = None,
        answer_reserve: int = 0,
        **task_kwargs: Any,
    ) -> CurriculumDataset:
        """
        A dataset of `hf_rmt.tasks` samples regenerated at each batch's length (the fact of a `memorize` sample stays at
        the start, the question at the end, whatever the length).

        Args:
            task (`str`): An `hf_rmt.tasks` task (`"qa1"`, `"memorize"`, ...).
            tokenizer: The backbone's tokenizer.
            num_samples, curriculum, segment_size: See the class.
            split (`str`, *optional*, defaults to `"train"`): `"train"`, `"validation"` or `"test"`.
            seed (`int`, *optional*, defaults to 0): Seed of the samples.
            train (`bool`, *optional*): Defaults to `split == "train"`.
            num_segments (`int`, *optional*): Fixed length of an evaluation dataset.
            answer_reserve (`int`, *optional*, defaults to 0): With `output_format="generation"`, tokens taken off
                the prompt. With 0 a sample of `n` segments has a prompt of `n * segment_size` tokens, as
                `evaluate_by_length`'s prompts at that length, and its answer and eos start segment `n + 1`, where
                greedy generation puts them: a decoder learns the layout it is evaluated on (one trained with its
                answer inside segment `n`, e.g. `answer_reserve=8`, keeps answering there: evaluated on prompts of
                `n * segment_size` tokens it does not end its answer and scores 0). A positive value keeps prompt and
                answer within `n` segments; evaluate such a model at lengths `n * segment_size - answer_reserve`.
            task_kwargs: Passed to `hf_rmt.tasks.make_dataset` (`output_format`, `placement`, `noise`, ...). With
                `placement="segment_starts"` or `"before_last_segment"` the samples are laid out on `segment_size`
                (pass `segment_alignment` when the model's is not the task's default); the placement is checked
                against the task here, not at the first batch.

        Samples have `input_ids` and `labels` only (the columns the models take).
        """
        from ..tasks import NoiseCorpus, get_task, make_dataset  # noqa: PLC0415  (tasks load their corpus lazily)
        from ..tasks.dataset import resolve_placement  # noqa: PLC0415
        from ..tasks.haystack import SEGMENT_PLACEMENTS  # noqa: PLC0415

        if task_kwargs.get("placement", "auto") in SEGMENT_PLACEMENTS:  # "auto" stays as it was: no segment_size
            task_kwargs.setdefault("segment_size", segment_size)
        resolve_placement(get_task(task), task_kwargs.get("placement", "auto"), task_kwargs.get("segment_size"))

        if task_kwargs.get("noise") is not None:  # read a custom corpus once, not once per length
            task_kwargs["noise"] = NoiseCorpus.from_source(
                task_kwargs["noise"], column=task_kwargs.pop("noise_column", "text")
            )
        reserve = answer_reserve if task_kwargs.get("output_format") == "generation" else 0
        per_length: dict[int, Any] = {}

        def build(index: int, num_tokens: int) -> dict[str, Any]:
            target = max(num_tokens - reserve, 1)
            if target not in per_length:
                per_length[target] = make_dataset(task, tokenizer, num_samples, target, split, seed, **task_kwargs)
            sample = per_length[target][index]
            return {"input_ids": sample["input_ids"], "labels": sample["labels"]}

        train = split == "train" if train is None else train
        return cls(build, num_samples, curriculum, segment_size, train=train, num_segments=num_segments)

    @classmethod
    def from_samples(
        cls,
        samples: Any,
        curriculum: SegmentCurriculum,
        segment_size: int,
        truncation_side: str = "left",
        train: bool = True,
        num_segments: int | None = None,
    ) -> CurriculumDataset:
        """
        A dataset that truncates long samples (any map-style dataset of dicts, e.g. a tokenized `datasets.Dataset`) to
        each batch's length.

        Args:
            samples: Samples with `input_ids` at least as long as the longest stage needs (shorter ones are kept as they
                are). Per-token fields (`attention_mask`, token `labels`) are truncated with `input_ids`.
            truncation_side (`str`, *optional*, defaults to `"left"`): `"left"` drops tokens at the start and keeps the
                end (a question at the end); `"right"` keeps the start (language modelling).
        """
        if truncation_side not in ("left", "right"):
            raise ValueError(f"`truncation_side` must be 'left' or 'right', got {truncation_side!r}.")

        def build(index: int, num_tokens: int) -> dict[str, Any]:
            return truncate_sample(samples[index], num_tokens, truncation_side)

        return cls(build, len(samples), curriculum, segment_size, train=train, num_segments=num_segments)

    # ---------------------------------------------------------------- Dataset

    def __len__(self) -> int:
        return self.num_samples

    def _eval_segments(self) -> int:
        return self.num_segments if self.num_segments is not None else self.curriculum.max_segments

    def __getitem__(self, index: int) -> dict[str, Any]:
        # A single sample (no batch): the evaluation length, without taking a batch number.
        return self.build(int(index), self._eval_segments() * self.segment_size)

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        if self.train:
            if torch.utils.data.get_worker_info() is not None:
                raise RuntimeError(
                    "A training CurriculumDataset must build its batches in the main process (DataLoader "
                    "num_workers=0, TrainingArguments(dataloader_num_workers=0)): it numbers batches in the order they "
                    "are built so that their number of segments is reproducible. Samples take milliseconds to build."
                )
            _, segments = self.curriculum.next_batch()
        else:
            segments = self._eval_segments()
        return [self.build(int(index), segments * self.segment_size) for index in indices]


def train_and_eval_datasets(
    task: str,
    tokenizer: Any,
    curriculum: SegmentCurriculum,
    segment_size: int,
    num_samples: int,
    eval_samples: int | None,
    seed: int = 0,
    placement: str = "auto",
    segment_alignment: str = "auto",
) -> tuple[CurriculumDataset, CurriculumDataset | None]:
    """
    The training dataset of a task (split `"train"`, facts placed by `placement`) and its validation dataset (split
    `"validation"`, at the length of the stage being trained, always with the task's default placement so that
    validation measures the task itself), as `hf-rmt train` builds them.

    Args:
        task, tokenizer, curriculum, segment_size: See [`CurriculumDataset.from_task`].
        num_samples (`int`): Training samples (steps x batch size x accumulation).
        eval_samples (`int`, *optional*): Validation samples; `None`: no validation dataset.
        seed (`int`, *optional*, defaults to 0): Seed of both datasets.
        placement (`str`, *optional*, defaults to `"auto"`): The training samples' placement (`hf_rmt.tasks.PLACEMENTS`
            or `"auto"`); `"segment_starts"` and `"before_last_segment"` use `segment_size` and `segment_alignment`.
        segment_alignment (`str`, *optional*, defaults to `"auto"`): The model's `config.resolved_segment_alignment`.
    """
    extra = {} if placement == "auto" else {"placement": placement, "segment_alignment": segment_alignment}
    train = CurriculumDataset.from_task(
        task, tokenizer, num_samples, curriculum, segment_size, split="train", seed=seed, **extra
    )
    if eval_samples is None:
        return train, None
    return train, CurriculumDataset.from_task(
        task, tokenizer, eval_samples, curriculum, segment_size, split="validation", seed=seed
    )


def truncate_sample(sample: dict[str, Any], num_tokens: int, side: str = "left") -> dict[str, Any]:
    """Cuts `input_ids` of `sample` to `num_tokens` tokens, and every per-token field (same length) with it."""
    if "input_ids" not in sample:
        raise ValueError(f"The sample has no `input_ids` to truncate; its fields are {sorted(sample)}.")
    length = len(sample["input_ids"])
    if length <= num_tokens:
        return dict(sample)
    cut = slice(length - num_tokens, None) if side == "left" else slice(0, num_tokens)
    return {key: value[cut] if _length(value) == length else value for key, value in sample.items()}


def _length(value: Any) -> int | None:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__getitem__"):
        return None
    try:
        return len(value)
    except TypeError:  # 0-d tensors and arrays
        return None


__all__ = ["CurriculumDataset", "SampleBuilder", "train_and_eval_datasets", "truncate_sample"]
