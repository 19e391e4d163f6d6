"""`generate(cache_implementation="static")` (issue 16's speed): each segment's KV cache lives in one preallocated
`StaticCache` that every segment reuses, and on CUDA the one-token step is compiled (CUDA graphs) as transformers
compiles a plain model's decoding with a static cache. The tokens must be those of the dynamic cache and of `forward`
over the growing sequence; a stream whose chunks outgrow the static cache goes on in a dynamic one, same logits.
"""

from __future__ import annotations

import random

import pytest
import torch
from test_rolling_generation import NEW_TOKENS, causal_lm, greedy_by_forward, left_padded_prompts
from tiny_models import rmt_config, tiny_backbone, with_memory_values

import hf_rmt
from hf_rmt.modeling.stream_cache import PartialSegmentCache, StaticSegmentCache


@pytest.mark.parametrize(
    ("arch", "memory_type"), [("gpt2", "rmt"), ("llama", "rmt"), ("qwen2", "rmt"), ("llama", "associative")]
)
def test_static_cache_gives_the_tokens_of_forward_on_the_growing_sequence(arch, memory_type):
    model = causal_lm(arch, memory_type)
    ids, mask = left_padded_prompts()
    stream = model.stream(ids.shape[0])
    out = model.generate(
        ids,
        attention_mask=mask,
        max_new_tokens=NEW_TOKENS,
        do_sample=False,
        cache_implementation="static",
        stream=stream,
    )
    static = stream.static_cache
    assert isinstance(static, StaticSegmentCache) and static.step is None  # CPU: the step runs eagerly
    assert static.capacity == model.config.num_memory_tokens + 2 * model.config.segment_size
    assert 0 < static.length <= static.capacity  # the last segment's rows were in it
    assert torch.equal(out, greedy_by_forward(model, ids, mask, NEW_TOKENS))
    dynamic = model.generate(ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False)
    assert torch.equal(out, dynamic)


def test_a_stream_that_outgrows_the_static_cache_goes_on_in_a_dynamic_one(monkeypatch):
    """Ragged padded chunks into a static cache with room for little more than the memory: prefills that do not fit
    and appends that overflow (spills) both give the dynamic stream's logits and memory."""
    model = causal_lm("llama")
    spills = []
    original = PartialSegmentCache._spill
    monkeypatch.setattr(PartialSegmentCache, "_spill", lambda self: (spills.append(1), original(self)))
    rng = random.Random(0)
    chunks = []
    for _ in range(12):
        width = rng.randint(1, 5)
        ids = torch.randint(5, 99, (2, width), generator=torch.Generator().manual_seed(len(chunks)))
        mask = torch.ones_like(ids)
        mask[rng.randrange(2), : rng.randint(0, width - 1)] = 0  # one sample reads fewer tokens of this chunk
        chunks.append((ids, mask))
    results = []
    for static in (False, True):
        stream = model.stream(2)
        if static:
            backbone = model._segment_cell().backbone
            stream.static_cache = StaticSegmentCache(backbone, model.config.num_memory_tokens + 4)
        logits = [stream.feed(ids, mask).logits for ids, mask in chunks]
        results.append((logits, stream.memory_state))
    assert spills  # the static cache really overflowed
    (dynamic_logits, dynamic_memory), (static_logits, static_memory) = results
    for a, b in zip(dynamic_logits, static_logits):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    torch.testing.assert_close(static_memory, dynamic_memory, rtol=0, atol=1e-5)


def test_unsupported_cache_implementations_are_refused_in_the_users_terms():
    model = causal_lm("llama")
    ids = torch.randint(5, 99, (1, 6))
    with pytest.raises(
        ValueError, match=r"`cache_implementation` must be one of \[None, 'dynamic', 'static'\].*'offloaded'"
    ):
        model.generate(ids, max_new_tokens=2, cache_implementation="offloaded")
    sliding = hf_rmt.get_rmt_model(tiny_backbone("mistral", "causal-lm", sliding_window=16), rmt_config("mistral"))
    sliding = with_memory_values(sliding.eval())
    sliding.generation_config.pad_token_id = 0
    with pytest.raises(ValueError, match="sliding-window or hybrid layers"):
        sliding.generate(ids, max_new_tokens=2, cache_implementation="static")
    # The default (dynamic) cache still serves it.
    assert sliding.generate(ids, max_new_tokens=2).shape == (1, 8)


@pytest.mark.gpu
@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_compiled_static_decoding_on_cuda_gives_the_dynamic_tokens(arch):
    """On CUDA the step is compiled with CUDA graphs (transformers' default `CompileConfig`); greedy tokens over
    several segment boundaries, with left padding, equal the eager dynamic cache's (float32: argmax ties aside)."""
    model = causal_lm(arch).cuda()
    ids, mask = (t.cuda() for t in left_padded_prompts())
    stream = model.stream(ids.shape[0])
    kwargs = {"attention_mask": mask, "max_new_tokens": NEW_TOKENS, "do_sample": False}
    out = model.generate(ids, cache_implementation="static", stream=stream, **kwargs)
    assert stream.static_cache.step is not None
    assert torch.equal(out, model.generate(ids, **kwargs))
