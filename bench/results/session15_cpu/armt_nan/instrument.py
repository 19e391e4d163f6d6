"""Monkeypatches (in this process only) `AssociativeLayer.read` / `.write` of hf_rmt with copies of the same math that
record, per call: the smallest read denominator `z . phi(q)` and write `k . z` (before `+ EPS`), and, in backward,
the largest |gradient| reaching the read's `scaled = q / d`, its denominator, the write's `recalled` and `seen`, and
the state gradients (dL/dA, dL/dz) entering each read/write; plus the first tensor whose gradient is not finite.

`install(fix=None)`: the module's math as is. `install(fix="floor")`: the proposed denominator floor (see
patched_associative.py).
"""

from __future__ import annotations

import math

import torch

from hf_rmt.core.memory import associative as assoc
from hf_rmt.core.memory.associative import EPS, dpfp

RECORDS: list[dict] = []  # one per read/write call: forward stats, and backward stats filled in by hooks
CALLS = {"n": 0}
FIRST_NONFINITE: list[dict] = []
FLOOR = {"value": None}  # None: original (+ EPS); a float: d = clamp_min(dot, FLOOR) + EPS ... see denom()


def denom(dot: torch.Tensor) -> torch.Tensor:
    if FLOOR["value"] is None:
        return dot + EPS
    return dot.clamp_min(FLOOR["value"]) + EPS


def _hook(record, name):
    def hook(grad):
        g = grad.detach().float()
        finite = bool(torch.isfinite(g).all())
        value = float(g.abs().max()) if finite else math.inf
        record[name] = max(record.get(name, 0.0), value)
        if not finite and not FIRST_NONFINITE:
            FIRST_NONFINITE.append({"call": record["call"], "op": record["op"], "layer": record["layer"], "tensor": name})
        return grad

    return hook


def _new_record(op, layer):
    CALLS["n"] += 1
    rec = {"call": CALLS["n"], "op": op, "layer": layer}
    RECORDS.append(rec)
    return rec


def read(self, hidden, matrix, normaliser):
    query = dpfp(self.query(hidden))
    dot = (query * normaliser.to(query.dtype)[:, None, :]).sum(-1, keepdim=True)
    denominator = denom(dot)
    scaled = query / denominator
    if torch.is_grad_enabled():
        rec = _new_record("read", getattr(self, "_probe_index", -1))
        rec["first"] = bool(not normaliser.detach().any())
        rec["min_dot"] = float(dot.detach().float().min())
        rec["frac_dot_lt_1e-3"] = float((dot.detach().float() < 1e-3).float().mean())
        rec["dtype"] = str(query.dtype)
        rec["max_read"] = float((scaled.detach().float() @ matrix.detach().float()).abs().max())
        rec["max_hidden"] = float(hidden.detach().float().abs().max())
        for name, t in (("g_scaled", scaled), ("g_denominator", denominator), ("g_A_in", matrix), ("g_z_in", normaliser)):
            if t.requires_grad:
                t.register_hook(_hook(rec, name))
    if scaled.dtype == hidden.dtype:
        return torch.baddbmm(hidden, scaled, matrix.to(scaled.dtype))
    return hidden + (scaled @ matrix.to(scaled.dtype)).to(hidden.dtype)


def write(self, memory, matrix, normaliser):
    key = dpfp(self.key(memory).float())
    value = self.value(memory).float()
    beta = torch.sigmoid(self.beta(memory).float())
    dot = key @ normaliser[..., None]
    seen = denom(dot)
    recalled = (key @ matrix) / seen
    gamma = (1 - (dot + EPS)).clamp(0, 1).detach()  # gamma as the module computes it (from dot + EPS)
    if torch.is_grad_enabled():
        rec = _new_record("write", getattr(self, "_probe_index", -1))
        rec["min_dot"] = float(dot.detach().min())
        rec["frac_dot_lt_1e-3"] = float((dot.detach() < 1e-3).float().mean())
        rec["first"] = bool(not normaliser.detach().any())
        rec["max_recalled"] = float(recalled.detach().abs().max())
        rec["max_value"] = float(value.detach().abs().max())
        rec["frac_gamma0"] = float((gamma == 0).float().mean())
        for name, t in (("g_recalled", recalled), ("g_seen", seen), ("g_A_in", matrix), ("g_z_in", normaliser)):
            if t.requires_grad:
                t.register_hook(_hook(rec, name))
    matrix = torch.baddbmm(matrix, key.transpose(1, 2), beta * (value - recalled))
    normaliser = normaliser + (gamma * key).sum(dim=1)
    return matrix, normaliser


def install(floor: float | None = None):
    FLOOR["value"] = floor
    assoc.AssociativeLayer.read = read
    assoc.AssociativeLayer.write = write
    original_read, original_write = assoc.AssociativeMemory.read_in_layer, assoc.AssociativeMemory.write_in_layer

    def read_in_layer(self, state, index, hidden):
        self.layers[index]._probe_index = index
        return original_read(self, state, index, hidden)

    def write_in_layer(self, state, index, memory):
        self.layers[index]._probe_index = index
        return original_write(self, state, index, memory)

    assoc.AssociativeMemory.read_in_layer = read_in_layer
    assoc.AssociativeMemory.write_in_layer = write_in_layer


def summary():
    """Per op: the smallest forward dot, the largest backward |grad| of each recorded tensor, over RECORDS."""
    out = {}
    for rec in RECORDS:
        op = rec["op"]
        s = out.setdefault(op, {"min_dot": math.inf, "n": 0})
        s["n"] += 1
        if not rec.get("first"):  # the first segment's z = 0: its dot is 0 by construction
            s["min_dot"] = min(s["min_dot"], rec["min_dot"])
        for k, v in rec.items():
            if k.startswith(("g_", "max_", "frac_")):
                s[k] = max(s.get(k, 0.0), v)
    if FIRST_NONFINITE:
        out["first_nonfinite"] = FIRST_NONFINITE[0]
    return out


def index_layers(model):
    memory = model.memory if hasattr(model, "memory") else model.base_model.memory
    for i, layer in enumerate(memory.layers):
        layer._probe_index = i


def reset():
    RECORDS.clear()
    FIRST_NONFINITE.clear()
    CALLS["n"] = 0
