#!/bin/bash
# Session 15, call 3 (issue 14): qa1 with ARMT memory from an ARMT Detect & Memorize start (call 2 trained one in
# 251 s, 100% at 7 segments, but its archive with checkpoints was over 16 MiB and did not come back: trained again
# here without checkpoints), two seeds, then the carry diagnostic: does associative memory carry more of a qa1 story
# than memory tokens (41-49% on the first-segment test with 10 or 32 tokens)? Run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/armt; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
A="--num-memory-tokens 10 --segment-size 499 --memory-type associative --memory-dim 64"
timeout -s TERM 230 python -m hf_rmt.cli train --task detect_memorize --model /tmp/minilm --curriculum 1,2,3,4,5,6,7 --steps-per-stage 300 --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --stage-target 0.99 --batch-size 32 --bf16 --warmup-steps 25 --lr-scheduler linear --seed 0 --output-dir $R/dm_armt $A > $W/logs/dm_armt.log 2>&1; el "dm exit $?"
Q="--task qa1 --model /tmp/minilm --init-from $R/dm_armt $A --curriculum 1,2,4 --steps-per-stage 300,1500,2000 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16 --lr 3e-4"
qa1() { seed=$1; el "qa1 seed $seed start"; timeout -s TERM 190 python -m hf_rmt.cli train $Q --seed $seed --output-dir $R/qa1_armt_seed$seed > $W/logs/qa1_armt_seed$seed.log 2>&1; el "qa1 seed $seed exit $?"; }
(qa1 0) & (qa1 1) &
wait
for name in dm_armt qa1_armt_seed0 qa1_armt_seed1; do (cd $R && tar czf $OUT/$name.tgz --exclude='checkpoint-*' $name); done; el "saved"
timeout 40 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_armt_seed0 $R/qa1_armt_seed1 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
cat $W/logs/timeline.txt; grep -E "Curriculum stage" $W/logs/dm_armt.log | tail -2; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage|eval_accuracy" $f | sed -E "s/'eval_runtime.*//" | tail -6; done; cat $W/diag.json
cd $OUT && tar czf call3.tgz w && rm -rf w
