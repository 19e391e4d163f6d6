#!/bin/bash
# Proposed first call of the next session (not run; ~580 s on one H200), benchmarks alone on the GPU.
# (1) The new CUDA paths' own GPU tests first: the compiled logits kernel of the chunked loss against the eager
#     function and against the materialised head in bf16 (tests/test_lm_loss.py); graph replay (now with the last
#     layer pruned to the memory rows) against the eager forward (tests/test_fast_path.py).
# (2) Issue 18, training: with the blocks replayed from CUDA graphs, the compiled logits kernel (`-eager-logits` modes
#     are the eager function) and `segment_checkpointing_keep_last` 2, 4, 6 (`both-keep<k>`), against the official
#     step in the same run. From session 9's figures keep 6 should land near 1.5x at 0.28x before the logits kernel.
# (3) Issue 18, inference: the frozen BERT-base step, now with its last layer at the memory rows only (session 9:
#     0.618 ms a step whole), then with cuBLASLt preferred (its kernel choice at M=512).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
nvidia-smi --query-gpu=name,driver_version --format=csv > $W/gpu.txt; python -c "import torch,transformers,peft;print(torch.__version__,transformers.__version__,peft.__version__)" >> $W/gpu.txt
timeout 150 python -m pytest -m gpu -q -p no:cacheprovider -rs tests/test_lm_loss.py tests/test_fast_path.py > $W/pytest_lm_loss.log 2>&1; el "pytest lm_loss exit $?"
timeout 330 python bench/bench_training_lm.py --compile --compile_mode reduce-overhead --profile --keep_last 2 4 6 --modes chunked chunked-eager-logits both both-eager-logits both-keep2 both-keep4 both-keep6 --output $W/training_lm_ro.json > $W/training_lm_ro.log 2>&1; el "training_lm ro exit $?"
timeout 60 python bench/bench_inference.py --sections 5 --anatomy_modes frozen --output $W/anatomy_pruned.json > $W/anatomy_pruned.log 2>&1; el "anatomy pruned exit $?"
left=$(( 575 - ($(date +%s) - T0) )); timeout $left python bench/bench_inference.py --sections 5 --blas cublaslt --anatomy_modes frozen --output $W/anatomy_cublaslt.json > $W/anatomy_cublaslt.log 2>&1; el "anatomy cublaslt exit $?"
cat $W/timeline.txt; tail -8 $W/pytest_lm_loss.log; grep -A16 "mode   step s" $W/training_lm_ro.log; tail -9 $W/anatomy_pruned.log; tail -9 $W/anatomy_cublaslt.log
