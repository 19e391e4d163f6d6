#!/bin/bash
# Proposed third call of the next session (not run; ~240 s on one H200), issues 14 and 12:
# ARMT's write and read formulations timed one by one at BERT-base sizes, batch 32 (bench/bench_armt_write.py):
# which of the recall as (A^T k^T)^T, memory rows padded to 8, the recall from bf16, or one Triton kernel reading A
# once (bench/armt_write_triton.py, block of 16 or 32 hidden columns) gets the write's two float32
# GEMMs (0.77 ms of ARMT's 2.4 ms extra a step in session 13's profile) nearer the memory bandwidth, eager and
# compiled; then the fused kernel's GPU test. Run with carry=[".carry"] (MiniLM for the last part).
source .carry/setup_gpu.sh >/dev/null 2>&1
export TORCHINDUCTOR_COMPILE_THREADS=16
timeout 200 python bench/bench_armt_write.py --output-dir $OUT/armt_write 2>&1 | grep -v -i autotune | grep -E "^[a-z_0-9]+ +(eager|default|max)|^(write|read) \(" 
timeout 90 python -m pytest -q -m gpu tests/test_bench.py -k fused_armt_write -p no:cacheprovider 2>&1 | tail -3
# Issue 12: where the shipped Detect & Memorize adapter's errors at 2,043,904 tokens are (93.2% on 500 in session 13):
# accuracy by fact depth (new in hf-rmt eval), 300 samples.
export TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1
timeout 110 python -m hf_rmt.cli eval --model model_cards/rmt-minilm-l6-detect-memorize-lora --backbone /tmp/minilm --lengths 2043904 --num-samples 300 --batch-size 150 --no-progress --no-plot --output $OUT/dm_depth 2>&1 | grep -E "^\||Accuracy by depth"
