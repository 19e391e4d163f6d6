#!/bin/bash
# Session 6 call 2: benchmarks, one at a time, nothing else on the GPU.
# (1) Issue 12: 100 samples of 2,043,904 tokens with the shipped Detect & Memorize adapter, CUDA graphs, bf16 weights,
#     three attention kernels (target: under 30 s). (2) Issue 18: training levers, each also compiled, against the
#     official RecurrentWrapper (its language_modeling.py carried in .carry/official, never committed). (3) Issue 16:
#     rolling generation against plain generate with a static (compiled) KV cache, toward 10,000 new tokens.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
cd bench; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" | tee -a $OUT/timeline.txt; }
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv > $OUT/gpu.txt
timeout 140 python bench_eval.py --lengths 2043904 --num-samples 100 --batch-sizes 100 --modes graphs --weights bf16 --sdpa default flash efficient --output $OUT/eval_2m_bf16.json > $OUT/eval_2m_bf16.log 2>&1; el "eval exit $?"
timeout 200 python bench_training_lm.py --compile --official_dir ../.carry/official --output $OUT/training_lm.json > $OUT/training_lm.log 2>&1; el "training exit $?"
timeout 230 python bench_generation.py --plain-cache static --time-budget 170 --output $OUT/generation_static.json > $OUT/generation_static.log 2>&1; el "generation exit $?"
grep -v -i warn $OUT/eval_2m_bf16.log | tail -12; tail -22 $OUT/training_lm.log; tail -8 $OUT/generation_static.log
