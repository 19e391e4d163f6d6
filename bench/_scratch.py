"""Pieces the from-scratch decoder training scripts share: a tiny Llama- or GPT-2-style backbone, teacher-forced exact
match, and a training loop over an hf_rmt `SegmentCurriculum` with a time budget.

The loop is the recipe of `train_associative_retrieval.py` and `train_seq2seq_qa1.py` made task-agnostic: AdamW,
linear warmup then a constant rate (halved on plateaus of the last stage, whose best validated weights are kept), gradient clipping at 1.0, bf16 autocast on CUDA, a stage ending when the
validation exact match at its longest length reaches the target (or at its step cap), each batch drawing its number
of segments from 1 to the stage's maximum (BABILong's sampling, so shorter inputs are not forgotten).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from hf_rmt.training import SegmentCurriculum


ARCHS = ("llama", "gpt2")
MIN_LR_SCALE = 1 / 8  # the last stage's plateau halvings stop at this fraction of the learning rate


def build_decoder(
    arch: str,
    vocab_size: int,
    hidden: int,
    layers: int,
    heads: int,
    positions: int,
    pad_id: int,
    eos_id: int,
    embed_std: float | None = None,
    tie_embeddings: bool | None = None,
    residual_init_std: float | None = None,
) -> torch.nn.Module:
    """A randomly initialised causal LM: `"llama"` (RoPE, RMSNorm, SwiGLU MLP) or `"gpt2"` (learned absolute
    positions, LayerNorm, GELU MLP), both with an MLP of 4x hidden. No dropout: the tasks are noiseless.

    `embed_std` re-draws the input embeddings (GPT-2's position table too) at that standard deviation. Why: RMT feeds
    the body's last hidden state, normalised by the final norm (about unit scale per element), back in as the next
    segment's memory embeddings; next to the default 0.02-std token embeddings, carried memory is ~50x larger than
    any token, so the layers' small updates barely change it and a segment can relay memory but hardly write to it
    (a pretrained backbone's embeddings are at the scale of its outputs). At `embed_std=1` both are alike.

    `tie_embeddings` ties the LM head to the input embeddings (True) or gives it its own weight (False); None keeps
    each arch's transformers default: GPT-2 tied, Llama untied. Tied, `embed_std` re-draws the head too: at 0.3 the
    initial logits have a std of ~0.3 sqrt(hidden) (~4 at hidden 64, a first loss of ~10 to 13 over a 13-token
    vocabulary instead of ln 13 = 2.6), and every output gradient lands on the input embeddings.
    `bench/results/session7_cpu/gpt2_study.md` measured, on CPU-scale copy at embed std 0.3 (2 seeds): GPT-2 untied
    passes 3 segments in 900 and 650 steps against 1,600 to 3,200 tied (Llama, untied: 1,050 and 700), and Llama
    tied (1 seed) slows down like GPT-2 (1,750). It does not close GPT-2's gap at 4 segments.

    `residual_init_std` re-draws the projections that write into the residual stream (GPT-2's `attn.c_proj` and
    `mlp.c_proj`, Llama's `o_proj` and `down_proj`) at that standard deviation; None keeps each arch's init: GPT-2
    scales them to 0.02 / sqrt(2 x layers) (the GPT-2 paper's scheme), Llama draws them at 0.02 like every Linear.
    Why it may matter here: the memory tokens enter at the final norm's unit scale, and the layers' writes start at
    these projections' scale (the same reasoning as `embed_std`); 0.02 in GPT-2 is Llama's init. Measured
    (gpt2_study.md, untied GPT-2 on copy): 4 segments learned with one seed of two, not with the other.
    """
    if arch == "llama":
        config = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            intermediate_size=4 * hidden,
            max_position_embeddings=positions,
            pad_token_id=pad_id,
            bos_token_id=None,
            eos_token_id=eos_id,
            tie_word_embeddings=bool(tie_embeddings),
        )
        model_class = LlamaForCausalLM
    elif arch == "gpt2":
        config = GPT2Config(
            vocab_size=vocab_size,
            n_embd=hidden,
            n_layer=layers,
            n_head=heads,
            n_positions=positions,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            pad_token_id=pad_id,
            bos_token_id=eos_id,
            eos_token_id=eos_id,
            tie_word_embeddings=tie_embeddings is None or tie_embeddings,
        )
        model_class = GPT2LMHeadModel
    else:
        raise ValueError(f"arch must be one of {list(ARCHS)}, got {arch!r}")
    config._attn_implementation = "sdpa"
    model = model_class(config)
    if embed_std is not None:
        tables = [model.get_input_embeddings()] + ([model.transformer.wpe] if arch == "gpt2" else [])
        with torch.no_grad():
            for table in tables:
                table.weight.normal_(0.0, embed_std)
    if residual_init_std is not None:
        with torch.no_grad():
            for name, module in model.named_modules():
                if name.endswith(("attn.c_proj", "mlp.c_proj", "self_attn.o_proj", "mlp.down_proj")):
                    module.weight.normal_(0.0, residual_init_std)
    return model


def compile_body(model) -> None:
    """Compile the transformers body of an hf_rmt model in place (`torch.compile`, static shapes).

    Every segment calls the body with the same shape (`[read memory | segment | write memory]` at the same batch
    size), so one graph serves all segments of a batch and of the whole curriculum; the memory wiring around it stays
    eager. For these tiny models a step is bound by Python and kernel launches, and this cuts it ~2.5x on CPU with
    equal losses and gradients (tests/test_bench.py checks the equality). Each new batch size compiles once more.
    """
    if model.config.memory_type != "rmt":
        # ARMT reads and writes its memory through forward hooks added to the layers for each call; torch.compile
        # does not guard on module hooks (`skip_nnmodule_hook_guards`), so a graph traced with one call's hooks would
        # be replayed with another's (or recompiled each call). Measured: it breaks as soon as an RMT graph exists.
        raise ValueError(
            f"compile_body compiles plain RMT models only; memory_type={model.config.memory_type!r} runs eagerly "
            "(drop --compile yes)"
        )
    model.backbone.base_model.compile(dynamic=False)


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (the weights stay fp32), nothing elsewhere."""
    if device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


@torch.no_grad()
def exact_match(
    model, ids: torch.Tensor, labels: torch.Tensor, autocast, batch_size: int = 512
) -> tuple[float, float]:
    """Teacher-forced (exact match, token accuracy) over the scored tokens (`labels != -100`): a sample is exact when
    the argmax at every scored position is right, which is exactly when greedy decoding writes the whole answer (the
    first wrong greedy token is the first wrong teacher-forced one)."""
    was_training = model.training
    model.eval()
    exact = right = scored = 0
    for start in range(0, len(ids), batch_size):
        chunk, gold = ids[start : start + batch_size], labels[start : start + batch_size]
        with autocast():
            logits = model(chunk).logits
        # Token k predicts token k + 1, as in the model's loss.
        predicted, target = logits[:, :-1].argmax(-1), gold[:, 1:]
        mask = target != -100
        hit = (predicted == target) & mask
        exact += int((hit | ~mask).all(dim=1).sum())
        right += int(hit.sum())
        scored += int(mask.sum())
    model.train(was_training)
    return exact / len(ids), right / max(scored, 1)


def train_curriculum(
    model,
    curriculum: SegmentCurriculum,
    make_batch: Callable[[int, int], tuple[torch.Tensor, torch.Tensor]],
    validate: Callable[[int], float],
    *,
    max_steps: int,
    lr: float,
    warmup_steps: int,
    eval_every: int,
    log_every: int,
    time_budget: float | None,
    device: torch.device,
    final_target: float = 1.0,
    final_patience: int | None = None,
    say: Callable[[str], None] = print,
) -> dict:
    """
    Train `model` through `curriculum` until its last stage reaches `final_target`, `max_steps` or `time_budget`
    seconds.

    Args:
        make_batch: `(batch number, number of segments) -> (input_ids, labels)` on `device`.
        validate: `number of segments -> validation exact match` at that length.
        final_target: Validation exact match at the last stage that ends training early (GPU time is scarce).
        final_patience: In the last stage, halve the learning rate after this many validations without a new best
            (None: never), down to `MIN_LR_SCALE` of it. Either way the last stage's best validated weights are
            restored at the end. Why: at a constant 1e-3 a converged model's exact match swings between validations
            (reverse at 9 segments went 0.95, 0.83, 0.20, 0.85 in 150 steps, session 5), so the state training
            happens to stop in is a lottery.

    Returns a record: steps, seconds, why training stopped, the stages as run, the loss log and the validations.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    rate = {"scale": 1.0}  # the last stage's plateau halvings, on top of the warmup
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / max(warmup_steps, 1)) * rate["scale"]
    )
    best = {"exact_match": -1.0, "step": None, "state": None, "since": 0}
    autocast = autocast_for(device)
    began = time.perf_counter()
    stages = [{"step": 0, "max_segments": curriculum.schedule[0]}]
    log, validations, losses, step, stopped = [], [], [], 0, "max_steps"
    model.train()
    while step < max_steps:
        batch_number, segments = curriculum.next_batch()
        ids, labels = make_batch(batch_number, segments)
        with autocast():
            loss = model(ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach())  # no host sync per step: read every `log_every` steps
        curriculum.on_batches_consumed(1)
        step += 1
        if curriculum.update(step):
            upcoming = curriculum.schedule[curriculum.stage_of_batch(curriculum.consumed_batches)]
            stages.append({"step": step, "max_segments": upcoming})
            say(f"  step {step}: stage of up to {upcoming} segments")
        if step % log_every == 0 or step == max_steps:
            mean = float(torch.stack(losses[-log_every:]).float().mean())
            log.append({"step": step, "loss": mean, "seconds": round(time.perf_counter() - began, 1)})
            say(f"  step {step}: loss {mean:.4f} ({time.perf_counter() - began:.0f} s)")
        if step % eval_every == 0 or step == max_steps:
            segments = curriculum.max_segments
            accuracy = validate(segments)
            validations.append({"step": step, "segments": segments, "exact_match": accuracy})
            say(f"  step {step}: validation exact match {accuracy:.3f} at {segments} segments")
            last_stage = curriculum.stage == curriculum.num_stages - 1
            if last_stage and accuracy > best["exact_match"]:
                state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best.update(exact_match=accuracy, step=step, state=state, since=0)
            elif last_stage:
                best["since"] += 1
                if final_patience is not None and best["since"] >= final_patience and rate["scale"] > MIN_LR_SCALE:
                    # Floored: on a long plateau (associative retrieval's, thousands of steps) repeated halvings
                    # would decay the rate to nothing before the escape (session 6: x0.002 after 4,700 steps).
                    rate["scale"] /= 2
                    best["since"] = 0
                    say(f"  step {step}: no new best in {final_patience} validations, lr x{rate['scale']:g}")
            if last_stage and accuracy >= final_target:
                stopped = "target reached at the last stage"
                break
            curriculum.report_metric(accuracy)
        if time_budget is not None and time.perf_counter() - began > time_budget:
            stopped = "time budget"
            say(f"  stopped by the time budget ({time_budget:.0f} s) at step {step}")
            break
    restored = best["state"] is not None and best["step"] != step
    if restored:
        model.load_state_dict(best["state"])
        say(f"  restored the last stage's best validated weights (step {best['step']}, {best['exact_match']:.3f})")
    first = [entry["loss"] for entry in log[:1]]
    return {
        "steps": step,
        "seconds": round(time.perf_counter() - began, 1),
        "stopped_by": stopped,
        "stopped_by_time": stopped == "time budget",
        "stages": stages,
        "reached_segments": curriculum.max_segments,
        "first_logged_loss": first[0] if first else None,
        "last_logged_loss": log[-1]["loss"] if log else None,
        "log": log,
        "validation": validations,
        "best_validation": {"step": best["step"], "exact_match": best["exact_match"] if best["step"] else None},
        "restored_best": restored,
        "final_lr_scale": rate["scale"],
    }
