# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""CUDA graphs for the memory-only segment step of long-input inference.

Reading a long input is thousands of identical steps: a full segment goes in with the memory, only the next memory
comes out (every segment but the few whose outputs are kept). At batch 1 each step is a few hundred small kernels,
so the loop is bound by kernel launches, not by the GPU. Capturing the step once per input shape in a CUDA graph and
replaying it removes that overhead; the arithmetic is the same kernels on the same data, so results match the eager
step (tests/test_fast_path.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class _Graph:
    graph: torch.cuda.CUDAGraph
    memory: torch.Tensor
    ids: torch.Tensor
    out: torch.Tensor


class SegmentGraphs:
    """
    Captured memory-only steps of one model, keyed by input shape, dtype and autocast state.

    Args:
        step: `(memory, segment_ids) -> next_memory`, the eager memory-only step (`_memory_only_step`).
        warmup (`int`, *optional*, defaults to 2): Eager runs on a side stream before capture (cuBLAS/cuDNN
            workspaces and lazy initialisation must happen outside the graph).
    """

    def __init__(self, step: Any, warmup: int = 2):
        self.step = step
        self.warmup = warmup
        self.graphs: dict[tuple, _Graph] = {}

    def __call__(self, memory: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        key = (
            tuple(ids.shape),
            memory.dtype,
            memory.device,
            torch.is_autocast_enabled("cuda"),
            torch.get_autocast_dtype("cuda"),
        )
        entry = self.graphs.get(key)
        if entry is None:
            entry = self.graphs[key] = self._capture(memory, ids)
        entry.memory.copy_(memory)
        entry.ids.copy_(ids)
        entry.graph.replay()
        # The next replay overwrites `out`; the caller keeps its own copy (a few KB).
        return entry.out.clone()

    def _capture(self, memory: torch.Tensor, ids: torch.Tensor) -> _Graph:
        # Fresh contiguous buffers: a slice of a longer input has its strides, which would make a compiled step
        # specialise (and recompile) on every input length.
        static_memory = memory.new_empty(memory.shape).copy_(memory)
        static_ids = ids.new_empty(ids.shape).copy_(ids)
        side = torch.cuda.Stream(device=memory.device)
        side.wait_stream(torch.cuda.current_stream(memory.device))
        with torch.cuda.stream(side):
            for _ in range(self.warmup):
                self.step(static_memory, static_ids)
        torch.cuda.current_stream(memory.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self.step(static_memory, static_ids)
        return _Graph(graph, static_memory, static_ids, out)

    def clear(self) -> None:
        self.graphs.clear()


__all__ = ["SegmentGraphs"]
