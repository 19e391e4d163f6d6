source .carry/setup_gpu.sh
export PYTHONPATH=$PWD/.carry/snap PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1; REPO=$PWD; cd /tmp
mkdir -p /tmp/runs
COMMON="--model /tmp/minilm --num-memory-tokens 10 --curriculum 1,2,3,4,5,6,7 --steps-per-stage 300 --eval-steps 25 --eval-samples 100 --stage-target 0.98 --stop-at-target --batch-size 32 --bf16 --warmup-steps 50 --logging-steps 25 --seed 0"
run() { name=$1; shift; (timeout 270 python -m hf_rmt.cli train --output-dir /tmp/runs/$name "$@" $COMMON > /tmp/runs/$name.log 2>&1; echo "$name exit $?" >> /tmp/runs/exits.txt) & }
run memorize-lora --task memorize
run detect_memorize-lora --task detect_memorize
wait; cat /tmp/runs/exits.txt
for f in /tmp/runs/*.log; do echo "== $f"; grep -E "Curriculum stage .* ends|Trained in|Error|Traceback|chance" $f | tail -9; done
(cd /tmp/runs && tar czf $OUT/adapters.tgz --exclude='checkpoint-*' .)
for t in memorize detect_memorize; do [ -f /tmp/runs/$t-lora/adapter_config.json ] && timeout 80 python $REPO/.carry/eval_lora.py /tmp/runs/$t-lora 3493,31936,255488 $OUT/$t-eval-short.json 100 2>&1 | grep -v Warn | tail -9; done
for t in memorize detect_memorize; do [ -f /tmp/runs/$t-lora/adapter_config.json ] && timeout 110 python $REPO/.carry/eval_lora.py /tmp/runs/$t-lora 2043904 $OUT/$t-eval-2M.json 100 2>&1 | grep -v Warn | tail -6; done
ls -la $OUT
