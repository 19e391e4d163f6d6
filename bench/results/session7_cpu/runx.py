# ruff: noqa: E402  (a study script: sys.path and the thread count are set before the imports)
"""Run bench/train_algorithmic.py on one thread with the backbone modified after `build_decoder` by env variables
(each a hypothesis of gpt2_study.md), then print the steps at which validation first reached 0.6 / 0.9.
Usage: [KNOBS...] python runx.py TRAIN_ALGORITHMIC_ARGS...

Knobs (unset: unchanged):
  UNTIE=1        gpt2: GPT2Config(tie_word_embeddings=False): the LM head its own weight (GPT-2's init, std 0.02), as
                 Llama's default. (Setting a new lm_head.weight after construction does not stick: the wrapped model
                 ends up tied again, run C2 of gpt2_study.md.)
  TIE=1          llama: LlamaConfig(tie_word_embeddings=True), as GPT-2's default
  WPE=zero       gpt2: position table zeroed and frozen (no explicit positions: the causal mask only)
  WPE_STD=s      gpt2: position table re-drawn at std s (after --embed-std)
  ACT=name       gpt2: activation_function (e.g. gelu, relu, silu)
  INV_LAYER=1    gpt2: scale_attn_by_inverse_layer_idx=True
  PROJ_STD=s     gpt2: the c_proj weights (the residual outputs) re-drawn at std s (GPT-2 scales them by 1/sqrt(2L))
  NOBIAS=1       gpt2: every Linear/Conv1D bias zeroed and frozen
  LLAMA_LN=1     llama: every RMSNorm replaced by a LayerNorm (weight and bias, eps 1e-5), as GPT-2's
  LLAMA_ACT=name llama: hidden_act (e.g. gelu_new, GPT-2's; the MLP stays gated)
"""

import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
import torch


torch.set_num_threads(1)
import _scratch
import train_algorithmic as ta


original = _scratch.build_decoder
env = os.environ.get


def build(arch, *args, **kwargs):
    name = {"gpt2": "GPT2Config", "llama": "LlamaConfig"}[arch]
    real = getattr(_scratch, name)

    def config(**kw):
        if arch == "gpt2" and env("ACT"):
            kw["activation_function"] = env("ACT")
        if arch == "gpt2" and env("INV_LAYER"):
            kw["scale_attn_by_inverse_layer_idx"] = True
        if arch == "gpt2" and env("UNTIE"):
            kw["tie_word_embeddings"] = False
        if arch == "llama" and env("TIE"):
            kw["tie_word_embeddings"] = True
        if arch == "llama" and env("LLAMA_ACT"):
            kw["hidden_act"] = env("LLAMA_ACT")
        return real(**kw)

    setattr(_scratch, name, config)
    try:
        model = original(arch, *args, **kwargs)
    finally:
        setattr(_scratch, name, real)
    if env("LLAMA_LN") and arch == "llama":
        for parent in list(model.modules()):
            for child_name, child in list(parent.named_children()):
                if type(child).__name__ == "LlamaRMSNorm":
                    setattr(parent, child_name, torch.nn.LayerNorm(child.weight.shape[0], eps=1e-5))
    with torch.no_grad():
        if env("WPE_STD") and arch == "gpt2":
            model.transformer.wpe.weight.normal_(0, float(env("WPE_STD")))
        if env("WPE") == "zero" and arch == "gpt2":
            model.transformer.wpe.weight.zero_()
            model.transformer.wpe.weight.requires_grad_(False)
        if env("PROJ_STD") and arch == "gpt2":
            for block in model.transformer.h:
                block.attn.c_proj.weight.normal_(0, float(env("PROJ_STD")))
                block.mlp.c_proj.weight.normal_(0, float(env("PROJ_STD")))
        if env("NOBIAS") and arch == "gpt2":
            for name, p in model.named_parameters():
                if name.endswith(".bias") and ("attn" in name or "mlp" in name):
                    p.zero_()
                    p.requires_grad_(False)
    tied = model.lm_head.weight is model.get_input_embeddings().weight
    knobs = {
        k: env(k)
        for k in ("UNTIE", "TIE", "WPE", "WPE_STD", "ACT", "INV_LAYER", "PROJ_STD", "NOBIAS", "LLAMA_LN", "LLAMA_ACT")
        if env(k)
    }
    print(
        f"runx: arch {arch}, knobs {knobs}, LM head tied to the input embeddings: {tied}, head std "
        f"{float(model.lm_head.weight.detach().std()):.3f}, "
        f"norms {sorted({type(m).__name__ for m in model.modules() if 'Norm' in type(m).__name__})}",
        flush=True,
    )
    return model


ta.build_decoder = build
record = ta.main(sys.argv[1:])
vals = record["training"]["validation"]
first = {t: next((v["step"] for v in vals if v["exact_match"] >= t), None) for t in (0.6, 0.9)}
best = max((v["exact_match"] for v in vals), default=None)
print(
    f"runx: steps {record['training']['steps']}, first validation >= 0.6 at {first[0.6]}, >= 0.9 at {first[0.9]}, "
    f"best {best}",
    flush=True,
)
