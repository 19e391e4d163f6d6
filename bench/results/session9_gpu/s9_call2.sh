#!/bin/bash
# Session 9 call 2: call 1's inference anatomy again (its section 5 failed on a stale import, fixed), then the
# training benchmark with `--compile_mode reduce-overhead` (compiled modes one at a time, fresh graphs).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
timeout 250 python bench/bench_inference.py --sections 5 --compile max-autotune-no-cudagraphs --anatomy_modes frozen frozen-autotune --output $W/anatomy_autotune.json > $W/anatomy_autotune.log 2>&1; el "anatomy autotune exit $?"
timeout 70 python bench/bench_inference.py --sections 5 --sdpa flash --anatomy_modes frozen --output $W/anatomy_flash.json > $W/anatomy_flash.log 2>&1; el "anatomy flash exit $?"
left=$(( 575 - ($(date +%s) - T0) )); timeout $left python bench/bench_training_lm.py --compile --compile_mode reduce-overhead --output $W/training_lm_ro.json > $W/training_lm_ro.log 2>&1; el "training_lm ro exit $?"
cat $W/timeline.txt; grep -v -i warn $W/anatomy_autotune.log | tail -22; tail -9 $W/anatomy_flash.log; grep -A20 "mode   step s" $W/training_lm_ro.log | tail -24
