# ruff: noqa: E402  (a study script: sys.path and the thread count are set before the imports)
"""Hypothesis (a), no training: is hf_rmt's GPT-2 wiring what we think? For each arch and memory type, on a tiny
random `build_decoder` model: (1) the position ids each segment's row gets; (2) every segment's logits of the wrapped
model against a hand-made recurrence that calls the bare backbone on `[read mem | segment | write mem]` with explicit
positions 0..row-1 (RMT: memory = the last m outputs of the body; ARMT: the layers' reads and writes done by hand with
the module's own AssociativeLayer maths, through block pre/post hooks written here). Prints the max |difference|."""

import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
import torch


torch.set_num_threads(1)
from _scratch import build_decoder

import hf_rmt


def by_hand(model, backbone, ids, seg, m, memory_type):
    """The recurrence written out: returns the logits of every segment's content positions, concatenated."""
    emb = backbone.get_input_embeddings()
    blocks = list(backbone.transformer.h if hasattr(backbone, "transformer") else backbone.model.layers)
    batch, out = ids.shape[0], []
    # the update rule (RMT's or ARMT's): the module that has an initial state and reads memory tokens from it
    updater = [mod for mod in model.modules() if hasattr(mod, "initial_state")][0]
    state = updater.initial_state(batch)
    mem = state if memory_type == "rmt" else updater.read(state)
    state = list(state) if memory_type != "rmt" else state
    for start in range(0, ids.shape[1], seg):
        x = emb(ids[:, start : start + seg])
        L = x.shape[1]
        if memory_type == "rmt":
            row = torch.cat([mem, x, mem], 1)
        else:
            tokens = updater.read(tuple(state))
            row = torch.cat([tokens, x, tokens], 1)
        pos = torch.arange(row.shape[1])[None].expand(batch, -1)
        handles, written = [], {}
        if memory_type != "rmt":
            for i, block in enumerate(blocks):

                def pre(mod, args, kwargs, i=i):
                    h = args[0]
                    layer = updater.layers[i]
                    return (layer.read(h, state[2 * i], state[2 * i + 1]), *args[1:]), kwargs

                def post(mod, args, output, i=i):
                    h = output[0] if isinstance(output, (tuple, list)) else output
                    written[i] = updater.layers[i].write(h[:, -m:], state[2 * i], state[2 * i + 1])

                handles.append(block.register_forward_pre_hook(pre, with_kwargs=True))
                handles.append(block.register_forward_hook(post))
        try:
            o = backbone(inputs_embeds=row, position_ids=pos, output_hidden_states=True)
        finally:
            for h in handles:
                h.remove()
        out.append(o.logits[:, m : m + L])
        if memory_type == "rmt":
            mem = o.hidden_states[-1][:, -m:]
        else:
            state = [t for i in range(len(blocks)) for t in written[i]]
    return torch.cat(out, 1)


torch.manual_seed(0)
for arch in ("gpt2", "llama"):
    for memory_type in ("rmt", "associative"):
        m, seg, vocab = 4, 4, 20
        backbone = build_decoder(arch, vocab, 32, 2, 2, seg + 2 * m, 0, 1, embed_std=0.02)
        config = hf_rmt.RMTConfig(
            num_memory_tokens=m,
            segment_size=seg,
            memory_type=memory_type,
            memory_dim=8 if memory_type == "associative" else None,
        )
        model = hf_rmt.get_rmt_model(backbone, config, train_backbone=True).eval()
        with torch.no_grad():  # make ARMT's zero-initialised W_V non-zero so that the reads matter
            for name, p in model.named_parameters():
                if name.endswith("value.weight"):
                    p.normal_(0, 0.1)
        ids = torch.randint(2, vocab, (3, 3 * seg))
        seen = []
        handle = backbone.base_model.register_forward_pre_hook(
            lambda mod, args, kwargs: seen.append(kwargs.get("position_ids")), with_kwargs=True
        )
        with torch.no_grad():
            wrapped = model(ids).logits
        handle.remove()
        with torch.no_grad():
            hand = by_hand(model, backbone, ids, seg, m, memory_type)
        print(
            f"{arch:5s} {memory_type:11s}: position_ids passed {[None if p is None else p[0].tolist() for p in seen]}"
            f" (None = the backbone's default arange); max |wrapped - by hand| logits "
            f"{float((wrapped - hand).abs().max()):.2e} (logit scale {float(hand.abs().max()):.2f})",
            flush=True,
        )
        # padded batch: a shorter sample (left-padded last segment) against itself alone
        short = ids[:1, : 2 * seg + 2]
        with torch.no_grad():
            alone = model(short).logits
            padded_batch = torch.cat([short, torch.zeros(1, seg - 2, dtype=torch.long)], 1)
            together = model(
                torch.cat([padded_batch, ids[1:2]]),
                attention_mask=torch.cat(
                    [torch.cat([torch.ones(1, 2 * seg + 2), torch.zeros(1, seg - 2)], 1), torch.ones(1, 3 * seg)]
                ).long(),
            ).logits[:1, : 2 * seg + 2]
        print(f"      padded vs alone: {float((alone - together).abs().max()):.2e}", flush=True)
