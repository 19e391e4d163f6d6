# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""`RMTPreTrainedModel`, the base class of the hf_rmt models: a backbone, a memory type and the segment recurrence.

The recurrence itself is `hf_rmt.core.recurrence`; this class holds the modules, checks inputs, builds the
segmentation and puts per-token outputs back in the input's order. Each task class (`classification.py`,
`per_token.py`, `causal_lm.py`, `bare.py`) only says what its step head keeps and how the outputs are assembled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from huggingface_hub import CommitInfo
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import logging

from ..checkpoint import adapter_state_dict, load_checkpoint
from ..config import RMTConfig
from ..core.backbone import BackboneCaller, has_dropout, layer_blocks
from ..core.fast_path import SegmentGraphs
from ..core.layouts import get_layout
from ..core.memory import AssociativeMemory, MemoryState, RMTMemory
from ..core.recurrence import LoopOptions, SegmentCell, StepHead, memory_only_step, run_segments
from ..core.segments import SegmentPlan, SegmentStep
from ..hub.card_inputs import set_model_card_info as attach_card_info
from ..hub.push import push_to_hub
from ..hub.save import save_pretrained as save_with_card
from ..mapping import MODEL_TASKS
from ..utils.peft_compat import PeftCheckpointingFlag
from .inputs import check_inputs
from .memory_types import build_memory
from .resolve import resolve_config


logger = logging.get_logger(__name__)


class RMTPreTrainedModel(PeftCheckpointingFlag, PreTrainedModel):
    """
    Base class of the hf_rmt models: a backbone (`self.backbone`, any transformers model), the learned initial memory
    (`self.memory`) and the segment recurrence.

    Args:
        config (`RMTConfig`): The RMT configuration; `config.base_config` builds the backbone when none is given.
        backbone (`PreTrainedModel`, *optional*): An already built backbone (what `get_rmt_model` passes).
    """

    config_class = RMTConfig
    # No attribute has this name, so transformers never strips or adds a prefix between the hf_rmt classes, whose
    # backbones differ (a bare model vs. a model with a head): each checkpoint keeps one key layout.
    base_model_prefix = "rmt"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    # Required so `from_pretrained(..., attn_implementation=...)` is accepted and passed on to the backbone's config.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _backbone_auto_class: ClassVar[Any] = MODEL_TASKS["base"].auto_class
    task: ClassVar[str] = "base"
    # Trainer reads this before guessing from `**kwargs`: these losses are batch means that ignore
    # `num_items_in_batch`, so Trainer must divide by gradient-accumulation steps and keep DDP's averaging itself.
    # RMTForCausalLM normalises by `num_items_in_batch` and sets it to True.
    accepts_loss_kwargs: ClassVar[bool] = False

    def __init__(self, config: RMTConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config)
        if backbone is None:
            if config.base_config is None:
                raise ValueError("`config.base_config` is required to build the backbone when no `backbone` is given.")
            backbone = self._backbone_auto_class.from_config(config.base_config)
        # Idempotent for configs that `get_rmt_model` or a checkpoint already resolved.
        resolved = resolve_config(config, backbone)
        for key in ("memory_layout", "segment_size", "cls_token_id", "sep_token_id", "memory_init_std", "memory_dim"):
            setattr(config, key, getattr(resolved, key))
        if config.base_model_name_or_path is None:
            config.base_model_name_or_path = resolved.base_model_name_or_path
        self.backbone = backbone
        # Share one config object with the backbone (as EncoderDecoderModel does), so that attention implementation
        # and dtype changes reach it; a copy would drift.
        self.config.base_config = backbone.config
        self._backbone_caller = BackboneCaller(backbone)
        # The memory type's module and update rule (`memory_types.py`); `None` when the module is its own rule.
        self.memory, self.memory_update = build_memory(config, backbone, self._backbone_caller.blocks(backbone))
        self.layout = get_layout(
            config.memory_layout, config.num_memory_tokens, config.cls_token_id, config.sep_token_id
        )
        self._warned_bptt = False
        self._graphs: SegmentGraphs | None = None
        # `post_init` gathers the backbone's tied-weight map as it was when the backbone was built, then ties it: a
        # backbone whose head was untied since (`config.tie_word_embeddings = False` and an `lm_head` of its own)
        # would be silently re-tied, its head replaced by the input embeddings. Recompute the map from the
        # backbone's config as it is now, which is what `tie_weights()` itself does when called outside `__init__`.
        backbone.all_tied_weights_keys = backbone.get_expanded_tied_weights_keys(all_submodels=True)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # Backbone modules are initialised (or loaded) by the backbone itself; only the memory is ours.
        if isinstance(module, (RMTMemory, AssociativeMemory)):
            module.reset_parameters()

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.backbone.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        return self.backbone.get_output_embeddings()

    # ---------------------------------------------------------------- trainable parameters (PEFT's format)

    def set_trainable(self, train_backbone: bool = False) -> None:
        """Freezes the backbone (unfreezes it with `train_backbone=True`); memory and `modules_to_save` stay trainable."""
        self.backbone.requires_grad_(train_backbone)
        for name in self.config.modules_to_save or []:
            self.backbone.get_submodule(name).requires_grad_(True)
        self.memory.requires_grad_(True)

    def backbone_is_trained(self) -> bool:
        """Whether any backbone parameter outside `config.modules_to_save` requires grad."""
        saved = tuple(f"{name}." for name in self.config.modules_to_save or [])
        return any(p.requires_grad for n, p in self.backbone.named_parameters() if not n.startswith(saved))

    def get_nb_trainable_parameters(self) -> tuple[int, int]:
        """Returns `(trainable parameters, all parameters)`, as peft's `PeftModel.get_nb_trainable_parameters`."""
        trainable = total = 0
        for param in self.parameters():
            count = param.numel()
            total += count
            if param.requires_grad:
                trainable += count
        return trainable, total

    def print_trainable_parameters(self) -> None:
        """Prints the trainable parameter count in peft's format."""
        trainable, total = self.get_nb_trainable_parameters()
        print(
            f"trainable params: {trainable:,d} || all params: {total:,d} || trainable%: {100 * trainable / total:.4f}"
        )

    # ---------------------------------------------------------------- checkpoints and the Hub (hf_rmt.checkpoint, hf_rmt.hub)

    def adapter_state_dict(self, state_dict: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """The tensors of an adapter-only checkpoint: the memory and the `modules_to_save` heads."""
        return adapter_state_dict(self, state_dict)

    def set_model_card_info(
        self,
        training_info: Mapping[str, Any] | None = None,
        eval_results: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        card_data: Mapping[str, Any] | None = None,
    ) -> None:
        attach_card_info(self, training_info, eval_results, card_data)

    set_model_card_info.__doc__ = attach_card_info.__doc__

    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        adapter_only: bool | None = None,
        is_main_process: bool = True,
        state_dict: dict[str, torch.Tensor] | None = None,
        push_to_hub: bool = False,
        model_card: bool = True,
        training_info: Mapping[str, Any] | None = None,
        eval_results: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        card_data: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        save_with_card(
            self,
            save_directory,
            adapter_only=adapter_only,
            is_main_process=is_main_process,
            state_dict=state_dict,
            push_to_hub=push_to_hub,
            model_card=model_card,
            training_info=training_info,
            eval_results=eval_results,
            card_data=card_data,
            **kwargs,
        )

    save_pretrained.__doc__ = save_with_card.__doc__

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        commit_description: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        max_shard_size: int | str | None = "50GB",
        tags: list[str] | None = None,
        adapter_only: bool | None = None,
        tokenizer: Any = None,
        training_info: Mapping[str, Any] | None = None,
        eval_results: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        card_data: Mapping[str, Any] | None = None,
    ) -> CommitInfo:
        """
        Uploads the model (as `save_pretrained` writes it, full or adapter-only), its model card and optionally
        its tokenizer to the Hub repo `repo_id`, in one commit. See `hf_rmt.push_to_hub` for the arguments.

        Returns:
            `huggingface_hub.CommitInfo` of the commit (`.oid` is its sha, usable as `revision=` when loading).
        """
        return push_to_hub(
            self,
            repo_id,
            commit_message=commit_message,
            commit_description=commit_description,
            private=private,
            token=token,
            revision=revision,
            create_pr=create_pr,
            max_shard_size=max_shard_size,
            tags=tags,
            adapter_only=adapter_only,
            tokenizer=tokenizer,
            training_info=training_info,
            eval_results=eval_results,
            card_data=card_data,
        )

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        backbone: Any = None,
        **kwargs: Any,
    ):
        return load_checkpoint(
            cls, pretrained_model_name_or_path, model_args, backbone, kwargs, super().from_pretrained
        )

    from_pretrained.__func__.__doc__ = load_checkpoint.__doc__

    def _check_inputs(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        memory_state: MemoryState | None,
    ) -> tuple[int, int]:
        return check_inputs(
            input_ids,
            inputs_embeds,
            attention_mask,
            memory_state,
            self.config.num_memory_tokens,
            self.memory.weight.shape[1],
            state_shapes=self.memory.state_shapes,
            vocab_size=self.backbone.get_input_embeddings().num_embeddings,
        )

    # ---------------------------------------------------------------- the recurrence

    def _segment_cell(self) -> SegmentCell:
        # Looked up at each call: peft's `modules_to_save` replaces the memory (and its projection) by a trained copy.
        # Without a separate rule, the memory module is its own (ARMT's, whose weights it holds).
        update = self.memory_update if self.memory_update is not None else self.memory
        projection = getattr(self.memory, "write_projection", None)
        return SegmentCell(self.backbone, self.layout, update, self._backbone_caller, projection)

    def memory_only_step(self, memory: MemoryState, segment_ids: torch.Tensor) -> MemoryState:
        """A full segment of ids in, the next memory out: the step `enable_cuda_graphs` captures (see
        `hf_rmt.core.recurrence.memory_only_step`)."""
        return memory_only_step(self._segment_cell(), memory, segment_ids)

    def has_dropout(self) -> bool:
        """Whether the backbone applies dropout now (in training mode, modules with p > 0 or attention dropout)."""
        return self.training and has_dropout(self.backbone)

    def run_segments(
        self, plan: SegmentPlan, inputs: torch.Tensor, memory_state: MemoryState | None, head: StepHead
    ) -> tuple[MemoryState, list[tuple[SegmentStep, tuple | None]]]:
        """
        Runs the recurrence (`hf_rmt.core.recurrence.run_segments`) over `plan` with this model's settings
        (truncated BPTT, segment checkpointing, CUDA graphs).

        Args:
            plan (`SegmentPlan`): The segmentation of `inputs`, from `make_plan`.
            inputs (`torch.Tensor`): `input_ids` `(batch, seq_len)` or `inputs_embeds` `(batch, seq_len, hidden)`.
            memory_state (`torch.Tensor` or `tuple[torch.Tensor, ...]`, *optional*): Memory to start from; the
                memory type's initial state if None.
            head (`StepHead`): What each step runs and keeps (the task classes' heads are in
                `hf_rmt.modeling.heads`; `StepHead()` keeps nothing).

        Returns:
            `(final memory, [(step, kept or None), ...])`.
        """
        config = self.config
        memory = memory_state if memory_state is not None else self.memory.initial_state(inputs.shape[0])
        grad = torch.is_grad_enabled()
        depth = config.bptt_depth
        if grad and self.training and depth >= len(plan) and not self._warned_bptt:
            logger.warning(
                f"`bptt_depth`={depth} is not smaller than the {len(plan)} segments of this batch: gradients flow "
                "through every memory transition (as with bptt_depth=-1)."
            )
            self._warned_bptt = True
        options = LoopOptions(bptt_depth=depth, graphs=self._graphs, segment_size=config.segment_size)
        if grad and config.segment_checkpointing:
            options.recompute = True
            options.keep_last = config.segment_checkpointing_keep_last
            # Saving and restoring the RNG state around each segment is only needed to replay dropout masks.
            options.preserve_rng = self.has_dropout()
            options.params = list(self.parameters())  # `recompute_segment` keeps those that require grad
        if self._graphs is not None and not grad:
            self._graphs.check_weights([*self.parameters(), *self.buffers()])
        return run_segments(self._segment_cell(), plan, inputs, memory, head, options)

    def enable_cuda_graphs(self, compile: bool | str = False, freeze_weights: bool = False) -> None:
        """
        Replays the memory-only segment step (`memory_only_step`) from CUDA graphs during inference (no grad, CUDA, `input_ids`, full
        segments without padding), captured once per batch shape. At batch 1 this removes the kernel-launch overhead
        that bounds a long input's segment loop. Call `disable_cuda_graphs()` to free the graphs.

        Args:
            compile (`bool` or `str`, *optional*, defaults to `False`): Compile the step with `torch.compile`
                (inductor) for the captured graphs, which fuses elementwise kernels (fewer, larger kernels per
                segment); the model's modules are left uncompiled outside the graphs. `True` uses inductor's default
                mode; `"max-autotune-no-cudagraphs"` also benchmarks GEMM kernels for the step's shapes (minutes of
                compilation). The first call then takes the compilation.
            freeze_weights (`bool`, *optional*, defaults to `False`): With `compile`, fold the weights into the
                compiled step as constants (inductor's freezing), which fuses, for example, the query, key and value
                projections into one GEMM (BERT-base on an H200: 0.62 instead of 0.70 ms a segment). For weights
                that stay fixed: if they change in place or move, the next call compiles the step again.
        """
        modes = ("default", "max-autotune-no-cudagraphs")
        if not isinstance(compile, bool) and compile not in modes:
            # Modes that capture CUDA graphs themselves cannot run inside our capture.
            raise ValueError(f"`compile` must be a bool or one of {modes}, got {compile!r}.")
        if freeze_weights and not compile:
            raise ValueError(
                f"`freeze_weights=True` folds weights into compiled code, so it needs `compile`; got compile={compile!r}."
            )
        if not torch.cuda.is_available():
            raise RuntimeError("`enable_cuda_graphs` needs a CUDA device.")
        # Encoders: compile only their blocks. Traced, transformers' mask code builds an explicit bidirectional mask,
        # which swaps SDPA's flash kernel for a decomposed fp32 attention (BERT-base step on an H200: 1.17 ms whole
        # vs 0.69 ms regional). Decoders keep `is_causal` when traced, and compiling the whole step fuses more
        # (~125M Llama, 2M tokens on an H200: 3.7 s whole vs 7.7 s regional). bench/bench_inference.py measures both.
        # An encoder-decoder's steps run its encoder: the blocks compiled are the encoder's.
        blocks = layer_blocks(self._segment_cell().backbone) if compile and not self.layout.causal else []
        self._graphs = SegmentGraphs(
            self.memory_only_step,
            compile_modules=blocks,
            compile_step=bool(compile) and not blocks,
            compile_mode="default" if isinstance(compile, bool) else compile,
            freeze_weights=freeze_weights,
        )

    def disable_cuda_graphs(self) -> None:
        self._graphs = None

    def make_plan(
        self, inputs: torch.Tensor, attention_mask: torch.Tensor | None, allow_empty: bool = False
    ) -> SegmentPlan:
        """The segmentation of `inputs` (`input_ids` or `inputs_embeds`) under `attention_mask`, with this model's
        segment size, alignment and `max_n_segments`."""
        config = self.config
        return SegmentPlan(
            attention_mask,
            inputs.shape[0],
            inputs.shape[1],
            config.segment_size,
            config.resolved_segment_alignment,
            config.max_n_segments,
            inputs.device,
            allow_empty=allow_empty,
        )


FORWARD_ARGS_DOC = r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): Token ids of any length, without
                special tokens (the layout adds them to each segment).
            attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`, *optional*): 1 for real tokens,
                0 for padding, anywhere in the row. Each sample gives what it gives alone.
            inputs_embeds (`torch.FloatTensor` of shape `(batch_size, sequence_length, hidden_size)`, *optional*):
                Input embeddings instead of `input_ids`.
            memory_state (`torch.FloatTensor` of shape `(batch_size, num_memory_tokens, hidden_size)`, *optional*):
                Memory to start from (a previous output's `memory_state`, to continue a stream); the learned initial
                memory otherwise. With `memory_type="associative"`, a tuple of every layer's associative matrix and
                normaliser (`(A_0, z_0, A_1, z_1, ...)`), empty memories otherwise.
"""


__all__ = ["FORWARD_ARGS_DOC", "RMTPreTrainedModel"]
