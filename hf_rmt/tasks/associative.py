# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Associative retrieval (ARMT paper, arXiv:2407.04841, section 3): key-value pairs, then a key; answer its value.

A sample is token-level, over a small vocabulary of its own (for models trained from scratch): `num_symbols` symbols
(ids `0 .. num_symbols - 1`) and four special tokens, `SEP` between a key and its value, `EOS` after each value (and
after the answer), `ASK` after the queried key, and `PAD`. With the default sizes (2-symbol keys, 1-symbol values)
every pair `key SEP value EOS` is 5 tokens, and so is the question and its answer `key ASK value EOS`: with
`segment_size=pair_length` each pair fills one segment and the question with its answer the last one, as in the
official code (`run_finetuning_associative_retrieval.py`), which feeds the pairs segment by segment.

Two variants:

- `"remember"`: the keys of a sample are all different; the question asks one of them. Capacity: how many pairs a
  memory keeps (ARMT App. B).
- `"rewrite"`: keys are drawn with repetition, so a later pair overwrites an earlier value of its key; the question
  asks one of the keys present and the answer is its **last** value. ARMT trained on 50 pairs stays accurate on 500
  (section 3, Fig. 2), where RMT degrades past its training length.

Samples depend only on `(seed, split, variant, index)`, as the other hf_rmt task datasets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..utils.validation import OUTPUT_FORMATS
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


VARIANTS = ("remember", "rewrite")
ASSOCIATIVE_FIELDS = (
    "input_ids",
    "labels",
    "answer",
    "answer_class",
    "keys",
    "values",
    "query",
    "query_pair",
    "num_pairs",
    "rewrites",
    "prompt_length",
    "task",
    "split",
    "index",
)


class AssociativeRetrievalDataset(SampleDataset):
    r"""
    Associative retrieval samples, built lazily and deterministically.

    Each sample is a dict:

    - `input_ids` (`list[int]`): the pairs, the queried key and `ASK`; with `"generation"` the answer (value and
      `EOS`) follows;
    - `labels`: `"generation"`: `-100` everywhere but the answer's tokens (the causal-LM loss of hf_rmt shifts them);
      `"classification"`: the value as a class id, `answer_class`;
    - `answer` (`str`, the value's symbols), `answer_class` (`int`, the value read as a base-`num_symbols` number, in
      `[0, num_labels)`);
    - `keys`, `values` (`list[list[int]]`, one per pair, as symbols), `query` (`list[int]`), `query_pair` (`int`, the
      pair whose value is the answer: for `"rewrite"` the key's last pair), `num_pairs`, `rewrites` (pairs whose key
      appeared in an earlier pair), `prompt_length` (where the answer starts), `task`, `split`, `index`.

    Args:
        num_samples (`int`): The dataset length.
        num_pairs (`int` or `list[int]`): Pairs per sample; with a list each sample draws one value (a curriculum
            that mixes lengths).
        variant (`str`, defaults to `"remember"`): `"remember"` (distinct keys) or `"rewrite"` (keys repeat; the
            answer is the key's last value).
        key_size (`int`, defaults to 2), value_size (`int`, defaults to 1): Symbols per key and per value.
        num_symbols (`int`, defaults to 16): Symbols keys and values are written with (the official code's 16).
        num_keys (`int`, *optional*): Draw keys among the first `num_keys` of the `num_symbols ** key_size` possible
            ones (every one when `None`): fewer keys, more rewrites per key.
        split (`str`, defaults to `"train"`): `"train"`, `"validation"` or `"test"`, disjoint seed streams.
        seed (`int`, defaults to 0): Base seed.
        output_format (`str`, defaults to `"generation"`): `"generation"` (decoders) or `"classification"`.
        fields (`list[str]`, *optional*): Keep only these keys of each sample (e.g. `["input_ids", "labels"]` for
            `RMTDataCollator`); all of `ASSOCIATIVE_FIELDS` by default.

    Raises:
        `ValueError`: naming the argument, the rule and the value: an unknown variant, split or format, sizes below 1,
            `"remember"` with more pairs than distinct keys.

    Example:

    ```python
    >>> from hf_rmt.tasks import AssociativeRetrievalDataset
    >>> data = AssociativeRetrievalDataset(1000, num_pairs=[1, 2, 3, 5], variant="rewrite")
    >>> config = RMTConfig(segment_size=data.pair_length, memory_type="associative")  # one pair a segment
    >>> backbone = LlamaForCausalLM(LlamaConfig(vocab_size=data.vocab_size, hidden_size=128, num_hidden_layers=4))
    ```
    """

    def __init__(
        self,
        num_samples: int,
        num_pairs: int | Sequence[int],
        variant: str = "remember",
        key_size: int = 2,
        value_size: int = 1,
        num_symbols: int = 16,
        num_keys: int | None = None,
        split: str = "train",
        seed: int = 0,
        output_format: str = "generation",
        fields: Sequence[str] | None = None,
    ):
        self.num_samples = check_positive("num_samples", num_samples)
        self.num_pairs = check_positive_ints("num_pairs", num_pairs)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
        self.variant = variant
        self.key_size = check_positive("key_size", key_size)
        self.value_size = check_positive("value_size", value_size)
        self.num_symbols = check_num_symbols(num_symbols)
        possible = self.num_symbols**self.key_size
        self.num_keys = possible if num_keys is None else check_positive("num_keys", num_keys)
        if self.num_keys > possible:
            raise ValueError(
                f"num_keys must be at most num_symbols ** key_size = {possible} (the distinct keys), got {num_keys!r}"
            )
        if variant == "remember" and max(self.num_pairs) > self.num_keys:
            raise ValueError(
                f"variant='remember' needs a distinct key for each pair: num_pairs must be at most {self.num_keys} "
                f"(num_keys, or num_symbols ** key_size), got {max(self.num_pairs)}; use variant='rewrite' or longer "
                "keys"
            )
        self.split = check_split(split)
        self.seed = check_seed(seed)
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be one of {list(OUTPUT_FORMATS)}, got {output_format!r}")
        self.output_format = output_format
        self.fields = check_fields(fields, ASSOCIATIVE_FIELDS)

    # ---------------------------------------------------------------- the vocabulary

    @property
    def sep_token_id(self) -> int:
        return self.num_symbols

    @property
    def ask_token_id(self) -> int:
        return self.num_symbols + 1

    @property
    def eos_token_id(self) -> int:
        return self.num_symbols + 2

    @property
    def pad_token_id(self) -> int:
        return self.num_symbols + 3

    @property
    def vocab_size(self) -> int:
        """Symbols and the four special tokens: the embedding size of a model trained on this task."""
        return self.num_symbols + 4

    @property
    def pair_length(self) -> int:
        """Tokens of one pair (and of the question with its answer): a segment size that puts one pair a segment."""
        return self.key_size + self.value_size + 2

    @property
    def num_labels(self) -> int:
        """Classes of `"classification"`: every possible value."""
        return self.num_symbols**self.value_size

    @property
    def task(self) -> str:
        return f"associative_retrieval_{self.variant}"

    # ---------------------------------------------------------------- samples

    def _digits(self, numbers_: np.ndarray, size: int) -> np.ndarray:
        """`(n,)` integers -> `(n, size)` symbols, most significant first."""
        powers = self.num_symbols ** np.arange(size - 1, -1, -1)
        return (numbers_[:, None] // powers) % self.num_symbols

    def sample(self, index: int) -> dict[str, Any]:
        """Build sample `index` (deterministic; see the class docstring for the fields)."""
        rng = sample_rng(self.seed, self.split, self.task, index)
        n = self.num_pairs[int(rng.integers(len(self.num_pairs)))]
        if self.variant == "remember":
            key_numbers = rng.choice(self.num_keys, size=n, replace=False)
        else:
            key_numbers = rng.integers(self.num_keys, size=n)
        value_numbers = rng.integers(self.num_labels, size=n)
        # The question asks a key present in the sample, each distinct key alike; its answer is its last value.
        asked = rng.choice(np.unique(key_numbers))
        query_pair = int(np.flatnonzero(key_numbers == asked)[-1])
        keys, values = self._digits(key_numbers, self.key_size), self._digits(value_numbers, self.value_size)

        pairs = np.concatenate(
            [keys, np.full((n, 1), self.sep_token_id), values, np.full((n, 1), self.eos_token_id)], axis=1
        ).reshape(-1)
        prompt = np.concatenate([pairs, keys[query_pair], [self.ask_token_id]])
        answer_ids = np.append(values[query_pair], self.eos_token_id)
        answer_class = int(value_numbers[query_pair])
        if self.output_format == "generation":
            input_ids = np.concatenate([prompt, answer_ids])
            labels: Any = np.full(len(input_ids), -100, dtype=np.int64)
            labels[len(prompt) :] = answer_ids
            labels = labels.tolist()
        else:
            input_ids, labels = prompt, answer_class
        sample = {
            "input_ids": input_ids.astype(np.int64).tolist(),
            "labels": labels,
            "answer": " ".join(str(int(s)) for s in values[query_pair]),
            "answer_class": answer_class,
            "keys": keys.tolist(),
            "values": values.tolist(),
            "query": keys[query_pair].tolist(),
            "query_pair": query_pair,
            "num_pairs": n,
            "rewrites": n - len(np.unique(key_numbers)),
            "prompt_length": len(prompt),
            "task": self.task,
            "split": self.split,
            "index": index,
        }
        return self._keep_fields(sample)


__all__ = ["ASSOCIATIVE_FIELDS", "VARIANTS", "AssociativeRetrievalDataset"]
