# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Output classes of the hf_rmt models.

Each output carries `memory_state`, the memory after the last segment, so a caller can continue a stream on its next
chunk (`model(next_chunk, memory_state=out.memory_state)`). `RMTConfig.keys_to_ignore_at_inference` keeps it out of
Trainer's gathered predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class RMTModelOutput(ModelOutput):
    """
    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, sequence_length, hidden_size)`):
            The backbone's last hidden states at the input's tokens, in the input's order (memory and special-token
            positions removed; zeros at padding). With `hidden_states_to_keep=k`, only each sample's last `k` tokens.
        memory_state (`torch.FloatTensor` of shape `(batch_size, num_memory_tokens, hidden_size)`):
            Memory after the last segment.
    """

    last_hidden_state: torch.FloatTensor | None = None
    memory_state: torch.FloatTensor | None = None


@dataclass
class RMTSequenceClassifierOutput(ModelOutput):
    """
    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): Classification (or regression) loss, when `labels` given.
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`): Prediction from the last segment.
        memory_state (`torch.FloatTensor` of shape `(batch_size, num_memory_tokens, hidden_size)`): Final memory.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    memory_state: torch.FloatTensor | None = None


@dataclass
class RMTTokenOutput(ModelOutput):
    """
    Output of token-level heads (token classification, masked LM, causal LM).

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): Token-level loss, when `labels` given (for causal LM
            the shifted next-token loss over the whole input, across segment boundaries).
        logits (`torch.FloatTensor` of shape `(batch_size, sequence_length, num_outputs)`): Per-token outputs in the
            input's order (zeros at padding). With `logits_to_keep=k`, only each sample's last `k` tokens.
        memory_state (`torch.FloatTensor` of shape `(batch_size, num_memory_tokens, hidden_size)`): Final memory.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    memory_state: torch.FloatTensor | None = None


@dataclass
class RMTSeq2SeqLMOutput(ModelOutput):
    """
    Output of `RMTForSeq2SeqLM`.

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): The backbone's language-modelling loss of the decoder on
            `labels`, when given.
        logits (`torch.FloatTensor` of shape `(batch_size, target_length, vocab_size)`): The decoder's logits.
        memory_state (`torch.FloatTensor` of shape `(batch_size, num_memory_tokens, hidden_size)`): Final memory.
        encoder_last_hidden_state (`torch.FloatTensor` of shape `(batch_size, row_length, hidden_size)`): The encoder's
            outputs of the last segment's row (memory and special tokens included), which the decoder attends to.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    memory_state: torch.FloatTensor | None = None
    encoder_last_hidden_state: torch.FloatTensor | None = None


__all__ = ["RMTModelOutput", "RMTSeq2SeqLMOutput", "RMTSequenceClassifierOutput", "RMTTokenOutput"]
