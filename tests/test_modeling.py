"""Behaviour of the RMT models over many tiny random backbones: recurrence, padding, BPTT, layouts, generation."""

import contextlib
import functools

import pytest
import torch
from tiny_models import (
    ARCHITECTURES,
    ARMT_ARCHITECTURES,
    CLS_ID,
    DECODERS,
    ENCODERS,
    MEMORY_TYPES,
    SEP_ID,
    rmt_config,
    state_row,
    tiny_backbone,
    with_memory_values,
)

import hf_rmt
from hf_rmt.core import recurrence
from hf_rmt.modeling.heads import SequenceClassificationHead


HEADS = {
    **{arch: ["base", "sequence-classification", "token-classification", "masked-lm"] for arch in ENCODERS},
    **{arch: ["base", "sequence-classification", "causal-lm"] for arch in DECODERS},
}
CASES = [(arch, task) for arch, tasks in HEADS.items() for task in tasks]
# Every RMT case, and ARMT's on the architectures it is tested on.
MEMORY_CASES = [(arch, task, "rmt") for arch, task in CASES] + [
    (arch, task, "associative") for arch, task in CASES if arch in ARMT_ARCHITECTURES
]


def by_memory(archs):
    """`(arch, memory_type)` pairs: every arch with RMT, those of `ARMT_ARCHITECTURES` with ARMT too."""
    return [(arch, kind) for kind in MEMORY_TYPES for arch in archs if kind == "rmt" or arch in ARMT_ARCHITECTURES]


def wrap(arch, task="base", memory_type="rmt", **config_kwargs):
    """A tiny model; an associative memory gets random values (as trained), so that it carries something."""
    config = rmt_config(arch, memory_type=memory_type, **config_kwargs)
    return with_memory_values(hf_rmt.get_rmt_model(tiny_backbone(arch, task), config).eval())


def main_output(output):
    return output.last_hidden_state if isinstance(output, hf_rmt.RMTModelOutput) else output.logits


def padded_batch(seed=0):
    """Three samples of 29, 20 and 22 tokens: full, right-padded and left-padded (4, 3 and 3 segments of 8)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 99, (3, 29), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    mask[2, :7] = 0
    return ids, mask


@pytest.mark.parametrize("arch, task, memory_type", MEMORY_CASES)
def test_batch_with_padding_equals_each_sample_alone(arch, task, memory_type):
    model = wrap(arch, task, memory_type)
    ids, mask = padded_batch()
    with torch.no_grad():
        batched = model(ids, attention_mask=mask)
        for i in range(3):
            alone = model(ids[i][mask[i].bool()][None])
            got, want = main_output(batched)[i], main_output(alone)[0]
            if got.dim() == 2 and want.shape[0] != got.shape[0]:  # per-token outputs: compare real positions
                got = got[mask[i].bool()]
                assert torch.all(main_output(batched)[i][~mask[i].bool()] == 0)
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(
                state_row(batched.memory_state, i), state_row(alone.memory_state, 0), rtol=1e-4, atol=1e-5
            )


@pytest.mark.parametrize("arch, memory_type", by_memory(ARCHITECTURES))
def test_first_segment_reaches_the_last_prediction_only_through_memory(arch, memory_type):
    model = wrap(arch, "sequence-classification", memory_type)
    ids = torch.randint(5, 99, (1, 32))
    changed = ids.clone()
    changed[0, :8] = torch.randint(5, 99, (8,))  # only the first of four segments differs
    with torch.no_grad():
        a, b = model(ids).logits, model(changed).logits
        # Random tiny heads squash differences (tanh pooler, 0.02-scale weights): any change counts.
        assert not torch.equal(a, b), "memory carried nothing from the first segment"
        # Reset memory: the last segment alone, from the initial memory, cannot see the first segment.
        last = model(ids[:, 24:]).logits
        assert torch.equal(model(changed[:, 24:]).logits, last)
        # ... and memory is the only channel: the last segment with the prefix's memory gives the full result.
        for sample, full in ((ids, a), (changed, b)):
            memory = model(sample[:, :24]).memory_state
            torch.testing.assert_close(model(sample[:, 24:], memory_state=memory).logits, full)


@pytest.mark.parametrize("arch, memory_type", by_memory(["bert", "gpt2", "llama"]))
def test_streaming_chunks_with_memory_state_equals_one_pass(arch, memory_type):
    task = "causal-lm" if arch in DECODERS else "token-classification"
    model = wrap(arch, task, memory_type)
    ids = torch.randint(5, 99, (2, 32))
    with torch.no_grad():
        full = model(ids)
        first = model(ids[:, :16])
        second = model(ids[:, 16:], memory_state=first.memory_state)
    torch.testing.assert_close(torch.cat([first.logits, second.logits], dim=1), full.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(second.memory_state, full.memory_state, rtol=1e-4, atol=1e-5)


def segment_grads(model, depth, segments=4):
    model.config.bptt_depth = depth
    model.train()
    embeds = torch.randn(1, 8 * segments, model.memory.weight.shape[1], requires_grad=True)
    model.zero_grad()
    model(inputs_embeds=embeds, labels=torch.tensor([1])).loss.backward()
    per_segment = embeds.grad[0].view(segments, 8, -1).abs().sum(dim=(1, 2))
    memory_grad = model.memory.weight.grad
    return per_segment, (memory_grad.abs().sum() if memory_grad is not None else torch.tensor(0.0))


@pytest.mark.parametrize("arch, memory_type", by_memory(["bert", "roberta", "gpt2", "llama"]))
def test_truncated_bptt_cuts_gradients_beyond_depth(arch, memory_type):
    model = wrap(arch, "sequence-classification", memory_type)
    full, full_memory = segment_grads(model, -1)
    assert torch.all(full > 0) and full_memory > 0
    for depth in (0, 1, 2):
        grads, memory_grad = segment_grads(model, depth)
        # Segment s reaches the loss (on the last of 4 segments) through 3 - s memory transitions.
        for s in range(4):
            reaches = 3 - s <= depth
            assert (grads[s] > 0) == reaches, f"bptt_depth={depth}, segment {s}: grad {grads[s]}"
        if memory_type == "rmt":
            assert memory_grad == 0  # the initial memory is 3 transitions away
        else:
            assert memory_grad > 0  # ARMT inserts its learned tokens again in the last segment too
    grads, memory_grad = segment_grads(model, 3)
    assert torch.all(grads > 0) and memory_grad > 0


@pytest.mark.parametrize("memory_type", MEMORY_TYPES)
def test_truncated_bptt_is_per_sample_under_padding(memory_type):
    """A short sample's gradients must not depend on the longer samples it is batched with."""
    model = wrap("bert", "sequence-classification", memory_type, bptt_depth=1).train()
    hidden = model.memory.weight.shape[1]
    embeds = torch.randn(2, 32, hidden)
    mask = torch.ones(2, 32, dtype=torch.long)
    mask[1, 16:] = 0  # sample 1 has 2 segments, sample 0 has 4
    batched = embeds.clone().requires_grad_(True)
    model(inputs_embeds=batched, attention_mask=mask, labels=torch.tensor([0, 1]), return_dict=True).logits[
        1
    ].sum().backward()
    alone = embeds[1:, :16].clone().requires_grad_(True)
    model(inputs_embeds=alone).logits[0].sum().backward()
    torch.testing.assert_close(batched.grad[1, :16], alone.grad[0], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("keep_last", [1, 3], ids=["keep-last-1", "keep-last-3"])
@pytest.mark.parametrize("arch, memory_type", by_memory(["bert", "gpt2", "llama", "opt"]))
def test_segment_checkpointing_gives_the_same_gradients(arch, memory_type, keep_last):
    task = "causal-lm" if arch in DECODERS else "sequence-classification"
    grads = []
    for checkpointing in (False, True):
        options = {"segment_checkpointing": checkpointing, "segment_checkpointing_keep_last": keep_last}
        model = wrap(arch, task, memory_type, bptt_depth=2, **options).train()
        model.set_trainable(train_backbone=True)
        ids = torch.randint(5, 99, (2, 40))
        labels = ids if task == "causal-lm" else torch.tensor([0, 2])
        model(ids, labels=labels).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 5
    if memory_type == "associative":  # every layer's projections are trained (ARMT's value starts at zero)
        assert {f"memory.layers.{i}.value.weight" for i in range(2)} <= grads[0].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("keep_last, recomputed", [(1, 4), (2, 3), (5, 0), (9, 0)])
def test_segment_checkpointing_recomputes_all_but_the_last_segments(monkeypatch, keep_last, recomputed):
    """With `segment_checkpointing`, every segment but the last `segment_checkpointing_keep_last` runs through the
    recomputation (5 segments here); without gradients nothing is recomputed."""
    calls = []
    original = recurrence.recompute_segment

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(recurrence, "recompute_segment", counting)
    model = wrap(
        "bert", "sequence-classification", "rmt", segment_checkpointing=True, segment_checkpointing_keep_last=keep_last
    )
    model.train()
    ids = torch.randint(5, 99, (2, 40))  # 5 segments of 8
    model(ids, labels=torch.tensor([0, 2])).loss.backward()
    assert len(calls) == recomputed
    calls.clear()
    with torch.no_grad():
        model(ids)
    assert calls == []


@pytest.mark.parametrize("arch", ENCODERS)
def test_single_segment_equals_backbone_on_hand_built_encoder_row(arch):
    backbone = tiny_backbone(arch, "masked-lm")
    model = hf_rmt.get_rmt_model(backbone, rmt_config(arch)).eval()
    ids = torch.randint(5, 99, (2, 6))
    embed = backbone.get_input_embeddings()
    memory = model.memory.weight.expand(2, -1, -1)
    row = torch.cat(
        [
            embed(torch.full((2, 1), CLS_ID)),
            memory,
            embed(torch.full((2, 1), SEP_ID)),
            embed(ids),
            embed(torch.full((2, 1), SEP_ID)),
        ],
        dim=1,
    )
    with torch.no_grad():
        want = backbone(inputs_embeds=row).logits[:, 6:12]
        got = model(ids).logits
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("arch", DECODERS)
def test_single_segment_equals_backbone_on_hand_built_decoder_row(arch):
    backbone = tiny_backbone(arch, "causal-lm")
    model = hf_rmt.get_rmt_model(backbone, rmt_config(arch)).eval()
    ids = torch.randint(5, 99, (2, 6))
    memory = model.memory.weight.expand(2, -1, -1)
    row = torch.cat([memory, backbone.get_input_embeddings()(ids), memory], dim=1)
    with torch.no_grad():
        out = backbone(inputs_embeds=row, output_hidden_states=True)
        got = model(ids)
    torch.testing.assert_close(got.logits, out.logits[:, 4:10])
    torch.testing.assert_close(got.memory_state, out.hidden_states[-1][:, -4:])


@pytest.mark.parametrize("arch", DECODERS)
def test_causal_lm_loss_is_the_shifted_loss_across_segments(arch):
    model = wrap(arch, "causal-lm")
    ids = torch.randint(5, 99, (2, 27))
    labels = ids.clone()
    labels[0, :5] = -100
    with torch.no_grad():
        out = model(ids, labels=labels)
    want = torch.nn.functional.cross_entropy(out.logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten())
    torch.testing.assert_close(out.loss, want)


def test_logits_to_keep_returns_each_samples_last_tokens():
    model = wrap("llama", "causal-lm")
    ids, mask = padded_batch()
    with torch.no_grad():
        full = model(ids, attention_mask=mask).logits
        kept = model(ids, attention_mask=mask, logits_to_keep=3).logits
    assert kept.shape == (3, 3, 99)
    for i in range(3):
        torch.testing.assert_close(kept[i], full[i][mask[i].bool()][-3:])


def test_inference_keeps_nothing_per_segment_for_classification():
    model = wrap("bert", "sequence-classification")
    ids = torch.randint(5, 99, (1, 8 * 50))
    plan = model.make_plan(ids, None)
    with torch.no_grad():
        _, results = model.run_segments(plan, ids, None, SequenceClassificationHead(len(plan) - 1, labels=None))
    assert [kept is not None for _, kept in results] == [False] * 49 + [True]
    assert results[-1][1].loss is None


# The block stacks of the decoders ARMT is tested on, named here so the manual loop below does not use hf_rmt's.
STACKS = {"gpt2": "transformer.h", "llama": "model.layers"}


@pytest.mark.parametrize("arch, memory_type", by_memory(DECODERS))
def test_generate_continues_from_memory_and_matches_a_manual_greedy_loop(arch, memory_type):
    model = wrap(arch, "causal-lm", memory_type)
    ids, mask = padded_batch(seed=1)
    out = model.generate(ids, attention_mask=mask, max_new_tokens=4, do_sample=False, pad_token_id=0)
    assert out.shape == (3, 29 + 4) and torch.equal(out[:, :29], ids)
    for i in range(3):
        prompt = ids[i][mask[i].bool()][None]
        n = prompt.shape[1]
        last = n - (n - 1) // 8 * 8
        with torch.no_grad():
            memory = model(prompt[:, : n - last]).memory_state if n > last else model.memory.initial_state(1)
            tokens_in = model.memory.weight[None] if memory_type == "associative" else memory
            row = torch.cat([tokens_in, model.backbone.get_input_embeddings()(prompt[:, n - last :])], dim=1)
            tokens = []
            # No KV cache here: the whole row again at each token, every layer reading ARMT's memory first. Only the
            # tokens of the prompt's last segment: past it, generation rolls into a new segment with a new memory
            # (tests/test_rolling_generation.py compares those with forward passes).
            with associative_reads(model, arch, memory if memory_type == "associative" else None):
                for _ in range(min(4, 8 - last)):
                    token = model.backbone(inputs_embeds=row).logits[:, -1].argmax(-1)
                    tokens.append(int(token))
                    row = torch.cat([row, model.backbone.get_input_embeddings()(token[:, None])], dim=1)
        assert out[i, 29 : 29 + len(tokens)].tolist() == tokens and tokens


@contextlib.contextmanager
def associative_reads(model, arch, memory):
    """Each block of the backbone reads the associative `memory` (eq. 4 of arXiv:2407.04841) before it runs."""
    if memory is None:
        yield
        return

    def read(index, module, args, kwargs):
        layer = model.memory.layers[index]
        return (layer.read(args[0], memory[2 * index], memory[2 * index + 1]), *args[1:]), kwargs

    blocks = model.backbone.get_submodule(STACKS[arch])
    handles = [b.register_forward_pre_hook(functools.partial(read, i), with_kwargs=True) for i, b in enumerate(blocks)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def test_memory_follows_backbone_dtype_and_wrapping_does_not_touch_backbone_weights():
    backbone = tiny_backbone("llama", "causal-lm").to(torch.bfloat16)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    model = hf_rmt.get_rmt_model(backbone, rmt_config("llama"))
    assert model.memory.weight.dtype == torch.bfloat16
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, before[key]), key
    out = model(torch.randint(5, 99, (1, 20)))
    assert out.logits.dtype == torch.bfloat16 and out.memory_state.dtype == torch.bfloat16


def test_backbone_frozen_by_default_and_training_step_leaves_it_unchanged(capsys):
    model = wrap("bert", "sequence-classification").train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"memory.weight", "backbone.classifier.weight", "backbone.classifier.bias"}
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    memory = model.memory.weight.clone()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(torch.randint(5, 99, (2, 30)), labels=torch.tensor([0, 1])).loss.backward()
    optimizer.step()
    assert not torch.equal(model.memory.weight, memory)
    for name, param in model.named_parameters():
        if name in frozen:
            assert torch.equal(param, frozen[name]), name
    model.print_trainable_parameters()
    trainable_count, total = model.get_nb_trainable_parameters()
    assert capsys.readouterr().out.strip() == (
        f"trainable params: {trainable_count:,d} || all params: {total:,d} || trainable%: {100 * trainable_count / total:.4f}"
    )
    assert trainable_count == sum(p.numel() for n, p in model.named_parameters() if n in trainable)


def test_train_backbone_option_makes_everything_trainable():
    model = hf_rmt.get_rmt_model(tiny_backbone("gpt2", "causal-lm"), rmt_config("gpt2"), train_backbone=True)
    assert all(p.requires_grad for p in model.parameters())


def test_layout_is_chosen_from_the_backbone_and_segment_size_defaults_to_the_largest_that_fits():
    encoder = hf_rmt.get_rmt_model(tiny_backbone("bert"), rmt_config("bert", segment_size=None))
    decoder = hf_rmt.get_rmt_model(tiny_backbone("gpt2"), rmt_config("gpt2", segment_size=None))
    assert encoder.config.memory_layout == "encoder" and encoder.config.segment_size == 64 - 4 - 3
    assert decoder.config.memory_layout == "decoder" and decoder.config.segment_size == 64 - 2 * 4
    roberta = hf_rmt.get_rmt_model(tiny_backbone("roberta"), rmt_config("roberta", segment_size=None))
    assert roberta.config.segment_size == 66 - 2 - 4 - 3  # RoBERTa positions start after padding_idx


def test_special_tokens_come_from_a_tokenizer_when_the_config_has_none():
    class Tokenizer:
        cls_token_id, sep_token_id = 7, 8

    model = hf_rmt.get_rmt_model(tiny_backbone("bert"), hf_rmt.RMTConfig(num_memory_tokens=2), tokenizer=Tokenizer())
    assert (model.config.cls_token_id, model.config.sep_token_id) == (7, 8)
    roberta = hf_rmt.get_rmt_model(tiny_backbone("roberta"), hf_rmt.RMTConfig(num_memory_tokens=2))
    assert (roberta.config.cls_token_id, roberta.config.sep_token_id) == (0, 2)  # RoBERTa's config: <s>, </s>
