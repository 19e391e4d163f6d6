# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Writes `tests/fixtures/pre_redesign/`: tiny hf_rmt checkpoints in each saved format, with the logits they load to.

Run once, with the code *before* the package redesign of issue 13 (commit ae4eb63), and never again:
`tests/test_pre_redesign_checkpoints.py` asserts that the code of today loads these files to exactly (`torch.equal`)
the logits stored here, which is what "checkpoints written before the redesign load bit-identically" means.

    python scripts/make_pre_redesign_fixtures.py

Per backbone (a BERT sequence classifier and a GPT-2 causal LM, both tiny and random), it writes:
- `backbone-<arch>/`: the backbone (transformers format), for adapters to attach to (`backbone=`);
- `full-<arch>/`: a full checkpoint (`config.json` + `model.safetensors`);
- `adapter-<arch>/`: an adapter-only checkpoint (`config.json` + `rmt_adapter.safetensors` + index);
- `lora-<arch>/`: `hf-rmt train`'s LoRA + memory format (peft adapter beside the RMT `config.json`);
- `expected-<arch>.safetensors`: the inputs and, per format, the logits of the checkpoint as the old code loads it.
"""

from __future__ import annotations

import os
import shutil
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification


sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import hf_rmt  # noqa: E402


OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "pre_redesign")
# Smaller than tests/tiny_models.py so that the committed files stay a few KB each.
BACKBONES = {
    "bert": (
        AutoModelForSequenceClassification,
        {
            "vocab_size": 40,
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 20,
            "max_position_embeddings": 32,
            "num_labels": 3,
            "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0,
        },
        {"num_memory_tokens": 2, "segment_size": 6, "cls_token_id": 1, "sep_token_id": 2},
    ),
    "gpt2": (
        AutoModelForCausalLM,
        {
            "vocab_size": 40,
            "n_embd": 16,
            "n_layer": 1,
            "n_head": 2,
            "n_positions": 32,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
        },
        {"num_memory_tokens": 2, "segment_size": 6},
    ),
}


def inputs() -> dict[str, torch.Tensor]:
    """Three samples of different lengths, padding inside the row, several segments each."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 40, (3, 17), generator=generator)
    mask = torch.ones(3, 17, dtype=torch.long)
    mask[1, :4] = 0
    mask[2, 9:] = 0
    mask[2, 2] = 0
    return {"input_ids": ids, "attention_mask": mask}


def logits(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(**batch).logits.detach().clone().contiguous()


def perturb(model) -> None:
    """Moves every trainable tensor away from its initial value, as training would."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * 0.1)


def main() -> None:
    from peft import get_peft_model  # noqa: PLC0415

    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    batch = inputs()
    for arch, (auto, base_kwargs, rmt_kwargs) in BACKBONES.items():
        torch.manual_seed(0)
        base_config = AutoConfig.for_model(arch, attn_implementation="eager", **base_kwargs)
        backbone_dir = os.path.join(OUT, f"backbone-{arch}")
        auto.from_config(base_config).save_pretrained(backbone_dir)
        hub_id = f"hf-rmt-fixtures/tiny-{arch}"  # recorded name; the test passes the backbone as `backbone=`

        def fresh():
            backbone = auto.from_pretrained(backbone_dir, attn_implementation="eager")  # noqa: B023
            config = hf_rmt.RMTConfig(base_model_name_or_path=hub_id, **rmt_kwargs)  # noqa: B023
            return hf_rmt.get_rmt_model(backbone, config).eval()

        expected = dict(batch)
        model = fresh()
        perturb(model)
        model.save_pretrained(os.path.join(OUT, f"adapter-{arch}"), adapter_only=True, model_card=False)
        loaded = auto.from_pretrained(
            os.path.join(OUT, f"adapter-{arch}"), backbone=auto.from_pretrained(backbone_dir)
        ).eval()
        expected["adapter"] = logits(loaded, batch)
        torch.testing.assert_close(expected["adapter"], logits(model, batch))  # eager vs sdpa: ulps

        model = fresh()
        model.set_trainable(train_backbone=True)
        perturb(model)
        model.save_pretrained(os.path.join(OUT, f"full-{arch}"), adapter_only=False, model_card=False)
        expected["full"] = logits(auto.from_pretrained(os.path.join(OUT, f"full-{arch}")).eval(), batch)
        torch.testing.assert_close(expected["full"], logits(model.eval(), batch))  # eager vs sdpa: ulps

        model = fresh()
        peft_model = get_peft_model(model, hf_rmt.lora_config(model, r=2, target_modules="all-linear"))
        perturb(peft_model)
        lora_dir = os.path.join(OUT, f"lora-{arch}")
        peft_model.save_pretrained(lora_dir)
        model.config.architectures = [type(model).__name__]
        with hf_rmt.saving.recorded_backbone_name(model.config):
            model.config.save_pretrained(lora_dir)
        loaded = auto.from_pretrained(lora_dir, backbone=auto.from_pretrained(backbone_dir)).eval()
        expected["lora"] = logits(loaded, batch)  # LoRA merged on load: what the old code gave, not the peft model's
        save_file(expected, os.path.join(OUT, f"expected-{arch}.safetensors"))
    for root, _, files in os.walk(OUT):
        for name in files:
            if name == "README.md":  # peft's generated card: nothing of the format, 5 KB of template
                os.remove(os.path.join(root, name))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
