# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Argument groups for `HfArgumentParser`: the RMTConfig fields and the segment curriculum.

`RMTConfig` is a transformers config (its inherited fields and postponed annotations are not command-line material),
so `RMTArguments` is generated from `RMTConfig`'s own fields, with the help text of its docstring: a new RMTConfig field
becomes an argument without touching the scripts.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from typing import Any

from ..config import RMTConfig
from .curriculum import BABILONG_SCHEDULE, SAMPLING_MODES, SegmentCurriculum


# Filled in from the backbone or a checkpoint, never on the command line.
_NOT_ARGUMENTS = ("base_config", "base_model_name_or_path", "base_model_revision")
_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list[str]": list[str]}


def _docstring_help(cls: type) -> dict[str, str]:
    """`{argument: help}` from an HF-style `Args:` docstring."""
    helps: dict[str, str] = {}
    name, lines = None, []
    for line in (cls.__doc__ or "").splitlines():
        match = re.match(r"^\s{8}(\w+) \(`", line)
        if match:
            if name:
                helps[name] = " ".join(lines)
            name, lines = match.group(1), []
        elif name and line.startswith(" " * 12):
            lines.append(line.strip())
        elif name and line.strip() and not line.startswith(" " * 12):
            helps[name], name = " ".join(lines), None
    if name:
        helps[name] = " ".join(lines)
    return helps


def _field_type(annotation: str) -> Any:
    parts = [p.strip() for p in annotation.split("|")]
    optional = "None" in parts
    base = [p for p in parts if p != "None"]
    if len(base) != 1 or base[0] not in _TYPES:
        raise TypeError(f"Cannot turn the RMTConfig annotation {annotation!r} into a command-line type.")
    kind = _TYPES[base[0]]
    return typing.Optional[kind] if optional else kind  # noqa: UP045  (HfArgumentParser reads typing.Optional)


def _make_rmt_arguments() -> type:
    helps = _docstring_help(RMTConfig)
    fields = []
    for name, annotation in RMTConfig.__annotations__.items():
        if name in _NOT_ARGUMENTS or "ClassVar" in str(annotation) or name.startswith("_"):
            continue
        default = getattr(RMTConfig, name)
        spec = field(default=None if isinstance(default, list) else default, metadata={"help": helps.get(name, "")})
        fields.append((name, _field_type(str(annotation)), spec))

    def to_config(self, **overrides: Any) -> RMTConfig:
        """The `RMTConfig` with these values (and `overrides`)."""
        return RMTConfig(**{**dataclasses.asdict(self), **overrides})

    return dataclasses.make_dataclass(
        "RMTArguments",
        fields,
        namespace={
            "to_config": to_config,
            "__doc__": "The fields of `RMTConfig` as command-line arguments (`HfArgumentParser`); `to_config()` builds "
            "the config.",
            "__module__": __name__,
        },
    )


RMTArguments = _make_rmt_arguments()


def _parse_ints(value: str | list[int] | None) -> list[int] | None:
    if value is None or isinstance(value, list):
        return value
    return [int(v) for v in re.split(r"[,\s]+", value.strip()) if v]


@dataclass
class CurriculumArguments:
    """The segment curriculum as command-line arguments; `to_curriculum()` builds the [`SegmentCurriculum`]."""

    curriculum: str = field(
        default="none",
        metadata={
            "help": "'none' (every batch at max_segments), 'one_per_stage' (1M-token paper: 1, 2, ..., max_segments "
            "segments, every batch at the stage's length), 'babilong' (1, 2, 4, 6, 8, 16, 32 up to max_segments, each "
            "batch drawing 1..max) or a comma-separated schedule such as '1,2,4'."
        },
    )
    max_segments: int = field(default=2, metadata={"help": "Largest number of segments (last stage)."})
    stage_steps: str | None = field(
        default=None, metadata={"help": "Optimizer steps per stage: one number, or one per stage ('100,200,400')."}
    )
    sampling: str | None = field(
        default=None,
        metadata={"help": f"One of {SAMPLING_MODES}; default: the preset's ('uniform' for babilong, else 'max')."},
    )
    stage_metric: str | None = field(
        default=None, metadata={"help": "Evaluation metric that ends a stage when it converges, e.g. 'accuracy'."}
    )
    stage_patience: int = field(default=3, metadata={"help": "Evaluations without improvement ending a stage."})
    stage_target: float | None = field(default=None, metadata={"help": "Metric value that ends a stage at once."})
    curriculum_seed: int = field(default=0, metadata={"help": "Seed of the per-batch draws (sampling='uniform')."})

    def schedule(self) -> list[int]:
        if self.curriculum == "none":
            return [self.max_segments]
        if self.curriculum == "one_per_stage":
            return list(range(1, self.max_segments + 1))
        if self.curriculum == "babilong":
            stages = [n for n in BABILONG_SCHEDULE if n < self.max_segments]
            return [*stages, self.max_segments]
        schedule = _parse_ints(self.curriculum)
        if not schedule:
            raise ValueError(
                f"`curriculum` must be 'none', 'one_per_stage', 'babilong' or a schedule like '1,2,4', got "
                f"{self.curriculum!r}."
            )
        return schedule

    def to_curriculum(self, max_n_segments: int | None = None) -> SegmentCurriculum:
        schedule = self.schedule()
        steps = _parse_ints(self.stage_steps)
        sampling = self.sampling or ("uniform" if self.curriculum == "babilong" else "max")
        return SegmentCurriculum(
            schedule,
            stage_steps=None if steps is None else (steps[0] if len(steps) == 1 else steps),
            sampling=sampling,
            metric=self.stage_metric,
            patience=self.stage_patience,
            target=self.stage_target,
            max_n_segments=max_n_segments,
            seed=self.curriculum_seed,
        )


__all__ = ["CurriculumArguments", "RMTArguments"]
