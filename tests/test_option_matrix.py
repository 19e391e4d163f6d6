"""The option matrix: every combination of the training options that combine trains with the gradients of the plain
path, or is refused when it is configured; none fails inside torch.

The options (`OPTIONS`): segment checkpointing (off, on, on keeping the last two segments); the backbone's own gradient checkpointing (off, reentrant,
non-reentrant); `bptt_depth` (full, 1); what trains (the whole model, memory + head on a frozen backbone, LoRA +
memory); bf16 autocast on the CPU; the layout (encoder: a BERT classifier, decoder: a GPT-2 causal LM); the segment
alignment; the padding side of the batch; `input_ids` or `inputs_embeds`.

The plain path of a combination is the same model (same weights, same trainable parameters, `bptt_depth`, layout and
alignment) run in fp32 with no checkpointing of either kind, each sample alone and unpadded, from `input_ids`, its
losses combined as the batch's loss combines them (a mean over samples; for the causal LM a sum over all scored
tokens divided by their number). So one comparison checks recomputation, the backbone's checkpointing, batch
invariance under padding and `inputs_embeds` at once. fp32 combinations match it to 1e-4 of each gradient's scale;
bf16 ones to twice the distance between the plain path in bf16 and in fp32 (the dtype's own error).

The full product has 3 * 3 * 2 * 3 * 2 * 2 * 2 * 2 * 2 = 1,728 combinations. CI runs a pairwise covering array of
it (`pairwise`): a deterministic greedy choice of combinations until every pair of values of any two options occurs
in at least one of them (14), plus the combinations the bug reports named. `HF_RMT_FULL_MATRIX=1` runs the
whole product.
"""

from __future__ import annotations

import functools
import itertools
import os
import warnings

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone

import hf_rmt


OPTIONS = {
    # False, True (every segment but the last recomputed), or 2 (`segment_checkpointing_keep_last=2`).
    "segment_checkpointing": (False, True, 2),
    "backbone_checkpointing": ("off", "reentrant", "non-reentrant"),
    "bptt_depth": (-1, 1),
    "trainable": ("all", "memory-and-head", "lora"),
    "bf16": (False, True),
    "layout": ("encoder", "decoder"),
    "alignment": ("left", "right"),
    "padding_side": ("left", "right"),
    "inputs_embeds": (False, True),
}
# Lengths of the batch's samples: 3, 2 and 1 segments of 8 tokens (a short last or first segment, by alignment).
LENGTHS = (19, 9, 4)


def pairwise(options: dict[str, tuple]) -> list[dict]:
    """A deterministic pairwise covering array of the product of `options`: greedily, the combination (first in
    product order on ties) that covers the most value pairs not yet covered, until all are."""
    names = list(options)
    product = [dict(zip(names, values)) for values in itertools.product(*options.values())]

    def pairs(combination):
        return {((a, combination[a]), (b, combination[b])) for a, b in itertools.combinations(names, 2)}

    uncovered = set().union(*(pairs(c) for c in product))
    chosen = []
    while uncovered:
        best = max(product, key=lambda c: len(pairs(c) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


# The combinations of the bug reports (issue 15): segment checkpointing with the backbone's reentrant checkpointing,
# over more than one segment, in both layouts.
REPORTED = [
    {
        **{name: values[0] for name, values in OPTIONS.items()},
        "segment_checkpointing": True,
        "backbone_checkpointing": "reentrant",
        "layout": layout,
        "trainable": trainable,
    }
    for layout in ("encoder", "decoder")
    for trainable in ("all", "lora")
]
FULL = os.environ.get("HF_RMT_FULL_MATRIX") == "1"
COMBINATIONS = (
    [dict(zip(OPTIONS, values)) for values in itertools.product(*OPTIONS.values())]
    if FULL
    else REPORTED + pairwise(OPTIONS)
)


def combination_id(combination: dict) -> str:
    return "-".join(f"{name}={value}" for name, value in combination.items())


def build(layout: str, trainable: str, bptt_depth: int, alignment: str, segment_checkpointing: bool | int = False):
    """The model of a combination; the same weights for every combination of the same layout and trainable set.
    `segment_checkpointing` an int: on, keeping that many last segments (`segment_checkpointing_keep_last`)."""
    arch, task = ("bert", "sequence-classification") if layout == "encoder" else ("gpt2", "causal-lm")
    keep_last = 1 if isinstance(segment_checkpointing, bool) else segment_checkpointing
    config = rmt_config(
        arch,
        bptt_depth=bptt_depth,
        segment_alignment=alignment,
        segment_checkpointing=bool(segment_checkpointing),
        segment_checkpointing_keep_last=keep_last,
    )
    model = hf_rmt.get_rmt_model(tiny_backbone(arch, task, seed=0), config, train_backbone=trainable == "all")
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # away from the initial memory and the zero-initialised head biases
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))
    if trainable == "lora":
        peft = pytest.importorskip("peft")
        targets = ["query", "value"] if layout == "encoder" else ["c_attn"]
        torch.manual_seed(2)
        # `init_lora_weights=False`: both LoRA factors random, so that both get gradients (B = 0 gives A none).
        lora = hf_rmt.lora_config(model, r=2, target_modules=targets, init_lora_weights=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GPT-2's Conv1D: peft's fan_in_fan_out notice
            model = peft.get_peft_model(model, lora)
    return model.train()


def rmt_of(model):
    return model.base_model.model if hasattr(model, "peft_config") else model


def batch(layout: str, padding_side: str):
    """Token ids of the samples of `LENGTHS`, padded on `padding_side`, with their mask and labels."""
    generator = torch.Generator().manual_seed(3)
    samples = [torch.randint(5, 99, (n,), generator=generator) for n in LENGTHS]
    width = max(LENGTHS)
    ids = torch.zeros(len(samples), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, sample in enumerate(samples):
        start = width - len(sample) if padding_side == "left" else 0
        ids[row, start : start + len(sample)] = sample
        mask[row, start : start + len(sample)] = 1
    labels = torch.tensor([0, 2, 1]) if layout == "encoder" else ids
    return samples, ids, mask, labels


def gradients(model) -> dict[str, torch.Tensor]:
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


@functools.cache
def plain_gradients(layout: str, trainable: str, bptt_depth: int, alignment: str, bf16: bool):
    """The plain path: no checkpointing, each sample alone and unpadded, from `input_ids`."""
    model = build(layout, trainable, bptt_depth, alignment)
    samples, _, _, _ = batch(layout, "right")
    scored = sum(len(sample) - 1 for sample in samples)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        total = 0
        for index, sample in enumerate(samples):
            if layout == "encoder":
                loss = model(input_ids=sample[None], labels=torch.tensor([[0, 2, 1][index]])).loss / len(samples)
            else:
                loss = model(input_ids=sample[None], labels=sample[None], num_items_in_batch=scored).loss
            total = total + loss
    total.backward()
    return gradients(model)


def enable_backbone_checkpointing(model, reentrant: bool) -> None:
    rmt = rmt_of(model)
    kwargs = {"use_reentrant": reentrant}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers >= 5.23 renames it activation_checkpointing
        if hasattr(rmt, "activation_checkpointing_enable"):
            rmt.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            rmt.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    assert any(getattr(m, "gradient_checkpointing", False) for m in rmt.backbone.modules())


def relative_error(expected: dict, actual: dict, label: str) -> tuple[float, str]:
    """The largest difference of a gradient from the expected one, relative to that parameter's largest expected
    entry (floored at 1e-3 of the model's: some gradients are zero in exact arithmetic, e.g. attention's key bias,
    which shifts every score of a query equally, and hold only rounding noise); and the parameter's name."""
    assert set(actual) == set(expected), f"{label}: parameters with gradients differ: {set(actual) ^ set(expected)}"
    largest = max(reference.abs().max().item() for reference in expected.values())
    assert largest > 0, f"{label}: every gradient of the plain path is zero (the comparison would be empty)"
    return max(
        ((actual[name] - reference).abs().max().item() / max(reference.abs().max().item(), 1e-3 * largest), name)
        for name, reference in expected.items()
    )


@pytest.mark.parametrize("combination", COMBINATIONS, ids=combination_id)
def test_option_combination_trains_like_the_plain_path(combination):
    c = combination
    model = build(c["layout"], c["trainable"], c["bptt_depth"], c["alignment"], c["segment_checkpointing"])
    if c["backbone_checkpointing"] != "off":
        enable_backbone_checkpointing(model, reentrant=c["backbone_checkpointing"] == "reentrant")
    _, ids, mask, labels = batch(c["layout"], c["padding_side"])
    scored = sum(n - 1 for n in LENGTHS)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=c["bf16"]):
        inputs = {"attention_mask": mask, "labels": labels}
        if c["inputs_embeds"]:
            inputs["inputs_embeds"] = rmt_of(model).get_input_embeddings()(ids)
        else:
            inputs["input_ids"] = ids
        if c["layout"] == "decoder":
            inputs["labels"] = labels.masked_fill(mask == 0, -100)
            inputs["num_items_in_batch"] = scored
        loss = model(**inputs).loss
    loss.backward()
    label = combination_id(c)
    key = (c["layout"], c["trainable"], c["bptt_depth"], c["alignment"])
    exact = plain_gradients(*key, False)
    error, name = relative_error(exact, gradients(model), label)
    if c["bf16"]:
        # bf16 autocast: as close to the exact (fp32) gradients as bf16 takes the plain path itself, within a factor
        # 2; batched and single-sample matmuls round differently (8 bits of mantissa), by 1-6% in these tiny models.
        # A lost contribution (a segment, a LoRA factor) is off by far more.
        limit = 2 * relative_error(exact, plain_gradients(*key, True), label)[0]
    else:
        limit = 1e-4  # the same operations in another order (per sample vs batched, recomputed)
    assert error <= limit, f"{label}: {name} differs from the plain path by {error:.2e} of its largest entry"


def test_pairwise_array_covers_every_pair():
    """The pruning is what the module docstring says: every value pair of any two options is in a combination."""
    combos = pairwise(OPTIONS)
    for (a, values_a), (b, values_b) in itertools.combinations(OPTIONS.items(), 2):
        for pair in itertools.product(values_a, values_b):
            assert any((c[a], c[b]) == pair for c in combos), (a, b, pair)
    assert len(combos) < 30  # modest CI time: ~15 of the 1,152
    assert combos == pairwise(OPTIONS)  # deterministic


def test_recomputation_switches_reentrant_checkpointing_for_its_step_only():
    """torch's reentrant checkpoint refuses `.grad()`, which segment recomputation uses: hf_rmt runs the backbone's
    checkpointing as non-reentrant for the recomputed step only. The user's setting is reentrant before and after
    (so the matrix above does exercise the reentrant mode)."""
    model = build("encoder", "all", -1, "right", segment_checkpointing=True)
    enable_backbone_checkpointing(model, reentrant=True)
    funcs = {
        getattr(m, "_gradient_checkpointing_func", None)
        for m in model.backbone.modules()
        if getattr(m, "gradient_checkpointing", False)
    }
    assert funcs and all(f.keywords.get("use_reentrant") is True for f in funcs)
    _, ids, mask, labels = batch("encoder", "right")
    model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
    # Restored after the recomputation: the user's setting is untouched.
    after = {
        getattr(m, "_gradient_checkpointing_func", None)
        for m in model.backbone.modules()
        if getattr(m, "gradient_checkpointing", False)
    }
    assert after == funcs


@pytest.mark.gpu
@pytest.mark.parametrize("bf16", [False, True])
@pytest.mark.parametrize("layout", ["encoder", "decoder"])
def test_reentrant_backbone_checkpointing_with_segment_recomputation_on_cuda(layout, bf16):
    """On a GPU (dropout off, so the plain batched path is the reference): segment recomputation with the backbone's
    reentrant checkpointing gives the plain path's gradients; under bf16 autocast without its cast cache (with it,
    the plain path casts each weight once for all segments and rounds their summed gradients differently)."""
    device = torch.device("cuda")
    _, ids, mask, labels = batch(layout, "left")
    inputs = {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device)}
    if layout == "decoder":
        inputs["labels"] = inputs["labels"].masked_fill(inputs["attention_mask"] == 0, -100)
    results = []
    for checkpointing in (False, True):
        model = build(layout, "all", -1, "right", segment_checkpointing=checkpointing).to(device)
        if checkpointing:
            enable_backbone_checkpointing(model, reentrant=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16, cache_enabled=False):
            model(**inputs).loss.backward()
        results.append(gradients(model))
    error, name = relative_error(results[0], results[1], f"{layout} bf16={bf16}")
    assert error <= (1e-2 if bf16 else 1e-4), f"{name}: {error:.2e}"
