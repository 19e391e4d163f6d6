#!/bin/bash
# Proposed second call of the next session (not run; ~580 s on one H200), alone on the GPU:
# (1) Issue 18 and 12: 2,043,904 tokens through the BERT-base RMT at batch 1 (frozen fast path, the last layer now at
#     the memory rows only; session 6: 2.49 s) and 100 samples of 2,043,904 tokens through the shipped MiniLM
#     Detect & Memorize adapter (session 7: 24.5 s in the CLI; one layer in six now pruned in memory-only steps).
# (2) Issue 14: ARMT/RMT inference throughput at batch 32 (session 8: 0.799 compiled; both memory types now prune
#     the last layer of memory-only steps).
# (3) The rest of the GPU suite, bench tests last.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
timeout 150 python bench/bench_inference.py --sections 2 --long_models encoder --long_segments 8 4096 --long_modes frozen --freeze_weights --output $W/long_frozen.json > $W/long_frozen.log 2>&1; el "long frozen exit $?"
timeout 120 python bench/bench_eval.py --model model_cards/rmt-minilm-l6-detect-memorize-lora --backbone /tmp/minilm --task detect_memorize --lengths 2043904 --num-samples 100 --batch-sizes 100 --modes graphs --weights bf16 --output $W/eval_2m.json > $W/eval_2m.log 2>&1; el "eval 2m exit $?"
timeout 150 python bench/bench_armt.py --batches 32 --compile --output-dir $W/armt > $W/bench_armt.log 2>&1; el "bench_armt exit $?"
left=$(( 575 - ($(date +%s) - T0) )); timeout $left python -m pytest -m gpu -q -p no:cacheprovider --durations 20 -rs tests/test_eval_precision.py tests/test_training.py tests/test_static_cache_generation.py tests/test_factorised_embeddings.py tests/test_seq2seq.py tests/test_option_matrix.py tests/test_bench.py > $W/pytest_gpu.log 2>&1; el "pytest exit $?"
cat $W/timeline.txt; grep -v -i warn $W/long_frozen.log | tail -4; grep -v -i warn $W/eval_2m.log | tail -4; grep -E "ratio|ARMT|RMT" $W/bench_armt.log | tail -8; tail -30 $W/pytest_gpu.log
