#!/bin/bash
# Session 5 call 1: algorithmic tasks from scratch (issue 16), compiled body, 8 runs side by side on one H200.
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TORCHINDUCTOR_COMPILE_THREADS=2
W=$OUT/w/algo; mkdir -p $W
nvidia-smi --query-gpu=name,memory.used --format=csv > $W/gpu.txt
B=${BUDGET:-400}
run() { name=$1; shift; python bench/train_algorithmic.py --time-budget $B --batch-size 512 --output $W/$name.json "$@" > $W/$name.log 2>&1 & }
run copy_llama_m16 --task copy --arch llama --num-memory-tokens 16
run copy_llama_m32 --task copy --arch llama --num-memory-tokens 32
run copy_llama_m32_e03 --task copy --arch llama --num-memory-tokens 32 --embed-std 0.3
run copy_gpt2_m32 --task copy --arch gpt2 --num-memory-tokens 32
run reverse_llama_m32 --task reverse --arch llama --num-memory-tokens 32
run reverse_gpt2_m32 --task reverse --arch gpt2 --num-memory-tokens 32
run assoc_llama_m32 --task associative --arch llama --num-memory-tokens 32
run assoc_gpt2_m32 --task associative --arch gpt2 --num-memory-tokens 32
sleep 30; nvidia-smi >> $W/gpu.txt
wait
cd $OUT && tar czf algo.tgz w && rm -rf w
