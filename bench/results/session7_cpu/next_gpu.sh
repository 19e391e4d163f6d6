#!/bin/bash
# Proposed next H200 call (not run): ~470 s, eight runs side by side on one GPU, as session 7 call 3.
# Does the tied LM head (and GPT-2's scaled residual init) explain the GPT-2 gap at GPU scale? gpt2_study.md, section 7.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=2
W=$OUT/w; mkdir -p $W/algo
algo() { name=$1; shift; python bench/train_algorithmic.py --time-budget 420 --output $W/algo/$name.json "$@" > $W/algo/$name.log 2>&1; }
# Associative retrieval, the ARMT recipe of session 7 call 1 (Llama: 2 pairs by step 500, 8 pairs by ~1,160).
AR="--task associative --memory-type associative --memory-dim 32 --num-memory-tokens 4 --hidden 128 --layers 4 --heads 4 --batch-size 512 --lr 3e-4 --embed-std 0.02 --key-size 1 --sampling max --final-patience 0 --schedule 2,3,4,6,11 --stage-steps 10000 --stage-target 0.98 --eval-segments 2,3,4,6,9,11,16 --eval-every 250 --log-every 250"
(algo assoc_gpt2_untied_s0 $AR --arch gpt2 --tie-embeddings no --seed 0) &
(algo assoc_gpt2_untied_s1 $AR --arch gpt2 --tie-embeddings no --seed 1) &
(algo assoc_gpt2_untied_res_s0 $AR --arch gpt2 --tie-embeddings no --residual-init-std 0.02 --seed 0) &
(algo assoc_llama_tied_s0 $AR --arch llama --tie-embeddings yes --seed 0) &
# Copy / reverse, the default recipe (RMT, 32 memory tokens, hidden 256, embed std 0.3, batch 512, lr 1e-3).
(algo copy_gpt2_untied --task copy --arch gpt2 --tie-embeddings no) &
(algo copy_gpt2_untied_res --task copy --arch gpt2 --tie-embeddings no --residual-init-std 0.02) &
(algo reverse_gpt2_untied --task reverse --arch gpt2 --tie-embeddings no) &
(algo reverse_gpt2_untied_res --task reverse --arch gpt2 --tie-embeddings no --residual-init-std 0.02) &
wait
tail -n 9 $W/algo/*.log
cd $OUT && tar czf call.tgz w && rm -rf w
