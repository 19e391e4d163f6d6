"""Rolling generation (issue 16): `RMTForCausalLM.generate` writes memory at every segment boundary of the growing
sequence, so greedy tokens are the argmax of `forward` over the growing sequence, for any number of new tokens.

The tiny decoders have 64 positions, segments of 8 tokens and 4 memory tokens; 48 new tokens after prompts of up to
30 cross six segment boundaries and go beyond the backbone's positions.
"""

from __future__ import annotations

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone, with_memory_values
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    MaxLengthCriteria,
    StoppingCriteria,
    StoppingCriteriaList,
)

import hf_rmt
from hf_rmt.modeling.generation import _length_only_stop


NEW_TOKENS = 48


def causal_lm(arch, memory_type="rmt"):
    model = hf_rmt.get_rmt_model(tiny_backbone(arch, "causal-lm"), rmt_config(arch, memory_type=memory_type))
    model.generation_config.pad_token_id = 0
    return with_memory_values(model.eval())


def left_padded_prompts():
    """Three prompts of 30, 25 and 19 real tokens, left-padded: each sample's segment boundaries differ."""
    ids = torch.randint(5, 99, (3, 30), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(ids)
    mask[1, :5] = 0
    mask[2, :11] = 0
    return ids, mask


@torch.no_grad()
def greedy_by_forward(model, ids, mask, steps):
    """`steps` tokens, each the argmax of a forward pass over the whole growing sequence (no cache, no stream)."""
    for _ in range(steps):
        token = model(ids, attention_mask=mask).logits[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, token], dim=1)
        mask = torch.cat([mask, torch.ones_like(token)], dim=1)
    return ids


@pytest.mark.parametrize("arch", ["gpt2", "llama", "qwen2"])
def test_greedy_tokens_are_the_argmax_of_forward_on_the_growing_sequence(arch):
    model = causal_lm(arch)
    ids, mask = left_padded_prompts()
    assert ids.shape[1] + NEW_TOKENS > model.backbone.config.max_position_embeddings
    out = model.generate(ids, attention_mask=mask, max_new_tokens=NEW_TOKENS, do_sample=False)
    assert torch.equal(out, greedy_by_forward(model, ids, mask, NEW_TOKENS))


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_armt_generation_rolls_too(arch):
    model = causal_lm(arch, "associative")
    ids, mask = left_padded_prompts()
    out = model.generate(ids, attention_mask=mask, max_new_tokens=30, do_sample=False)
    assert torch.equal(out, greedy_by_forward(model, ids, mask, 30))


@pytest.mark.parametrize("memory_type", ["rmt", "associative"])
def test_memory_after_generation_is_forwards_memory_on_the_whole_sequence(memory_type):
    model = causal_lm("llama", memory_type)
    ids, mask = left_padded_prompts()
    stream = model.stream(batch_size=3)
    out = model.generate(ids, attention_mask=mask, max_new_tokens=21, do_sample=False, stream=stream)
    whole_mask = torch.cat([mask, torch.ones(3, 21, dtype=mask.dtype)], dim=1)
    with torch.no_grad():
        expected = model(out, attention_mask=whole_mask).memory_state
    for got, want in zip(_tensors(stream.memory_state), _tensors(expected)):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert stream.num_tokens == [30 + 21, 25 + 21, 19 + 21]


def _tensors(state):
    return [state] if isinstance(state, torch.Tensor) else list(state)


def test_generation_continues_a_stream_as_one_prompt():
    """Generating after a stream has read a first part equals generating from the whole prompt."""
    model = causal_lm("gpt2")
    ids = torch.randint(5, 99, (1, 27), generator=torch.Generator().manual_seed(5))
    whole = model.generate(ids, max_new_tokens=12, do_sample=False)
    stream = model.stream()
    stream.feed(ids[:, :13])
    continued = model.generate(ids[:, 13:], max_new_tokens=12, do_sample=False, stream=stream)
    assert torch.equal(continued[:, -12:], whole[:, -12:])


class RecordScores(LogitsProcessor):
    """Records the scores it is given (the logits of each new token) and the sequence length it sees."""

    def __init__(self):
        self.scores, self.lengths = [], []

    def __call__(self, input_ids, scores):
        self.scores.append(scores.clone())
        self.lengths.append(input_ids.shape[1])
        return scores


def test_sampling_uses_forwards_distribution_across_boundaries():
    """With sampling, each step's scores are forward's logits of the sampled sequence so far; the same seed gives the
    same tokens."""
    model = causal_lm("llama")
    ids, mask = left_padded_prompts()
    recorder = RecordScores()
    torch.manual_seed(0)
    out = model.generate(
        ids, attention_mask=mask, max_new_tokens=20, do_sample=True, logits_processor=LogitsProcessorList([recorder])
    )
    assert recorder.lengths == list(range(30, 50))
    whole_mask = torch.cat([mask, torch.ones(3, 20, dtype=mask.dtype)], dim=1)
    with torch.no_grad():
        logits = model(out[:, :-1], attention_mask=whole_mask[:, :-1]).logits[:, 29:]
    torch.testing.assert_close(torch.stack(recorder.scores, dim=1), logits, atol=1e-5, rtol=1e-5)
    torch.manual_seed(0)
    assert torch.equal(model.generate(ids, attention_mask=mask, max_new_tokens=20, do_sample=True), out)


def test_eos_stops_each_sample_and_return_dict_holds_the_scores():
    model = causal_lm("qwen2")
    ids, mask = left_padded_prompts()
    free = model.generate(ids, attention_mask=mask, max_new_tokens=20, do_sample=False)[:, 30:]
    eos = int(free[1, 12])  # sample 1 stops at its 13th new token (past a segment boundary), at the latest
    stop = [int((row == eos).nonzero()[0]) if (row == eos).any() else None for row in free]
    out = model.generate(
        ids,
        attention_mask=mask,
        max_new_tokens=20,
        do_sample=False,
        eos_token_id=eos,
        return_dict_in_generate=True,
        output_scores=True,
    )
    new = out.sequences[:, 30:]
    assert len(out.scores) == new.shape[1] == max(s if s is not None else 19 for s in stop) + 1
    for row, first in zip(range(3), stop):
        if first is None:
            assert new[row].tolist() == free[row, : new.shape[1]].tolist()
        else:
            assert new[row, : first + 1].tolist() == free[row, : first + 1].tolist()
            assert (new[row, first + 1 :] == 0).all()  # padded after its eos


class NeverStop(StoppingCriteria):
    def __call__(self, input_ids, scores, **kwargs):
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def test_stopping_by_length_alone_gives_what_the_criteria_loop_gives():
    """With no criterion but the length, the loop stops on the host (no device sync per token); a criterion that
    never fires sends generation through the loop that calls the criteria at each token: same tokens, same length,
    and the streams have read the same."""
    model = causal_lm("llama")
    ids, mask = left_padded_prompts()
    assert _length_only_stop(StoppingCriteriaList([MaxLengthCriteria(51), MaxLengthCriteria(60)])) == 51
    assert _length_only_stop(StoppingCriteriaList([MaxLengthCriteria(51), NeverStop()])) is None
    assert _length_only_stop(StoppingCriteriaList([MaxLengthCriteria(51, max_position_embeddings=64)])) is None
    fast_stream, general_stream = model.stream(batch_size=3), model.stream(batch_size=3)
    fast = model.generate(ids, attention_mask=mask, max_new_tokens=21, do_sample=False, stream=fast_stream)
    general = model.generate(
        ids,
        attention_mask=mask,
        max_new_tokens=21,
        do_sample=False,
        stream=general_stream,
        stopping_criteria=StoppingCriteriaList([NeverStop()]),
    )
    assert fast.shape == (3, 30 + 21) and torch.equal(fast, general)
    assert fast_stream.num_tokens == general_stream.num_tokens == [51, 46, 40]
    assert fast_stream.pending_lengths == general_stream.pending_lengths


def test_beam_search_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="num_beams=2"):
        causal_lm("gpt2").generate(torch.ones(1, 5, dtype=torch.long), max_new_tokens=3, num_beams=2)


def test_unknown_generate_arguments_are_refused_naming_them():
    with pytest.raises(ValueError, match="not_an_option"):
        causal_lm("gpt2").generate(torch.ones(1, 5, dtype=torch.long), max_new_tokens=3, not_an_option=1)
