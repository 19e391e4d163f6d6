# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The argument types and checks of the `hf-rmt` command (argparse types, devices, tasks, model folders, lengths):
each fails before any model is loaded, with a message that names the option.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


# `hf-rmt train --placement` choices: "auto" and `hf_rmt.tasks.PLACEMENTS` (written out so that building the parser
# does not import the tasks; a test checks they agree).
TRAIN_PLACEMENTS = ("auto", "start", "random_gaps", "segment_starts", "before_last_segment")


def _int_list(text: str) -> list[int]:
    """`"1,2,4"` -> `[1, 2, 4]` (argparse type)."""
    try:
        values = [int(v) for v in text.replace(" ", ",").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as '1,2,4', got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as '1,2,4', got {text!r}")
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _lengths(text: str) -> list[int]:
    """Lengths such as `1000,4k,1M` or `1e6` (argparse type)."""
    values = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        scale = {"k": 1_000, "m": 1_000_000}.get(part[-1].lower(), 1)
        number = part[:-1] if scale > 1 else part
        try:
            value = float(number) * scale
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected lengths such as '1000,4k,1M', got {text!r}") from None
        if value <= 0 or value != int(value):
            raise argparse.ArgumentTypeError(f"lengths must be positive whole token counts, got {part!r}")
        values.append(int(value))
    if not values:
        raise argparse.ArgumentTypeError(f"expected lengths such as '1000,4k,1M', got {text!r}")
    return values


def _check_task(name: str, source: str = "--task") -> str:
    from .tasks import TASKS

    if name not in TASKS:
        raise ValueError(f"{source} {name}: unknown task; choose one of {', '.join(TASKS)}")
    return name


def _looks_local(value: str) -> bool:
    """Whether `--model VALUE` is meant as a local path rather than a Hub id ('repo_name' or 'namespace/repo_name')."""
    separators = value.count(os.sep) + (value.count(os.altsep) if os.altsep else 0)
    return value.startswith(("/", ".", "~")) or separators > 1 or os.path.exists(value)


def _model_folder(value: str) -> str:
    """`--model` as a local folder (`~` expanded), or unchanged when it is a Hub id."""
    if not _looks_local(value):
        return value
    path = os.path.expanduser(value)
    if os.path.isdir(path):
        return path
    if os.path.exists(path):
        folder = os.path.dirname(value) or "."
        raise ValueError(f"--model {value}: not a folder but a file; give the checkpoint's folder: --model {folder}")
    raise ValueError(f"--model {value}: no such folder")


def _checkpoints_inside(path: str, depth: int = 2, limit: int = 3) -> list[str]:
    """Folders up to `depth` levels inside `path` that hold a config.json (at most `limit`), as paths below it."""
    found: list[str] = []
    for root, dirs, files in os.walk(path):
        level = 0 if root == path else os.path.relpath(root, path).count(os.sep) + 1
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if level < depth else []
        if level and "config.json" in files:
            found.append(os.path.relpath(root, path))
            dirs[:] = []
            if len(found) == limit:
                break
    return found


def _folder_config(value: str, path: str, kind: str) -> dict[str, Any] | None:
    """The checkpoint folder's config.json (None for a peft adapter folder, which transformers loads with its base).
    `kind` says what the folder should be, for the message when it has no config.json."""
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        if os.path.isfile(os.path.join(path, "adapter_config.json")):
            return None
        inside = [os.path.join(value, sub) for sub in _checkpoints_inside(path)]
        if len(inside) == 1:
            hint = f"; {inside[0]} has one: use --model {inside[0]}"
        elif inside:
            hint = f"; these folders inside it have one: {', '.join(inside)}"
        else:
            hint = ""
        raise ValueError(f"--model {value}: the folder has no config.json, so it is not {kind}{hint}")
    try:
        with open(config_path, encoding="utf-8") as handle:
            config = json.load(handle)
    except ValueError as error:  # not JSON, not UTF-8
        raise ValueError(f"--model {value}: its config.json is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"--model {value}: its config.json is not a JSON object")
    return config


def _check_rmt_config(value: str, config: dict[str, Any]) -> None:
    """`hf-rmt eval` reads hf_rmt checkpoints only (model_type 'rmt'), not the plain backbone they wrap."""
    model_type = config.get("model_type")
    if model_type == "rmt":
        return
    architectures = config.get("architectures") or [None]
    name = architectures[0] if isinstance(architectures[0], str) and architectures[0] else None
    what = "is not an hf_rmt checkpoint"
    if name:
        what = f"is {'an' if name[0] in 'AEIOU' else 'a'} {name} checkpoint, not an hf_rmt one"
    raise ValueError(
        f"--model {value} {what} (its config has model_type {model_type!r}); wrap it with hf_rmt.get_rmt_model or "
        "train it with hf-rmt train"
    )


def _check_flag_pairs(args: argparse.Namespace) -> None:
    """`hf-rmt train` flags that only mean something with another one."""
    if args.memory_denominator_floor is not None and args.memory_type != "associative":
        raise ValueError(
            f"--memory-denominator-floor bounds the associative memory's read: it needs --memory-type associative, "
            f"got --memory-type {args.memory_type}"
        )
    if args.memory_denominator_floor is not None and not 0 <= args.memory_denominator_floor < 1:
        raise ValueError(
            f"--memory-denominator-floor {args.memory_denominator_floor}: must be a number in [0, 1) (e.g. 1e-3)"
        )
    if args.memory_dim is not None and args.memory_type != "associative":
        raise ValueError(
            f"--memory-dim sizes the associative memory: it needs --memory-type associative, got --memory-type "
            f"{args.memory_type}"
        )
    if args.resume is not None and args.init_from is not None:
        raise ValueError(
            f"--resume {args.resume} with --init-from {args.init_from}: --resume continues a run from its checkpoint "
            "(weights, optimizer, step), --init-from starts a new run from saved weights; give one of them"
        )
    if args.segment_checkpointing_keep_last != 1 and not args.segment_checkpointing:
        raise ValueError(
            "--segment-checkpointing-keep-last sets how many segments segment checkpointing keeps: it needs "
            f"--segment-checkpointing, got --segment-checkpointing-keep-last {args.segment_checkpointing_keep_last} "
            "without it"
        )


def _checkpoint_to_resume(resume: str | None, output_dir: str) -> str | None:
    """The checkpoint folder `--resume` names: the latest `checkpoint-STEP` of `output_dir` for `"last"`, else the path
    given; `None` without `--resume`. Refused in the flags' terms before anything trains."""
    if resume is None:
        return None
    if resume == "last":
        from transformers.trainer_utils import get_last_checkpoint

        found = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
        if found is None:
            raise ValueError(
                f"--resume: --output-dir {output_dir} holds no checkpoint-STEP folder to continue from; a run saves "
                "them with --save-steps N (and when a signal stops it), or give --resume CHECKPOINT"
            )
        return found
    if not os.path.isfile(os.path.join(resume, "trainer_state.json")):
        raise ValueError(
            f"--resume {resume}: not a checkpoint of `hf-rmt train --save-steps` (no trainer_state.json in it)"
        )
    return resume


def _check_compile_backend(backend: str | None) -> None:
    """`--torch-compile-backend` must be one that `torch.compile` knows."""
    if backend is None:
        return
    import torch._dynamo

    if backend not in torch._dynamo.list_backends(exclude_tags=()):
        raise ValueError(
            f"--torch-compile-backend {backend}: not a torch.compile backend; choose one of "
            f"{', '.join(torch._dynamo.list_backends())} (default: inductor), or a debug backend such as aot_eager"
        )


def _check_placement(placement: str, task: str) -> None:
    """`--placement` must suit the task (before any model is loaded): a task whose fact stays at the start (memorize)
    takes only 'auto' or 'start'."""
    from .tasks import get_task
    from .tasks.dataset import resolve_placement

    try:
        resolve_placement(get_task(task), placement, segment_size=1)  # the recipe always has a segment size
    except ValueError as error:
        raise ValueError(f"--placement {placement} with --task {task}: {error}") from None


def _check_curriculum(curriculum: list[int]) -> None:
    """`--curriculum`: segments per stage, each stage longer than the last (checked here, in the flag's words, before
    any model is loaded; `SegmentCurriculum` checks the same rule under its own argument name)."""
    shown = ",".join(map(str, curriculum))
    if any(n < 1 for n in curriculum):
        raise ValueError(f"--curriculum {shown}: every stage needs at least 1 segment")
    if any(b <= a for a, b in zip(curriculum, curriculum[1:])):
        raise ValueError(
            f"--curriculum {shown}: the segments per stage must be strictly increasing (each stage trains on longer "
            "inputs than the last), e.g. 1,2,4"
        )


def _check_lengths(lengths: list[int], task: str, tokenizer: Any, split: str, seed: int) -> None:
    """Every `--lengths` value must hold the task's facts and question (counted in the model's tokens)."""
    from .tasks import min_target_length

    minimum = min_target_length(task, tokenizer, split, seed)
    short = [n for n in lengths if n < minimum]
    if short:
        too_short = "" if len(short) == len(lengths) else f"; too short: {', '.join(map(str, short))}"
        raise ValueError(
            f"--lengths {','.join(map(str, lengths))}: each length must be at least {minimum} tokens for task {task} "
            f"(the facts and the question must fit){too_short}"
        )


def _eval_output(model: str, path: str, output: str | None) -> str:
    """Where `hf-rmt eval` writes: `--output`, else the model's folder; for a Hub id, `NAMESPACE--NAME-eval` in the
    working directory. Never a folder named as the Hub id itself: `user/model` would then exist locally and be taken
    for the checkpoint at the next run, hiding the Hub's."""
    if output is not None:
        return output
    if os.path.isdir(path):
        return path
    return model.replace("/", "--") + "-eval"


def _earlier_results(output_dir: str, task: str, split: str, seed: int) -> Any:
    """The results already in `output_dir` that this evaluation adds to (same task, split and seed), or None; other
    results there are refused before anything runs, so that no earlier evaluation is written over."""
    from .eval_results import LengthEvalResult
    from .recipe import EVAL_JSON

    path = os.path.join(output_dir, EVAL_JSON)
    if not os.path.isfile(path):
        return None
    try:
        earlier = LengthEvalResult.load_json(path)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"--output {output_dir}: {path} is not an evaluation hf-rmt can read ({error})") from None
    difference = earlier.differs_from(task, split, seed)
    if difference is not None:
        raise ValueError(
            f"--output {output_dir} already holds the results of another evaluation ({path}: {difference}); "
            "results are added to those of the same task, split and seed only: pass another --output"
        )
    return earlier


__all__ = []
