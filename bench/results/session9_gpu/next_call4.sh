#!/bin/bash
# Proposed fourth call of the next session (not run; ~580 s on one H200), runs side by side; weights in /tmp/runs
# for later calls that go on with `--init-from`.
# Issue 14: BABILong qa1 with MiniLM-L6 + RMT at 499-token segments, FULL fine-tuning, the lever of the session-9 CPU
# study (bench/results/session9_cpu/qa1_carry/README.md): with LoRA + memory the memory carried nothing (5 arms: the
# 2-segment validation sat on the no-memory floor, 71-73% at 2 x 499 tokens, and a story placed wholly in segment 1
# was answered at chance); full fine-tuning carried facts in 4 of 4 runs (none reached 95% in 200-400 steps). Two
# seeds at lr 1e-4 and one at 3e-5, stages ending at 95% validation, then the carry diagnostic on each saved model
# (read it against the floor: 71-73% / 51% / 36% at 2 / 4 / 8 segments, not against chance).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
B=470
Q="--task qa1 --model /tmp/minilm --segment-size 499 --num-memory-tokens 10 --train-backbone --curriculum 1,2,4,8 --steps-per-stage 1000,3000,3000,3000 --sampling uniform --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --bf16"
qa1() { name=$1; shift; el "$name start"; timeout -s TERM $B python -m hf_rmt.cli train $Q --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(qa1 qa1_full_lr1e-4_s0 --lr 1e-4 --seed 0) &
(qa1 qa1_full_lr1e-4_s1 --lr 1e-4 --seed 1) &
(qa1 qa1_full_lr3e-5_s0 --lr 3e-5 --seed 0) &
wait
timeout 90 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_full_lr1e-4_s0 $R/qa1_full_lr1e-4_s1 $R/qa1_full_lr3e-5_s0 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "stage|eval_accuracy|chance" $f | tail -4; done; cat $W/diag.json
cd $OUT && tar czf call4.tgz w && rm -rf w
