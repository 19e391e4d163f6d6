# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The recurrence, independent of tasks, checkpoints and the Hub: it imports nothing of hf_rmt outside `core`.

- `segments.py`: which tokens of each sample go into which step.
- `layouts/`: the row formats (memory, special tokens, segment, padding), generation's included.
- `memory/`: memory state and the update rule of each memory type.
- `backbone.py`: what hf_rmt reads of a backbone, and one backbone call.
- `recurrence.py`: one segment step and the segment loop.
- `recompute.py`, `fast_path.py`: recomputation in backward, CUDA graphs for inference.
"""
