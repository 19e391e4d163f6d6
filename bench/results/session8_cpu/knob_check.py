# ruff: noqa: E402  (a study script: sys.path and the thread count are set before the imports)
"""No training: build the copy run's Llama (hidden 64, 2 layers, 8 memory tokens, segments of 8) with each knob of
runx.py, wrap it with hf_rmt as train_algorithmic does, and show that the knob changed the model: parameter count,
module types, a 3-segment forward/backward through the wrapper (loss; gradient norm of the new parameters), and for
LLAMA_WPE the wrapped model's logits with the table as drawn against the table zeroed (the pre-hook is on the path);
each arm's logits against the plain build's of the same seed; then GPT-2's trainable biases with and without NOBIAS.
Usage: python knob_check.py"""

import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import runx  # sets sys.path and one thread
import torch

import hf_rmt


VOCAB, PAD, EOS, HIDDEN, MEM, SEG = 13, 0, 1, 64, 8, 8
ARMS = {"plain": {}, "wpe": {"LLAMA_WPE": "1"}, "gelu": {"LLAMA_MLP": "gelu"}, "bias": {"LLAMA_BIAS": "1"}}
ARMS["all3"] = {**ARMS["wpe"], **ARMS["gelu"], **ARMS["bias"]}
ARMS["bias_attn"] = {"LLAMA_BIAS": "attn"}
ARMS["bias_mlp"] = {"LLAMA_BIAS": "mlp"}
ARMS["norope"] = {"LLAMA_ROPE": "none"}
ARMS["wpe_norope"] = {"LLAMA_WPE": "1", "LLAMA_ROPE": "none"}


def wrapped(knobs, arch="llama"):
    for k in runx.KNOBS:
        os.environ.pop(k, None)
    os.environ.update(knobs)
    torch.manual_seed(0)
    backbone = runx.build(arch, VOCAB, HIDDEN, 2, 2, SEG + 2 * MEM, PAD, EOS, embed_std=0.3, tie_embeddings=False)
    config = hf_rmt.RMTConfig(num_memory_tokens=MEM, segment_size=SEG, memory_type="rmt")
    return hf_rmt.get_rmt_model(backbone, config, train_backbone=True)


torch.manual_seed(1)
ids = torch.randint(2, VOCAB, (4, 3 * SEG))
plain = None
for arm, knobs in ARMS.items():
    model = wrapped(knobs)
    with torch.no_grad():
        logits = model(ids).logits
    plain = logits if plain is None else plain
    print(
        f"       max |logits - plain's| (same seed; 0 would mean the knob did nothing): {float((logits - plain).abs().max()):.2e}"
    )
    out = model(ids, labels=ids)
    out.loss.backward()
    new = {
        n: float(p.grad.norm())
        for n, p in model.named_parameters()
        if any(s in n for s in ("wpe", "c_fc", "c_proj", ".bias")) and p.grad is not None
    }
    shown = dict(list(new.items())[:4])
    print(
        f"{arm:5s}: wrapped {sum(p.numel() for p in model.parameters()):,} parameters, loss {float(out.loss.detach()):.4f}, "
        f"grad norms of new parameters (first 4 of {len(new)}): {shown}"
    )
    if "LLAMA_ROPE" in knobs:  # without RoPE nor a table, attention cannot tell positions: shifting changes nothing
        with torch.no_grad():
            cos, sin = model.backbone.model.rotary_emb(torch.zeros(1, 5, HIDDEN), torch.arange(5)[None])
        print(f"       rotary: cos all 1 {bool((cos == 1).all())}, sin all 0 {bool((sin == 0).all())}")
    if "LLAMA_WPE" in knobs:
        table = next(m for n, m in model.named_modules() if n.endswith("wpe"))
        with torch.no_grad():
            a = model(ids).logits
            saved = table.weight.clone()
            table.weight.zero_()
            b = model(ids).logits
            table.weight.copy_(saved)
        print(
            f"       max |logits(table) - logits(table zeroed)| through the wrapper: {float((a - b).abs().max()):.3f}"
        )

# GPT-2's NOBIAS (the reverse transplant): which bias parameters the wrapped, trainable model still has.
for knobs in ({}, {"NOBIAS": "1"}):
    model = wrapped(knobs, "gpt2")
    biases = [n for n, p in model.named_parameters() if n.endswith(".bias") and p.requires_grad]
    print(f"gpt2 {knobs}: {sum(p.numel() for p in model.parameters()):,} parameters; trainable biases: {biases}")
