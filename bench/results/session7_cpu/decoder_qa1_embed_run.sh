export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONPATH=/work/main
P=/work/main/.venv/bin/python
C="--quick --device cpu --schedule 1 --stage_steps 3000 --eval_every 100 --batch_size 64 --d_model 64 --d_ff 256 --num_heads 2 --num_memory_tokens 4 --warmup_steps 30 --val_samples 128 --eval_lengths 64 --eval_samples 300 --max_seconds 270"
for e in 0.3 0.02; do
  $P /work/main/bench/train_decoder_qa1.py $C --embed_std $e --output bench/results/session7_cpu/e$e.json > bench/results/session7_cpu/e$e.log 2>&1
done

