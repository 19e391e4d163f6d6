#!/bin/bash
# Proposed first call of the next session (not run; ~580 s on one H200), issues 14 and 12.
# (1) Issue 14: session 13's qa1 lead (random gaps, lr 3e-4, from the Detect & Memorize adapter: 85% validation at
#     2 segments, a story wholly in the first segment answered at 46.2%, chance 16.7%) on seeds 0, 1, 2 sharing the
#     GPU, so that the result is a distribution; the adapters come back in $OUT/qa1_runs.tgz (2.7 MB each) for
#     call2.sh to resume. Then the carry diagnostic on 500 stories each.
# (2) Issue 12: the shipped Memorize adapter's card has 100 samples a length; the issue asks 500 up to 512 segments.
# Build .carry first: `python scripts/make_gpu_carry.py`; run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/qa1_runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
Q="--task qa1 --model /tmp/minilm --init-from model_cards/rmt-minilm-l6-detect-memorize-lora --segment-size 499 --num-memory-tokens 10 --curriculum 2,4,8 --steps-per-stage 2000 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16 --lr 3e-4"
qa1() { seed=$1; el "seed $seed start"; timeout -s TERM 440 python -m hf_rmt.cli train $Q --seed $seed --output-dir $R/qa1_dm_gaps_seed$seed > $W/logs/qa1_dm_gaps_seed$seed.log 2>&1; el "seed $seed exit $?"; }
(qa1 0) & (qa1 1) & (qa1 2) &
wait
(cd /tmp && tar czf $OUT/qa1_runs.tgz qa1_runs); el "saved $(du -sh $OUT/qa1_runs.tgz | cut -f1)"
timeout 90 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_dm_gaps_seed0 $R/qa1_dm_gaps_seed1 $R/qa1_dm_gaps_seed2 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
timeout 40 python -m hf_rmt.cli eval --model model_cards/rmt-minilm-l6-memorize-lora --backbone /tmp/minilm --lengths 499,3992,31936,255488 --num-samples 500 --batch-size 250 --no-progress --no-plot --output $W/eval/memorize_500 > $W/logs/eval_memorize_500.log 2>&1; el "eval memorize exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage|eval_accuracy" $f | sed -E "s/'eval_runtime.*//" | tail -5; done; cat $W/diag.json; grep -E "^\|" $W/logs/eval_memorize_500.log
cd $OUT && tar czf call1.tgz w && rm -rf w
