"""Pieces the benchmark scripts share: the BERT-base-sized encoder they time, and a device sync."""

from __future__ import annotations

import torch
from transformers import BertConfig


def sync(device: torch.device) -> None:
    """Waits for the device's queued work, so wall-clock times cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bert_config(quick: bool) -> BertConfig:
    """BERT-base sizes (12 x 768, 512 positions, 6 labels), or a tiny model for `--quick` smoke tests."""
    if quick:
        return BertConfig(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=64,
            num_labels=6,
        )
    return BertConfig(num_labels=6)
