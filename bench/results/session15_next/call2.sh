#!/bin/bash
# Proposed call (not run; ~580 s on one H200), issue 14: qa1 with ARMT memory from an ARMT Detect & Memorize start,
# two seeds, the same recipe as RMT's (session 15 call 2: both RMT seeds learned to read, ~1,450 steps, and carry a
# story in the first segment at 38-49%). ARMT's delta rule is built for qa1's structure (actor -> latest location is a
# key rewritten over the story; ARMT paper, rewrite task), so this is the test of whether associative memory carries
# more of a story. Needs call1.sh's best arm in .carry/armt_dm (unpacked, without tokenizer.json if space is short)
# and, if that arm used it, the same --memory-denominator-floor below. Then the carry diagnostic by fact rank.
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/armt; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
FLOOR=${FLOOR:-}  # e.g. FLOOR="--memory-denominator-floor 1e-3"
Q="--task qa1 --model /tmp/minilm --init-from .carry/armt_dm --num-memory-tokens 10 --segment-size 499 --memory-type associative --memory-dim 64 $FLOOR --curriculum 1,2,4 --steps-per-stage 300,1500,2000 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16 --lr 3e-4"
qa1() { seed=$1; el "qa1 seed $seed start"; timeout -s TERM 470 python -m hf_rmt.cli train $Q --seed $seed --output-dir $R/qa1_armt_seed$seed > $W/logs/qa1_armt_seed$seed.log 2>&1; el "qa1 seed $seed exit $?"; }
(qa1 0) & (qa1 1) &
wait
for name in qa1_armt_seed0 qa1_armt_seed1; do (cd $R && tar czf $OUT/$name.tgz --exclude='checkpoint-*' $name); done; el "saved"
timeout 60 python bench/results/session15_cpu/qa1_rank/diag_rank.py $R/qa1_armt_seed0 $R/qa1_armt_seed1 --device cuda --num-samples 300 --out $W/rank.json > $W/logs/rank.log 2>&1; el "rank exit $?"
cat $W/logs/timeline.txt; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage .* ends|eval_accuracy|DIVERGED|NaN or inf" $f | sed -E "s/'eval_runtime.*//" | tail -8; done; cat $W/rank.json
cd $OUT && tar czf call2.tgz w && rm -rf w
