"""Gradient check: does the loss of a 2-segment qa1 batch reach the segment-1 input embeddings (no detached memory)?

Usage (with common.sh sourced): gradcheck.py [MODEL_DIR] (default: the stage-1 LoRA model /tmp/qa1runs/s1_lora_s0)
"""

import os
import sys

import torch

from hf_rmt.cli import _load_for_eval
from hf_rmt.tasks import make_dataset


path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/qa1runs/s1_lora_s0"
m, tok, _ = _load_for_eval(path, "cpu", backbone=os.environ["MINILM"])
m.train()
ds = make_dataset("qa1", tok, 8, 128, split="test")
ids = torch.tensor([ds[i]["input_ids"] for i in range(8)])
labels = torch.tensor([ds[i]["answer_class"] for i in range(8)])
x = m.backbone.get_input_embeddings()(ids).detach().requires_grad_(True)
out = m(inputs_embeds=x, labels=labels)
out.loss.backward()
g = x.grad.norm(dim=-1).mean(0)
print(f"grad norm per token, seg1 mean {g[:64].mean():.3e} seg2 mean {g[64:].mean():.3e}")
