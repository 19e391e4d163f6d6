# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`RMTStream`: read an input of any length in chunks of any sizes, with the results of one call over it.

Like transformers' `Cache` objects, a stream is the state a model carries between calls: the memory after every
complete segment read so far, and the partial segment not yet full (its tokens). A chunk completes segments (they run
through the recurrence exactly as in `forward`, which writes memory) and leaves a new partial segment; with left
segment alignment (the decoder default) the segment boundaries of the input read so far never move, so the chunking
cannot change a result. A causal LM's partial segment also keeps the backbone's KV cache (`PartialSegmentCache`), so
a token fed alone costs one backbone call on that token.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from ..core.memory import MemoryState
from ..core.recurrence import StepHead
from .heads import CausalLMHead, SequenceClassificationHead
from .outputs import RMTSequenceClassifierOutput, RMTTokenOutput
from .stream_cache import PartialSegmentCache, StaticSegmentCache
from .stream_rows import right_align, scatter_rows
from .stream_state import FORMAT_VERSION, restore_stream, stream_state_dict


if TYPE_CHECKING:
    from .base import RMTPreTrainedModel

TASKS = ("causal-lm", "sequence-classification")


class RMTStream:
    """
    A stream read by an RMT model chunk by chunk (`model.stream()`): each `feed` returns what one call of the model
    over everything fed so far would return for the new tokens, to float tolerance.

    - `RMTForCausalLM`: `feed(chunk).logits` are the logits of the chunk's tokens, `(batch, chunk_length, vocab)`.
    - `RMTForSequenceClassification`: `feed(chunk).logits` classify the whole input read so far, as if it ended here.

    `stream.memory_state` is the `memory_state` that one call over the input read so far returns. Samples of a batch
    are independent: a chunk's `attention_mask` says which of its tokens each sample reads (padding anywhere), so
    samples may read different numbers of tokens per chunk and their segment boundaries differ. The model must use
    `segment_alignment="left"` (the decoder default): with right alignment an input's boundaries depend on its end.

    Args:
        model (`RMTForCausalLM` or `RMTForSequenceClassification`): The model reading the stream.
        batch_size (`int`, *optional*, defaults to 1): Samples read side by side.
        memory_state (`torch.Tensor` or `tuple`, *optional*): Memory to start from (the learned initial memory
            otherwise).

    Example:

    ```python
    >>> stream = model.stream()
    >>> for chunk in chunks:  # (1, n) tensors of token ids, any n
    ...     logits = stream.feed(chunk).logits
    >>> torch.save(stream.state_dict(), "stream.pt")  # stop, and later resume:
    >>> stream = model.stream(state_dict=torch.load("stream.pt"))
    ```
    """

    def __init__(self, model: RMTPreTrainedModel, batch_size: int = 1, memory_state: MemoryState | None = None):
        if model.task not in TASKS:
            raise ValueError(f"Streams are supported for the tasks {TASKS}; {type(model).__name__} is {model.task!r}.")
        alignment = model.config.resolved_segment_alignment
        if alignment != "left":
            raise ValueError(
                f"A stream needs `segment_alignment='left'` (segments fill from the start), got {alignment!r}: with "
                "right alignment the segment boundaries of an input depend on where it ends, so no segment can be "
                "read before the stream ends. Set `model.config.segment_alignment = 'left'` (and train so)."
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an integer >= 1, got {batch_size!r}.")
        model._check_inputs(torch.zeros(batch_size, 1, dtype=torch.long), None, None, memory_state)
        self.model, self.batch_size = model, batch_size
        device = model.memory.weight.device
        self.memory = memory_state if memory_state is not None else model.memory.initial_state(batch_size)
        self.pending = torch.zeros(batch_size, 0, dtype=torch.long, device=device)  # partial segments, left-aligned
        self.pending_lengths = [0] * batch_size
        self.num_tokens = [0] * batch_size  # tokens each sample has read
        self.logits: torch.Tensor | None = None  # classification of the input read so far
        self.closed = False
        self._cache: PartialSegmentCache | None = None
        self.static_cache: StaticSegmentCache | None = None  # `generate(cache_implementation="static")` sets it
        self._memory_state: MemoryState | None = None
        # `pending_lengths` on the device, and the lengths it holds: appending tokens to partial segments of
        # different lengths needs them there, and copying them over at each token would cost a host sync.
        self._device_lengths: tuple[tuple[int, ...], torch.Tensor] | None = None

    # ---------------------------------------------------------------- reading

    def feed(
        self, input_ids: torch.LongTensor, attention_mask: torch.Tensor | None = None, logits_to_keep: int = 0
    ) -> RMTTokenOutput | RMTSequenceClassifierOutput:
        """
        Reads the next chunk.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, chunk_length)`): The chunk's token ids.
            attention_mask (`torch.Tensor` of shape `(batch_size, chunk_length)`, *optional*): 1 at the tokens each
                sample reads, 0 at padding (anywhere); all tokens when None.
            logits_to_keep (`int`, *optional*, defaults to 0): Causal LM only: 0 returns the logits of every chunk
                token, 1 those of each sample's last token of the chunk, `(batch_size, 1, vocab)`.

        Returns:
            `RMTTokenOutput` (causal LM: `logits` of the chunk's tokens, zeros at padding) or
            `RMTSequenceClassifierOutput` (the classification of the input read so far). `memory_state` is left
            None: read `stream.memory_state`, computed on demand.
        """
        counts = self._check_chunk(input_ids, attention_mask, logits_to_keep)
        input_ids = input_ids.to(device=self.pending.device, dtype=torch.long)
        if attention_mask is not None:
            attention_mask = attention_mask.to(self.pending.device)
        return self.read(input_ids, attention_mask, counts, logits_to_keep)

    def read(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, counts: list[int], logits_to_keep: int
    ) -> RMTTokenOutput | RMTSequenceClassifierOutput:
        """`feed` without its checks, for callers whose chunks are valid by construction (generation feeds the
        tokens it generated; the checks cost a host sync per token). `counts`: tokens each sample reads."""
        model, size = self.model, self.model.config.segment_size
        lengths = [p + c for p, c in zip(self.pending_lengths, counts)]
        full = [length // size * size for length in lengths]
        self._memory_state = None
        causal = model.task == "causal-lm"
        if not any(full) and causal and self._cache is not None:
            # The common case of generation: no segment completes, the new tokens extend the cached rows.
            logits = self._cache.append(input_ids, attention_mask)
            self._absorb(input_ids, attention_mask, counts)
            return RMTTokenOutput(logits=self._chunk_logits(logits, attention_mask, counts, logits_to_keep))

        width = self.pending.shape[1]
        combined = torch.cat([self.pending, input_ids.to(self.pending.device)], dim=1)
        pending_real = (
            torch.arange(width, device=combined.device)[None]
            < torch.tensor(self.pending_lengths, device=combined.device)[:, None]
        )
        chunk_real = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        real = torch.cat([pending_real, chunk_real.to(combined.device)], dim=1)
        rank = real.long().cumsum(dim=1) - 1  # each token's index among its sample's valid tokens
        in_full = real & (rank < torch.tensor(full, device=combined.device)[:, None])
        rest = real & ~in_full
        out = None
        if any(full):
            out = self._run_full_segments(combined, in_full, logits_to_keep, full)
        rest_ids, rest_real = right_align(combined, rest)
        if causal:
            self._cache = PartialSegmentCache(model._segment_cell(), self.memory, self.static_cache)
            rest_logits = self._cache.prefill(rest_ids, rest_real)
            logits = self._combine_causal(out, rest_logits, rest, rest_real, combined, logits_to_keep, width)
            self._set_pending(rest_ids, rest_real)
            self.num_tokens = [n + c for n, c in zip(self.num_tokens, counts)]
            return RMTTokenOutput(logits=logits)
        self._set_pending(rest_ids, rest_real)
        self._classify(out, counts)
        self.num_tokens = [n + c for n, c in zip(self.num_tokens, counts)]
        return RMTSequenceClassifierOutput(logits=self.logits)

    def read_next_token(self, tokens: torch.Tensor) -> torch.Tensor:
        """
        Reads one new token per sample, `(batch_size,)` ids valid by construction: the step of rolling generation.

        Returns:
            `(batch_size, vocab)` the logits at the new tokens, as `read(tokens[:, None], None, [1] * batch_size,
            1).logits[:, -1]` returns them.
        """
        size = self.model.config.segment_size
        if self._cache is None or any(p + 1 >= size for p in self.pending_lengths):
            # The first token read, or one that completes a segment (which writes memory): the general path.
            return self.read(tokens[:, None], None, [1] * self.batch_size, 1).logits[:, -1]
        # Within a segment: one backbone call on the token over the cached segment, with no output object to build.
        self._memory_state = None
        ids = tokens[:, None]
        logits = self._cache.append(ids, None)
        self._absorb(ids, None, [1] * self.batch_size)
        return logits[:, -1]

    def _run_full_segments(
        self, combined: torch.Tensor, in_full: torch.Tensor, logits_to_keep: int, full: list[int]
    ) -> torch.Tensor | None:
        """Runs the segments this chunk completes through the recurrence, as `forward` does; commits their memory
        and returns what the task keeps of them (causal LM: logits at `combined`'s columns; classification: each
        sample's logits at its last complete segment)."""
        model = self.model
        plan = model.make_plan(combined, in_full, allow_empty=True)
        if model.task == "causal-lm":
            takes = model._head_takes_logits_to_keep
            head: StepHead = CausalLMHead(plan, model.layout, None, None, logits_to_keep, takes)
        else:
            head = SequenceClassificationHead(len(plan) - 1, None)
        self.memory, results = model.run_segments(plan, combined, self.memory, head)
        if model.task == "causal-lm":
            per_step = [(step, kept.logits) for step, kept in results if kept is not None and kept.logits is not None]
            return plan.scatter_to_input(per_step, model.layout.padding_side, logits_to_keep)
        step, kept = results[-1]
        return scatter_rows(kept.logits, step.rows, self.batch_size)

    def _combine_causal(
        self,
        out: torch.Tensor | None,
        rest_logits: torch.Tensor | None,
        rest: torch.Tensor,
        rest_real: torch.Tensor,
        combined: torch.Tensor,
        logits_to_keep: int,
        width: int,
    ) -> torch.Tensor:
        """The chunk's logits from the complete segments' (`out`, at `combined`'s columns) and the partial
        segment's (`rest_logits`, right-aligned)."""
        if logits_to_keep == 1:
            if rest_logits is None:
                return out
            last = rest_logits[:, -1:]
            if out is None:
                return last
            has_rest = rest_real.any(dim=1)[:, None, None]
            return torch.where(has_rest, last, out.to(last.dtype))
        if out is None:
            vocab = rest_logits.shape[-1]
            out = rest_logits.new_zeros(combined.shape[0], combined.shape[1], vocab)
        if rest_logits is not None:
            out = out.to(rest_logits.dtype)
            out[rest] = rest_logits[rest_real]
        return out[:, width:]

    def _classify(self, out: torch.Tensor | None, counts: list[int]) -> None:
        """The classification of the input read so far: the partial segment run as the last segment (what one call
        does with an input ending mid-segment), or the last complete segment's when the input ends on a boundary."""
        model = self.model
        logits = self.logits
        if out is not None:
            logits = out if logits is None else torch.where(out.isnan().any(-1, keepdim=True), logits, out)
        if any(self.pending_lengths):
            mask = (
                torch.arange(self.pending.shape[1], device=self.pending.device)[None]
                < torch.tensor(self.pending_lengths, device=self.pending.device)[:, None]
            )
            plan = model.make_plan(self.pending, mask, allow_empty=True)
            _, results = model.run_segments(plan, self.pending, self.memory, SequenceClassificationHead(0, None))
            step, kept = results[-1]
            partial = scatter_rows(kept.logits, step.rows, self.batch_size)
            logits = partial if logits is None else torch.where(partial.isnan().any(-1, keepdim=True), logits, partial)
        self.logits = logits

    def _absorb(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, counts: list[int]) -> None:
        """Adds a chunk that completes no segment to the partial segments."""
        lengths = [p + c for p, c in zip(self.pending_lengths, counts)]
        if attention_mask is None and len(set(self.pending_lengths)) == 1:
            self.pending = torch.cat([self.pending, input_ids], dim=1)  # partial segments of one length: no padding
            self.pending_lengths = lengths
        elif attention_mask is None:
            self._append_at_lengths(input_ids, lengths)
        else:  # padding inside the chunk: each sample's tokens are gathered to the front (host syncs)
            width = self.pending.shape[1]
            pending_real = torch.arange(width, device=input_ids.device)[None] < self._lengths_on_device()[:, None]
            real = torch.cat([pending_real, attention_mask.bool()], dim=1)
            ids, real = right_align(torch.cat([self.pending, input_ids], dim=1), real)
            self._set_pending(ids, real)
        self.num_tokens = [n + c for n, c in zip(self.num_tokens, counts)]

    def _append_at_lengths(self, input_ids: torch.Tensor, lengths: list[int]) -> None:
        """Writes every sample's chunk (all its tokens real) right after its partial segment, of lengths that differ
        (a batch of left-padded prompts): a scatter at each sample's length, whose sizes are all known on the host,
        so generating such a batch costs no host sync per token."""
        batch, n = input_ids.shape
        pending = self.pending
        if max(lengths) > pending.shape[1]:
            pending = torch.cat([pending, pending.new_zeros(batch, max(lengths) - pending.shape[1])], dim=1)
        start = self._lengths_on_device()[:, None]
        columns = start if n == 1 else start + torch.arange(n, device=start.device)[None]
        self.pending = pending.scatter(1, columns, input_ids)
        self._device_lengths = (tuple(lengths), start[:, 0] + n)
        self.pending_lengths = lengths

    def _lengths_on_device(self) -> torch.Tensor:
        """`pending_lengths` as a `(batch,)` tensor on the stream's device, copied over only when they changed
        other than through `_append_at_lengths` (which keeps them there)."""
        key = tuple(self.pending_lengths)
        if self._device_lengths is None or self._device_lengths[0] != key:
            self._device_lengths = (key, torch.tensor(key, dtype=torch.long, device=self.pending.device))
        return self._device_lengths[1]

    def _set_pending(self, ids: torch.Tensor, real: torch.Tensor) -> None:
        """Stores right-aligned partial segments left-aligned (valid tokens first), with their lengths."""
        lengths = real.sum(dim=1)
        order = torch.sort((~real).to(torch.int8), dim=1, stable=True).indices
        width = int(lengths.max()) if ids.shape[1] else 0
        self.pending = ids.gather(1, order)[:, :width]
        self.pending_lengths = lengths.tolist()

    def _chunk_logits(
        self, logits: torch.Tensor, attention_mask: torch.Tensor | None, counts: list[int], logits_to_keep: int
    ) -> torch.Tensor:
        if attention_mask is None:
            return logits[:, -1:] if logits_to_keep == 1 else logits
        if logits_to_keep == 1:
            last = (attention_mask.long().cumsum(dim=1).argmax(dim=1))[:, None, None]
            return logits.gather(1, last.expand(-1, 1, logits.shape[-1]))
        return logits.masked_fill(~attention_mask.bool()[..., None], 0)

    def _check_chunk(self, input_ids: Any, attention_mask: Any, logits_to_keep: int) -> list[int]:
        if self.closed:
            raise RuntimeError("This stream is closed (`close()` was called): start a new one with `model.stream()`.")
        if not isinstance(input_ids, torch.Tensor) or input_ids.dtype not in (torch.long, torch.int, torch.int16):
            got = input_ids.dtype if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
            raise TypeError(f"`input_ids` must be an integer tensor of token ids (torch.long), got {got}.")
        if input_ids.dim() != 2 or input_ids.shape[0] != self.batch_size:
            raise ValueError(
                f"`input_ids` must have shape ({self.batch_size}, chunk_length) (the stream's batch size, "
                f"{self.batch_size}, is fixed when it starts), got {tuple(input_ids.shape)}."
            )
        if logits_to_keep not in (0, 1) or isinstance(logits_to_keep, bool):
            raise ValueError(
                f"`logits_to_keep` must be 0 (all tokens) or 1 (each sample's last), got {logits_to_keep!r}."
            )
        self.model._check_inputs(input_ids, None, attention_mask, None)
        if attention_mask is None:
            return [input_ids.shape[1]] * self.batch_size
        return attention_mask.bool().sum(dim=1).tolist()

    # ---------------------------------------------------------------- state

    @property
    def memory_state(self) -> MemoryState:
        """The `memory_state` one call over the input read so far returns: the memory written by its last segment,
        the partial one included (computed on demand, one segment step; not committed)."""
        if self._memory_state is None:
            if not any(self.pending_lengths):
                self._memory_state = self.memory
            else:
                mask = (
                    torch.arange(self.pending.shape[1], device=self.pending.device)[None]
                    < torch.tensor(self.pending_lengths, device=self.pending.device)[:, None]
                )
                plan = self.model.make_plan(self.pending, mask, allow_empty=True)
                self._memory_state, _ = self.model.run_segments(plan, self.pending, self.memory, StepHead())
        return self._memory_state

    def close(self) -> None:
        """Ends the stream: its state is dropped, and feeding it again is refused."""
        self.closed = True
        self._cache = self._memory_state = self.logits = None

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the stream (`model.stream(state_dict=...)`): the committed memory, the partial
        segments' tokens, counts and the last classification; plain tensors, ints and strings, so `torch.save` and
        `torch.load(weights_only=True)` handle it. The KV cache is not saved: it is rebuilt from the tokens."""
        if self.closed:
            raise RuntimeError("This stream is closed (`close()` was called): it has no state to save.")
        return stream_state_dict(self)

    @classmethod
    def from_state_dict(cls, model: RMTPreTrainedModel, state: dict[str, Any]) -> RMTStream:
        """The stream `state` (a `state_dict()`) describes, read on by `model`."""
        return restore_stream(cls, model, state)

    def save(self, path: str | os.PathLike) -> None:
        """`torch.save(self.state_dict(), path)`."""
        torch.save(self.state_dict(), path)

    @classmethod
    def load(cls, model: RMTPreTrainedModel, path: str | os.PathLike) -> RMTStream:
        """The stream saved at `path` (`save`), read on by `model`."""
        return cls.from_state_dict(model, torch.load(path, weights_only=True))


def open_stream(
    model: RMTPreTrainedModel,
    batch_size: int = 1,
    memory_state: MemoryState | None = None,
    state_dict: dict[str, Any] | None = None,
) -> RMTStream:
    """A new stream read by `model`, or the saved one `state_dict` describes (what `model.stream` returns)."""
    if state_dict is not None:
        if memory_state is not None:
            raise ValueError("Pass `memory_state` or `state_dict` (which holds the memory), not both.")
        return RMTStream.from_state_dict(model, state_dict)
    return RMTStream(model, batch_size, memory_state)


STREAM_DOC = r"""
        A stream this model reads chunk by chunk, with the results of one call over everything fed (see
        `hf_rmt.RMTStream`): `stream = model.stream(); out = stream.feed(chunk_ids)`.

        Args:
            batch_size (`int`, *optional*, defaults to 1): Samples read side by side.
            memory_state (`torch.Tensor` or `tuple`, *optional*): Memory to start from.
            state_dict (`dict`, *optional*): A saved stream (`RMTStream.state_dict()`) to resume.

        Returns:
            `RMTStream`.
"""


__all__ = ["FORMAT_VERSION", "STREAM_DOC", "RMTStream", "open_stream"]
