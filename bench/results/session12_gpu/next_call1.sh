#!/bin/bash
# Proposed first call of the next session (not run; ~560 s on one H200), issue 12: Detect & Memorize at 2,043,904
# tokens, LoRA + memory. (1) The shipped adapter's 96% at 4096 segments is 100 samples (a 95% interval of about
# +-4 points around the 97%): measure it on 500. (2) Session 11 continued the shipped adapter on 16 / 32 / 64
# segments at lr 3e-4 and it got worse at length (91 / 89 / 71%), validation falling from the first evaluation: that
# lr undid a converged adapter. The same three arms at lr 3e-5 with 20 warm-up steps, then 100 samples each at 4096.
# Build .carry first: `python scripts/make_gpu_carry.py`; run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
SHIPPED=model_cards/rmt-minilm-l6-detect-memorize-lora
timeout 150 python -m hf_rmt.cli eval --model $SHIPPED --backbone /tmp/minilm --lengths 2043904 --num-samples 500 --batch-size 125 --no-progress --no-plot --output $W/eval/shipped_500 > $W/logs/eval_shipped_500.log 2>&1; el "eval shipped 500 exit $?"
B=240
DM="--task detect_memorize --model /tmp/minilm --init-from $SHIPPED --segment-size 499 --num-memory-tokens 10 --lora-r 16 --lora-target-modules all-linear --batch-size 16 --eval-steps 25 --eval-samples 200 --segment-checkpointing --lr 3e-5 --warmup-steps 20 --bf16 --seed 0"
dm() { name=$1; shift; el "$name start"; timeout -s TERM $B python -m hf_rmt.cli train $DM --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(dm dm_lr3e-5_16_full --curriculum 16 --steps-per-stage 150) &
(dm dm_lr3e-5_32_bptt4 --curriculum 32 --steps-per-stage 120 --bptt-depth 4) &
(dm dm_lr3e-5_64_bptt4 --curriculum 64 --steps-per-stage 80 --bptt-depth 4) &
wait
for name in dm_lr3e-5_16_full dm_lr3e-5_32_bptt4 dm_lr3e-5_64_bptt4; do
  left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 35 ] && break
  timeout $(( left < 50 ? left : 50 )) python -m hf_rmt.cli eval --model $R/$name --backbone /tmp/minilm --lengths 2043904 --num-samples 100 --batch-size 100 --no-progress --no-plot --output $W/eval/$name > $W/logs/eval_$name.log 2>&1; el "eval $name exit $?"
done
cat $W/logs/timeline.txt; for f in $W/logs/dm_*.log; do echo "== $f"; grep -E "Curriculum stage|eval_accuracy|Trained in|SIGTERM" $f | tail -4; done; for f in $W/logs/eval_*.log; do echo "== $f"; grep -E "^\|" $f; done
cd $OUT && tar czf call1.tgz w && rm -rf w
