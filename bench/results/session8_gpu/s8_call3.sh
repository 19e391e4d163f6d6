#!/bin/bash
# Session 8 call 3 (~580 s on one H200, the machine of call 2 still warm): every algorithmic run of call 2 goes on
# from its saved weights at the curriculum stage it had reached (read from its JSON in /tmp/runs), side by side.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=2
R=/tmp/runs; W=$OUT/w; mkdir -p $W/logs $W/algo
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
ls $R > $W/logs/runs_found.txt
B=510
# The rest of a run's schedule: the stages from the one it reached on (its JSON), or nothing if it reached its target.
rest() { python -c "
import json,sys
d=json.load(open('$R/$1.json')); s=d['settings']['schedule']; r=d['training']['reached_segments']
print('' if d['verdict']=='reached' else ','.join(str(x) for x in s if x>=r))"; }
go() { name=$1; shift; [ -f $R/$name.json ] || { el "$name: no call-2 result"; return; }; sch=$(rest $name); [ -n "$sch" ] || { el "$name: already reached"; return; }
  el "$name start at $sch"; "$@" --time-budget $B --schedule $sch --init-weights $R/$name.safetensors --save-weights $R/${name}_2.safetensors --output $W/algo/${name}_2.json > $W/algo/${name}_2.log 2>&1; el "$name exit $?"; }
TA="python bench/train_algorithmic.py"
AR="--task associative --memory-type associative --memory-dim 32 --num-memory-tokens 4 --hidden 128 --layers 4 --heads 4 --batch-size 512 --lr 3e-4 --embed-std 0.02 --key-size 1 --sampling max --final-patience 0 --stage-steps 10000 --stage-target 0.98 --eval-segments 2,3,4,6,9,11,16 --eval-every 250 --log-every 250"
(go copy_gpt2_untied $TA --task copy --arch gpt2 --tie-embeddings no) &
(go copy_gpt2_untied_res $TA --task copy --arch gpt2 --tie-embeddings no --residual-init-std 0.02) &
(go reverse_gpt2_untied_res $TA --task reverse --arch gpt2 --tie-embeddings no --residual-init-std 0.02) &
(go assoc_gpt2_untied $TA $AR --arch gpt2 --tie-embeddings no --seed 0) &
(go assoc_gpt2_untied_res $TA $AR --arch gpt2 --tie-embeddings no --residual-init-std 0.02 --seed 0) &
(go copy_llama_s1 $TA --task copy --arch llama --seed 1) &
(go reverse_llama_s1 $TA --task reverse --arch llama --seed 1) &
(LLAMA_LN=1 go copy_llama_ln python bench/results/session7_cpu/runx.py --task copy --arch llama) &
wait
el "all done"
for f in $W/algo/*.log; do echo "== $f"; grep -E "verdict|reached|DID NOT" $f | tail -2; done
cat $W/logs/timeline.txt
cd $OUT && tar czf call3.tgz w && rm -rf w
