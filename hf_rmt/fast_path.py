# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""CUDA graphs for the memory-only segment step of long-input inference.

Reading a long input is thousands of identical steps: a full segment goes in with the memory, only the next memory
comes out (every segment but the few whose outputs are kept). At batch 1 each step is a few hundred small kernels,
so the loop is bound by kernel launches, not by the GPU. Capturing the step once per input shape in a CUDA graph and
replaying it removes that overhead; the arithmetic is the same kernels on the same data, so results match the eager
step (tests/test_fast_path.py).

With compilation, an encoder's repeated blocks are compiled (regional compilation), not its whole step: the code
around them (masks, embeddings, the memory layout) stays eager. Compiling the whole step made transformers build an
explicit all-ones attention mask while tracing, which turned SDPA's flash kernel into a decomposed fp32 attention
(1.17 vs 0.69 ms a segment for a BERT-base step on an H200, bench/bench_inference.py section 5). The blocks are
compiled only while the step is captured; the model's modules are left as they were. A decoder's whole step is
compiled (`RMTPreTrainedModel.enable_cuda_graphs` chooses).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


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
        warmup (`int`, *optional*, defaults to 2): Runs before capture, on the capture stream (cuBLAS/cuDNN
            workspaces, lazy initialisation and compilation must happen outside the graph).
        compile_modules (`list[nn.Module]`, *optional*): Modules to run compiled (`torch.compile`) inside the step.
        compile_mode (`str`, *optional*, defaults to `"default"`): The inductor mode for `compile_modules`.
    """

    def __init__(
        self,
        step: Any,
        warmup: int = 2,
        compile_modules: list[nn.Module] | None = None,
        compile_mode: str = "default",
    ):
        self.step = step
        self.warmup = warmup
        self.graphs: dict[tuple, _Graph] = {}
        self._storage: tuple[int, ...] = ()
        self.compile_modules = list(compile_modules or [])
        # One compiled callable per module, kept for later captures (other batch shapes).
        self._compiled = [torch.compile(m._call_impl, dynamic=False, mode=compile_mode) for m in self.compile_modules]

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
        graph = torch.cuda.CUDAGraph()
        with self._compiled_modules():
            # Warm-up and capture on one stream: what runs (and compiles) in warm-up is what the capture replays.
            with torch.cuda.stream(side):
                for _ in range(self.warmup):
                    self.step(static_memory, static_ids)
            # Nothing may compile during capture (compilation copies to the device and synchronises): a block whose
            # guards fail there (seen with transformers 5.17's BERT) runs its eager kernels inside the graph instead.
            with torch.compiler.set_stance("eager_on_recompile"), torch.cuda.graph(graph, stream=side):
                out = self.step(static_memory, static_ids)
        torch.cuda.current_stream(memory.device).wait_stream(side)
        return _Graph(graph, static_memory, static_ids, out)

    @contextmanager
    def _compiled_modules(self) -> Iterator[None]:
        """Routes the modules' calls through their compiled versions (what `nn.Module.compile` does), then restores."""
        saved = [m._compiled_call_impl for m in self.compile_modules]
        try:
            for module, compiled in zip(self.compile_modules, self._compiled):
                module._compiled_call_impl = compiled
            yield
        finally:
            for module, previous in zip(self.compile_modules, saved):
                module._compiled_call_impl = previous

    def check_storage(self, tensors: list[torch.Tensor]) -> None:
        """Drops the graphs if any of `tensors` (the model's parameters and buffers) moved to other memory since the
        capture (`model.to(...)`, a reassigned parameter): a graph reads its inputs from fixed addresses. In-place
        updates, an optimizer step or `load_state_dict`, keep the addresses and need nothing."""
        storage = tuple(t.data_ptr() for t in tensors)
        if storage != self._storage:
            self.graphs.clear()
            self._storage = storage

    def clear(self) -> None:
        self.graphs.clear()


__all__ = ["SegmentGraphs"]
