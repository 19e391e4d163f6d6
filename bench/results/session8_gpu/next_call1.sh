#!/bin/bash
# Proposed first call of the next session (not run; ~580 s on one H200), benchmarks alone on the GPU:
# (1) Issue 18: `bench_training_lm --compile --profile` (default compile mode): every lever, among them the two made
#     in session 8 after its GPU runs, each timed on its own: the head padding (`-unpadded` modes) and the chunked
#     loss's gradients computed in forward (`both-recompute` is the old backward recomputation).
# (2) Issue 18: the same with `--compile_mode reduce-overhead`: the compiled modes now one at a time, compiled and
#     recorded afresh, so their peaks count their own CUDA-graph pools (session 8's reduce-overhead peaks did not).
# (3) The whole GPU test suite (session 8 got through 36 tests of 43 in two cut-off commands).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=8
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $OUT/timeline.txt; }
timeout 200 python bench/bench_training_lm.py --compile --profile --output $OUT/training_lm_default.json > $OUT/training_lm_default.log 2>&1; el "default exit $?"
timeout 230 python bench/bench_training_lm.py --compile --compile_mode reduce-overhead --output $OUT/training_lm_ro.json > $OUT/training_lm_ro.log 2>&1; el "reduce-overhead exit $?"
left=$(( 570 - ($(date +%s) - T0) )); timeout $left python -m pytest -m gpu tests -q -p no:cacheprovider --durations 10 > $OUT/pytest_gpu.log 2>&1; el "pytest exit $?"
cat $OUT/timeline.txt; tail -15 $OUT/pytest_gpu.log; grep -A18 "mode   step s" $OUT/training_lm_default.log $OUT/training_lm_ro.log
