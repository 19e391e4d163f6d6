"""The "no memory" floor of qa1 at n segments: the share of samples whose supporting fact (the queried actor's last
move) lies in the last segment, which a model reading only the last segment can answer. Expected accuracy of such a
model ~ share * acc_1seg + (1 - share) * guess.

Usage: floor.py SEGMENT_SIZE N1,N2,... [NUM_SAMPLES]
"""

import os
import sys

from transformers import AutoTokenizer

from hf_rmt.tasks import make_dataset


tok = AutoTokenizer.from_pretrained(os.environ["MINILM"])
segment, counts = int(sys.argv[1]), [int(n) for n in sys.argv[2].split(",")]
num = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
for n in counts:
    for split in ("validation", "test"):
        ds = make_dataset("qa1", tok, num, n * segment, split=split, seed=0)
        last = 0
        for i in range(num):
            s = ds[i]
            start = s["fact_spans"][s["supporting_facts"][0]][0]
            # encoder segments are right-aligned: the last segment is the final `segment` tokens
            last += start >= n * segment - segment
        share = last / num
        print(
            f"segment {segment} x {n}: {split}: supporting fact in the last segment {share:.3f}; "
            f"floor with 1/6 guesses {share + (1 - share) / 6:.3f}"
        )
