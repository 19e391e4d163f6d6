#!/bin/bash
# The README's figure of the decoder results (issues 14 and 16), from the committed JSON records; run from the root.
# Session 8 adds: copy (Llama, seed 1), a Llama with LayerNorm on copy, untied GPT-2 on copy, reverse and associative
# retrieval, reverse (Llama, seed 1, unfinished). Runs that went on over two commands are plotted from the second.
R=bench/results; S=$R/session8_gpu
python bench/plot_algorithmic.py $S/algorithmic.png \
 "Llama, RMT, seed 0=$R/session5_gpu/call3_algo/copy_llama.json" "Llama, RMT, seed 1=$S/call3/w/algo/copy_llama_s1_2.json" "Llama with LayerNorm, RMT=$S/call3/w/algo/copy_llama_ln_2.json" "GPT-2 untied, RMT=$S/call3/w/algo/copy_gpt2_untied_2.json" "GPT-2 tied, RMT=$R/session5_gpu/call3_algo/copy_gpt2.json" \
 "Llama, RMT, seed 0=$R/session7_gpu/call1/algo/reverse_llama.json" "Llama, RMT, seed 1 (2 commands)=$S/call3/w/algo/reverse_llama_s1_2.json" "GPT-2 untied, RMT, residual 0.02=$S/call3/w/algo/reverse_gpt2_untied_res_2.json" \
 "Llama, ARMT, seed 0=$R/session7_gpu/call1/algo/assoc_armt_s0.json" "Llama, ARMT, seed 1=$R/session7_gpu/call1/algo/assoc_armt_s1.json" "Llama, ARMT, lr 1e-3=$R/session7_gpu/call1/algo/assoc_armt_lr1e3.json" "Llama, RMT, 4 tokens=$R/session7_gpu/call3/algo/assoc_rmt4_llama.json" "GPT-2 untied, ARMT=$S/call3/w/algo/assoc_gpt2_untied_2.json" "GPT-2 untied, ARMT, residual 0.02=$S/call3/w/algo/assoc_gpt2_untied_res_2.json" "GPT-2 tied, ARMT=$R/session7_gpu/call3/algo/assoc_armt_gpt2_2.json" \
 "Llama, ARMT, to 10 pairs=$R/session7_gpu/call2/algo/rewrite_armt_llama.json" "Llama, ARMT, to 20 pairs=$R/session7_gpu/call3/algo/rewrite_armt_llama_2.json"
