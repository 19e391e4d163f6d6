"""Plot exact match against length from `bench/train_algorithmic.py` records: one panel per task, one line per run.

    python bench/plot_algorithmic.py bench/results/session7_gpu/algorithmic.png \
        "copy, Llama, RMT=bench/results/session5_gpu/call3_algo/copy_llama.json" \
        "associative, Llama, ARMT=bench/results/session7_gpu/call1/algo/assoc_armt_s0.json"

Each run is `LABEL=PATH`; its panel is the record's task (the rewrite variant gets its own, against pairs on a log
axis: the ARMT paper's rewrite result). Copy and reverse are plotted against segments, associative retrieval against
pairs (segments - 1). Lengths a run was trained on are drawn filled, longer ones hollow. The shaded band is the
issue's bar (99% exact match at 9 segments).
"""

from __future__ import annotations

import argparse
import json
import os


PANELS = ("copy", "reverse", "associative", "rewrite")


def panel_of(record: dict) -> str:
    settings = record["settings"]
    if settings["task"] == "associative" and settings.get("variant") == "rewrite":
        return "rewrite"
    return settings["task"]


def parse_run(text: str) -> tuple[str, str]:
    label, sep, path = text.rpartition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"a run is LABEL=PATH, got {text!r}")
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"{path!r} (run {label!r}) is not a file")
    return label, path


def plot(output: str, runs: list[tuple[str, str]]) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    records = []
    for label, path in runs:
        with open(path) as handle:
            records.append((label, json.load(handle)))
    used = [name for name in PANELS if any(panel_of(record) == name for _, record in records)]
    figure = Figure(figsize=(4.2 * len(used), 3.6))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(used), squeeze=False)[0]
    for ax, name in zip(axes, used):
        for label, record in records:
            if panel_of(record) != name:
                continue
            trained = record["training"]["reached_segments"]
            points = sorted(record["evaluation"], key=lambda entry: entry["segments"])
            pairs = record["settings"]["task"] == "associative"
            xs = [entry["segments"] - 1 if pairs else entry["segments"] for entry in points]
            ys = [100 * entry["exact_match"] for entry in points]
            (line,) = ax.plot(xs, ys, "-", label=label)
            for x, y, entry in zip(xs, ys, points):
                filled = entry["segments"] <= trained
                ax.plot(x, y, "o", color=line.get_color(), markerfacecolor=line.get_color() if filled else "white")
        if name == "rewrite":
            ax.set_xscale("log")
            ax.set_xlabel("pairs (keys repeat: rewrites)")
        elif name == "associative":
            ax.set_xlabel("pairs (one a segment; 8 pairs = 9 segments)")
            ax.axvspan(7.8, 8.2, color="0.9", zorder=0)
        else:
            ax.set_xlabel("segments")
            ax.axvspan(8.8, 9.2, color="0.9", zorder=0)
        ax.axhline(99, color="0.6", linewidth=0.8, linestyle="--")
        ax.set_ylim(-3, 103)
        ax.set_title(name if name != "rewrite" else "associative, rewrite")
        ax.set_ylabel("exact match (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    return output


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="the image to write (.png, .svg, ...)")
    parser.add_argument("runs", nargs="+", type=parse_run, help="LABEL=PATH of a train_algorithmic.py JSON record")
    args = parser.parse_args(argv)
    print(f"wrote {plot(args.output, args.runs)}")


if __name__ == "__main__":
    main()
