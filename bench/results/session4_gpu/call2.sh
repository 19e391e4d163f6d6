# Session 4, call 2 (training, all side by side on one H200, ~9 min):
#  issue 16: copy, reverse, associative retrieval x Llama, GPT-2 from scratch (bench/train_algorithmic.py), and a
#            Llama decoder on qa1 in generation format (bench/train_decoder_qa1.py);
#  issue 12: Reasoning LoRA + memory continued from call 1's 2-segment adapter (--init-from): stages 2..7 (max) and
#            4, 7 (uniform 1..max), then evaluated to 2,043,904 tokens.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
R=/tmp/runs; W=$OUT/w; A=$W/algo; mkdir -p $R $W/logs $W/eval $A
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
for t in copy reverse associative; do for a in llama gpt2; do
  (el "algo $t $a start"; timeout 520 python bench/train_algorithmic.py --task $t --arch $a --time-budget 380 --output $A/${t}_${a}.json > $A/${t}_${a}.log 2>&1; el "algo $t $a exit $?") &
done; done
(el "qa1 start"; timeout 520 python bench/train_decoder_qa1.py --max_seconds 270 --output $A/decoder_qa1.json > $A/decoder_qa1.log 2>&1; el "qa1 exit $?") &
COMMON="--model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --eval-samples 200 --eval-batch-size 100 --batch-size 32 --bf16 --logging-steps 50 --task reasoning --eval-steps 100 --warmup-steps 50 --seed 0 --init-from .carry/adapters/reasoning-lora-s4"
train() { name=$1; shift; el "train $name start"; timeout -s TERM 360 python -m hf_rmt.cli train --output-dir $R/$name "$@" $COMMON > $W/logs/$name.log 2>&1; el "train $name exit $?"; }
ev() { name=$1; [ -f $R/$name/config.json ] || return; el "eval $name start"; timeout 60 python -m hf_rmt.cli eval --model $R/$name --lengths 998,3493,31936 --num-samples 300 --batch-size 100 --no-progress --no-plot --output $W/eval/$name-a > $W/logs/eval-$name-a.log 2>&1; timeout 100 python -m hf_rmt.cli eval --model $R/$name --lengths 255488,2043904 --num-samples 100 --batch-size 100 --no-progress --no-plot --output $W/eval/$name-b > $W/logs/eval-$name-b.log 2>&1; el "eval $name exit $?"; }
(train lora-2to7 --curriculum 2,3,4,5,6,7 --steps-per-stage 300 --stage-target 0.9; ev lora-2to7) &
(train lora-47-uniform --curriculum 4,7 --sampling uniform --steps-per-stage 700,1500 --stage-target 0.92; ev lora-47-uniform) &
wait
el "all done"
(cd $R && tar czf $W/adapters.tgz --exclude='checkpoint-*' . 2>/dev/null)
cat $W/logs/timeline.txt; grep -H -E 'ends at|Trained in|ended training|chance|below' $W/logs/*.log | grep -v eval-; grep -H 'classification' $W/logs/eval-*.log
for f in $A/*.log; do echo "== $f"; tail -4 $f; done
cd $OUT && tar czf $OUT/call2.tgz w && rm -rf w
