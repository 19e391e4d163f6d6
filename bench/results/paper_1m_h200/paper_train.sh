# Issue 12, call 1: LoRA + memory on memorize / detect_memorize / reasoning and full fine-tuning on memorize, in parallel.
source .carry/setup_gpu.sh
export PYTHONPATH=$PWD/.carry/snap PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1; REPO=$PWD; cd /tmp
python -c "import hf_rmt, sys; print(hf_rmt.__file__)" || exit 3
mkdir -p /tmp/runs
COMMON="--model /tmp/minilm --num-memory-tokens 10 --curriculum 1,2,3,4,5,6,7 --steps-per-stage 400 --eval-steps 25 --eval-samples 100 --stage-target 0.98 --batch-size 32 --bf16 --warmup-steps 50 --logging-steps 25 --seed 0"
run() { name=$1; shift; (timeout 450 python -m hf_rmt.cli train --output-dir /tmp/runs/$name "$@" $COMMON > /tmp/runs/$name.log 2>&1; echo "$name exit $?" >> /tmp/runs/exits.txt) & }
run memorize-lora --task memorize
run detect_memorize-lora --task detect_memorize
run reasoning-lora --task reasoning
run memorize-full --task memorize --train-backbone
sleep 30; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
wait
cat /tmp/runs/exits.txt
for f in /tmp/runs/*.log; do echo "== $f"; grep -E "Curriculum|Trained in|Error|error|Traceback|chance" $f | grep -v "from step" | tail -20; done
# full FT model: a short look at long inputs now (it cannot travel back: 90 MB)
if [ -f /tmp/runs/memorize-full/config.json ]; then timeout 100 python -m hf_rmt.cli eval --model /tmp/runs/memorize-full --lengths 3493,31936,255488 --num-samples 100 --batch-size 100 --no-progress --output /tmp/runs/memorize-full-eval --no-plot 2>&1 | tail -12; fi
rm -f /tmp/runs/memorize-full/model.safetensors
cd /tmp/runs && tar czf $OUT/runs.tgz --exclude='checkpoint-*' . && ls -la $OUT
