#!/bin/bash
# Session 7 call 2 (~570 s on one H200).
# (1) Issue 14: `bench_armt --compile`: ARMT against RMT at batch 32 on a BERT-base-sized encoder, eager, CUDA graphs,
#     and the step compiled inside the graphs; alone on the GPU.
# (2) Issue 14: BABILong qa1 (MiniLM-L6, LoRA + memory), RMT and ARMT continued from call 1 (stopped in the 8-segment
#     stage at 39.5% validation each) with the same budget: stages 8 and 16. Adapters travel in bf16 and are restored
#     to float32 here.
# (3) Issue 14: associative retrieval, "rewrite" variant (keys repeat), ARMT at the official scripts' settings, trained
#     to 20 pairs and evaluated to 200 (10x the rewrites).
# (4) Issue 16: GPT-2-style decoders with ARMT memory: associative retrieval at call 1's recipe, copy and reverse at
#     the copy recipe (two embedding scales for copy).
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=4
R=/tmp/runs; W=$OUT/w; mkdir -p $R $W/logs $W/eval $W/algo $W/armt
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
timeout 150 python bench/bench_armt.py --batches 32 --compile --output-dir $W/armt > $W/logs/bench_armt.log 2>&1; el "bench_armt exit $?"
export TORCHINDUCTOR_COMPILE_THREADS=2
python - <<'PY'
import os, shutil
from safetensors.torch import load_file, save_file
for n in ("rmt", "armt"):
    src, dst = f".carry/qa1/{n}", f"/tmp/init/qa1-{n}"
    shutil.copytree(src, dst, dirs_exist_ok=True)
    sd = load_file(f"{dst}/adapter_model.bf16.safetensors")
    save_file({k: v.float() for k, v in sd.items()}, f"{dst}/adapter_model.safetensors", metadata={"format": "pt"})
    os.remove(f"{dst}/adapter_model.bf16.safetensors")
PY
QA="--task qa1 --model /tmp/minilm --num-memory-tokens 10 --segment-size 499 --curriculum 8,16 --steps-per-stage 800 --sampling uniform --eval-steps 25 --eval-samples 200 --eval-batch-size 100 --stage-target 0.98 --batch-size 32 --bf16 --warmup-steps 25 --lr-scheduler linear --logging-steps 50 --seed 0"
train() { name=$1; tl=$2; shift 2; el "train $name start"; timeout -s TERM $tl python -m hf_rmt.cli train --output-dir $R/$name "$@" > $W/logs/$name.log 2>&1; el "train $name exit $?"; }
(train qa1-rmt 390 $QA --init-from /tmp/init/qa1-rmt) &
(train qa1-armt 390 $QA --memory-type associative --memory-dim 64 --init-from /tmp/init/qa1-armt) &
algo() { name=$1; shift; el "algo $name start"; python bench/train_algorithmic.py --time-budget 360 --save-weights $R/$name.safetensors --output $W/algo/$name.json "$@" > $W/algo/$name.log 2>&1; el "algo $name exit $?"; }
AR="--task associative --hidden 128 --layers 4 --heads 4 --batch-size 512 --sampling max --final-patience 0 --key-size 1 --stage-steps 10000 --stage-target 0.98 --embed-std 0.02 --eval-every 250 --log-every 250 --memory-type associative --memory-dim 32 --num-memory-tokens 4 --lr 3e-4 --seed 0"
(algo assoc_armt_gpt2 $AR --arch gpt2 --schedule 2,3,4,6,11 --eval-segments 2,3,4,6,9,11,16) &
(algo rewrite_armt_llama $AR --arch llama --variant rewrite --schedule 2,3,4,6,11,21 --eval-segments 2,6,11,21,41,101,201) &
CP="--arch gpt2 --memory-type associative --memory-dim 32"
(algo copy_gpt2_armt --task copy $CP) &
(algo copy_gpt2_armt_e002 --task copy $CP --embed-std 0.02) &
(algo reverse_gpt2_armt --task reverse $CP) &
sleep 100; nvidia-smi > $W/logs/gpu.txt
wait
el "all done"
cp $R/*.safetensors $OUT/ 2>/dev/null
(cd $R && tar czf $OUT/adapters.tgz --exclude='checkpoint-*' $(ls -d */ 2>/dev/null))
grep -H -E 'ends at|Trained in|ended training' $W/logs/*.log
tail -n 12 $W/logs/bench_armt.log; tail -n 4 $W/algo/*.log; cat $W/logs/timeline.txt
cd $OUT && tar czf call2.tgz w && rm -rf w; ls -la $OUT
