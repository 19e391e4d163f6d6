# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The Hub side of hf_rmt checkpoints: `save_pretrained` with its model card (`save.py`, `model_card.py` and the
card's parts), and `push_to_hub` (`push.py`, `upload.py`). Above `hf_rmt.checkpoint`, below the model classes."""
