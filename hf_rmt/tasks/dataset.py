# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Lazily generated long-context task datasets: `torch` map-style, plus `datasets` builders.

A sample depends only on `(seed, split, task, index)`, so any index can be built on its own, in any order, in any
worker process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from transformers import PreTrainedTokenizerBase
from transformers.utils import logging

from ..utils.validation import OUTPUT_FORMATS, check_positive_int
from .babi import Story
from .haystack import PLACEMENTS, SEGMENT_ALIGNMENTS, SEGMENT_PLACEMENTS, assemble, noise_offsets, segment_starts
from .hf_datasets import task_features, to_hf_dataset, to_iterable_dataset
from .noise import SPLITS, NoiseCorpus, NoiseSource
from .registry import TaskSpec, get_task

# check_seed and sample_rng live with the base class; this module still exports them, as it always has.
from .sample_dataset import SampleDataset, check_seed, sample_rng
from .tokens import NoisePool, TextCache, get_noise_pool, get_text_cache


if TYPE_CHECKING:
    import datasets


logger = logging.get_logger(__name__)


SAMPLE_FIELDS = (
    "input_ids",
    "labels",
    "answer",
    "answer_class",
    "question",
    "facts",
    "fact_spans",
    "supporting_facts",
    "question_start",
    "prompt_length",
    "target_length",
    "task",
    "split",
    "index",
    "noise",
)


def _check_positive_int(name: str, value: Any) -> int:
    return check_positive_int(name, value, plain=True)


def draw_stories(
    spec: TaskSpec, text_cache: TextCache, rng: np.random.Generator, attempts: int
) -> Iterator[tuple[Story, list[np.ndarray], np.ndarray, int]]:
    """Up to `attempts` stories drawn from `rng`, each with its fact ids, question ids and the tokens they need."""
    for _ in range(attempts):
        story = spec.make_story(rng)
        *facts, question = text_cache.encode([*story.facts, story.question])
        yield story, facts, question, sum(len(f) for f in facts) + len(question)


def _check_target_lengths(value: Any) -> tuple[int, ...]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            raise ValueError("target_length must be a positive integer or a non-empty list of them, got []")
        return tuple(_check_positive_int("every target_length", v) for v in value)
    return (_check_positive_int("target_length", value),)


def resolve_placement(spec: TaskSpec, placement: str, segment_size: int | None) -> str:
    """The placement a [`TaskDataset`] uses (see its `placement` argument); raises the errors it documents.

    Args:
        spec ([`TaskSpec`]): The task.
        placement (`str`): `"auto"` or one of `PLACEMENTS`.
        segment_size (`int`, *optional*): Content tokens per segment, if given.
    """
    if placement != "auto" and placement not in PLACEMENTS:
        raise ValueError(f"placement must be 'auto' or one of {list(PLACEMENTS)}, got {placement!r}")
    if spec.placement == "start":
        if placement not in ("auto", "start"):
            raise ValueError(
                f"task {spec.name!r} keeps its fact at the start, so placement must be 'auto' or 'start', got "
                f"{placement!r}; use 'detect_memorize' for a fact at a random place"
            )
        return "start"
    if placement == "auto":
        return "segment_starts" if segment_size is not None else spec.placement
    if placement in SEGMENT_PLACEMENTS and segment_size is None:
        raise ValueError(f"placement={placement!r} needs segment_size (content tokens per segment), got None")
    return placement


class TaskDataset(SampleDataset):
    r"""A map-style dataset of long-context samples: bAbI-style facts hidden in noise text, the question at the end.

    Length contract: `input_ids` (context + question, no special tokens) has **exactly** `target_length` tokens (a
    tolerance of 0) with `output_format="classification"` or `"seq2seq"`; with `"generation"` the answer tokens and the
    eos token follow them. The noise is cut at token level to hit the length: the first noise sentence may start
    mid-sentence. Decoding `input_ids` and tokenizing the text again can differ by a few tokens at that cut.

    Each sample is a dict:

    - `input_ids` (`list[int]`): the content tokens without special tokens (the RMT model adds them per segment);
    - `labels`: the answer's class id (`int`) for `"classification"`; for `"generation"` a `list[int]` as long as
      `input_ids`, `-100` everywhere except the answer tokens and the eos token that ends them; for `"seq2seq"` the
      answer tokens and that eos token alone (the decoder's target);
    - `answer` (`str`), `answer_class` (`int`, index in [`TaskDataset.labels`]), `question` (`str`);
    - `facts` (`list[str]`), `fact_spans` (`list[[start, end)]`, token offsets in `input_ids`), `supporting_facts`
      (indices into `facts`), `question_start` (`int`), `prompt_length` (`int`: where the answer starts, equal to
      `target_length`);
    - `target_length`, `task`, `split`, `index`, `noise` (the noise corpus name).

    Args:
        task (`str` or [`TaskSpec`]): A registered task name (see [`get_task`]) or a custom spec.
        tokenizer ([`~transformers.PreTrainedTokenizerBase`]): Any HF tokenizer; lengths are counted in its tokens.
        num_samples (`int`): The dataset length.
        target_length (`int` or `list[int]`): Tokens of context + question. With a list, each sample draws one of the
            values uniformly (a mixed-length curriculum).
        split (`str`, defaults to `"train"`): `"train"`, `"validation"` or `"test"`. Selects the seed stream and, with
            the default noise, the book(s) the noise comes from.
        seed (`int`, defaults to 0): Base seed (non-negative).
        noise (`NoiseCorpus`, path, iterable of strings or `datasets.Dataset`, *optional*): Noise text for this split;
            defaults to the shipped Austen corpus for `split`. Use [`NoiseCorpus.split`] to cut one custom source
            into disjoint train and test parts.
        noise_column (`str`, defaults to `"text"`): The text column when `noise` is a `datasets.Dataset`.
        placement (`str`, defaults to `"auto"`): `"start"`, `"random_gaps"` (BABILong), `"segment_starts"` (the 1M
            paper; needs `segment_size`), `"before_last_segment"` (random gaps that end before the last segment
            starts, so that only memory can answer; needs `segment_size`; plain `"random_gaps"` for a sample of one
            segment or whose facts do not fit before its last segment) or `"auto"`: the task's own placement
            (`"start"` for memorize), else `"segment_starts"` when `segment_size` is given, else `"random_gaps"`. See
            `hf_rmt.tasks.haystack`.
        segment_size (`int`, *optional*): Content tokens per RMT segment (e.g. 499 for bert-base with 10 memory
            tokens); only `"segment_starts"` and `"before_last_segment"` use it. Pass the model's
            `config.segment_size`.
        segment_alignment (`str`, defaults to `"auto"`): How the model lays segments over `input_ids`, as
            `RMTConfig.segment_alignment`: `"left"` (from token 0; the last segment may be short), `"right"` (a full
            segment ends at the last token; the first may be short) or `"auto"`: `"left"` for `"generation"` (the
            decoder layout's default), else `"right"` (the encoder and seq2seq layouts'). Both agree when the length is
            a multiple of `segment_size`, as in the 1M paper (499 x n).
        output_format (`str`, defaults to `"classification"`): `"classification"`, `"generation"` (a causal LM: the
            answer follows the input) or `"seq2seq"` (an encoder-decoder: the answer is the target); both need an eos.
        fields (`list[str]`, *optional*): Keep only these keys of each sample (e.g. `["input_ids", "labels"]` for a
            plain `DataLoader` with a padding collator); defaults to all of `SAMPLE_FIELDS`.
        max_story_attempts (`int`, defaults to 100): Stories drawn per sample until one fits `target_length`;
            long stories (qa2/qa3/qa5) are redrawn at short lengths, as BABILong drops stories with too many facts.

    Raises:
        `ValueError`: Unknown task, split, placement or format; non-positive lengths; a target length too short for
            the facts and question (the message gives the minimum); a tokenizer without the eos token that
            `"generation"` and `"seq2seq"` need; empty noise.
        `TypeError`: A tokenizer that is not a HF tokenizer; noise that is not text.
    """

    def __init__(
        self,
        task: str | TaskSpec,
        tokenizer: PreTrainedTokenizerBase,
        num_samples: int,
        target_length: int | Sequence[int],
        split: str = "train",
        seed: int = 0,
        *,
        noise: NoiseSource | None = None,
        noise_column: str = "text",
        placement: str = "auto",
        segment_size: int | None = None,
        segment_alignment: str = "auto",
        output_format: str = "classification",
        fields: Sequence[str] | None = None,
        max_story_attempts: int = 100,
    ):
        self.spec = task if isinstance(task, TaskSpec) else get_task(task)
        if not isinstance(tokenizer, PreTrainedTokenizerBase):
            raise TypeError(
                f"tokenizer must be a transformers PreTrainedTokenizerBase, got {type(tokenizer).__name__}"
            )
        self.tokenizer = tokenizer
        self.num_samples = _check_positive_int("num_samples", num_samples)
        self.target_lengths = _check_target_lengths(target_length)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        self.split = split
        self.seed = check_seed(seed)
        self.segment_size = None if segment_size is None else _check_positive_int("segment_size", segment_size)
        self.placement = resolve_placement(self.spec, placement, self.segment_size)
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {list(OUTPUT_FORMATS)}, got {output_format!r}")
        if output_format != "classification" and tokenizer.eos_token_id is None:
            raise ValueError(
                f"output_format={output_format!r} needs a tokenizer with an eos token to end the answer, but "
                f"{type(tokenizer).__name__}({tokenizer.name_or_path!r}) has eos_token_id=None; set "
                "tokenizer.eos_token (e.g. to its sep token) or use output_format='classification'"
            )
        self.output_format = output_format
        if segment_alignment not in ("auto", *SEGMENT_ALIGNMENTS):
            raise ValueError(
                f"segment_alignment must be 'auto' or one of {list(SEGMENT_ALIGNMENTS)}, got {segment_alignment!r}"
            )
        if segment_alignment == "auto":
            segment_alignment = "left" if output_format == "generation" else "right"
        self.segment_alignment = segment_alignment
        if fields is None:
            fields = SAMPLE_FIELDS
        elif isinstance(fields, str) or not set(fields) <= set(SAMPLE_FIELDS) or not fields:
            raise ValueError(
                f"fields must be a non-empty list of sample keys from {list(SAMPLE_FIELDS)}, got {fields!r}"
            )
        self.fields = tuple(fields)
        self.max_story_attempts = _check_positive_int("max_story_attempts", max_story_attempts)
        self.noise = (
            NoiseCorpus.shipped(split) if noise is None else NoiseCorpus.from_source(noise, column=noise_column)
        )
        self._pool: NoisePool | None = None
        self._text: TextCache | None = None
        # Fail now, not in a DataLoader worker, when the shortest length cannot hold a story.
        self._draw_story(self._rng(0), min(self.target_lengths))

    @property
    def labels(self) -> tuple[str, ...]:
        """The task's fixed label list; `answer_class` indexes it."""
        return self.spec.labels

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.spec.labels))

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.spec.labels)}

    @property
    def pool(self) -> NoisePool:
        """The tokenized noise (built on first use, then shared through the per-tokenizer cache)."""
        if self._pool is None:
            self._pool = get_noise_pool(self.tokenizer, self.noise)
        return self._pool

    @property
    def text_cache(self) -> TextCache:
        if self._text is None:
            self._text = get_text_cache(self.tokenizer)
        return self._text

    def __getstate__(self) -> dict[str, Any]:
        # Caches are rebuilt lazily in the receiving process; keeps pickles (DataLoader workers, datasets) small.
        return {**self.__dict__, "_pool": None, "_text": None}

    def _rng(self, index: int) -> np.random.Generator:
        return sample_rng(self.seed, self.split, self.spec.name, index)

    def _draw_story(self, rng: np.random.Generator, target: int) -> tuple[Story, list[np.ndarray], np.ndarray]:
        shortest = None
        for story, facts, question, needed in draw_stories(self.spec, self.text_cache, rng, self.max_story_attempts):
            if needed <= target:
                return story, facts, question
            shortest = needed if shortest is None else min(shortest, needed)
        raise ValueError(
            f"target_length={target} is too short for task {self.spec.name!r}: its facts and question need at least "
            f"{shortest} tokens of this tokenizer (shortest of {self.max_story_attempts} stories drawn); use "
            f"target_length >= {shortest}"
        )

    def sample(self, index: int, return_tensors: str | None = None) -> dict[str, Any]:
        """Build sample `index` (deterministic; see the class docstring for the fields).

        Args:
            index (`int`): The sample's index in `[0, num_samples)`.
            return_tensors (`str`, *optional*): `"np"` returns `input_ids` (and a generation sample's `labels`) as
                int64 NumPy arrays instead of lists. A list of a million-token sample costs far more to build than
                the sample itself (`evaluate_by_length` reads 2,043,904-token samples this way).
        """
        if return_tensors not in (None, "np"):
            raise ValueError(f"return_tensors must be None or 'np', got {return_tensors!r}")
        rng = self._rng(index)
        target = self.target_lengths[int(rng.integers(len(self.target_lengths)))]
        story, facts, question = self._draw_story(rng, target)
        fact_lengths = [len(f) for f in facts]
        answer_ids = None
        if self.output_format != "classification":
            answer_ids = np.append(self.text_cache.encode([story.answer])[0], self.tokenizer.eos_token_id)
        starts = None
        if self.placement in SEGMENT_PLACEMENTS:
            total = target + (len(answer_ids) if self.output_format == "generation" else 0)  # what the model segments
            starts = segment_starts(total, self.segment_size, self.segment_alignment)
        noise, gaps = self.pool.take(rng, target - sum(fact_lengths) - len(question))
        offsets = noise_offsets(self.placement, rng, gaps, fact_lengths, target - len(question), starts)
        input_ids, fact_spans, question_start = assemble(noise, offsets, facts, question)
        answer_class = self.spec.label_to_id(story.answer)
        if self.output_format == "seq2seq":
            labels = answer_ids if return_tensors == "np" else answer_ids.tolist()
        elif answer_ids is not None:
            labels = np.full(len(input_ids) + len(answer_ids), -100, dtype=np.int64)
            labels[len(input_ids) :] = answer_ids
            input_ids = np.concatenate([input_ids, answer_ids])
            labels = labels if return_tensors == "np" else labels.tolist()
        else:
            labels = answer_class
        sample = {
            "input_ids": input_ids.astype(np.int64, copy=False) if return_tensors == "np" else input_ids.tolist(),
            "labels": labels,
            "answer": story.answer,
            "answer_class": answer_class,
            "question": story.question,
            "facts": list(story.facts),
            "fact_spans": fact_spans,
            "supporting_facts": list(story.supporting),
            "question_start": question_start,
            "prompt_length": target,
            "target_length": target,
            "task": self.spec.name,
            "split": self.split,
            "index": index,
            "noise": self.noise.name,
        }
        return sample if self.fields == SAMPLE_FIELDS else {key: sample[key] for key in self.fields}

    def features(self) -> datasets.Features:
        """The `datasets.Features` of the samples (imports `datasets`)."""
        return task_features(self)

    def to_hf_dataset(self, **kwargs: Any) -> datasets.Dataset:
        """Materialize every sample into a `datasets.Dataset` (see [`hf_rmt.tasks.hf_datasets.to_hf_dataset`])."""
        return to_hf_dataset(self, **kwargs)

    def to_iterable_dataset(self, **kwargs: Any) -> datasets.IterableDataset:
        """A streaming `datasets.IterableDataset` that builds samples on the fly (see
        [`hf_rmt.tasks.hf_datasets.to_iterable_dataset`])."""
        return to_iterable_dataset(self, **kwargs)


__all__ = [
    "OUTPUT_FORMATS",
    "SAMPLE_FIELDS",
    "TaskDataset",
    "check_seed",
    "draw_stories",
    "resolve_placement",
    "sample_rng",
]
