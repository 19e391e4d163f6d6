#!/bin/bash
# Session 9 call 3: the chunked loss's logits kernel compiled on CUDA (new after call 2), timed as a lever of its own
# (`-eager-logits` modes) with the blocks replayed from CUDA graphs; then the whole GPU suite (bench tests last).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
timeout 260 python bench/bench_training_lm.py --compile --compile_mode reduce-overhead --profile --modes chunked chunked-eager-logits both both-eager-logits both-recompute --output $W/training_lm_ro.json > $W/training_lm_ro.log 2>&1; el "training_lm ro exit $?"
left=$(( 575 - ($(date +%s) - T0) )); timeout $left python -m pytest -m gpu -q -p no:cacheprovider --durations 15 -rs tests/test_lm_loss.py tests/test_fast_path.py tests/test_eval_precision.py tests/test_training.py tests/test_static_cache_generation.py tests/test_factorised_embeddings.py tests/test_seq2seq.py tests/test_option_matrix.py tests/test_bench.py > $W/pytest_gpu.log 2>&1; el "pytest exit $?"
cat $W/timeline.txt; tail -30 $W/pytest_gpu.log; grep -A12 "mode   step s" $W/training_lm_ro.log; grep -A9 "+compile (GPU" $W/training_lm_ro.log | grep -A9 "^both+compile"
