"""The fast paths give the plain path's results: the memory-only step (what CUDA graphs capture) and graph replay."""

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone

import hf_rmt
from hf_rmt.backbone import layer_blocks


@pytest.mark.parametrize(
    "arch, task",
    [
        ("bert", "sequence-classification"),
        ("roberta", "base"),
        ("gpt2", "causal-lm"),
        ("llama", "sequence-classification"),
    ],
)
def test_memory_only_step_equals_a_full_step(arch, task):
    model = hf_rmt.get_rmt_model(tiny_backbone(arch, task), rmt_config(arch)).eval()
    memory = torch.randn(2, 4, 32)
    ids = torch.randint(5, 99, (2, 8))
    with torch.no_grad():
        want = hf_rmt.RMTModel.forward(model, ids, memory_state=memory).memory_state
        got = model._memory_only_step(memory, ids)
    torch.testing.assert_close(got, want)


def test_memory_only_steps_skip_the_head_and_keep_nothing():
    model = hf_rmt.get_rmt_model(tiny_backbone("gpt2", "causal-lm"), rmt_config("gpt2")).eval()
    calls = []
    model.backbone.lm_head.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        out = model(torch.randint(5, 99, (1, 80)), logits_to_keep=1)
    assert len(calls) == 1 and out.logits.shape == (1, 1, 99)


@pytest.mark.parametrize(
    "arch, stack", [("bert", "bert.encoder.layer"), ("gpt2", "transformer.h"), ("llama", "model.layers")]
)
def test_layer_blocks_are_the_backbones_block_stack(arch, stack):
    backbone = tiny_backbone(arch, "causal-lm" if arch != "bert" else "sequence-classification")
    blocks = layer_blocks(backbone)
    assert blocks and [id(b) for b in blocks] == [id(b) for b in backbone.get_submodule(stack)]


def test_cuda_graph_compile_mode_is_checked():
    model = hf_rmt.get_rmt_model(tiny_backbone("bert", "base"), rmt_config("bert"))
    with pytest.raises(ValueError, match=r"`compile` must be a bool or one of .*got 'reduce-overhead'"):
        model.enable_cuda_graphs(compile="reduce-overhead")
    assert model._graphs is None


@pytest.mark.gpu
@pytest.mark.parametrize("compile", [False, True, "max-autotune-no-cudagraphs"])
@pytest.mark.parametrize("arch, task", [("bert", "sequence-classification"), ("llama", "causal-lm")])
def test_cuda_graph_replay_equals_eager(arch, task, compile):
    model = hf_rmt.get_rmt_model(tiny_backbone(arch, task), rmt_config(arch)).eval().cuda()
    ids = torch.randint(5, 99, (2, 8 * 40), device="cuda")
    with torch.no_grad():
        eager = model(ids)
        model.enable_cuda_graphs(compile=compile)
        graphed = model(ids)
        again = model(ids)
        model.disable_cuda_graphs()
    torch.testing.assert_close(graphed.logits, eager.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(graphed.memory_state, eager.memory_state, rtol=1e-4, atol=1e-5)
    assert torch.equal(graphed.logits, again.logits)
    # Blocks run compiled only inside the captured graphs: the model's modules are left as they were.
    assert all(block._compiled_call_impl is None for block in layer_blocks(model.backbone))


@pytest.mark.gpu
def test_cuda_graphs_follow_weights_updated_in_place_and_moved():
    model = hf_rmt.get_rmt_model(tiny_backbone("bert", "base"), rmt_config("bert")).eval().cuda()
    ids = torch.randint(5, 99, (1, 8 * 10), device="cuda")
    with torch.no_grad():
        model.enable_cuda_graphs()
        model(ids)
        for param in model.backbone.parameters():  # in place: same addresses, the graph reads the new values
            param.mul_(1.5)
        torch.testing.assert_close(model(ids).memory_state, _eager(model, ids).memory_state)
        model.double()  # new storage: the graphs are captured again
        got = model(ids).memory_state
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, _eager(model, ids).memory_state)


def _eager(model, ids):
    graphs, model._graphs = model._graphs, None
    try:
        return model(ids)
    finally:
        model._graphs = graphs
