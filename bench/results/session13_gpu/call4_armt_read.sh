#!/bin/bash
# Session 13 call 4 (issue 14): ARMT's read with the query divided before the GEMM and the hidden states added in its
# epilogue (hf_rmt/core/memory/associative.py): ARMT/RMT at batch 32, compiled, then ARMT's GPU equivalence tests.
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
timeout 110 python bench/bench_armt.py --batches 32 --compile --output-dir $OUT/armt > $OUT/bench_armt.log 2>&1; echo "bench exit $?"
grep -E "^ +32|Target" $OUT/bench_armt.log
timeout 75 python -m pytest -q -m gpu tests/test_fast_path.py -k "associative and not autotune" -p no:cacheprovider > $OUT/gpu_tests.log 2>&1; echo "tests exit $?"
tail -4 $OUT/gpu_tests.log
