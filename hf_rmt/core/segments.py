# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Segmentation: which tokens of each sample go into which step of the recurrence.

A batch may mix samples of different lengths (`attention_mask` padding anywhere). Each sample's valid tokens are
split into its own segments exactly as if it ran alone; samples are then aligned so that every sample's *last*
segment runs at the last step. Samples with fewer segments skip the first steps, and their memory is untouched by
them (the official encoder code's `non_empty_mask`, arXiv:2304.11062 reference implementation).

All bookkeeping is computed once per forward, on the CPU from the per-sample token counts (one device sync), and
moved to the device in one copy, so the per-segment loop launches no bookkeeping kernels of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SegmentStep:
    """One step of the recurrence: which samples take part and where their segments lie among their valid tokens.

    Attributes:
        rows (`torch.LongTensor` or `None`): Samples taking part in this step (`None`: all of them).
        valid_start (`torch.LongTensor`): `(b,)` index, among each sample's valid tokens, of the segment's first token.
        lengths (`torch.LongTensor`): `(b,)` tokens in each sample's segment.
        max_length (`int`): Longest segment of the step (the padded width).
        uniform (`bool`): Every row's segment has `max_length` tokens (no padding inside the step).
        continued (`torch.BoolTensor`): `(b,)` whether the sample already ran a segment earlier in this call.
    """

    rows: torch.Tensor | None
    valid_start: torch.Tensor
    lengths: torch.Tensor
    max_length: int
    uniform: bool
    continued: torch.Tensor

    def valid_index(self, padding_side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
        """`(b, max_length)` indices among each sample's valid tokens, and the mask of real (non-padding) entries.

        With `padding_side="left"` the padding of shorter rows comes first (the decoder layout's segment slice)."""
        offsets = torch.arange(self.max_length, device=self.lengths.device)[None]
        if padding_side == "left" and not self.uniform:
            pad = (self.max_length - self.lengths)[:, None]
            return (self.valid_start[:, None] + offsets - pad).clamp(min=0), offsets >= pad
        return self.valid_start[:, None] + offsets, offsets < self.lengths[:, None]


class SegmentPlan:
    """
    Splits a batch into recurrence steps.

    Args:
        attention_mask (`torch.Tensor`, *optional*): `(batch, seq_len)`, 1 for real tokens; `None` means no padding.
        batch_size (`int`): Number of samples.
        seq_len (`int`): Padded input length.
        segment_size (`int`): Content tokens per segment.
        alignment (`str`): `"left"` (the last segment may be short) or `"right"` (the first may be short).
        max_n_segments (`int`, *optional*): Longest accepted input, in segments.
        device (`torch.device`): Device of the index tensors.
        allow_empty (`bool`): Accept samples without tokens (they run no step and keep their memory).
    """

    def __init__(
        self,
        attention_mask: torch.Tensor | None,
        batch_size: int,
        seq_len: int,
        segment_size: int,
        alignment: str,
        max_n_segments: int | None,
        device: torch.device,
        allow_empty: bool = False,
    ):
        if attention_mask is None:
            num_tokens = torch.full((batch_size,), seq_len, dtype=torch.long)
            self.order = None
        else:
            valid = attention_mask.bool()
            num_tokens = valid.sum(dim=1).cpu()  # the single device sync of a forward
            empty = (num_tokens == 0).nonzero().flatten().tolist()
            if empty and not allow_empty:
                raise ValueError(
                    f"`attention_mask` must mark at least one real token in every sample; samples {empty} have none."
                )
            if bool((num_tokens == seq_len).all()):
                self.order = None
            else:
                # Positions of each sample's valid tokens first, in their original order (a stable sort keeps order).
                self.order = torch.sort((~valid).to(torch.int8), dim=1, stable=True).indices
        self.segment_size = segment_size
        self.seq_len = seq_len
        self.num_tokens = num_tokens.to(device)
        self.num_tokens_list = num_tokens.tolist()
        self.equal_lengths = len(set(self.num_tokens_list)) <= 1
        num_segments = (num_tokens + segment_size - 1) // segment_size
        self.num_steps = int(num_segments.max()) if batch_size else 0
        if max_n_segments is not None and self.num_steps > max_n_segments:
            longest = int(num_tokens.max())
            raise ValueError(
                f"An input of {longest} tokens needs {self.num_steps} segments of `segment_size`={segment_size}, more "
                f"than `max_n_segments`={max_n_segments}. Shorten the input or raise `max_n_segments`."
            )

        # (steps, batch) tables: the local segment index of each sample at each step, then its token range.
        steps = torch.arange(self.num_steps)[:, None]
        local = steps - (self.num_steps - num_segments)[None]
        if alignment == "left":
            start = local * segment_size
            end = torch.minimum(start + segment_size, num_tokens[None])
        else:
            end = num_tokens[None] - (num_segments[None] - 1 - local) * segment_size
            start = (end - segment_size).clamp(min=0)
        active = local >= 0
        lengths = torch.where(active, end - start, 0)
        start = torch.where(active, start, 0)

        self._tail_start = num_tokens[None] - (start + lengths)  # valid tokens after each step's segment
        self._active = active
        self._max_length = lengths.max(dim=1).values.tolist()
        self._uniform = (lengths == lengths.max(dim=1, keepdim=True).values).all(dim=1).tolist()
        self._all_active = active.all(dim=1).tolist()
        self._start_cpu = start
        self._start = start.to(device)
        self._lengths = lengths.to(device)
        self._continued = (local >= 1).to(device)

    def shared_start(self, t: int) -> int:
        """The first valid-token index of step `t` when every sample has the same one (equal lengths)."""
        return int(self._start_cpu[t, 0])

    def touches_tail(self, t: int, keep: int) -> bool:
        """Whether step `t` holds one of some sample's last `keep` valid tokens (`keep=0`: every token)."""
        if keep <= 0:
            return True
        return bool(((self._tail_start[t] < keep) & self._active[t]).any())

    def __len__(self) -> int:
        return self.num_steps

    def step(self, t: int) -> SegmentStep:
        if self._all_active[t]:
            rows = None
            start, lengths, continued = self._start[t], self._lengths[t], self._continued[t]
        else:
            rows = self._active[t].nonzero().flatten().to(self._start.device)
            start, lengths, continued = self._start[t][rows], self._lengths[t][rows], self._continued[t][rows]
        return SegmentStep(
            rows=rows,
            valid_start=start,
            lengths=lengths,
            max_length=self._max_length[t],
            uniform=self._uniform[t] and rows is None,
            continued=continued,
        )

    def last_segment_lengths(self) -> torch.Tensor:
        """`(batch,)` tokens of each sample's last segment (every sample runs it at the last step)."""
        return self._lengths[-1]

    def before_last_segment(self) -> torch.Tensor:
        """`(batch, seq_len)` 1 at each sample's valid tokens that precede its last segment, 0 elsewhere (what
        `generate` reads into memory before the last segment runs with the new tokens)."""
        batch = self.num_tokens.shape[0]
        positions = torch.arange(self.seq_len, device=self.num_tokens.device).expand(batch, -1)
        # Rank of each position among its sample's valid tokens (padding ranks after every valid token).
        valid_rank = (
            positions if self.order is None else torch.empty_like(positions).scatter_(1, self.order, positions)
        )
        return (valid_rank < (self.num_tokens - self.last_segment_lengths())[:, None]).long()

    def last_segments(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sample's last segment of `values` (`(batch, seq_len)`), left-padded to the longest one, and the mask
        of its real entries: `(batch, width)` each."""
        last_length = self.last_segment_lengths()
        width = int(last_length.max())
        offsets = torch.arange(width, device=values.device)[None]
        pad = (width - last_length)[:, None]
        index = (self.num_tokens - last_length)[:, None] + offsets
        index = (index - pad).clamp(min=0, max=self.seq_len - 1)
        return self.compact(values).gather(1, index), offsets >= pad

    def original_positions(self, step: SegmentStep, padding_side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
        """`(b, max_length)` positions in the padded input of the step's tokens, and the mask of real entries."""
        index, real = step.valid_index(padding_side)
        index = index.clamp(max=self.seq_len - 1)
        if self.order is not None:
            order = self.order if step.rows is None else self.order[step.rows]
            index = order.gather(1, index)
        return index, real

    def scatter_to_input(
        self, per_step: list[tuple[SegmentStep, torch.Tensor]], padding_side: str, keep: int = 0
    ) -> torch.Tensor | None:
        """
        Puts per-step, per-token values back in the input's order.

        Args:
            per_step (`list`): `(step, values)` pairs, `values` of shape `(rows, max_length, ...)` laid out as the
                layout's content slice.
            padding_side (`str`): Where the layout puts a shorter segment's padding in that slice.
            keep (`int`, *optional*, defaults to 0): Only each sample's last `keep` tokens (0: all).

        Returns:
            `(batch, seq_len, ...)`, zeros at padding, or `(batch, keep, ...)`; None when `per_step` is empty.
        """
        if not per_step:
            return None
        batch = self.num_tokens.shape[0]
        first = per_step[0][1]
        width = self.seq_len if keep <= 0 else keep
        out = first.new_zeros(batch, width + 1, *first.shape[2:])  # the extra column takes padding entries
        for step, values in per_step:
            if keep <= 0:
                index, real = self.original_positions(step, padding_side)
            else:
                index, real = step.valid_index(padding_side)
                tokens = self.num_tokens if step.rows is None else self.num_tokens[step.rows]
                index = index - (tokens - keep)[:, None]
                real = real & (index >= 0)
            index = torch.where(real, index, width)
            rows = torch.arange(batch, device=index.device) if step.rows is None else step.rows
            out.index_put_((rows[:, None].expand_as(index), index), values.to(out.dtype))
        return out[:, :width]

    def compact(self, values: torch.Tensor, fill: float | int = 0) -> torch.Tensor:
        """Moves each sample's valid entries of `values` (`(batch, seq_len, ...)`) to the front, in order."""
        if self.order is None:
            return values
        index = self.order
        if values.dim() > 2:
            index = index.view(*index.shape, *([1] * (values.dim() - 2))).expand(-1, -1, *values.shape[2:])
        return values.gather(1, index)


__all__ = ["SegmentPlan", "SegmentStep"]
