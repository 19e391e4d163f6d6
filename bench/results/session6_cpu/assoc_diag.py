# ruff: noqa: E402  (a study script: sys.path and the thread count are set before the imports)
"""Diagnostics for associative retrieval (session 6 CPU study): does gradient reach the first pair's segment through
memory, and how long does one training step take? Usage: python assoc_diag.py [rmt|associative] HIDDEN LAYERS MEM"""

import os
import sys
import time


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import torch


torch.set_num_threads(1)
from _scratch import build_decoder

import hf_rmt
from hf_rmt.tasks import AssociativeRetrievalDataset


kind, hidden, layers, mem = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = AssociativeRetrievalDataset(64, 2, fields=["input_ids", "labels"])
torch.manual_seed(0)
backbone = build_decoder(
    "llama", data.vocab_size, hidden, layers, 2, 5 + 2 * mem, data.pad_token_id, data.eos_token_id, embed_std=0.3
)
config = hf_rmt.RMTConfig(
    num_memory_tokens=mem, segment_size=5, memory_type=kind, memory_dim=16 if kind == "associative" else None
)
model = hf_rmt.get_rmt_model(backbone, config, train_backbone=True)
rows = [data.sample(i) for i in range(64)]
ids = torch.tensor([r["input_ids"] for r in rows])
labels = torch.tensor([r["labels"] for r in rows])
# Gradient w.r.t. each token's embedding: hook the embedding output per call (one call per segment).
grads = []


def hook(module, inp, out):
    out.retain_grad()
    grads.append(out)


h = backbone.get_input_embeddings().register_forward_hook(hook)
loss = model(ids, labels=labels).loss
loss.backward()
h.remove()
print("loss", float(loss.detach()), "embedding calls", len(grads), [tuple(g.shape) for g in grads])
for i, g in enumerate(grads):
    print(f"  call {i}: |grad| per content position", [f"{x:.2e}" for x in g.grad.norm(dim=-1).mean(0).tolist()])
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
data = AssociativeRetrievalDataset(10**6, 2, fields=["input_ids", "labels"])
for bs in (64, 128):
    rows = [data.sample(i) for i in range(bs)]
    ids = torch.tensor([r["input_ids"] for r in rows])
    labels = torch.tensor([r["labels"] for r in rows])
    for k in range(6):
        if k == 1:
            t = time.perf_counter()
        model(ids, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    print(f"batch {bs}, 2 pairs: {(time.perf_counter() - t) / 5 * 1000:.0f} ms/step")
