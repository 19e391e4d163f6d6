#!/bin/bash
# Session 6 call 3. (1) GPU tests of the static-cache rolling generation (compiled step, CUDA graphs) and the rolling
# generation tests. (2) Issue 16 speed, alone on the GPU: RMT with cache_implementation="static" against plain generate
# with a static cache, toward 10,000 new tokens. (3) Then side by side: reverse (Llama) continued from call 1's weights
# (stage 6 of 9) with the last stage's plateau halving and best-state restore; GPT-2 copy continued from session 5's
# weights (99.4% at 4 segments, 92.8% at 5) the same way. (The Reasoning continuation did not fit the 64 MiB carry.)
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=4
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" | tee -a $OUT/timeline.txt; }
timeout 100 python -m pytest -q -p no:cacheprovider tests/test_static_cache_generation.py tests/test_rolling_generation.py > $OUT/gpu_tests.log 2>&1; el "tests exit $?"
timeout 190 python bench/bench_generation.py --time-budget 110 --output $OUT/generation_static_both.json > $OUT/generation_static_both.log 2>&1; el "generation exit $?"
R=/tmp/runs; mkdir -p $R $OUT/w
(timeout 250 python bench/train_algorithmic.py --task reverse --arch llama --schedule 6,7,8,9 --time-budget 215 --init-weights .carry/w/reverse_llama.safetensors --save-weights $R/reverse_llama.safetensors --output $OUT/w/reverse_llama_2.json > $OUT/w/reverse_llama_2.log 2>&1; el "reverse exit $?") &
(timeout 250 python bench/train_algorithmic.py --task copy --arch gpt2 --schedule 6,7,8,9 --time-budget 215 --init-weights .carry/w/copy_gpt2.safetensors --save-weights $R/copy_gpt2.safetensors --output $OUT/w/copy_gpt2_2.json > $OUT/w/copy_gpt2_2.log 2>&1; el "copy gpt2 exit $?") &
wait
cp $R/*.safetensors $OUT/ 2>/dev/null
cd $OUT && tar czf call3.tgz w && rm -rf w
tail -5 $OUT/gpu_tests.log; tail -6 $OUT/generation_static_both.log; cat $OUT/timeline.txt
