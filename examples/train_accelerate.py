#!/usr/bin/env python
# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""
########################################################################################################################
# The same training as `train_trainer.py`, written as an explicit loop with 🤗 Accelerate.
#
# - a Recurrent Memory Transformer (`hf_rmt.get_rmt_model`) around a pretrained encoder;
# - an `hf_rmt.tasks` long-context task generated on the fly, with a curriculum over the number of segments
#   (`SegmentCurriculum`): the batches' lengths come from `CurriculumDataset`, the loop reports steps and metrics;
# - gradient accumulation, mixed precision and multi-GPU through `accelerate launch`;
# - checkpoints with `accelerator.save_state` (the curriculum's state included) and exact resuming;
# - the loss of every optimizer step (averaged over processes) in a JSON file, to compare runs on 1 and 2 GPUs.
#
# This example runs on a single CPU or GPU (`python train_accelerate.py ...`) and on several GPUs
# (`accelerate launch --config_file accelerate_configs/multi_gpu.yaml train_accelerate.py ...`); see README.md.
########################################################################################################################
"""

import argparse
import json
import logging
import math
import os

import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup
from transformers.utils.logging import tqdm

import hf_rmt
from hf_rmt.tasks import get_task
from hf_rmt.training import (
    CurriculumArguments,
    CurriculumDataset,
    RMTDataCollator,
    check_checkpoint_config,
    disable_dropout,
    drop_nonfinite_gradients,
    write_fingerprint,
)


logger = get_logger(__name__)
STATE_FILE = "training_state.json"


def get_dataloaders(args, tokenizer, curriculum, segment_size):
    """
    The training and validation dataloaders: `hf_rmt.tasks` samples built when a batch is asked for, at the number of
    segments `curriculum` gives that batch.

    Args:
        args (`argparse.Namespace`): The parsed arguments.
        tokenizer: The backbone's tokenizer.
        curriculum (`SegmentCurriculum`): Decides each training batch's number of segments.
        segment_size (`int`): The model's `config.segment_size`.
    """
    train = CurriculumDataset.from_task(
        args.task, tokenizer, args.train_samples, curriculum, segment_size, "train", args.seed, noise=args.noise_file
    )
    evaluation = CurriculumDataset.from_task(
        args.task, tokenizer, args.eval_samples, curriculum, segment_size, "validation", args.seed,
        num_segments=args.eval_segments, noise=args.noise_file,
    )  # fmt: skip
    collator = RMTDataCollator(pad_token_id=tokenizer.pad_token_id or 0)
    # A seeded generator makes the shuffling, hence the run, reproducible (and resumable exactly).
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(
        train, batch_size=args.per_device_train_batch_size, shuffle=True, collate_fn=collator, generator=generator
    )
    eval_loader = DataLoader(evaluation, batch_size=args.per_device_eval_batch_size, collate_fn=collator)
    return train_loader, eval_loader


@torch.no_grad()
def evaluate(model, eval_loader, accelerator):
    model.eval()
    correct = total = 0
    losses = []
    for batch in eval_loader:
        outputs = model(**batch)
        losses.append(accelerator.gather(outputs.loss.detach().float().reshape(1)))
        predictions, labels = accelerator.gather_for_metrics((outputs.logits.argmax(dim=-1), batch["labels"]))
        correct += int((predictions == labels).sum())
        total += labels.numel()
    model.train()
    return {"eval_loss": float(torch.cat(losses).mean()), "eval_accuracy": correct / max(total, 1)}


def save_checkpoint(accelerator, model, directory, training_state):
    accelerator.save_state(directory)  # model, optimizer, scheduler, RNG states and the curriculum
    if accelerator.is_main_process:
        write_fingerprint(accelerator.unwrap_model(model), directory)
        with open(os.path.join(directory, STATE_FILE), "w") as handle:
            json.dump(training_state, handle, indent=2)
    accelerator.wait_for_everyone()


def write_log(path, records):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(records, handle, indent=1)


def training_function(args):
    accelerator = Accelerator(
        cpu=args.cpu,
        mixed_precision=args.mixed_precision,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    logging.getLogger("hf_rmt").setLevel(logging.INFO if accelerator.is_main_process else logging.WARNING)
    logger.info(accelerator.state, main_process_only=False)
    set_seed(args.seed)

    spec = get_task(args.task)
    tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    backbone = AutoModelForSequenceClassification.from_pretrained(
        args.model_name_or_path, num_labels=spec.num_labels, attn_implementation=args.attn_implementation
    )
    config = hf_rmt.RMTConfig(
        num_memory_tokens=args.num_memory_tokens,
        segment_size=args.segment_size,
        max_n_segments=args.max_n_segments,
        bptt_depth=args.bptt_depth,
        segment_checkpointing=args.segment_checkpointing,
    )
    model = hf_rmt.get_rmt_model(backbone, config, tokenizer=tokenizer, train_backbone=args.train_backbone)
    if args.disable_dropout:
        # Ranks share the seed, so with dropout the second half of a global batch gets other masks on 2 GPUs than on 1.
        disable_dropout(model)
    curriculum = CurriculumArguments(
        curriculum=args.curriculum,
        max_segments=args.max_segments,
        stage_steps=args.stage_steps,
        sampling=args.sampling,
        stage_metric=args.stage_metric,
        stage_patience=args.stage_patience,
        stage_target=args.stage_target,
        curriculum_seed=args.curriculum_seed,
    ).to_curriculum(max_n_segments=args.max_n_segments)
    curriculum.gradient_accumulation_steps = args.gradient_accumulation_steps

    # Samples are generated on the fly in each process (the noise corpus is tokenized once per process, in memory).
    train_loader, eval_loader = get_dataloaders(args, tokenizer, curriculum, model.config.segment_size)

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=args.learning_rate, weight_decay=args.weight_decay
    )
    # A prepared scheduler steps once per process at each optimizer step (accelerate scales it for the larger global
    # batch), so its schedule is laid out in process-steps, as transformers' no_trainer examples do.
    scale = accelerator.num_processes
    scheduler = get_linear_schedule_with_warmup(optimizer, args.warmup_steps * scale, args.max_steps * scale)
    model, optimizer, train_loader, eval_loader, scheduler = accelerator.prepare(
        model, optimizer, train_loader, eval_loader, scheduler
    )
    # The curriculum's state (stage history, batches consumed) is saved and restored with the rest.
    accelerator.register_for_checkpointing(curriculum)

    global_step, epoch, batches_in_epoch = 0, 0, 0
    log_path = args.loss_log or os.path.join(args.output_dir, "loss_log.json")
    records = []
    if args.resume_from_checkpoint:
        check_checkpoint_config(accelerator.unwrap_model(model), args.resume_from_checkpoint)
        accelerator.load_state(args.resume_from_checkpoint)
        with open(os.path.join(args.resume_from_checkpoint, STATE_FILE)) as handle:
            saved = json.load(handle)
        global_step, epoch, batches_in_epoch = saved["global_step"], saved["epoch"], saved["batches_in_epoch"]
        if os.path.isfile(log_path):
            with open(log_path) as handle:
                records = [r for r in json.load(handle) if r["step"] <= global_step]
        logger.info(f"Resumed from {args.resume_from_checkpoint} at step {global_step}")

    progress = tqdm(
        range(args.max_steps), initial=global_step, disable=not accelerator.is_local_main_process, desc="train"
    )
    model.train()
    step_loss = torch.zeros((), device=accelerator.device)
    while global_step < args.max_steps:
        train_loader.set_epoch(epoch)
        loader = train_loader
        if batches_in_epoch:  # resuming inside an epoch: skip the batches already trained on
            loader = accelerator.skip_first_batches(train_loader, batches_in_epoch)
        for batch in loader:
            segments = math.ceil(batch["input_ids"].shape[1] / accelerator.unwrap_model(model).config.segment_size)
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                # A rare NaN/inf gradient (bf16 backpropagation through many segments) skips this update instead of
                # turning every weight to NaN (every process sees the same reduced gradients and skips alike).
                if accelerator.sync_gradients and drop_nonfinite_gradients(model.parameters()):
                    logger.warning(f"Step {global_step + 1}: NaN or inf gradient; this update was skipped.")
                learning_rate = optimizer.param_groups[0]["lr"]
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            step_loss += loss.detach().float() / args.gradient_accumulation_steps
            batches_in_epoch += 1
            curriculum.on_batches_consumed(1)
            if not accelerator.sync_gradients:
                continue
            global_step += 1
            progress.update(1)
            record = {
                "step": global_step,
                "loss": accelerator.gather(step_loss.reshape(1)).mean().item(),
                "learning_rate": learning_rate,
                "segments": segments,
            }
            step_loss.zero_()
            if curriculum.update(global_step):
                record["curriculum_max_segments"] = curriculum.schedule[
                    curriculum.stage_of_batch(curriculum.consumed_batches)
                ]
            if args.eval_steps and global_step % args.eval_steps == 0:
                metrics = evaluate(model, eval_loader, accelerator)
                record.update(metrics)
                value = curriculum.metric_value(metrics)
                if value is not None:
                    curriculum.report_metric(value)
                logger.info(f"step {global_step}: {metrics}")
            records.append(record)
            progress.set_postfix(loss=f"{record['loss']:.4f}", segments=segments)
            if accelerator.is_main_process:
                write_log(log_path, records)
            if args.save_steps and global_step % args.save_steps == 0:
                state = {"global_step": global_step, "epoch": epoch, "batches_in_epoch": batches_in_epoch}
                save_checkpoint(accelerator, model, os.path.join(args.output_dir, f"checkpoint-{global_step}"), state)
            if global_step >= args.max_steps:
                break
        else:
            epoch, batches_in_epoch = epoch + 1, 0
    progress.close()

    metrics = evaluate(model, eval_loader, accelerator)
    accelerator.print(f"final evaluation: {metrics}")
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    # Adapter-only when the backbone is frozen, full otherwise (the model decides).
    unwrapped.save_pretrained(args.output_dir, is_main_process=accelerator.is_main_process)
    if accelerator.is_main_process:
        tokenizer.save_pretrained(args.output_dir)
        with open(os.path.join(args.output_dir, "eval_results.json"), "w") as handle:
            json.dump(metrics, handle, indent=2)
    # Tear the process group down now, not at the interpreter's exit: there, a gloo worker thread still releasing a
    # finished collective's tensors needs the GIL, and the process hangs or aborts. Destroying the group (end_training,
    # once every process is done with collectives) does not stop its threads: they live as long as the group object,
    # which the DDP-wrapped model holds. So the objects that hold it are freed, and its last reference, `group`, is
    # dropped last, from Python, which lets go of the GIL while the threads finish and are joined.
    accelerator.wait_for_everyone()
    group = torch.distributed.group.WORLD if accelerator.use_distributed else None
    accelerator.end_training()
    del model, optimizer, scheduler, train_loader, eval_loader
    accelerator.free_memory()  # its own references to them, then a garbage collection
    del group


def main():
    parser = argparse.ArgumentParser(description="Train an hf_rmt model with an explicit Accelerate loop.")
    parser.add_argument("--model_name_or_path", required=True, help="Backbone Hub id or path, with its tokenizer.")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--task", default="memorize", help="An hf_rmt.tasks task: memorize, qa1, ...")
    parser.add_argument("--train_samples", type=int, default=10_000)
    parser.add_argument("--eval_samples", type=int, default=200)
    parser.add_argument("--noise_file", default=None, help="Noise text file (default: the shipped Austen novels).")
    parser.add_argument("--eval_segments", type=int, default=None, help="Default: the current stage's maximum.")
    parser.add_argument("--per_device_train_batch_size", type=int, default=8)
    parser.add_argument("--per_device_eval_batch_size", type=int, default=8)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--weight_decay", type=float, default=0.01)
    parser.add_argument("--warmup_steps", type=int, default=0)
    parser.add_argument("--max_grad_norm", type=float, default=1.0)
    parser.add_argument("--max_steps", type=int, required=True, help="Optimizer steps.")
    parser.add_argument("--eval_steps", type=int, default=0, help="Evaluate every N steps (0: at the end only).")
    parser.add_argument("--save_steps", type=int, default=0, help="Checkpoint every N steps (0: never).")
    parser.add_argument("--resume_from_checkpoint", default=None, help="A checkpoint-N folder of a previous run.")
    parser.add_argument("--loss_log", default=None, help="Default: <output_dir>/loss_log.json.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default=None)
    parser.add_argument("--cpu", action="store_true", help="Train on the CPU even if a GPU is there.")
    parser.add_argument("--attn_implementation", default=None, help="'sdpa', 'eager', ...")
    parser.add_argument("--train_backbone", action="store_true", help="Fine-tune all backbone weights.")
    parser.add_argument("--disable_dropout", action="store_true", help="Exact comparisons of 1- and 2-GPU runs.")
    # RMTConfig
    parser.add_argument("--num_memory_tokens", type=int, default=10)
    parser.add_argument("--segment_size", type=int, default=None, help="Default: the largest that fits.")
    parser.add_argument("--max_n_segments", type=int, default=None)
    parser.add_argument("--bptt_depth", type=int, default=-1)
    parser.add_argument("--segment_checkpointing", action="store_true", help="Memory-efficient BPTT.")
    # Curriculum (see hf_rmt.training.CurriculumArguments)
    parser.add_argument("--curriculum", default="none", help="'none', 'one_per_stage', 'babilong' or '1,2,4'.")
    parser.add_argument("--max_segments", type=int, default=2)
    parser.add_argument("--stage_steps", default=None, help="Steps per stage: '100' or '100,200,400'.")
    parser.add_argument("--sampling", default=None, choices=["max", "uniform"])
    parser.add_argument("--stage_metric", default=None, help="e.g. 'accuracy' (needs --eval_steps).")
    parser.add_argument("--stage_patience", type=int, default=3)
    parser.add_argument("--stage_target", type=float, default=None)
    parser.add_argument("--curriculum_seed", type=int, default=0)
    training_function(parser.parse_args())


if __name__ == "__main__":
    main()
