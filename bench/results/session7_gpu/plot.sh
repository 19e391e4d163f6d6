#!/bin/bash
# The README's figure of the decoder results (issues 14 and 16), from the committed JSON records; run from the root.
R=bench/results
python bench/plot_algorithmic.py $R/session7_gpu/algorithmic.png \
 "Llama, RMT=$R/session5_gpu/call3_algo/copy_llama.json" "GPT-2, RMT=$R/session5_gpu/call3_algo/copy_gpt2.json" "GPT-2, ARMT=$R/session7_gpu/call3/algo/copy_gpt2_armt_2.json" \
 "Llama, RMT=$R/session7_gpu/call1/algo/reverse_llama.json" "GPT-2, RMT=$R/session5_gpu/call4_algo/reverse_gpt2.json" "GPT-2, ARMT=$R/session7_gpu/call3/algo/reverse_gpt2_armt_2.json" \
 "Llama, ARMT, seed 0=$R/session7_gpu/call1/algo/assoc_armt_s0.json" "Llama, ARMT, seed 1=$R/session7_gpu/call1/algo/assoc_armt_s1.json" "Llama, ARMT, lr 1e-3=$R/session7_gpu/call1/algo/assoc_armt_lr1e3.json" "Llama, ARMT, 2-symbol keys=$R/session7_gpu/call3/algo/assoc_armt_key2.json" "Llama, RMT, 4 tokens=$R/session7_gpu/call3/algo/assoc_rmt4_llama.json" "Llama, RMT, 32 tokens=$R/session7_gpu/call1/algo/assoc_rmt_s0.json" "GPT-2, ARMT=$R/session7_gpu/call3/algo/assoc_armt_gpt2_2.json" \
 "Llama, ARMT, to 10 pairs=$R/session7_gpu/call2/algo/rewrite_armt_llama.json" "Llama, ARMT, to 20 pairs=$R/session7_gpu/call3/algo/rewrite_armt_llama_2.json"
