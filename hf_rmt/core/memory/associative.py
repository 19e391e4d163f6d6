# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""ARMT's memory type: per-layer associative memory (Rodkin et al., 2024, arXiv:2407.04841, section 2).

Each layer `l` of the backbone keeps an associative matrix `A_l` and a normaliser `z_l`. Both are the memory state,
passed in and out of every step; the module holds only weights:

- the learned memory tokens, inserted again at every segment (the official `AssociativeMemoryCell` re-inserts its
  `memory` parameter: what carries over between segments is `(A, z)`, not the tokens' outputs);
- per layer, the projections `W_Q`, `W_K` (hidden -> `memory_dim`, no bias), `W_V` (hidden -> hidden, no bias,
  zero-initialised, so that a pretrained backbone starts unchanged) and `W_beta` (hidden -> 1).

Before layer `l`, every position of the row reads (eq. 4): `h <- h + A_l phi(W_Q h) / (z_l . phi(W_Q h))`. After it,
the layer's outputs at the memory positions `m_i` write (eqs. 1-3, the delta rule with the correction `gamma`):

    k_i = phi(W_K m_i), v_i = W_V m_i, beta_i = sigmoid(W_beta m_i)
    v_bar_i = A_l k_i / (z_l . k_i),  gamma_i = 1 - (z_l . k_i) / |k_i|^2   (clipped to [0, 1], detached)
    A_l <- A_l + sum_i beta_i (v_i - v_bar_i) k_i^T,  z_l <- z_l + sum_i gamma_i k_i

`phi` is DPFP-3 (Schlag et al., 2021), L2-normalised as in the official code's later versions: the read is invariant to
the query's scale (numerator and denominator scale alike), and unit-norm keys keep `A` and `z` bounded over thousands
of segments. Without `gamma` (`gamma = 1`) erased keys stay in `z` and the model forgets after hundreds of rewrites
(ARMT App. F.1). The state starts at zero, so the first segment reads nothing (`A_0 phi(q) = 0`) and writes with
`v_bar = 0`, `gamma = 1`: "from the second segment on" needs no flag.

The state is kept in float32 whatever the backbone's dtype: it accumulates over thousands of segments. Writes are
computed in float32 (a few memory tokens); reads, on every position, in the backbone's (or autocast's) dtype.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .base import MemoryUpdate


DPFP_NU = 3  # DPFP-3, as in the paper and the official code
EPS = 1e-5  # the official code's denominator epsilon
DEFAULT_MEMORY_DIM = 64  # d_mem of the official BABILong runs (ARMT App. D)


def dpfp(x: torch.Tensor, nu: int = DPFP_NU) -> torch.Tensor:
    """Deterministic parameter-free projection (Schlag et al., 2021, section 4.2): `(..., d)` -> `(..., 2 * nu * d)`,
    L2-normalised. Entry `j * 2d + i` is `x'_i * x'_{i - j - 1}` with `x' = [relu(x), relu(-x)]` (the official
    code's order)."""
    x = torch.cat([F.relu(x), F.relu(-x)], dim=-1)
    rolled = torch.stack([x.roll(shifts=j, dims=-1) for j in range(1, nu + 1)], dim=-2)  # (..., nu, 2d)
    return F.normalize((x.unsqueeze(-2) * rolled).flatten(-2), dim=-1)


class AssociativeLayer(nn.Module):
    """
    The projections of one layer's associative memory.

    Args:
        hidden_size (`int`): The backbone's hidden size.
        memory_dim (`int`): Size of keys and queries before DPFP.
        denominator_floor (`float`, *optional*, defaults to 0): Floor on the read's and the recall's dot products
            with `z` before `+ EPS` (`RMTConfig.memory_denominator_floor`); 0 is the official formula.
        dtype (`torch.dtype`, *optional*), device (`torch.device`, *optional*): Of the parameters.
    """

    def __init__(self, hidden_size: int, memory_dim: int, dtype=None, device=None, denominator_floor: float = 0.0):
        super().__init__()
        self.denominator_floor = float(denominator_floor)
        factory = {"dtype": dtype, "device": device}
        self.query = nn.Linear(hidden_size, memory_dim, bias=False, **factory)
        self.key = nn.Linear(hidden_size, memory_dim, bias=False, **factory)
        self.value = nn.Linear(hidden_size, hidden_size, bias=False, **factory)
        self.beta = nn.Linear(hidden_size, 1, **factory)

    def reset_parameters(self) -> None:
        for linear in (self.query, self.key, self.beta):
            linear.reset_parameters()
        # Zero values: the first reads add nothing, so wrapping a pretrained backbone starts from its own behaviour.
        nn.init.zeros_(self.value.weight)

    def read(self, hidden: torch.Tensor, matrix: torch.Tensor, normaliser: torch.Tensor) -> torch.Tensor:
        """`hidden + A phi(q) / (z . phi(q))` at every position (eq. 4). Computed in the dtype of the projection's
        output (the backbone's, or autocast's): the read is the one part of ARMT that runs on every position, and its
        result joins hidden states of that dtype anyway; the state itself stays float32."""
        query = dpfp(self.query(hidden))  # (batch, length, key_dim)
        # `A q / d = A (q / d)`: dividing the query (key_dim wide) instead of the read (hidden wide) lets the GEMM add
        # the hidden states in its epilogue: one pass over the queries and one GEMM, where the plain form ran a GEMM,
        # a GEMV and a pass over three hidden-sized tensors. Eager on CPU the read takes 0.6x the time; compiled on
        # an H200 inductor had fused the plain form as well (ARMT/RMT 0.813 after, 0.823 before: run-to-run noise;
        # bench/results/session13_gpu).
        dot = (query * normaliser.to(query.dtype)[:, None, :]).sum(-1, keepdim=True)  # (b, length, 1)
        scaled = query / (self._floored(dot) + EPS)
        if scaled.dtype == hidden.dtype:
            return torch.baddbmm(hidden, scaled, matrix.to(scaled.dtype))
        # Autocast: a float32 residual stream must not pass through the half-precision GEMM.
        return hidden + (scaled @ matrix.to(scaled.dtype)).to(hidden.dtype)

    def _floored(self, dot: torch.Tensor) -> torch.Tensor:
        # `z` lags `A`: gamma adds to `z` only the part of a key not yet in it while `A` takes the whole key, so for a
        # key k2 = sqrt(1 - s^2) k1 + s e, A gains s along e and z about s^3 / 2. A query along e then divides a
        # small numerator by a far smaller dot: with EPS alone its read is amplified up to ~1e3x, and the gradients
        # of A and z up to 1e5x and 1e8x; through layers and segments that overflowed a bf16 run (NaN gradient with a
        # finite loss; bench/results/session15_cpu/armt_nan). Dots above the floor divide as the official code does.
        return dot.clamp_min(self.denominator_floor) if self.denominator_floor else dot

    def write(
        self, memory: torch.Tensor, matrix: torch.Tensor, normaliser: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The next `(A, z)` from the layer's outputs at the memory positions, `memory` `(batch, m, hidden)`."""
        key = dpfp(self.key(memory).float())  # (batch, m, key_dim), unit norm
        value = self.value(memory).float()
        beta = torch.sigmoid(self.beta(memory).float())  # (batch, m, 1)
        seen = key @ normaliser[..., None]  # z . phi(k), (batch, m, 1)
        recalled = (key @ matrix) / (self._floored(seen) + EPS)  # v_bar: what A holds for these keys now
        # gamma: the part of the key not yet in z (|phi(k)| = 1), from the dot without the floor, as the official
        # `1 - (z . k + EPS)`; no gradient through it, as in the paper and code.
        gamma = (1 - (seen + EPS)).clamp(0, 1).detach()
        # One fused update (A + k^T (beta (v - v_bar))): the unfused form wrote the product to a temporary of A's size
        # and read both back, A being the largest tensor of the write (batch x 6 memory_dim x hidden, float32).
        matrix = torch.baddbmm(matrix, key.transpose(1, 2), beta * (value - recalled))
        normaliser = normaliser + (gamma * key).sum(dim=1)
        return matrix, normaliser


class AssociativeMemory(nn.Module, MemoryUpdate):
    """
    ARMT's memory: the learned memory tokens and every layer's associative projections, and the update rule over the
    per-layer state `(A_0, z_0, A_1, z_1, ...)`. Holds weights only; the state is an argument and a return value.

    Args:
        num_memory_tokens (`int`): Memory tokens inserted in every segment.
        hidden_size (`int`): The backbone's hidden size.
        num_layers (`int`): Number of backbone layers (one associative memory each).
        memory_dim (`int`, *optional*, defaults to 64): Size of keys and queries before DPFP-3.
        init_std (`float`, *optional*, defaults to 0.02): Standard deviation of the initial memory tokens.
        dtype (`torch.dtype`, *optional*), device (`torch.device`, *optional*): Of the parameters.
        denominator_floor (`float`, *optional*, defaults to 0): `RMTConfig.memory_denominator_floor` (0: none, the
            official formula).

    Shape:
        state: a tuple of `2 * num_layers` float32 tensors, `A_l` `(batch, 6 * memory_dim, hidden_size)` at index
        `2 * l` and `z_l` `(batch, 6 * memory_dim)` at `2 * l + 1`.
    """

    acts_in_layers: ClassVar[bool] = True

    def __init__(
        self,
        num_memory_tokens: int,
        hidden_size: int,
        num_layers: int,
        memory_dim: int = DEFAULT_MEMORY_DIM,
        init_std: float = 0.02,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        denominator_floor: float = 0.0,
    ):
        super().__init__()
        self.init_std = init_std
        self.memory_dim = memory_dim
        self.denominator_floor = float(denominator_floor)
        self.weight = nn.Parameter(torch.empty(num_memory_tokens, hidden_size, dtype=dtype, device=device))
        self.layers = nn.ModuleList(
            AssociativeLayer(hidden_size, memory_dim, dtype=dtype, device=device, denominator_floor=denominator_floor)
            for _ in range(num_layers)
        )
        if self.weight.device.type != "meta":
            self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight, mean=0.0, std=self.init_std)
        for layer in self.layers:
            layer.reset_parameters()

    @property
    def num_memory_tokens(self) -> int:
        return self.weight.shape[0]

    @property
    def key_dim(self) -> int:
        return 2 * DPFP_NU * self.memory_dim

    def state_shapes(self, batch_size: int) -> list[tuple[int, ...]]:
        """The shape of each tensor of a state, in order."""
        hidden = self.weight.shape[1]
        return [(batch_size, self.key_dim, hidden), (batch_size, self.key_dim)] * len(self.layers)

    def initial_state(self, batch_size: int) -> tuple[torch.Tensor, ...]:
        """Empty associative memories (`A = 0`, `z = 0`): the first segment reads nothing."""
        device = self.weight.device
        return tuple(torch.zeros(shape, device=device) for shape in self.state_shapes(batch_size))

    # ---------------------------------------------------------------- the update rule (`MemoryUpdate`)

    def read(self, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The learned memory tokens, the same at every segment."""
        return self.weight.unsqueeze(0).expand(state[0].shape[0], -1, -1)

    def read_in_layer(self, state: tuple[torch.Tensor, ...], index: int, hidden: torch.Tensor) -> torch.Tensor:
        """Layer `index`'s input after its associative read."""
        return self.layers[index].read(hidden, state[2 * index], state[2 * index + 1])

    def write_in_layer(
        self, state: tuple[torch.Tensor, ...], index: int, memory: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer `index`'s next `(A, z)` from its outputs at the memory positions."""
        return self.layers[index].write(memory, state[2 * index], state[2 * index + 1])

    def write(self, state: tuple[torch.Tensor, ...], written: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple:
        """The next state from every layer's `write_in_layer` result, in layer order."""
        missing = [index for index, part in enumerate(written) if part is None]
        if len(written) != len(self.layers) or missing:
            raise RuntimeError(
                f"The associative memory has {len(self.layers)} layers, but the backbone call ran {len(written)} "
                f"blocks and layers {missing} wrote nothing: every block of the backbone must run once a step."
            )
        return tuple(tensor for pair in written for tensor in pair)

    def extra_repr(self) -> str:
        return (
            f"num_memory_tokens={self.weight.shape[0]}, hidden_size={self.weight.shape[1]}, "
            f"num_layers={len(self.layers)}, memory_dim={self.memory_dim}"
            + (f", denominator_floor={self.denominator_floor}" if self.denominator_floor else "")
        )


__all__ = ["AssociativeLayer", "AssociativeMemory", "dpfp"]
