#!/bin/bash
# Proposed call (not run; ~580 s on one H200), issue 14: does a one-segment first stage make every seed learn to read
# qa1? Session 14 (../session14_gpu/): from the Detect & Memorize adapter at 2 segments, two seeds of three jumped
# from ~46% to ~80% validation at about step 1,550 and one never did in 2,000 steps. Reading one segment is learned
# in ~200 steps from MiniLM (issue 12's report: 98%), so this starts with 300 steps at one segment, then 2 and 4
# segments; seeds 0, 1, 2 sharing the GPU, with checkpoints (--save-steps) for a later --resume; then the carry
# diagnostic. Run with carry=[".carry"] (`python scripts/make_gpu_carry.py`).
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/qa1_runs; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
Q="--task qa1 --model /tmp/minilm --init-from model_cards/rmt-minilm-l6-detect-memorize-lora --segment-size 499 --num-memory-tokens 10 --curriculum 1,2,4 --steps-per-stage 300,1500,2000 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16 --lr 3e-4 --save-steps 200"
qa1() { seed=$1; el "seed $seed start"; timeout -s TERM 440 python -m hf_rmt.cli train $Q --seed $seed --output-dir $R/qa1_dm_1seg_seed$seed > $W/logs/qa1_dm_1seg_seed$seed.log 2>&1; el "seed $seed exit $?"; }
(qa1 0) & (qa1 1) & (qa1 2) &
wait
for seed in 0 1 2; do (cd $R && tar czf $OUT/qa1_dm_1seg_seed$seed.tgz qa1_dm_1seg_seed$seed); done; el "saved"
timeout 90 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_dm_1seg_seed0 $R/qa1_dm_1seg_seed1 $R/qa1_dm_1seg_seed2 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage|eval_accuracy" $f | sed -E "s/'eval_runtime.*//" | tail -6; done; cat $W/diag.json
cd $OUT && tar czf call2.tgz w && rm -rf w
