"""Associative retrieval (ARMT paper, arXiv:2407.04841, section 3): a tiny Llama-style decoder trained from scratch
with ARMT and with RMT, the same budget for both, then exact match against the number of key-value pairs.

    PYTHONPATH=$PWD python bench/train_associative_retrieval.py --output-dir bench/results/ar_h200   # GPU, ~3-4 min
    PYTHONPATH=$PWD python bench/train_associative_retrieval.py --quick --device cpu --output-dir /tmp/ar  # smoke test

Each model is a `LlamaForCausalLM` of 4 layers, hidden 128 (4 heads, MLP 512), over the task's own 20-token
vocabulary, wrapped with `--num-memory-tokens` memory tokens and one pair per segment (`segment_size` = pair length,
5 tokens), trained in full (`train_backbone=True`) with AdamW. Curriculum over the number of pairs
(`--curriculum`, `--steps-per-stage` steps each); within a stage each batch draws its number of pairs uniformly from
1 to the stage's (the official `vary_n_segments`). Loss: next-token loss on the answer (value and EOS) only. After
training, exact match (greedy: every value token argmax-correct, teacher-forced, which equals greedy decoding's
all-or-nothing answer) on `--eval-samples` test samples at each of `--eval-pairs` (default up to 10x the longest
training stage). `--variant rewrite` (default) repeats keys, so longer inputs mean more rewrites (the paper trains on
50 pairs and tests on 500); `--num-keys` shrinks the key pool for denser rewrites.

`--max-train-seconds` caps each model's training time (the GPU time is scarce): a capped run says so in the JSON.
Writes `associative_retrieval.json` and `associative_retrieval.log` into `--output-dir`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

import hf_rmt
from hf_rmt.tasks import AssociativeRetrievalDataset


def int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="a tiny model and a few steps (smoke test)")
    parser.add_argument("--memory-types", default="associative,rmt")
    parser.add_argument("--variant", choices=("remember", "rewrite"), default="rewrite")
    parser.add_argument("--num-keys", type=int, default=None, help="key pool (default: all 256 two-symbol keys)")
    parser.add_argument("--curriculum", type=int_list, default=None, help="pairs per stage (default 1,2,4,8,16)")
    parser.add_argument("--steps-per-stage", type=int, default=None, help="default 300")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--num-memory-tokens", type=int, default=8)
    parser.add_argument("--memory-dim", type=int, default=32, help="ARMT's key size (the paper's 32 for this task)")
    parser.add_argument("--eval-pairs", type=int_list, default=None, help="default: 1, 2, 4, ..., 10x the last stage")
    parser.add_argument("--eval-samples", type=int, default=256)
    parser.add_argument("--max-train-seconds", type=float, default=100.0, help="per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=100, help="log the mean loss every N steps")
    args = parser.parse_args(argv)
    if args.curriculum is None:
        args.curriculum = [1, 2] if args.quick else [1, 2, 4, 8, 16]
    if args.steps_per_stage is None:
        args.steps_per_stage = 3 if args.quick else 300
    if args.quick:
        args.batch_size = min(args.batch_size, 8)
        args.eval_samples = min(args.eval_samples, 8)
    if args.eval_pairs is None:
        top = args.curriculum[-1]
        args.eval_pairs = sorted({1, 2, 4, *args.curriculum, 2 * top, 5 * top, 10 * top})
    return args


def build_model(args, data: AssociativeRetrievalDataset, memory_type: str, device: torch.device):
    torch.manual_seed(args.seed)  # the same backbone initialisation for every memory type
    hidden, layers = (32, 2) if args.quick else (128, 4)
    config = LlamaConfig(
        vocab_size=data.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=4 * hidden,
        max_position_embeddings=64,
        pad_token_id=data.pad_token_id,
        bos_token_id=None,
        eos_token_id=data.eos_token_id,
    )
    config._attn_implementation = "sdpa"
    backbone = LlamaForCausalLM(config)
    rmt_kwargs = {"num_memory_tokens": args.num_memory_tokens, "segment_size": data.pair_length}
    if memory_type == "associative":
        rmt_kwargs.update(memory_type="associative", memory_dim=8 if args.quick else args.memory_dim)
    model = hf_rmt.get_rmt_model(backbone, hf_rmt.RMTConfig(**rmt_kwargs), train_backbone=True)
    return model.to(device)


class Batches:
    """Fresh training samples: for each batch a number of pairs in 1..`max_pairs`, all samples of a batch alike (no
    padding). Deterministic given the seed."""

    def __init__(self, args, max_pairs: int):
        self.args = args
        self.rng = np.random.default_rng([args.seed, max_pairs])
        self.datasets: dict[int, AssociativeRetrievalDataset] = {}
        self.max_pairs = max_pairs
        self.drawn = 0

    def next(self, device: torch.device) -> torch.Tensor:
        n = int(self.rng.integers(1, self.max_pairs + 1))
        if n not in self.datasets:
            self.datasets[n] = dataset(self.args, n, "train", 10**9)
        data = self.datasets[n]
        start = self.drawn
        self.drawn += self.args.batch_size
        rows = [data.sample((start + i) % data.num_samples)["input_ids"] for i in range(self.args.batch_size)]
        return torch.tensor(rows, device=device)


def dataset(args, num_pairs: int, split: str, num_samples: int, fields=("input_ids",)) -> AssociativeRetrievalDataset:
    return AssociativeRetrievalDataset(
        num_samples,
        num_pairs,
        variant=args.variant,
        num_keys=args.num_keys,
        split=split,
        seed=args.seed,
        fields=list(fields),
    )


def answer_labels(ids: torch.Tensor, value_size: int) -> torch.Tensor:
    """-100 everywhere but the answer (value and EOS): the last `value_size + 1` tokens."""
    labels = torch.full_like(ids, -100)
    labels[:, -(value_size + 1) :] = ids[:, -(value_size + 1) :]
    return labels


@torch.no_grad()
def exact_match(model, args, num_pairs: int, device, autocast) -> float:
    model.eval()
    data = dataset(args, num_pairs, "test", args.eval_samples)
    ids = torch.tensor([data.sample(i)["input_ids"] for i in range(args.eval_samples)], device=device)
    v = data.value_size
    correct = 0
    for start in range(0, len(ids), 256):
        chunk = ids[start : start + 256]
        with autocast():
            # Positions ASK, value_0 .. value_{v-2} predict the value's v tokens.
            logits = model(chunk, logits_to_keep=v + 2).logits[:, :v]
        correct += int((logits.argmax(-1) == chunk[:, -(v + 1) : -1]).all(dim=1).sum())
    model.train()
    return correct / len(ids)


def train_one(args, memory_type: str, device, say) -> dict:
    probe = dataset(args, 1, "train", 1)
    model = build_model(args, probe, memory_type, device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    total = len(args.curriculum) * args.steps_per_stage
    warmup = min(50, max(total // 10, 1))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / total)
    )
    use_bf16 = device.type == "cuda"

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)

    trainable = sum(p.numel() for p in params)
    say(f"\n== {memory_type}: {trainable:,d} parameters, segments of {probe.pair_length} tokens (one pair each)")
    began, capped, stages, step = time.perf_counter(), False, [], 0
    for max_pairs in args.curriculum:
        batches = Batches(args, max_pairs)
        losses, stage_began = [], time.perf_counter()
        for _ in range(args.steps_per_stage):
            ids = batches.next(device)
            with autocast():
                loss = model(ids, labels=answer_labels(ids, probe.value_size)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach())  # no host sync per step: read every `--log-every` steps
            step += 1
            if step % args.log_every == 0:
                recent = float(torch.stack(losses[-args.log_every :]).float().mean())
                say(f"  step {step}: loss {recent:.3f} ({time.perf_counter() - began:.0f} s)")
            if time.perf_counter() - began > args.max_train_seconds:
                capped = True
                break
        accuracy = exact_match(model, args, max_pairs, device, autocast)
        stage = {
            "max_pairs": max_pairs,
            "steps": len(losses),
            "final_loss": float(torch.stack(losses[-20:]).float().mean()),
            "exact_match_at_max_pairs": accuracy,
            "seconds": time.perf_counter() - stage_began,
        }
        stages.append(stage)
        say(
            f"stage {max_pairs:>3} pairs: {stage['steps']} steps, loss {stage['final_loss']:.3f}, exact match "
            f"{accuracy:.3f} at {max_pairs} pairs, {stage['seconds']:.1f} s"
        )
        if capped:
            say(f"stopped: --max-train-seconds {args.max_train_seconds} reached after {step} steps")
            break
    train_seconds = time.perf_counter() - began
    trained_pairs = stages[-1]["max_pairs"]
    evaluation = []
    for pairs in args.eval_pairs:
        data = dataset(args, pairs, "test", args.eval_samples, fields=("rewrites",))
        rewrites = float(np.mean([data.sample(i)["rewrites"] for i in range(min(64, args.eval_samples))]))
        accuracy = exact_match(model, args, pairs, device, autocast)
        evaluation.append({"pairs": pairs, "exact_match": accuracy, "mean_rewrites": rewrites})
        say(f"  {pairs:>4} pairs ({rewrites:6.1f} rewrites on average): exact match {accuracy:.3f}")
    return {
        "memory_type": memory_type,
        "parameters": trainable,
        "stages": stages,
        "steps": step,
        "train_seconds": train_seconds,
        "stopped_by_time_cap": capped,
        "trained_pairs": trained_pairs,
        "evaluation": evaluation,
    }


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    device = torch.device(args.device)
    os.makedirs(args.output_dir, exist_ok=True)
    log = open(os.path.join(args.output_dir, "associative_retrieval.log"), "w")

    def say(line: str = "") -> None:
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    say(f"Associative retrieval ({args.variant}), curriculum {args.curriculum} pairs x {args.steps_per_stage} steps, ")
    say(f"batch {args.batch_size}, lr {args.lr}, {args.num_memory_tokens} memory tokens; device {device}")
    results = {
        "command": " ".join(["bench/train_associative_retrieval.py", *(argv if argv is not None else sys.argv[1:])]),
        "environment": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        },
        "settings": {k: v for k, v in vars(args).items() if k != "output_dir"},
        "models": [],
    }
    for memory_type in args.memory_types.split(","):
        results["models"].append(train_one(args, memory_type, device, say))
    say("\nExact match by number of pairs")
    say(f"{'pairs':>6} " + " ".join(f"{m['memory_type']:>12}" for m in results["models"]))
    for i, pairs in enumerate(args.eval_pairs):
        say(f"{pairs:>6} " + " ".join(f"{m['evaluation'][i]['exact_match']:>12.3f}" for m in results["models"]))
    with open(os.path.join(args.output_dir, "associative_retrieval.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
