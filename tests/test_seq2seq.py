"""RMTForSeq2SeqLM over tiny random T5 (relative positions), mT5-style (gated FFN, untied head) and BART (absolute
positions, a BOS in each row): the guarantees every hf_rmt model gives, and the errors."""

import pytest
import torch
from tiny_models import SEQ2SEQ, rmt_config, tiny_backbone, train_steps

import hf_rmt


def wrap(arch, **config_kwargs):
    model = hf_rmt.get_rmt_model(tiny_backbone(arch, "seq2seq-lm"), rmt_config(arch, **config_kwargs)).eval()
    with torch.no_grad():  # "trained" memory, far from the tiny tokens' scale, so that memory visibly matters
        model.memory.weight.normal_()
    return model


def batch_with_padding(seed=0):
    """Three inputs of 29, 20 and 22 tokens (4, 3 and 3 segments of 8; right- and left-padded) and targets of 5, 3
    and 4 tokens (-100 after a target's end)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 99, (3, 29), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    mask[2, :7] = 0
    labels = torch.randint(5, 99, (3, 5), generator=generator)
    labels[1, 3:] = -100
    labels[2, 4:] = -100
    return ids, mask, labels


def row_of(model, memory, ids):
    """The encoder row `[BOS] mem segment [EOS]` built by hand (BOS only where the backbone has one)."""
    embed = model.backbone.get_input_embeddings()
    batch = ids.shape[0]
    opening = (
        [embed(torch.full((batch, 1), model.config.cls_token_id))] if model.config.cls_token_id is not None else []
    )
    return torch.cat([*opening, memory, embed(ids), embed(torch.full((batch, 1), model.config.sep_token_id))], dim=1)


@pytest.mark.parametrize("arch", SEQ2SEQ)
def test_layout_and_special_tokens_come_from_the_backbone(arch):
    model = wrap(arch)
    assert type(model) is hf_rmt.RMTForSeq2SeqLM and model.config.memory_layout == "seq2seq"
    assert model.config.resolved_segment_alignment == "right"  # a full last segment: the one the decoder reads
    config = model.backbone.config
    want_bos = 0 if arch == "bart" else None  # BART's <s>; T5 has no BOS
    assert (model.config.cls_token_id, model.config.sep_token_id) == (want_bos, config.eos_token_id)
    assert model.layout.row_length(8) == 8 + 4 + 1 + (want_bos is not None)


@pytest.mark.parametrize("arch", SEQ2SEQ)
def test_single_segment_equals_the_backbone_on_a_hand_built_row(arch):
    model = wrap(arch)
    ids = torch.randint(5, 99, (2, 6))
    labels = torch.randint(5, 99, (2, 4))
    memory = model.memory.initial_state(2)
    with torch.no_grad():
        want = model.backbone(inputs_embeds=row_of(model, memory, ids), labels=labels)
        encoder = model.backbone.get_encoder()(inputs_embeds=row_of(model, memory, ids)).last_hidden_state
        got = model(ids, labels=labels)
    torch.testing.assert_close(got.logits, want.logits)
    torch.testing.assert_close(got.loss, want.loss)
    torch.testing.assert_close(got.encoder_last_hidden_state, encoder)
    offset = 1 if model.config.cls_token_id is not None else 0
    torch.testing.assert_close(got.memory_state, encoder[:, offset : offset + 4])


@pytest.mark.parametrize("arch", SEQ2SEQ)
def test_batch_with_padding_equals_each_sample_alone(arch):
    model = wrap(arch)
    ids, mask, labels = batch_with_padding()
    with torch.no_grad():
        batched = model(ids, attention_mask=mask, labels=labels)
        losses = []
        for i in range(3):
            real = labels[i] != -100
            alone = model(ids[i][mask[i].bool()][None], labels=labels[i][real][None])
            torch.testing.assert_close(batched.logits[i][real], alone.logits[0], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(batched.memory_state[i], alone.memory_state[0], rtol=1e-4, atol=1e-5)
            width = alone.encoder_last_hidden_state.shape[1]
            torch.testing.assert_close(
                batched.encoder_last_hidden_state[i, :width], alone.encoder_last_hidden_state[0], rtol=1e-4, atol=1e-5
            )
            losses.append(alone.loss * real.sum())
    # The backbone's loss: the mean over every scored target token of the batch.
    torch.testing.assert_close(batched.loss, torch.stack(losses).sum() / (labels != -100).sum())


@pytest.mark.parametrize("arch", SEQ2SEQ)
def test_first_segment_reaches_the_decoder_only_through_memory(arch):
    model = wrap(arch)
    ids = torch.randint(5, 99, (1, 32))
    changed = ids.clone()
    changed[0, :8] = torch.randint(5, 99, (8,))  # only the first of four segments differs
    target = torch.randint(5, 99, (1, 3))
    with torch.no_grad():
        a, b = model(ids, labels=target).logits, model(changed, labels=target).logits
        assert not torch.equal(a, b), "memory carried nothing from the first segment"
        # The last segment alone, from the initial memory, cannot see the first segment.
        assert torch.equal(model(changed[:, 24:], labels=target).logits, model(ids[:, 24:], labels=target).logits)
        # ... and memory is the only channel: the last segment with the prefix's memory gives the full result.
        for sample, full in ((ids, a), (changed, b)):
            memory = model(sample[:, :24], labels=target).memory_state
            torch.testing.assert_close(model(sample[:, 24:], labels=target, memory_state=memory).logits, full)


def segment_grads(model, depth, segments=4):
    model.config.bptt_depth = depth
    model.train()
    embeds = torch.randn(1, 8 * segments, model.memory.weight.shape[1], requires_grad=True)
    model.zero_grad()
    model(inputs_embeds=embeds, labels=torch.tensor([[7, 8, 9]])).loss.backward()
    per_segment = embeds.grad[0].view(segments, 8, -1).abs().sum(dim=(1, 2))
    memory_grad = model.memory.weight.grad
    return per_segment, (memory_grad.abs().sum() if memory_grad is not None else torch.tensor(0.0))


@pytest.mark.parametrize("arch", ["t5", "bart"])
def test_truncated_bptt_cuts_gradients_beyond_depth(arch):
    model = wrap(arch)
    full, full_memory = segment_grads(model, -1)
    assert torch.all(full > 0) and full_memory > 0
    for depth in (0, 1, 2):
        grads, memory_grad = segment_grads(model, depth)
        # Segment s reaches the decoder (which reads the last of 4 rows) through 3 - s memory transitions.
        for s in range(4):
            assert (grads[s] > 0) == (3 - s <= depth), f"bptt_depth={depth}, segment {s}: grad {grads[s]}"
        assert memory_grad == 0  # the initial memory is 3 transitions away
    grads, memory_grad = segment_grads(model, 3)
    assert torch.all(grads > 0) and memory_grad > 0


@pytest.mark.parametrize("arch", SEQ2SEQ)
def test_segment_checkpointing_gives_the_same_gradients(arch):
    grads = []
    ids = torch.randint(5, 99, (2, 40), generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([[5, 6, 7, -100], [8, 9, 10, 11]])
    for checkpointing in (False, True):
        model = wrap(arch, segment_checkpointing=checkpointing, bptt_depth=2).train()
        model.set_trainable(train_backbone=True)
        model(ids, labels=labels).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and "memory.weight" in grads[0] and len(grads[0]) > 10
    for name in grads[0]:
        # mT5's untied head gives gradients of order 1-10 here: float32 noise scales with them.
        scale = max(1.0, float(grads[0][name].abs().max()))
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-5 * scale, msg=name)


@pytest.mark.parametrize("arch", SEQ2SEQ)
def test_generate_matches_a_manual_greedy_loop(arch):
    model = wrap(arch)
    model.backbone.generation_config.forced_eos_token_id = None  # BART's: would overwrite the last greedy token
    ids, mask, _ = batch_with_padding(seed=1)
    out = model.generate(
        ids, attention_mask=mask, max_new_tokens=4, do_sample=False, output_logits=True, return_dict_in_generate=True
    )
    start = model.backbone.config.decoder_start_token_id
    eos = model.backbone.config.eos_token_id
    assert out.sequences.shape[0] == 3 and torch.all(out.sequences[:, 0] == start)
    for i in range(3):
        prompt = ids[i][mask[i].bool()][None]
        n = prompt.shape[1]
        last = min(n, 8)  # right alignment: the last segment is full, the first is the short one
        with torch.no_grad():
            memory = model.memory.initial_state(1)
            if n > last:
                memory = model(prompt[:, : n - last], decoder_input_ids=torch.tensor([[start]])).memory_state
            encoder = model.backbone.get_encoder()(inputs_embeds=row_of(model, memory, prompt[:, n - last :]))
            decoded = torch.tensor([[start]])
            for step in range(4):
                logits = model.backbone(encoder_outputs=encoder, decoder_input_ids=decoded).logits[:, -1]
                torch.testing.assert_close(out.logits[step][i : i + 1], logits, rtol=1e-4, atol=1e-5)
                decoded = torch.cat([decoded, logits.argmax(-1, keepdim=True)], dim=1)
                if int(decoded[0, -1]) == eos:
                    break
        assert out.sequences[i, : decoded.shape[1]].tolist() == decoded[0].tolist()


def test_generate_reads_the_whole_input_through_memory():
    model = wrap("t5")
    ids = torch.randint(5, 99, (1, 32))
    changed = ids.clone()
    changed[0, :8] = torch.randint(5, 99, (8,))
    scores = [
        torch.stack(
            model.generate(
                x, max_new_tokens=3, do_sample=False, output_logits=True, return_dict_in_generate=True
            ).logits
        )
        for x in (ids, changed)
    ]
    assert not torch.equal(*scores)


@pytest.mark.parametrize("arch", ["t5", "bart"])
def test_memory_only_step_equals_the_encoders_memory(arch):
    """The step CUDA graphs capture (a full segment of ids in, the next memory out) runs the encoder row as forward."""
    model = wrap(arch)
    memory = torch.randn(2, 4, 32)
    ids = torch.randint(5, 99, (2, 8))
    with torch.no_grad():
        want = model(ids, memory_state=memory, decoder_input_ids=ids[:, :2]).memory_state
        torch.testing.assert_close(model.memory_only_step(memory, ids), want)


@pytest.mark.gpu
@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("arch", ["t5", "bart"])
def test_cuda_graph_replay_equals_eager(arch, compile):
    model = wrap(arch).cuda()
    ids = torch.randint(5, 99, (2, 8 * 40), device="cuda")
    with torch.no_grad():
        eager = model(ids, decoder_input_ids=ids[:, :3])
        model.enable_cuda_graphs(compile=compile)
        graphed = model(ids, decoder_input_ids=ids[:, :3])
        assert model._graphs.graphs, "no CUDA graph was captured: the test would not test the fast path"
        model.disable_cuda_graphs()
    torch.testing.assert_close(graphed.logits, eager.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(graphed.memory_state, eager.memory_state, rtol=1e-4, atol=1e-5)


def test_lora_and_memory_train_save_reload_and_merge(tmp_path):
    from peft import PeftModel, get_peft_model

    backbone_dir = tmp_path / "backbone"
    tiny_backbone("bart", "seq2seq-lm").save_pretrained(backbone_dir)

    def fresh():
        return hf_rmt.get_rmt_model(
            hf_rmt.MODEL_TASKS["seq2seq-lm"].auto_class.from_pretrained(backbone_dir), rmt_config("bart")
        )

    peft_model = get_peft_model(fresh(), hf_rmt.lora_config(fresh(), r=4, target_modules=["q_proj", "v_proj"]))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable) and any("memory" in n for n in trainable)
    ids, labels = torch.randint(5, 99, (2, 24)), torch.randint(5, 99, (2, 4))
    train_steps(peft_model, input_ids=ids, labels=labels)
    peft_model.eval()
    with torch.no_grad():
        want = peft_model(input_ids=ids, labels=labels).logits
        generated = peft_model.generate(input_ids=ids, max_new_tokens=3, do_sample=False)
    peft_model.save_pretrained(tmp_path / "lora")
    reloaded = PeftModel.from_pretrained(fresh(), tmp_path / "lora").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids, labels=labels).logits, want)
        assert torch.equal(reloaded.generate(input_ids=ids, max_new_tokens=3, do_sample=False), generated)
    merged = reloaded.merge_and_unload()
    assert isinstance(merged, hf_rmt.RMTForSeq2SeqLM)
    with torch.no_grad():
        torch.testing.assert_close(merged(ids, labels=labels).logits, want, rtol=1e-4, atol=1e-5)


def test_adapter_checkpoint_generates_the_same_after_reload(tmp_path):
    backbone_dir = tmp_path / "backbone"
    tiny_backbone("t5", "seq2seq-lm").save_pretrained(backbone_dir)
    auto = hf_rmt.MODEL_TASKS["seq2seq-lm"].auto_class
    model = hf_rmt.get_rmt_model(auto.from_pretrained(backbone_dir), rmt_config("t5")).eval()
    with torch.no_grad():
        model.memory.weight.normal_()
    ids, mask, _ = batch_with_padding()
    want = model.generate(ids, attention_mask=mask, max_new_tokens=4, do_sample=False)
    model.save_pretrained(tmp_path / "adapter")
    loaded = auto.from_pretrained(tmp_path / "adapter")
    assert type(loaded) is hf_rmt.RMTForSeq2SeqLM and not loaded.backbone_is_trained()
    assert torch.equal(loaded.generate(ids, attention_mask=mask, max_new_tokens=4, do_sample=False), want)


def test_bad_inputs_name_the_argument_the_rule_and_the_value():
    model = wrap("t5", max_n_segments=3)
    ids = torch.randint(5, 99, (2, 10))
    cases = [
        (
            dict(input_ids=ids),
            "needs `labels` or `decoder_input_ids`.*got neither; to produce a target, call `generate`",
        ),
        (
            dict(input_ids=ids, labels=torch.ones(3, 4, dtype=torch.long)),
            r"`labels` must be integer token ids of shape \(2, target_length\), got \(3, 4\)",
        ),
        (dict(input_ids=ids, labels=torch.ones(2, 4)), r"`labels` must be .*got \(2, 4\) of torch.float32"),
        (
            dict(input_ids=ids, decoder_input_ids=torch.ones(2, dtype=torch.long)),
            r"`decoder_input_ids` must be .*got \(2,\)",
        ),
        (
            dict(input_ids=ids, labels=torch.ones(2, 4, dtype=torch.long), decoder_attention_mask=torch.ones(2, 3)),
            r"`decoder_attention_mask` must have the decoder input's shape \(2, 4\), got \(2, 3\)",
        ),
        (
            dict(input_ids=torch.randint(5, 99, (1, 25)), labels=ids[:1]),
            "needs 4 segments of `segment_size`=8, more than `max_n_segments`=3",
        ),
        (
            dict(input_ids=ids, labels=ids, memory_state=torch.zeros(2, 3, 32)),
            r"`memory_state` must have shape \(2, 4, 32\)",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            model(**kwargs)
    with pytest.raises(ValueError, match=r"`generate` needs `input_ids` \(or `inputs_embeds`\)"):
        model.generate(max_new_tokens=2)


def test_configuration_errors_name_the_field():
    with pytest.raises(
        ValueError, match="`memory_layout`='encoder' does not fit the backbone T5ForConditionalGeneration"
    ):
        hf_rmt.get_rmt_model(tiny_backbone("t5", "seq2seq-lm"), rmt_config("t5", memory_layout="encoder"))
    with pytest.raises(ValueError, match="`memory_layout`='seq2seq' does not fit the backbone BertModel"):
        hf_rmt.get_rmt_model(tiny_backbone("bert"), rmt_config("bert", memory_layout="seq2seq"))
    with pytest.raises(ValueError, match=r"`segment_size` must be set: the backbone \(t5\) declares no maximum"):
        hf_rmt.get_rmt_model(tiny_backbone("t5", "seq2seq-lm"), rmt_config("t5", segment_size=None))
    with pytest.raises(
        ValueError,
        match=r"64 positions \(\[BOS\] \+ memory \+ segment \+ \[EOS\]\): the largest segment_size that fits is 58",
    ):
        hf_rmt.get_rmt_model(tiny_backbone("bart", "seq2seq-lm"), rmt_config("bart", segment_size=59))
    assert (
        hf_rmt.get_rmt_model(
            tiny_backbone("bart", "seq2seq-lm"), rmt_config("bart", segment_size=None)
        ).config.segment_size
        == 58
    )
    with pytest.raises(
        ValueError, match=r"BartForSequenceClassification .*supported with their language-model head only"
    ):
        hf_rmt.get_rmt_model(tiny_backbone("bart", "sequence-classification"), rmt_config("bart"))
    no_eos = tiny_backbone("t5", "seq2seq-lm", eos_token_id=None)
    with pytest.raises(ValueError, match=r"needs an EOS id \(`sep_token_id`\).*pass `tokenizer=`"):
        hf_rmt.get_rmt_model(no_eos, rmt_config("t5"))

    class Tokenizer:
        eos_token_id = 3

    assert hf_rmt.get_rmt_model(no_eos, rmt_config("t5"), tokenizer=Tokenizer()).config.sep_token_id == 3
