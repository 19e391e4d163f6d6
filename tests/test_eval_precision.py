"""How evaluations run on a GPU (issue 12's evaluation speed): float32 weights under bf16 autocast, weights already
in bf16 as they are (no per-step casts), `hf-rmt eval` loading the weights in bf16 on a GPU unless --fp32, and
FlashAttention first on CUDA."""

from __future__ import annotations

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone

import hf_rmt
from hf_rmt.cli import _eval_dtype
from hf_rmt.eval_precision import SDPA_PRIORITY, default_autocast, eval_precision, sdpa_priority, weights_dtype
from hf_rmt.evaluation import evaluate_by_length


def tiny_classifier():
    return hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), rmt_config("bert"))


def test_autocast_is_the_default_only_for_float32_weights_on_cuda():
    model = tiny_classifier()
    assert weights_dtype(model) == torch.float32
    assert default_autocast(model, torch.device("cuda"))
    assert not default_autocast(model, torch.device("cpu"))
    model.to(torch.bfloat16)
    assert weights_dtype(model) == torch.bfloat16
    assert not default_autocast(model, torch.device("cuda"))  # already bf16: no autocast casts


@pytest.mark.parametrize("autocast", [True, False])
def test_eval_precision_enters_autocast_only_when_asked(autocast):
    with eval_precision(torch.device("cpu"), autocast):
        assert torch.is_autocast_enabled("cpu") is autocast
        if autocast:
            assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")


def test_flash_attention_comes_first_among_the_kernels_the_caller_left_enabled():
    backends = torch.nn.attention.SDPBackend
    assert SDPA_PRIORITY[0] == backends.FLASH_ATTENTION and SDPA_PRIORITY[-1] == backends.MATH
    assert sdpa_priority() == SDPA_PRIORITY
    with torch.nn.attention.sdpa_kernel([backends.EFFICIENT_ATTENTION, backends.MATH]):  # a caller's own choice
        assert sdpa_priority() == [backends.EFFICIENT_ATTENTION, backends.MATH]


def test_hf_rmt_eval_loads_bf16_weights_on_a_gpu_unless_fp32():
    assert _eval_dtype("cuda", fp32=False) is torch.bfloat16
    assert _eval_dtype("cuda", fp32=True) is None
    assert _eval_dtype("cpu", fp32=False) is None


@pytest.mark.gpu
def test_bf16_weights_under_the_eval_context_give_the_float32_logits_on_cuda():
    """What `hf-rmt eval` runs on a GPU (bf16 weights, no autocast, FlashAttention first) gives the float32 model's
    logits to bf16 rounding, over 4 segments of memory."""
    import copy

    model = tiny_classifier().cuda().eval()
    ids = torch.randint(5, 99, (8, 4 * model.config.segment_size), device="cuda")
    half = copy.deepcopy(model).to(torch.bfloat16)
    with torch.no_grad():
        full_logits = model(input_ids=ids).logits
        with eval_precision(torch.device("cuda"), default_autocast(half, torch.device("cuda"))):
            assert not torch.is_autocast_enabled("cuda")
            half_logits = half(input_ids=ids).logits
    assert half_logits.dtype == torch.bfloat16
    torch.testing.assert_close(half_logits.float(), full_logits, rtol=0.05, atol=0.05)


def test_every_batch_of_an_evaluation_runs_in_the_precision_asked_and_nothing_leaks(backbone_dir):
    """The precision context is entered afresh for each batch: all batches, not only the first, run under autocast
    when asked, and autocast is off again outside the forward passes and after the evaluation."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    backbone = AutoModelForSequenceClassification.from_pretrained(backbone_dir)
    config = hf_rmt.RMTConfig(num_memory_tokens=4, segment_size=16)
    model = hf_rmt.get_rmt_model(backbone, config, tokenizer=tokenizer)
    seen = []
    model.backbone.register_forward_pre_hook(lambda module, args: seen.append(torch.is_autocast_enabled("cpu")))
    evaluate_by_length(model, tokenizer, "memorize", [32], num_samples=6, batch_size=2, progress=False, bf16=True)
    assert len(seen) >= 3 and all(seen)  # 3 batches of 2 segments each, every segment under autocast
    assert not torch.is_autocast_enabled("cpu")
