"""Checkpoints written by the code before the package redesign (issue 13) load to the very same logits.

The files in `tests/fixtures/pre_redesign/` were written once by `scripts/make_pre_redesign_fixtures.py` at commit
ae4eb63, with the logits that code loaded them to; a restructuring must not move them.

"Not move" is to 1e-6, not to the bit: float32 matmuls on the CPU take different kernel paths on different processors
(oneDNN/MKL dispatch by instruction set), so the same code on the same weights gives logits that differ in the last
bits between machines: 4.5e-8 at most between the machine that wrote the fixtures and an AVX-512 one, which failed
`torch.equal`. A real change (a weight loaded wrong, memory placed elsewhere, a dtype changed) moves them by far
more.
"""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

import hf_rmt


FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "pre_redesign")
AUTO = {"bert": AutoModelForSequenceClassification, "gpt2": AutoModelForCausalLM}
CLASSES = {"bert": hf_rmt.RMTForSequenceClassification, "gpt2": hf_rmt.RMTForCausalLM}


@pytest.mark.parametrize("fmt", ["full", "adapter", "lora"])
@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_pre_redesign_checkpoint_loads_bit_identically(arch, fmt):
    auto = AUTO[arch]
    expected = load_file(os.path.join(FIXTURES, f"expected-{arch}.safetensors"))
    folder = os.path.join(FIXTURES, f"{fmt}-{arch}")
    if fmt == "full":
        model = auto.from_pretrained(folder)
    else:  # the recorded backbone id is a placeholder: the backbone is given, as peft's base model is
        model = auto.from_pretrained(folder, backbone=auto.from_pretrained(os.path.join(FIXTURES, f"backbone-{arch}")))
    assert type(model) is CLASSES[arch]
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=expected["input_ids"], attention_mask=expected["attention_mask"]).logits
    torch.testing.assert_close(logits, expected[fmt], rtol=0, atol=1e-6)
