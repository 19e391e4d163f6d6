#!/bin/bash
# Proposed second call of the next session (not run; ~440 s on one H200, alone), kernel anatomy for two open targets.
# (1) Issue 14 (ARMT >= 0.8 of RMT's inference throughput at batch 32; five runs' median 0.791): one replayed
#     memory-only step of each, graphs and compiled, kernel by kernel (`bench_armt.py --profile`, new in session 12),
#     to see which of ARMT's kernels (read GEMM, the float32 state's cast, the write's GEMV and baddbmm, the DPFP
#     map) hold its extra ~2 ms a step before changing any.
# (2) Issue 18 (2,043,904 tokens < 2 s; 2.35 s): session 10's proposed anatomy of the frozen step's GEMMs
#     (bench/results/session10_gpu/next_call2.sh, never run: its budget went to training runs).
# Build .carry first: `python scripts/make_gpu_carry.py`; run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
timeout 120 python bench/bench_armt.py --batches 32 --compile --profile --output-dir $W/armt > $W/bench_armt.log 2>&1; el "bench_armt profile exit $?"
mkdir -p $W/anatomy; OUT=$W/anatomy timeout 310 bash bench/results/session10_gpu/next_call2.sh > $W/anatomy.log 2>&1; el "anatomy exit $?"
cd $W && tar czf anatomy.tgz anatomy armt && rm -rf anatomy armt; cat $W/timeline.txt; grep -E "^ +32|Target|one step|^  +[0-9.]+%" $W/bench_armt.log | head -80; tail -40 $W/anatomy.log
