# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The results of `evaluate_by_length`: accuracy per input length (`LengthResult`) and per run (`LengthEvalResult`),
with their table, JSON form and plot.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .utils.depth_ranges import spread_over_depths


@dataclass
class LengthResult:
    """The score at one input length.

    Args:
        length (`int`): Tokens per sample (context and question, without special tokens).
        accuracy (`float`): Fraction of samples answered correctly (accuracy of class ids, or exact match of
            generated answers).
        num_samples (`int`): Samples scored.
        num_segments (`int`, *optional*): Segments the model reads per sample (`ceil(length / segment_size)`).
        seconds (`float`, *optional*): Wall time of the model on this length (sample generation excluded).
        by_depth (`list[dict]`, *optional*): Accuracy by fact depth (`hf_rmt.eval_depth`): for each range of depths
            (`"depth": [low, high]`, fractions of the context before the question, 0 at the input's start), its
            `"num_samples"` and `"accuracy"` (None where no sample fell).
    """

    length: int
    accuracy: float
    num_samples: int
    num_segments: int | None = None
    seconds: float | None = None
    by_depth: list[dict[str, Any]] | None = None

    @property
    def tokens_per_second(self) -> float | None:
        if not self.seconds:
            return None
        return self.length * self.num_samples / self.seconds


@dataclass
class LengthEvalResult:
    """Accuracy per input length, as [`evaluate_by_length`] returns it.

    Args:
        task (`str`): The `hf_rmt.tasks` task.
        results (`list[LengthResult]`): One entry per length, ascending.
        metric (`str`, defaults to `"accuracy"`): `"accuracy"` (class ids) or `"exact_match"` (generated answers).
        chance (`float`, *optional*): Accuracy of a uniform guess over the task's labels.
        split (`str`, *optional*), seed (`int`, *optional*): Where the samples came from.
        model (`str`, *optional*): Name or path of the model.
        segment_size (`int`, *optional*), num_memory_tokens (`int`, *optional*): The model's RMT settings.
        trained_length (`int`, *optional*): Longest input the model was trained on; the table marks longer lengths and
            the plot draws a line there.
        extra (`dict`, *optional*): Anything else to keep in the JSON (e.g. training settings and time).
    """

    task: str
    results: list[LengthResult]
    metric: str = "accuracy"
    chance: float | None = None
    split: str | None = None
    seed: int | None = None
    model: str | None = None
    segment_size: int | None = None
    num_memory_tokens: int | None = None
    trained_length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- access

    @property
    def lengths(self) -> list[int]:
        return [r.length for r in self.results]

    @property
    def accuracies(self) -> list[float]:
        return [r.accuracy for r in self.results]

    def accuracy_at(self, length: int) -> float:
        """The accuracy at `length` (one of the evaluated lengths)."""
        for result in self.results:
            if result.length == length:
                return result.accuracy
        raise KeyError(f"length {length} was not evaluated; evaluated lengths: {self.lengths}")

    # ---------------------------------------------------------------- merging

    def differs_from(self, task: str, split: str | None, seed: int | None) -> str | None:
        """How an evaluation of `task` on `split` with `seed` differs from this one (`None`: the same evaluation,
        whose results at other lengths can join these)."""
        for name, mine, theirs in (("task", self.task, task), ("split", self.split, split), ("seed", self.seed, seed)):
            if mine != theirs:
                return f"{name} {mine!r}, this evaluation's {name} is {theirs!r}"
        return None

    def merged_with(self, earlier: LengthEvalResult) -> LengthEvalResult:
        """These results and `earlier`'s at the lengths not measured again: an evaluation of more lengths (1M tokens
        and beyond often run separately, on fewer samples) adds to a folder's results instead of replacing them."""
        difference = earlier.differs_from(self.task, self.split, self.seed)
        if difference is not None:
            raise ValueError(f"Cannot merge evaluations that differ: the earlier one has {difference}.")
        measured = set(self.lengths)
        kept = [r for r in earlier.results if r.length not in measured]
        return replace(self, results=sorted(self.results + kept, key=lambda r: r.length))

    # ---------------------------------------------------------------- table

    def to_markdown(self) -> str:
        """A Markdown table: one row per length, with segments, accuracy, samples, time and throughput."""
        has_segments = any(r.num_segments is not None for r in self.results)
        has_time = any(r.seconds is not None for r in self.results)
        header = ["length (tokens)"]
        if has_segments:
            header.append("segments")
        header += [self.metric, "samples"]
        if has_time:
            header += ["time (s)", "tokens/s"]
        rows = []
        for r in self.results:
            length = f"{r.length:,}"
            if self.trained_length is not None and r.length > self.trained_length:
                length += f" ({r.length / self.trained_length:.3g}x trained)"
            row = [length]
            if has_segments:
                row.append("" if r.num_segments is None else f"{r.num_segments:,}")
            row += [f"{100 * r.accuracy:.1f}%", f"{r.num_samples:,}"]
            if has_time:
                tps = r.tokens_per_second
                row += ["" if r.seconds is None else f"{r.seconds:.1f}", "" if tps is None else f"{tps:,.0f}"]
            rows.append(row)
        return _aligned_table(header, rows)

    def depth_markdown(self) -> str | None:
        """A Markdown table of accuracy by fact depth: one row per length, one column per depth range, each cell
        the accuracy and (in parentheses) its samples; None when no length has depths, or all samples share one range
        (Memorize's fact is always first)."""
        rows = [r for r in self.results if r.by_depth]
        if not rows or not spread_over_depths([r.by_depth for r in rows]):
            return None
        ranges = [f"{100 * bin_['depth'][0]:.0f}-{100 * bin_['depth'][1]:.0f}%" for bin_ in rows[0].by_depth]
        cells = [
            [f"{r.length:,}"]
            + ["" if b["accuracy"] is None else f"{100 * b['accuracy']:.1f}% ({b['num_samples']})" for b in r.by_depth]
            for r in rows
        ]
        return _aligned_table(["length (tokens)", *ranges], cells)

    def summary(self) -> str:
        """A title line, the table, accuracy by fact depth and the chance level, as the CLI prints them."""
        parts = [f"task {self.task!r}"]
        if self.model:
            parts.append(f"model {self.model}")
        if self.segment_size:
            parts.append(f"segment_size {self.segment_size}")
        if self.trained_length:
            parts.append(f"trained on up to {self.trained_length:,} tokens")
        text = ", ".join(parts) + "\n\n" + self.to_markdown()
        depth = self.depth_markdown()
        if depth is not None:
            text += "\n\nAccuracy by depth of the (earliest supporting) fact, 0% = the input's start:\n\n" + depth
        if self.chance is not None:
            text += f"\n\nchance: {100 * self.chance:.1f}%"
        return text

    def __str__(self) -> str:
        return self.summary()

    # ---------------------------------------------------------------- JSON

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for entry, result in zip(data["results"], self.results):
            entry["tokens_per_second"] = result.tokens_per_second
            if entry["by_depth"] is None:  # a task without facts to place, or results from before depths
                del entry["by_depth"]
        return data

    def save_json(self, path: str | os.PathLike) -> str:
        """Writes the result as JSON (folders are created); returns the path."""
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as handle:
            json.dump(self.to_dict(), handle, indent=2)
            handle.write("\n")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LengthEvalResult:
        data = dict(data)
        fields = {"length", "accuracy", "num_samples", "num_segments", "seconds", "by_depth"}
        data["results"] = [LengthResult(**{k: v for k, v in r.items() if k in fields}) for r in data["results"]]
        return cls(**data)

    @classmethod
    def load_json(cls, path: str | os.PathLike) -> LengthEvalResult:
        with open(path) as handle:
            return cls.from_dict(json.load(handle))

    # ---------------------------------------------------------------- plot

    def plot(self, path: str | os.PathLike, title: str | None = None) -> str:
        """Plots accuracy against length (log-scale x axis) with the chance level and the trained length, as a PNG
        (or any format matplotlib infers from the extension). Needs `matplotlib`; uses its Agg canvas, not pyplot, so
        it works headless and leaves the user's backend alone. Returns the path."""
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from matplotlib.ticker import FuncFormatter, NullFormatter
        except ImportError as error:
            raise ImportError(
                "Plotting needs matplotlib: `pip install matplotlib` (or `pip install hf_rmt[eval]`)."
            ) from error
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        figure = Figure(figsize=(6.4, 4.0), dpi=120, layout="tight")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        lengths = self.lengths
        values = [100 * a for a in self.accuracies]
        axes.plot(lengths, values, marker="o", color="C0", label=self.metric.replace("_", " "))
        for x, y in zip(lengths, values):
            axes.annotate(f"{y:.0f}%", (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
        if self.chance is not None:
            axes.axhline(100 * self.chance, color="grey", linestyle="--", linewidth=1, label="chance")
        if self.trained_length is not None:
            axes.axvline(self.trained_length, color="C1", linestyle=":", linewidth=1.2, label="longest trained length")
        axes.set_xscale("log")
        axes.set_xticks(lengths)
        axes.xaxis.set_major_formatter(FuncFormatter(_format_tokens))
        axes.xaxis.set_minor_formatter(NullFormatter())
        low, high = min([*lengths, self.trained_length or lengths[0]]), max(lengths)
        axes.set_xlim(low / 1.5, high * 1.5)
        axes.set_ylim(0, 110)
        axes.set_xlabel("input length (tokens, log scale)")
        axes.set_ylabel(f"{self.metric.replace('_', ' ')} (%)")
        axes.set_title(title or f"{self.task}: {self.metric.replace('_', ' ')} vs. input length")
        axes.grid(True, which="major", alpha=0.3)
        axes.legend(loc="best", fontsize=8)
        figure.savefig(path)
        return path


def _aligned_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with right-aligned columns padded to a common width (readable as plain text too)."""
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
        "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def _format_tokens(value: float, _position: Any = None) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.3g}M"
    if value >= 1e4:
        return f"{value / 1e3:.3g}k"
    return f"{value:,.0f}"


__all__ = ["LengthEvalResult", "LengthResult"]
