# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The segment recurrence of a Recurrent Memory Transformer (arXiv:2207.06881, section 3).

`segment_step` is one step, RMT's memory cell: it lays the memory and a segment out in one backbone input (the
layout), runs the backbone once, and asks the memory type for the next state. `run_segments` is the loop: it carries
the memory state explicitly from step to step, applies truncated backpropagation through time, and runs each step
plainly, recomputed in backward (`recompute.py`) or replayed from a CUDA graph (`fast_path.py`). What a task keeps
of a step is a `StepHead`'s business (`hf_rmt/modeling/heads.py`): the loop only hands it the step's outputs.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from transformers import PreTrainedModel

from .backbone import BackboneCaller, checkpointed_modules, checkpointing_for_recomputation, memory_in_layers
from .fast_path import SegmentGraphs
from .layouts import MemoryLayout
from .memory import (
    MemoryState,
    MemoryUpdate,
    detach_rows,
    map_state,
    merge_rows,
    select_rows,
    state_from_tensors,
    state_tensors,
)
from .memory_rows import can_prune, last_layer_at_rows, read_rows
from .recompute import recompute_segment
from .segments import SegmentPlan, SegmentStep


class StepHead:
    """
    What a task does at each step: whether the backbone's head runs (and with which arguments), whether the step's
    outputs are kept, and what is kept, as a `NamedTuple` (`output_type`). The default keeps nothing: memory only.
    """

    output_type: type[tuple] = namedtuple("NothingKept", [])  # noqa: PYI024  (a NamedTuple with no field)

    def head_kwargs(self, t: int, step: SegmentStep) -> dict[str, Any] | None:
        """Keyword arguments of the backbone's head at step `t`, or None to run the body only."""
        return None

    def keeps(self, t: int, head_kwargs: dict[str, Any] | None) -> bool:
        """Whether step `t` keeps anything (`extract` runs); the other steps only carry memory forward."""
        return head_kwargs is not None

    def extract(self, t: int, step: SegmentStep, content_hidden: torch.Tensor, head_output: Any) -> tuple:
        """What to keep of step `t`, computed inside the step (so recomputation recomputes rather than stores it)."""
        return ()


@dataclass
class SegmentCell:
    """The parts of one segment step, looked up from the model at each forward (peft may replace its modules)."""

    backbone: PreTrainedModel
    layout: MemoryLayout
    update: MemoryUpdate
    caller: BackboneCaller
    # Backbones with embeddings narrower than their hidden states: the outputs at the memory positions go back into
    # the embedding space through this learned map before the update rule sees them (`RMTMemory.write_projection`).
    write_projection: torch.nn.Module | None = None

    def written(self, hidden: torch.Tensor) -> torch.Tensor:
        """The outputs at the layout's write positions, in the embedding space the next row is built in."""
        written = self.layout.read_memory(hidden)
        return written if self.write_projection is None else self.write_projection(written)


@dataclass
class LoopOptions:
    """How the loop runs its steps (fixed for one forward)."""

    bptt_depth: int = -1
    recompute: bool = False
    keep_last: int = 1  # with `recompute`: the last steps not recomputed (RMTConfig.segment_checkpointing_keep_last)
    params: list[torch.Tensor] = field(default_factory=list)  # what a recomputed step differentiates
    preserve_rng: bool = False
    graphs: SegmentGraphs | None = None
    segment_size: int | None = None


def segment_step(
    cell: SegmentCell,
    plan: SegmentPlan,
    step: SegmentStep,
    t: int,
    head_kwargs: dict[str, Any] | None,
    head: StepHead | None,
    memory: MemoryState,
    inputs: torch.Tensor,
) -> tuple:
    """One segment: `(next memory, *kept)`, a pure function of `memory`, `inputs` and the parameters, so that it can
    be recomputed in backward. `head` is None for a step that keeps nothing."""
    positions, _ = plan.original_positions(step, cell.layout.padding_side)
    rows = inputs if step.rows is None else inputs[step.rows]
    embeddings = cell.backbone.get_input_embeddings()
    if rows.dim() == 2:
        content = embeddings(rows.gather(1, positions))
    else:
        content = rows.gather(1, positions[..., None].expand(-1, -1, rows.shape[-1]))
    specials = cell.layout.special_embeddings(embeddings, content)
    embeds, mask, position_ids = cell.layout.build(cell.update.read(memory).to(content.dtype), content, step, specials)
    if head is None and head_kwargs is None:
        # A step that keeps nothing (in training too: its memory is all that goes on, and gradients reach nothing
        # else): only the memory rows of the last layer are read back.
        with last_layer_at_rows(*_prunable_last_layer(cell, embeds.shape[1])):
            return (backbone_step(cell, memory, embeds, mask, position_ids, None)[0],)
    new_memory, hidden, head_output = backbone_step(cell, memory, embeds, mask, position_ids, head_kwargs)
    if head is None:
        return (new_memory,)
    content_hidden = cell.layout.read_content(hidden, step.max_length)
    return (new_memory, *head.extract(t, step, content_hidden, head_output))


def memory_only_step(cell: SegmentCell, memory: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
    """A full segment in, the next memory out: the step the CUDA-graph fast path captures."""
    embeddings = cell.backbone.get_input_embeddings()
    content = embeddings(segment_ids)
    batch, length = segment_ids.shape
    lengths = torch.full((batch,), length, device=segment_ids.device)
    step = SegmentStep(None, lengths, lengths, length, True, lengths.bool())
    specials = cell.layout.special_embeddings(embeddings, content)
    embeds, _, _ = cell.layout.build(cell.update.read(memory).to(content.dtype), content, step, specials)
    # Only the memory rows of the last layer's output are read back here.
    with last_layer_at_rows(*_prunable_last_layer(cell, embeds.shape[1])):
        return backbone_step(cell, memory, embeds, None, None, None)[0]


def _prunable_last_layer(cell: SegmentCell, length: int) -> tuple[torch.nn.Module | None, slice | None]:
    """The backbone's last block and the rows of a `length`-position row that memory is read from, when that block
    can compute those rows alone (`hf_rmt.core.memory_rows`); else `(None, None)`. A memory acting inside the layers
    (ARMT) keeps working: its read and write are hooks around the block's forward, which the pruned forward replaces
    (the write reads the memory rows it computed). Never for a block shared by several layers (ALBERT's: it would be
    pruned everywhere)."""
    blocks = cell.caller.blocks(cell.backbone)
    if not blocks or not can_prune(blocks[-1], cell.backbone.config) or blocks.count(blocks[-1]) != 1:
        return None, None
    return blocks[-1], _memory_rows(cell.layout, length)


def _memory_rows(layout: MemoryLayout, length: int) -> slice | None:
    """The row positions `layout` reads memory from, found once per row length (kept on the layout)."""
    cache = layout.__dict__.setdefault("_memory_rows", {})
    if length not in cache:
        cache[length] = read_rows(layout.read_memory, length)
    return cache[length]


def backbone_step(
    cell: SegmentCell,
    memory: MemoryState,
    embeds: torch.Tensor,
    mask: torch.Tensor | None,
    position_ids: torch.Tensor | None,
    head_kwargs: dict[str, Any] | None,
) -> tuple[MemoryState, torch.Tensor, Any]:
    """Runs the backbone on one laid-out row and asks the memory type for the next state: `(next memory, last hidden
    state, head output)`. A memory acting inside the layers (ARMT) reads before and writes after each layer."""
    if not cell.update.acts_in_layers:
        hidden, head_output = cell.caller(cell.backbone, embeds, mask, position_ids, head_kwargs)
        return cell.update.write(memory, cell.written(hidden)), hidden, head_output
    update, layout = cell.update, cell.layout
    with memory_in_layers(
        cell.caller.blocks(cell.backbone),
        partial(update.read_in_layer, memory),
        lambda index, output: update.write_in_layer(memory, index, layout.read_memory(output)),
    ) as written:
        hidden, head_output = cell.caller(cell.backbone, embeds, mask, position_ids, head_kwargs)
    return update.write(memory, written), hidden, head_output


@contextmanager
def layer_reads(cell: SegmentCell, memory: MemoryState) -> Iterator[None]:
    """
    Within the block, the backbone's layers read `memory` as in a segment step, without writing it: what generation
    needs from a memory acting inside the layers (ARMT), so that every new token reads the prompt's memory. Nothing
    for RMT, whose memory is read through the memory tokens alone.
    """
    if not cell.update.acts_in_layers:
        yield
        return
    blocks = cell.caller.blocks(cell.backbone)
    with memory_in_layers(blocks, partial(cell.update.read_in_layer, memory), lambda index, output: None):
        yield


def run_segments(
    cell: SegmentCell,
    plan: SegmentPlan,
    inputs: torch.Tensor,
    memory: MemoryState,
    head: StepHead,
    options: LoopOptions,
) -> tuple[MemoryState, list[tuple[SegmentStep, tuple | None]]]:
    """
    Runs the recurrence over all segments of `plan`.

    Args:
        cell (`SegmentCell`): The backbone, layout and memory type of the steps.
        plan (`SegmentPlan`): The segmentation of `inputs`.
        inputs (`torch.Tensor`): `input_ids` `(batch, seq_len)` or `inputs_embeds` `(batch, seq_len, hidden)`.
        memory (`MemoryState`): The state to start from.
        head (`StepHead`): What each step runs and keeps.
        options (`LoopOptions`): Truncated BPTT depth, recomputation, CUDA graphs.

    Returns:
        `(final memory, [(step, kept or None), ...])`, `kept` a `head.output_type`.
    """
    grad = torch.is_grad_enabled()
    last = len(plan) - 1
    results = []
    # The backbone's own checkpointed layers, adapted in each recomputed step (`checkpointing_for_recomputation`).
    checkpointed = checkpointed_modules(cell.backbone) if options.recompute and last > 0 else []
    borrowed = False  # whether `memory` is the CUDA graph's own buffers, valid until its next replay
    for t in range(len(plan)):
        step = plan.step(t)
        step_memory = select_rows(memory, step.rows)
        if grad and options.bptt_depth >= 0 and t <= last - options.bptt_depth:
            # Truncated BPTT: detach the memory a sample carries out of an earlier segment, so only the last
            # `bptt_depth` transitions get gradient. Per sample, so a sample's gradients do not depend on the
            # longer samples it is batched with. (The official code's `k2` dropped this detach: a no-op.)
            step_memory = detach_rows(step_memory, step.continued)
        head_kwargs = head.head_kwargs(t, step)
        keep = head.keeps(t, head_kwargs)
        if (
            options.graphs is not None
            and not keep
            and head_kwargs is None
            and _graph_ready(plan, step, inputs, options)
        ):
            start = plan.shared_start(t)  # no padding and equal lengths: the step is one slice of the input
            # Consecutive replays pass the state through the graph's buffers, copied once a step (in the graph).
            outputs = (options.graphs(step_memory, inputs[:, start : start + step.max_length], borrow=True),)
            borrowed = True
        else:
            if borrowed:  # anything else gets a state of its own, which no later replay overwrites
                step_memory, borrowed = map_state(torch.clone, step_memory), False
            run = partial(segment_step, cell, plan, step, t, head_kwargs, head if keep else None)
            if options.recompute and t < len(plan) - max(options.keep_last, 1):
                # The last step is not recomputed: backward starts with it, so keeping its activations costs
                # no more than the recomputation of any one step would hold at that point. The last `keep_last`
                # steps are kept alike: backward frees them before it recomputes anything, so the peak is the
                # larger of their activations and one recomputed step's.
                outputs = _recomputed(run, checkpointed, step_memory, inputs, options)
            else:
                outputs = run(step_memory, inputs)
        memory = merge_rows(memory, step.rows, outputs[0])
        results.append((step, head.output_type._make(outputs[1:]) if keep else None))
    return (map_state(torch.clone, memory) if borrowed else memory), results


def _recomputed(
    run: Callable[..., tuple],
    checkpointed: list[torch.nn.Module],
    memory: MemoryState,
    inputs: torch.Tensor,
    options: LoopOptions,
) -> tuple:
    """`run(memory, inputs)` through `recompute_segment`, the state's tensors passed one by one so that each gets its
    gradient (a per-layer state is a tuple of them)."""
    tensors = state_tensors(memory)
    count = len(tensors)

    def flat_run(*flat: torch.Tensor) -> tuple:
        # Run without gradients in the forward, with them in backward: the backbone's own checkpointing adapted.
        with checkpointing_for_recomputation(checkpointed, torch.is_grad_enabled()):
            outputs = run(state_from_tensors(memory, flat[:count]), flat[count])
        return (*state_tensors(outputs[0]), *outputs[1:])

    flat = recompute_segment(flat_run, (*tensors, inputs), options.params, options.preserve_rng)
    return (state_from_tensors(memory, flat[:count]), *flat[count:])


def _graph_ready(plan: SegmentPlan, step: SegmentStep, inputs: torch.Tensor, options: LoopOptions) -> bool:
    """Whether a step is the plain case the captured graph replays: ids, no padding, a full segment."""
    return (
        not torch.is_grad_enabled()
        and inputs.is_cuda
        and inputs.dim() == 2
        and plan.order is None
        and plan.equal_lengths
        and step.uniform
        and step.max_length == options.segment_size
    )


__all__ = [
    "LoopOptions",
    "SegmentCell",
    "StepHead",
    "backbone_step",
    "layer_reads",
    "memory_only_step",
    "run_segments",
    "segment_step",
]
