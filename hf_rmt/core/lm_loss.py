# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""The causal-LM head and its cross-entropy computed by chunks of tokens, without materialising a segment's logits.

A GPT-2-small segment of 8 x 512 tokens has 4096 x 50257 logits: 0.4 GB in bf16, and the float32 copy that the loss
reads and the log-probabilities it saves for backward are twice that each, for every segment of a training step. Here
the loss of `chunk_size` rows at a time is computed from the last hidden states and the head's weight; in training
each chunk's gradients are computed right away and its logits dropped, so the peak is one chunk's logits and what
is kept for backward is the gradient of the hidden states and of the head (measured in bench/bench_training_lm.py).

The numbers are those of the backbone's own head followed by `F.cross_entropy(logits.float(), ...)`: the matmul in the
dtype the head would run in (autocast's, or the hidden states'), the same logit post-processing (Gemma-2 soft-capping,
Cohere and Granite scaling), upcast to float32 per chunk. Only heads known to be one linear map are taken
(`lm_head_weights`); any other head keeps the backbone's own path.

The head's rows are padded with zeros to a multiple of `VOCAB_PAD_MULTIPLE` for the matmuls, and the padded logits
dropped before the loss. Why: with an odd vocabulary (GPT-2's 50257) every row of the logits starts at an address
that is not 16-byte aligned, so cuBLAS falls back to its slowest, unvectorised kernels (`..._align1`) for the three
head matmuls of a step: on an H200 they were 35-48% of a GPT-2-small RMT training step's GPU time
(`bench/bench_training_lm.py --profile`). nanoGPT pads GPT-2's vocabulary to 50304 for the same reason; here the
checkpoint's vocabulary is left as it is and only the matmuls see the padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import logging


logger = logging.get_logger(__name__)


# Rows of the head's weight, as the matmuls see it, are padded with zeros to a multiple of this (None: no padding).
VOCAB_PAD_MULTIPLE: int | None = 64
# Whether the chunked loss computes its gradients in forward when they are wanted (False: backward recomputes each
# chunk's logits from the saved hidden states, which holds less between forward and backward and costs one more head
# matmul and softmax per token). `_ChunkedLinearCrossEntropy` says why True is the default.
GRADIENTS_IN_FORWARD: bool = True

# Causal-LM model types whose head is `get_output_embeddings()` (an `nn.Linear`, tied or not, with or without bias)
# followed at most by the config's logit scaling or soft-capping below. Another architecture may do something else
# between its body and its logits, so it keeps its own head.
LINEAR_HEAD_MODEL_TYPES = frozenset(
    {
        "cohere",
        "falcon",
        "gemma",
        "gemma2",
        "gemma3_text",
        "gpt2",
        "gpt_neox",
        "granite",
        "llama",
        "mistral",
        "olmo",
        "olmo2",
        "opt",
        "phi",
        "phi3",
        "qwen2",
        "qwen3",
        "stablelm",
        "starcoder2",
    }
)


@dataclass
class LMHeadWeights:
    """
    A linear LM head: `logits = post(hidden @ weight.T + bias)`.

    Args:
        weight (`torch.Tensor`): `(vocab, hidden)`, the head's weight (the input embeddings' when tied).
        bias (`torch.Tensor`, *optional*): `(vocab,)`.
        scale (`float`, *optional*): Logits multiplied by it (Cohere's `logit_scale`).
        divisor (`float`, *optional*): Logits divided by it (Granite's `logits_scaling`).
        softcap (`float`, *optional*): `cap * tanh(logits / cap)` (Gemma-2's `final_logit_softcapping`).
    """

    weight: torch.Tensor
    bias: torch.Tensor | None = None
    scale: float | None = None
    divisor: float | None = None
    softcap: float | None = None

    def post(self, logits: torch.Tensor) -> torch.Tensor:
        """The head's own post-processing, in the order of the transformers models."""
        if self.scale is not None:
            logits = logits * self.scale
        if self.divisor is not None:
            logits = logits / self.divisor
        if self.softcap is not None:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits


def lm_head_weights(backbone: PreTrainedModel) -> LMHeadWeights | None:
    """The backbone's LM head as a linear map plus post-processing, or None when it is not known to be one (another
    architecture, or a head that peft replaced, e.g. with LoRA). Looked up at each forward: peft may replace it."""
    config = backbone.config
    head = backbone.get_output_embeddings() if hasattr(backbone, "get_output_embeddings") else None
    if config.model_type not in LINEAR_HEAD_MODEL_TYPES or type(head) is not nn.Linear:
        return None
    return LMHeadWeights(
        weight=head.weight,
        bias=head.bias,
        scale=getattr(backbone, "logit_scale", None) if config.model_type == "cohere" else None,
        divisor=getattr(config, "logits_scaling", None) if config.model_type == "granite" else None,
        softcap=getattr(config, "final_logit_softcapping", None),
    )


def _compute_dtype(hidden: torch.Tensor) -> torch.dtype:
    """The dtype the head's matmul runs in: autocast's when it is on (it casts `F.linear`), else the hidden states'."""
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return hidden.dtype


def _padded(weight: torch.Tensor, bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The head's weight (and bias) with zero rows appended up to a multiple of `VOCAB_PAD_MULTIPLE` (differentiable:
    the gradient of the real rows flows back through the padding)."""
    multiple = VOCAB_PAD_MULTIPLE
    extra = 0 if not multiple else -weight.shape[0] % multiple
    if extra == 0:
        return weight, bias
    return F.pad(weight, (0, 0, 0, extra)), None if bias is None else F.pad(bias, (0, extra))


def _chunk_loss(head: LMHeadWeights, hidden, weight, bias, targets, vocab: int) -> torch.Tensor:
    """Summed cross-entropy of one chunk, as the backbone's head then `F.cross_entropy(logits.float())` computes it;
    `weight` may carry padding rows beyond `vocab`, whose logits are dropped before the head's post-processing."""
    logits = F.linear(hidden, weight, bias)
    if logits.shape[-1] != vocab:
        logits = logits[..., :vocab]
    logits = head.post(logits).float()
    return F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")


def _logits_loss_and_grad(
    logits: torch.Tensor,
    targets: torch.Tensor,
    vocab: int,
    scale: float | None,
    divisor: float | None,
    softcap: float | None,
    want_grad: bool,
    upstream: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """
    The summed cross-entropy of one chunk's (possibly padded) logits and, if `want_grad`, its gradient with respect to
    them, written out rather than taken by autograd: what `_chunk_loss` and its backward compute, the float32 math of
    `F.cross_entropy(post(logits).float(), ignore_index=-100)` with the head's post-processing differentiated by hand,
    the gradient cast back to the logits' dtype (as the upcast's backward does) with zeros in the padded columns.

    Why by hand: it is one function of the logits alone, so on a GPU it is compiled (`_fused_logits_loss_and_grad`)
    into a few kernels that read the bf16 logits and write their bf16 gradient. Through autograd the same math is an
    upcast copy, a float32 softmax forward and backward and several elementwise passes over float32 logits: about a
    quarter of a GPT-2-small RMT training step's GPU time on an H200 (`bench/bench_training_lm.py --profile`, session 9).
    """
    x = logits[:, :vocab].float()
    if scale is not None:
        x = x * scale
    if divisor is not None:
        x = x / divisor
    capped = None
    if softcap is not None:
        capped = torch.tanh(x / softcap)
        x = capped * softcap
    valid = targets != -100
    safe = torch.where(valid, targets, 0)
    lse = torch.logsumexp(x, dim=-1)
    picked = x.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    loss = torch.where(valid, lse - picked, 0.0).sum()
    if not want_grad:
        return loss, None
    onehot = torch.arange(x.shape[-1], device=x.device) == safe.unsqueeze(-1)
    grad = (torch.exp(x - lse.unsqueeze(-1)) - onehot.float()) * valid.unsqueeze(-1)
    if upstream is not None:
        grad = grad * upstream
    # The chain rule back through the post-processing, in the reverse order of `LMHeadWeights.post`.
    if capped is not None:
        grad = grad * (1 - capped * capped)
    if divisor is not None:
        grad = grad / divisor
    if scale is not None:
        grad = grad * scale
    grad = grad.to(logits.dtype)
    if logits.shape[-1] != vocab:
        grad = F.pad(grad, (0, logits.shape[-1] - vocab))
    return loss, grad


# Whether a CUDA chunk's loss and logit gradient run compiled (one function of the logits, `torch.compile`d once per
# process); False, or a failed compilation, keeps the eager function (the same math, more kernels and memory traffic).
COMPILE_LOGITS_KERNEL: bool = True
_compiled_logits_fn = None


def _compiles(logits: torch.Tensor) -> bool:
    """Whether this chunk's logits kernel runs compiled: on CUDA, unless turned off or already inside a compilation."""
    return COMPILE_LOGITS_KERNEL and logits.is_cuda and not torch.compiler.is_compiling()


def _fused_logits_loss_and_grad(logits: torch.Tensor, *args) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`_logits_loss_and_grad`, compiled on CUDA (inductor fuses the upcast, log-sum-exp, gradient and downcast into a
    few kernels over the chunk's logits); eager elsewhere, inside another compilation, or when compilation fails."""
    global COMPILE_LOGITS_KERNEL, _compiled_logits_fn
    if not _compiles(logits):
        return _logits_loss_and_grad(logits, *args)
    if _compiled_logits_fn is None:
        logger.info(
            "Compiling the chunked LM loss's logits kernel (torch.compile, once per process and head; the first "
            "training steps take the compilation)."
        )
        _compiled_logits_fn = torch.compile(_logits_loss_and_grad, fullgraph=True)
    # One compiled variant per head post-processing, with and without gradient and upstream scale: more than dynamo's
    # default of 8 entries in a process that trains and evaluates several models. The chunk's row count varies (the
    # last chunk of a segment is shorter): marked dynamic up front rather than compiled once per count.
    torch._dynamo.maybe_mark_dynamic(logits, 0)
    torch._dynamo.maybe_mark_dynamic(args[0], 0)
    limit = max(torch._dynamo.config.recompile_limit, 64)
    try:
        with torch._dynamo.config.patch(recompile_limit=limit):
            return _compiled_logits_fn(logits, *args)
    except (torch._dynamo.exc.TorchDynamoException, torch._dynamo.exc.FailOnRecompileLimitHit) as error:
        logger.warning(
            "Compiling the chunked LM loss's logits kernel failed (%s); it runs eagerly from now on (same result, "
            "slower). Set hf_rmt.core.lm_loss.COMPILE_LOGITS_KERNEL = False to skip the attempt.",
            str(error).splitlines()[0][:200],
        )
        COMPILE_LOGITS_KERNEL = False
        return _logits_loss_and_grad(logits, *args)


def _chunked_loss_and_grads(
    head: LMHeadWeights,
    hidden,
    weight,
    bias,
    targets,
    chunk_size: int,
    dtype,
    needs: tuple[bool, bool, bool],
    scale: torch.Tensor | None = None,
):
    """The summed loss of every chunk and its gradients with respect to `hidden`, `weight` and `bias` (those `needs`
    asks for; the others None), each chunk's logits computed, differentiated and dropped in turn. The head's weight and
    bias are padded for the matmuls (`_padded`); their gradients are summed over chunks in float32 at the padded size
    and cut back to the vocabulary. `scale` is the upstream gradient (None: 1)."""
    vocab = weight.shape[0]
    with torch.no_grad(), torch.autocast(hidden.device.type, enabled=False):
        w, b = _padded(weight.detach().to(dtype), None if bias is None else bias.detach().to(dtype))
        grad_hidden = torch.zeros_like(hidden) if needs[0] else None
        grad_weight = torch.zeros_like(w, dtype=torch.float32) if needs[1] else None
        grad_bias = torch.zeros_like(b, dtype=torch.float32) if b is not None and needs[2] else None
        want_grad = any(needs[: 3 if b is not None else 2])
        post = (head.scale, head.divisor, head.softcap)
        total = hidden.new_zeros((), dtype=torch.float32)
        for start in range(0, hidden.shape[0], chunk_size):
            chunk = slice(start, start + chunk_size)
            h = hidden[chunk].detach().to(dtype)
            logits = F.linear(h, w, b)
            loss, grad = _fused_logits_loss_and_grad(logits, targets[chunk], vocab, *post, want_grad, scale)
            total = total + loss
            if grad is None:
                continue
            if grad_hidden is not None:
                grad_hidden[chunk] = grad @ w
            if grad_weight is not None:
                grad_weight += grad.t() @ h
            if grad_bias is not None:
                grad_bias += grad.sum(0, dtype=torch.float32)
    grad_weight = None if grad_weight is None else grad_weight[:vocab].to(weight.dtype)
    grad_bias = None if grad_bias is None else grad_bias[:vocab].to(bias.dtype)
    return total, grad_hidden, grad_weight, grad_bias


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    """The summed loss chunk by chunk, keeping no logits; when gradients are wanted (training), forward computes them
    too, chunk by chunk, and keeps them for backward, which only scales them by the upstream gradient (as Liger-Kernel's
    fused linear cross-entropy does).

    Why in forward: the alternative, keeping the hidden states and recomputing each chunk's logits in backward, runs
    the head's matmul and the float32 softmax once more per token, and under segment checkpointing the forward already
    runs twice (once without gradients, once in the recomputation). The cost is holding the head's gradient (the
    weight's size, in its dtype) from a segment's forward to its backward. Without gradients (evaluation, the first
    forward of segment checkpointing) autograd records nothing and nothing is kept."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, head, chunk_size, dtype, needs, in_forward):
        ctx.in_forward = in_forward
        if in_forward:
            total, *ctx.grads = _chunked_loss_and_grads(head, hidden, weight, bias, targets, chunk_size, dtype, needs)
            return total
        ctx.head, ctx.chunk_size, ctx.dtype, ctx.needs = head, chunk_size, dtype, needs
        ctx.save_for_backward(hidden, weight, bias, targets)
        return _chunked_loss_and_grads(head, hidden, weight, bias, targets, chunk_size, dtype, (False,) * 3)[0]

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.in_forward:  # GRADIENTS_IN_FORWARD off: recompute each chunk
            hidden, weight, bias, targets = ctx.saved_tensors
            args = (ctx.head, hidden, weight, bias, targets, ctx.chunk_size, ctx.dtype, ctx.needs, grad_output)
            return *_chunked_loss_and_grads(*args)[1:], None, None, None, None, None, None
        if ctx.grads is None:
            raise RuntimeError(
                "The chunked LM loss (RMTConfig.loss_chunk_size) was backpropagated twice: its gradients are computed "
                "in forward and released by the first backward. Run the forward again for a second backward, or set "
                "`loss_chunk_size=None`."
            )
        grads = [None if g is None else g * grad_output.to(g.dtype) for g in ctx.grads]
        ctx.grads = None  # a training step's loss may outlive its backward: the stored gradients need not
        return *grads, None, None, None, None, None, None


def _liger_loss(hidden: torch.Tensor, head: LMHeadWeights, targets: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Liger-Kernel's fused linear cross-entropy (soft-capping supported; logit scaling is not)."""
    try:
        from liger_kernel.transformers.functional import liger_fused_linear_cross_entropy  # noqa: PLC0415
    except ImportError as error:
        raise ImportError("`implementation='liger'` needs Liger-Kernel: `pip install liger-kernel`.") from error
    if head.scale is not None or head.divisor is not None:
        raise ValueError(
            f"`implementation='liger'` supports soft-capping but not logit scaling, got scale={head.scale!r}, "
            f"divisor={head.divisor!r}."
        )
    weight, bias = head.weight.to(dtype), None if head.bias is None else head.bias.to(dtype)
    with torch.autocast(hidden.device.type, enabled=False):
        loss = liger_fused_linear_cross_entropy(
            hidden.to(dtype), weight, targets, bias, reduction="sum", softcap=head.softcap
        )
    return loss.float()


def chunked_lm_loss(
    hidden: torch.Tensor,
    head: LMHeadWeights,
    targets: torch.Tensor,
    chunk_size: int,
    implementation: str = "function",
) -> torch.Tensor:
    """
    The summed next-token cross-entropy of `head` on `hidden`, `chunk_size` rows at a time.

    Args:
        hidden (`torch.Tensor`): `(..., hidden)` last hidden states (what the backbone's head reads).
        head (`LMHeadWeights`): The linear head (`lm_head_weights`).
        targets (`torch.Tensor`): `(...)` target ids, -100 where unscored.
        chunk_size (`int`): Rows whose logits exist at once.
        implementation (`str`, *optional*, defaults to `"function"`): `"function"` computes each chunk's
            gradients in forward when they are wanted and keeps them, not the logits, for backward (a custom
            autograd function); `"checkpoint"` runs each chunk through
            `torch.utils.checkpoint` (non-reentrant), kept for comparison in the benchmark; `"liger"` calls
            Liger-Kernel's fused linear cross-entropy (Triton, CUDA only, optional: `pip install liger-kernel`),
            which picks its own chunks and computes the gradients in the forward.

    Returns:
        A float32 scalar: the sum of the scored tokens' losses.
    """
    hidden, targets = hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1)
    dtype = _compute_dtype(hidden)
    if implementation == "checkpoint":
        total = hidden.new_zeros((), dtype=torch.float32)
        vocab = head.weight.shape[0]
        w, b = _padded(head.weight.to(dtype), None if head.bias is None else head.bias.to(dtype))
        for start in range(0, hidden.shape[0], chunk_size):
            chunk = slice(start, start + chunk_size)
            total = total + torch.utils.checkpoint.checkpoint(
                _chunk_loss, head, hidden[chunk].to(dtype), w, b, targets[chunk], vocab, use_reentrant=False
            )
        return total
    if implementation == "liger":
        return _liger_loss(hidden, head, targets, dtype)
    if implementation != "function":
        raise ValueError(f"`implementation` must be 'function', 'checkpoint' or 'liger', got {implementation!r}.")
    inputs = (hidden, head.weight, head.bias)
    needs = tuple(torch.is_grad_enabled() and t is not None and t.requires_grad for t in inputs)
    in_forward = GRADIENTS_IN_FORWARD and any(needs)
    return _ChunkedLinearCrossEntropy.apply(*inputs, targets, head, chunk_size, dtype, needs, in_forward)


__all__ = [
    "COMPILE_LOGITS_KERNEL",
    "GRADIENTS_IN_FORWARD",
    "LINEAR_HEAD_MODEL_TYPES",
    "VOCAB_PAD_MULTIPLE",
    "LMHeadWeights",
    "chunked_lm_loss",
    "lm_head_weights",
]
