#!/bin/bash
# Session 5 call 3: rolling-generation speed alone on the GPU (issue 16), then the copy/reverse runs of call 2 continued
# from their saved weights (four side by side).
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TORCHINDUCTOR_COMPILE_THREADS=2
W=$OUT/w; mkdir -p $W/algo3
timeout 250 python bench/bench_generation.py --profile --time-budget ${GEN_BUDGET:-160} --output $W/generation_h200.json > $W/generation_h200.log 2>&1
echo "generation rc $?" >> $W/generation_h200.log
B=${BUDGET:-260}
run() { name=$1; shift; python bench/train_algorithmic.py --time-budget $B --batch-size 512 --num-memory-tokens 32 --embed-std 0.3 --init-weights .carry/w/$name.safetensors --save-weights $OUT/$name.safetensors --output $W/algo3/$name.json "$@" > $W/algo3/$name.log 2>&1 & }
run copy_llama --task copy --arch llama --schedule 9
run reverse_llama --task reverse --arch llama --schedule 8,9
run copy_gpt2 --task copy --arch gpt2 --schedule 6,7,8,9
run reverse_gpt2 --task reverse --arch gpt2 --schedule 6,7,8,9
wait
cd $OUT && tar czf call3.tgz w && rm -rf w
