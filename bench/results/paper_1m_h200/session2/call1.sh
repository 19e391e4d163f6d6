# Issue 12, session 2, call 1: full fine-tuning of memorize + detect_memorize (trained and evaluated here: 90 MB
# models cannot travel back), LoRA detect_memorize retrained with a full last stage; then the eval benchmark.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
REPO=$PWD; R=/tmp/runs; mkdir -p $R $OUT/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*"; }
COMMON="--model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --curriculum 1,2,3,4,5,6,7 --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --batch-size 32 --bf16 --warmup-steps 25 --logging-steps 25 --lr-scheduler linear --seed 0"
train() { name=$1; shift; ( s=$(date +%s); timeout $TL python -m hf_rmt.cli train --output-dir $R/$name "$@" $COMMON > $OUT/logs/$name.log 2>&1; echo "$name exit $? after $(( $(date +%s) - s )) s" >> $OUT/logs/exits.txt ) & }
TL=300 train memorize-full --task memorize --train-backbone --steps-per-stage 120 --stage-target 0.99
TL=300 train detect_memorize-full --task detect_memorize --train-backbone --steps-per-stage 120 --stage-target 0.99
TL=300 train detect_memorize-lora --task detect_memorize --steps-per-stage 300 --stage-target 0.99
sleep 45; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
wait; el trained; cat $OUT/logs/exits.txt
SHORT=499,998,1996,3992,7984,15968,31936,63872,127744,255488; LONG=510976,1021952,2043904
ev() { name=$1; lens=$2; n=$3; tag=$4; [ -f $R/$name/config.json ] && timeout $TL python -m hf_rmt.cli eval --model $R/$name --lengths $lens --num-samples $n --batch-size 250 --no-progress --no-plot --output $OUT/eval/$name-$tag > $OUT/logs/eval-$name-$tag.log 2>&1; echo "eval $name $tag exit $?" >> $OUT/logs/exits.txt; }
mkdir -p $OUT/eval
TL=120
(ev memorize-full $SHORT 500 short; ev memorize-full $LONG 100 long) &
(ev detect_memorize-full $SHORT 500 short; ev detect_memorize-full $LONG 100 long) &
(ev detect_memorize-lora 3493,31936,255488,2043904 100 check) &
wait; el evaluated
rm -f $R/*-full/model.safetensors
(cd $R && tar czf $OUT/adapters.tgz --exclude='checkpoint-*' --exclude='*-full' .)
tail -n 3 $OUT/logs/eval-*.log; cat $OUT/logs/exits.txt
