# Issue 12, session 2, call 3: the eval benchmark alone on the GPU, then (in parallel) the detect_memorize LoRA
# adapter's full curve, a reasoning LoRA run with longer stages, and the redesign branch's GPU tests.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
REPO=$PWD; R=/tmp/runs3; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
work() {
  el "bench start"
  timeout 170 python bench/bench_eval.py --backbone /tmp/minilm --modes graphs compiled --output $W/bench_eval_h200.json > $W/logs/bench_eval.log 2>&1
  el "bench exit $?"
  COMMON="--model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --curriculum 1,2,3,4,5,6,7 --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --batch-size 32 --bf16 --warmup-steps 50 --logging-steps 25 --seed 0"
  ( el "train reasoning-lora start"; timeout 270 python -m hf_rmt.cli train --output-dir $R/reasoning-lora --task reasoning --steps-per-stage 250,100,100,100,100,100,150 --stage-target 0.95 $COMMON > $W/logs/reasoning-lora.log 2>&1; el "train exit $?"
    [ -f $R/reasoning-lora/config.json ] && timeout 45 python -m hf_rmt.cli eval --model $R/reasoning-lora --lengths 499,3493,31936,255488 --num-samples 100 --batch-size 100 --no-progress --no-plot --output $W/eval/reasoning-lora-check > $W/logs/eval-reasoning-lora-check.log 2>&1; el "reasoning eval exit $?" ) &
  ev() { lens=$1; n=$2; tag=$3; tl=$4; el "eval detect $tag start"; timeout $tl python -m hf_rmt.cli eval --model .carry/adapters/detect_memorize-lora --lengths $lens --num-samples $n --batch-size 250 --no-progress --no-plot --output $W/eval/detect_memorize-lora-$tag > $W/logs/eval-detect-$tag.log 2>&1; el "eval detect $tag exit $?"; }
  ( ev 499,998,1996,3992,7984,15968,31936 500 a 50; ev 63872,127744 500 b 80; ev 255488 500 b2 80; ev 2043904 100 d 110; ev 510976,1021952 100 c 100 ) &
  ( cd $REPO/.carry/redesign && el "redesign gpu tests start" && PYTHONPATH=$PWD timeout 150 python -m pytest tests -q -m gpu -p no:cacheprovider > $W/logs/redesign_gpu_tests.log 2>&1; el "redesign gpu tests exit $?" ) &
  wait
}
work & WORK=$!
while kill -0 $WORK 2>/dev/null && [ $(( $(date +%s) - T0 )) -lt 525 ]; do sleep 5; done
el "deadline or done"; pkill -f hf_rmt.cli; pkill -f pytest; sleep 2
(cd $R && tar czf $W/adapters.tgz --exclude='checkpoint-*' . 2>/dev/null)
cat $W/logs/timeline.txt; cat $W/logs/bench_eval.log | grep -v -i warn | tail -5; grep -h -E 'ends at|Trained in' $W/logs/*.log; grep -h 'classification' $W/logs/eval-*.log; tail -3 $W/logs/redesign_gpu_tests.log
cd $OUT && tar czf $OUT/call3.tgz w && rm -rf w
