# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""A task dataset as a 🤗 `datasets` table or stream (imports `datasets` only when called)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    import datasets


def task_features(dataset: Any) -> datasets.Features:
    """The `datasets.Features` of the samples of `dataset` (a `TaskDataset`), restricted to its `fields`."""
    import datasets

    int_list = datasets.Sequence(datasets.Value("int64"))
    # A class id for classification; the answer's tokens otherwise (generation and seq2seq).
    labels = int_list if dataset.output_format != "classification" else datasets.Value("int64")
    features = datasets.Features(
        {
            "input_ids": int_list,
            "labels": labels,
            "answer": datasets.Value("string"),
            "answer_class": datasets.Value("int64"),
            "question": datasets.Value("string"),
            "facts": datasets.Sequence(datasets.Value("string")),
            "fact_spans": datasets.Sequence(int_list),
            "supporting_facts": int_list,
            "question_start": datasets.Value("int64"),
            "prompt_length": datasets.Value("int64"),
            "target_length": datasets.Value("int64"),
            "task": datasets.Value("string"),
            "split": datasets.Value("string"),
            "index": datasets.Value("int64"),
            "noise": datasets.Value("string"),
        }
    )
    return datasets.Features({key: features[key] for key in dataset.fields})


def to_hf_dataset(dataset: Any, **kwargs: Any) -> datasets.Dataset:
    """Materialize every sample of `dataset` (a `TaskDataset`) into a `datasets.Dataset` (Arrow, cached on disk by
    `datasets`).

    Args:
        dataset (`TaskDataset`): The samples.
        **kwargs: Forwarded to `datasets.Dataset.from_generator` (e.g. `cache_dir`, `keep_in_memory`, `num_proc`; with
            `num_proc` the indices are sharded across processes).
    """
    import datasets

    return datasets.Dataset.from_generator(
        _generate, features=task_features(dataset), gen_kwargs=_gen_kwargs(dataset), **kwargs
    )


def to_iterable_dataset(dataset: Any, **kwargs: Any) -> datasets.IterableDataset:
    """A streaming `datasets.IterableDataset` that builds the samples of `dataset` (a `TaskDataset`) on the fly.

    Args:
        dataset (`TaskDataset`): The samples.
        **kwargs: Forwarded to `datasets.IterableDataset.from_generator`.
    """
    import datasets

    return datasets.IterableDataset.from_generator(
        _generate, features=task_features(dataset), gen_kwargs=_gen_kwargs(dataset), **kwargs
    )


def _gen_kwargs(dataset: Any) -> dict[str, Any]:
    # A list in `gen_kwargs` is what `datasets` splits between `num_proc` processes: shards of 1000 indices.
    size = dataset.num_samples
    return {"dataset": dataset, "shards": [range(i, min(i + 1000, size)) for i in range(0, size, 1000)]}


def _generate(dataset: Any, shards: list[range]) -> Iterator[dict[str, Any]]:
    for shard in shards:
        for index in shard:
            yield dataset.sample(index)


__all__ = ["task_features", "to_hf_dataset", "to_iterable_dataset"]
