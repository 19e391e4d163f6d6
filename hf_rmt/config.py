# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`RMTConfig`: the configuration of a Recurrent Memory Transformer around any transformers backbone."""

from __future__ import annotations

from typing import Any, ClassVar

from transformers import AutoConfig, PreTrainedConfig


MEMORY_LAYOUTS = ("encoder", "decoder", "seq2seq")
MEMORY_TYPES = ("rmt", "associative")
SEGMENT_ALIGNMENTS = ("left", "right")


def _check_int(name: str, value: Any, minimum: int, allow_none: bool = False, extra: str = "") -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        rule = f"an integer >= {minimum}" + (" or None" if allow_none else "") + extra
        raise ValueError(f"`{name}` must be {rule}, got {value!r}.")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise ValueError(f"`{name}` must be one of {choices} or None (chosen from the backbone), got {value!r}.")


class RMTConfig(PreTrainedConfig):
    r"""
    Configuration of a Recurrent Memory Transformer (RMT) wrapped around a pretrained transformers backbone.

    A long input is split into segments of `segment_size` content tokens. Each segment is run through the backbone
    together with `num_memory_tokens` memory vectors; the backbone's last hidden states at the memory positions become
    the memory of the next segment (Bulatov et al., 2022, arXiv:2207.06881; 2023, arXiv:2304.11062).

    Three layouts are supported (`memory_layout`):

    - `"encoder"` (bidirectional backbones such as BERT): `[CLS] mem [SEP] segment [SEP]`, memory read back from the
      same positions, as in the 1M-token paper (arXiv:2304.11062, section 2).
    - `"decoder"` (causal backbones such as GPT-2 or Llama): `[read mem | segment | write mem]`, the next memory read
      from the write positions, as in the RMT paper (arXiv:2207.06881, section 3).
    - `"seq2seq"` (encoder-decoder backbones such as T5 or BART): `[BOS] mem segment [EOS]` in the encoder, memory read
      back from the same positions; the decoder attends to the last segment's row (the official
      `RMTEncoderDecoderForConditionalGeneration`).

    Args:
        base_config (`PreTrainedConfig` or `dict`, *optional*):
            Snapshot of the backbone's configuration, enough to rebuild the backbone without downloading it.
        base_model_name_or_path (`str`, *optional*):
            Hub id or local path of the pretrained backbone. Adapter-only checkpoints load the backbone from here.
        base_model_revision (`str`, *optional*):
            Revision (branch, tag or commit) of `base_model_name_or_path`.
        num_memory_tokens (`int`, *optional*, defaults to 10):
            Number of memory vectors carried from segment to segment (10 in the 1M-token paper, 16 on BABILong).
        segment_size (`int`, *optional*):
            Content tokens per segment, memory and special tokens excluded. `None` picks the largest size that fits
            the backbone's maximum positions (499 for a 512-position BERT with 10 memory tokens).
        max_n_segments (`int`, *optional*):
            Longest input accepted, in segments. `None` means unbounded.
        bptt_depth (`int`, *optional*, defaults to -1):
            Backpropagation through time: `-1` lets gradients flow through every memory transition; `k >= 0` keeps
            only the last `k` transitions and detaches memory before them (truncated BPTT).
        memory_layout (`str`, *optional*):
            `"encoder"`, `"decoder"` or `"seq2seq"`; `None` chooses from the backbone.
        segment_alignment (`str`, *optional*):
            Which segment of a sample is allowed to be shorter. `"right"`: the last segment is full and the first may
            be short (the encoder and seq2seq default, so the question at the end of a sample has a full segment of
            context);
            `"left"`: segments fill from the start and the last may be short (the decoder default, so that a stream
            split into chunks is segmented the same way). `None` chooses from the layout.
        cls_token_id (`int`, *optional*):
            Token opening each segment in the encoder layout (`[CLS]`); in the seq2seq layout the backbone's BOS, if
            it has one.
        sep_token_id (`int`, *optional*):
            Token separating memory from the segment and closing it in the encoder layout (`[SEP]`); in the seq2seq
            layout the EOS closing each segment.
        memory_init_std (`float`, *optional*):
            Standard deviation of the initial memory. `None` uses the standard deviation of the backbone's input
            embeddings, so memory starts at the scale of ordinary tokens (as in the official decoder code).
        memory_type (`str`, *optional*, defaults to `"rmt"`):
            `"rmt"`: the memory tokens' outputs are the next segment's memory (arXiv:2207.06881). `"associative"`:
            ARMT (arXiv:2407.04841, section 2): the learned memory tokens are inserted again at every segment, and each
            layer keeps an associative matrix written from its memory-token outputs (delta rule) and read by every
            position before the layer, from the second segment on.
        memory_dim (`int`, *optional*):
            `memory_type="associative"` only: the size of the keys and queries of each layer's associative memory
            (`d_mem`; DPFP-3 makes its matrix `6 * memory_dim` by `hidden_size`). `None` means 64, the official
            BABILong setting.
        memory_denominator_floor (`float`, *optional*):
            `memory_type="associative"` only: a floor on the dot products `z . phi(q)` of the read and `z . phi(k)` of
            the write's recall before they divide, where ARMT's formula adds only `1e-5`. The normaliser `z` lags
            `A` (the gamma correction adds to `z` only the part of a key not yet in it, `A` takes all of it), so a
            direction `A` holds and `z` barely does is read amplified, up to ~1e3x in forward and ~1e8x in its
            gradients; through layers and segments that overflowed a bf16 training run. `1e-3` or `1e-2` bound it;
            dots above the floor read exactly as the official code. `None` (default): no floor, the official formula.
        segment_checkpointing (`bool`, *optional*, defaults to `False`):
            Recompute each segment in the backward pass instead of keeping its activations, so training memory grows
            with the number of segments only by the memory state.
        segment_checkpointing_keep_last (`int`, *optional*, defaults to 1):
            With `segment_checkpointing`, the last this many segments of each input keep their activations and are
            not recomputed. Backward starts with them and frees them before it recomputes any other segment, so the
            peak holds this many segments' activations (or one recomputed segment's, for 1, the default: the last
            segment is never recomputed) and each kept segment saves one segment's recomputation. A memory budget
            for speed that does not grow with the number of segments: raise it while the peak fits.
        loss_chunk_size (`int`, *optional*, defaults to 1024):
            Causal LM: on the steps whose logits are not returned, the loss is computed from the last hidden states
            and the LM head's weight by chunks of this many tokens, each chunk's gradients computed right away and its
            logits dropped, so no segment's logits are ever materialised whole (`hf_rmt/core/lm_loss.py`; heads known to be linear only).
            Its matmuls see the head padded with zero rows to a multiple of 64 (an odd vocabulary such as GPT-2's
            sends cuBLAS to slow unaligned kernels); the loss is that of the real rows. `None` runs the backbone's own
            head on every scored step.
        skip_logits_in_training (`bool`, *optional*, defaults to `False`):
            Causal LM: in training mode with `labels`, return the loss without logits (or only the last
            `logits_to_keep`), so that the loss is computed by chunks (`loss_chunk_size`) on every step: the
            training-speed option, named as Liger-Kernel's `skip_logits`. Evaluation (`model.eval()`) returns logits
            as usual.
        modules_to_save (`list[str]`, *optional*):
            Backbone modules (names relative to the backbone) that are trained and saved with the memory in
            adapter-only checkpoints, e.g. a new classification head.

    Example:

    ```python
    >>> from transformers import AutoModelForSequenceClassification
    >>> from hf_rmt import RMTConfig, get_rmt_model

    >>> backbone = AutoModelForSequenceClassification.from_pretrained("bert-base-cased", num_labels=6)
    >>> model = get_rmt_model(backbone, RMTConfig(num_memory_tokens=10))
    >>> model.config.segment_size
    499
    ```
    """

    model_type = "rmt"
    # A plain dict (not `sub_configs_defaults`/`SubConfigSpec`, which only exist from transformers 5.20) keeps the
    # config loadable on 5.17 and later; `_attn_implementation` and `dtype` are set on it recursively.
    sub_configs: ClassVar[dict[str, Any]] = {"base_config": AutoConfig}
    # Trainer's `prediction_step` gathers every non-loss output; memory is state, not a prediction.
    keys_to_ignore_at_inference: ClassVar[list[str]] = ["memory_state", "past_key_values"]

    base_config: PreTrainedConfig | dict | None = None
    base_model_name_or_path: str | None = None
    base_model_revision: str | None = None
    num_memory_tokens: int = 10
    segment_size: int | None = None
    max_n_segments: int | None = None
    bptt_depth: int = -1
    memory_layout: str | None = None
    segment_alignment: str | None = None
    cls_token_id: int | None = None
    sep_token_id: int | None = None
    memory_init_std: float | None = None
    memory_type: str = "rmt"
    memory_dim: int | None = None
    memory_denominator_floor: float | None = None
    segment_checkpointing: bool = False
    segment_checkpointing_keep_last: int = 1
    loss_chunk_size: int | None = 1024
    skip_logits_in_training: bool = False
    modules_to_save: list[str] | None = None

    def __post_init__(self, **kwargs):
        if isinstance(self.base_config, dict):
            # Rebuild the nested config from its JSON form; `model_type` selects the class, as `AutoConfig` does.
            base = dict(self.base_config)
            if "model_type" not in base:
                raise ValueError(
                    "`base_config` must contain `model_type` to rebuild the backbone's configuration, got a dict "
                    f"with keys {sorted(base)}."
                )
            self.base_config = AutoConfig.for_model(base.pop("model_type"), **base)
        elif self.base_config is not None and not isinstance(self.base_config, PreTrainedConfig):
            raise TypeError(
                f"`base_config` must be a PreTrainedConfig, a dict or None, got {self.base_config!r} "
                f"({type(self.base_config).__name__})."
            )
        super().__post_init__(**kwargs)
        self.validate_rmt()

    def validate_rmt(self) -> None:
        """Checks the RMT fields; raises `ValueError` naming the field, the rule and the value received."""
        _check_int("num_memory_tokens", self.num_memory_tokens, 1)
        _check_int("segment_size", self.segment_size, 1, allow_none=True)
        _check_int("max_n_segments", self.max_n_segments, 1, allow_none=True)
        _check_int("bptt_depth", self.bptt_depth, -1, extra=" (-1 means full backpropagation through time)")
        _check_choice("memory_layout", self.memory_layout, MEMORY_LAYOUTS)
        _check_choice("segment_alignment", self.segment_alignment, SEGMENT_ALIGNMENTS)
        _check_int("cls_token_id", self.cls_token_id, 0, allow_none=True)
        _check_int("sep_token_id", self.sep_token_id, 0, allow_none=True)
        if self.memory_init_std is not None and (
            isinstance(self.memory_init_std, bool)
            or not isinstance(self.memory_init_std, (int, float))
            or not self.memory_init_std > 0
        ):
            raise ValueError(f"`memory_init_std` must be a positive number or None, got {self.memory_init_std!r}.")
        if self.memory_type not in MEMORY_TYPES:
            raise ValueError(f"`memory_type` must be one of {MEMORY_TYPES}, got {self.memory_type!r}.")
        _check_int("memory_dim", self.memory_dim, 1, allow_none=True)
        if self.memory_dim is not None and self.memory_type != "associative":
            raise ValueError(
                f"`memory_dim` sizes the associative memory and needs `memory_type='associative'`, got "
                f"memory_dim={self.memory_dim!r} with memory_type={self.memory_type!r}."
            )
        floor = self.memory_denominator_floor
        if floor is not None and (
            isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor < 1
        ):
            raise ValueError(f"`memory_denominator_floor` must be a number in [0, 1) or None, got {floor!r}.")
        if floor is not None and self.memory_type != "associative":
            raise ValueError(
                f"`memory_denominator_floor` bounds the associative memory's read and needs "
                f"`memory_type='associative'`, got memory_denominator_floor={floor!r} with "
                f"memory_type={self.memory_type!r}."
            )
        if not isinstance(self.segment_checkpointing, bool):
            raise ValueError(f"`segment_checkpointing` must be a bool, got {self.segment_checkpointing!r}.")
        _check_int(
            "segment_checkpointing_keep_last",
            self.segment_checkpointing_keep_last,
            1,
            extra=" (the last segment always keeps its activations)",
        )
        _check_int("loss_chunk_size", self.loss_chunk_size, 1, allow_none=True, extra=" (None: no chunking)")
        if not isinstance(self.skip_logits_in_training, bool):
            raise ValueError(f"`skip_logits_in_training` must be a bool, got {self.skip_logits_in_training!r}.")
        if self.modules_to_save is not None and (
            not isinstance(self.modules_to_save, (list, tuple))
            or not all(isinstance(name, str) and name for name in self.modules_to_save)
        ):
            raise ValueError(
                f"`modules_to_save` must be a list of module names or None, got {self.modules_to_save!r}."
            )

    @property
    def resolved_segment_alignment(self) -> str:
        """The alignment in use: the configured one, or the layout's default."""
        if self.segment_alignment is not None:
            return self.segment_alignment
        return "left" if self.memory_layout == "decoder" else "right"


__all__ = ["MEMORY_TYPES", "RMTConfig"]
