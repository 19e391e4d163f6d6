"""Long-context tasks for RMT, generated offline: bAbI-style facts hidden in real English noise text.

Tasks: the RMT 1M-token paper's `memorize`, `detect_memorize` and `reasoning`, and BABILong's `qa1`-`qa5`. The
stories come from a seeded world simulator ([`hf_rmt.tasks.babi`]), the noise from Jane Austen's novels shipped in
`hf_rmt/data` ([`NoiseCorpus`]), and samples are built lazily, token-exact, for any HF tokenizer ([`make_dataset`]).

Associative retrieval (ARMT paper, section 3; [`AssociativeRetrievalDataset`]) is token-level, over a vocabulary of
its own, for models trained from scratch: key-value pairs segment by segment, then a key, in "remember" and
"rewrite" variants. Copy and reverse (RMT paper, section 4; [`CopyReverseDataset`]) are token-level too: random
symbols, then the same symbols (twice, as in the paper) or reversed, the answer spanning segments as the input does.
"""

from .algorithmic import ALGORITHMIC_FIELDS, ALGORITHMIC_TASKS, CopyReverseDataset
from .associative import ASSOCIATIVE_FIELDS, AssociativeRetrievalDataset
from .babi import Story
from .dataset import OUTPUT_FORMATS, SAMPLE_FIELDS, TaskDataset
from .haystack import PLACEMENTS, SEGMENT_ALIGNMENTS
from .make import make_dataset, min_target_length
from .metric import get_metric_path
from .noise import SPLITS, NoiseCorpus, split_sentences
from .registry import TASKS, TaskSpec, get_task
from .tokens import clear_caches


__all__ = [
    "ALGORITHMIC_FIELDS",
    "ALGORITHMIC_TASKS",
    "ASSOCIATIVE_FIELDS",
    "OUTPUT_FORMATS",
    "PLACEMENTS",
    "SAMPLE_FIELDS",
    "SEGMENT_ALIGNMENTS",
    "SPLITS",
    "TASKS",
    "AssociativeRetrievalDataset",
    "CopyReverseDataset",
    "NoiseCorpus",
    "Story",
    "TaskDataset",
    "TaskSpec",
    "clear_caches",
    "get_metric_path",
    "get_task",
    "make_dataset",
    "min_target_length",
    "split_sentences",
]
