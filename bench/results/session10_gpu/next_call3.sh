#!/bin/bash
# Proposed third call of the next session (not run; ~560 s on one H200), issue 12: Detect & Memorize at 2,043,904
# tokens. The shipped LoRA + memory adapter (trained to 7 segments) holds 96% at 4096 segments, and three other runs
# 82-91%; bf16 is not the cause (session 10: float32 gives the same 97% at 2048 segments). The memory must survive
# thousands of noise segments it never trained on. Continue the shipped adapter on much longer inputs at constant
# memory (segment checkpointing; truncated BPTT keeps the backward short), the papers' way of reaching length, then
# evaluate at 512 / 2048 / 4096 segments. Three arms side by side, then the evaluations one at a time:
#   a) 32 segments, bptt 4; b) 16 segments, full BPTT (control: longer, no truncation); c) 64 segments, bptt 4.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
B=300
DM="--task detect_memorize --model /tmp/minilm --init-from model_cards/rmt-minilm-l6-detect-memorize-lora --segment-size 499 --num-memory-tokens 10 --lora-r 16 --lora-target-modules all-linear --batch-size 16 --eval-steps 25 --eval-samples 200 --segment-checkpointing --lr 3e-4 --warmup-steps 10 --bf16 --seed 0"
dm() { name=$1; shift; el "$name start"; timeout -s TERM $B python -m hf_rmt.cli train $DM --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(dm dm_cont32_bptt4 --curriculum 32 --steps-per-stage 150 --bptt-depth 4) &
(dm dm_cont16_full --curriculum 16 --steps-per-stage 150) &
(dm dm_cont64_bptt4 --curriculum 64 --steps-per-stage 100 --bptt-depth 4) &
wait
for name in dm_cont32_bptt4 dm_cont16_full dm_cont64_bptt4; do
  left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 40 ] && break
  timeout $(( left < 90 ? left : 90 )) python -m hf_rmt.cli eval --model $R/$name --backbone /tmp/minilm --lengths 255488,1021952,2043904 --num-samples 100 --batch-size 100 --no-progress --no-plot --output $W/eval/$name > $W/logs/eval_$name.log 2>&1; el "eval $name exit $?"
done
cat $W/logs/timeline.txt; for f in $W/logs/dm_*.log; do echo "== $f"; grep -E "Curriculum stage|Trained in|SIGTERM" $f | tail -3; done; for f in $W/logs/eval_*.log; do echo "== $f"; grep -E "^\|" $f; done
cd $OUT && tar czf call3.tgz w && rm -rf w
