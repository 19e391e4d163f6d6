# Issue 12, session 3, call 2: four Reasoning recipes side by side, each ended by SIGTERM at 390 s if its caps are not
# reached (hf-rmt train then saves the stage reached), then evaluated: LoRA + memory with call 1's recipe (its run
# there was killed before saving); full fine-tuning with uniform sampling of 1..max segments per batch (BABILong);
# full fine-tuning with fewer, longer stages 1,2,4,7; the same at the paper's lr 5e-5.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
COMMON="--model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --eval-samples 200 --eval-batch-size 100 --batch-size 32 --bf16 --logging-steps 50 --lr-scheduler linear --task reasoning --eval-steps 50 --warmup-steps 100 --seed 0"
train() { name=$1; shift; el "train $name start"; timeout -s TERM 390 python -m hf_rmt.cli train --output-dir $R/$name "$@" $COMMON > $W/logs/$name.log 2>&1; el "train $name exit $?"; }
ev() { name=$1; lens=$2; n=$3; tag=$4; tl=$5; [ -f $R/$name/config.json ] || return; el "eval $name $tag start"; timeout $tl python -m hf_rmt.cli eval --model $R/$name --lengths $lens --num-samples $n --batch-size 100 --no-progress --no-plot --output $W/eval/$name-$tag > $W/logs/eval-$name-$tag.log 2>&1; el "eval $name $tag exit $?"; }
evall() { ev $1 499,3493,31936 300 a 40; ev $1 255488 100 b 40; ev $1 2043904 100 c 90; }
work() {
  (train reasoning-lora --curriculum 1,2,3,4,5,6,7 --steps-per-stage 1500,400,150,150,150,150,150 --stage-target 0.98; evall reasoning-lora) &
  (train reasoning-full-uniform --train-backbone --sampling uniform --curriculum 1,2,3,4,5,6,7 --steps-per-stage 1200,300,300,300,300,300,300 --stage-target 0.97; evall reasoning-full-uniform) &
  (train reasoning-full-1247 --train-backbone --curriculum 1,2,4,7 --steps-per-stage 1200,400,400,400 --stage-target 0.97; evall reasoning-full-1247) &
  (train reasoning-full-1247-lr5e-5 --train-backbone --lr 5e-5 --curriculum 1,2,4,7 --steps-per-stage 1200,400,400,400 --stage-target 0.97; evall reasoning-full-1247-lr5e-5) &
  wait
}
work & WORK=$!
while kill -0 $WORK 2>/dev/null && [ $(( $(date +%s) - T0 )) -lt 555 ]; do sleep 5; done
el "deadline or done"; pkill -f hf_rmt.cli; sleep 2
(cd $R && tar czf $W/adapters.tgz --exclude='checkpoint-*' --exclude='*-full*' . 2>/dev/null)
cat $W/logs/timeline.txt; grep -H -E 'ends at|Trained in|ended training|chance' $W/logs/*.log; grep -H 'classification' $W/logs/eval-*.log
cd $OUT && tar czf $OUT/call2.tgz w && rm -rf w
