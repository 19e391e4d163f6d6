#!/usr/bin/env python
# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""
########################################################################################################################
# Train a Recurrent Memory Transformer with `transformers.Trainer`, the way the RMT papers did.
#
# A pretrained encoder (e.g. bert-base-cased, or the offline MiniLM-L6) gets RMT memory (`get_rmt_model`) and learns
# a long-context task of `hf_rmt.tasks` (bAbI facts hidden in book text: memorize, qa1, ...) with a curriculum over
# the number of segments: the 1M-token paper's one more segment per stage, or BABILong's 1, 2, 4, ..., 32 segments
# with a random number of segments per batch. Memory-efficient BPTT (`--segment_checkpointing`), LoRA (`--lora_r`),
# mixed precision (`--bf16`/`--fp16`), multi-GPU (`torchrun`, `accelerate launch`) and resuming
# (`--resume_from_checkpoint`) all come from the flags. Every logged step goes to a JSON file (`--loss_log`).
#
# Runs on CPU, one GPU and several GPUs; see examples/README.md for the commands. A JSON file with the same keys as
# the flags is accepted instead of the flags: `python train_trainer.py config.json`.
########################################################################################################################
"""

import gc
import logging
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import torch
import transformers
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    HfArgumentParser,
    TrainingArguments,
    set_seed,
)

import hf_rmt
from hf_rmt.tasks import get_task
from hf_rmt.training import (
    CurriculumArguments,
    CurriculumCallback,
    CurriculumDataset,
    JsonLogCallback,
    RMTArguments,
    RMTDataCollator,
    RMTTrainer,
    RMTTrainerCallback,
    SkipNonFiniteStepsCallback,
    disable_dropout,
    prepare_for_trainer,
)


logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    model_name_or_path: str = field(
        metadata={"help": "Backbone: a Hub id or a local path, with its tokenizer (e.g. bert-base-cased)."}
    )
    train_backbone: bool = field(
        default=False, metadata={"help": "Fine-tune every backbone weight (the 1M-token paper); else memory + head."}
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank on the backbone (0: no LoRA)."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha."})
    lora_target_modules: str = field(
        default="query,value", metadata={"help": "Comma-separated backbone modules that get LoRA."}
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "Backbone attention: 'sdpa', 'eager', 'flash_attention_2', ..."}
    )
    disable_dropout: bool = field(
        default=False,
        metadata={"help": "Set every dropout probability to 0 (exact comparisons of runs on 1 and 2 GPUs)."},
    )
    gradient_checkpointing_backbone: bool = field(
        default=False,
        metadata={
            "help": "Also recompute the backbone's layers inside each segment (transformers' own checkpointing)."
        },
    )


@dataclass
class DataArguments:
    task: str = field(default="memorize", metadata={"help": "An hf_rmt.tasks task: memorize, qa1, qa2, ..."})
    train_samples: int = field(default=10_000, metadata={"help": "Training samples (generated on the fly)."})
    eval_samples: int = field(default=200, metadata={"help": "Validation samples."})
    eval_segments: int | None = field(
        default=None, metadata={"help": "Segments of the validation samples (default: the current stage's maximum)."}
    )
    noise_file: str | None = field(
        default=None,
        metadata={"help": "A text file of noise (default: the shipped Austen novels, split by book into train/test)."},
    )
    loss_log: str | None = field(
        default=None, metadata={"help": "JSON file of every logged step (default: <output_dir>/loss_log.json)."}
    )


def compute_accuracy(prediction):
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    return {"accuracy": float((np.argmax(logits, axis=-1) == prediction.label_ids).mean())}


def main():
    parser = HfArgumentParser((ModelArguments, DataArguments, RMTArguments, CurriculumArguments, TrainingArguments))
    if len(sys.argv) == 2 and sys.argv[1].endswith(".json"):
        model_args, data_args, rmt_args, curriculum_args, training_args = parser.parse_json_file(
            os.path.abspath(sys.argv[1])
        )
    else:
        model_args, data_args, rmt_args, curriculum_args, training_args = parser.parse_args_into_dataclasses()

    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%m/%d/%Y %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    # Curriculum stage changes are logged at INFO by hf_rmt: show them on the main process.
    logging.getLogger("hf_rmt").setLevel(logging.INFO if training_args.should_log else logging.WARNING)
    logger.info(f"Training arguments: {training_args}")
    set_seed(training_args.seed)

    # ------------------------------------------------------------------------------------------ model
    spec = get_task(data_args.task)
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path)
    backbone = AutoModelForSequenceClassification.from_pretrained(
        model_args.model_name_or_path,
        num_labels=spec.num_labels,
        id2label=dict(enumerate(spec.labels)),
        label2id={label: i for i, label in enumerate(spec.labels)},
        attn_implementation=model_args.attn_implementation,
    )
    curriculum = curriculum_args.to_curriculum(max_n_segments=rmt_args.max_n_segments)
    model = hf_rmt.get_rmt_model(
        backbone, rmt_args.to_config(), tokenizer=tokenizer, train_backbone=model_args.train_backbone
    )
    segment_size = model.config.segment_size
    if model_args.disable_dropout:
        # Ranks share the seed, so with dropout the second half of a global batch gets other masks on 2 GPUs than on 1.
        disable_dropout(model)
    if model_args.gradient_checkpointing_backbone:
        enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        enable()
    if model_args.lora_r > 0:
        import peft

        targets = [name.strip() for name in model_args.lora_target_modules.split(",") if name.strip()]
        lora = hf_rmt.lora_config(model, r=model_args.lora_r, lora_alpha=model_args.lora_alpha, target_modules=targets)
        model = peft.get_peft_model(model, lora)
        # A PeftModel hides the wrapped forward's arguments from Trainer, which then cannot find the labels.
        training_args.label_names = ["labels"]
    if training_args.should_log:
        model.print_trainable_parameters()

    # ------------------------------------------------------------------------------------------ data
    # Samples are built on the fly, at the number of segments the curriculum gives each batch.
    train_dataset = CurriculumDataset.from_task(
        data_args.task,
        tokenizer,
        data_args.train_samples,
        curriculum,
        segment_size,
        "train",
        training_args.seed,
        noise=data_args.noise_file,
    )
    eval_dataset = CurriculumDataset.from_task(
        data_args.task,
        tokenizer,
        data_args.eval_samples,
        curriculum,
        segment_size,
        "validation",
        training_args.seed,
        num_segments=data_args.eval_segments,
        noise=data_args.noise_file,
    )

    # Trainer must not treat a mean loss as normalised by num_items_in_batch (it would skip the gradient-accumulation
    # division and scale the loss by the world size); hf_rmt's classes declare it, this keeps older versions right.
    prepare_for_trainer(model)
    loss_log = data_args.loss_log or os.path.join(training_args.output_dir, "loss_log.json")
    # RMTTrainer: a Trainer whose Hub pushes (--push_to_hub, trainer.push_to_hub()) carry hf_rmt's model card.
    trainer = RMTTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset if training_args.do_train else None,
        eval_dataset=eval_dataset if training_args.do_eval or training_args.eval_strategy != "no" else None,
        data_collator=RMTDataCollator(pad_token_id=tokenizer.pad_token_id or 0),
        compute_metrics=compute_accuracy,
        # SkipNonFiniteStepsCallback: a rare NaN/inf gradient (bf16 backpropagation through many segments) skips
        # that update instead of turning every weight to NaN; ten in a row end the run.
        callbacks=[
            CurriculumCallback(curriculum),
            RMTTrainerCallback(),
            JsonLogCallback(loss_log),
            SkipNonFiniteStepsCallback(),
        ],
    )

    # ------------------------------------------------------------------------------------------ train and evaluate
    if training_args.do_train:
        result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()  # adapter-only when the backbone is frozen, full otherwise (the model decides)
        if trainer.is_world_process_zero():
            tokenizer.save_pretrained(training_args.output_dir)
        trainer.log_metrics("train", result.metrics)
        trainer.save_metrics("train", result.metrics)
        trainer.save_state()
    if training_args.do_eval:
        metrics = trainer.evaluate()
        metrics["eval_segments"] = data_args.eval_segments or curriculum.max_segments
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)

    # Tear the process group down now, not at the interpreter's exit: there, a gloo worker thread still releasing a
    # finished collective's tensors needs the GIL, and the process hangs or aborts. Destroying the group (end_training,
    # as recent transformers' `Trainer.end()`, once every process is done with collectives) does not stop its threads:
    # they live as long as the group object, which the DDP-wrapped model holds. So the trainer and all it holds are
    # freed, and the group's last reference, `group`, is dropped last, from Python, which lets go of the GIL while the
    # threads finish and are joined.
    accelerator = trainer.accelerator
    accelerator.wait_for_everyone()
    group = torch.distributed.group.WORLD if accelerator.use_distributed else None
    accelerator.end_training()
    del trainer, accelerator
    gc.collect()
    del group


if __name__ == "__main__":
    main()
