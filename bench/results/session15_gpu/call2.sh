#!/bin/bash
# Session 15, call 2 (issue 14): session 14's proposed call3.sh (a 32-token Detect & Memorize start, then qa1 from it,
# two seeds; every qa1 model so far carries a story wholly in the first segment at 41-49%), plus, alongside, a Detect
# & Memorize start trained with ARMT memory (memory_dim 64, 10 memory tokens), so that a later call trains qa1 with
# ARMT from the same kind of start as RMT's (qa1 learned to carry facts only from a Detect & Memorize start).
# Run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/m32; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
DM="--task detect_memorize --model /tmp/minilm --curriculum 1,2,3,4,5,6,7 --steps-per-stage 300 --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --stage-target 0.99 --batch-size 32 --bf16 --warmup-steps 25 --lr-scheduler linear --seed 0"
(el "dm_armt start"; timeout -s TERM 520 python -m hf_rmt.cli train $DM --output-dir $R/dm_armt --num-memory-tokens 10 --segment-size 499 --memory-type associative --memory-dim 64 --save-steps 200 > $W/logs/dm_armt.log 2>&1; el "dm_armt exit $?") &
timeout -s TERM 200 python -m hf_rmt.cli train $DM --output-dir $R/dm_m32 --num-memory-tokens 32 --segment-size 477 > $W/logs/dm_m32.log 2>&1; el "dm exit $?"
Q="--task qa1 --model /tmp/minilm --init-from $R/dm_m32 --segment-size 477 --num-memory-tokens 32 --curriculum 1,2,4 --steps-per-stage 300,1500,2000 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16 --lr 3e-4 --save-steps 200"
qa1() { seed=$1; el "qa1 seed $seed start"; timeout -s TERM 300 python -m hf_rmt.cli train $Q --seed $seed --output-dir $R/qa1_m32_seed$seed > $W/logs/qa1_m32_seed$seed.log 2>&1; el "qa1 seed $seed exit $?"; }
(qa1 0) & (qa1 1) &
wait
for name in dm_m32 qa1_m32_seed0 qa1_m32_seed1 dm_armt; do (cd $R && tar czf $OUT/$name.tgz $name); done; el "saved"
timeout 50 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_m32_seed0 $R/qa1_m32_seed1 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/dm_*.log; do echo "== $f"; grep -E "Curriculum stage" $f | tail -3; done; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage|eval_accuracy" $f | sed -E "s/'eval_runtime.*//" | tail -6; done; cat $W/diag.json
cd $OUT && tar czf call2.tgz w && rm -rf w
