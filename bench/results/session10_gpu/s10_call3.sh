#!/bin/bash
# Session 10, call 3 (~570 s on one H200), runs side by side:
# - Issue 14: BABILong qa1, MiniLM-L6 + RMT at 499-token segments with FULL fine-tuning (the session-9 CPU study's
#   lever: LoRA + memory carried nothing, full fine-tuning carried facts in 4 of 4 CPU runs), seeds 0 and 1 at lr 1e-4,
#   stages ending at 95% validation; then the carry diagnostic (bench/results/session9_cpu/qa1_carry/diag_carry.py)
#   on each saved model, read against the no-memory floor (71-73% / 51% / 36% at 2 / 4 / 8 segments).
# - Issue 12: the shipped Detect & Memorize adapter in float32 at 1,021,952 tokens, 100 samples (bf16: 97%): does
#   bf16 cost accuracy at length?
# - Issue 16: untied GPT-2 with ARMT on associative retrieval, seed 1 (seed 0, session 8: 96.3% at 8 pairs).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=2
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
B=450
Q="--task qa1 --model /tmp/minilm --segment-size 499 --num-memory-tokens 10 --train-backbone --curriculum 1,2,4,8 --steps-per-stage 1000,3000,3000,3000 --sampling uniform --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --bf16"
qa1() { name=$1; shift; el "$name start"; timeout -s TERM $B python -m hf_rmt.cli train $Q --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(qa1 qa1_full_lr1e-4_s0 --lr 1e-4 --seed 0) &
(qa1 qa1_full_lr1e-4_s1 --lr 1e-4 --seed 1) &
(el "dm fp32 start"; timeout $(( B + 60 )) python -m hf_rmt.cli eval --model model_cards/rmt-minilm-l6-detect-memorize-lora --backbone /tmp/minilm --fp32 --lengths 1021952 --num-samples 100 --batch-size 100 --no-progress --no-plot --output $W/dm_fp32 > $W/logs/dm_fp32.log 2>&1; el "dm fp32 exit $?") &
AR="--task associative --memory-type associative --memory-dim 32 --num-memory-tokens 4 --hidden 128 --layers 4 --heads 4 --batch-size 512 --lr 3e-4 --embed-std 0.02 --key-size 1 --sampling max --final-patience 0 --schedule 2,3,4,6,11 --stage-steps 10000 --stage-target 0.98 --eval-segments 2,3,4,6,9,11,16 --eval-every 250 --log-every 250"
(el "assoc start"; python bench/train_algorithmic.py $AR --arch gpt2 --seed 1 --time-budget $(( B + 50 )) --save-weights $R/assoc_gpt2_s1.safetensors --output $W/assoc_gpt2_s1.json > $W/logs/assoc_gpt2_s1.log 2>&1; el "assoc exit $?") &
wait
timeout 70 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_full_lr1e-4_s0 $R/qa1_full_lr1e-4_s1 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "stage|eval_accuracy|chance" $f | tail -4; done; cat $W/diag.json; grep -v -i warn $W/logs/dm_fp32.log | tail -4; grep -E "reached|DID NOT|did not" $W/logs/assoc_gpt2_s1.log | tail -2
cd $OUT && tar czf call3.tgz w && rm -rf w
