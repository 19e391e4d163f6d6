#!/bin/bash
# Session 10, call 2 (alone on the GPU): the GPU tests of the compiled logits kernel and of graph replay with the
# pruned last layer (call 1 gave them 150 s, too little: 20 passed, 1 skipped before the cut), ARMT/RMT inference
# throughput at batch 32 (issue 14's 0.8), then the rest of the GPU suite.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
timeout 150 python bench/bench_armt.py --batches 32 --compile --output-dir $W/armt > $W/bench_armt.log 2>&1; el "bench_armt exit $?"
timeout 260 python -m pytest -m gpu -q -p no:cacheprovider --durations 15 -rs tests/test_lm_loss.py tests/test_fast_path.py tests/test_memory_rows.py > $W/pytest_new.log 2>&1; el "pytest new exit $?"
left=$(( 570 - ($(date +%s) - T0) )); timeout $left python -m pytest -m gpu -q -p no:cacheprovider --durations 10 -rs tests/test_eval_precision.py tests/test_training.py tests/test_static_cache_generation.py tests/test_factorised_embeddings.py tests/test_seq2seq.py tests/test_option_matrix.py > $W/pytest_gpu.log 2>&1; el "pytest rest exit $?"
cd $W && tar czf armt.tgz armt && rm -rf armt; cat $W/timeline.txt; grep -E "ratio|ARMT|RMT" $W/bench_armt.log | tail -8; tail -25 $W/pytest_new.log; tail -15 $W/pytest_gpu.log
