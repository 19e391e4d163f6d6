"""Noise text: the shipped Jane Austen corpus, pluggable text sources and a download-free sentence splitter.

The shipped corpus is the six Austen novels from the Debian package `r-cran-janeaustenr` (public domain), cleaned by
`scripts/build_corpus.py` and stored as `hf_rmt/data/austen_<book>.txt.xz` (one paragraph per line). It is split
by book, so the splits never share a paragraph:

| split | books | words |
|---|---|---|
| `train` | Emma, Mansfield Park, Pride and Prejudice, Sense and Sensibility | 556k |
| `validation` | Northanger Abbey | 77k |
| `test` | Persuasion | 83k |

Noise sentences that could be read as task facts (an actor's name next to a place or object word) are dropped when
the corpus is tokenized, whatever the source (see `hf_rmt.tasks.babi.looks_like_fact`).
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, Union

from transformers.utils import logging


logger = logging.get_logger(__name__)

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
SPLITS = ("train", "validation", "test")
SHIPPED_BOOKS = {
    "train": ("emma", "mansfieldpark", "prideprejudice", "sensesensibility"),
    "validation": ("northangerabbey",),
    "test": ("persuasion",),
}

# A sentence ends at . ! or ? (plus closing quotes or brackets), followed by white space and an upper-case letter,
# possibly behind an opening quote or bracket. Pieces that end with a known abbreviation or an initial are re-joined.
_BOUNDARY = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z])")
_ABBREVIATION = re.compile(
    r"(?:^|[\s\"'(])(?:Mr|Mrs|Ms|Messrs|Dr|St|Sr|Jr|Esq|Col|Capt|Gen|Lieut|Rev|Hon|No|Vol|vol|Co|viz|i\.e|e\.g|[A-Z])\.$"
)

NoiseSource = Union["NoiseCorpus", str, os.PathLike, Iterable[str], Any]


def split_sentences(text: str) -> list[str]:
    """Split English prose into sentences with a small regular expression (no model or download needed).

    Handles the usual abbreviations of 19th-century prose ("Mr.", "Mrs.", "St.", initials) and quotes around sentence
    ends; it is not a full sentence tokenizer, which is fine for noise text.

    Args:
        text (`str`): A paragraph (or any text). Runs of white space are collapsed.

    Returns:
        `list[str]`: The sentences, stripped, in order; empty for blank text.
    """
    text = " ".join(text.split())
    if not text:
        return []
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(text):
        pieces.append(text[start : match.end(1)])
        start = match.end()
    pieces.append(text[start:])
    sentences: list[str] = []
    for piece in pieces:
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return [s.strip() for s in sentences if s.strip()]


@dataclass(frozen=True)
class NoiseCorpus:
    """An ordered pool of noise sentences.

    Build one with [`NoiseCorpus.shipped`] (the packaged Austen text) or [`NoiseCorpus.from_source`] (any text).
    Samples take consecutive sentences from a random position, wrapping around at the end, so a corpus of any size
    can fill any length.

    Args:
        sentences (`tuple[str, ...]`): The sentences, in reading order.
        name (`str`): A human-readable name, stored in each sample's `noise` field.
    """

    sentences: tuple[str, ...]
    name: str

    def __post_init__(self):
        if not self.sentences:
            raise ValueError(f"NoiseCorpus {self.name!r} must hold at least one non-empty sentence, got none")

    @cached_property
    def fingerprint(self) -> str:
        """SHA-1 of the sentences: identifies the corpus in the per-tokenizer cache."""
        digest = hashlib.sha1()
        for sentence in self.sentences:
            digest.update(sentence.encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()

    def __len__(self) -> int:
        return len(self.sentences)

    @classmethod
    def shipped(cls, split: str = "train") -> NoiseCorpus:
        """The packaged Austen corpus for one split (see the module docstring for which book goes where).

        Args:
            split (`str`, defaults to `"train"`): `"train"`, `"validation"` or `"test"`.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        return _load_shipped(split)

    @classmethod
    def from_source(cls, source: NoiseSource, *, column: str = "text", name: str | None = None) -> NoiseCorpus:
        """Build a corpus from any text source; each string is split into sentences with [`split_sentences`].

        Args:
            source: One of
                - a [`NoiseCorpus`] (returned unchanged);
                - a path (`str` or `os.PathLike`) to a UTF-8 text file, optionally `.gz`/`.xz`/`.bz2` compressed;
                  each line is split into sentences;
                - a list, tuple or iterator of strings (paragraphs, sentences or whole documents);
                - a `datasets.Dataset` whose `column` holds strings.
            column (`str`, defaults to `"text"`): The column to read from a `datasets.Dataset`.
            name (`str`, *optional*): A name for the corpus; defaults to the file name or the source's type.

        Raises:
            `ValueError`: The source is empty (no non-blank text), the path is not a file, or the column is missing.
            `TypeError`: The source, or an item in it, is not text.
        """
        if isinstance(source, NoiseCorpus):
            return source
        if isinstance(source, (str, os.PathLike)):
            texts, default_name = _read_text_file(source), os.path.basename(os.fspath(source))
        elif _is_hf_dataset(source):
            texts, default_name = _dataset_column(source, column), f"datasets.Dataset[{column!r}]"
        elif isinstance(source, (bytes, dict)) or not isinstance(source, Iterable):
            raise TypeError(
                "noise must be a NoiseCorpus, a text file path, an iterable of strings or a datasets.Dataset, "
                f"got {type(source).__name__}"
            )
        else:
            texts, default_name = source, type(source).__name__
        sentences = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"noise must yield strings, but item {i} is {type(text).__name__}: {text!r:.80}")
            sentences.extend(split_sentences(text))
        if not sentences:
            raise ValueError(
                f"noise must contain at least one non-blank sentence, got an empty source ({default_name})"
            )
        return cls(tuple(sentences), name or default_name)

    def split(self, split: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> NoiseCorpus:
        """A deterministic, disjoint part of this corpus by position: train first, then validation, then test.

        Use this to draw train and test noise from one custom source without overlap.

        Args:
            split (`str`): `"train"`, `"validation"` or `"test"`.
            fractions (`tuple[float, float, float]`, defaults to `(0.8, 0.1, 0.1)`): Shares of the sentences for the
                three splits; they must be non-negative and sum to 1.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")
        bounds = [0, round(fractions[0] * len(self)), round((fractions[0] + fractions[1]) * len(self)), len(self)]
        i = SPLITS.index(split)
        part = self.sentences[bounds[i] : bounds[i + 1]]
        if not part:
            raise ValueError(
                f"split {split!r} of noise corpus {self.name!r} is empty: {len(self)} sentences with fractions "
                f"{fractions!r}; use a larger source"
            )
        return NoiseCorpus(part, f"{self.name}[{split}]")


@cache
def _load_shipped(split: str) -> NoiseCorpus:
    sentences = []
    for book in SHIPPED_BOOKS[split]:
        with lzma.open(os.path.join(DATA_DIR, f"austen_{book}.txt.xz"), "rt", encoding="utf-8") as f:
            for paragraph in f:
                sentences.extend(split_sentences(paragraph))
    return NoiseCorpus(tuple(sentences), f"austen-{split}")


def _read_text_file(path: str | os.PathLike) -> list[str]:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(
            f"noise={path!r} is not an existing file; a string is read as a path (pass a list of strings for raw text)"
        )
    opener = {".gz": "gzip", ".xz": "lzma", ".bz2": "bz2"}.get(os.path.splitext(path)[1])
    if opener is None:
        f = open(path, encoding="utf-8")
    else:
        f = __import__(opener).open(path, "rt", encoding="utf-8")
    with f:
        try:
            return f.read().splitlines()
        except UnicodeDecodeError as err:
            raise TypeError(f"noise file {path!r} is not UTF-8 text: {err}") from None


def _is_hf_dataset(source: Any) -> bool:
    # Checked by name so that `datasets` stays an optional import.
    return any(c.__module__.startswith("datasets.") and c.__name__ == "Dataset" for c in type(source).__mro__)


def _dataset_column(dataset: Any, column: str) -> Iterable[str]:
    if column not in dataset.column_names:
        raise ValueError(
            f"noise_column={column!r} is not a column of the noise dataset; columns: {dataset.column_names}"
        )
    feature = dataset.features[column]
    if getattr(feature, "dtype", None) not in ("string", "large_string"):
        raise TypeError(f"noise column {column!r} must hold strings, got feature {feature}")
    return dataset[column]
