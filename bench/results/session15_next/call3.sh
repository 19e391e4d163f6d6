#!/bin/bash
# Proposed call (not run; ~580 s on one H200), issue 14: can a qa1 model that reads learn to carry older facts?
# Session 15's diagnostic by fact rank (../session15_cpu/qa1_rank/): session 14's seed-0 reader answers a story held
# wholly in the first segment at 66% when the question's fact is the story's last, 50% with one fact after it and
# 27-30% with two or more (96% for the same stories read directly). Random-gap training rarely asks for an old fact
# across a boundary; `--placement before_last_segment` always does. The CPU pilot (120 steps at batch 8) moved nothing;
# this gives it ~2,000 steps at batch 32, at lr 3e-4 and 1e-3, from the seed-0 and seed-2 readers (2 segments, then
# 4). Needs .carry/qa1_runs/qa1_dm_gaps_seed{0,2}_b (/work/qa1_s14/qa1_runs/, without tokenizer.json).
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/bls; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
Q="--task qa1 --model /tmp/minilm --segment-size 499 --num-memory-tokens 10 --placement before_last_segment --curriculum 2,4 --steps-per-stage 1500,1500 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16"
arm() { name=$1; shift; el "$name start"; timeout -s TERM 440 python -m hf_rmt.cli train $Q --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(arm bls_s0_lr3e-4 --init-from .carry/qa1_runs/qa1_dm_gaps_seed0_b --lr 3e-4) & (arm bls_s0_lr1e-3 --init-from .carry/qa1_runs/qa1_dm_gaps_seed0_b --lr 1e-3) & (arm bls_s2_lr3e-4 --init-from .carry/qa1_runs/qa1_dm_gaps_seed2_b --lr 3e-4) &
wait
for name in bls_s0_lr3e-4 bls_s0_lr1e-3 bls_s2_lr3e-4; do (cd $R && tar czf $OUT/$name.tgz --exclude='checkpoint-*' $name); done; el "saved"
timeout 90 python bench/results/session15_cpu/qa1_rank/diag_rank.py $R/bls_s0_lr3e-4 $R/bls_s0_lr1e-3 $R/bls_s2_lr3e-4 --device cuda --num-samples 300 --out $W/rank.json > $W/logs/rank.log 2>&1; el "rank exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/bls_*.log; do echo "== $f"; grep -E "Curriculum stage .* ends|eval_accuracy" $f | sed -E "s/'eval_runtime.*//" | tail -6; done; cat $W/rank.json
cd $OUT && tar czf call3.tgz w && rm -rf w
