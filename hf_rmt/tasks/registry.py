"""The task registry: each task's story generator, label list and default fact placement.

These are the tasks whose facts hide in noise text, for any tokenizer. Associative retrieval, token-level over its
own vocabulary, is `hf_rmt.tasks.associative.AssociativeRetrievalDataset`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import babi


@dataclass(frozen=True)
class TaskSpec:
    """What defines a task, independent of tokenizer and length.

    Args:
        name (`str`): The registry name.
        labels (`tuple[str, ...]`): Every possible answer; a sample's class id is the answer's index here.
        make_story (`Callable[[np.random.Generator], babi.Story]`): Draws one story.
        placement (`str`): Where facts go when `placement="auto"` and no `segment_size` is given: `"start"` or
            `"random_gaps"`. A task with `"start"` (memorize) keeps its fact at the start whatever the segment size.
        description (`str`): One line for humans.
    """

    name: str
    labels: tuple[str, ...]
    make_story: Callable[[np.random.Generator], babi.Story]
    placement: str
    description: str

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def label_to_id(self, answer: str) -> int:
        """The class id of an answer."""
        return self.labels.index(answer)


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "memorize",
            babi.LOCATIONS,
            babi.memorize_story,
            "start",
            "RMT 1M paper: one fact at the very start, 'Where is <name>?' at the end",
        ),
        TaskSpec(
            "detect_memorize",
            babi.LOCATIONS,
            babi.memorize_story,
            "random_gaps",
            "RMT 1M paper: one fact at a random place in the noise",
        ),
        TaskSpec(
            "reasoning",
            babi.LOCATIONS,
            babi.two_arg_relations_story,
            "random_gaps",
            "RMT 1M paper: two bAbI qa4 relation facts at random places",
        ),
        TaskSpec(
            "qa1",
            babi.LOCATIONS,
            babi.qa1_story,
            "random_gaps",
            "BABILong qa1 single-supporting-fact: 'Where is <actor>?'",
        ),
        TaskSpec(
            "qa2",
            babi.LOCATIONS,
            babi.qa2_story,
            "random_gaps",
            "BABILong qa2 two-supporting-facts: 'Where is the <object>?'",
        ),
        TaskSpec(
            "qa3",
            babi.LOCATIONS,
            babi.qa3_story,
            "random_gaps",
            "BABILong qa3 three-supporting-facts: 'Where was the <object> before the <place>?'",
        ),
        TaskSpec(
            "qa4",
            babi.LOCATIONS,
            babi.two_arg_relations_story,
            "random_gaps",
            "BABILong qa4 two-arg-relations (the same stories as 'reasoning')",
        ),
        TaskSpec(
            "qa5",
            babi.QA5_ACTORS + babi.OBJECTS,
            babi.qa5_story,
            "random_gaps",
            "BABILong qa5 three-arg-relations: who gave what to whom",
        ),
    )
}


def get_task(name: str) -> TaskSpec:
    """Look up a task by name.

    Args:
        name (`str`): One of `"memorize"`, `"detect_memorize"`, `"reasoning"`, `"qa1"`, `"qa2"`, `"qa3"`, `"qa4"`,
            `"qa5"`.

    Raises:
        `ValueError`: Unknown name; the message lists the known ones.
    """
    if name not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {name!r}")
    return TASKS[name]
