"""The fast paths give the plain path's results: the memory-only step (what CUDA graphs capture) and graph replay."""

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone, with_memory_values

import hf_rmt
from hf_rmt.backbone import layer_blocks


@pytest.mark.parametrize(
    "arch, task, memory_type",
    [
        ("bert", "sequence-classification", "rmt"),
        ("roberta", "base", "rmt"),
        ("gpt2", "causal-lm", "rmt"),
        ("llama", "sequence-classification", "rmt"),
        ("bert", "sequence-classification", "associative"),
        ("gpt2", "causal-lm", "associative"),
        ("llama", "sequence-classification", "associative"),
    ],
)
def test_memory_only_step_equals_a_full_step(arch, task, memory_type):
    config = rmt_config(arch, memory_type=memory_type)
    model = with_memory_values(hf_rmt.get_rmt_model(tiny_backbone(arch, task), config).eval())
    ids = torch.randint(5, 99, (2, 8))
    if memory_type == "rmt":
        memory = torch.randn(2, 4, 32)
    else:  # a state that already holds something: the step reads it in every layer
        with torch.no_grad():
            memory = model(torch.randint(5, 99, (2, 24))).memory_state
    with torch.no_grad():
        want = hf_rmt.RMTModel.forward(model, ids, memory_state=memory).memory_state
        got = model.memory_only_step(memory, ids)
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
    with pytest.raises(ValueError, match=r"`freeze_weights=True` .* needs `compile`; got compile=False"):
        model.enable_cuda_graphs(freeze_weights=True)
    assert model._graphs is None


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_capture_keeps_the_mask_skip_of_unpadded_inputs(monkeypatch, arch):
    """While a graph is captured, an unpadded step gets no attention mask, as in eager (SDPA's flash kernel): with
    transformers <= 5.17 the capture otherwise materialises an all-True mask (the math kernel, in float32)."""
    from transformers import masking_utils  # noqa: PLC0415
    from transformers.utils import import_utils  # noqa: PLC0415

    from hf_rmt.core.fast_path import _mask_skip_while_capturing  # noqa: PLC0415

    config = tiny_backbone(arch, "base").config
    assert config._attn_implementation == "sdpa"
    create = masking_utils.create_bidirectional_mask if arch == "bert" else masking_utils.create_causal_mask
    extra = () if arch == "bert" else (None,)  # the decoder's (empty) cache
    embeds = torch.randn(2, 8, config.hidden_size)
    padding = torch.ones(2, 8, dtype=torch.long)
    padding[0, -3:] = 0
    monkeypatch.setattr(import_utils, "is_cuda_stream_capturing", lambda: True)  # CUDA capture, simulated
    with _mask_skip_while_capturing():
        assert create(config, embeds, None, *extra) is None
        # A real padding mask is never read under capture (it would synchronise): the mask stays.
        mask = create(config, embeds, padding, *extra)
        assert mask is not None and not bool(mask[0, ..., -3:].any())
    assert masking_utils.is_tracing is import_utils.is_tracing  # restored


def test_frozen_weights_are_compiled_again_when_they_change():
    """`freeze_weights` folds the weights into the compiled step: copies that an in-place update does not reach.
    `check_weights` sees the update (version counters) and compiles again. The compiled step runs here as in the
    warm-up before a capture (inductor freezing runs on CPU too); the captured graphs are tested on GPU below."""
    from hf_rmt.fast_path import SegmentGraphs  # noqa: PLC0415

    model = hf_rmt.get_rmt_model(tiny_backbone("bert", "base"), rmt_config("bert")).eval()
    graphs = SegmentGraphs(model.memory_only_step, compile_modules=layer_blocks(model.backbone), freeze_weights=True)
    memory = model.memory.initial_state(1)
    ids = torch.randint(5, 99, (1, model.config.segment_size))
    with torch.no_grad():
        graphs.check_weights([*model.parameters(), *model.buffers()])
        torch.testing.assert_close(graphs.run_compiled(memory, ids), model.memory_only_step(memory, ids))
        for param in model.backbone.parameters():
            param.mul_(1.5)
        expected = model.memory_only_step(memory, ids)
        assert not torch.allclose(graphs.run_compiled(memory, ids), expected, atol=1e-4)  # stale copies
        graphs.check_weights([*model.parameters(), *model.buffers()])
        torch.testing.assert_close(graphs.run_compiled(memory, ids), expected)
        graphs.check_weights([*model.parameters(), *model.buffers()])  # unchanged: nothing compiles again
        compiled = graphs._compiled
        graphs.check_weights([*model.parameters(), *model.buffers()])
        assert graphs._compiled is compiled


@pytest.mark.gpu
@pytest.mark.parametrize(
    "compile, freeze", [(False, False), (True, False), (True, True), ("max-autotune-no-cudagraphs", False)]
)
@pytest.mark.parametrize("arch, task", [("bert", "sequence-classification"), ("llama", "causal-lm")])
@pytest.mark.parametrize("memory_type", ["rmt", "associative"])
def test_cuda_graph_replay_equals_eager(arch, task, compile, freeze, memory_type):
    config = rmt_config(arch, memory_type=memory_type)
    model = with_memory_values(hf_rmt.get_rmt_model(tiny_backbone(arch, task), config)).eval().cuda()
    ids = torch.randint(5, 99, (2, 8 * 40), device="cuda")
    with torch.no_grad():
        eager = _forward(model, ids)
        model.enable_cuda_graphs(compile=compile, freeze_weights=freeze)
        graphed = _forward(model, ids)
        again = _forward(model, ids)
        model.disable_cuda_graphs()
    torch.testing.assert_close(graphed.logits, eager.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(graphed.memory_state, eager.memory_state, rtol=1e-4, atol=1e-5)
    assert torch.equal(graphed.logits, again.logits)
    # Blocks run compiled only inside the captured graphs: the model's modules are left as they were.
    assert all(block._compiled_call_impl is None for block in layer_blocks(model.backbone))


@pytest.mark.gpu
@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_captured_step_runs_the_compiled_kernels(arch):
    """The capture replays the compiled step (fewer, fused kernels), not an eager fallback after a failed guard."""
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    model = hf_rmt.get_rmt_model(tiny_backbone(arch, _TASKS[arch]), rmt_config(arch)).eval().cuda()
    ids = torch.randint(5, 99, (1, 8 * 10), device="cuda")
    counts = []
    with torch.no_grad():
        for compile in (False, True):
            model.enable_cuda_graphs(compile=compile)
            _forward(model, ids)
            (graph,) = model._graphs.graphs.values()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                graph.graph.replay()
                torch.cuda.synchronize()
            counts.append(sum(e.device_type == torch.autograd.DeviceType.CUDA for e in prof.events()))
    assert 0 < counts[1] < counts[0], counts


@pytest.mark.gpu
@pytest.mark.parametrize("arch", ["bert", "llama"])
@pytest.mark.parametrize("compile, freeze", [(False, False), (True, True)])
def test_cuda_graphs_follow_weights_updated_in_place_and_moved(arch, compile, freeze):
    """Unfrozen graphs read the weights' memory, so in-place updates need nothing; frozen weights are copies inside
    the compiled step, so any change compiles it again. Either way the outputs are those of the current weights."""
    model = hf_rmt.get_rmt_model(tiny_backbone(arch, _TASKS[arch]), rmt_config(arch)).eval().cuda()
    ids = torch.randint(5, 99, (1, 8 * 10), device="cuda")
    with torch.no_grad():
        model.enable_cuda_graphs(compile=compile, freeze_weights=freeze)
        before = _forward(model, ids).memory_state
        for param in model.backbone.parameters():  # in place: same addresses
            param.mul_(1.5)
        after = _forward(model, ids).memory_state
        assert not torch.allclose(after, before, atol=1e-3)
        torch.testing.assert_close(after, _eager(model, ids).memory_state, rtol=1e-4, atol=1e-5)
        model.double()  # new storage: the graphs are captured again
        got = _forward(model, ids).memory_state
        assert got.dtype == torch.float64
        # Compiled kernels sum in another order than eager ones: float64 still agrees to ~1e-6 (stale weights: ~0.1).
        torch.testing.assert_close(got, _eager(model, ids).memory_state, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("memory_type", ["rmt", "associative"])
def test_replays_pass_the_state_through_the_graphs_buffers(memory_type):
    """Consecutive replays borrow the graph's buffers (the graph writes the next state over the one it read: one copy
    a step instead of a copy in and a copy out); a state handed out without `borrow`, or by a forward, is the
    caller's own and later replays leave it as it was."""
    from hf_rmt.core.memory import state_tensors  # noqa: PLC0415
    from hf_rmt.fast_path import SegmentGraphs  # noqa: PLC0415

    config = rmt_config("bert", memory_type=memory_type)
    model = hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), config)
    model = with_memory_values(model).eval().cuda()
    segments = [torch.randint(5, 99, (2, model.config.segment_size), device="cuda") for _ in range(4)]
    graphs = SegmentGraphs(model.memory_only_step)
    with torch.no_grad():
        expected = [model.memory.initial_state(2)]
        for ids in segments:
            expected.append(model.memory_only_step(expected[-1], ids))
        memory = expected[0]
        for t, ids in enumerate(segments):
            memory = graphs(memory, ids, borrow=True)
            torch.testing.assert_close(memory, expected[t + 1], rtol=1e-5, atol=1e-6)
        (entry,) = graphs.graphs.values()
        assert all(a is b for a, b in zip(state_tensors(memory), state_tensors(entry.memory)))
        own = graphs(expected[1], segments[1])  # not borrowed: a copy
        graphs(expected[2], segments[2])
        torch.testing.assert_close(own, expected[2], rtol=1e-5, atol=1e-6)
        # Through a forward: graph steps, then the classifier's step, which gets a state of its own.
        ids = torch.cat(segments, dim=1)
        eager = model(ids).memory_state
        model.enable_cuda_graphs()
        graphed = _forward(model, ids).memory_state
        kept = [tensor.clone() for tensor in state_tensors(graphed)]
        _forward(model, ids.flip(1))
        assert all(torch.equal(a, b) for a, b in zip(state_tensors(graphed), kept))
    torch.testing.assert_close(graphed, eager, rtol=1e-5, atol=1e-6)


_TASKS = {"bert": "sequence-classification", "llama": "causal-lm"}


def _forward(model, ids):
    """A forward pass whose middle segments only carry memory (the steps the graphs replay): a classifier, or a
    causal LM asked for the last token's logits. Fails if no graph was used."""
    decoder = model.layout.name != "encoder"
    output = model(ids, logits_to_keep=1) if decoder else model(ids)
    if model._graphs is not None:
        assert model._graphs.graphs, "no CUDA graph was captured: the test would not test the fast path"
    return output


def _eager(model, ids):
    graphs, model._graphs = model._graphs, None
    try:
        return _forward(model, ids)
    finally:
        model._graphs = graphs


def test_compiled_armt_step_reads_each_calls_memory():
    """ARMT reads and writes through layer hooks registered for each call, and torch.compile does not guard on hooks:
    the compiled blocks of `enable_cuda_graphs(compile=True)` must still read the memory of the call at hand, not the
    one they were traced with, across memory states and batch sizes (a new capture per batch shape). Run here as in
    the warm-up before a capture (on CPU); replay is tested on the GPU above."""
    from hf_rmt.fast_path import SegmentGraphs  # noqa: PLC0415

    torch.manual_seed(0)
    config = rmt_config("bert", memory_type="associative")
    model = with_memory_values(hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), config).eval())
    graphs = SegmentGraphs(model.memory_only_step, compile_modules=layer_blocks(model.backbone))
    with torch.no_grad():
        for batch in (2, 3, 2):
            ids = torch.randint(5, 99, (batch, model.config.segment_size))
            memory = model.memory.initial_state(batch)
            for _ in range(3):  # each step reads a memory that holds more
                expected = model.memory_only_step(memory, ids)
                torch.testing.assert_close(graphs.run_compiled(memory, ids), expected, rtol=1e-4, atol=1e-5)
                memory = expected
