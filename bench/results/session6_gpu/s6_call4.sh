#!/bin/bash
# Session 6 call 4 (the device time left). (1) GPU test of the evaluation precision. (2) Issue 12: `hf-rmt eval` as a
# user runs it, now loading bf16 weights with FlashAttention first on a GPU: the shipped Detect & Memorize adapter on
# 100 samples of 2,043,904 tokens, timed whole (target: under 30 s for the evaluation). (3) Issue 16: reverse (Llama)
# continued from call 3's weights at stage 6 of 9, stages advancing only at 98% validation; weights returned. Between
# them, issue 14: ARMT against RMT at batch 32 on a BERT-base-sized model, with the top GPU kernels of both.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=4
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" | tee -a $OUT/timeline.txt; }
timeout 45 python -m pytest -q -p no:cacheprovider -m gpu tests/test_eval_precision.py > $OUT/gpu_tests.log 2>&1; el "tests exit $?"
S=$(date +%s.%N); timeout 80 python -m hf_rmt.cli eval --model model_cards/rmt-minilm-l6-detect-memorize-lora --lengths 2043904 --num-samples 100 --batch-size 100 --no-progress --no-plot --output $OUT/eval_cli_2m > $OUT/eval_cli_2m.log 2>&1; rc=$?; E=$(date +%s.%N)
el "hf-rmt eval exit $rc, command wall $(python -c "print(round($E-$S,1))") s"
timeout 75 python bench/bench_armt.py --batches 32 --profile --output-dir $OUT/armt > /dev/null 2>&1; el "armt exit $?"
R=/tmp/runs; mkdir -p $R $OUT/w
timeout 170 python bench/train_algorithmic.py --task reverse --arch llama --schedule 6,7,8,9 --stage-steps 100000 --time-budget 140 --init-weights .carry/w/reverse_llama.safetensors --save-weights $R/reverse_llama.safetensors --output $OUT/w/reverse_llama_3.json > $OUT/w/reverse_llama_3.log 2>&1; el "reverse exit $?"
cp $R/*.safetensors $OUT/; cd $OUT && tar czf call4.tgz w && rm -rf w
tail -3 $OUT/gpu_tests.log; tail -25 $OUT/armt/bench_armt.log; grep -v -i warn $OUT/eval_cli_2m.log | tail -8; cat $OUT/timeline.txt
