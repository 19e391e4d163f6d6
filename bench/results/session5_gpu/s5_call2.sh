#!/bin/bash
# Session 5 call 2: the three algorithmic tasks x two decoders from scratch (issue 16): embeddings at std 0.3, 32 memory
# tokens, batch 512, compiled body, six runs side by side on one H200; weights saved for a continuation.
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TORCHINDUCTOR_COMPILE_THREADS=2
W=$OUT/w/algo2; mkdir -p $W
B=${BUDGET:-470}
run() { name=$1; shift; python bench/train_algorithmic.py --time-budget $B --batch-size 512 --num-memory-tokens 32 --embed-std 0.3 --save-weights $OUT/$name.safetensors --output $W/$name.json "$@" > $W/$name.log 2>&1 & }
for arch in llama gpt2; do
  run copy_$arch --task copy --arch $arch
  run reverse_$arch --task reverse --arch $arch
  run assoc_$arch --task associative --arch $arch
done
sleep 60; nvidia-smi > $W/gpu.txt
wait
cd $OUT && tar czf algo2.tgz w && rm -rf w
