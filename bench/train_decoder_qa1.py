"""Train a small Llama-style decoder from scratch as an RMTForCausalLM on qa1 (BABILong's single-supporting-fact task:
facts hidden in Austen text, the question at the end, the answer generated after it) with a curriculum over segments,
then write its exact-match accuracy by input length, up to a million tokens, as JSON.

The sibling of `bench/train_seq2seq_qa1.py`, whose tokenizer, training loop and evaluation it reuses: the same
byte-level BPE trained in the script (no download; the GPT-2 BPE is not shipped with the project), samples in
`output_format="generation"` (context, question, then the answer and eos, the loss on those alone), a randomly
initialised `LlamaForCausalLM` with memory (`[mem | segment | mem]`), stages ending at `--stage_target` validation
exact match or their step cap, and `evaluate_by_length` on the test split (noise from a book never trained on; greedy
generation, bf16 on CUDA). A training sample of n segments has the prompt `evaluate_by_length` uses at
n * segment_size tokens, so its answer starts segment n + 1 in training as in generation (`CurriculumDataset.from_task`,
`answer_reserve=0`). The script ends with `learned` or `DID NOT LEARN` (test exact match at the trained length within
3 standard errors of chance, 1/6).

What to expect: a small decoder first learns a shortcut, the location of the last fact (about 47% of qa1 samples),
and stays there for a long time; binding the asked name to its location comes later, sooner with a wider model and
a bigger batch (on 2-fact stories without noise: d_model 64 at batch 32 never in 4,000 steps, batch 128 after about
1,400 steps, d_model 128 at batch 128 after about 700). Hence the GPU preset's batch of 256.

GPU (H200, about 7 minutes: 4 of training, then the evaluation to 1,048,576 tokens):
    python bench/train_decoder_qa1.py --compile --output bench/results/decoder_qa1_h200.json
With ARMT's associative memory instead of memory tokens (eager: --compile is refused with it):
    python bench/train_decoder_qa1.py --memory_type associative --memory_dim 32 --output decoder_qa1_armt.json
CPU run that learns (about a minute with 1 thread: test exact match 52.5% at 1 segment, 45% at 2, chance 16.7%):
    python bench/train_decoder_qa1.py --quick --device cpu --schedule 1,2 --stage_steps 400,400 --eval_every 100 \
        --batch_size 32 --d_model 64 --d_ff 128 --num_heads 2 --num_memory_tokens 4 --warmup_steps 30 \
        --val_samples 64 --eval_lengths 64,128,256,1024 --eval_samples 200 --output x.json
CPU smoke run (what tests/test_bench.py runs):
    python bench/train_decoder_qa1.py --quick --device cpu --output x.json
"""

from __future__ import annotations

import os
import sys
import time


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import train_seq2seq_qa1 as seq2seq  # noqa: E402  (the sibling script: tokenizer, training loop, evaluation)
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

import hf_rmt  # noqa: E402


PRESETS = {
    "full": {
        **seq2seq.PRESETS["full"],
        "d_model": 256,
        "d_ff": 1024,
        "num_layers": 4,
        "num_heads": 8,
        "segment_size": 128,
        "num_memory_tokens": 16,
        "batch_size": 256,  # the shortcut plateau ends sooner with a bigger batch (see above)
        "schedule": "1,2,4",
        "stage_steps": "1200,800,3000",
        "eval_every": 100,
        "eval_lengths": "128,256,512,1024,4096,16384,65536,262144,1048576",
        "eval_samples": 100,
    },
    "quick": {**seq2seq.PRESETS["quick"], "segment_size": 64, "eval_lengths": "64,128"},
}


def build_model(args, tokenizer) -> hf_rmt.RMTForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=args.d_model,
        intermediate_size=args.d_ff,
        num_hidden_layers=args.num_layers,
        num_attention_heads=args.num_heads,
        num_key_value_heads=args.num_heads,
        max_position_embeddings=args.segment_size + 2 * args.num_memory_tokens,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(args.seed)
    backbone = LlamaForCausalLM(config)
    if args.embed_std:
        # Token embeddings at the scale of the memory the final norm writes back (bench/_scratch.py's build_decoder
        # says why: at 0.02 a segment relays memory but hardly writes to it).
        with torch.no_grad():
            backbone.get_input_embeddings().weight.normal_(0.0, args.embed_std)
    rmt = hf_rmt.RMTConfig(
        num_memory_tokens=args.num_memory_tokens,
        segment_size=args.segment_size,
        memory_type=args.memory_type,
        memory_dim=args.memory_dim,
    )
    return hf_rmt.get_rmt_model(backbone, rmt, tokenizer=tokenizer, train_backbone=True)


def add_arguments(parser) -> None:
    parser.add_argument(
        "--embed_std",
        type=float,
        default=0.3,
        help="std of the randomly initialised token embeddings (0: transformers' default, 0.02); 0.3 is the "
        "algorithmic tasks' recipe (bench/train_algorithmic.py --embed-std)",
    )
    parser.add_argument(
        "--memory_type",
        choices=("rmt", "associative"),
        default="rmt",
        help="RMT memory tokens, or ARMT's associative memory (finding the asked person's last location is a "
        "key-value lookup, which ARMT's memory does by construction; see bench/train_algorithmic.py)",
    )
    parser.add_argument("--memory_dim", type=int, default=None, help="--memory_type associative: RMTConfig.memory_dim")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the Llama body (model.backbone.base_model.compile(dynamic=False)) for training: every "
        "segment call has one of two shapes (a full segment, the answer's); validation and the evaluation run eagerly",
    )


def main(argv=None) -> dict:
    args = seq2seq.parse_args(argv, presets=PRESETS, default_seconds=240.0, extra_arguments=add_arguments)
    if args.memory_type != "associative" and args.memory_dim is not None:
        raise SystemExit(f"--memory_dim {args.memory_dim} needs --memory_type associative, got {args.memory_type}")
    if args.compile and args.memory_type == "associative":
        # ARMT registers its per-layer read hooks for each call, and torch.compile does not guard on module hooks:
        # a body compiled once would run later segments without them (bench/_scratch.py's compile_body refuses too).
        raise SystemExit("--compile compiles the Llama body, which --memory_type associative cannot use: drop one")
    began = time.perf_counter()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(args.seed)
    tokenizer = seq2seq.build_tokenizer(args.vocab_size, args.tokenizer_sentences, args.seed)
    model = build_model(args, tokenizer).to(device)
    count = sum(p.numel() for p in model.parameters())
    print(f"Llama + {args.memory_type} memory: {count:,} parameters on {device}", flush=True)
    if args.compile:
        model.backbone.base_model.compile(dynamic=False)
    backbone = "Llama (random init)"
    return seq2seq.train_and_evaluate(
        args, argv, model, tokenizer, device, began, "generation", backbone, "bench/train_decoder_qa1.py"
    )


if __name__ == "__main__":
    main()
