"""Backbones whose input embeddings are narrower than their hidden states (ALBERT; ELECTRA-small's factorised
embeddings): memory written back into the embedding space through a learned projection, which trains with the memory
and saves with it. (The generic guarantees run on ALBERT in test_modeling.py and test_saving.py.)"""

import os

import pytest
import torch
from safetensors.torch import load_file
from tiny_models import AUTO, rmt_config, tiny_backbone, train_steps

import hf_rmt
from hf_rmt.saving import ADAPTER_WEIGHTS_NAME


def wrap(arch="albert", task="sequence-classification", **config_kwargs):
    backbone = tiny_backbone(arch, task, **({"embedding_size": 16} if arch == "electra" else {}))
    return hf_rmt.get_rmt_model(backbone, rmt_config(arch, **config_kwargs)).eval()


@pytest.mark.parametrize("arch", ["albert", "electra"])
def test_memory_lives_in_the_embedding_space_and_comes_back_through_the_projection(arch):
    model = wrap(arch)
    projection = model.memory.write_projection
    assert model.memory.weight.shape == (4, 16) and (projection.in_features, projection.out_features) == (32, 16)
    ids = torch.randint(5, 99, (2, 20))
    with torch.no_grad():
        out = model(ids[:, :8])  # one segment: the next memory is the projected outputs at the memory positions
        hidden = model.backbone.base_model(inputs_embeds=row(model, ids[:, :8])).last_hidden_state
    torch.testing.assert_close(out.memory_state, projection(hidden[:, 1:5]))
    assert not any(p.requires_grad for p in model.backbone.base_model.parameters())
    assert projection.weight.requires_grad and projection.bias.requires_grad  # trained with the memory


@pytest.mark.gpu
def test_cuda_graph_replay_applies_the_projection():
    model = wrap().cuda()
    ids = torch.randint(5, 99, (2, 8 * 20), device="cuda")
    with torch.no_grad():
        eager = model(ids)
        model.enable_cuda_graphs()
        graphed = model(ids)
        assert model._graphs.graphs, "no CUDA graph was captured: the test would not test the fast path"
        model.disable_cuda_graphs()
    torch.testing.assert_close(graphed.memory_state, eager.memory_state, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(graphed.logits, eager.logits, rtol=1e-4, atol=1e-5)


def row(model, ids):
    embed = model.backbone.get_input_embeddings()
    cls, sep = (
        embed(torch.full((ids.shape[0], 1), i)) for i in (model.config.cls_token_id, model.config.sep_token_id)
    )
    return torch.cat([cls, model.memory.initial_state(ids.shape[0]), sep, embed(ids), sep], dim=1)


def test_the_projection_gets_gradients_only_through_memory_transitions():
    model = wrap().train()
    ids, labels = torch.randint(5, 99, (2, 24)), torch.tensor([0, 2])
    model(ids[:, :8], labels=labels).loss.backward()  # one segment: what it writes reaches no loss
    assert model.memory.write_projection.weight.grad is None
    model.zero_grad()
    model(ids, labels=labels).loss.backward()  # three segments: two transitions
    assert model.memory.write_projection.weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    model.config.bptt_depth = 0  # truncated BPTT cuts every transition: the projection is out of the graph
    model(ids, labels=labels).loss.backward()
    grad = model.memory.write_projection.weight.grad
    assert grad is None or not grad.any()


def test_segment_checkpointing_gives_the_same_projection_gradients():
    grads = []
    ids = torch.randint(5, 99, (2, 40), generator=torch.Generator().manual_seed(0))
    for checkpointing in (False, True):
        model = wrap(segment_checkpointing=checkpointing, bptt_depth=2).train()
        model.set_trainable(train_backbone=True)
        model(ids, labels=torch.tensor([0, 2])).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert "memory.write_projection.weight" in grads[0] and grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("arch", ["albert", "electra"])
def test_adapter_and_full_checkpoints_carry_the_projection(tmp_path, arch):
    backbone_dir = tmp_path / "backbone"
    tiny_backbone(
        arch, "sequence-classification", **({"embedding_size": 16} if arch == "electra" else {})
    ).save_pretrained(backbone_dir)
    model = hf_rmt.get_rmt_model(
        AUTO["sequence-classification"].from_pretrained(backbone_dir), rmt_config(arch)
    ).eval()
    with torch.no_grad():  # "trained": a reload from the backbone alone would differ
        model.memory.weight.normal_()
        model.memory.write_projection.weight.normal_()
    ids = torch.randint(5, 99, (2, 30))
    with torch.no_grad():
        want = model(ids).logits
    model.save_pretrained(tmp_path / "adapter")
    model.save_pretrained(tmp_path / "full", adapter_only=False)
    saved = load_file(os.path.join(tmp_path / "adapter", ADAPTER_WEIGHTS_NAME))
    assert {"memory.weight", "memory.write_projection.weight", "memory.write_projection.bias"} <= set(saved)
    for folder in ("adapter", "full"):  # an adapter's keys are checked by hf_rmt, which raises on any mismatch
        loaded = AUTO["sequence-classification"].from_pretrained(tmp_path / folder)
        with torch.no_grad():
            assert torch.equal(loaded(ids).logits, want), folder
    _, info = AUTO["sequence-classification"].from_pretrained(tmp_path / "full", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]


def test_lora_and_memory_train_and_reload_the_projection(tmp_path):
    from peft import PeftModel, get_peft_model

    backbone_dir = tmp_path / "backbone"
    tiny_backbone("albert", "sequence-classification").save_pretrained(backbone_dir)

    def fresh():
        return hf_rmt.get_rmt_model(
            AUTO["sequence-classification"].from_pretrained(backbone_dir), rmt_config("albert")
        )

    peft_model = get_peft_model(fresh(), hf_rmt.lora_config(fresh(), r=4, target_modules=["query", "value"]))
    before = peft_model.base_model.model.memory.write_projection.weight.detach().clone()
    ids, labels = torch.randint(5, 99, (2, 24)), torch.tensor([0, 1])
    train_steps(peft_model, input_ids=ids, labels=labels)
    # The trained copy (peft's modules_to_save) is the one the segments use.
    assert not torch.equal(peft_model.base_model.model.memory.write_projection.weight, before)
    peft_model.eval()
    with torch.no_grad():
        want = peft_model(input_ids=ids).logits
    peft_model.save_pretrained(tmp_path / "lora")
    reloaded = PeftModel.from_pretrained(fresh(), tmp_path / "lora").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids).logits, want)
        torch.testing.assert_close(reloaded.merge_and_unload()(ids).logits, want, rtol=1e-4, atol=1e-5)
