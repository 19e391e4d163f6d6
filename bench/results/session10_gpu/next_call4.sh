#!/bin/bash
# Proposed fourth call of the next session (not run; ~560 s on one H200), runs side by side, issue 14: BABILong qa1
# with MiniLM-L6 + RMT at 499-token segments, training samples placed so that only memory can answer
# (`--placement before_last_segment`: every fact before the last segment, which holds noise and the question;
# validation keeps BABILong's random gaps). Session 10's CPU study (bench/results/session10_cpu/qa1_placement/,
# 64-token segments) found LoRA + memory carrying facts with it (story wholly in segment 1 of 2: 39% / 44% over two
# seeds, where all seven session-9 LoRA models were at chance), while with random gaps both LoRA and (on the GPU at
# 499 tokens) full fine-tuning sat on the no-memory floor. Then the carry diagnostic on each saved model.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
B=450
Q="--task qa1 --model /tmp/minilm --segment-size 499 --num-memory-tokens 10 --curriculum 1,2,4 --steps-per-stage 300,2000,2000 --sampling uniform --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --bf16 --placement before_last_segment"
qa1() { name=$1; shift; el "$name start"; timeout -s TERM $B python -m hf_rmt.cli train $Q --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(qa1 qa1_lora_bls_s0 --seed 0) &
(qa1 qa1_lora_bls_s1 --seed 1) &
(qa1 qa1_full_bls_s0 --train-backbone --lr 1e-4 --seed 0) &
wait
timeout 80 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_lora_bls_s0 $R/qa1_lora_bls_s1 $R/qa1_full_bls_s0 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage|chance" $f | tail -4; done; cat $W/diag.json
cd $OUT && tar czf call4.tgz w && rm -rf w
