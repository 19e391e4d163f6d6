#!/bin/bash
# Session 7 call 3 (~540 s on one H200), the device time left. Issues 14 and 16, six runs side by side:
# - ARMT "rewrite" (Llama) continued from call 2 (trained to 10 pairs) to 20 pairs, evaluated to 400 pairs;
# - associative retrieval, remember, Llama, call 1's ARMT recipe with RMT memory instead (same 4 memory tokens, lr,
#   embeddings; a like-for-like comparison), and ARMT with 2-symbol keys (does the key size matter?);
# - GPT-2-style with ARMT continued from call 2: associative retrieval (at 2 pairs, 54%), copy (3 segments, 58%),
#   reverse (2 segments).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=2
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/algo $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
algo() { name=$1; shift; el "algo $name start"; python bench/train_algorithmic.py --time-budget 420 --save-weights $R/$name.safetensors --output $W/algo/$name.json "$@" > $W/algo/$name.log 2>&1; el "algo $name exit $?"; }
AR="--task associative --hidden 128 --layers 4 --heads 4 --batch-size 512 --sampling max --final-patience 0 --key-size 1 --stage-steps 10000 --stage-target 0.98 --embed-std 0.02 --eval-every 250 --log-every 250 --lr 3e-4 --seed 0"
ARMT="--memory-type associative --memory-dim 32 --num-memory-tokens 4"
(algo rewrite_armt_llama_2 $AR $ARMT --arch llama --variant rewrite --schedule 11,21 --eval-segments 11,21,41,101,201,401 --eval-samples 500 --init-weights .carry/w7/rewrite_armt_llama.safetensors) &
(algo assoc_rmt4_llama $AR --memory-type rmt --num-memory-tokens 4 --arch llama --schedule 2,3,4,6,11 --eval-segments 2,3,4,6,9,11,16) &
(algo assoc_armt_key2 ${AR/--key-size 1/--key-size 2} $ARMT --arch llama --schedule 2,3,4,6,11 --eval-segments 2,3,4,6,9,11,16) &
(algo assoc_armt_gpt2_2 $AR $ARMT --arch gpt2 --schedule 3,4,6,11 --eval-segments 2,3,4,6,9,11,16 --init-weights .carry/w7/assoc_armt_gpt2.safetensors) &
CP="--arch gpt2 --memory-type associative --memory-dim 32 --stage-steps 100000"
(algo copy_gpt2_armt_2 --task copy $CP --schedule 3,4,5,6,7,8,9 --init-weights .carry/w7/copy_gpt2_armt.safetensors) &
(algo reverse_gpt2_armt_2 --task reverse $CP --schedule 3,4,5,6,7,8,9 --init-weights .carry/w7/reverse_gpt2_armt.safetensors) &
sleep 100; nvidia-smi > $W/logs/gpu.txt
wait
el "all done"
cp $R/*.safetensors $OUT/ 2>/dev/null
tail -n 9 $W/algo/*.log; cat $W/logs/timeline.txt
cd $OUT && tar czf call3.tgz w && rm -rf w; ls -la $OUT
