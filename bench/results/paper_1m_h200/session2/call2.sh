# Issue 12, session 2, call 2: reasoning (LoRA + full), memorize/detect full fine-tuning again with their full curves
# evaluated here (90 MB models cannot travel back). Everything is packed into one tarball before the deadline.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
R=/tmp/runs2; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
COMMON="--model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --curriculum 1,2,3,4,5,6,7 --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --batch-size 32 --bf16 --warmup-steps 25 --logging-steps 25 --lr-scheduler linear --seed 0"
train() { name=$1; tl=$2; shift 2; el "train $name start"; timeout $tl python -m hf_rmt.cli train --output-dir $R/$name "$@" $COMMON > $W/logs/$name.log 2>&1; el "train $name exit $?"; }
ev() { name=$1; lens=$2; n=$3; tag=$4; tl=$5; [ -f $R/$name/config.json ] || return; el "eval $name $tag start"; timeout $tl python -m hf_rmt.cli eval --model $R/$name --lengths $lens --num-samples $n --batch-size 250 --no-progress --no-plot --output $W/eval/$name-$tag > $W/logs/eval-$name-$tag.log 2>&1; el "eval $name $tag exit $?"; }
A=499,998,1996,3992,7984,15968,31936; B=63872,127744,255488; C=510976,1021952; D=2043904
work() {
  (train reasoning-lora 430 --task reasoning --steps-per-stage 150,100,100,100,100,100,150 --stage-target 0.95
   ev reasoning-lora 3493,31936,255488 100 check 60) &
  (train reasoning-full 430 --task reasoning --train-backbone --steps-per-stage 150,100,100,100,100,100,150 --stage-target 0.95
   ev reasoning-full $A 500 a 40; ev reasoning-full 255488,2043904 100 bd 60) &
  for t in memorize detect_memorize; do
    (train $t-full 150 --task $t --train-backbone --steps-per-stage 120 --stage-target 0.99
     ev $t-full $A 500 a 60; ev $t-full $B 500 b 120; ev $t-full $D 100 d 120; ev $t-full $C 100 c 120) &
  done
  wait
}
work & WORK=$!
while kill -0 $WORK 2>/dev/null && [ $(( $(date +%s) - T0 )) -lt 560 ]; do sleep 5; done
el "deadline or done"; pkill -f hf_rmt.cli; sleep 2
(cd $R && tar czf $W/adapters.tgz --exclude='checkpoint-*' --exclude='*-full' . 2>/dev/null)
cat $W/logs/timeline.txt; grep -h -E 'ends at|Trained in' $W/logs/*.log; grep -h 'classification' $W/logs/eval-*.log
cd $OUT && tar czf $OUT/call2.tgz w && rm -rf w
