# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""What an `hf-rmt train` run leaves in its output folder besides the tokenizer: the trained weights, in the format
its training mode calls for, and `hf_rmt_training.json` (task, curriculum, trained length, settings, stages), whose
card view `card_training_info` gives the model card.
"""

from __future__ import annotations

import json
import os
from typing import Any


TRAINING_INFO_FILE = "hf_rmt_training.json"


def save_trained(model: Any, rmt: Any, output_dir: str) -> None:
    """Saves what was trained: the hf_rmt model (adapter-only or full, as it decides), or for LoRA the peft adapter
    (LoRA, memory and head) beside the RMT config, which `from_pretrained` of the Auto classes reads.

    Args:
        model: The model trained: the hf_rmt model itself, or a peft model around it.
        rmt: The hf_rmt model (`model` itself without LoRA).
        output_dir (`str`): The folder to save to.
    """
    if model is rmt:
        model.save_pretrained(output_dir)
        return
    from ..checkpoint import recorded_backbone_name

    model.save_pretrained(output_dir)
    rmt.config.architectures = [type(rmt).__name__]  # which Auto class loads it, as transformers' own saves record
    with recorded_backbone_name(rmt.config):  # the backbone's Hub id when known, as adapter-only saves record it
        rmt.config.save_pretrained(output_dir)


def run_environment(device: Any) -> dict[str, str]:
    """Where a run trained, for its record and card: the hardware (GPU name and count, or the CPU's threads) and the
    library versions, which training outcomes depend on (see the README's results: seeds, threads, machines).

    Args:
        device (`torch.device` or `str`): The device the model trained on.
    """
    import peft
    import torch
    import transformers

    device = torch.device(device)
    if device.type == "cuda":
        hardware = f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(device)}"
    else:
        hardware = f"{device.type.upper()}, {torch.get_num_threads()} threads"
    versions = f"transformers {transformers.__version__}, torch {torch.__version__}, peft {peft.__version__}"
    return {"hardware": hardware, "versions": versions}


def write_training_info(info: dict[str, Any], output_dir: str) -> None:
    """Writes a run's record to `output_dir/hf_rmt_training.json`, which `hf-rmt eval` reads the task from."""
    with open(os.path.join(output_dir, TRAINING_INFO_FILE), "w") as handle:
        json.dump(info, handle, indent=2)
        handle.write("\n")


def card_training_info(info: dict[str, Any]) -> dict[str, Any]:
    """The model card's view of a run's `hf_rmt_training.json`: the curriculum as the steps each stage actually ran,
    and the settings a reader needs to reproduce it (no local paths, no raw lists)."""
    stages, previous = [], 0
    for stage in info.get("stages") or []:
        stages.append({"segments": stage["max_segments"], "steps": stage["end_step"] - previous})
        previous = stage["end_step"]
    modes = {
        "full": "full fine-tuning",
        "lora": f"LoRA r={info.get('lora_r')} + memory + head",
        "memory": "memory + head",
    }
    card = {
        "task": info["task"],
        "curriculum": stages or info["curriculum"],
        "training": modes.get(info.get("mode", "full" if info.get("train_backbone") else "memory")),
        "batch_size": info["batch_size"],
        "learning_rate": info["lr"],
        "lr_scheduler": f"{info['lr_scheduler']} ({info['warmup_steps']} warm-up steps)",
        "seed": info["seed"],
        "device": info["device"],
        "train_seconds": info["train_seconds"],
    }
    # Older records lack these; a card shows what its run recorded.
    for key in ("precision", "hardware", "versions"):
        if info.get(key):
            card[key] = info[key]
    if info.get("torch_compile"):
        card["torch_compile"] = info["torch_compile"]
    if not stages:
        card["steps_per_stage"] = info["steps_per_stage"]
    else:
        rule = "validation accuracy"
        if info.get("eval_samples") and info.get("eval_steps"):
            rule += f" on {info['eval_samples']} samples every {info['eval_steps']} steps"
        if info.get("stage_target") is not None:
            rule += f"; >= {info['stage_target']:g} ends a stage early"
            if not info.get("stop_at_target"):
                rule += ", the last one excepted (it runs its whole step cap)"
        card["stage_advancement"] = rule + "; each stage starts from the previous stage's best state"
    return card


__all__ = ["TRAINING_INFO_FILE", "card_training_info", "run_environment", "save_trained", "write_training_info"]
