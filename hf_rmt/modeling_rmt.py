# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Recurrent Memory Transformer models around any transformers backbone.

One segment step (`RMTPreTrainedModel._segment_step`) lays memory and a segment out in one backbone input, runs the
backbone once, and reads the next memory from its last hidden states. The recurrence
(`RMTPreTrainedModel._run_segments`) carries the memory state explicitly from step to step, applies truncated
backpropagation through time and, optionally, recomputes each step in the backward pass. The task classes only say
which steps need the backbone's head and what to keep of each step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    GenerationMixin,
    PreTrainedModel,
)
from transformers.utils import logging

from .backbone import layer_blocks, resolve_config
from .config import RMTConfig
from .fast_path import SegmentGraphs
from .layout import get_layout
from .memory import RMTMemory
from .outputs import RMTModelOutput, RMTSequenceClassifierOutput, RMTTokenOutput
from .recompute import recompute_segment
from .saving import RMTSavingMixin
from .segments import SegmentPlan, StepIndex


logger = logging.get_logger(__name__)

StepExtract = Callable[[int, StepIndex, torch.Tensor, Any], tuple[torch.Tensor, ...]]


class RMTPreTrainedModel(RMTSavingMixin, PreTrainedModel):
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
    _backbone_auto_class: ClassVar[Any] = AutoModel
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
        for key in ("memory_layout", "segment_size", "cls_token_id", "sep_token_id", "memory_init_std"):
            setattr(config, key, getattr(resolved, key))
        if config.base_model_name_or_path is None:
            config.base_model_name_or_path = resolved.base_model_name_or_path
        self.backbone = backbone
        # Share one config object with the backbone (as EncoderDecoderModel does), so that attention implementation
        # and dtype changes reach it; a copy would drift.
        self.config.base_config = backbone.config
        embeddings = backbone.get_input_embeddings()
        self.memory = RMTMemory(
            config.num_memory_tokens,
            embeddings.embedding_dim,
            init_std=config.memory_init_std,
            dtype=embeddings.weight.dtype,
            device=embeddings.weight.device,
        )
        self.layout = get_layout(config.memory_layout, config.num_memory_tokens)
        body_params = inspect.signature(backbone.base_model.forward).parameters
        self._body_takes_position_ids = "position_ids" in body_params
        self._body_takes_use_cache = "use_cache" in body_params
        self._warned_bptt = False
        self._hook_target: list[nn.Module] = []
        self._special_ids: dict[torch.device, torch.Tensor] = {}
        self._graphs: SegmentGraphs | None = None
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        # Backbone modules are initialised (or loaded) by the backbone itself; only the memory is ours.
        if isinstance(module, RMTMemory):
            module.reset_parameters()

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.backbone.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        return self.backbone.get_output_embeddings()

    # ---------------------------------------------------------------- trainable parameters (PEFT's format)

    def set_trainable(self, train_backbone: bool = False) -> None:
        """Freezes the backbone (or unfreezes it with `train_backbone=True`); memory and `config.modules_to_save`
        stay trainable."""
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

    # ---------------------------------------------------------------- inputs

    def _check_inputs(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        memory_state: torch.Tensor | None,
    ) -> tuple[int, int]:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError(
                "Pass exactly one of `input_ids` and `inputs_embeds`, got "
                + ("both." if input_ids is not None else "neither.")
            )
        if input_ids is not None and input_ids.dim() != 2:
            raise ValueError(f"`input_ids` must have shape (batch, seq_len), got {tuple(input_ids.shape)}.")
        hidden = self.memory.weight.shape[1]
        if inputs_embeds is not None and (inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != hidden):
            raise ValueError(
                f"`inputs_embeds` must have shape (batch, seq_len, {hidden}), got {tuple(inputs_embeds.shape)}."
            )
        source = input_ids if input_ids is not None else inputs_embeds
        batch, seq_len = source.shape[:2]
        if batch == 0 or seq_len == 0:
            raise ValueError(f"The input is empty: shape {tuple(source.shape)}; need at least one token per sample.")
        if attention_mask is not None and tuple(attention_mask.shape) != (batch, seq_len):
            raise ValueError(
                f"`attention_mask` must have the input's shape ({batch}, {seq_len}), got {tuple(attention_mask.shape)}."
            )
        expected = (batch, self.config.num_memory_tokens, hidden)
        if memory_state is not None and tuple(memory_state.shape) != expected:
            raise ValueError(f"`memory_state` must have shape {expected}, got {tuple(memory_state.shape)}.")
        return batch, seq_len

    # ---------------------------------------------------------------- the recurrence

    def _call_backbone(
        self,
        embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        head_kwargs: dict[str, Any] | None,
    ) -> tuple[torch.Tensor, Any]:
        """Runs the backbone on one row; returns the body's last hidden state and, if `head_kwargs` is not None, the
        backbone's (head) output."""
        kwargs: dict[str, Any] = {"inputs_embeds": embeds, "attention_mask": attention_mask, "return_dict": True}
        if position_ids is not None and self._body_takes_position_ids:
            kwargs["position_ids"] = position_ids
        if self._body_takes_use_cache:
            kwargs["use_cache"] = False  # a segment's KV cache is never reused by the next segment
        body = self.backbone.base_model
        if head_kwargs is None or body is self.backbone:
            output = body(**kwargs)
            return output[0], (output if head_kwargs is not None else None)
        # The head reads the body's output internally; a hook hands us the last hidden state without asking every
        # layer's hidden states (`output_hidden_states=True`) from the backbone. Some heads call a part of the body
        # (OPTForCausalLM calls `model.decoder`), so the first call finds which module the head really runs.
        targets = self._hook_target or _hook_candidates(body)
        captured: dict[int, torch.Tensor] = {}
        handles = [
            module.register_forward_hook(partial(_capture, captured, index)) for index, module in enumerate(targets)
        ]
        try:
            output = self.backbone(**kwargs, **head_kwargs)
        finally:
            for handle in handles:
                handle.remove()
        if not captured:
            raise RuntimeError(
                f"{type(self.backbone).__name__} ran its head without running its body {type(body).__name__}."
            )
        first = min(captured)
        self._hook_target = [targets[first]]  # a plain list: a module attribute would register a submodule
        return captured[first], output

    def _segment_step(
        self,
        plan: SegmentPlan,
        step: StepIndex,
        t: int,
        head_kwargs: dict[str, Any] | None,
        extract: StepExtract,
        memory: torch.Tensor,
        source: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """One segment: a pure function of `memory`, `source` and the parameters, so that it can be recomputed in
        backward."""
        positions, _ = plan.original_positions(step, self.layout.padding_side)
        rows = source if step.rows is None else source[step.rows]
        embeddings = self.backbone.get_input_embeddings()
        if rows.dim() == 2:
            content = embeddings(rows.gather(1, positions))
        else:
            content = rows.gather(1, positions[..., None].expand(-1, -1, rows.shape[-1]))
        embeds, mask, position_ids = self.layout.build(
            memory.to(content.dtype), content, step, self._special_embeddings(content)
        )
        hidden, head_output = self._call_backbone(embeds, mask, position_ids, head_kwargs)
        new_memory = self.layout.read_memory(hidden)
        if extract is None:
            return (new_memory,)
        content_hidden = self.layout.read_content(hidden, step.max_length)
        return (new_memory, *extract(t, step, content_hidden, head_output))

    def _special_embeddings(self, content: torch.Tensor) -> torch.Tensor | None:
        """`(2, hidden)` embeddings of the encoder layout's [CLS] and [SEP] (looked up each step: they may train)."""
        if self.layout.name != "encoder":
            return None
        ids = self._special_ids.get(content.device)
        if ids is None:  # one host-to-device copy per device, not per step (and none inside a CUDA graph)
            ids = torch.tensor([self.config.cls_token_id, self.config.sep_token_id], device=content.device)
            self._special_ids[content.device] = ids
        return self.backbone.get_input_embeddings()(ids).to(content.dtype)

    def _memory_only_step(self, memory: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
        """A full segment in, the next memory out: the step the CUDA-graph fast path captures."""
        content = self.backbone.get_input_embeddings()(segment_ids)
        batch, length = segment_ids.shape
        lengths = torch.full((batch,), length, device=segment_ids.device)
        step = StepIndex(None, lengths, lengths, length, True, lengths.bool())
        embeds, _, _ = self.layout.build(memory.to(content.dtype), content, step, self._special_embeddings(content))
        hidden, _ = self._call_backbone(embeds, None, None, None)
        return self.layout.read_memory(hidden)

    def enable_cuda_graphs(self, compile: bool | str = False, freeze_weights: bool = False) -> None:
        """
        Replays the memory-only segment step from CUDA graphs during inference (no grad, CUDA, `input_ids`, full
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
        blocks = layer_blocks(self.backbone) if compile and self.layout.name == "encoder" else []
        self._graphs = SegmentGraphs(
            self._memory_only_step,
            compile_modules=blocks,
            compile_step=bool(compile) and not blocks,
            compile_mode="default" if isinstance(compile, bool) else compile,
            freeze_weights=freeze_weights,
        )

    def disable_cuda_graphs(self) -> None:
        self._graphs = None

    def _make_plan(
        self, source: torch.Tensor, attention_mask: torch.Tensor | None, allow_empty: bool = False
    ) -> SegmentPlan:
        config = self.config
        return SegmentPlan(
            attention_mask,
            source.shape[0],
            source.shape[1],
            config.segment_size,
            config.resolved_segment_alignment,
            config.max_n_segments,
            source.device,
            allow_empty=allow_empty,
        )

    def _run_segments(
        self,
        plan: SegmentPlan,
        source: torch.Tensor,
        memory_state: torch.Tensor | None,
        extract: StepExtract,
        head_kwargs: Callable[[int, StepIndex], dict[str, Any] | None] = lambda t, step: None,
        keeps: Callable[[int], bool] | None = None,
    ) -> tuple[torch.Tensor, list[tuple[StepIndex, tuple[torch.Tensor, ...]]]]:
        """
        Runs the recurrence over all segments of `plan`.

        Args:
            plan: the segmentation of `source`.
            source: `input_ids` `(batch, seq_len)` or `inputs_embeds` `(batch, seq_len, hidden)`.
            memory_state: memory to start from; the learned initial memory if `None`.
            extract: called inside each step with `(t, step, content_hidden, head_output)`; returns the tensors to
                keep of that step. They are computed inside the step, so segment checkpointing recomputes rather
                than stores what leads to them.
            head_kwargs: `(t, step) -> dict | None`; a dict runs the backbone's head at that step with those kwargs.
            keeps: `t -> bool`, whether step `t` keeps anything (`extract` runs); by default, the steps with a head.
                The other steps only carry memory forward, and may replay a CUDA graph (`enable_cuda_graphs`).

        Returns:
            `(memory_state, [(step, extracted), ...])`.
        """
        config = self.config
        memory = memory_state if memory_state is not None else self.memory.initial_state(source.shape[0])
        grad = torch.is_grad_enabled()
        depth = config.bptt_depth
        if grad and self.training and depth >= len(plan) and not self._warned_bptt:
            logger.warning(
                f"`bptt_depth`={depth} is not smaller than the {len(plan)} segments of this batch: gradients flow "
                "through every memory transition (as with bptt_depth=-1)."
            )
            self._warned_bptt = True
        recompute = grad and config.segment_checkpointing
        if recompute:
            # Saving and restoring the RNG state around each segment is only needed to replay dropout masks.
            preserve_rng = self._has_dropout()
            params = list(self.parameters())  # `recompute_segment` keeps those that require grad
        if self._graphs is not None and not grad:
            self._graphs.check_weights([*self.parameters(), *self.buffers()])
        results = []
        for t in range(len(plan)):
            step = plan.step(t)
            step_memory = memory if step.rows is None else memory[step.rows]
            if grad and depth >= 0 and t <= len(plan) - 1 - depth:
                # Truncated BPTT: detach the memory a sample carries out of an earlier segment, so only the last
                # `bptt_depth` transitions get gradient. Per sample, so a sample's gradients do not depend on the
                # longer samples it is batched with. (The official code's `k2` dropped this detach: a no-op.)
                step_memory = torch.where(step.continued[:, None, None], step_memory.detach(), step_memory)
            head = head_kwargs(t, step)
            keep = keeps(t) if keeps is not None else head is not None
            if self._graphs is not None and not keep and head is None and self._graph_ready(plan, step, source, grad):
                start = plan.shared_start(t)  # no padding and equal lengths: the step is one slice of the input
                outputs = (self._graphs(step_memory, source[:, start : start + step.max_length]),)
            else:
                fn = partial(self._segment_step, plan, step, t, head, extract if keep else None)
                if recompute and t < len(plan) - 1:
                    # The last step is not recomputed: backward starts with it, so keeping its activations costs
                    # no more than the recomputation of any one step would hold at that point.
                    outputs = recompute_segment(fn, (step_memory, source), params, preserve_rng)
                else:
                    outputs = fn(step_memory, source)
            new_memory = outputs[0].to(memory.dtype)
            memory = new_memory if step.rows is None else memory.index_copy(0, step.rows, new_memory)
            results.append((step, outputs[1:]))
        return memory, results

    def _has_dropout(self) -> bool:
        """Whether the backbone applies dropout now (modules with p > 0, or attention dropout from the config)."""
        if not self.training:
            return False
        if any(isinstance(module, nn.Dropout) and module.p > 0 for module in self.backbone.modules()):
            return True
        config = self.backbone.config
        return any(isinstance(value, float) and value > 0 and "dropout" in key for key, value in vars(config).items())

    def _graph_ready(self, plan: SegmentPlan, step: StepIndex, source: torch.Tensor, grad: bool) -> bool:
        """Whether a step is the plain case the captured graph replays: ids, no padding, a full segment."""
        return (
            not grad
            and source.is_cuda
            and source.dim() == 2
            and plan.order is None
            and plan.equal_lengths
            and step.uniform
            and step.max_length == self.config.segment_size
        )

    def _assemble_tokens(
        self,
        plan: SegmentPlan,
        batch: int,
        per_step: list[tuple[StepIndex, torch.Tensor]],
        keep: int = 0,
    ) -> torch.Tensor | None:
        """Puts per-step, per-token values back in the input's order: `(batch, seq_len, dim)`, zeros at padding; or
        each sample's last `keep` tokens, `(batch, keep, dim)`."""
        if not per_step:
            return None
        first = per_step[0][1]
        width = plan.seq_len if keep <= 0 else keep
        out = first.new_zeros(batch, width + 1, *first.shape[2:])  # the extra column takes padding entries
        for step, values in per_step:
            if keep <= 0:
                index, real = plan.original_positions(step, self.layout.padding_side)
            else:
                index, real = step.valid_index(self.layout.padding_side)
                tokens = plan.num_tokens if step.rows is None else plan.num_tokens[step.rows]
                index = index - (tokens - keep)[:, None]
                real = real & (index >= 0)
            index = torch.where(real, index, width)
            rows = torch.arange(batch, device=index.device) if step.rows is None else step.rows
            out.index_put_((rows[:, None].expand_as(index), index), values.to(out.dtype))
        return out[:, :width]


def _hook_candidates(body: nn.Module) -> list[nn.Module]:
    """The body, then the pretrained sub-models inside it, outermost first."""
    return [body] + [m for m in body.modules() if m is not body and isinstance(m, PreTrainedModel)]


def _capture(store: dict[int, torch.Tensor], index: int, module: nn.Module, args: Any, output: Any) -> None:
    store.setdefault(index, output[0])


_FORWARD_ARGS_DOC = r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): Token ids of any length, without
                special tokens (the layout adds them to each segment).
            attention_mask (`torch.Tensor` of shape `(batch_size, sequence_length)`, *optional*): 1 for real tokens,
                0 for padding, anywhere in the row. Each sample gives what it gives alone.
            inputs_embeds (`torch.FloatTensor` of shape `(batch_size, sequence_length, hidden_size)`, *optional*):
                Input embeddings instead of `input_ids`.
            memory_state (`torch.FloatTensor` of shape `(batch_size, num_memory_tokens, hidden_size)`, *optional*):
                Memory to start from (a previous output's `memory_state`, to continue a stream); the learned initial
                memory otherwise.
"""


class RMTModel(RMTPreTrainedModel):
    """RMT around a bare backbone (`AutoModel`): the last hidden states of the input's tokens, and the memory."""

    _backbone_auto_class = AutoModel
    task = "base"

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        hidden_states_to_keep: int = 0,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTModelOutput | tuple:
        batch, _ = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        source = input_ids if input_ids is not None else inputs_embeds
        plan = self._make_plan(source, attention_mask)

        def extract(t, step, content_hidden, head_output):
            return (content_hidden,)

        memory, results = self._run_segments(
            plan, source, memory_state, extract, keeps=lambda t: plan.touches_tail(t, hidden_states_to_keep)
        )
        per_step = [(step, out[0]) for step, out in results if out]
        hidden = self._assemble_tokens(plan, batch, per_step, hidden_states_to_keep)
        output = RMTModelOutput(last_hidden_state=hidden, memory_state=memory)
        return output if return_dict is not False else output.to_tuple()

    forward.__doc__ = (
        _FORWARD_ARGS_DOC
        + r"""            hidden_states_to_keep (`int`, *optional*, defaults to 0): Keep only each sample's last `k` hidden
                states (0 keeps all), so a long input does not materialise one vector per token.
"""
    )


class RMTForSequenceClassification(RMTPreTrainedModel):
    """
    RMT around a sequence-classification backbone: the prediction is the backbone head's output on the last segment,
    which sees the whole input through memory (arXiv:2304.11062, the official `process_outputs` uses the last
    segment's output). The head and its loss (single-label, multi-label or regression, from the backbone's config)
    are the backbone's own.
    """

    _backbone_auto_class = AutoModelForSequenceClassification
    task = "sequence-classification"

    def __init__(self, config: RMTConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config, backbone)
        base = self.backbone.config
        if self.layout.name == "decoder" and getattr(base, "pad_token_id", None) is None:
            # Decoder classification heads refuse batches without a pad id, then read the last position of
            # `inputs_embeds`, which in the decoder layout is always the last write-memory token (never padding).
            eos = base.eos_token_id if isinstance(getattr(base, "eos_token_id", None), int) else 0
            base.pad_token_id = eos
            logger.info(f"Set the backbone's pad_token_id to {eos}: its classification head reads the last position.")

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.Tensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTSequenceClassifierOutput | tuple:
        batch, _ = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        if labels is not None and (labels.dim() not in (1, 2) or labels.shape[0] != batch):
            raise ValueError(
                f"`labels` must have shape ({batch},) (class ids or regression targets) or ({batch}, num_labels), got "
                f"{tuple(labels.shape)}."
            )
        source = input_ids if input_ids is not None else inputs_embeds
        plan = self._make_plan(source, attention_mask)
        last = len(plan) - 1

        def head_kwargs(t, step):
            # Every sample's last segment runs at the last step (segments are aligned at the end).
            return ({"labels": labels} if labels is not None else {}) if t == last else None

        def extract(t, step, content_hidden, head_output):
            if head_output is None:
                return ()
            return (head_output.logits,) if head_output.loss is None else (head_output.logits, head_output.loss)

        memory, results = self._run_segments(plan, source, memory_state, extract, head_kwargs)
        final = results[-1][1]
        output = RMTSequenceClassifierOutput(
            loss=final[1] if len(final) > 1 else None, logits=final[0], memory_state=memory
        )
        return output if return_dict is not False else output.to_tuple()

    forward.__doc__ = (
        _FORWARD_ARGS_DOC
        + r"""            labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*): Class ids (or regression targets).
"""
    )


class _RMTPerTokenHead(RMTPreTrainedModel):
    """Token-level heads: the backbone head runs on every segment; outputs come back in the input's order."""

    def _check_labels(self, labels: torch.Tensor | None, batch: int, seq_len: int) -> None:
        if labels is not None and tuple(labels.shape) != (batch, seq_len):
            raise ValueError(
                f"`labels` must have the input's shape ({batch}, {seq_len}) with -100 for ignored tokens, got "
                f"{tuple(labels.shape)}."
            )

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTTokenOutput | tuple:
        batch, seq_len = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        self._check_labels(labels, batch, seq_len)
        source = input_ids if input_ids is not None else inputs_embeds
        plan = self._make_plan(source, attention_mask)
        offset = self.layout.content_offset

        def extract(t, step, content_hidden, head_output):
            return (head_output.logits[:, offset : offset + step.max_length],)

        memory, results = self._run_segments(plan, source, memory_state, extract, lambda t, step: {})
        logits = self._assemble_tokens(plan, batch, [(step, out[0]) for step, out in results])
        loss = None
        if labels is not None:
            if attention_mask is not None:
                labels = labels.masked_fill(attention_mask == 0, -100)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten().to(logits.device), ignore_index=-100)
        output = RMTTokenOutput(loss=loss, logits=logits, memory_state=memory)
        return output if return_dict is not False else output.to_tuple()

    forward.__doc__ = (
        _FORWARD_ARGS_DOC
        + r"""            labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*): Per-token targets
                (tag ids, or original ids at masked positions), -100 to ignore a token.
"""
    )


class RMTForTokenClassification(_RMTPerTokenHead):
    """RMT around a token-classification backbone: one prediction per input token, across all segments."""

    _backbone_auto_class = AutoModelForTokenClassification
    task = "token-classification"


class RMTForMaskedLM(_RMTPerTokenHead):
    """RMT around a masked-LM backbone: vocabulary logits for every input token, across all segments."""

    _backbone_auto_class = AutoModelForMaskedLM
    task = "masked-lm"


class RMTForCausalLM(RMTPreTrainedModel, GenerationMixin):
    """
    RMT around a causal-LM backbone. The loss is the ordinary shifted next-token loss over the whole input, across
    segment boundaries (the last token of a segment predicts the first of the next), a mean over all scored tokens as
    in the official `RecurrentWrapper`. It is accumulated segment by segment, so logits are only materialised for the
    tokens the caller keeps (`logits_to_keep`).
    """

    _backbone_auto_class = AutoModelForCausalLM
    task = "causal-lm"
    accepts_loss_kwargs = True

    def __init__(self, config: RMTConfig, backbone: PreTrainedModel | None = None):
        super().__init__(config, backbone)
        self._head_takes_logits_to_keep = "logits_to_keep" in inspect.signature(self.backbone.forward).parameters

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        logits_to_keep: int = 0,
        num_items_in_batch: int | torch.Tensor | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> RMTTokenOutput | tuple:
        batch, seq_len = self._check_inputs(input_ids, inputs_embeds, attention_mask, memory_state)
        if labels is not None and tuple(labels.shape) != (batch, seq_len):
            raise ValueError(
                f"`labels` must have the input's shape ({batch}, {seq_len}) with -100 for unscored tokens, got "
                f"{tuple(labels.shape)}."
            )
        if isinstance(logits_to_keep, bool) or not isinstance(logits_to_keep, int) or logits_to_keep < 0:
            raise ValueError(f"`logits_to_keep` must be an integer >= 0 (0 keeps all), got {logits_to_keep!r}.")
        source = input_ids if input_ids is not None else inputs_embeds
        plan = self._make_plan(source, attention_mask)
        offset, padding_side = self.layout.content_offset, self.layout.padding_side

        targets = denominator = None
        if labels is not None:
            # Shift among each sample's valid tokens: valid token k predicts valid token k + 1.
            compact = plan.compact(labels.to(source.device))
            targets = torch.cat([compact[:, 1:], compact.new_full((batch, 1), -100)], dim=1)
            beyond = torch.arange(seq_len, device=source.device)[None] >= (plan.num_tokens - 1)[:, None]
            targets = targets.masked_fill(beyond, -100)
            denominator = num_items_in_batch if num_items_in_batch is not None else (targets != -100).sum()
            if isinstance(denominator, torch.Tensor):
                denominator = denominator.to(source.device).clamp(min=1)
            else:
                denominator = max(int(denominator), 1)

        def head_kwargs(t, step):
            if labels is None and not plan.touches_tail(t, logits_to_keep):
                return None
            if self._head_takes_logits_to_keep:
                # Only the segment's positions reach the LM head, not the memory's.
                return {"logits_to_keep": torch.arange(offset, offset + step.max_length, device=source.device)}
            return {}

        def extract(t, step, content_hidden, head_output):
            if head_output is None:
                return ()
            logits = head_output.logits
            if not self._head_takes_logits_to_keep:
                logits = logits[:, offset : offset + step.max_length]
            kept = (logits,) if plan.touches_tail(t, logits_to_keep) else ()
            if targets is None:
                return kept
            index, real = step.valid_index(padding_side)
            rows = targets if step.rows is None else targets[step.rows]
            step_targets = rows.gather(1, index.clamp(max=seq_len - 1)).masked_fill(~real, -100)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), step_targets.flatten(), reduction="sum")
            return (loss / denominator, *kept)

        memory, results = self._run_segments(plan, source, memory_state, extract, head_kwargs)
        loss = None
        if labels is not None:
            loss = torch.stack([out[0] for _, out in results]).sum()
            results = [(step, out[1:]) for step, out in results]
        logits = self._assemble_tokens(plan, batch, [(s, out[0]) for s, out in results if out], logits_to_keep)
        output = RMTTokenOutput(loss=loss, logits=logits, memory_state=memory)
        return output if return_dict is not False else output.to_tuple()

    forward.__doc__ = (
        _FORWARD_ARGS_DOC
        + r"""            labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*): Usually the
                input ids, -100 for unscored tokens; shifted inside (token k predicts token k + 1).
            logits_to_keep (`int`, *optional*, defaults to 0): Return logits only for each sample's last `k` tokens (0
                keeps all). The loss is computed over all tokens either way.
            num_items_in_batch (`int`, *optional*): Denominator of the loss (Trainer passes it under gradient
                accumulation); the number of scored tokens otherwise.
"""
    )

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        memory_state: torch.FloatTensor | None = None,
        **generate_kwargs: Any,
    ) -> torch.LongTensor:
        r"""
        Generates a continuation of a prompt of any length.

        The prompt's earlier segments are read into memory by the recurrence; its last segment runs with the memory
        in front (`[read mem | last segment]`) through the backbone's own `generate`, with its KV cache. The
        continuation therefore has the whole prompt in memory, and the last segment plus the new tokens must fit the
        backbone's positions.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): The prompt (padding anywhere).
            attention_mask (`torch.Tensor`, *optional*): 1 for real prompt tokens.
            memory_state (`torch.FloatTensor`, *optional*): Memory to start from.
            generate_kwargs: Passed to the backbone's `generate` (`max_new_tokens`, `do_sample`, a
                `GenerationConfig`, ...).

        Returns:
            `torch.LongTensor` of shape `(batch_size, sequence_length + new_tokens)`: prompt followed by the new tokens.
        """
        if input_ids is None:
            raise ValueError("`generate` needs `input_ids` (the prompt).")
        batch, seq_len = self._check_inputs(input_ids, None, attention_mask, memory_state)
        plan = self._make_plan(input_ids, attention_mask)
        size = self.config.segment_size
        tokens = plan.num_tokens
        if self.config.resolved_segment_alignment == "left":
            last_length = tokens - (tokens - 1) // size * size
        else:
            last_length = tokens.clamp(max=size)
        # Prefix = every valid token but those of the last segment; it updates memory, the last segment does not.
        positions = torch.arange(seq_len, device=input_ids.device).expand(batch, -1)
        valid_rank = (
            positions if plan.order is None else torch.empty_like(positions).scatter_(1, plan.order, positions)
        )
        prefix_mask = (valid_rank < (tokens - last_length)[:, None]).long()
        if attention_mask is not None:
            prefix_mask = prefix_mask * attention_mask.long()
        memory = memory_state if memory_state is not None else self.memory.initial_state(batch)
        if bool(prefix_mask.any()):
            prefix_plan = self._make_plan(input_ids, prefix_mask, allow_empty=True)
            memory, _ = self._run_segments(prefix_plan, input_ids, memory, lambda t, step, hidden, head: ())

        # Last segment, left-padded as `generate` expects: [pad... | read mem | last segment].
        width = int(last_length.max())
        compact = plan.compact(input_ids)
        index = (tokens - last_length)[:, None] + torch.arange(width, device=input_ids.device)[None]
        pad = (width - last_length)[:, None]
        index = (index - pad).clamp(min=0, max=seq_len - 1)
        real = torch.arange(width, device=input_ids.device)[None] >= pad
        last_ids = compact.gather(1, index)
        embeds = self.backbone.get_input_embeddings()(last_ids)
        m = self.config.num_memory_tokens
        rows = torch.cat([memory.to(embeds.dtype), embeds], dim=1)
        mask = torch.cat([torch.ones(batch, m, dtype=torch.long, device=input_ids.device), real.long()], dim=1)
        # Move the padding in front of the memory: a stable sort puts masked positions first, keeping order.
        order = torch.sort(mask, dim=1, stable=True).indices
        rows = rows.gather(1, order[..., None].expand(-1, -1, rows.shape[-1]))
        mask = mask.gather(1, order)
        new_tokens = self.backbone.generate(inputs_embeds=rows, attention_mask=mask, **generate_kwargs)
        return torch.cat([input_ids, new_tokens.to(input_ids.device)], dim=1)


TASK_TO_CLASS: dict[str, type[RMTPreTrainedModel]] = {
    cls.task: cls
    for cls in (RMTModel, RMTForSequenceClassification, RMTForTokenClassification, RMTForMaskedLM, RMTForCausalLM)
}


__all__ = [
    "TASK_TO_CLASS",
    "RMTForCausalLM",
    "RMTForMaskedLM",
    "RMTForSequenceClassification",
    "RMTForTokenClassification",
    "RMTModel",
    "RMTPreTrainedModel",
]
