#!/bin/bash
# Proposed second call of the next session (not run; ~580 s on one H200): the whole GPU suite, alone, bench tests
# last (no session has completed it in one run since session 7; session 8 got through 36 tests in two cut-off runs).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
timeout 570 python -m pytest -m gpu -q -p no:cacheprovider --durations 20 -rs tests/test_fast_path.py tests/test_eval_precision.py tests/test_training.py tests/test_static_cache_generation.py tests/test_factorised_embeddings.py tests/test_seq2seq.py tests/test_option_matrix.py tests/test_lm_loss.py tests/test_bench.py > $W/pytest_gpu.log 2>&1; el "pytest exit $?"
cat $W/timeline.txt; tail -40 $W/pytest_gpu.log
