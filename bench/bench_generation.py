"""Rolling generation speed (issue 16): tokens per second of generating `--new-tokens` tokens at batch 1 with an RMT
Llama-style decoder (~125M parameters, random weights) against the plain backbone's `generate` with its KV cache at
the same total length. Target: RMT >= 0.8x plain.

The plain backbone needs positions for the whole sequence, so it gets a config with enough of them; the RMT backbone
keeps 2048 positions (a segment and its memory fit), with the same weights (Llama's rotary positions have none).

    python bench/bench_generation.py --output results/generation.json          # GPU, bf16, 10,000 new tokens
    python bench/bench_generation.py --quick --device cpu --output /tmp/g.json  # smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

import hf_rmt


def llama_config(quick: bool, positions: int) -> LlamaConfig:
    """~125M Llama (768 x 12 layers, 12 heads, FFN 2048, vocab 32000), or a tiny one for `--quick`."""
    if quick:
        sizes = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
        return LlamaConfig(vocab_size=256, max_position_embeddings=positions, **sizes)
    sizes = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 2048}
    return LlamaConfig(vocab_size=32000, max_position_embeddings=positions, **sizes)


def timed_generate(model, ids: torch.Tensor, new_tokens: int, device: torch.device, repeats: int) -> float:
    """Best wall time of `repeats` greedy generations of exactly `new_tokens` tokens (no eos)."""
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False}
    kwargs.update(eos_token_id=None, pad_token_id=0)
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = model.generate(ids, **kwargs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
        assert out.shape[1] == ids.shape[1] + new_tokens, out.shape
    return best


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=None, help="JSON file for the results")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--quick", action="store_true", help="tiny model and lengths (a smoke test)")
    parser.add_argument("--new-tokens", type=int, default=10000)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--segment-size", type=int, default=1024)
    parser.add_argument("--memory-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    if args.quick:
        args.new_tokens, args.prompt_tokens, args.segment_size, args.memory_tokens = 40, 8, 16, 4
        args.repeats = 1
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)

    total = args.prompt_tokens + args.new_tokens
    torch.manual_seed(0)
    plain = LlamaForCausalLM(llama_config(args.quick, total + 8)).to(device, dtype).eval()
    backbone = LlamaForCausalLM(llama_config(args.quick, args.segment_size + 2 * args.memory_tokens + 992))
    backbone.load_state_dict(plain.state_dict())
    config = hf_rmt.RMTConfig(num_memory_tokens=args.memory_tokens, segment_size=args.segment_size)
    rmt = hf_rmt.get_rmt_model(backbone.to(device, dtype), config).eval()
    ids = torch.randint(5, plain.config.vocab_size, (1, args.prompt_tokens), device=device)

    timed_generate(plain, ids, min(args.new_tokens, 32), device, 1)  # warm-up (kernels, allocator)
    timed_generate(rmt, ids, min(args.new_tokens, 32), device, 1)
    plain_s = timed_generate(plain, ids, args.new_tokens, device, args.repeats)
    rmt_s = timed_generate(rmt, ids, args.new_tokens, device, args.repeats)
    result = {
        "settings": {**vars(args), "parameters": sum(p.numel() for p in plain.parameters())},
        "environment": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        },
        "plain_s": plain_s,
        "rmt_s": rmt_s,
        "plain_tok_s": args.new_tokens / plain_s,
        "rmt_tok_s": args.new_tokens / rmt_s,
        "ratio": plain_s / rmt_s,
        "target_ratio": 0.8,
    }
    print(
        f"{args.new_tokens} new tokens after {args.prompt_tokens}: plain {result['plain_tok_s']:.1f} tok/s, RMT "
        f"{result['rmt_tok_s']:.1f} tok/s (segments of {args.segment_size}, {args.memory_tokens} memory tokens), "
        f"ratio {result['ratio']:.2f} (target >= 0.8)"
    )
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
