#!/bin/bash
# Session 7 call 1 (~570 s on one H200).
# (1) Issue 12: `hf-rmt eval` as a user runs it (bf16 weights, FlashAttention first, CUDA graphs), the shipped Detect
#     & Memorize adapter attached to the bundled MiniLM with --backbone, 100 samples of 2,043,904 tokens, timed whole,
#     alone on the GPU.
# (2) Issue 14: BABILong qa1 with MiniLM-L6, RMT and ARMT (memory_dim 64) side by side, the same recipe and budget
#     (LoRA r=16 + memory, curriculum 1,2,4,8,16, uniform sampling, stages end at 98% validation), then evaluated at 1
#     to 2048 segments of 499 tokens (100 samples each).
# (3) Issues 14/16: associative retrieval at the official ARMT scripts' settings (4 layers, hidden 128, 4 memory
#     tokens, memory_dim 32, batch 512, lr 3e-4, key size 1, 1 -> 2 -> 3 -> 5 -> 10 pairs, every batch at the stage's
#     length), two seeds, one at lr 1e-3, and RMT memory at the same size; weights saved to go on next call.
# (4) Issue 16: reverse (Llama) continued from session 6 (98.9% at 7 segments) at stages 8 and 9.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=2
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval $W/algo
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
S=$(date +%s.%N); timeout 90 python -m hf_rmt.cli eval --model model_cards/rmt-minilm-l6-detect-memorize-lora --backbone /tmp/minilm --lengths 2043904 --num-samples 100 --batch-size 100 --no-progress --no-plot --output $W/eval/cli_2m > $W/logs/eval_cli_2m.log 2>&1; rc=$?; E=$(date +%s.%N)
el "hf-rmt eval 2M exit $rc, command wall $(python -c "print(round($E-$S,1))") s"
QA="--task qa1 --model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --curriculum 1,2,4,8,16 --steps-per-stage 400 --sampling uniform --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --stage-target 0.98 --batch-size 32 --bf16 --warmup-steps 25 --lr-scheduler linear --logging-steps 50 --seed 0"
LENS=499,998,1996,3992,7984,15968,31936,63872,127744,255488,510976,1021952
train() { name=$1; tl=$2; shift 2; el "train $name start"; timeout -s TERM $tl python -m hf_rmt.cli train --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "train $name exit $?"; }
ev() { name=$1; tl=$2; [ -f $R/$name/adapter_config.json ] || return; el "eval $name start"; timeout $tl python -m hf_rmt.cli eval --model $R/$name --backbone /tmp/minilm --lengths $LENS --num-samples 100 --batch-size 100 --no-progress --no-plot --output $W/eval/$name > $W/logs/eval-$name.log 2>&1; el "eval $name exit $?"; }
(train qa1-rmt 350 $QA; ev qa1-rmt 110) &
(train qa1-armt 350 $QA --memory-type associative --memory-dim 64; ev qa1-armt 110) &
algo() { name=$1; shift; el "algo $name start"; python bench/train_algorithmic.py --time-budget 420 --save-weights $R/$name.safetensors --output $W/algo/$name.json "$@" > $W/algo/$name.log 2>&1; el "algo $name exit $?"; }
AR="--task associative --arch llama --hidden 128 --layers 4 --heads 4 --batch-size 512 --sampling max --final-patience 0 --key-size 1 --schedule 2,3,4,6,11 --stage-steps 10000 --stage-target 0.98 --eval-segments 2,3,4,6,9,11,16 --embed-std 0.02 --eval-every 250 --log-every 250"
ARMT="--memory-type associative --memory-dim 32 --num-memory-tokens 4"
(algo assoc_armt_s0 $AR $ARMT --lr 3e-4 --seed 0) &
(algo assoc_armt_s1 $AR $ARMT --lr 3e-4 --seed 1) &
(algo assoc_armt_lr1e3 $AR $ARMT --lr 1e-3 --seed 0) &
(algo assoc_rmt_s0 $AR --memory-type rmt --num-memory-tokens 32 --lr 1e-3 --seed 0) &
(algo reverse_llama --task reverse --arch llama --schedule 8,9 --stage-steps 100000 --init-weights .carry/w/reverse_llama.safetensors) &
sleep 120; nvidia-smi > $W/logs/gpu.txt
wait
el "all done"
cp $R/*.safetensors $OUT/ 2>/dev/null
(cd $R && tar czf $OUT/adapters.tgz --exclude='checkpoint-*' $(ls -d */ 2>/dev/null))
grep -H -E 'ends at|Trained in|ended training|chance|below' $W/logs/*.log | grep -v eval-; grep -H -A14 'accuracy' $W/logs/eval-*.log | grep -v -i warn | tail -40
tail -n 4 $W/algo/*.log; cat $W/logs/timeline.txt
cd $OUT && tar czf call1.tgz w && rm -rf w; ls -la $OUT
