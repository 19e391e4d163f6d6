#!/bin/bash
# Proposed call (not run; ~580 s on one H200), issue 14: does ARMT's Detect & Memorize start train reliably, with and
# without the denominator floor? Session 15 ran the same command twice: once 100% at 7 segments in 526 steps, once a
# NaN gradient at 6 segments (finite loss) that turned every weight to NaN (../session15_gpu/call3). The CPU study
# (../session15_cpu/armt_nan/) traced it to z lagging A; `--memory-denominator-floor` bounds it, and `hf-rmt train`
# now skips NaN steps. Four arms sharing the GPU: floor none / 1e-3, seeds 0 / 1; no checkpoints (archives of ~3 MB).
# Each arm's record says how many steps it skipped (`nonfinite_steps_skipped`) and whether it DIVERGED; then 100 test
# samples at 8 and 64 segments. The best arm starts call2.sh's qa1 (copy it to .carry/armt_dm first).
# Run with carry=[".carry"] (`python scripts/make_gpu_carry.py`).
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/armt; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
DM="--task detect_memorize --model /tmp/minilm --curriculum 1,2,3,4,5,6,7 --steps-per-stage 300 --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --stage-target 0.99 --batch-size 32 --bf16 --warmup-steps 25 --lr-scheduler linear --num-memory-tokens 10 --segment-size 499 --memory-type associative --memory-dim 64"
arm() { name=$1; shift; el "$name start"; timeout -s TERM 470 python -m hf_rmt.cli train $DM --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(arm dm_armt_nofloor_s0 --seed 0) & (arm dm_armt_nofloor_s1 --seed 1) & (arm dm_armt_floor1e-3_s0 --seed 0 --memory-denominator-floor 1e-3) & (arm dm_armt_floor1e-3_s1 --seed 1 --memory-denominator-floor 1e-3) &
wait
for name in dm_armt_nofloor_s0 dm_armt_nofloor_s1 dm_armt_floor1e-3_s0 dm_armt_floor1e-3_s1; do
  (cd $R && tar czf $OUT/$name.tgz $name)
  timeout 18 python -m hf_rmt.cli eval --model $R/$name --backbone /tmp/minilm --lengths 3992,31936 --num-samples 100 --batch-size 100 --no-progress --no-plot --output $W/eval/$name > $W/logs/eval_$name.log 2>&1; el "eval $name exit $?"
done
cat $W/logs/timeline.txt; for f in $W/logs/dm_*.log; do echo "== $f"; grep -E "Curriculum stage .* ends|DIVERGED|NaN or inf|chance" $f | tail -4; done; for f in $W/logs/eval_*.log; do echo "== $f"; grep -E "^\|" $f | head -4; done
cd $OUT && tar czf call1.tgz w && rm -rf w
