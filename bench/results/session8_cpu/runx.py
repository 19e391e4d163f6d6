# ruff: noqa: E402  (a study script: sys.path and the thread count are set before the imports)
"""Run bench/train_algorithmic.py on one thread with the backbone modified after `build_decoder` by env variables,
then print the steps at which validation first reached 0.6 / 0.9. A copy of session7_cpu/runx.py (its knobs kept)
with three transplants of GPT-2 traits into the Llama build (gpt2_transplant.md).
Usage: [KNOBS...] python runx.py TRAIN_ALGORITHMIC_ARGS...

Knobs of session 7 (unset: unchanged):
  UNTIE=1        gpt2: GPT2Config(tie_word_embeddings=False) (now also train_algorithmic's default, --tie-embeddings no)
  TIE=1          llama: LlamaConfig(tie_word_embeddings=True), as GPT-2's transformers default
  WPE=zero       gpt2: position table zeroed and frozen (no explicit positions: the causal mask only)
  WPE_STD=s      gpt2: position table re-drawn at std s (after --embed-std)
  ACT=name       gpt2: activation_function (e.g. gelu, relu, silu)
  INV_LAYER=1    gpt2: scale_attn_by_inverse_layer_idx=True
  PROJ_STD=s     gpt2: the c_proj weights (the residual outputs) re-drawn at std s (GPT-2 scales them by 1/sqrt(2L))
  NOBIAS=1       gpt2: every attention/MLP Conv1D bias replaced by a zero buffer (no bias). Session 7's version zeroed
                 them and set requires_grad False, which hf_rmt.get_rmt_model(..., train_backbone=True) undid
                 (`backbone.requires_grad_(True)`): run Q0 of gpt2_transplant.md repeats P0 step for step.
  LLAMA_LN=1     llama: every RMSNorm replaced by a LayerNorm (weight and bias, eps 1e-5), as GPT-2's
  LLAMA_ACT=name llama: hidden_act (e.g. gelu_new, GPT-2's; the MLP stays gated)
New in session 8 (llama only):
  LLAMA_WPE=1    a learned absolute position table `model.model.wpe` (nn.Embedding(positions, hidden), drawn at
                 --embed-std like GPT-2's `wpe` in build_decoder) added to the decoder's inputs_embeds at every
                 position, memory tokens included, by a forward pre-hook on LlamaModel: at the position_ids it is
                 given, else arange(row) (what it and GPT-2 use then). RoPE is kept.
  LLAMA_MLP=gelu each LlamaMLP (gate/up/down, SwiGLU) replaced by GPT-2's non-gated MLP: Linear(h, 4h) -> GELU
                 (tanh approximation, = gelu_new) -> Linear(4h, h), drawn like Llama's Linears (normal 0.02, bias 0);
                 with biases iff LLAMA_BIAS is 1 or mlp.
  LLAMA_BIAS=1   LlamaConfig(attention_bias=True, mlp_bias=True): biases (init 0) in q/k/v/o and the MLP projections,
                 as GPT-2 has in every Linear (its norms' biases are LLAMA_LN's). LLAMA_BIAS=attn: attention_bias only
                 (q/k/v/o); LLAMA_BIAS=mlp: mlp_bias only (gate/up/down, or GeluMLP's two).
  LLAMA_ROPE=none  RoPE switched off (the rotary embedding returns cos 1, sin 0: q and k unrotated), so that with
                 LLAMA_WPE the positions are GPT-2's (a learned table at the input only).
"""

import inspect
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
KNOBS = (
    "UNTIE", "TIE", "WPE", "WPE_STD", "ACT", "INV_LAYER", "PROJ_STD", "NOBIAS", "LLAMA_LN", "LLAMA_ACT",
    "LLAMA_WPE", "LLAMA_MLP", "LLAMA_BIAS", "LLAMA_ROPE",
)  # fmt: skip


class GeluMLP(torch.nn.Module):
    """GPT-2's MLP (c_fc -> gelu_new -> c_proj, not gated) with nn.Linear layers, a drop-in for LlamaMLP."""

    def __init__(self, hidden: int, inner: int, bias: bool):
        super().__init__()
        self.c_fc = torch.nn.Linear(hidden, inner, bias=bias)
        self.act = torch.nn.GELU(approximate="tanh")
        self.c_proj = torch.nn.Linear(inner, hidden, bias=bias)
        with torch.no_grad():
            for linear in (self.c_fc, self.c_proj):
                linear.weight.normal_(0.0, 0.02)  # Llama's initializer_range, as the Linears it replaces
                if bias:
                    linear.bias.zero_()

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class NoRope(torch.nn.Module):
    """LLAMA_ROPE=none: wraps LlamaRotaryEmbedding and returns cos 1, sin 0 (the identity rotation)."""

    def __init__(self, rotary: torch.nn.Module):
        super().__init__()
        self.rotary = rotary

    def forward(self, x, position_ids):
        cos, sin = self.rotary(x, position_ids)
        return torch.ones_like(cos), torch.zeros_like(sin)


def add_position_table(model, positions: int, std: float) -> None:
    """LLAMA_WPE: a learned table added to LlamaModel's inputs_embeds by a pre-hook (RoPE kept)."""
    body = model.model
    body.wpe = torch.nn.Embedding(positions, body.config.hidden_size)
    with torch.no_grad():
        body.wpe.weight.normal_(0.0, std)

    def pre_hook(module, args, kwargs):
        embeds = kwargs.get("inputs_embeds")
        if embeds is None:  # hf_rmt always passes inputs_embeds; embed ids here for any other caller
            ids = kwargs.pop("input_ids", None)
            if ids is None:
                ids, args = args[0], args[1:]
            embeds = module.embed_tokens(ids)
        positions = kwargs.get("position_ids")
        if positions is None:
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            past = cache.get_seq_length() if cache is not None else 0
            positions = torch.arange(past, past + embeds.shape[1], device=embeds.device).unsqueeze(0)
        kwargs["inputs_embeds"] = embeds + module.wpe(positions).to(embeds.dtype)
        return args, kwargs

    body.register_forward_pre_hook(pre_hook, with_kwargs=True)


def build(arch, *args, **kwargs):
    bound = inspect.signature(original).bind(arch, *args, **kwargs).arguments
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
        if arch == "llama" and env("LLAMA_BIAS"):
            assert env("LLAMA_BIAS") in ("1", "attn", "mlp"), env("LLAMA_BIAS")
            kw["attention_bias"] = env("LLAMA_BIAS") in ("1", "attn")
            kw["mlp_bias"] = env("LLAMA_BIAS") in ("1", "mlp")
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
    if env("LLAMA_MLP") and arch == "llama":
        assert env("LLAMA_MLP") == "gelu", env("LLAMA_MLP")
        for layer in model.model.layers:
            old = layer.mlp
            layer.mlp = GeluMLP(old.hidden_size, old.intermediate_size, bias=env("LLAMA_BIAS") in ("1", "mlp"))
    if env("LLAMA_ROPE") and arch == "llama":
        assert env("LLAMA_ROPE") == "none", env("LLAMA_ROPE")
        model.model.rotary_emb = NoRope(model.model.rotary_emb)
    if env("LLAMA_WPE") and arch == "llama":
        add_position_table(model, bound["positions"], bound.get("embed_std") or 0.02)
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
        if env("NOBIAS") and arch == "gpt2":  # buffers: hf_rmt's train_backbone=True re-enables every parameter's grad
            for name, module in model.named_modules():
                if ("attn" in name or "mlp" in name) and isinstance(getattr(module, "bias", None), torch.nn.Parameter):
                    zeros = torch.zeros_like(module.bias)
                    del module.bias
                    module.register_buffer("bias", zeros)
    tied = model.lm_head.weight is model.get_input_embeddings().weight
    knobs = {k: env(k) for k in KNOBS if env(k)}
    biases = sum(p.numel() for n, p in model.named_parameters() if n.endswith(".bias"))
    position_tables = [n for n, m in model.named_modules() if n.endswith("wpe")]
    print(
        f"runx: arch {arch}, knobs {knobs}, LM head tied to the input embeddings: {tied}, head std "
        f"{float(model.lm_head.weight.detach().std()):.3f}, "
        f"norms {sorted({type(m).__name__ for m in model.modules() if 'Norm' in type(m).__name__})}, "
        f"mlp {sorted({type(m).__name__ for m in model.modules() if 'MLP' in type(m).__name__})}, "
        f"position tables {position_tables}, rotary {type(getattr(getattr(model, 'model', None), 'rotary_emb', None)).__name__}, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters ({biases:,} in biases)",
        flush=True,
    )
    return model


def main(argv):
    ta.build_decoder = build
    record = ta.main(argv)
    vals = record["training"]["validation"]
    first = {t: next((v["step"] for v in vals if v["exact_match"] >= t), None) for t in (0.6, 0.9)}
    best = max((v["exact_match"] for v in vals), default=None)
    print(
        f"runx: steps {record['training']['steps']}, first validation >= 0.6 at {first[0.6]}, >= 0.9 at "
        f"{first[0.9]}, best {best}",
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
