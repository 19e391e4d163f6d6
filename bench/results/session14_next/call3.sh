#!/bin/bash
# Proposed call (not run; ~590 s on one H200), issue 14: does a memory of 32 tokens carry more of a qa1 story? Every
# qa1 model so far carries a story wholly in the first segment at 41-49% (10 memory tokens, from the Detect & Memorize
# adapter; ../session14_gpu/, ../session14_cpu/qa1_reader_bls/). qa1 learned to carry facts only from a Detect &
# Memorize start, so this trains that start again with 32 memory tokens (the shipped adapter's recipe,
# examples/README.md: 676 steps, 141 s alone on an H200), then qa1 from it (one segment first, as call2.sh), with
# checkpoints for a later --resume. Segments of 477 tokens: 32 memory tokens and 3 special ones fill MiniLM's 512
# positions. Run with carry=[".carry"].
source .carry/setup_gpu.sh >/dev/null 2>&1
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
R=/tmp/m32; W=$OUT/w; mkdir -p $R $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
timeout -s TERM 200 python -m hf_rmt.cli train --task detect_memorize --model /tmp/minilm --output-dir $R/dm_m32 --num-memory-tokens 32 --segment-size 477 --curriculum 1,2,3,4,5,6,7 --steps-per-stage 300 --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --stage-target 0.99 --batch-size 32 --bf16 --warmup-steps 25 --lr-scheduler linear --seed 0 > $W/logs/dm_m32.log 2>&1; el "dm exit $?"
Q="--task qa1 --model /tmp/minilm --init-from $R/dm_m32 --segment-size 477 --num-memory-tokens 32 --curriculum 1,2,4 --steps-per-stage 300,1500,2000 --batch-size 32 --eval-steps 100 --eval-samples 500 --stage-target 0.95 --warmup-steps 20 --bf16 --lr 3e-4 --save-steps 200"
qa1() { seed=$1; el "qa1 seed $seed start"; timeout -s TERM 300 python -m hf_rmt.cli train $Q --seed $seed --output-dir $R/qa1_m32_seed$seed > $W/logs/qa1_m32_seed$seed.log 2>&1; el "qa1 seed $seed exit $?"; }
(qa1 0) & (qa1 1) &
wait
for name in dm_m32 qa1_m32_seed0 qa1_m32_seed1; do (cd $R && tar czf $OUT/$name.tgz $name); done; el "saved"
timeout 60 python bench/results/session9_cpu/qa1_carry/diag_carry.py $R/qa1_m32_seed0 $R/qa1_m32_seed1 --device cuda --num-samples 500 --out $W/diag.json > $W/logs/diag.log 2>&1; el "diag exit $?"
cat $W/logs/timeline.txt; grep -E "Curriculum stage" $W/logs/dm_m32.log | tail -3; for f in $W/logs/qa1_*.log; do echo "== $f"; grep -E "Curriculum stage|eval_accuracy" $f | sed -E "s/'eval_runtime.*//" | tail -6; done; cat $W/diag.json
cd $OUT && tar czf call3.tgz w && rm -rf w
