# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Saving and restoring an `RMTStream` (`stream.state_dict()`, `model.stream(state_dict=...)`): a long-running reader
can stop and resume. The state is plain tensors, ints and strings (`torch.load(weights_only=True)` reads it); the KV
cache of the partial segment is not saved, since it is rebuilt from the partial segment's tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.memory import map_state, state_from_tensors, state_tensors


if TYPE_CHECKING:
    from .base import RMTPreTrainedModel

FORMAT_VERSION = 1


def stream_state_dict(stream: Any) -> dict[str, Any]:
    """The state of an open `RMTStream` (typed loosely: this module sits below `streaming`): its committed memory, partial segments, counts and last classification."""
    return {
        "format_version": FORMAT_VERSION,
        "task": stream.model.task,
        "segment_size": stream.model.config.segment_size,
        "num_memory_tokens": stream.model.config.num_memory_tokens,
        "memory": [t.detach().cpu() for t in state_tensors(stream.memory)],
        "pending": stream.pending.cpu(),
        "pending_lengths": list(stream.pending_lengths),
        "num_tokens": list(stream.num_tokens),
        "logits": None if stream.logits is None else stream.logits.detach().cpu(),
    }


def restore_stream(cls: type, model: RMTPreTrainedModel, state: dict[str, Any]) -> Any:
    """A `cls` stream read on by `model` from `state` (a `stream_state_dict`), refused in the user's terms when the
    state is not one, or was saved by a model of another task or segment size."""
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        got = state.get("format_version") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"`state_dict` must be an `RMTStream.state_dict()` of format {FORMAT_VERSION}, got {got!r}.")
    config = model.config
    for key, have in (("task", model.task), ("segment_size", config.segment_size)):
        if state[key] != have:
            raise ValueError(f"The saved stream's {key} is {state[key]!r}, the model's {have!r}.")
    device = model.memory.weight.device
    like = model.memory.initial_state(1)
    memory = state_from_tensors(like, [t.to(device) for t in state["memory"]])
    memory = map_state(lambda t: t.to(model.memory.weight.dtype) if t.is_floating_point() else t, memory)
    stream = cls(model, len(state["pending_lengths"]), memory)
    stream.pending = state["pending"].to(device)
    stream.pending_lengths = list(state["pending_lengths"])
    stream.num_tokens = list(state["num_tokens"])
    stream.logits = None if state["logits"] is None else state["logits"].to(device)
    return stream


__all__ = ["FORMAT_VERSION", "restore_stream", "stream_state_dict"]
