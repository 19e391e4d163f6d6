"""Per-tokenizer caches: noise sentences tokenized once into one flat id array, and memoized fact/question ids.

Samples are assembled by slicing and concatenating these arrays, so a sample's cost is numpy copying, not
tokenization. Caches live in memory for the life of the process, keyed by the tokenizer's class, `name_or_path` and
`len(tokenizer)` (which counts added tokens), and by the corpus fingerprint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase
from transformers.utils import logging

from .babi import looks_like_fact
from .noise import NoiseCorpus, _load_shipped


logger = logging.get_logger(__name__)

_BATCH = 2048
_TEXT_CACHES: dict[tuple, TextCache] = {}
_NOISE_POOLS: dict[tuple, NoisePool] = {}


def tokenizer_key(tokenizer: PreTrainedTokenizerBase) -> tuple[str, str, int]:
    """The cache key of a tokenizer: (class name, `name_or_path`, `len(tokenizer)`)."""
    return type(tokenizer).__name__, str(tokenizer.name_or_path), len(tokenizer)


def clear_caches() -> None:
    """Drop every cached tokenization and the loaded shipped corpus (e.g. to measure a cold start)."""
    _TEXT_CACHES.clear()
    _NOISE_POOLS.clear()
    _load_shipped.cache_clear()


class TextCache:
    """Tokenizes text pieces of a running text and memoizes short ones (facts, questions, answers).

    Each piece is encoded with a leading space when the tokenizer encodes `"a b"` as `"a"` + `" b"` (GPT-2 BPE,
    WordPiece), so concatenated piece ids equal the ids of the joined text; tokenizers that add their own prefix
    space (SentencePiece) get the piece as is.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer
        joined = self._raw(["Mary went. John went."])[0]
        self.prefix = " " if joined == self._raw(["Mary went."])[0] + self._raw([" John went."])[0] else ""
        self._memo: dict[str, np.ndarray] = {}

    def _raw(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(
            texts,
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            # No "Token indices sequence length is longer than the specified maximum sequence length" warning (per
            # call; the tokenizer's warn-once flag stays unset): an RMT model reads any length segment by segment.
            verbose=False,
        )["input_ids"]

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """Ids of each piece (with the piece prefix), without special tokens and without memoizing."""
        return self._raw([self.prefix + t for t in texts])

    def encode(self, texts: list[str] | tuple[str, ...]) -> list[np.ndarray]:
        """Memoized int64 ids of each piece."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            for text, ids in zip(missing, self.encode_batch(missing)):
                self._memo[text] = np.asarray(ids, dtype=np.int64)
        return [self._memo[t] for t in texts]


@dataclass(frozen=True)
class NoisePool:
    """A corpus tokenized sentence by sentence.

    Args:
        ids (`np.ndarray`): All sentence ids concatenated (int64), length `L`.
        starts (`np.ndarray`): Start offset of each sentence in `ids` (int64, ascending, `starts[0] == 0`).
        name (`str`): The corpus name.
    """

    ids: np.ndarray
    starts: np.ndarray
    name: str

    def take(self, rng: np.random.Generator, n_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """`n_tokens` consecutive noise tokens that end at a random sentence end, wrapping around the pool.

        Returns:
            `(ids, gaps)`: the noise ids and the offsets in `ids` (from 0 to `n_tokens`, ascending) where a sentence
            starts or ends; only the first sentence may be cut.
        """
        length = len(self.ids)
        end = int(self.starts[int(rng.integers(len(self.starts)))]) + length
        begin = end - n_tokens
        ids = np.take(self.ids, np.arange(begin, end), mode="wrap") if n_tokens else self.ids[:0]
        first, last = begin // length, end // length
        bounds = (self.starts[None, :] + length * np.arange(first, last + 1)[:, None]).ravel()
        inner = bounds[(bounds > begin) & (bounds < end)] - begin
        return ids, np.concatenate(([0], inner, [n_tokens]))


def get_text_cache(tokenizer: PreTrainedTokenizerBase) -> TextCache:
    """The memo of fact/question/answer ids for this tokenizer (created on first use)."""
    key = tokenizer_key(tokenizer)
    if key not in _TEXT_CACHES:
        _TEXT_CACHES[key] = TextCache(tokenizer)
    return _TEXT_CACHES[key]


def get_noise_pool(tokenizer: PreTrainedTokenizerBase, corpus: NoiseCorpus) -> NoisePool:
    """Tokenize `corpus` once per tokenizer (cached) and drop sentences that look like task facts.

    Args:
        tokenizer ([`~transformers.PreTrainedTokenizerBase`]): The tokenizer whose ids the samples use.
        corpus ([`NoiseCorpus`]): The noise sentences.
    """
    key = (*tokenizer_key(tokenizer), corpus.fingerprint)
    if key in _NOISE_POOLS:
        return _NOISE_POOLS[key]
    start_time = time.perf_counter()
    sentences = [s for s in corpus.sentences if not looks_like_fact(s)]
    text_cache = get_text_cache(tokenizer)
    pieces = []
    for i in range(0, len(sentences), _BATCH):
        pieces.extend(text_cache.encode_batch(sentences[i : i + _BATCH]))
    pieces = [p for p in pieces if p]
    if not pieces:
        raise ValueError(f"noise corpus {corpus.name!r} has no sentence left after tokenization and fact filtering")
    lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
    ids = np.fromiter((t for p in pieces for t in p), dtype=np.int64, count=int(lengths.sum()))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    pool = NoisePool(ids, starts, corpus.name)
    _NOISE_POOLS[key] = pool
    logger.info(
        f"Tokenized noise corpus {corpus.name!r} with {key[0]}({key[1]!r}): {len(pieces)} sentences "
        f"({len(corpus) - len(sentences)} fact-like ones dropped), {len(ids)} tokens in "
        f"{time.perf_counter() - start_time:.1f}s"
    )
    return pool
