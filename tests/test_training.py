"""Training hf_rmt models: the segment curriculum, Trainer (train, evaluate, checkpoints, resume), memory-efficient
BPTT gradients, mixed precision, attention implementations, LoRA + memory, and the errors bad input gets."""

import json
import logging
import os

import numpy as np
import pytest
import torch
from tiny_models import minilm_path, rmt_config, tiny_backbone, tiny_config
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, Trainer, TrainingArguments

import hf_rmt
from hf_rmt.training import (
    CurriculumCallback,
    CurriculumDataset,
    RMTDataCollator,
    RMTTrainerCallback,
    SegmentCurriculum,
    check_dataset_columns,
    config_fingerprint,
    prepare_for_trainer,
    truncate_sample,
)


SEGMENT = 8  # rmt_config's segment_size


def random_sample(index, num_tokens, num_labels=3):
    generator = torch.Generator().manual_seed(index * 7919 + num_tokens)
    return {
        "input_ids": torch.randint(3, 99, (num_tokens,), generator=generator).tolist(),
        "labels": index % num_labels,
    }


class FixedLength(torch.utils.data.Dataset):
    """Samples of one length: what a plain Trainer with its default collator takes."""

    def __init__(self, n=16, length=20):
        self.n, self.length = n, length

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return random_sample(index, self.length)


@pytest.fixture(scope="module")
def backbone_dir(tmp_path_factory):
    """A tiny BERT classifier saved to disk, so that hf_rmt models know where their backbone comes from (adapter-only
    checkpoints need that)."""
    path = tmp_path_factory.mktemp("backbone") / "bert"
    tiny_backbone("bert", "sequence-classification").save_pretrained(path)
    return str(path)


def make_model(backbone_dir, train_backbone=False, **config):
    torch.manual_seed(0)
    backbone = AutoModelForSequenceClassification.from_pretrained(backbone_dir)
    return hf_rmt.get_rmt_model(backbone, rmt_config("bert", **config), train_backbone=train_backbone)


def training_args(output_dir, **kwargs):
    defaults = {
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 4,
        "learning_rate": 1e-2,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
    }
    return TrainingArguments(str(output_dir), **{**defaults, **kwargs})


def losses(trainer):
    return {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}


# ---------------------------------------------------------------------------------------------- curriculum


def simulate(curriculum, steps, accumulation=1, metric=None):
    """Runs a curriculum as Trainer does (the data loader builds one batch ahead); returns each step's segments."""
    curriculum.gradient_accumulation_steps = accumulation
    queue = [curriculum.next_batch()[1]]
    per_step = []
    for step in range(1, steps + 1):
        segments = []
        for _ in range(accumulation):
            queue.append(curriculum.next_batch()[1])
            segments.append(queue.pop(0))
            curriculum.on_batches_consumed(1)
        curriculum.update(step)
        if metric is not None:
            curriculum.report_metric(metric(step))
        per_step.append(segments)
    return per_step


def test_curriculum_rejects_bad_schedules():
    with pytest.raises(ValueError, match="strictly increasing"):
        SegmentCurriculum([1, 2, 2], stage_steps=1)
    with pytest.raises(ValueError, match="strictly increasing"):
        SegmentCurriculum([4, 2], stage_steps=1)
    with pytest.raises(ValueError, match="max_n_segments`=4"):
        SegmentCurriculum([1, 2, 8], stage_steps=1, max_n_segments=4)
    with pytest.raises(ValueError, match="non-empty"):
        SegmentCurriculum([])
    with pytest.raises(ValueError, match="positive integer"):
        SegmentCurriculum([0, 1], stage_steps=1)
    with pytest.raises(ValueError, match="one length per stage"):
        SegmentCurriculum([1, 2, 3], stage_steps=[5])
    with pytest.raises(ValueError, match="got neither"):
        SegmentCurriculum([1, 2])
    with pytest.raises(ValueError, match="sampling"):
        SegmentCurriculum([1], sampling="random")
    SegmentCurriculum([3])  # one stage needs no end


@pytest.mark.parametrize("accumulation", [1, 2])
def test_one_segment_per_stage_changes_at_step_boundaries(accumulation, caplog):
    curriculum = SegmentCurriculum.one_segment_per_stage(3, stage_steps=2)
    assert curriculum.schedule == [1, 2, 3] and curriculum.sampling == "max"
    with caplog.at_level(logging.INFO, logger="hf_rmt"):
        per_step = simulate(curriculum, 7, accumulation)
    assert per_step == [[n] * accumulation for n in (1, 1, 2, 2, 3, 3, 3)]
    changes = [r.getMessage() for r in caplog.records if "Curriculum stage" in r.getMessage()]
    assert changes == [
        "Curriculum stage 2/3 from step 3: batches have exactly 2 segments.",
        "Curriculum stage 3/3 from step 5: batches have exactly 3 segments.",
    ]


def test_babilong_draws_per_batch_up_to_the_stage_maximum():
    curriculum = SegmentCurriculum.babilong(stage_steps=[3, 3, 3, 3, 3, 3])
    assert curriculum.schedule == [1, 2, 4, 6, 8, 16, 32] and curriculum.sampling == "uniform"
    per_step = [s[0] for s in simulate(curriculum, 21)]
    for stage, maximum in enumerate(curriculum.schedule):
        drawn = per_step[3 * stage : 3 * stage + 3]
        assert all(1 <= n <= maximum for n in drawn), (maximum, drawn)
    assert len(set(per_step[12:])) > 1  # draws vary within a stage
    again = [s[0] for s in simulate(SegmentCurriculum.babilong(stage_steps=[3] * 6), 21)]
    other = [s[0] for s in simulate(SegmentCurriculum.babilong(stage_steps=[3] * 6, seed=5), 21)]
    assert again == per_step and other != per_step


def test_metric_ends_a_stage_after_the_prefetched_batch():
    curriculum = SegmentCurriculum([1, 2, 3], metric="accuracy", patience=2)
    # Constant accuracy: best at step 1, no improvement at steps 2 and 3 -> converged at step 3. The batch of step 4
    # was already built, so stage 2 starts at step 5.
    per_step = [s[0] for s in simulate(curriculum, 6, metric=lambda step: 0.5)]
    assert per_step == [1, 1, 1, 1, 2, 2]
    target = SegmentCurriculum([1, 2, 3], metric="eval_loss", target=0.1)
    assert not target.greater_is_better
    per_step = [s[0] for s in simulate(target, 6, metric=lambda step: 1.0 if step < 2 else 0.05)]
    assert per_step == [1, 1, 1, 2, 2, 3]
    assert target.metric_value({"eval_loss": 0.3}) == 0.3
    assert SegmentCurriculum([2], metric="accuracy").metric_value({"eval_accuracy": 0.7}) == 0.7


def test_curriculum_state_resumes_the_same_draws():
    def fresh():
        return SegmentCurriculum.babilong([1, 2, 4, 8], stage_steps=2, metric="accuracy", patience=1, seed=3)

    metric = {1: 0.1, 2: 0.2, 3: 0.2, 4: 0.3, 5: 0.3}.get
    full = fresh()
    expected = simulate(full, 10, metric=lambda s: metric(s, 0.5))
    first = fresh()
    simulate(first, 4, metric=lambda s: metric(s, 0.5))
    state = json.loads(json.dumps(first.state_dict()))  # what trainer_state.json holds
    resumed = fresh()
    resumed.load_state_dict(state)
    rest = simulate(resumed, 10, metric=lambda s: metric(s, 0.5))
    # `simulate` counts steps from 1 again; the draws depend on batch numbers, which continue.
    assert rest[:6] == expected[4:]
    with pytest.raises(ValueError, match="another segment curriculum.*schedule"):
        SegmentCurriculum([1, 2], stage_steps=2).load_state_dict(state)


def test_curriculum_dataset_builds_batches_at_the_drawn_length():
    curriculum = SegmentCurriculum([1, 3], stage_steps=1)
    train = CurriculumDataset(random_sample, 10, curriculum, SEGMENT)
    evaluation = CurriculumDataset(random_sample, 10, curriculum, SEGMENT, train=False)
    fixed = CurriculumDataset(random_sample, 10, curriculum, SEGMENT, train=False, num_segments=2)
    assert [len(s["input_ids"]) for s in train.__getitems__([0, 1])] == [8, 8]
    assert [len(s["input_ids"]) for s in train.__getitems__([2])] == [24]
    assert len(evaluation[0]["input_ids"]) == 8  # the stage being trained (nothing consumed yet)
    assert len(fixed.__getitems__([3])[0]["input_ids"]) == 16
    assert curriculum._next_batch == 2  # evaluation does not take batch numbers
    with pytest.raises(ValueError, match="train=False"):
        CurriculumDataset(random_sample, 10, curriculum, SEGMENT, num_segments=2)


def test_curriculum_dataset_refuses_worker_processes():
    train = CurriculumDataset(random_sample, 8, SegmentCurriculum([1]), SEGMENT)
    loader = torch.utils.data.DataLoader(train, batch_size=4, num_workers=1, collate_fn=RMTDataCollator())
    with pytest.raises(RuntimeError, match="num_workers=0"):
        next(iter(loader))


def test_truncation_keeps_per_token_fields_aligned():
    sample = {"input_ids": list(range(10)), "attention_mask": [1] * 10, "labels": list(range(100, 110)), "id": 7}
    left = truncate_sample(sample, 4, "left")
    assert left == {"input_ids": [6, 7, 8, 9], "attention_mask": [1] * 4, "labels": [106, 107, 108, 109], "id": 7}
    right = CurriculumDataset.from_samples([sample], SegmentCurriculum([2]), 3, truncation_side="right")
    assert right.__getitems__([0])[0]["input_ids"] == [0, 1, 2, 3, 4, 5]
    assert truncate_sample({"input_ids": torch.arange(3), "labels": torch.tensor(1)}, 5)["labels"] == 1


@pytest.mark.skipif(minilm_path() is None, reason="needs the offline MiniLM tokenizer")
def test_task_samples_are_regenerated_at_each_length():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    noise = ["The morning was fine and the garden was quiet.", "Everyone spoke of the weather at dinner."] * 20
    curriculum = SegmentCurriculum([1, 2], stage_steps=1)
    train = CurriculumDataset.from_task("memorize", tokenizer, 8, curriculum, 24, noise=noise)
    short, long = train.__getitems__([0, 1]), train.__getitems__([0, 1])
    assert [len(s["input_ids"]) for s in short + long] == [24, 24, 48, 48]
    assert all(set(s) == {"input_ids", "labels"} and isinstance(s["labels"], int) for s in short + long)
    question = tokenizer.decode(long[0]["input_ids"])
    assert question.startswith(("mary", "john", "daniel", "sandra")) and question.endswith("?")  # fact first
    tokenizer.eos_token = tokenizer.sep_token
    generation = CurriculumDataset.from_task(
        "memorize", tokenizer, 4, curriculum, 24, noise=noise, output_format="generation", train=False, num_segments=2
    )[0]
    # The prompt fills the 2 segments (as evaluate_by_length's prompt of 48 tokens); the answer and eos follow.
    assert len(generation["input_ids"]) == len(generation["labels"]) > 48
    assert set(generation["labels"][:48]) == {-100} and -100 not in generation["labels"][48:]
    reserved = CurriculumDataset.from_task(
        "memorize", tokenizer, 4, curriculum, 24, noise=noise, output_format="generation", train=False, num_segments=2,
        answer_reserve=8,
    )[0]  # fmt: skip
    assert len(reserved["input_ids"]) <= 48 and reserved["labels"][:40] == [-100] * 40


# ---------------------------------------------------------------------------------------------- collator


def test_collator_pads_and_stacks():
    collate = RMTDataCollator(pad_token_id=0)
    batch = collate([{"input_ids": [5, 6, 7], "label": 1, "text": "dropped"}, {"input_ids": [8], "label": 2}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [1, 2] and set(batch) == {"input_ids", "attention_mask", "labels"}
    tokens = RMTDataCollator(padding_side="left")(
        [{"input_ids": [5, 6], "labels": [1, 2]}, {"input_ids": [7], "labels": [3]}]
    )
    assert tokens["labels"].tolist() == [[1, 2], [-100, 3]] and tokens["attention_mask"].tolist() == [[1, 1], [0, 1]]
    same = collate([{"input_ids": [1, 2], "labels": 0}, {"input_ids": [3, 4], "labels": 1}])
    assert "attention_mask" not in same  # nothing padded: the model takes the fast path
    with pytest.raises(ValueError, match=r"Sample 1 .* no `input_ids`.*\['label', 'text'\]"):
        collate([{"input_ids": [1]}, {"text": "hello", "label": 0}])
    # Seq2seq targets (answer tokens + eos) have lengths of their own: padded after their end, even with left-padded
    # inputs; the decoder's loss ignores -100.
    targets = RMTDataCollator(padding_side="left")(
        [{"input_ids": [5, 6, 7, 8], "labels": [9, 1]}, {"input_ids": [7, 8, 9], "labels": [10, 11, 1]}]
    )
    assert targets["labels"].tolist() == [[9, 1, -100], [10, 11, 1]]
    assert targets["input_ids"].tolist() == [[5, 6, 7, 8], [0, 7, 8, 9]]


# ---------------------------------------------------------------------------------------------- Trainer


def test_plain_trainer_trains_evaluates_and_predicts_leanly(backbone_dir, tmp_path):
    model = make_model(backbone_dir)
    before = model.memory.weight.detach().clone()
    assert "memory_state" in model.config.keys_to_ignore_at_inference
    trainer = Trainer(
        model, training_args(tmp_path, max_steps=2), train_dataset=FixedLength(), eval_dataset=FixedLength(8)
    )
    trainer.train()
    assert set(losses(trainer)) == {1, 2} and not torch.equal(model.memory.weight, before)
    assert np.isfinite(trainer.evaluate()["eval_loss"])
    prediction = trainer.predict(FixedLength(8))
    # memory_state is state, not a prediction: only the logits come back.
    assert isinstance(prediction.predictions, np.ndarray) and prediction.predictions.shape == (8, 3)


@pytest.mark.parametrize("train_backbone", [False, True], ids=["frozen-adapter", "trained-full"])
def test_trainer_checkpoints_are_adapter_only_when_the_backbone_is_frozen(backbone_dir, tmp_path, train_backbone):
    model = make_model(backbone_dir, train_backbone=train_backbone)
    args = training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    Trainer(model, args, train_dataset=FixedLength()).train()
    checkpoint = tmp_path / "checkpoint-2"
    files = set(os.listdir(checkpoint))
    assert {"config.json", "optimizer.pt", "trainer_state.json"} <= files
    if train_backbone:
        assert "model.safetensors" in files and "rmt_adapter.safetensors" not in files
    else:
        assert "rmt_adapter.safetensors" in files and "model.safetensors" not in files
    loaded = AutoModelForSequenceClassification.from_pretrained(checkpoint)
    ids = torch.randint(3, 99, (2, 20))
    model.eval()
    torch.testing.assert_close(loaded(input_ids=ids).logits, model(input_ids=ids).logits)


@pytest.mark.parametrize("prepared", [False, True], ids=["plain", "prepare_for_trainer"])
def test_gradient_accumulation_gives_the_same_steps(backbone_dir, tmp_path, prepared):
    """Trainer divides a mean loss by the accumulation steps (and lets DDP average it) only when the model does not
    claim to normalise by `num_items_in_batch`: RMTPreTrainedModel.accepts_loss_kwargs = False."""

    def run(output, batch, accumulation):
        model = make_model(backbone_dir, train_backbone=True)
        if prepared:
            prepare_for_trainer(model)
        args = training_args(
            output,
            max_steps=2,
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=accumulation,
            learning_rate=1e-3,
            max_grad_norm=0.5,
        )
        trainer = Trainer(model, args, train_dataset=FixedLength(32))
        trainer.train()
        return losses(trainer), model.memory.weight.detach()

    (one, memory_one), (two, memory_two) = run(tmp_path / "a", 4, 1), run(tmp_path / "b", 2, 2)
    assert one == pytest.approx(two, rel=1e-5)
    torch.testing.assert_close(memory_two, memory_one)


def curriculum_run(backbone_dir, output_dir, max_steps, resume=None, **config):
    """A frozen-backbone run with a BABILong-style curriculum and both callbacks, checkpointing every 3 steps."""
    model = make_model(backbone_dir, **config)
    curriculum = SegmentCurriculum.babilong([1, 2, 4], stage_steps=2, seed=1)
    trainer = Trainer(
        model,
        training_args(output_dir, max_steps=max_steps, save_strategy="steps", save_steps=3),
        train_dataset=CurriculumDataset(random_sample, 64, curriculum, SEGMENT),
        data_collator=RMTDataCollator(),
        callbacks=[CurriculumCallback(curriculum), RMTTrainerCallback()],
    )
    trainer.train(resume_from_checkpoint=resume)
    return trainer


@pytest.fixture(scope="module")
def curriculum_checkpoints(backbone_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("curriculum_run")
    return output, curriculum_run(backbone_dir, output, 6)


def test_trainer_logs_curriculum_stages(curriculum_checkpoints):
    _, trainer = curriculum_checkpoints
    stages = [
        (h["curriculum_from_step"], h["curriculum_max_segments"])
        for h in trainer.state.log_history
        if "curriculum_stage" in h
    ]
    assert stages == [(1, 1), (3, 2), (5, 4)]
    with open(os.path.join(trainer.args.output_dir, "checkpoint-3", "trainer_state.json")) as handle:
        saved = json.load(handle)
    state = saved["stateful_callbacks"]["CurriculumCallback"]["attributes"]["saved_state"]
    assert state["consumed_batches"] == 3 and state["schedule"] == [1, 2, 4]


def test_checkpoints_with_the_resume_index_load_through_from_pretrained(curriculum_checkpoints):
    output, trainer = curriculum_checkpoints
    checkpoint = output / "checkpoint-6"
    assert {"rmt_adapter.safetensors", "model.safetensors.index.json"} <= set(os.listdir(checkpoint))
    loaded = AutoModelForSequenceClassification.from_pretrained(checkpoint)
    torch.testing.assert_close(loaded.memory.weight, trainer.model.memory.weight)


def test_resume_continues_the_same_run_adapter_only(backbone_dir, curriculum_checkpoints, tmp_path):
    output, uninterrupted = curriculum_checkpoints
    resumed = curriculum_run(backbone_dir, tmp_path, 6, resume=str(output / "checkpoint-3"))
    expected, got = losses(uninterrupted), losses(resumed)  # the resumed log starts with the checkpoint's
    assert set(got) == {1, 2, 3, 4, 5, 6}
    for step in (4, 5, 6):
        assert got[step] == pytest.approx(expected[step], rel=1e-6, abs=1e-7), step


def test_resume_continues_the_same_run_full_with_a_plain_trainer(backbone_dir, tmp_path):
    def run(output, resume=None):
        model = make_model(backbone_dir, train_backbone=True)
        args = training_args(output, max_steps=4, save_strategy="steps", save_steps=2, learning_rate=1e-3)
        trainer = Trainer(model, args, train_dataset=FixedLength(32))
        trainer.train(resume_from_checkpoint=resume)
        return losses(trainer)

    expected = run(tmp_path / "a")
    resumed = run(tmp_path / "b", resume=str(tmp_path / "a" / "checkpoint-2"))
    assert set(resumed) == {1, 2, 3, 4}
    for step in (3, 4):
        assert resumed[step] == pytest.approx(expected[step], rel=1e-6, abs=1e-7)


def test_plain_trainer_resumes_an_adapter_only_checkpoint(backbone_dir, tmp_path):
    model = make_model(backbone_dir)
    Trainer(
        model, training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=1), train_dataset=FixedLength()
    ).train()
    model = make_model(backbone_dir)
    Trainer(model, training_args(tmp_path, max_steps=2), train_dataset=FixedLength()).train(
        resume_from_checkpoint=str(tmp_path / "checkpoint-1")
    )


def test_resuming_another_configuration_is_an_error(backbone_dir, curriculum_checkpoints, tmp_path):
    output, _ = curriculum_checkpoints
    checkpoint = str(output / "checkpoint-3")
    with pytest.raises(ValueError, match=r"another hf_rmt model configuration \(cls_token_id: 1 in"):
        curriculum_run(backbone_dir, tmp_path / "a", 6, resume=checkpoint, cls_token_id=3)
    model = make_model(backbone_dir)
    other = SegmentCurriculum([1, 2], stage_steps=2)
    trainer = Trainer(
        model,
        training_args(tmp_path / "b", max_steps=6),
        train_dataset=CurriculumDataset(random_sample, 64, other, SEGMENT),
        data_collator=RMTDataCollator(),
        callbacks=[CurriculumCallback(other)],
    )
    with pytest.raises(ValueError, match="another segment curriculum"):
        trainer.train(resume_from_checkpoint=checkpoint)


def test_curriculum_beyond_max_n_segments_is_an_error(backbone_dir, tmp_path):
    model = make_model(backbone_dir, max_n_segments=2)
    curriculum = SegmentCurriculum([1, 2, 4], stage_steps=1)  # not told about the model's limit
    trainer = Trainer(
        model,
        training_args(tmp_path, max_steps=1),
        train_dataset=CurriculumDataset(random_sample, 8, curriculum, SEGMENT),
        data_collator=RMTDataCollator(),
        callbacks=[CurriculumCallback(curriculum)],
    )
    with pytest.raises(ValueError, match="reaches 4 segments, more than the model's `max_n_segments`=2"):
        trainer.train()


def test_dataset_without_model_columns_is_an_error(backbone_dir, tmp_path):
    texts = [{"text": "a story", "label": 1}] * 4
    model = make_model(backbone_dir)
    with pytest.raises(ValueError, match=r"columns \['label', 'text'\] but lacks \['input_ids'\].*forward takes"):
        check_dataset_columns(texts, model)
    trainer = Trainer(
        model, training_args(tmp_path, max_steps=1), train_dataset=texts, callbacks=[RMTTrainerCallback()]
    )
    with pytest.raises(ValueError, match="lacks \\['input_ids'\\]"):
        trainer.train()
    check_dataset_columns([{"input_ids": [1], "label": 0}], model)


def test_metric_curriculum_advances_on_evaluation(backbone_dir, tmp_path):
    model = make_model(backbone_dir)
    curriculum = SegmentCurriculum([1, 2], metric="accuracy", patience=1)
    trainer = Trainer(
        model,
        training_args(tmp_path, max_steps=5, eval_strategy="steps", eval_steps=1),
        train_dataset=CurriculumDataset(random_sample, 64, curriculum, SEGMENT),
        eval_dataset=CurriculumDataset(random_sample, 4, curriculum, SEGMENT, train=False),
        data_collator=RMTDataCollator(),
        compute_metrics=lambda prediction: {"accuracy": 0.5},
        callbacks=[CurriculumCallback(curriculum)],
    )
    trainer.train()
    stages = [h["curriculum_from_step"] for h in trainer.state.log_history if "curriculum_stage" in h]
    # Converged at the evaluation of step 2 (no improvement over step 1); step 3's batch was built: stage 2 at step 4.
    assert stages == [1, 4]


def test_bf16_autocast_trains_memory_stably(backbone_dir, tmp_path):
    model = make_model(backbone_dir, train_backbone=True)
    before = model.memory.weight.detach().clone()
    trainer = Trainer(
        model, training_args(tmp_path, max_steps=4, bf16=True, learning_rate=1e-3), train_dataset=FixedLength()
    )
    trainer.train()
    steps = [h for h in trainer.state.log_history if "loss" in h]
    assert len(steps) == 4 and all(np.isfinite(h["loss"]) and np.isfinite(h["grad_norm"]) for h in steps)
    assert model.memory.weight.dtype == torch.float32  # autocast: fp32 master weights
    assert torch.isfinite(model.memory.weight).all() and not torch.equal(model.memory.weight, before)


@pytest.mark.gpu
def test_fp16_with_loss_scaling_on_gpu(backbone_dir, tmp_path):
    model = make_model(backbone_dir, train_backbone=True)
    args = training_args(tmp_path, max_steps=4, fp16=True, use_cpu=False, learning_rate=1e-3)
    trainer = Trainer(model, args, train_dataset=FixedLength())
    trainer.train()
    assert all(np.isfinite(h["loss"]) for h in trainer.state.log_history if "loss" in h)


def test_lora_and_memory_through_peft(backbone_dir, tmp_path):
    peft = pytest.importorskip("peft")
    model = make_model(backbone_dir)
    lora = peft.get_peft_model(model, hf_rmt.lora_config(model, r=4, target_modules=["query", "value"]))
    query = model.backbone.bert.encoder.layer[0].attention.self.query.base_layer.weight.detach().clone()
    memory = lora.base_model.model.memory.modules_to_save["default"].weight.detach().clone()
    args = training_args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2, label_names=["labels"])
    trainer = Trainer(lora, args, train_dataset=FixedLength(), eval_dataset=FixedLength(8))
    trainer.train()
    assert {"adapter_model.safetensors", "adapter_config.json"} <= set(os.listdir(tmp_path / "checkpoint-2"))
    assert np.isfinite(trainer.evaluate()["eval_loss"])
    assert torch.equal(model.backbone.bert.encoder.layer[0].attention.self.query.base_layer.weight, query)
    assert not torch.equal(lora.base_model.model.memory.modules_to_save["default"].weight, memory)
    lora.eval()
    ids = torch.randint(3, 99, (2, 20))
    expected = lora(input_ids=ids).logits
    merged = lora.merge_and_unload()
    assert type(merged) is hf_rmt.RMTForSequenceClassification
    torch.testing.assert_close(merged(input_ids=ids).logits, expected)
    merged.save_pretrained(tmp_path / "merged", adapter_only=False)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "merged")
    torch.testing.assert_close(reloaded(input_ids=ids).logits, expected)


# ---------------------------------------------------------------------------------------------- gradients


def gradient_model(arch, **config):
    task = "sequence-classification" if arch == "bert" else "causal-lm"
    backbone = tiny_backbone(arch, task, seed=0, **{"hidden_dropout_prob" if arch == "bert" else "resid_pdrop": 0.1})
    model = hf_rmt.get_rmt_model(backbone, rmt_config(arch, **config), train_backbone=True)
    return model.train()


def gradients(model, arch, seed=0, autocast=None, autocast_cache=True):
    device = model.device
    torch.manual_seed(seed)
    ids = torch.randint(3, 99, (3, 30))
    mask = torch.ones_like(ids)
    mask[1, :9] = 0  # one shorter sample: fewer segments, skipped steps
    labels = torch.tensor([0, 2, 1]) if arch == "bert" else ids
    model.zero_grad()
    with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None, cache_enabled=autocast_cache):
        loss = model(input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)).loss
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def assert_same_gradients(expected, actual):
    assert set(expected) == set(actual)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize("bptt_depth", [-1, 1])
@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_segment_checkpointing_gives_the_same_gradients(arch, bptt_depth):
    model = gradient_model(arch, bptt_depth=bptt_depth)  # dropout on: recomputation must replay the same masks
    plain = gradients(model, arch)
    assert any("memory" in name for name in plain) and len(plain) > 10
    model.config.segment_checkpointing = True
    assert_same_gradients(plain, gradients(model, arch))
    if bptt_depth == 1:
        model.config.segment_checkpointing, model.config.bptt_depth = False, -1
        full = gradients(model, arch)
        assert not torch.allclose(full["memory.weight"], plain["memory.weight"])  # truncation does something


@pytest.mark.gpu
@pytest.mark.parametrize("autocast", [None, torch.bfloat16])
@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_segment_checkpointing_gives_the_same_gradients_on_cuda(arch, autocast):
    """CUDA dropout masks are replayed in the recomputation, also under bf16 autocast.

    Without autocast's cast cache: with it, the plain path casts each weight to bf16 once for all segments and sums
    the segments' gradients of that bf16 copy in bf16, while each recomputed segment casts anew and its gradient
    reaches the fp32 weight on its own (summed in fp32). The cache changes the rounding, not what is computed."""
    model = gradient_model(arch).cuda()
    plain = gradients(model, arch, autocast=autocast, autocast_cache=False)
    model.config.segment_checkpointing = True
    recomputed = gradients(model, arch, autocast=autocast, autocast_cache=False)
    assert set(plain) == set(recomputed) and len(plain) > 10
    # The recomputation runs the same kernels; only the order in which segments' gradients are summed differs.
    tolerance = {"rtol": 1e-4, "atol": 1e-6} if autocast is None else {"rtol": 1e-2, "atol": 1e-5}
    for name, grad in plain.items():
        error = (recomputed[name] - grad).abs().max().item()
        torch.testing.assert_close(recomputed[name], grad, **tolerance, msg=f"{name}: max abs difference {error:.3g}")


def test_segment_checkpointing_composes_with_backbone_gradient_checkpointing():
    model = gradient_model("bert")
    plain = gradients(model, "bert")
    model.config.segment_checkpointing = True
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()
    assert any(getattr(m, "gradient_checkpointing", False) for m in model.backbone.modules())
    assert_same_gradients(plain, gradients(model, "bert"))


def test_bptt_depth_beyond_the_segments_warns_once(caplog):
    model = gradient_model("bert", bptt_depth=5)
    with caplog.at_level(logging.WARNING, logger="hf_rmt"):
        gradients(model, "bert")
        gradients(model, "bert")
    warnings = [r for r in caplog.records if "bptt_depth" in r.getMessage()]
    assert len(warnings) == 1 and "not smaller than the 4 segments" in warnings[0].getMessage()


@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_attention_implementations_pass_through(arch):
    auto = AutoModelForSequenceClassification if arch == "bert" else AutoModelForCausalLM
    results = {}
    for implementation in ("sdpa", "eager"):
        torch.manual_seed(0)
        backbone = auto.from_config(tiny_config(arch, num_labels=3), attn_implementation=implementation)
        model = hf_rmt.get_rmt_model(backbone, rmt_config(arch), train_backbone=True).train()
        assert model.config.base_config._attn_implementation == implementation
        assert model.backbone.config._attn_implementation == implementation
        results[implementation] = gradients(model, arch)
    assert set(results["sdpa"]) == set(results["eager"])
    for name, grad in results["sdpa"].items():
        torch.testing.assert_close(results["eager"][name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_fingerprint_names_the_structure(backbone_dir):
    fingerprint = config_fingerprint(make_model(backbone_dir))
    assert fingerprint["class"] == "RMTForSequenceClassification" and fingerprint["segment_size"] == SEGMENT
    assert fingerprint["num_memory_tokens"] == 4 and fingerprint["backbone_type"] == "bert"


def test_disable_dropout_makes_training_forwards_deterministic():
    from hf_rmt.training import disable_dropout

    model = gradient_model("bert")  # dropout 0.1, including BERT's SDPA attention dropout (a float, not an nn.Dropout)
    assert model.has_dropout()
    disable_dropout(model)
    assert not model.has_dropout() and model.training
    ids = torch.randint(3, 99, (2, 30))
    torch.testing.assert_close(model(ids).logits, model(ids).logits, rtol=0, atol=0)
