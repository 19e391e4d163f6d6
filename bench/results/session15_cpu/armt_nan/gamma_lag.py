"""The read/recall ratio A q / (z . q + EPS) when z lags A: ARMT's correction gamma = 1 - k.z (clipped to [0, 1],
detached) adds to z only the part of a key not yet in z, while A takes the whole key. A key k2 = sqrt(1-s^2) e1 + s e2
written after k1 = e1 puts s (v2 - v_bar) into A's e2 row but only gamma k2 ~ (s^2/2) s e2 = s^3/2 into z. A query
(or a later write's key) on e2 then reads A q / (z q + EPS) ~ 2 beta (v2 - v_bar) / s^2: amplified by up to ~1/EPS^(2/3),
in forward, and in backward dL/dz ~ |A q| / d^2, dL/dA ~ 1/d.

Run: python gamma_lag.py [--floor F]  (F: the proposed floor on the denominator dot; default none = the module's math)
"""
import argparse
import json

import torch

torch.set_num_threads(1)
EPS = 1e-5
p = argparse.ArgumentParser()
p.add_argument("--floor", type=float, default=None)
a = p.parse_args()


def den(dot):
    return dot + EPS if a.floor is None else dot.clamp_min(a.floor) + EPS


def write(k, v, beta, A, z):
    """hf_rmt's write for one key (batch-free): k (n,), v (h,)."""
    dot = k @ z
    recalled = (k @ A) / den(dot)
    gamma = (1 - (dot + EPS)).clamp(0, 1).detach()
    return A + torch.outer(k, beta * (v - recalled)), z + gamma * k


rows = []
n, h = 6, 4
e = torch.eye(n)
torch.manual_seed(0)
for s in [0.5, 0.3, 0.1, 0.05, 0.03, 0.02, 0.01, 3e-3, 1e-3]:
    v1, v2 = torch.randn(h), torch.randn(h)
    g = torch.randn(h)
    x = torch.tensor(s, requires_grad=True)  # the small component of k2, a trainable quantity
    v2p = v2.clone().requires_grad_(True)
    A, z = torch.zeros(n, h), torch.zeros(n)
    A, z = write(e[0], v1, 1.0, A, z)
    k2 = torch.sqrt(1 - x**2) * e[0] + x * e[1]
    A, z = write(k2, v2p, 1.0, A, z)
    A.retain_grad(), z.retain_grad()
    q = e[1]
    read = (q @ A) / den(q @ z)
    (read @ g).backward()
    rows.append(dict(s=s, z_dot_q=float(q @ z), read_over_value=float(read.norm() / v2.norm()),
                     grad_A=float(A.grad.norm()), grad_z=float(z.grad.norm()), grad_s=float(x.grad.abs()),
                     grad_v2=float(v2p.grad.norm())))
keys = list(rows[0])
print(f"floor={a.floor}")
print("  ".join(f"{k:>14}" for k in keys))
for r in rows:
    print("  ".join(f"{r[k]:>14.4g}" for k in keys))
json.dump(rows, open(f"gamma_lag_floor{a.floor}.json", "w"), indent=1)
