"""The memory-only step's last layer at the memory rows only (hf_rmt/core/memory_rows.py): the same next memory as
the whole layer, for every layer it prunes, and layers it does not know keep their own forward."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from tiny_models import ENCODERS, rmt_config, tiny_backbone, with_memory_values

import hf_rmt
from hf_rmt.backbone import layer_blocks
from hf_rmt.core.layouts import LAYOUTS
from hf_rmt.core.memory_rows import read_rows


PRUNED = {"bert", "roberta", "electra"}


def rows_seen_by_last_feed_forward(model, memory, ids):
    """The next memory from `memory_only_step`, and how many rows the last block's feed-forward computed."""
    seen = []
    last = layer_blocks(model.backbone)[-1]
    module = getattr(last, "intermediate", None) or last
    handle = module.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    try:
        with torch.no_grad():
            out = model.memory_only_step(memory, ids)
    finally:
        handle.remove()
    return out, seen


def full_step(model, memory, ids):
    with torch.no_grad():
        return hf_rmt.RMTModel.forward(model, ids, memory_state=memory).memory_state


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("arch", ENCODERS)
def test_memory_only_step_prunes_known_last_layers_to_the_memory_rows(arch, attn):
    """BERT-style layers compute the last layer at the 4 memory rows only and give the whole layer's next memory;
    other encoders run their last layer whole, as before."""
    backbone = tiny_backbone(arch, "sequence-classification")
    backbone.config._attn_implementation = attn
    model = hf_rmt.get_rmt_model(backbone, rmt_config(arch)).eval()
    torch.manual_seed(1)
    ids, memory = torch.randint(5, 99, (3, 8)), torch.randn(3, 4, model.memory.weight.shape[1])
    got, seen = rows_seen_by_last_feed_forward(model, memory, ids)
    if arch in PRUNED:
        assert seen == [4]
    else:  # the whole row, at every call (ALBERT's shared layer runs once per layer)
        assert seen and all(rows > 4 for rows in seen)
    torch.testing.assert_close(got, full_step(model, memory, ids), rtol=1e-5, atol=1e-6)


def test_pruned_last_layer_follows_lora():
    """LoRA on every linear layer (peft) reaches the pruned layer."""
    backbone = tiny_backbone("bert", "sequence-classification")
    model = hf_rmt.get_rmt_model(backbone, rmt_config("bert"))
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    inner = peft_model.get_base_model().eval()
    torch.manual_seed(2)
    ids, memory = torch.randint(5, 99, (2, 8)), torch.randn(2, 4, 32)
    got, seen = rows_seen_by_last_feed_forward(inner, memory, ids)
    assert seen == [4]
    want = full_step(inner, memory, ids)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    # LoRA changes the result (init_lora_weights=False draws B at random): the pruned layer ran the adapted modules.
    with peft_model.disable_adapter():
        plain = full_step(inner, memory, ids)
    assert not torch.allclose(plain, want)


def train_grads(model, ids, labels):
    seen = []
    last = layer_blocks(model.backbone)[-1]
    handle = last.intermediate.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    try:
        model.zero_grad()
        loss = model(ids, labels=labels).loss
        loss.backward()
    finally:
        handle.remove()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads, seen


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "segment-checkpointing"])
@pytest.mark.parametrize("arch", sorted(PRUNED))
def test_training_prunes_memory_only_segments_with_the_whole_layers_gradients(monkeypatch, arch, checkpointing):
    """A classifier's segments before the last keep nothing but memory: in training their last layer runs at the
    memory rows only (in the recomputation too), and the loss and every gradient equal the whole layer's."""
    config = rmt_config(arch, segment_checkpointing=checkpointing)
    model = hf_rmt.get_rmt_model(tiny_backbone(arch, "sequence-classification"), config, train_backbone=True).train()
    generator = torch.Generator().manual_seed(4)
    ids, labels = torch.randint(5, 99, (3, 32), generator=generator), torch.tensor([0, 2, 1])
    loss, grads, seen = train_grads(model, ids, labels)
    assert 4 in seen and any(rows > 4 for rows in seen)  # the last segment keeps its outputs: whole
    monkeypatch.setattr(hf_rmt.core.recurrence, "can_prune", lambda *args: False)
    want_loss, want, _ = train_grads(model, ids, labels)
    torch.testing.assert_close(loss, want_loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == want.keys() and len(grads) > 10
    for name in want:
        torch.testing.assert_close(grads[name], want[name], rtol=1e-4, atol=1e-6, msg=name)


def test_dropout_turns_pruning_off_in_training():
    """With dropout, pruning would change which masks a seeded run draws: a training step runs the layer whole."""
    backbone = tiny_backbone("bert", "sequence-classification", hidden_dropout_prob=0.1)
    model = hf_rmt.get_rmt_model(backbone, rmt_config("bert")).train()
    _, grads, seen = train_grads(model, torch.randint(5, 99, (2, 24)), torch.tensor([0, 1]))
    assert grads and seen and all(rows > 4 for rows in seen)


def test_the_backbones_own_gradient_checkpointing_turns_pruning_off_in_training():
    """transformers' gradient checkpointing recomputes a layer with its own forward in backward: a layer set up for it
    is never pruned in training (in evaluation it still is)."""
    model = hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), rmt_config("bert"))
    model.backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    _, grads, seen = train_grads(model, torch.randint(5, 99, (2, 24)), torch.tensor([0, 1]))
    assert grads and seen and all(rows > 4 for rows in seen)
    model.eval()
    _, seen = rows_seen_by_last_feed_forward(model, torch.randn(2, 4, 32), torch.randint(5, 99, (2, 8)))
    assert seen == [4]


@pytest.mark.parametrize("arch", sorted(PRUNED))
def test_associative_memory_prunes_and_keeps_every_layers_read_and_write(monkeypatch, arch):
    """ARMT reads and writes in hooks on the blocks, around the block's forward: the pruned forward runs between
    them (the read changes its input, the write reads its memory rows), so the state and logits equal the whole
    layer's, in memory-only steps and through the eager loop with padding."""
    model = hf_rmt.get_rmt_model(
        tiny_backbone(arch, "sequence-classification"), rmt_config(arch, memory_type="associative")
    )
    model = with_memory_values(model).eval()
    ids = torch.randint(5, 99, (3, 40))
    mask = torch.ones_like(ids)
    mask[1, 30:] = 0
    with torch.no_grad():
        state = model(torch.randint(5, 99, (3, 16))).memory_state
    step, seen = rows_seen_by_last_feed_forward(model, state, ids[:, :8])
    assert seen == [4]
    with torch.no_grad():
        pruned = model(ids, attention_mask=mask, memory_state=state)
        monkeypatch.setattr(hf_rmt.core.recurrence, "can_prune", lambda *args: False)
        whole = model(ids, attention_mask=mask, memory_state=state)
        whole_step = model.memory_only_step(state, ids[:, :8])
    torch.testing.assert_close(step, whole_step, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pruned.memory_state, whole.memory_state, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pruned.logits, whole.logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_read_rows_is_the_slice_each_layout_reads_memory_from(name):
    layout = LAYOUTS[name](3)
    length = layout.row_length(8)
    rows = read_rows(layout.read_memory, length)
    row = torch.randn(2, length, 5)
    assert rows is not None and rows.stop - rows.start == 3
    torch.testing.assert_close(row[:, rows], layout.read_memory(row))


def test_read_rows_refuses_positions_that_are_not_one_range():
    assert read_rows(lambda hidden: hidden[:, [1, 3]], 6) is None
    assert read_rows(lambda hidden: hidden[:, 2:4], 6) == slice(2, 4)


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
@pytest.mark.parametrize("arch", sorted(PRUNED))
def test_inference_with_padding_gives_the_whole_layers_results(monkeypatch, arch, attn):
    """The eager loop's memory-only steps (every segment before the last) prune too, padded samples included (their
    mask's query rows are sliced with the rows): logits and memory equal those with every layer run whole."""
    backbone = tiny_backbone(arch, "sequence-classification")
    backbone.config._attn_implementation = attn
    model = hf_rmt.get_rmt_model(backbone, rmt_config(arch)).eval()
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 99, (3, 29), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    mask[2, :7] = 0
    seen = []
    last = layer_blocks(model.backbone)[-1]
    handle = last.intermediate.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[1]))
    with torch.no_grad():
        pruned = model(ids, attention_mask=mask)
        monkeypatch.setattr(hf_rmt.core.recurrence, "can_prune", lambda *args: False)
        whole = model(ids, attention_mask=mask)
    handle.remove()
    assert 4 in seen and any(rows > 4 for rows in seen)  # pruned memory-only steps, then the whole layer
    torch.testing.assert_close(pruned.logits, whole.logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pruned.memory_state, whole.memory_state, rtol=1e-5, atol=1e-6)


def test_a_layer_with_its_own_forward_is_left_alone():
    """A block whose forward was replaced on the instance (accelerate's offloading hooks do that) is not pruned, and
    its forward is still its own afterwards."""
    model = hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), rmt_config("bert")).eval()
    last = layer_blocks(model.backbone)[-1]
    calls = []
    original = last.forward

    def hooked(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    last.forward = hooked
    _, seen = rows_seen_by_last_feed_forward(model, torch.randn(2, 4, 32), torch.randint(5, 99, (2, 8)))
    assert calls == [1] and seen and seen[0] > 4 and last.forward is hooked
