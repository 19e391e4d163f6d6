# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""What hf_rmt needs to know about a backbone, read only through public transformers surfaces.

Nothing here depends on a particular architecture's module names: the task is read from the Auto mappings, the body
from `PreTrainedModel.base_model`, embeddings from `get_input_embeddings()`, limits from the config.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
import torch.utils.checkpoint
from torch import nn
from transformers import PreTrainedModel
from transformers.models.auto import modeling_auto


# Tested in tests/ (tiny random configs) and with the pretrained MiniLM-L6 (a BERT).
TESTED_ARCHITECTURES = (
    "bert",
    "roberta",
    "distilbert",
    "deberta-v2",
    "electra",
    "albert",
    "gpt2",
    "opt",
    "llama",
    "qwen2",
    "mistral",
    "t5",
    "mt5",
    "bart",
)

# Backbone task -> (Auto mapping of class names, hf_rmt task). Order matters: a class is matched to the first task
# (BartForConditionalGeneration is also transformers' masked LM of BART: it is a seq2seq LM here).
_TASK_MAPPINGS = (
    ("base", "MODEL_MAPPING_NAMES"),
    ("seq2seq-lm", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES"),
    ("sequence-classification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES"),
    ("token-classification", "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES"),
    ("masked-lm", "MODEL_FOR_MASKED_LM_MAPPING_NAMES"),
    ("causal-lm", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"),
)
_TASK_SUFFIXES = (
    ("sequence-classification", "ForSequenceClassification"),
    ("token-classification", "ForTokenClassification"),
    ("masked-lm", "ForMaskedLM"),
    ("causal-lm", "ForCausalLM"),
    ("causal-lm", "LMHeadModel"),
)


def _class_names(mapping_name: str) -> set[str]:
    names = set()
    for value in getattr(modeling_auto, mapping_name).values():
        names.update(value if isinstance(value, (tuple, list)) else [value])
    return names


def backbone_task(model: nn.Module) -> str:
    """The hf_rmt task of a backbone: `"base"`, `"seq2seq-lm"`, `"sequence-classification"`, `"token-classification"`,
    `"masked-lm"` or `"causal-lm"`; raises `ValueError` for anything else."""
    if not isinstance(model, PreTrainedModel):
        raise TypeError(
            f"`model` must be a transformers PreTrainedModel (e.g. from `AutoModel.from_pretrained`), got "
            f"{type(model).__name__}. Apply peft (LoRA) after `get_rmt_model`, not before."
        )
    name = type(model).__name__
    for task, mapping_name in _TASK_MAPPINGS:
        if name in _class_names(mapping_name):
            return task
    for task, suffix in _TASK_SUFFIXES:
        if name.endswith(suffix):
            return task
    if model.base_model is model:
        return "base"
    raise ValueError(
        f"Unsupported backbone class {name}: hf_rmt wraps bare models (AutoModel) and models for sequence "
        "classification, token classification, masked LM, causal LM and seq2seq LM."
    )


def check_supported(model: PreTrainedModel) -> None:
    """Raises a `ValueError` naming what is supported when a backbone cannot carry memory tokens."""
    config = model.config
    supported = ", ".join(TESTED_ARCHITECTURES)
    seq2seq = backbone_task(model) == "seq2seq-lm"
    if is_encoder_decoder(model) != seq2seq:
        # An encoder-decoder's memory lives in its encoder and its decoder reads the last row: that is
        # RMTForSeq2SeqLM, around the backbone's LM head (AutoModelForSeq2SeqLM), and nothing else.
        raise ValueError(
            f"Unsupported backbone {type(model).__name__} (model_type={config.model_type!r}, is_encoder_decoder="
            f"{is_encoder_decoder(model)}): encoder-decoder backbones are supported with their language-model head "
            "only (AutoModelForSeq2SeqLM, e.g. T5ForConditionalGeneration or BartForConditionalGeneration), and "
            f"seq2seq LM classes need an encoder-decoder backbone. Supported: {supported}."
        )
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if not isinstance(embeddings, nn.Embedding):
        raise ValueError(
            f"Unsupported backbone {type(model).__name__}: it has no token embedding (`get_input_embeddings()`). "
            f"Supported: text models such as {supported}."
        )
    for module in (model, model.base_model, *([model.get_encoder()] if seq2seq else [])):
        if "inputs_embeds" not in inspect.signature(module.forward).parameters:
            raise ValueError(
                f"Unsupported backbone {type(module).__name__}: its forward takes no `inputs_embeds`, which memory "
                f"tokens need. Supported: {supported}."
            )


def output_size(model: PreTrainedModel) -> int:
    """The dimension of the hidden states memory is read from. It differs from the input embeddings' for factorised
    embeddings (ALBERT, ELECTRA-small: `embedding_size` < `hidden_size`), which then need a projection back; OPT's
    `word_embed_proj_dim` projects back inside the model (its last hidden state is in the embedding space)."""
    embedding_dim = model.get_input_embeddings().embedding_dim
    hidden = getattr(model.config, "hidden_size", None)
    if hidden is None or getattr(model.config, "word_embed_proj_dim", None) is not None:
        return embedding_dim
    return hidden


def is_encoder_decoder(model: PreTrainedModel) -> bool:
    """Whether the backbone is an encoder-decoder (T5, BART, ...): its config says so."""
    return bool(getattr(model.config, "is_encoder_decoder", False))


def is_decoder_backbone(model: PreTrainedModel) -> bool:
    """Whether the backbone attends causally: its config says so, or it has a causal-LM head and no masked-LM head."""
    config = model.config
    if getattr(config, "is_decoder", False):
        return True
    model_type = config.model_type
    masked = set(modeling_auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES)
    causal = set(modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
    return model_type in causal and model_type not in masked


def layer_blocks(model: nn.Module) -> list[nn.Module]:
    """The backbone's repeated blocks: the children of its largest `nn.ModuleList` (BERT's `encoder.layer`, Llama's
    `model.layers`, GPT-2's `h`), or `[]` if it has none."""
    stacks = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not stacks:
        return []
    return list(max(stacks, key=lambda m: sum(p.numel() for p in m.parameters())))


def max_positions(config: Any) -> int | None:
    """Largest number of positions the backbone was built for (RoBERTa's padding offset removed)."""
    for name in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            if config.model_type in ("roberta", "xlm-roberta", "camembert", "roberta-prelayernorm", "longformer"):
                # Position ids start at padding_idx + 1 (RobertaEmbeddings.create_position_ids_from_inputs_embeds).
                value -= (config.pad_token_id or 0) + 1
            return value
    return None


class BackboneCaller:
    """
    Runs the backbone on one row and returns the body's last hidden state, plus the head's output when asked.

    Args:
        backbone (`PreTrainedModel`): The backbone; only its forward signature is read here (the backbone itself is
            passed to each call, so that peft's module replacements are always seen).
    """

    def __init__(self, backbone: PreTrainedModel):
        body_params = inspect.signature(backbone.base_model.forward).parameters
        self.takes_position_ids = "position_ids" in body_params
        self.takes_use_cache = "use_cache" in body_params
        self._hook_target: list[nn.Module] = []  # a plain list: a module attribute would register a submodule
        self._blocks: tuple[int, list[nn.Module]] | None = None

    def blocks(self, backbone: PreTrainedModel) -> list[nn.Module]:
        """`layer_blocks(backbone)`, found once per backbone (peft replaces layers inside blocks, not the blocks)."""
        if self._blocks is None or self._blocks[0] != id(backbone):
            self._blocks = (id(backbone), layer_blocks(backbone))
        return self._blocks[1]

    def __call__(
        self,
        backbone: PreTrainedModel,
        embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        head_kwargs: dict[str, Any] | None,
    ) -> tuple[torch.Tensor, Any]:
        """`(last hidden state of the body, the backbone's head output or None)`; the head runs when `head_kwargs`
        is not None."""
        kwargs: dict[str, Any] = {"inputs_embeds": embeds, "attention_mask": attention_mask, "return_dict": True}
        if position_ids is not None and self.takes_position_ids:
            kwargs["position_ids"] = position_ids
        if self.takes_use_cache:
            kwargs["use_cache"] = False  # a segment's KV cache is never reused by the next segment
        body = backbone.base_model
        if head_kwargs is None or body is backbone:
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
            output = backbone(**kwargs, **head_kwargs)
        finally:
            for handle in handles:
                handle.remove()
        if not captured:
            raise RuntimeError(
                f"{type(backbone).__name__} ran its head without running its body {type(body).__name__}."
            )
        first = min(captured)
        self._hook_target = [targets[first]]
        return captured[first], output


@contextmanager
def memory_in_layers(
    blocks: list[nn.Module],
    read: Callable[[int, torch.Tensor], torch.Tensor],
    write: Callable[[int, torch.Tensor], Any],
) -> Iterator[list[Any]]:
    """
    Within the block, a memory acts inside the backbone's layers, for any architecture: the hidden states block `i`
    receives go through `read(i, hidden)`, and its output hidden states through `write(i, hidden)`, whose results
    fill the yielded list at index `i`.

    Forward (pre-)hooks are registered for the duration of the block only, and `read`/`write` carry the state of this
    one call: the modules hold nothing between calls. A recomputed segment (`recompute.py`) registers its hooks again,
    and a CUDA-graph capture (`fast_path.py`) records the hooks' kernels like any others.

    Args:
        blocks (`list[nn.Module]`): The backbone's repeated blocks, in order (`layer_blocks`).
        read (`Callable`): `(block index, hidden states) -> hidden states`, applied before the block.
        write (`Callable`): `(block index, output hidden states) -> anything`, applied after it.
    """
    written: list[Any] = [None] * len(blocks)

    def before(index: int, module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        _check_not_checkpointed(module)
        if args:
            return (read(index, args[0]), *args[1:]), kwargs
        if "hidden_states" in kwargs:
            return args, {**kwargs, "hidden_states": read(index, kwargs["hidden_states"])}
        raise ValueError(
            f"{type(module).__name__} was called without positional arguments or `hidden_states`: a memory acting "
            "inside the layers cannot find the hidden states it reads into."
        )

    def after(index: int, module: nn.Module, args: tuple, output: Any) -> None:
        written[index] = write(index, output[0] if isinstance(output, (tuple, list)) else output)

    handles = []
    try:
        for index, block in enumerate(blocks):
            handles.append(block.register_forward_pre_hook(partial(before, index), with_kwargs=True))
            handles.append(block.register_forward_hook(partial(after, index)))
        yield written
    finally:
        for handle in handles:
            handle.remove()


def _check_not_checkpointed(module: nn.Module) -> None:
    """Older transformers versions (5.17 among them) checkpoint a layer's whole `__call__`, hooks included: the
    recomputation in backward would run after the hooks are gone, without the memory's read. Newer ones (5.24)
    checkpoint `forward` only, with the hooks outside, which is fine."""
    if (
        getattr(module, "gradient_checkpointing", False)
        and module.training
        and torch.is_grad_enabled()
        and type(module).__call__ is not nn.Module.__call__
    ):
        raise ValueError(
            "memory_type='associative' reads memory inside the backbone's layers, which this transformers version's "
            "gradient checkpointing (`gradient_checkpointing_enable()`) recomputes without the read. Disable it and "
            "use `RMTConfig(segment_checkpointing=True)` instead, which recomputes whole segments, memory included."
        )


def _hook_candidates(body: nn.Module) -> list[nn.Module]:
    """The body, then the pretrained sub-models inside it, outermost first."""
    return [body] + [m for m in body.modules() if m is not body and isinstance(m, PreTrainedModel)]


def _capture(store: dict[int, torch.Tensor], index: int, module: nn.Module, args: Any, output: Any) -> None:
    store.setdefault(index, output[0])


def _is_reentrant(func: Any) -> bool:
    """Whether a transformers `_gradient_checkpointing_func` runs torch's reentrant checkpoint (explicitly, or by
    torch's default when `use_reentrant` is not passed)."""
    if isinstance(func, partial):
        if "use_reentrant" in func.keywords:
            return bool(func.keywords["use_reentrant"])
        func = func.func
    return func is torch.utils.checkpoint.checkpoint


def checkpointed_modules(backbone: nn.Module) -> list[nn.Module]:
    """The backbone's modules whose own gradient checkpointing is on (`gradient_checkpointing_enable`)."""
    return [m for m in backbone.modules() if getattr(m, "gradient_checkpointing", False) is True]


@contextlib.contextmanager
def checkpointing_for_recomputation(modules: list[nn.Module], grad_enabled: bool) -> Iterator[None]:
    """
    Within the block, the backbone's own gradient checkpointing (transformers' per-layer `_gradient_checkpointing_func`,
    set by `gradient_checkpointing_enable`) suits a step that segment recomputation runs:

    - with gradients (the recomputation in backward, differentiated by `torch.autograd.grad`, hf_rmt/core/recompute.py):
      torch's reentrant checkpoint refuses `.grad()` ("incompatible with .grad()"), as it runs a nested `backward`
      of its own; it runs in the non-reentrant mode instead, which computes the same gradients with the same per-layer
      memory saving. The user's other options (offloading, `preserve_rng_state`, ...) stay as they were.
    - without (the step's first run, whose activations are not kept): checkpointing is off, as there is no backward to
      replay for (transformers <= 5.17 would still run torch's checkpoint, which warns that no input needs a gradient).

    Args:
        modules (`list[nn.Module]`): `checkpointed_modules(backbone)`, found once per forward.
        grad_enabled (`bool`): Whether the step runs with gradients.
    """
    names = ("gradient_checkpointing", "_gradient_checkpointing_func")
    saved = [
        (module, {name: module.__dict__[name] for name in names if name in module.__dict__}) for module in modules
    ]
    for module in modules:
        if not grad_enabled:
            module.gradient_checkpointing = False
            continue
        func = module.__dict__.get("_gradient_checkpointing_func")
        if func is not None and _is_reentrant(func):
            # A partial's keywords are overridden by the new ones.
            module._gradient_checkpointing_func = partial(func, use_reentrant=False)
    try:
        yield
    finally:
        for module, attributes in saved:
            for name in names:
                if name in attributes:
                    setattr(module, name, attributes[name])
                else:
                    module.__dict__.pop(name, None)  # back to the class's value


def has_dropout(backbone: PreTrainedModel) -> bool:
    """Whether the backbone applies dropout when training (modules with p > 0, or attention dropout in its config)."""
    if any(isinstance(module, nn.Dropout) and module.p > 0 for module in backbone.modules()):
        return True
    config = backbone.config
    return any(isinstance(value, float) and value > 0 and "dropout" in key for key, value in vars(config).items())


__all__ = [
    "TESTED_ARCHITECTURES",
    "BackboneCaller",
    "backbone_task",
    "check_supported",
    "checkpointed_modules",
    "checkpointing_for_recomputation",
    "has_dropout",
    "is_decoder_backbone",
    "is_encoder_decoder",
    "layer_blocks",
    "max_positions",
    "memory_in_layers",
    "output_size",
]
