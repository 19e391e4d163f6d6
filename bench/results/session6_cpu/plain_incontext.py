# ruff: noqa: E402  (a study script: sys.path and the thread count are set before the imports)
"""Control without hf_rmt: a plain LlamaForCausalLM (the same tiny builder) trained on whole associative-retrieval
samples in one sequence (no memory, no segments). Does in-context recall of 2 pairs learn at all with this recipe?
Usage:
    [ARCH=gpt2] [KEY_SIZE=1] [VALUES_APART=1] [INIT_STD=0.1] [SEED=1] \\
    python plain_incontext.py PAIRS HIDDEN LAYERS HEADS LR BATCH SECONDS [EMBED_STD]
"""

import os
import sys
import time


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import torch


torch.set_num_threads(1)
from _scratch import build_decoder

from hf_rmt.tasks import AssociativeRetrievalDataset


pairs, hidden, layers, heads = (int(x) for x in sys.argv[1:5])
arch = os.environ.get("ARCH", "llama")
key_size = int(os.environ.get("KEY_SIZE", "2"))
apart = os.environ.get("VALUES_APART") == "1"  # values written with their own symbols (ids shifted past the rest)


def remap(row):
    """VALUES_APART=1: each value symbol s becomes vocab_size + s, in the pairs and in the answer."""
    if not apart:
        return row
    ids, labels = list(row["input_ids"]), list(row["labels"])
    for start in [p * train.pair_length for p in range(pairs)] + [pairs * train.pair_length]:
        at = start + key_size + 1
        ids[at] += train.vocab_size
        if labels[at] != -100:
            labels[at] += train.vocab_size
    return {**row, "input_ids": ids, "labels": labels}


lr, batch, seconds = float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
embed_std = float(sys.argv[8]) if len(sys.argv) > 8 else 0.3
train = AssociativeRetrievalDataset(10**9, pairs, key_size=key_size, fields=["input_ids", "labels"])
val = AssociativeRetrievalDataset(512, pairs, key_size=key_size, split="validation", fields=None)
seed = int(os.environ.get("SEED", "0"))
torch.manual_seed(seed)
model = build_decoder(
    arch,
    train.vocab_size + (16 if apart else 0),
    hidden,
    layers,
    heads,
    train.pair_length * (pairs + 1),
    train.pad_token_id,
    train.eos_token_id,
    embed_std=embed_std,
)
init_std = float(os.environ.get("INIT_STD", "0"))  # re-draw every Linear weight at this std (0: keep 0.02)
if init_std:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0.0, init_std)
opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
vrows = [remap(val.sample(i)) for i in range(512)]
vids = torch.tensor([r["input_ids"] for r in vrows])
vat = torch.tensor([r["prompt_length"] - 1 for r in vrows])
vgold = torch.tensor([r["input_ids"][r["prompt_length"]] for r in vrows])
vlast = torch.tensor([r["input_ids"][(pairs - 1) * train.pair_length + key_size + 1] for r in vrows])
began, step = time.perf_counter(), 0
print(
    f"plain {arch}, key size {key_size}, values apart {apart}, init std {init_std}, seed {seed}, embed std "
    f"{embed_std}, {pairs} pairs in context, hidden {hidden}, {layers} layers, lr {lr}, batch {batch}",
    flush=True,
)
while time.perf_counter() - began < seconds:
    rows = [remap(train.sample(step * batch + i)) for i in range(batch)]
    ids = torch.tensor([r["input_ids"] for r in rows])
    labels = torch.tensor([r["labels"] for r in rows])
    for group in opt.param_groups:
        group["lr"] = lr * min(1.0, (step + 1) / 100)
    loss = model(ids, labels=labels).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    step += 1
    if step % 250 == 0:
        with torch.no_grad():
            guess = model(vids).logits[torch.arange(512), vat].argmax(-1)
        print(
            f"  step {step} ({time.perf_counter() - began:.0f} s): loss {float(loss):.3f}, value right "
            f"{float((guess == vgold).float().mean()):.3f}, answers last {float((guess == vlast).float().mean()):.3f}",
            flush=True,
        )
