# Issue 12, session 3, call 1: Reasoning with a long first stage (the 1M paper gives Reasoning 20,000 iterations per
# stage; session 2's 150-250 steps left single-segment accuracy at 73-79%), full fine-tuning and LoRA + memory; and
# Detect & Memorize full fine-tuning with seed 1, the shipped recipe (curriculum 1..7) and an extended one (1..7, 10,
# 16), each evaluated to 2,043,904 tokens. Everything is packed into one tarball before the deadline.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
COMMON="--model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --eval-samples 200 --eval-batch-size 100 --batch-size 32 --bf16 --logging-steps 50 --lr-scheduler linear"
train() { name=$1; tl=$2; shift 2; el "train $name start"; timeout $tl python -m hf_rmt.cli train --output-dir $R/$name "$@" $COMMON > $W/logs/$name.log 2>&1; el "train $name exit $?"; }
ev() { name=$1; lens=$2; n=$3; tag=$4; tl=$5; [ -f $R/$name/config.json ] || return; el "eval $name $tag start"; timeout $tl python -m hf_rmt.cli eval --model $R/$name --lengths $lens --num-samples $n --batch-size 100 --no-progress --no-plot --output $W/eval/$name-$tag > $W/logs/eval-$name-$tag.log 2>&1; el "eval $name $tag exit $?"; }
RS="--task reasoning --curriculum 1,2,3,4,5,6,7 --steps-per-stage 1500,400,150,150,150,150,150 --stage-target 0.98 --eval-steps 50 --warmup-steps 100 --seed 0"
DS="--task detect_memorize --steps-per-stage 120 --stage-target 0.99 --eval-steps 25 --warmup-steps 25 --seed 1 --train-backbone"
work() {
  (train reasoning-full 390 $RS --train-backbone; ev reasoning-full 499,3493,31936 500 a 45; ev reasoning-full 255488,2043904 100 b 80) &
  (train reasoning-lora 390 $RS; ev reasoning-lora 499,3493,31936 500 a 45; ev reasoning-lora 255488,2043904 100 b 80) &
  (train detect-full-s1 200 $DS --curriculum 1,2,3,4,5,6,7; ev detect-full-s1 3992,31936 500 a 60; ev detect-full-s1 255488,1021952,2043904 100 b 200) &
  (train detect-full-s1-c16 260 $DS --curriculum 1,2,3,4,5,6,7,10,16; ev detect-full-s1-c16 3992,31936 500 a 60; ev detect-full-s1-c16 255488,1021952,2043904 100 b 200) &
  wait
}
work & WORK=$!
while kill -0 $WORK 2>/dev/null && [ $(( $(date +%s) - T0 )) -lt 555 ]; do sleep 5; done
el "deadline or done"; pkill -f hf_rmt.cli; sleep 2
(cd $R && tar czf $W/adapters.tgz --exclude='checkpoint-*' --exclude='*-full*' . 2>/dev/null)
cat $W/logs/timeline.txt; grep -h -E 'ends at|Trained in|chance' $W/logs/*.log; grep -h 'classification' $W/logs/eval-*.log
cd $OUT && tar czf $OUT/call1.tgz w && rm -rf w
