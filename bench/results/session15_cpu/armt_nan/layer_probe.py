"""Layer-level probe of ARMT's read/write divisions (hf_rmt.core.memory.associative), CPU, one thread.

Part 1: one read `A phi(q) / (z . phi(q) + EPS)` of a memory holding one key k, where phi(q) and k overlap by `c`
(c = k . phi(q)). The forward is A phi(q)/(z phi(q) + EPS) = beta v c / (gamma c + EPS): bounded by |v| for every c.
The gradients w.r.t. the state and the query/key pre-activations scale as 1/(c + EPS).

Part 2: the same through the write (recalled = k A / (k . z + EPS)).

Part 3: a chain of S segments where each segment's write key depends on the previous read (a tiny residual MLP
between read and write, as the backbone's layers do), with small overlaps: gradient w.r.t. the first segment's
parameters versus S, float32 and bf16 autocast.

Run: python layer_probe.py [--fix]   (--fix: monkeypatch the proposed floor on the denominators)
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import torch
import torch.nn.functional as F

from hf_rmt.core.memory import associative as assoc
from hf_rmt.core.memory.associative import AssociativeLayer, dpfp

torch.set_num_threads(1)


def sparse_x(dim, pairs, scale=3.0, leak=0.0, generator=None):
    """A pre-DPFP vector whose DPFP is concentrated on the products of the given adjacent coordinate pairs: x is
    `scale` at those coordinates and `leak * N(0,1)` elsewhere, so phi(x) overlaps another such vector by ~leak^2."""
    x = leak * torch.randn(dim, generator=generator)
    for i in pairs:
        x[i] = scale
        x[i + 1] = scale
    return x


def part1(fix: bool):
    """One read, overlap varied through `leak`."""
    rows = []
    dim, hidden = 16, 8
    for leak in [1.0, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 1e-4, 0.0]:
        g = torch.Generator().manual_seed(0)
        xk = sparse_x(dim, [0], leak=leak, generator=g).requires_grad_(True)
        xq = sparse_x(dim, [8], leak=leak, generator=g).requires_grad_(True)  # other support than the key
        k = dpfp(xk)[None]  # (1, key_dim)
        q = dpfp(xq)
        v = torch.randn(hidden, generator=g)
        A = (k.T @ v[None]).requires_grad_(True)  # the state after writing (k, v) into an empty memory, beta=1
        z = k[0].detach().clone().requires_grad_(True)
        c = float((k[0] @ q).detach())
        layer = AssociativeLayer(hidden, dim)
        h = torch.zeros(1, 1, hidden)
        # Apply the read by hand, with the module's formula (h + A q / (z.q + EPS)), to get grads w.r.t. A, z, q.
        out = read(q[None, None], A[None], z[None])
        loss = out.sum()
        gA, gz, gxq, gxk = torch.autograd.grad(loss, [A, z, xq, xk], retain_graph=False)
        rows.append(
            dict(
                leak=leak,
                overlap_c=c,
                read_norm=float(out.norm()),
                grad_A=float(gA.norm()),
                grad_z=float(gz.norm()),
                grad_xq=float(gxq.norm()),
                grad_xk=float(gxk.norm()),
            )
        )
    return rows


def read(q, A, z):
    """`A q / (z . q + EPS)` (the module's read less the residual), with the fix if patched in."""
    d = (q * z[:, None, :]).sum(-1, keepdim=True)
    return (q / denominator(d)) @ A


def denominator(d):
    return d + assoc.EPS


def part2():
    """One write against a memory holding k0, the new key k1 overlapping k0 by c: grads of the written A w.r.t. the
    previous state and the keys."""
    rows = []
    dim, hidden = 16, 8
    layer = AssociativeLayer(hidden, dim)
    for leak in [1.0, 1e-1, 1e-2, 1e-3, 1e-4, 0.0]:
        g = torch.Generator().manual_seed(0)
        x0 = sparse_x(dim, [0], leak=leak, generator=g)
        x1 = sparse_x(dim, [8], leak=leak, generator=g).requires_grad_(True)
        k0 = dpfp(x0)[None]
        k1 = dpfp(x1)[None, None]  # (1, 1, key_dim)
        v0 = torch.randn(1, hidden, generator=g)
        A = (k0.T @ v0)[None].requires_grad_(True)
        z = k0.clone().requires_grad_(True)
        seen = k1 @ z[..., None] + assoc.EPS
        recalled = (k1 @ A) / seen
        newA = A + k1.transpose(1, 2) @ (torch.randn(1, 1, hidden, generator=g) - recalled)
        # what a later read with query = k0's direction sees
        loss = (k0[None] @ newA).sum() + (k1 @ newA).sum()
        gA, gz, gx1 = torch.autograd.grad(loss, [A, z, x1])
        rows.append(
            dict(
                leak=leak,
                overlap_c=float((k0 @ k1[0].T).detach()),
                recalled_norm=float(recalled.norm()),
                grad_A=float(gA.norm()),
                grad_z=float(gz.norm()),
                grad_xkey=float(gx1.norm()),
            )
        )
    return rows


class Chain(torch.nn.Module):
    """S segments of one associative layer: per segment, the row (a memory token + content token) reads, passes a
    residual MLP (the backbone stand-in), and the memory token's output writes."""

    def __init__(self, hidden=32, memory_dim=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.layer = AssociativeLayer(hidden, memory_dim)
        self.layer.reset_parameters()
        torch.nn.init.normal_(self.layer.value.weight, std=0.3)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(hidden, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, hidden))
        self.mem = torch.nn.Parameter(torch.randn(1, 1, hidden))

    def forward(self, content, sharp):
        """`content` (batch, S, hidden): one content token per segment. `sharp` scales W_Q/W_K inputs: sharper
        DPFP features, smaller overlaps between keys and queries."""
        b, S, hdim = content.shape
        kd = 6 * self.layer.query.out_features
        A = torch.zeros(b, kd, hdim)
        z = torch.zeros(b, kd)
        dens = []
        for s in range(S):
            row = torch.cat([self.mem.expand(b, -1, -1), content[:, s : s + 1]], dim=1) * sharp
            q = dpfp(self.layer.query(row))
            dens.append(float(((q.float() * z[:, None]).sum(-1)).min()))
            row = self.layer.read(row, A, z) / sharp
            row = row + self.mlp(row)
            A, z = self.layer.write(row[:, :1] * sharp, A, z)
        return row[:, 1].sum(), dens


def part3(autocast: bool):
    rows = []
    for sharp in [1.0, 10.0, 30.0, 100.0]:
        for S in [2, 4, 6, 8]:
            model = Chain()
            g = torch.Generator().manual_seed(1)
            content = torch.randn(4, S, 32, generator=g)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss, dens = model(content, sharp)
            loss.float().backward()
            grads = [p.grad.norm() for p in model.parameters() if p.grad is not None]
            total = float(torch.stack(grads).norm())
            rows.append(
                dict(sharp=sharp, segments=S, loss=float(loss), grad_norm=total, min_read_denominator=min(dens[1:]))
            )
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fix", action="store_true")
    p.add_argument("--out")
    a = p.parse_args()
    if a.fix:
        import patched_associative

        patched_associative.install()
        global denominator
        denominator = patched_associative.denominator
    result = {"fix": a.fix, "part1_read": part1(a.fix), "part2_write": part2(), "part3_chain_fp32": part3(False)}
    result["part3_chain_bf16"] = part3(True)
    for name, rows in result.items():
        if name == "fix":
            continue
        print(f"== {name}")
        keys = list(rows[0])
        print("  ".join(f"{k:>20}" for k in keys))
        for r in rows:
            print("  ".join(f"{r[k]:>20.4g}" if isinstance(r[k], float) else f"{r[k]:>20}" for k in keys))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
