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
compiled (`RMTPreTrainedModel.enable_cuda_graphs` chooses). With `freeze_weights`, inductor folds the weights into
the compiled code (BERT-base: one GEMM for Q, K and V, 0.62 instead of 0.70 ms a step on an H200); folded weights
are copies, so a change of any weight compiles again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch
from torch import nn
from transformers.utils import logging

from .memory import MemoryState, map_state, state_tensors


logger = logging.get_logger(__name__)


@dataclass
class _Graph:
    graph: torch.cuda.CUDAGraph
    memory: MemoryState  # the step's input buffers; a replay leaves the step's output state in them
    ids: torch.Tensor


def recompile_limit_for(num_modules: int) -> int:
    """Dynamo's recompile limit for `num_modules` compiled blocks that share one code object: 8 entries per block
    (model, batch shape, grad mode, ARMT's per-layer hooks), at least 64, never below the current setting."""
    return max(torch._dynamo.config.recompile_limit, 64, 8 * num_modules)


class SegmentGraphs:
    """
    Captured memory-only steps of one model, keyed by input shape, dtype and autocast state.

    Args:
        step: `(memory, segment_ids) -> next_memory`, the eager memory-only step (`RMTPreTrainedModel.memory_only_step`).
        warmup (`int`, *optional*, defaults to 2): Runs before capture, on the capture stream (cuBLAS/cuDNN
            workspaces, lazy initialisation and compilation must happen outside the graph).
        compile_modules (`list[nn.Module]`, *optional*): Modules to run compiled (`torch.compile`) inside the step
            (regional compilation).
        compile_step (`bool`, *optional*, defaults to `False`): Compile the whole step instead.
        compile_mode (`str`, *optional*, defaults to `"default"`): The inductor mode of the compilation.
        freeze_weights (`bool`, *optional*, defaults to `False`): Compile with inductor's freezing: the weights become
            constants of the compiled code, which folds what depends on weights alone (query, key and value
            projections become one GEMM). The folded copies do not follow later changes of the weights, so
            `check_weights` compiles again when a weight changed in place or moved.
    """

    def __init__(
        self,
        step: Any,
        warmup: int = 2,
        compile_modules: list[nn.Module] | None = None,
        compile_step: bool = False,
        compile_mode: str = "default",
        freeze_weights: bool = False,
    ):
        self.eager_step = step
        self.warmup = warmup
        self.graphs: dict[tuple, _Graph] = {}
        self.compile_modules = list(compile_modules or [])
        self.compile_step = compile_step
        self.compile_mode = compile_mode
        self.freeze_weights = freeze_weights
        self._weights: tuple = ()
        self._frozen: tuple | None = None  # the weights' state the compiled code folded, once it was compiled
        self._compile()

    def _compile(self) -> None:
        """Makes the compiled callables; compilation itself happens at their first call, in a warm-up."""
        # One compiled callable per module, kept for later captures (other batch shapes).
        self._compiled = [self._compiler(m._call_impl) for m in self.compile_modules]
        self.step = self._compiler(self.eager_step) if self.compile_step else self.eager_step

    def _compiler(self, fn: Any) -> Any:
        if not self.freeze_weights:
            # Equal inductor settings share dynamo's compiled code: a later `enable_cuda_graphs` compiles nothing.
            return torch.compile(fn, dynamic=False, mode=self.compile_mode)
        # Folded weights must never be shared: a backend of our own is equal to no other (dynamo reuses code only
        # for an equal backend), so compiling again after the weights changed does not find the stale code.
        options = torch._inductor.list_mode_options(self.compile_mode)

        def inductor_frozen(graph: torch.fx.GraphModule, example_inputs: list) -> Any:
            from torch._inductor.compile_fx import compile_fx  # noqa: PLC0415

            # `_compile_settings` turns freezing on around every call that may compile.
            return compile_fx(graph, example_inputs, config_patches=options)

        return torch.compile(fn, dynamic=False, backend=inductor_frozen)

    def __call__(self, memory: MemoryState, ids: torch.Tensor, borrow: bool = False) -> MemoryState:
        """
        The next memory after the step on `ids`, replayed from the graph of this input shape (captured at its first
        call).

        Args:
            memory (`MemoryState`): The state to read.
            ids (`torch.Tensor`): One full segment's `input_ids`, `(batch, segment_size)`.
            borrow (`bool`, *optional*, defaults to `False`): Return the graph's own buffers instead of a copy. They
                hold the next memory only until the next replay of this shape overwrites them: for a loop that feeds
                the result straight back, where the copy in and the copy out per step would otherwise move the whole
                state twice (ARMT's per-layer matrices: 453 MB a step for BERT-base at batch 32).
        """
        first = state_tensors(memory)[0]
        key = (
            tuple(ids.shape),
            first.dtype,
            first.device,
            torch.is_autocast_enabled("cuda"),
            torch.get_autocast_dtype("cuda"),
        )
        entry = self.graphs.get(key)
        if entry is None:
            entry = self.graphs[key] = self._capture(memory, ids)
        for static, given in zip(state_tensors(entry.memory), state_tensors(memory)):
            if given is not static:  # a borrowed state fed back is already in place
                static.copy_(given)
        entry.ids.copy_(ids)
        entry.graph.replay()
        return entry.memory if borrow else map_state(torch.clone, entry.memory)

    def _capture(self, memory: MemoryState, ids: torch.Tensor) -> _Graph:
        # Fresh contiguous buffers: a slice of a longer input has its strides, which would make a compiled step
        # specialise (and recompile) on every input length.
        static_memory = map_state(lambda tensor: tensor.new_empty(tensor.shape).copy_(tensor), memory)
        static_ids = ids.new_empty(ids.shape).copy_(ids)
        device = ids.device
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        graph = torch.cuda.CUDAGraph()
        # The mask patch covers warm-up and capture alike: compiled code guards on the functions it called, and a
        # function swapped between the two would fail a guard (and the capture would run the step eagerly).
        with self._compiled_modules(), _mask_skip_while_capturing():
            # Warm-up and capture on one stream: what runs (and compiles) in warm-up is what the capture replays.
            with torch.cuda.stream(side):
                for _ in range(self.warmup):
                    self.run_compiled(static_memory, static_ids)
            # Nothing may compile during capture (compilation copies to the device and synchronises): should a guard
            # fail there anyway, the step's eager kernels are captured instead.
            with torch.compiler.set_stance("eager_on_recompile"), torch.cuda.graph(graph, stream=side):
                out = self.step(static_memory, static_ids)
                # The graph ends by writing the next state over the one it read (cast to its dtype, as the loop's
                # `merge_rows` does): one copy a step, and none in and out around the replay for a loop that
                # borrows the buffers (the input is read in full before this copy runs, at the graph's end).
                for static, new in zip(state_tensors(static_memory), state_tensors(out)):
                    static.copy_(new)
        torch.cuda.current_stream(device).wait_stream(side)
        return _Graph(graph, static_memory, static_ids)

    def run_compiled(self, memory: MemoryState, ids: torch.Tensor) -> MemoryState:
        """One step through the compiled code, outside any graph (what the warm-up before a capture runs)."""
        with self._compiled_modules(), self._compile_settings():
            out = self.step(memory, ids)
        if self.freeze_weights and self._frozen is None:
            self._frozen = self._weights  # what the compilation just folded
        return out

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

    @contextmanager
    def _compile_settings(self) -> Iterator[None]:
        """Inductor's freezing flag for what compiles now (dynamo reads it too: frozen weights are guarded by
        identity); and room for more compiled entries per function than dynamo's default of 8, which would leave
        most blocks of an encoder eager with frozen weights (each block is then compiled on its own), and count
        every model, batch shape and segment size whose step was compiled in this process."""
        limit = recompile_limit_for(len(self.compile_modules))
        with (
            torch._inductor.config.patch(freezing=self.freeze_weights),
            torch._dynamo.config.patch(recompile_limit=limit),
        ):
            yield

    def check_weights(self, tensors: list[torch.Tensor]) -> None:
        """
        Call before each use with the model's parameters and buffers. A graph reads them from fixed addresses: if
        any moved (`model.to(...)`, a reassigned parameter) the graphs are dropped and captured again. In-place
        updates (an optimizer step, `load_state_dict`) keep the addresses and need nothing, except with
        `freeze_weights`: then any change since the compilation (seen by the tensors' version counters) also
        compiles the step again, as the folded weights are copies.
        """
        weights = tuple(t.data_ptr() for t in tensors)
        if self.freeze_weights:
            weights += tuple(_version(t) for t in tensors)
        if weights == self._weights:
            return
        if self._frozen is not None and weights != self._frozen:
            logger.warning_once(
                "The weights changed since `enable_cuda_graphs(freeze_weights=True)` folded them into the compiled "
                "step: compiling it again. Leave `freeze_weights` off for weights that change between calls."
            )
            self._compile()
            self._frozen = None
        self.graphs.clear()
        self._weights = weights


def _version(tensor: torch.Tensor) -> int:
    """The tensor's version counter (bumped by every in-place change); inference tensors have none."""
    try:
        return tensor._version
    except RuntimeError:  # created under `torch.inference_mode()`: changed only inside it, never tracked
        return 0


@cache
def _tracing_unless_nothing_to_read(original: Callable[..., bool]) -> Callable[..., bool]:
    """transformers' `is_tracing`, answering `False` under CUDA capture when there is no tensor to read. One object
    per original: compiled code guards on the functions it called, so every capture must see the same one."""

    def is_tracing(tensor: torch.Tensor | None = None) -> bool:
        if tensor is None:  # nothing to read: only compilation and jit tracing still count
            return torch.compiler.is_compiling() or torch.jit.is_tracing()
        return original(tensor)

    return is_tracing


@contextmanager
def _mask_skip_while_capturing() -> Iterator[None]:
    """
    Lets transformers <= 5.17 skip an attention mask while a CUDA graph is captured, when there is no padding mask.

    Its `masking_utils` counts CUDA-stream capture as tracing, and under tracing never drops the mask of an unpadded
    input, even when there is no padding mask to read: the captured step then materialises an all-True mask, and SDPA
    swaps its flash kernel for the math one, in float32 (BERT-base step on an H200: 2.0 ms vs 0.78 ms, a different
    kernel from the eager step's). transformers 5.18 asks `padding_mask is not None and is_tracing(padding_mask)`;
    this gives older versions that answer for the `None` case only, during our capture. Newer versions never ask it.
    """
    try:
        from transformers import masking_utils  # noqa: PLC0415
    except ImportError:  # pragma: no cover - transformers < 4.53 has no masking_utils
        yield
        return
    original = getattr(masking_utils, "is_tracing", None)
    if original is None:
        yield
        return
    masking_utils.is_tracing = _tracing_unless_nothing_to_read(original)
    try:
        yield
    finally:
        masking_utils.is_tracing = original


__all__ = ["SegmentGraphs", "recompile_limit_for"]
