# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Batching samples of any length for hf_rmt models, without a tokenizer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


# What a collated batch may hold: the inputs every hf_rmt forward takes. Other sample fields are dropped, so a batch
# can go to `model(**batch)` as it is.
MODEL_INPUTS = ("input_ids", "inputs_embeds", "attention_mask", "labels")
_LABEL_ALIASES = ("labels", "label", "label_ids")


def _as_tensor(value: Any) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


@dataclass
class RMTDataCollator:
    """
    Pads samples to the longest of the batch (hf_rmt models take any length and any padding side) and stacks labels.

    Sample fields:

    - `input_ids` (list/array/tensor of ids) or `inputs_embeds` (`(length, hidden)`), required;
    - `attention_mask`, optional (built when padding is added);
    - `labels` (also read from `label` or `label_ids`): a class id or regression target per sample, a fixed-size
      vector (multi-label), one label per token (same length as `input_ids`, padded with `label_pad_token_id`), or a
      target sequence of its own length (a seq2seq model's, right-padded with `label_pad_token_id`).

    Other fields are dropped.

    Args:
        pad_token_id (`int`, *optional*, defaults to 0): Id written at padded positions (masked out anyway).
        label_pad_token_id (`int`, *optional*, defaults to -100): Label at padded positions of per-token labels.
        padding_side (`str`, *optional*, defaults to `"right"`): `"right"` or `"left"`.
        pad_to_multiple_of (`int`, *optional*): Round the padded length up to a multiple (e.g. the segment size).
    """

    pad_token_id: int = 0
    label_pad_token_id: int = -100
    padding_side: str = "right"
    pad_to_multiple_of: int | None = None

    def __post_init__(self):
        if self.padding_side not in ("left", "right"):
            raise ValueError(f"`padding_side` must be 'left' or 'right', got {self.padding_side!r}.")

    def __call__(self, features: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if len(features) == 0:
            raise ValueError("Cannot collate an empty batch.")
        key = "input_ids" if "input_ids" in features[0] else "inputs_embeds"
        for index, feature in enumerate(features):
            if key not in feature:
                raise ValueError(
                    f"Sample {index} of the batch has no `input_ids` (or `inputs_embeds`), which hf_rmt models need; its "
                    f"fields are {sorted(feature)}. Tokenize the text into `input_ids` (and its answer into `labels`)."
                )
        inputs = [_as_tensor(feature[key]) for feature in features]
        lengths = [len(x) for x in inputs]
        width = max(lengths)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch: dict[str, torch.Tensor] = {}
        fill = self.pad_token_id if key == "input_ids" else 0.0
        batch[key] = self._pad(inputs, width, fill)
        if "attention_mask" in features[0] or any(length != width for length in lengths):
            masks = [
                _as_tensor(f["attention_mask"]) if "attention_mask" in f else torch.ones(n, dtype=torch.long)
                for f, n in zip(features, lengths)
            ]
            batch["attention_mask"] = self._pad(masks, width, 0)
        label_key = next((k for k in _LABEL_ALIASES if k in features[0]), None)
        if label_key is not None:
            labels = [_as_tensor(f[label_key]) for f in features]
            per_token = all(label.dim() == 1 and len(label) == n for label, n in zip(labels, lengths))
            sequences = all(label.dim() == 1 for label in labels) and not labels[0].is_floating_point()
            if per_token and sequences:
                batch["labels"] = self._pad(labels, width, self.label_pad_token_id)
            elif sequences and len({len(label) for label in labels}) > 1:
                # Targets of their own lengths (a seq2seq model's answer tokens): padded after their end, where the
                # decoder's shifted input and its loss expect it, whatever `padding_side` says of the inputs.
                out = labels[0].new_full((len(labels), max(len(label) for label in labels)), self.label_pad_token_id)
                for i, label in enumerate(labels):
                    out[i, : len(label)] = label
                batch["labels"] = out
            else:
                batch["labels"] = torch.stack(labels)
        return batch

    def _pad(self, rows: list[torch.Tensor], width: int, fill: float | int) -> torch.Tensor:
        out = rows[0].new_full((len(rows), width, *rows[0].shape[1:]), fill)
        for i, row in enumerate(rows):
            if self.padding_side == "right":
                out[i, : len(row)] = row
            else:
                out[i, width - len(row) :] = row
        return out


__all__ = ["MODEL_INPUTS", "RMTDataCollator"]
