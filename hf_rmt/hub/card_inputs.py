# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The checks of what callers hand the model card: training details and evaluation results (also
`hf_rmt.evaluation.LengthEvalResult` objects and their JSON form).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from ..utils.depth_ranges import spread_over_depths


def check_training_info(info: Mapping[str, Any] | None) -> dict[str, Any]:
    if info is None:
        return {}
    if not isinstance(info, Mapping):
        raise ValueError(f"`training_info` must be a dict or None, got {type(info).__name__}.")
    curriculum = info.get("curriculum")
    if curriculum is not None and (
        isinstance(curriculum, (str, bytes, Mapping))
        or not all(isinstance(s, (numbers.Integral, Mapping)) for s in curriculum)
    ):
        raise ValueError(
            "`training_info['curriculum']` must be a list of stages, each a number of segments or a dict such as "
            f"{{'segments': 2, 'steps': 1000}}, got {curriculum!r}."
        )
    steps = info.get("steps_per_stage")
    if steps is not None:
        values = [steps] if isinstance(steps, numbers.Integral) else steps
        stages = len(curriculum or [])
        if (
            isinstance(values, (str, bytes, Mapping))
            or not all(isinstance(v, numbers.Integral) for v in values)
            or (len(values) not in (1, stages) and stages)
        ):
            raise ValueError(
                "`training_info['steps_per_stage']` must be an int or a list of ints, one per curriculum stage "
                f"({stages} stages), got {steps!r}."
            )
    return dict(info)


def check_eval_results(results: Any) -> list[dict[str, Any]]:
    if results is None:
        return []
    entries = [results] if isinstance(results, Mapping) or _is_length_result(results) else results
    if not isinstance(entries, (list, tuple)):
        raise ValueError(
            f"`eval_results` must be a dict, a LengthEvalResult, a list of them or None, got {type(results).__name__}."
        )
    checked = []
    for entry in entries:
        entry = _from_length_result(entry)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("task"), str) or not entry["task"]:
            raise ValueError(
                f"Each `eval_results` entry must be a dict with a non-empty 'task' string, got {entry!r}."
            )
        by_length = entry.get("accuracy_by_length")
        if not isinstance(by_length, Mapping) or not by_length:
            raise ValueError(
                f"`eval_results` entry for task {entry['task']!r} needs 'accuracy_by_length', a non-empty dict "
                f"{{input length in tokens: accuracy}}, got {by_length!r}."
            )
        accuracy = {}
        for length, value in by_length.items():
            length = _length(length)
            if length <= 0 or isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(
                    f"`eval_results` entry for task {entry['task']!r}: 'accuracy_by_length' maps input lengths "
                    f"(positive integers) to accuracies in [0, 1], got {length!r}: {value!r}."
                )
            accuracy[length] = float(value)
        checked.append({**entry, "accuracy_by_length": dict(sorted(accuracy.items()))})
        if entry.get("samples_by_length") is not None:
            checked[-1]["samples_by_length"] = _check_samples(entry["task"], entry["samples_by_length"], accuracy)
        if entry.get("depth_by_length") is not None:
            checked[-1]["depth_by_length"] = _check_depths(entry["task"], entry["depth_by_length"], accuracy)
    return checked


def _check_depths(task: str, by_length: Any, accuracy: Mapping[int, float]) -> dict[int, list[dict[str, Any]]]:
    """`depth_by_length`: for lengths of `accuracy_by_length`, `LengthResult.by_depth` lists (the same ranges each)."""
    rule = (
        f"`eval_results` entry for task {task!r}: 'depth_by_length' maps input lengths of 'accuracy_by_length' to "
        "lists of depth ranges, each {'depth': [low, high], 'num_samples': n, 'accuracy': a or None}"
    )
    if not isinstance(by_length, Mapping):
        raise ValueError(f"{rule}, got {by_length!r}.")
    depths, ranges = {}, None
    for length, rows in by_length.items():
        length = _length(length)
        valid = isinstance(rows, (list, tuple)) and all(
            isinstance(row, Mapping)
            and len(row.get("depth") or ()) == 2
            and isinstance(row.get("num_samples"), numbers.Integral)
            and (row.get("accuracy") is None or isinstance(row.get("accuracy"), (int, float)))
            for row in rows
        )
        if length not in accuracy or not valid or (ranges is not None and [r["depth"] for r in rows] != ranges):
            raise ValueError(f"{rule}, got {length!r}: {rows!r}.")
        ranges = [list(row["depth"]) for row in rows]
        depths[length] = [dict(row) for row in rows]
    return dict(sorted(depths.items()))


def _check_samples(task: str, by_length: Any, accuracy: Mapping[int, float]) -> dict[int, int]:
    """`samples_by_length`: for each length of `accuracy_by_length`, the number of samples scored there."""
    rule = (
        f"`eval_results` entry for task {task!r}: 'samples_by_length' maps the input lengths of 'accuracy_by_length' "
        "to the number of samples scored at each (positive integers)"
    )
    if not isinstance(by_length, Mapping):
        raise ValueError(f"{rule}, got {by_length!r}.")
    samples = {}
    for length, count in by_length.items():
        length = _length(length)
        if length not in accuracy or isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 1:
            raise ValueError(f"{rule}, got {length!r}: {count!r}.")
        samples[length] = int(count)
    return dict(sorted(samples.items()))


def _length(value: Any) -> int:
    """An input length given as an int or its string (JSON keys); -1 when it is neither."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _is_length_result(value: Any) -> bool:
    """Whether `value` is an `hf_rmt.evaluation.LengthEvalResult` (duck-typed: evaluation imports the tasks)."""
    return not isinstance(value, Mapping) and hasattr(value, "to_dict") and hasattr(value, "results")


def _from_length_result(entry: Any) -> Any:
    """The card's form (`accuracy_by_length`, ...) of a `LengthEvalResult` or of its JSON form; other entries as is."""
    if _is_length_result(entry):
        entry = entry.to_dict()
    if not isinstance(entry, Mapping) or "accuracy_by_length" in entry or not isinstance(entry.get("results"), list):
        return entry
    rows = [r for r in entry["results"] if isinstance(r, Mapping)]
    card = {"task": entry.get("task"), "accuracy_by_length": {r.get("length"): r.get("accuracy") for r in rows}}
    for key in ("dataset", "split", "metric", "trained_length", "chance", "description", "plot"):
        if entry.get(key) is not None:
            card[key] = entry[key]
    samples = {r.get("num_samples") for r in rows}
    if len(samples) == 1 and None not in samples:
        card["num_samples"] = samples.pop()
    elif None not in samples:
        # Fewer samples at the longest inputs (e.g. 500 up to 256 segments, 100 beyond): the card shows each count.
        card["samples_by_length"] = {r.get("length"): r.get("num_samples") for r in rows}
    depths = {r.get("length"): r["by_depth"] for r in rows if r.get("by_depth")}
    if spread_over_depths(depths.values()):  # Memorize's fact is always first: one column would say nothing
        card["depth_by_length"] = depths
    return card


def set_model_card_info(
    model: Any,
    training_info: Mapping[str, Any] | None = None,
    eval_results: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
    card_data: Mapping[str, Any] | None = None,
) -> None:
    """
    Attaches training and evaluation details to the model; every later `save_pretrained` / `push_to_hub` (and
    so every Trainer checkpoint) writes them into the model card. Arguments left `None` keep their earlier
    value. See `hf_rmt.hub.model_card.create_or_update_model_card` for their format.

    Args:
        training_info (`dict`, *optional*): e.g. `{"task": "qa1", "curriculum": [1, 2, 4], "steps": 2000}`.
        eval_results (`dict` or `list[dict]`, *optional*): e.g.
            `{"task": "qa1", "accuracy_by_length": {1024: 0.9}, "plot": "accuracy_vs_length.png"}`.
        card_data (`dict`, *optional*): YAML fields that win over the generated ones, e.g. `{"license": "mit"}`.
    """
    info = dict(getattr(model, "_model_card_info", None) or {})
    if training_info is not None:
        check_training_info(training_info)
        info["training_info"] = dict(training_info)
    if eval_results is not None:
        check_eval_results(eval_results)
        info["eval_results"] = eval_results
    if card_data is not None:
        if not isinstance(card_data, Mapping):
            raise ValueError(f"`card_data` must be a dict of model card YAML fields, got {card_data!r}.")
        info["card_data"] = dict(card_data)
    model._model_card_info = info


__all__ = ["check_eval_results", "check_training_info", "set_model_card_info"]
