#!/bin/bash
# Proposed fourth call (not run; ~580 s on one H200), issue 12: Reasoning started from the shipped Detect & Memorize
# adapter. Reasoning trained from MiniLM learns its two-fact relation at one segment (91-94% test after a 1,500-step
# first stage) but not to carry two facts: 19-48% beyond 64 segments in six recipes (RESULTS.md). The D&M adapter's
# memory already detects and carries one fact through 4,096 segments, and started from it qa1 learned to carry facts
# where every qa1 model from MiniLM had not (session 13). Same labels (the 6 locations). Three arms sharing the GPU:
# LoRA + memory at lr 3e-4 (seeds 0 and 1) and 1e-4 (seed 0), curriculum 1, 2, 4, 7 with stages ending at 95%
# validation; then test accuracy at 8 and 64 segments on 500 samples. The runs come back one archive each, with
# checkpoints (`--save-steps 200`) that a later call resumes exactly (`hf-rmt train ... --resume DIR`).
# Build .carry first: `python scripts/make_gpu_carry.py`; run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/reasoning_runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
Q="--task reasoning --model /tmp/minilm --init-from model_cards/rmt-minilm-l6-detect-memorize-lora --segment-size 499 --num-memory-tokens 10 --curriculum 1,2,4,7 --steps-per-stage 1500,800,400,400 --batch-size 32 --eval-steps 50 --eval-samples 200 --stage-target 0.95 --warmup-steps 50 --lr-scheduler linear --bf16 --save-steps 200"
rs() { name=$1; shift; el "$name start"; timeout -s TERM 430 python -m hf_rmt.cli train $Q --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
(rs reasoning_dm_lr3e-4_s0 --lr 3e-4 --seed 0) & (rs reasoning_dm_lr3e-4_s1 --lr 3e-4 --seed 1) & (rs reasoning_dm_lr1e-4_s0 --lr 1e-4 --seed 0) &
wait
# One archive a run (adapter + its latest checkpoint, with optimizer and curriculum state: ~10 MB), so each stays
# under the 16 MiB a returned file may have; a later call continues a run with `--resume <its checkpoint>`.
for name in reasoning_dm_lr3e-4_s0 reasoning_dm_lr3e-4_s1 reasoning_dm_lr1e-4_s0; do (cd $R && tar czf $OUT/$name.tgz $name); done; el "saved $(du -ch $OUT/*.tgz | tail -1)"
for name in reasoning_dm_lr3e-4_s0 reasoning_dm_lr3e-4_s1 reasoning_dm_lr1e-4_s0; do
  timeout 35 python -m hf_rmt.cli eval --model $R/$name --backbone /tmp/minilm --lengths 3992,31936 --num-samples 500 --batch-size 250 --no-progress --no-plot --output $W/eval/$name > $W/logs/eval_$name.log 2>&1; el "eval $name exit $?"
done
cat $W/logs/timeline.txt; for f in $W/logs/reasoning_*.log; do echo "== $f"; grep -E "Curriculum stage|chance" $f | tail -5; done; for f in $W/logs/eval_*.log; do echo "== $f"; grep -E "^\|" $f; done
cd $OUT && tar czf call4.tgz w && rm -rf w
