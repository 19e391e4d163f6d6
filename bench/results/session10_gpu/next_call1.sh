#!/bin/bash
# Proposed first call of the next session (not run; ~560 s on one H200), alone on the GPU.
# (1) The CUDA-graph training tests of compiled blocks (tests/test_compiled_blocks.py: inductor + reduce-overhead,
#     losses and weights after AdamW steps against eager, with gradient accumulation and segment recomputation;
#     RMTTrainer with torch_compile_mode=reduce-overhead) and the benchmark's paired-official path on CUDA.
# (2) Issue 18, training: a second run of the target (session 10: both + compile 1.66x at 0.07x, keep-4 1.83x at
#     0.19x, one run), now with the official step timed beside each compiled mode (--pair_official), so that each
#     ratio is against an official figure of the same minutes.
# (3) Issue 14: a fourth sample of ARMT/RMT inference throughput at batch 32 (0.776, 0.799, 0.760 so far).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
timeout 220 python -m pytest -m gpu -q -p no:cacheprovider --durations 10 -rs tests/test_compiled_blocks.py "tests/test_bench.py::test_causal_lm_training_benchmark_profile_records_gpu_busy" > $W/pytest_compiled.log 2>&1; el "pytest compiled exit $?"
timeout 230 python bench/bench_training_lm.py --compile --compile_mode reduce-overhead --pair_official --keep_last 4 --modes chunked both both-keep4 --output $W/training_lm_paired.json > $W/training_lm_paired.log 2>&1; el "training_lm paired exit $?"
left=$(( 560 - ($(date +%s) - T0) )); timeout $left python bench/bench_armt.py --batches 32 --compile --output-dir $W/armt > $W/bench_armt.log 2>&1; el "bench_armt exit $?"
cd $W && tar czf armt.tgz armt && rm -rf armt; cat $W/timeline.txt; tail -15 $W/pytest_compiled.log; grep -A8 "mode   step s" $W/training_lm_paired.log; grep -E "Target" $W/bench_armt.log
