# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The last layer of a memory-only step computed at the memory rows only.

A memory-only step (every segment of a long input but the few whose outputs are kept; what the CUDA-graph fast path
replays) needs one thing from the backbone's last layer: its output at the positions the layout reads memory from.
Every other row of that layer is computed and dropped. In a BERT-style layer the rows are independent after the
attention's keys and values: the query, the attention itself, its output projection and the feed-forward network
can run on the memory rows alone (10 of 512 rows in the 1M-token paper's setting), which leaves of the last layer
little more than its key and value projections. For MiniLM-L6 that is most of one layer in six; for BERT-base one
in twelve.

Only layers whose structure is known are pruned (`PRUNABLE_LAYERS`: BERT's post-norm layer, shared by RoBERTa,
XLM-R, CamemBERT and ELECTRA): self-attention with absolute positions, no cross-attention, no chunked feed-forward,
no forward of its own on the instance. Any other block keeps its own forward. The result is the same to float
rounding (the attention of 10 query rows runs as its own kernel): tests/test_memory_rows.py compares it with the
whole layer.

Training too, without dropout: in a sequence classifier every segment but the last is such a step (only its memory
goes on), and the pruned rows would get no gradient anyway, so gradients are the whole layer's. Not with dropout (the
pruned rows would draw no masks, which changes every later mask of a seeded run) nor with the backbone's own gradient
checkpointing (`can_prune`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from weakref import WeakKeyDictionary

import torch
import torch.nn.functional as F
from torch import nn


# Class names of the layers `memory_rows_forward` reproduces: `attention.self` (query, key, value),
# `attention.output(attention, input)`, `intermediate(x)`, `output(intermediate, x)`, in transformers 5.x.
PRUNABLE_LAYERS = frozenset({"BertLayer", "RobertaLayer", "XLMRobertaLayer", "CamembertLayer", "ElectraLayer"})

# One pruned forward per (layer, rows): compiled code guards on the function a module calls, so every step of a
# capture must see the same object.
_forwards: WeakKeyDictionary[nn.Module, dict[tuple[int, int], Callable]] = WeakKeyDictionary()


def can_prune(layer: nn.Module, config) -> bool:
    """Whether `layer` (the backbone's last block) is one `memory_rows_forward` reproduces, as configured now."""
    if type(layer).__name__ not in PRUNABLE_LAYERS:
        return False
    if layer.training and ("_gradient_checkpointing_func" in vars(layer) or _drops_out(layer)):
        # The backbone's own gradient checkpointing would recompute the layer in backward with its own forward, not
        # the pruned one (and hf_rmt's segment recomputation toggles it between a step's two runs): never pruned in
        # training once it was set up. Nor with dropout: the pruned rows would draw no masks, so every later mask of
        # the run would differ from an unpruned run's, and a seed would no longer give the same training with and
        # without another option (the backbone's checkpointing, tests/test_training.py).
        return False
    if "forward" in vars(layer):  # a forward of its own (accelerate's offloading hooks set one): left alone
        return False
    attention = getattr(layer, "attention", None)
    self_attention = getattr(attention, "self", None)
    if self_attention is None or not all(hasattr(self_attention, n) for n in ("query", "key", "value")):
        return False
    return (
        not getattr(config, "is_decoder", False)
        and not getattr(config, "add_cross_attention", False)
        and getattr(config, "position_embedding_type", "absolute") in (None, "absolute")
        and not getattr(layer, "chunk_size_feed_forward", 0)
        and hasattr(layer, "intermediate")
        and hasattr(layer, "output")
    )


def _drops_out(layer: nn.Module) -> bool:
    """Whether `layer` applies dropout in training (an `nn.Dropout` with p > 0; BERT's attention reads its own)."""
    return any(isinstance(module, nn.Dropout) and module.p > 0 for module in layer.modules())


def memory_rows_forward(layer: nn.Module, rows: slice) -> Callable:
    """The layer's forward computing its output at `rows` only; the other rows of the result are its input's."""
    cache = _forwards.setdefault(layer, {})
    key = (rows.start, rows.stop)
    if key in cache:
        return cache[key]
    self_attention = layer.attention.self
    heads, head_size = self_attention.num_attention_heads, self_attention.attention_head_size
    scale = getattr(self_attention, "scaling", head_size**-0.5)

    def forward(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, *args, **kwargs):
        batch, length, _ = hidden_states.shape
        selected = hidden_states[:, rows]
        query = self_attention.query(selected).view(batch, -1, heads, head_size).transpose(1, 2)
        key_ = self_attention.key(hidden_states).view(batch, length, heads, head_size).transpose(1, 2)
        value = self_attention.value(hidden_states).view(batch, length, heads, head_size).transpose(1, 2)
        mask = attention_mask
        if mask is not None and mask.dim() == 4 and mask.shape[-2] == length:
            mask = mask[:, :, rows]  # the selected queries' rows of a per-query mask
        attended = F.scaled_dot_product_attention(query, key_, value, attn_mask=mask, scale=scale)  # no dropout
        attended = attended.transpose(1, 2).reshape(batch, -1, heads * head_size)
        attention_output = layer.attention.output(attended, selected)
        output = layer.output(layer.intermediate(attention_output), attention_output)
        # The full shape the encoder expects; only `rows` are read back (the layout's memory positions).
        return torch.cat([hidden_states[:, : rows.start], output, hidden_states[:, rows.stop :]], dim=1)

    cache[key] = forward
    return forward


@contextmanager
def last_layer_at_rows(layer: nn.Module | None, rows: slice | None) -> Iterator[bool]:
    """
    Within the block, `layer` (the backbone's last block, one `can_prune` accepts) computes its output at `rows`
    only (yields whether it does). For memory-only steps, whose only use of the last layer is its output at the
    memory positions; `rows=None` or `layer=None` changes nothing.
    """
    if rows is None or layer is None:
        yield False
        return
    layer.forward = memory_rows_forward(layer, rows)
    try:
        yield True
    finally:
        del layer.forward


def read_rows(read: Callable[[torch.Tensor], torch.Tensor], length: int) -> slice | None:
    """The positions `read` (a layout's `read_memory`) takes from a row of `length`, as a slice, or None when they
    are not one contiguous range."""
    positions = read(torch.arange(length).view(1, length, 1))[0, :, 0].tolist()
    if not positions or positions != list(range(positions[0], positions[0] + len(positions))):
        return None
    return slice(positions[0], positions[0] + len(positions))


__all__ = ["PRUNABLE_LAYERS", "can_prune", "last_layer_at_rows", "memory_rows_forward", "read_rows"]
