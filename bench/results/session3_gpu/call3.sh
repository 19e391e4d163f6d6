# Session 3, call 3 (one H200): the merged main's GPU checks for issues 14, 15 and 17.
# 1. bench/bench_armt.py alone (throughput ARMT vs RMT, nothing else on the GPU);
# 2. then side by side: the GPU test suite (pytest -m gpu), associative retrieval from scratch (ARMT and RMT, the
#    "remember" and "rewrite" variants), the memory norm over 4096 segments in bf16 of two trained adapters, and the
#    seq2seq qa1 training script. Outputs go to one tarball.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 HF_HUB_OFFLINE=1
W=$OUT/w; mkdir -p $W/logs
T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/logs/timeline.txt; }
job() { name=$1; tl=$2; shift 2; el "$name start"; timeout -s TERM $tl "$@" > $W/logs/$name.log 2>&1; el "$name exit $?"; }
work() {
  job bench_armt 100 python bench/bench_armt.py --output-dir $W/armt_bench
  job gpu_tests 280 python -m pytest tests -q -m gpu -p no:cacheprovider &
  job ar_remember 300 python bench/train_associative_retrieval.py --output-dir $W/ar_remember --variant remember --max-train-seconds 100 &
  job ar_rewrite 300 python bench/train_associative_retrieval.py --output-dir $W/ar_rewrite --variant rewrite --max-train-seconds 100 &
  ( job norm_detect 150 python bench/bench_memory_norm.py --backbone /tmp/minilm --output $W/memory_norm_detect_memorize_lora.json
    job norm_reasoning 150 python bench/bench_memory_norm.py --backbone /tmp/minilm --model .carry/adapters/reasoning-lora --output $W/memory_norm_reasoning_lora.json ) &
  [ -f bench/train_seq2seq_qa1.py ] && job seq2seq_qa1 300 python bench/train_seq2seq_qa1.py --output $W/seq2seq_qa1_h200.json &
  wait
}
work & WORK=$!
while kill -0 $WORK 2>/dev/null && [ $(( $(date +%s) - T0 )) -lt 430 ]; do sleep 5; done
el "deadline or done"; pkill -TERM -f "python bench/|python -m pytest" ; sleep 3
cat $W/logs/timeline.txt; tail -4 $W/logs/gpu_tests.log; tail -12 $W/logs/bench_armt.log; tail -8 $W/logs/ar_*.log; tail -5 $W/logs/norm_*.log; tail -8 $W/logs/seq2seq_qa1.log 2>/dev/null
cd $OUT && tar czf $OUT/call3.tgz w && rm -rf w
