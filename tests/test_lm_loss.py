"""The chunked linear + cross-entropy (hf_rmt/core/lm_loss.py) and the causal LM's training path that uses it: the loss
and every gradient equal those of the backbone's own head followed by `F.cross_entropy` on the float32 logits."""

import contextlib

import pytest
import torch
import torch.nn.functional as F
from tiny_models import rmt_config, tiny_backbone
from transformers import AutoConfig, AutoModelForCausalLM

import hf_rmt
from hf_rmt.core import lm_loss
from hf_rmt.core.lm_loss import LMHeadWeights, chunked_lm_loss, lm_head_weights


# Relative 1e-5; the absolute term only covers gradient entries near zero, where float32 matmuls of different shapes
# (a chunk against the whole) round differently.
RTOL, ATOL = 1e-5, 1e-6
# Gemma-2 soft-caps its logits: a small cap makes the tanh matter for the tiny model's small logits.
GEMMA2 = {
    "hidden_size": 32,
    "head_dim": 8,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "final_logit_softcapping": 0.5,
    "vocab_size": 99,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
}


def head_inputs(seed: int, vocab: int):
    """Hidden states (2 x 9 rows of 16) and a head weight that require grad, and targets."""
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(2, 9, 16, generator=generator).requires_grad_()
    weight = torch.randn(vocab, 16, generator=generator).requires_grad_()
    return hidden, weight, torch.randint(0, vocab, (2, 9), generator=generator)


@contextlib.contextmanager
def spy_on_head_matmuls(monkeypatch):
    """Records `(weight rows, grad enabled)` of every `F.linear` that hf_rmt.core.lm_loss runs inside the block."""
    calls, linear = [], F.linear

    def spy(input, weight, bias=None):
        calls.append((weight.shape[0], torch.is_grad_enabled()))
        return linear(input, weight, bias)

    monkeypatch.setattr(lm_loss.F, "linear", spy)
    try:
        yield calls
    finally:
        monkeypatch.setattr(lm_loss.F, "linear", linear)


def reference_loss(hidden, head: LMHeadWeights, targets):
    logits = head.post(F.linear(hidden, head.weight, head.bias)).float()
    return F.cross_entropy(logits.flatten(0, -2), targets.flatten(), reduction="sum")


def assert_equals_reference(loss, hidden, weight, targets):
    """`loss` (backpropagated) and the gradients it left on `hidden` and `weight` equal the materialised head's."""
    h, w = hidden.detach().clone().requires_grad_(), weight.detach().clone().requires_grad_()
    want = reference_loss(h, LMHeadWeights(w), targets)
    want.backward()
    torch.testing.assert_close(loss.detach(), want.detach(), rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(hidden.grad, h.grad, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(weight.grad, w.grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("implementation", ["function", "checkpoint"])
@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
@pytest.mark.parametrize(
    "post", [{}, {"softcap": 0.7}, {"scale": 0.3}, {"divisor": 4.0}], ids=["plain", "softcap", "scale", "divisor"]
)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("vocab", [50, 64], ids=["padded-vocab", "aligned-vocab"])
@pytest.mark.parametrize("in_forward", [True, False], ids=["grads-in-forward", "grads-in-backward"])
def test_chunked_loss_and_gradients_equal_the_materialised_loss(
    monkeypatch, implementation, chunk_size, post, bias, vocab, in_forward
):
    monkeypatch.setattr(lm_loss, "GRADIENTS_IN_FORWARD", in_forward)
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 11, 16, generator=generator, dtype=torch.float64).float()
    weight = torch.randn(vocab, 16, generator=generator)
    bias_t = torch.randn(vocab, generator=generator) if bias else None
    targets = torch.randint(0, vocab, (3, 11), generator=generator)
    targets[1, 2] = vocab - 1  # the last real row, next to the padding
    targets[0, :4] = -100
    targets[2, -1] = -100
    results = []
    for chunked in (False, True):
        h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
        b = bias_t.clone().requires_grad_() if bias else None
        head = LMHeadWeights(w, b, **post)
        if chunked:
            loss = chunked_lm_loss(h, head, targets, chunk_size, implementation)
        else:
            loss = reference_loss(h, head, targets)
        (loss * 0.37).backward()  # a non-unit upstream gradient reaches every chunk
        results.append([loss.detach(), h.grad, w.grad] + ([b.grad] if bias else []))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("implementation", ["function", "checkpoint"])
@pytest.mark.parametrize("multiple", [64, 8, None])
def test_chunked_loss_matmuls_see_the_vocabulary_padded_to_the_multiple(monkeypatch, implementation, multiple):
    """The head's matmuls run on a weight padded to `VOCAB_PAD_MULTIPLE` rows (aligned logits rows, so cuBLAS keeps
    its vectorised kernels), in forward and in backward's recomputation; the loss and gradients are those of the
    unpadded head."""
    monkeypatch.setattr(lm_loss, "VOCAB_PAD_MULTIPLE", multiple)
    hidden, weight, targets = head_inputs(seed=3, vocab=50)
    with spy_on_head_matmuls(monkeypatch) as calls:
        loss = chunked_lm_loss(hidden, LMHeadWeights(weight), targets, 5, implementation)
        loss.backward()
    assert calls and {rows for rows, _ in calls} == {50 if multiple is None else -(-50 // multiple) * multiple}
    assert_equals_reference(loss, hidden, weight, targets)
    assert weight.grad.shape == weight.shape


@pytest.mark.parametrize("in_forward", [True, False], ids=["grads-in-forward", "grads-in-backward"])
def test_chunked_loss_computes_its_gradients_in_forward_and_backward_only_scales_them(monkeypatch, in_forward):
    """Training (gradients wanted): each chunk's logits are computed once, in forward, with their gradients; backward
    runs no head matmul (with `GRADIENTS_IN_FORWARD` off, backward recomputes every chunk instead). Without gradients
    nothing is recorded. A second backward says what to do instead of failing obscurely."""
    monkeypatch.setattr(lm_loss, "GRADIENTS_IN_FORWARD", in_forward)
    hidden, weight, targets = head_inputs(seed=4, vocab=64)
    with spy_on_head_matmuls(monkeypatch) as calls:
        with torch.no_grad():
            loss = chunked_lm_loss(hidden, LMHeadWeights(weight), targets, 5)
        assert len(calls) == 4 and loss.grad_fn is None  # 18 rows in chunks of 5
        loss = chunked_lm_loss(hidden, LMHeadWeights(weight), targets, 5)
        assert len(calls) == 8
        (loss * 2.5).backward(retain_graph=True)
        assert len(calls) == (8 if in_forward else 12)  # in forward: backward recomputed nothing
    h, w = hidden.detach().clone().requires_grad_(), weight.detach().clone().requires_grad_()
    (reference_loss(h, LMHeadWeights(w), targets) * 2.5).backward()
    torch.testing.assert_close(hidden.grad, h.grad, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(weight.grad, w.grad, rtol=RTOL, atol=ATOL)
    if in_forward:
        with pytest.raises(RuntimeError, match="backpropagated twice"):
            loss.backward()


def test_a_failed_compilation_of_the_logits_kernel_falls_back_to_the_eager_function(monkeypatch, caplog):
    """Where the logits kernel would compile (CUDA) and compilation fails, the loss is still right, a warning says
    what happened and how to skip the attempt, and later chunks run eagerly without trying again."""
    attempts = []

    def broken(*args):
        attempts.append(1)
        raise torch._dynamo.exc.TorchDynamoException("no compiler here")

    monkeypatch.setattr(lm_loss, "_compiles", lambda logits: lm_loss.COMPILE_LOGITS_KERNEL)
    monkeypatch.setattr(lm_loss, "_compiled_logits_fn", broken)
    monkeypatch.setattr(lm_loss, "COMPILE_LOGITS_KERNEL", True)
    hidden, weight, targets = head_inputs(seed=5, vocab=50)
    logger = hf_rmt.core.lm_loss.logger
    logger.addHandler(caplog.handler)
    try:
        loss = chunked_lm_loss(hidden, LMHeadWeights(weight), targets, 5)
    finally:
        logger.removeHandler(caplog.handler)
    loss.backward()
    assert attempts == [1] and lm_loss.COMPILE_LOGITS_KERNEL is False
    assert "runs eagerly from now on" in caplog.text and "COMPILE_LOGITS_KERNEL = False" in caplog.text
    assert_equals_reference(loss, hidden, weight, targets)


@pytest.mark.gpu
@pytest.mark.parametrize(
    "post", [{}, {"softcap": 30.0}, {"scale": 0.3}, {"divisor": 4.0}], ids=["plain", "softcap", "scale", "divisor"]
)
def test_compiled_logits_kernel_equals_the_eager_function_on_cuda(monkeypatch, post):
    """The CUDA logits kernel (compiled) gives the eager function's loss and bf16 logit gradient, padded columns zero,
    ignored rows zero, with and without an upstream gradient."""
    generator = torch.Generator().manual_seed(7)
    logits = (torch.randn(300, 50304, generator=generator) * 3).cuda().bfloat16()
    targets = torch.randint(0, 50257, (300,), generator=generator).cuda()
    targets[:17] = -100
    args = (targets, 50257, post.get("scale"), post.get("divisor"), post.get("softcap"), True)
    monkeypatch.setattr(lm_loss, "COMPILE_LOGITS_KERNEL", True)
    for upstream in (None, torch.tensor(0.37, device="cuda")):
        assert lm_loss._compiles(logits)
        got_loss, got_grad = lm_loss._fused_logits_loss_and_grad(logits, *args, upstream)
        want_loss, want_grad = lm_loss._logits_loss_and_grad(logits, *args, upstream)
        assert lm_loss.COMPILE_LOGITS_KERNEL, "the compilation failed and fell back"
        torch.testing.assert_close(got_loss, want_loss, rtol=1e-5, atol=0)
        assert got_grad.dtype == torch.bfloat16 and got_grad.shape == logits.shape
        torch.testing.assert_close(got_grad.float(), want_grad.float(), rtol=1e-2, atol=1e-5)
        assert not got_grad[:, 50257:].any() and not got_grad[:17].any()


def test_chunked_loss_follows_autocast_like_the_head():
    """Under bfloat16 autocast the head's matmul runs in bfloat16 and the loss reads its float32 upcast: so here."""
    generator = torch.Generator().manual_seed(1)
    hidden, weight = torch.randn(20, 16, generator=generator), torch.randn(40, 16, generator=generator)
    targets = torch.randint(0, 40, (20,), generator=generator)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = F.cross_entropy(F.linear(hidden, weight).float(), targets, reduction="sum")
        got = chunked_lm_loss(hidden, LMHeadWeights(weight), targets, 6)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_chunked_loss_names_a_bad_implementation():
    with pytest.raises(ValueError, match="`implementation` must be 'function', 'checkpoint' or 'liger', got 'fused'"):
        chunked_lm_loss(
            torch.zeros(2, 4), LMHeadWeights(torch.zeros(3, 4)), torch.zeros(2, dtype=torch.long), 1, "fused"
        )


@pytest.mark.gpu
@pytest.mark.parametrize("implementation", ["function", "checkpoint", "liger"])
def test_chunked_loss_equals_the_materialised_loss_on_cuda_in_bfloat16(implementation):
    """On the GPU, bf16 weights and a GPT-2-sized vocabulary: the same loss and gradients to bfloat16's precision
    (the matmuls of a chunk and of the whole round differently). Liger-Kernel is optional."""
    if implementation == "liger":
        pytest.importorskip("liger_kernel")
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(2048, 256, generator=generator).cuda().bfloat16()
    weight = (torch.randn(50257, 256, generator=generator) * 0.05).cuda().bfloat16()
    targets = torch.randint(0, 50257, (2048,), generator=generator).cuda()
    targets[:100] = -100
    results = []
    for chunked in (False, True):
        h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
        head = LMHeadWeights(w, softcap=30.0)
        loss = chunked_lm_loss(h, head, targets, 300, implementation) if chunked else reference_loss(h, head, targets)
        loss.backward()
        results.append((loss.detach(), h.grad, w.grad))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-4, atol=0)
    for got, want in zip(results[1][1:], results[0][1:]):
        # Relative error of the whole gradient: bfloat16 rounds entry by entry (3 significant digits).
        assert ((got.float() - want.float()).norm() / want.float().norm()).item() < 1e-2


def causal_lm(arch, overrides=None, **config_kwargs):
    if overrides is None:
        backbone = tiny_backbone(arch, "causal-lm")
    else:  # an architecture outside tiny_models' list, from its own sizes
        torch.manual_seed(0)
        backbone = AutoModelForCausalLM.from_config(AutoConfig.for_model(arch, **overrides))
    model = hf_rmt.get_rmt_model(backbone, rmt_config(arch, **config_kwargs), train_backbone=True)
    return model.train()


def padded_lm_batch():
    """Three samples (29, 20 and 22 tokens: full, right- and left-padded) with unscored tokens in their labels."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 99, (3, 29), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    mask[2, :7] = 0
    labels = ids.masked_fill(mask == 0, -100)
    labels[0, 3:9] = -100
    return ids, mask, labels


def loss_and_grads(model, **batch):
    output = model(**batch)
    output.loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return output, grads


CASES = [("gpt2", None), ("llama", None), ("qwen2", None), ("opt", None), ("gemma2", GEMMA2)]


@pytest.mark.parametrize("arch, overrides", CASES, ids=[arch for arch, _ in CASES])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"segment_checkpointing": True},
        {"bptt_depth": 1},
        {"segment_checkpointing": True, "bptt_depth": 2},
    ],
    ids=["plain", "checkpointing", "bptt1", "checkpointing-bptt2"],
)
def test_training_without_logits_gives_the_loss_and_gradients_of_the_materialised_head(arch, overrides, options):
    ids, mask, labels = padded_lm_batch()
    reference = causal_lm(arch, overrides, loss_chunk_size=None, **options)
    fast = causal_lm(arch, overrides, loss_chunk_size=5, skip_logits_in_training=True, **options)
    assert lm_head_weights(fast.backbone) is not None
    calls = []
    fast.backbone.get_output_embeddings().register_forward_hook(lambda *args: calls.append(1))
    for items in (None, 57):
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels, "num_items_in_batch": items}
        want, want_grads = loss_and_grads(reference, **batch)
        got, got_grads = loss_and_grads(fast, **batch)
        reference.zero_grad(), fast.zero_grad()
        assert got.logits is None and want.logits is not None
        assert calls == []  # the backbone's head never ran: no segment's logits were materialised
        torch.testing.assert_close(got.loss, want.loss, rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(got.memory_state, want.memory_state, rtol=RTOL, atol=ATOL)
        assert got_grads.keys() == want_grads.keys() and len(got_grads) > 5
        for name in want_grads:
            torch.testing.assert_close(got_grads[name], want_grads[name], rtol=RTOL, atol=ATOL, msg=name)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_logits_to_keep_and_evaluation_still_return_logits(arch):
    ids, mask, labels = padded_lm_batch()
    reference = causal_lm(arch, loss_chunk_size=None)
    fast = causal_lm(arch, loss_chunk_size=3, skip_logits_in_training=True)
    want = reference(ids, attention_mask=mask, labels=labels)
    # Training with `logits_to_keep`: the last tokens' logits, the same loss.
    kept = fast(ids, attention_mask=mask, labels=labels, logits_to_keep=2)
    torch.testing.assert_close(kept.loss, want.loss, rtol=RTOL, atol=ATOL)
    for i in range(3):
        torch.testing.assert_close(kept.logits[i], want.logits[i][mask[i].bool()][-2:], rtol=RTOL, atol=ATOL)
    # Evaluation returns every logit, as transformers models do.
    with torch.no_grad():
        evaluated = fast.eval()(ids, attention_mask=mask, labels=labels)
    torch.testing.assert_close(evaluated.logits, want.logits, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(evaluated.loss, want.loss, rtol=RTOL, atol=ATOL)
    # Without the option, training returns every logit too, the loss unchanged.
    plain = causal_lm(arch, loss_chunk_size=3)(ids, attention_mask=mask, labels=labels)
    torch.testing.assert_close(plain.logits, want.logits, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(plain.loss, want.loss, rtol=RTOL, atol=ATOL)


class ScaledHead(torch.nn.Linear):
    """A head that is not a plain `nn.Linear` (its forward could do anything): it must keep its own path."""

    def forward(self, hidden):
        return super().forward(hidden) * 2.0


def test_a_head_that_is_not_a_plain_linear_keeps_the_backbones_path():
    ids, mask, labels = padded_lm_batch()
    model = causal_lm("gpt2", loss_chunk_size=4, skip_logits_in_training=True)
    old = model.backbone.lm_head
    head = ScaledHead(old.in_features, old.out_features, bias=False)
    head.weight = old.weight
    model.backbone.lm_head = head
    assert lm_head_weights(model.backbone) is None
    got = model(ids, attention_mask=mask, labels=labels, logits_to_keep=1)
    with torch.no_grad():
        full = model.eval()(ids, attention_mask=mask).logits
    flat = full[:, :-1][mask[:, 1:].bool() & mask[:, :-1].bool()]
    targets = labels[:, 1:][mask[:, 1:].bool() & mask[:, :-1].bool()]
    torch.testing.assert_close(got.loss, F.cross_entropy(flat, targets), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("loss_chunk_size", 0, "`loss_chunk_size` must be an integer >= 1 or None (None: no chunking), got 0"),
        ("skip_logits_in_training", 1, "`skip_logits_in_training` must be a bool, got 1"),
    ],
)
def test_config_names_bad_loss_options(field, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        hf_rmt.RMTConfig(**{field: value})
