# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The one registry of hf_rmt's tasks: task -> model class name, Auto class, Hub pipeline tag.

Everything that needs one of these reads it here: the model classes (the Auto class of their backbone), the
package's Auto registration (`hf_rmt/__init__.py`), the checkpoint loader's error messages and the model card. Class
*names*, not classes, so that the modules below the model classes can use it too.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)


class TaskEntry(NamedTuple):
    """
    Args:
        task (`str`): The hf_rmt task, as `backbone_task` names a backbone's.
        class_name (`str`): The hf_rmt model class.
        auto_class (`type`): The Auto class that loads both the backbone and the hf_rmt checkpoint.
        pipeline_tag (`str`): The Hub pipeline tag of the model card.
    """

    task: str
    class_name: str
    auto_class: Any
    pipeline_tag: str


MODEL_TASKS: dict[str, TaskEntry] = {
    entry.task: entry
    for entry in (
        TaskEntry("base", "RMTModel", AutoModel, "feature-extraction"),
        TaskEntry(
            "sequence-classification",
            "RMTForSequenceClassification",
            AutoModelForSequenceClassification,
            "text-classification",
        ),
        TaskEntry(
            "token-classification",
            "RMTForTokenClassification",
            AutoModelForTokenClassification,
            "token-classification",
        ),
        TaskEntry("masked-lm", "RMTForMaskedLM", AutoModelForMaskedLM, "fill-mask"),
        TaskEntry("causal-lm", "RMTForCausalLM", AutoModelForCausalLM, "text-generation"),
        TaskEntry("seq2seq-lm", "RMTForSeq2SeqLM", AutoModelForSeq2SeqLM, "text2text-generation"),
    )
}
_BY_CLASS_NAME = {entry.class_name: entry for entry in MODEL_TASKS.values()}


def task_entry_of_class(class_name: str) -> TaskEntry | None:
    """The registry entry of the hf_rmt class `class_name`, or None for any other name."""
    return _BY_CLASS_NAME.get(class_name)


__all__ = ["MODEL_TASKS", "TaskEntry", "task_entry_of_class"]
