#!/bin/bash
# Proposed third call of the next session (not run; ~560 s on one H200), issue 14: BABILong qa1 at 499-token
# segments, started from the shipped Detect & Memorize LoRA + memory adapter instead of from MiniLM. Every qa1 model so
# far (LoRA and full fine-tuning, random gaps or --placement before_last_segment, sessions 7-11) sits on the
# no-memory floor at 2 segments and answers a story wholly in the first segment at chance; the D&M adapter, never
# trained on qa1, answers that test at 28% (chance 16.7%, session 11): its memory carries what it reads. Session 12's
# CPU pilot (bench/results/session12_cpu/qa1_from_dm/, 200 steps at batch 8 on 2 segments) raised that test to 45.8%
# with --placement before_last_segment, level with reading the story directly (47.9%), and to 30.2% with random gaps
# (reading took over), neither yet reading qa1 well (48% at one segment). Here: curriculum 2, 4, 8
# (no 1-segment stage, which rewards reading without memory), stages ending at 95% validation, three arms side by
# side, then the carry diagnostic on each.
# Build .carry first: `python scripts/make_gpu_carry.py`; run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
B=450
Q="--task qa1 --model /tmp/minilm --init-from model_cards/rmt-minilm-l6-detect-memorize-lora --segment-size 499 --num-memory-tokens 10 --curriculum 2,4,8 --steps-per-stage 2000 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16 --seed 0"
qa1() { name=$1; shift; el "$name start"; timeout -s TERM $B python -m hf_rmt.cli train $Q --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(qa1 qa1_dm_bls_lr3e-4 --placement before_last_segment --lr 3e-4) &
(qa1 qa1_dm_bls_lr1e-4 --placement before_last_segment --lr 1e-4) &
(qa1 qa1_dm_gaps_lr3e-4 --lr 3e-4) &
wait
timeout 90 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_dm_bls_lr3e-4 $R/qa1_dm_bls_lr1e-4 $R/qa1_dm_gaps_lr3e-4 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage|chance|eval_accuracy" $f | tail -4; done; cat $W/diag.json
cd $OUT && tar czf call3.tgz w && rm -rf w
