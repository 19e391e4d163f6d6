#!/bin/bash
# Proposed second call of the next session (not run; ~300 s on one H200, alone), issue 18's 2M-token step:
# which GEMM runs where in the frozen BERT-base step, and what its epilogues cost. Session 10's anatomy: the four
# GEMMs of a layer take 26.9 us inside the frozen graph (2 x 6.2 us in a 64x64 "bias ... TNT" kernel, 7.4 and 7.3 us
# in "NNT"/"TNN" ones) where the same shapes take 23.3 us alone as nn.Linear does them (5.5 / 3.9 / 6.1 / 7.8 us):
# ~43 us a step, 0.18 s of the 2.35 s at 2M tokens. (1) inductor's generated code for the step (which extern mm/addmm
# with which strides and bias) and every kernel of the graphs and frozen steps (the glue outside the blocks: embeddings,
# memory insertion, slicing), (2) the frozen step with inductor settings that change the GEMMs' epilogues.
source .carry/setup_gpu.sh >/dev/null 2>&1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false TQDM_DISABLE=1 TORCHINDUCTOR_COMPILE_THREADS=16
W=$OUT; T0=$(date +%s); el() { echo "[t=$(( $(date +%s) - T0 ))s] $*" >> $W/timeline.txt; }
TORCH_LOGS=output_code timeout 90 python bench/bench_inference.py --sections 5 --anatomy_modes graphs frozen --anatomy_top 60 --output $W/anatomy_code.json > $W/anatomy_code.log 2>&1; el "output_code exit $?"
grep -E "extern_kernels\.|cublas|addmm|mm\(" $W/anatomy_code.log | sed 's/^ *//' | sort | uniq -c | sort -rn | head -40 > $W/gemm_calls.txt
for setting in "keep_addmm_fused_for_half_dtypes=False" "epilogue_fusion=False" "force_layout_optimization=True"; do
  timeout 70 python bench/bench_inference.py --sections 5 --anatomy_modes frozen --inductor $setting --output $W/anatomy_$(echo $setting | tr '=.' '__').json > $W/anatomy_$(echo $setting | tr '=.' '__').log 2>&1; el "$setting exit $?"
done
cat $W/timeline.txt; cat $W/gemm_calls.txt | head -20; for f in $W/anatomy_*.log; do echo "== $f"; grep -A7 "mode  backbone ms" $f | head -8; grep "inductor: " $f; done
