#!/bin/bash
# Session 9 call 1 (~570 s on one H200), benchmarks alone on the GPU.
# (1) Issue 18, inference: the batch-1 BERT-base segment step (bench_inference section 5) with inductor's
#     max-autotune (Triton GEMM templates with fused epilogues) and frozen weights, against the frozen default mode;
#     FP8 GEMM kernel times at the step's shapes; the frozen step under FlashAttention-2 instead of torch's choice.
# (2) Issue 18, training: `bench_training_lm --compile --profile` (default compile mode): every lever, among them
#     session 8's two after its GPU runs (head padding: `-unpadded` modes; gradients in forward: `both-recompute`
#     is the old path).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
nvidia-smi --query-gpu=name,driver_version --format=csv > $W/gpu.txt; python -c "import torch,transformers,peft;print(torch.__version__,transformers.__version__,peft.__version__)" >> $W/gpu.txt
timeout 250 python bench/bench_inference.py --sections 5 --compile max-autotune-no-cudagraphs --anatomy_modes frozen frozen-autotune --output $W/anatomy_autotune.json > $W/anatomy_autotune.log 2>&1; el "anatomy autotune exit $?"
timeout 80 python bench/bench_inference.py --sections 5 --sdpa flash --anatomy_modes frozen --output $W/anatomy_flash.json > $W/anatomy_flash.log 2>&1; el "anatomy flash exit $?"
left=$(( 575 - ($(date +%s) - T0) )); timeout $left python bench/bench_training_lm.py --compile --profile --output $W/training_lm_default.json > $W/training_lm_default.log 2>&1; el "training_lm default exit $?"
cat $W/timeline.txt; cat $W/anatomy_autotune.log | grep -v Warning | tail -40; tail -14 $W/anatomy_flash.log; grep -B2 -A22 "mode   step s\|step s" $W/training_lm_default.log | tail -40
