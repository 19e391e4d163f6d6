#!/bin/bash
# Session 6 call 1: training side by side on one H200, ~560 s.
# Issue 12: Detect & Memorize LoRA + memory, the shipped recipe at seeds 1 and 2 (a distribution, not one run), and
#   seed 0 with the curriculum continued to 16 segments; each evaluated at 512 and 4096 segments (100 samples).
#   Reasoning LoRA + memory with a long first stage (target 0.98), its adapter returned for chaining with --init-from.
# Issue 16: reverse (Llama) with the last stage's plateau halving and best-state restore; GPT-2 copy with embeddings at
#   std 1.0; decoder qa1 with embeddings at std 0.3. Issue 14/16: associative retrieval with ARMT (eager).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=2
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval $W/algo
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
DM="--task detect_memorize --model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --stage-target 0.99 --batch-size 32 --bf16 --warmup-steps 25 --lr-scheduler linear --logging-steps 50"
train() { name=$1; tl=$2; shift 2; el "train $name start"; timeout -s TERM $tl python -m hf_rmt.cli train --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "train $name exit $?"; }
ev() { name=$1; lens=$2; n=$3; tag=$4; tl=$5; [ -f $R/$name/adapter_config.json ] || [ -f $R/$name/config.json ] || return; el "eval $name $tag start"; timeout $tl python -m hf_rmt.cli eval --model $R/$name --lengths $lens --num-samples $n --batch-size 100 --no-progress --no-plot --output $W/eval/$name-$tag > $W/logs/eval-$name-$tag.log 2>&1; el "eval $name $tag exit $?"; }
dm() { name=$1; shift; train $name 330 "$@"; ev $name 3992,31936 200 a 60; ev $name 255488 100 b 60; ev $name 2043904 100 c 150; }
(dm dm-lora-s1 $DM --curriculum 1,2,3,4,5,6,7 --steps-per-stage 300 --seed 1) &
(dm dm-lora-s2 $DM --curriculum 1,2,3,4,5,6,7 --steps-per-stage 300 --seed 2) &
(dm dm-lora-s0-16 $DM --curriculum 1,2,3,4,5,6,7,8,10,12,16 --steps-per-stage 300 --seed 0) &
(train reasoning-lora 470 --task reasoning --model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --eval-samples 200 --eval-batch-size 100 --batch-size 32 --bf16 --logging-steps 50 --eval-steps 100 --warmup-steps 100 --seed 0 --curriculum 1,2 --steps-per-stage 2500,20000 --stage-target 0.98) &
algo() { name=$1; shift; el "algo $name start"; python bench/train_algorithmic.py --time-budget 440 --save-weights $R/$name.safetensors --output $W/algo/$name.json "$@" > $W/algo/$name.log 2>&1; el "algo $name exit $?"; }
(algo reverse_llama --task reverse --arch llama) &
(algo copy_gpt2_e1 --task copy --arch gpt2 --embed-std 1.0) &
(algo assoc_armt_llama --task associative --arch llama --memory-type associative --memory-dim 32) &
(el "qa1 start"; timeout 540 python bench/train_decoder_qa1.py --compile --output $W/algo/decoder_qa1.json > $W/algo/decoder_qa1.log 2>&1; el "qa1 exit $?") &
sleep 90; nvidia-smi > $W/logs/gpu.txt
wait
el "all done"
cp $R/*.safetensors $OUT/ 2>/dev/null
(cd $R && tar czf $OUT/adapters.tgz --exclude='checkpoint-*' --exclude='*.safetensors.tmp' $(ls -d */ 2>/dev/null))
grep -H -E 'ends at|Trained in|ended training|chance|below' $W/logs/*.log | grep -v eval-; grep -H 'classification' $W/logs/eval-*.log
tail -n 3 $W/algo/*.log; cat $W/logs/timeline.txt
cd $OUT && tar czf call1.tgz w && rm -rf w; ls -la $OUT
