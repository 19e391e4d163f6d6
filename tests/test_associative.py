"""ARMT's associative memory (arXiv:2407.04841): its equations, its state as the only channel between calls, and
what sets it apart from RMT. The guarantees shared with RMT (padding, BPTT, checkpointing, saving, generation) are
tested by the RMT tests, parametrized over `memory_type`."""

from __future__ import annotations

import pytest
import torch
from tiny_models import ARCHITECTURES, ARMT_ARCHITECTURES, rmt_config, state_row, tiny_backbone, with_memory_values
from torch import nn

import hf_rmt
from hf_rmt.core.backbone import _check_not_checkpointed, layer_blocks
from hf_rmt.core.memory import AssociativeMemory, dpfp
from hf_rmt.core.memory.associative import AssociativeLayer
from hf_rmt.modeling.heads import SequenceClassificationHead


def armt(arch="bert", task="sequence-classification", **config_kwargs):
    config = rmt_config(arch, memory_type="associative", **config_kwargs)
    return hf_rmt.get_rmt_model(tiny_backbone(arch, task), config).eval()


def probe_layer():
    """A layer whose key and query read dimensions 0-1 and whose value reads dimensions 2-5, with beta ~ 1: tokens
    that agree on dimensions 0-1 share a key, so writing them in turn rewrites one association."""
    layer = AssociativeLayer(hidden_size=6, memory_dim=2)
    with torch.no_grad():
        for linear in (layer.query, layer.key):
            linear.weight.zero_()
            linear.weight[0, 0] = linear.weight[1, 1] = 1.0
        layer.value.weight.zero_()
        layer.value.weight[2:, 2:] = torch.eye(4)
        layer.beta.weight.zero_()
        layer.beta.bias.fill_(30.0)  # sigmoid(30) = 1 - 1e-13
    return layer


def test_delta_rule_rewrites_a_key_and_the_correction_keeps_the_normaliser():
    """Eqs. 2-4: writing a key stores its value; writing the same key again replaces the value (delta rule) and,
    thanks to gamma, adds nothing to z (without gamma, z would count the key twice: ARMT App. F.1)."""
    layer = probe_layer()
    key_dim = 2 * 3 * 2
    matrix, normaliser = torch.zeros(1, key_dim, 6), torch.zeros(1, key_dim)
    first = torch.tensor([[[1.0, -0.5, 3.0, 0.0, 0.0, 0.0]]])
    second = torch.tensor([[[1.0, -0.5, 0.0, 0.0, 7.0, 0.0]]])  # same key, another value
    other = torch.tensor([[[-0.2, 1.0, 0.0, 2.0, 0.0, 0.0]]])  # another key
    query = torch.tensor([[[1.0, -0.5, 0.0, 0.0, 0.0, 0.0]]])
    with torch.no_grad():
        matrix, normaliser = layer.write(first, matrix, normaliser)
        key = dpfp(layer.key(first))[0, 0]
        torch.testing.assert_close(normaliser[0], key)  # gamma = 1 on an empty memory
        stored = torch.tensor([[[0.0, 0.0, 3.0, 0.0, 0.0, 0.0]]])  # W_V first
        torch.testing.assert_close(layer.read(query, matrix, normaliser), query + stored)
        matrix, normaliser = layer.write(other, matrix, normaliser)
        z_before = normaliser.clone()
        matrix, normaliser = layer.write(second, matrix, normaliser)
        read = layer.read(query, matrix, normaliser)
    torch.testing.assert_close(normaliser, z_before, atol=1e-5, rtol=0)  # gamma ~ 0: the key was already in z
    # The value read back for the key is the rewritten one (7 at dimension 4), the first (3 at dimension 2) is gone.
    torch.testing.assert_close(read[0, 0, 2:], torch.tensor([0.0, 0.0, 7.0, 0.0]), atol=2e-3, rtol=0)
    assert torch.all(read[0, 0, :2] == query[0, 0, :2])


@pytest.mark.parametrize("autocast", [False, True], ids=["float32", "autocast-bf16"])
def test_read_is_eq4_at_every_position_and_keeps_the_residual_dtype(autocast):
    """The read divides the query before the GEMM (`A (q / d)`, the GEMM adding the hidden states): it must equal
    eq. 4 as written, `h + A phi(q) / (z . phi(q) + eps)`, and under autocast a float32 residual stream stays
    float32 (only the read itself runs in bf16)."""
    torch.manual_seed(0)
    layer = AssociativeLayer(8, 4)
    nn.init.normal_(layer.value.weight, std=0.5)
    hidden = torch.randn(2, 5, 8)
    matrix, normaliser = torch.zeros(2, 24, 8), torch.zeros(2, 24)
    with torch.no_grad():
        for _ in range(3):
            matrix, normaliser = layer.write(torch.randn(2, 3, 8), matrix, normaliser)
        query = dpfp(layer.query(hidden)).double()
        want = hidden.double() + (query @ matrix.double()) / (query @ normaliser.double()[..., None] + 1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            read = layer.read(hidden, matrix, normaliser)
    assert read.dtype == torch.float32
    assert (read - hidden).abs().max() > 0.1  # the memory holds something to read
    tolerance = 3e-2 if autocast else 1e-5
    torch.testing.assert_close(read.double(), want, atol=tolerance, rtol=tolerance)


def test_dpfp_is_the_dpfp3_projection_normalised():
    x = torch.randn(3, 5)
    positive = torch.cat([x.relu(), (-x).relu()], dim=-1)  # (3, 10)
    products = [positive * positive.roll(j, dims=-1) for j in (1, 2, 3)]
    want = torch.nn.functional.normalize(torch.cat(products, dim=-1), dim=-1)
    torch.testing.assert_close(dpfp(x), want)
    assert dpfp(x).shape == (3, 30)


def test_parameter_count_matches_the_paper_for_gpt2_size():
    """2 * 768 * 64 + 768^2 + 769 = 688,897 extra parameters a layer, ~8.3M for 12 layers (ARMT 145M vs RMT 137M)."""
    memory = AssociativeMemory(10, 768, 12, memory_dim=64, device="meta")
    per_layer = sum(p.numel() for p in memory.layers[0].parameters())
    assert per_layer == 688_897
    assert sum(p.numel() for p in memory.parameters()) == 12 * 688_897 + 10 * 768
    assert memory.state_shapes(2)[:2] == [(2, 384, 768), (2, 384)]


@pytest.mark.parametrize("arch, task", [("bert", "sequence-classification"), ("llama", "causal-lm")])
def test_zero_values_leave_every_segment_as_the_backbone_computes_it_alone(arch, task):
    """The value projection starts at zero (as in the official code): an untrained ARMT stores nothing, so each
    segment gives what it gives alone with the learned tokens, whatever came before."""
    model = armt(arch, task)
    ids = torch.randint(5, 99, (2, 32))
    with torch.no_grad():
        full = model(ids)
        last = model(ids[:, 24:])
    out = full.logits if task == "sequence-classification" else full.logits[:, 24:]
    torch.testing.assert_close(out, last.logits)
    assert all(not matrix.any() for matrix in full.memory_state[0::2])  # A = 0
    assert all(z.sum() > 0 for z in full.memory_state[1::2])  # z counts the keys written


def test_modules_keep_nothing_between_calls():
    """No hook stays on the backbone after a call (or after a failed one), no tensor is kept in a module, and a call
    after another gives what it gives first."""
    model = with_memory_values(armt())
    blocks = layer_blocks(model.backbone)
    first, second = torch.randint(5, 99, (2, 24)), torch.randint(5, 99, (2, 24))
    with torch.no_grad():
        want = model(second).logits
        model(first)
        torch.testing.assert_close(model(second).logits, want, rtol=0, atol=0)
        assert all(not block._forward_pre_hooks and not block._forward_hooks for block in blocks)
        with pytest.raises(ValueError, match="`memory_state` must be a tuple of 4 tensors"):
            model(first, memory_state=torch.zeros(2, 4, 32))
        broken = model.memory.initial_state(2)
        broken = (broken[0], broken[1][:, :3], *broken[2:])  # past the input checks: fails in the first read
        plan = model.make_plan(first, None)
        with pytest.raises(RuntimeError):
            model.run_segments(plan, first, broken, SequenceClassificationHead(len(plan) - 1, labels=None))
        assert all(not block._forward_pre_hooks and not block._forward_hooks for block in blocks)
    tensors = {name for name, value in vars(model.memory).items() if isinstance(value, torch.Tensor)}
    assert not tensors and set(model.memory.state_dict()) == {n for n, _ in model.memory.named_parameters()}


def test_memory_state_errors_name_the_shapes():
    model = armt()
    ids = torch.randint(5, 99, (2, 10))
    state = model.memory.initial_state(2)
    with pytest.raises(ValueError, match=r"must be a tuple of 4 tensors .*got Tensor"):
        model(ids, memory_state=torch.zeros(2, 4, 32))
    with pytest.raises(
        ValueError, match=r"must hold 4 tensors of shapes \[\(2, 48, 32\), \(2, 48\)\] for each layer, got 3 tensors"
    ):
        model(ids, memory_state=state[:3])
    with pytest.raises(ValueError, match=r"got 4 tensors of shapes \[\(1, 48, 32\), \(1, 48\)\], \.\.\."):
        model(ids, memory_state=model.memory.initial_state(1))


def test_state_stays_float32_under_a_bf16_backbone():
    backbone = tiny_backbone("llama", "causal-lm").to(torch.bfloat16)
    model = with_memory_values(hf_rmt.get_rmt_model(backbone, rmt_config("llama", memory_type="associative")))
    assert model.memory.weight.dtype == torch.bfloat16 and model.memory.layers[0].value.weight.dtype == torch.bfloat16
    with torch.no_grad():
        out = model(torch.randint(5, 99, (1, 20)))
    assert out.logits.dtype == torch.bfloat16
    assert all(t.dtype == torch.float32 for t in out.memory_state) and out.memory_state[0].abs().sum() > 0


def test_backbone_gradient_checkpointing_gives_the_same_gradients_or_is_refused():
    """transformers 5.24 checkpoints a layer's `forward` only: the read, applied by a hook before the layer, stays
    outside, and the gradients are those of the plain run. Versions that checkpoint the whole layer call (5.17)
    would recompute it without the read: refused, with the way out."""
    grads = []
    for checkpointing in (False, True):
        model = with_memory_values(armt("llama", "causal-lm")).train()
        model.set_trainable(train_backbone=True)
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        ids = torch.randint(5, 99, (2, 24), generator=torch.Generator().manual_seed(0))
        block = layer_blocks(model.backbone)[0]
        if checkpointing and type(block).__call__ is not nn.Module.__call__:
            with pytest.raises(ValueError, match=r"RMTConfig\(segment_checkpointing=True\)"):
                model(ids, labels=ids)
            return
        model(ids, labels=ids).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, msg=name)


def test_layer_checkpointing_that_would_drop_the_read_is_refused():
    """Older transformers (5.17) checkpoint a layer's whole `__call__`, hooks included, and recompute it after the
    hooks are gone; such a layer is refused with the way out."""

    class WholeCallCheckpointed(nn.Linear):
        gradient_checkpointing = True

        def __call__(self, *args, **kwargs):
            return super().__call__(*args, **kwargs)

    layer = WholeCallCheckpointed(2, 2).train()
    with pytest.raises(ValueError, match=r"gradient checkpointing.*RMTConfig\(segment_checkpointing=True\)"):
        _check_not_checkpointed(layer)
    layer.gradient_checkpointing = False
    _check_not_checkpointed(layer)  # off: fine
    with torch.no_grad():
        layer.gradient_checkpointing = True
        _check_not_checkpointed(layer)  # no backward to recompute for: fine


def test_config_records_the_memory_type_and_reloads_it(tmp_path):
    model = with_memory_values(armt())
    assert model.config.memory_type == "associative" and model.config.memory_dim == 8
    model.save_pretrained(tmp_path / "full", adapter_only=False)
    loaded = hf_rmt.RMTForSequenceClassification.from_pretrained(tmp_path / "full")
    assert isinstance(loaded.memory, AssociativeMemory) and loaded.memory.memory_dim == 8
    default = hf_rmt.get_rmt_model(
        tiny_backbone("bert"), rmt_config("bert", memory_type="associative", memory_dim=None)
    )
    assert default.config.memory_dim == 64  # the official BABILong size
    assert hf_rmt.get_rmt_model(tiny_backbone("bert"), rmt_config("bert")).config.memory_dim is None


def test_a_block_that_did_not_run_is_named():
    model = armt()
    state = model.memory.initial_state(1)
    with pytest.raises(RuntimeError, match=r"layers \[0\] wrote nothing: every block of the backbone must run"):
        model.memory.write(state, [None, (state[2], state[3])])


# Backbones whose hidden states are wider than their embeddings (ALBERT) take RMT memory only: refused below.
NARROW_EMBEDDINGS = ("albert",)


@pytest.mark.parametrize("arch", NARROW_EMBEDDINGS)
def test_associative_memory_is_refused_for_narrow_embeddings(arch):
    with pytest.raises(ValueError, match=r"memory_type='associative' needs hidden states as wide as the embeddings"):
        armt(arch)


@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a not in ARMT_ARCHITECTURES + NARROW_EMBEDDINGS])
def test_every_other_tested_architecture_reads_and_writes_in_each_layer(arch):
    """The layer hooks find the blocks of every architecture hf_rmt tests (the full guarantees are tested on BERT,
    GPT-2 and Llama): each layer's memory is written, and a padded batch gives what each sample gives alone."""
    model = with_memory_values(armt(arch))
    ids = torch.randint(5, 99, (2, 20))
    mask = torch.ones_like(ids)
    mask[1, :9] = 0
    with torch.no_grad():
        batched = model(ids, attention_mask=mask)
        alone = model(ids[1:, 9:])
    assert len(batched.memory_state) == 2 * len(layer_blocks(model.backbone)) == 4
    assert all(matrix.abs().sum() > 0 for matrix in batched.memory_state[0::2])
    torch.testing.assert_close(batched.logits[1], alone.logits[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        state_row(batched.memory_state, 1), state_row(alone.memory_state, 0), rtol=1e-4, atol=1e-5
    )
