#!/bin/bash
# The copy setting of session7_cpu/gpt2_study.md section 4 through this folder's runx.py, with a 300 s budget
# (session 7: 200 s), on one thread. Knobs (LLAMA_WPE, LLAMA_MLP, LLAMA_BIAS, ...) from the environment.
# Usage: [LLAMA_WPE=1 ...] bench/results/session8_cpu/copy_run.sh NAME ARCH [more train_algorithmic args, e.g. --seed 1]
name=$1; arch=$2; shift 2
cd "$(dirname "$0")/../../.." || exit 1
mkdir -p /tmp/s8
PYTHONPATH=$PWD OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 timeout 600 /work/main/.venv/bin/python bench/results/session8_cpu/runx.py \
  --task copy --arch "$arch" --device cpu --compile no --memory-type rmt --num-memory-tokens 8 --hidden 64 --layers 2 \
  --heads 2 --batch-size 64 --lr 1e-3 --warmup-steps 100 --embed-std 0.3 --schedule 1,2,3,4,5 --stage-steps 100000 \
  --stage-target 0.9 --eval-segments 3,4,5 --time-budget 300 --eval-every 50 --log-every 50 --val-samples 256 \
  --eval-samples 256 --output "/tmp/s8/$name.json" "$@" > "bench/results/session8_cpu/logs/$name.log" 2>&1
grep -E "stage of|runx|segments,|did not|reached" "bench/results/session8_cpu/logs/$name.log"
