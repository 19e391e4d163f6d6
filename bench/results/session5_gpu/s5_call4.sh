#!/bin/bash
# Session 5 call 4: reverse (llama, gpt2) and copy (gpt2) continued once more from call 3's weights.
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TORCHINDUCTOR_COMPILE_THREADS=2
W=$OUT/w/algo4; mkdir -p $W
B=${BUDGET:-90}
run() { name=$1; shift; python bench/train_algorithmic.py --time-budget $B --batch-size 512 --num-memory-tokens 32 --embed-std 0.3 --warmup-steps 20 --init-weights .carry/w/$name.safetensors --save-weights $OUT/$name.safetensors --output $W/$name.json "$@" > $W/$name.log 2>&1 & }
run reverse_llama --task reverse --arch llama --schedule 9
run copy_gpt2 --task copy --arch gpt2 --schedule 6,7,8,9
run reverse_gpt2 --task reverse --arch gpt2 --schedule 8,9
wait
cd $OUT && tar czf call4.tgz w && rm -rf w
