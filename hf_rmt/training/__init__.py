# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Training hf_rmt models as the RMT papers did: a curriculum over the number of segments, `Trainer` callbacks, a
collator, checks, and argument groups for scripts.

`Trainer`:

```python
from hf_rmt.training import CurriculumCallback, CurriculumDataset, RMTDataCollator, RMTTrainerCallback, SegmentCurriculum

curriculum = SegmentCurriculum.babilong(stage_steps=5000)  # 1, 2, 4, 6, 8, 16, 32 segments
train = CurriculumDataset.from_task("qa1", tokenizer, 10_000, curriculum, model.config.segment_size)
trainer = Trainer(model, args, train_dataset=train, data_collator=RMTDataCollator(),
                  callbacks=[CurriculumCallback(curriculum), RMTTrainerCallback()])
```

`RMTTrainer` is that `Trainer` whose Hub pushes (`push_to_hub=True`, `trainer.push_to_hub()`) carry hf_rmt's model card
instead of transformers' generic one; with `torch_compile=True` it compiles the backbone's blocks in place
(`compile_backbone_blocks`) instead of the whole model.

An `accelerate` loop calls `curriculum.on_batches_consumed(n)` and `curriculum.update(step)` after each optimizer step,
`curriculum.report_metric(value)` after each evaluation, and `accelerator.register_for_checkpointing(curriculum)`.
"""

from .arguments import CurriculumArguments, RMTArguments
from .callbacks import CurriculumCallback, JsonLogCallback, RMTTrainerCallback
from .checks import (
    check_checkpoint_config,
    check_dataset_columns,
    check_same_config,
    config_fingerprint,
    disable_dropout,
    prepare_for_trainer,
    unwrap_rmt,
    write_fingerprint,
)
from .collator import RMTDataCollator
from .compile import compile_backbone_blocks
from .curriculum import BABILONG_SCHEDULE, SegmentCurriculum
from .curriculum_dataset import CurriculumDataset, truncate_sample
from .nonfinite import SkipNonFiniteStepsCallback, drop_nonfinite_gradients
from .signals import StopOnSignalCallback
from .trainer import RMTTrainer


__all__ = [
    "BABILONG_SCHEDULE",
    "CurriculumArguments",
    "CurriculumCallback",
    "CurriculumDataset",
    "JsonLogCallback",
    "RMTArguments",
    "RMTDataCollator",
    "RMTTrainer",
    "RMTTrainerCallback",
    "SegmentCurriculum",
    "SkipNonFiniteStepsCallback",
    "StopOnSignalCallback",
    "check_checkpoint_config",
    "check_dataset_columns",
    "check_same_config",
    "compile_backbone_blocks",
    "config_fingerprint",
    "disable_dropout",
    "drop_nonfinite_gradients",
    "prepare_for_trainer",
    "truncate_sample",
    "unwrap_rmt",
    "write_fingerprint",
]
