# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Copy and reverse (RMT paper, arXiv:2207.06881, section 4): read random symbols, then write them out again.

A sample is token-level, over a small vocabulary of its own (for models trained from scratch): `num_symbols` symbols
(ids `0 .. num_symbols - 1`) and three special tokens, `GO` (the paper's start-to-generate token), `EOS` and `PAD`:

    x_1 ... x_S  GO  y_1 ... y_T  EOS  PAD ...

- `"copy"`: the answer `y` is the source `x` written `copies` times (the paper's code, `LM-RMT`'s `copy_generator`,
  writes it twice: 24 symbols, a 48-symbol answer, 72 tokens in all);
- `"reverse"`: the answer is the source reversed (`T = S`).

**What "N segments" means.** In the paper the whole sequence, source and answer, is split into N equal segments
(copy of 24 symbols: 72 tokens, 9 segments of 8; the long copy: 120 symbols, 360 tokens, 9 segments of 40), so the
answer spans segments too: the model writes the source into memory segment by segment, and reproduces it segment by
segment, each later segment seeing the earlier answer only through memory. Here a sample of `num_segments` N with
`segment_size` L is exactly N * L tokens: the longest source that fits, `S = (N * L - 2) // (1 + copies)`, then
`GO`, the answer, `EOS`, and `PAD` to the end of the last segment (unscored and after everything scored, so a causal
model's answer does not depend on it). `segment_size` therefore should be the RMT model's `segment_size`.

One deviation from the paper: it keeps the sequence length fixed and shrinks the segments as N grows; here segments
keep the model's size and the source grows with N (the paper's 72-token copy at 9 segments of 8 is this dataset's
`num_segments=9, segment_size=8`, with one symbol less for `EOS`). A curriculum over N and evaluation beyond the
trained N then need no change of the model.

Loss and metric: `labels` are `-100` everywhere but the answer and `EOS` (the paper scores only the target); exact
match means every one of them right. Teacher-forced argmax exact match equals greedy generation's exact match when the
generated tokens are written to memory at the same segment boundaries (rolling generation).

Samples depend only on `(seed, split, task, index)`, as the other hf_rmt task datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .sample_dataset import (
    SampleDataset,
    check_fields,
    check_num_symbols,
    check_positive,
    check_positive_ints,
    check_seed,
    check_split,
    sample_rng,
)


ALGORITHMIC_TASKS = ("copy", "reverse")
ALGORITHMIC_FIELDS = (
    "input_ids",
    "labels",
    "source",
    "answer",
    "num_segments",
    "source_length",
    "prompt_length",
    "task",
    "split",
    "index",
)


class CopyReverseDataset(SampleDataset):
    r"""
    Copy or reverse samples of a given number of segments, built lazily and deterministically.

    Each sample is a dict:

    - `input_ids` (`list[int]`, `num_segments * segment_size` long): source, `GO`, answer, `EOS`, `PAD`s;
    - `labels` (`list[int]`): `-100` everywhere but the answer and `EOS` (hf_rmt's causal-LM loss shifts them);
    - `source`, `answer` (`list[int]`, symbols), `num_segments`, `source_length`, `prompt_length` (where the answer
      starts: just after `GO`), `task`, `split`, `index`.

    Args:
        num_samples (`int`): The dataset length.
        num_segments (`int` or `list[int]`): Segments per sample; with a list each sample draws one value (a
            curriculum that mixes lengths).
        segment_size (`int`): Tokens per segment (the RMT model's `segment_size`).
        task (`str`, defaults to `"copy"`): `"copy"` or `"reverse"`.
        copies (`int`, *optional*): How many times `"copy"` writes the source: the paper's 2 by default. `"reverse"`
            writes it once (only 1 is accepted).
        num_symbols (`int`, defaults to 10): Symbols of the source (at least 2).
        split (`str`, defaults to `"train"`): `"train"`, `"validation"` or `"test"`, disjoint seed streams.
        seed (`int`, defaults to 0): Base seed.
        output_format (`str`, defaults to `"generation"`): Only `"generation"` (decoders): the answer is a sequence.
        fields (`list[str]`, *optional*): Keep only these keys of each sample (e.g. `["input_ids", "labels"]` for
            `RMTDataCollator`); all of `ALGORITHMIC_FIELDS` by default.

    Raises:
        `ValueError`: naming the argument, the rule and the value: an unknown task, split or format, sizes below 1, a
            segment count whose `num_segments * segment_size` tokens leave no room for one symbol.

    Example:

    ```python
    >>> from hf_rmt.tasks import CopyReverseDataset
    >>> data = CopyReverseDataset(1000, num_segments=[1, 2, 3], segment_size=8, task="reverse")
    >>> config = RMTConfig(segment_size=8, num_memory_tokens=16)
    >>> backbone = LlamaForCausalLM(LlamaConfig(vocab_size=data.vocab_size, hidden_size=128, num_hidden_layers=4))
    ```
    """

    def __init__(
        self,
        num_samples: int,
        num_segments: int | Sequence[int],
        segment_size: int,
        task: str = "copy",
        copies: int | None = None,
        num_symbols: int = 10,
        split: str = "train",
        seed: int = 0,
        output_format: str = "generation",
        fields: Sequence[str] | None = None,
    ):
        self.num_samples = check_positive("num_samples", num_samples)
        if task not in ALGORITHMIC_TASKS:
            raise ValueError(f"task must be one of {list(ALGORITHMIC_TASKS)}, got {task!r}")
        self.task = task
        if copies is None:
            copies = 2 if task == "copy" else 1
        self.copies = check_positive("copies", copies)
        if task == "reverse" and self.copies != 1:
            raise ValueError(
                f"copies must be 1 for task='reverse' (the answer is the source reversed), got {copies!r}"
            )
        self.segment_size = check_positive("segment_size", segment_size)
        self.num_segments = check_positive_ints("num_segments", num_segments)
        shortest = min(self.num_segments) * self.segment_size
        if shortest < self.copies + 3:
            raise ValueError(
                f"num_segments * segment_size must be at least {self.copies + 3} tokens (one source symbol, GO, "
                f"{self.copies} answer symbol(s) and EOS), got {min(self.num_segments)} * {self.segment_size} = "
                f"{shortest}"
            )
        self.num_symbols = check_num_symbols(num_symbols)
        self.split = check_split(split)
        self.seed = check_seed(seed)
        if output_format != "generation":
            raise ValueError(
                f"output_format must be 'generation' (copy and reverse answer with a sequence), got {output_format!r}"
            )
        self.output_format = output_format
        self.fields = check_fields(fields, ALGORITHMIC_FIELDS)

    # ---------------------------------------------------------------- the vocabulary

    @property
    def go_token_id(self) -> int:
        return self.num_symbols

    @property
    def eos_token_id(self) -> int:
        return self.num_symbols + 1

    @property
    def pad_token_id(self) -> int:
        return self.num_symbols + 2

    @property
    def vocab_size(self) -> int:
        """Symbols and the three special tokens: the embedding size of a model trained on this task."""
        return self.num_symbols + 3

    def source_length(self, num_segments: int) -> int:
        """Source symbols of a sample of `num_segments` segments: the most that fit with `GO`, the answer and `EOS`."""
        return (check_positive("num_segments", num_segments) * self.segment_size - 2) // (1 + self.copies)

    # ---------------------------------------------------------------- samples

    def sample(self, index: int) -> dict[str, Any]:
        """Build sample `index` (deterministic; see the class docstring for the fields)."""
        rng = sample_rng(self.seed, self.split, f"{self.task}x{self.copies}", index)
        n = self.num_segments[int(rng.integers(len(self.num_segments)))]
        source = rng.integers(self.num_symbols, size=self.source_length(n))
        answer = np.tile(source, self.copies) if self.task == "copy" else source[::-1]
        prompt_length = len(source) + 1
        input_ids = np.full(n * self.segment_size, self.pad_token_id, dtype=np.int64)
        input_ids[: len(source)] = source
        input_ids[len(source)] = self.go_token_id
        end = prompt_length + len(answer)
        input_ids[prompt_length:end] = answer
        input_ids[end] = self.eos_token_id
        labels = np.full_like(input_ids, -100)
        labels[prompt_length : end + 1] = input_ids[prompt_length : end + 1]
        sample = {
            "input_ids": input_ids.tolist(),
            "labels": labels.tolist(),
            "source": source.tolist(),
            "answer": answer.tolist(),
            "num_segments": n,
            "source_length": len(source),
            "prompt_length": prompt_length,
            "task": self.task,
            "split": self.split,
            "index": index,
        }
        return self._keep_fields(sample)


__all__ = ["ALGORITHMIC_FIELDS", "ALGORITHMIC_TASKS", "CopyReverseDataset"]
