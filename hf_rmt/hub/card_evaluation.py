# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The evaluation section of an hf_rmt model card: accuracy by input length (table and plot) and the `model-index`
results.
"""

from __future__ import annotations

import math
import os
import shutil
from typing import Any

from huggingface_hub import EvalResult
from transformers.utils import logging

from .card_render import GENERATED_PLOT_NAME, format_percent


logger = logging.get_logger(__name__)


def evaluation_section(
    evaluations: list[dict[str, Any]], segment_size: int, save_directory: str, max_positions: Any
) -> dict[str, Any] | None:
    if not evaluations:
        return None
    lengths = sorted({length for e in evaluations for length in e["accuracy_by_length"]})
    trained = max((int(e["trained_length"]) for e in evaluations if e.get("trained_length")), default=None)

    def length_cell(length: int) -> str:
        if trained and length > trained:
            return f"{length:,} ({length / trained:.3g}x trained)"
        return f"{length:,}"

    # Sample counts that vary with the length get a column each: an accuracy on 100 samples is +-2-4 points.
    counted = [e for e in evaluations if e.get("samples_by_length")]
    headers = [
        "Input length",
        "Segments",
        *(f"{e['task']} {(e.get('metric') or 'accuracy').replace('_', ' ')}" for e in evaluations),
        *(f"{e['task']} samples" if len(evaluations) > 1 else "Samples" for e in counted),
    ]
    rows = [
        [
            length_cell(length),
            str(math.ceil(length / segment_size)),
            *(format_percent(e["accuracy_by_length"].get(length)) for e in evaluations),
            *(_count(e["samples_by_length"].get(length)) for e in counted),
        ]
        for length in lengths
    ]
    plots = [_copy_plot(e["plot"], save_directory) for e in evaluations if e.get("plot")]
    if not plots and all(e.get("plot") is not False for e in evaluations):  # `"plot": False`: none wanted
        drawn = _draw_plot(evaluations, save_directory, max_positions, trained)
        plots = [drawn] if drawn else []
    descriptions = [e.get("description") or _describe(e) for e in evaluations]
    if trained:
        descriptions.append(
            f"Trained on inputs of up to {trained:,} tokens: longer inputs show how far the memory carries beyond "
            "the training lengths."
        )
    return {
        "headers": headers,
        "rows": rows,
        "plots": plots,
        "description": "\n\n".join(d for d in descriptions if d) or None,
        "depth_tables": [_depth_table(e, length_cell) for e in evaluations if e.get("depth_by_length")],
    }


def _depth_table(entry: dict[str, Any], length_cell: Any) -> dict[str, Any]:
    """Accuracy by fact depth (`hf_rmt.eval_depth`): one row per length, one column per range, "accuracy (samples)"."""
    by_length = entry["depth_by_length"]
    ranges = next(iter(by_length.values()))
    headers = ["Input length", *(f"{100 * low:.0f}-{100 * high:.0f}%" for low, high in (r["depth"] for r in ranges))]
    rows = [
        [length_cell(length), *(f"{format_percent(r['accuracy'])} ({r['num_samples']})" for r in depth_rows)]
        for length, depth_rows in by_length.items()
    ]
    return {"task": entry["task"], "headers": headers, "rows": rows}


def _count(samples: int | None) -> str:
    return f"{samples:,}" if samples else ""


def _describe(entry: dict[str, Any]) -> str | None:
    """A sentence from an evaluation's details: samples, split, chance level."""
    parts = []
    if entry.get("num_samples"):
        split = f" of the `{entry['split']}` split" if entry.get("split") else ""
        parts.append(f"{entry['task']}: {entry['num_samples']:,} samples{split} per input length")
    if isinstance(entry.get("chance"), (int, float)):
        parts.append(f"chance level {format_percent(entry['chance'])}")
    return ("; ".join(parts) + ".") if parts else None


def _copy_plot(plot: str | os.PathLike, save_directory: str) -> str:
    plot = str(plot)
    name = os.path.basename(plot)
    target = os.path.join(save_directory, name)
    if os.path.isfile(plot):
        os.makedirs(save_directory, exist_ok=True)
        if not os.path.exists(target) or not os.path.samefile(plot, target):
            shutil.copyfile(plot, target)
        return name
    if not os.path.isabs(plot) and os.path.isfile(os.path.join(save_directory, plot)):
        return plot
    raise ValueError(f"`eval_results['plot']` must name an existing image file, got {plot!r} (not found).")


def _draw_plot(
    evaluations: list[dict[str, Any]], save_directory: str, max_positions: Any, trained_length: int | None = None
) -> str | None:
    """Draws accuracy against input length into `accuracy_vs_length.png`; None when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415  (optional: the eval extra)
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        logger.info("matplotlib is not installed: the model card shows the accuracy table without a plot.")
        return None
    figure = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for entry in evaluations:
        by_length = entry["accuracy_by_length"]
        axes.plot(list(by_length), list(by_length.values()), marker="o", label=entry["task"])
    if isinstance(max_positions, int):
        axes.axvline(max_positions, color="gray", linestyle="--", linewidth=1, label="backbone positions")
    if trained_length:
        axes.axvline(trained_length, color="C1", linestyle=":", linewidth=1.2, label="longest trained length")
    chances = {e["chance"] for e in evaluations if isinstance(e.get("chance"), (int, float))}
    if len(chances) == 1:
        axes.axhline(chances.pop(), color="gray", linestyle=":", linewidth=1, label="chance")
    axes.set_xscale("log", base=2)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("input length (tokens)")
    metrics = {(e.get("metric") or "accuracy").replace("_", " ") for e in evaluations}
    axes.set_ylabel(metrics.pop() if len(metrics) == 1 else "score")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    figure.tight_layout()
    os.makedirs(save_directory, exist_ok=True)
    figure.savefig(os.path.join(save_directory, GENERATED_PLOT_NAME))
    return GENERATED_PLOT_NAME


def model_index_results(evaluations: list[dict[str, Any]], task_type: str) -> list[EvalResult]:
    """One `model-index` result per task, one accuracy metric per input length (named after the length)."""
    results = []
    for entry in evaluations:
        for length, accuracy in entry["accuracy_by_length"].items():
            results.append(
                EvalResult(
                    task_type=task_type,
                    dataset_type=entry.get("dataset") or f"hf_rmt/{entry['task']}",
                    dataset_name=entry["task"],
                    dataset_split=entry.get("split"),
                    metric_type=entry.get("metric") or "accuracy",
                    metric_value=accuracy,
                    metric_name=f"{(entry.get('metric') or 'accuracy').replace('_', ' ').capitalize()} at {length} tokens",
                    metric_args={"input_length": length},
                )
            )
    return results


__all__ = ["evaluation_section", "model_index_results"]
