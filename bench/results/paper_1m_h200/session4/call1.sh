# Issue 12, session 4, call 1. (a) Reasoning: does the 2-segment stage learn to carry facts in memory given ~2,000
# steps instead of 400? Four variants side by side, each ended by SIGTERM at 390 s (hf-rmt train saves the stage
# reached), then evaluated briefly. (b) Evaluation speed: attention kernels and bf16 weights at 256 segments, then
# the two weight modes at 2,043,904 tokens.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
COMMON="--model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --eval-samples 200 --eval-batch-size 100 --batch-size 32 --bf16 --logging-steps 50 --task reasoning --eval-steps 100 --warmup-steps 100 --seed 0 --curriculum 1,2 --steps-per-stage 800,8000 --stage-target 0.95"
train() { name=$1; shift; el "train $name start"; timeout -s TERM 390 python -m hf_rmt.cli train --output-dir $R/$name "$@" $COMMON > $W/logs/$name.log 2>&1; el "train $name exit $?"; }
ev() { name=$1; [ -f $R/$name/config.json ] || return; el "eval $name start"; timeout 60 python -m hf_rmt.cli eval --model $R/$name --lengths 998,3992,31936 --num-samples 300 --batch-size 100 --no-progress --no-plot --output $W/eval/$name > $W/logs/eval-$name.log 2>&1; el "eval $name exit $?"; }
(train lora-12; ev lora-12) &
(train lora-from-dm --init-from model_cards/rmt-minilm-l6-detect-memorize-lora; ev lora-from-dm) &
(train full-12 --train-backbone --lr 1e-4 --lr-scheduler constant_with_warmup; ev full-12) &
(train lora-12-uniform --sampling uniform; ev lora-12-uniform) &
wait
el "training and evals done"
(cd $R && tar czf $W/adapters.tgz --exclude='checkpoint-*' --exclude='full-*' . 2>/dev/null)
grep -H -E 'ends at|Trained in|ended training|chance|below' $W/logs/*.log | grep -v eval-; grep -H 'classification' $W/logs/eval-*.log
cd bench
timeout 75 python bench_eval.py --lengths 127744 --num-samples 100 --batch-sizes 100 --modes graphs --weights autocast bf16 --sdpa default flash efficient cudnn --profile --output $W/eval_speed_256seg.json > $W/logs/eval_speed_256seg.log 2>&1; el "speed 256 exit $?"
timeout 90 python bench_eval.py --lengths 2043904 --num-samples 100 --batch-sizes 100 --modes graphs --weights bf16 --output $W/eval_speed_2m.json > $W/logs/eval_speed_2m.log 2>&1; el "speed 2m exit $?"
cat $W/logs/eval_speed_256seg.log $W/logs/eval_speed_2m.log | grep -v Warning; cat $W/logs/timeline.txt
cd $OUT && tar czf $OUT/call1.tgz w && rm -rf w
