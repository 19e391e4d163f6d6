# ruff: noqa: E402  (a study script: sys.path and the thread count are set before the imports)
"""Run bench/train_algorithmic.py on one thread, then (with --save-weights) split the test exact match by which pair
the question asks: does the model answer the last pair only? Usage: python run1t.py TRAIN_ALGORITHMIC_ARGS..."""

import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import torch


torch.set_num_threads(1)
import train_algorithmic as ta
from _scratch import build_decoder
from safetensors.torch import load_file

import hf_rmt
from hf_rmt.tasks import AssociativeRetrievalDataset


argv = sys.argv[1:]
record = ta.main(argv)
args = ta.parse_args(argv)
if args.save_weights:
    data = AssociativeRetrievalDataset(10**6, 2, num_symbols=16)
    backbone = build_decoder(
        args.arch,
        data.vocab_size,
        args.hidden,
        args.layers,
        args.heads,
        args.segment_size + 2 * args.num_memory_tokens,
        data.pad_token_id,
        data.eos_token_id,
    )
    config = hf_rmt.RMTConfig(
        num_memory_tokens=args.num_memory_tokens,
        segment_size=args.segment_size,
        memory_type=args.memory_type,
        memory_dim=args.memory_dim,
    )
    model = hf_rmt.get_rmt_model(backbone, config, train_backbone=True)
    model.load_state_dict({k: v.float() for k, v in load_file(args.save_weights).items()})
    model.eval()
    for pairs in (2, 3, 4):
        data = AssociativeRetrievalDataset(
            10**6, pairs, num_symbols=16, variant=args.variant, split="test", seed=args.seed, fields=None
        )
        rows = [data.sample(i) for i in range(1024)]
        ids = torch.tensor([r["input_ids"] for r in rows])
        with torch.no_grad():
            logits = model(ids).logits
        at = torch.tensor([r["prompt_length"] - 1 for r in rows])
        guess = logits[torch.arange(len(rows)), at].argmax(-1)
        right = guess == torch.tensor([r["values"][r["query_pair"]][0] for r in rows])
        last = guess == torch.tensor([r["values"][-1][0] for r in rows])
        by_pair = []
        for q in range(pairs):
            pick = torch.tensor([r["query_pair"] == q for r in rows])
            by_pair.append(f"{float(right[pick].float().mean()):.2f}")
        print(
            f"  {pairs} pairs: value right {float(right.float().mean()):.3f}; by asked pair {by_pair}; "
            f"answers the last pair's value {float(last.float().mean()):.3f}",
            flush=True,
        )
