#!/bin/bash
# Session 6 call 4 (the device time left): reverse (Llama) and copy (GPT-2) continued from call 3's weights at stage 6
# of 9, stages advancing only at 98% validation (no step cap), weights returned for the next session.
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TORCHINDUCTOR_COMPILE_THREADS=4
R=/tmp/runs; mkdir -p $R $OUT/w
(python bench/train_algorithmic.py --task reverse --arch llama --schedule 6,7,8,9 --stage-steps 100000 --time-budget 250 --init-weights .carry/w/reverse_llama.safetensors --save-weights $R/reverse_llama.safetensors --output $OUT/w/reverse_llama_3.json > $OUT/w/reverse_llama_3.log 2>&1) &
(python bench/train_algorithmic.py --task copy --arch gpt2 --schedule 6,7,8,9 --stage-steps 100000 --time-budget 250 --init-weights .carry/w/copy_gpt2.safetensors --save-weights $R/copy_gpt2.safetensors --output $OUT/w/copy_gpt2_3.json > $OUT/w/copy_gpt2_3.log 2>&1) &
wait
cp $R/*.safetensors $OUT/; cd $OUT && tar czf call4.tgz w && rm -rf w
