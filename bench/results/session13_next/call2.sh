#!/bin/bash
# Proposed second call of the next session (not run; ~580 s on one H200), issue 14: the three qa1 adapters of
# call1.sh resumed at 4 then 8 segments (random gaps, lr 3e-4), then accuracy by length to 64 segments and the
# carry diagnostic. Before running: `mkdir -p .carry && tar xzf <call1's files_at>/qa1_runs.tgz -C .carry`
# (.carry/qa1_runs/qa1_dm_gaps_seed{0,1,2}); run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/qa1_runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
Q="--task qa1 --model /tmp/minilm --segment-size 499 --num-memory-tokens 10 --curriculum 4,8 --steps-per-stage 2000 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16 --lr 3e-4 --segment-checkpointing"
qa1() { seed=$1; el "seed $seed start"; timeout -s TERM 400 python -m hf_rmt.cli train $Q --seed $seed --init-from .carry/qa1_runs/qa1_dm_gaps_seed$seed --output-dir $R/qa1_dm_gaps_seed${seed}_b > $W/logs/qa1_dm_gaps_seed${seed}_b.log 2>&1; el "seed $seed exit $?"; }
(qa1 0) & (qa1 1) & (qa1 2) &
wait
(cd /tmp && tar czf $OUT/qa1_runs_b.tgz qa1_runs); el "saved"
timeout 60 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_dm_gaps_seed0_b $R/qa1_dm_gaps_seed1_b $R/qa1_dm_gaps_seed2_b --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
for seed in 0 1 2; do
  timeout 30 python -m hf_rmt.cli eval --model $R/qa1_dm_gaps_seed${seed}_b --backbone /tmp/minilm --lengths 499,998,1996,3992,7984,15968,31936 --num-samples 500 --batch-size 250 --no-progress --no-plot --output $W/eval/seed$seed > $W/logs/eval_seed$seed.log 2>&1; el "eval seed $seed exit $?"
done
cat $W/logs/timeline.txt; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage|eval_accuracy" $f | sed -E "s/'eval_runtime.*//" | tail -5; done; cat $W/diag.json; for f in $W/logs/eval_*.log; do echo "== $f"; grep -E "^\|" $f; done
cd $OUT && tar czf call2.tgz w && rm -rf w
