#!/bin/bash
# Session 8 call 1 (~570 s on one H200), benchmarks alone on the GPU, then the GPU tests.
# (1) Issue 14: `bench_armt --batches 32 --compile`, ARMT's write now one baddbmm (session 7: 0.776 against 0.8).
# (2) Issue 18: `bench_training_lm --compile --compile_mode reduce-overhead --profile`: every lever with the backbone
#     blocks' forward and backward replayed from CUDA graph trees, GPU busy share per lever, against the official step.
# (3) The GPU tests (`pytest -m gpu`), bench tests first (the new reduce-overhead/profile test among them).
# (4) If time is left: `bench_training_lm --compile --profile` (default compile mode), for the busy share alone.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=8
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
nvidia-smi --query-gpu=name,driver_version --format=csv > $W/gpu.txt; python -c "import torch,transformers,peft;print(torch.__version__,transformers.__version__,peft.__version__)" >> $W/gpu.txt
timeout 150 python bench/bench_armt.py --batches 32 --compile --output-dir $W/armt > $W/bench_armt.log 2>&1; el "bench_armt exit $?"
timeout 200 python bench/bench_training_lm.py --compile --compile_mode reduce-overhead --profile --output $W/training_lm_ro.json > $W/training_lm_ro.log 2>&1; el "training_lm reduce-overhead exit $?"
timeout 150 python -m pytest -m gpu tests/test_bench.py tests/test_fast_path.py tests/test_eval_precision.py tests/test_lm_loss.py tests/test_training.py tests/test_static_cache_generation.py tests/test_factorised_embeddings.py tests/test_seq2seq.py tests/test_option_matrix.py -q -p no:cacheprovider > $W/pytest_gpu.log 2>&1; el "pytest gpu exit $?"
left=$(( 560 - ($(date +%s) - T0) )); [ $left -gt 60 ] && { timeout $left python bench/bench_training_lm.py --compile --profile --output $W/training_lm_default.json > $W/training_lm_default.log 2>&1; el "training_lm default exit $?"; }
cat $W/timeline.txt; tail -5 $W/pytest_gpu.log; grep -E "ratio|ARMT|RMT" $W/bench_armt.log | tail -12; tail -40 $W/training_lm_ro.log
