"""`SkipNonFiniteStepsCallback`: a step whose gradients hold NaN or inf leaves the weights and the optimizer as they
were, and training goes on; steps like that in a row end it; `hf-rmt train` skips them, records and reports them.
Without the callback the same poisoned step turns every trained weight to NaN (what session 15's bf16 ARMT run on an
H200 saved), so the tests below can fail."""

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

from hf_rmt import RMTConfig, get_rmt_model
from hf_rmt.cli import main
from hf_rmt.tasks import make_dataset
from hf_rmt.training import RMTDataCollator, SkipNonFiniteStepsCallback


class Poison(TrainerCallback):
    """Sets one gradient element to NaN before the optimizer step of each step in `steps` (numbered from 1)."""

    def __init__(self, steps):
        self.steps = set(steps)

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if state.global_step + 1 in self.steps:
            next(p for p in model.parameters() if p.grad is not None).grad.view(-1)[0] = float("nan")


class Snapshots(TrainerCallback):
    """The trained weights after every step."""

    def __init__(self):
        self.after = {}

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.after[state.global_step] = [p.detach().clone() for p in model.parameters() if p.requires_grad]


def run(backbone_dir, tmp_path, *callbacks, steps=4):
    torch.manual_seed(0)
    base = AutoModelForSequenceClassification.from_pretrained(backbone_dir, num_labels=6)
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    model = get_rmt_model(base, RMTConfig(num_memory_tokens=2, segment_size=16), tokenizer=tokenizer)
    data = make_dataset("memorize", tokenizer, 8, 32, "train", 0)
    args = TrainingArguments(
        str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=2, learning_rate=1e-2, use_cpu=True,
        report_to=[], save_strategy="no", logging_steps=1, disable_tqdm=True,
    )  # fmt: skip
    trainer = Trainer(model, args, train_dataset=data, data_collator=RMTDataCollator(), callbacks=list(callbacks))
    trainer.train()
    return trainer


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_poisoned_step_is_skipped_and_training_goes_on(backbone_dir, tmp_path):
    guard, snaps = SkipNonFiniteStepsCallback(), Snapshots()
    trainer = run(backbone_dir, tmp_path, Poison([2]), guard, snaps)
    assert guard.skipped_steps == [2] and not guard.stopped and trainer.state.global_step == 4
    assert same(snaps.after[2], snaps.after[1])  # step 2 changed nothing ...
    assert not same(snaps.after[3], snaps.after[2])  # ... and step 3 trained again
    assert all(torch.isfinite(p).all() for p in snaps.after[4])
    # The optimizer took 3 steps, not 4: its moments and step count were left alone too.
    counts = {int(state["step"]) for state in trainer.optimizer.state.values()}
    assert counts == {3}


def test_without_the_callback_the_same_step_ruins_every_weight(backbone_dir, tmp_path):
    snaps = Snapshots()
    run(backbone_dir, tmp_path, Poison([2]), snaps)
    # AdamW writes the NaN into a weight; the next forward spreads it to the loss, every gradient (clipped by a NaN
    # norm) and so every weight.
    assert any(torch.isnan(p).any() for p in snaps.after[2])
    assert all(torch.isnan(p).all() for p in snaps.after[4])


def test_steps_in_a_row_end_training_with_the_weights_from_before(backbone_dir, tmp_path, caplog):
    guard, snaps = SkipNonFiniteStepsCallback(max_consecutive=3), Snapshots()
    trainer = run(backbone_dir, tmp_path, Poison(range(2, 20)), guard, snaps, steps=10)
    assert guard.stopped and guard.skipped_steps == [2, 3, 4] and trainer.state.global_step == 4
    assert same(snaps.after[4], snaps.after[1])
    assert guard.record() == {"nonfinite_steps_skipped": [2, 3, 4], "stopped_by": "non-finite gradients"}
    assert "DIVERGED" in guard.summary() and "3 steps in a row" in guard.summary()
    # A finite step between two bad ones resets the count: 0 never stops.
    guard = SkipNonFiniteStepsCallback(max_consecutive=2)
    run(backbone_dir, tmp_path, Poison([2, 4, 6]), guard, steps=7)
    assert (
        guard.skipped_steps == [2, 4, 6]
        and not guard.stopped
        and guard.record() == {"nonfinite_steps_skipped": [2, 4, 6]}
    )


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_max_consecutive(bad):
    with pytest.raises(ValueError, match="`max_consecutive` must be an integer >= 0"):
        SkipNonFiniteStepsCallback(max_consecutive=bad)


def test_hf_rmt_train_skips_records_and_reports_them(backbone_dir, tmp_path, monkeypatch, capsys):
    original = SkipNonFiniteStepsCallback.on_pre_optimizer_step
    poison = Poison([2])

    def poisoned(self, args, state, control, model=None, **kwargs):
        poison.on_pre_optimizer_step(args, state, control, model=model)
        return original(self, args, state, control, model=model, **kwargs)

    monkeypatch.setattr(SkipNonFiniteStepsCallback, "on_pre_optimizer_step", poisoned)
    out = tmp_path / "run"
    args = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(out), "--segment-size", "16"]
    args += ["--num-memory-tokens", "4", "--device", "cpu", "--batch-size", "2", "--curriculum", "1,2"]
    assert main([*args, "--steps-per-stage", "2,2"]) == 0
    assert "1 steps had NaN or inf gradients and were skipped (steps 2)" in capsys.readouterr().out
    record = json.loads((out / "hf_rmt_training.json").read_text())
    assert record["nonfinite_steps_skipped"] == [2] and "stopped_by" not in record
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # Every step poisoned: the run stops after 10 in a row and says it diverged.
    poison.steps = set(range(1, 100))
    assert main([*args, "--steps-per-stage", "20,20", "--output-dir", str(tmp_path / "diverged")]) == 0
    assert "Training DIVERGED: it stopped at step 10 in the stage of 1 segments" in capsys.readouterr().out
    record = json.loads((tmp_path / "diverged" / "hf_rmt_training.json").read_text())
    assert record["stopped_by"] == "non-finite gradients" and record["steps"] == 10


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_drop_nonfinite_gradients_for_loops_of_ones_own(bad):
    from hf_rmt.training import drop_nonfinite_gradients

    a, b, frozen = (
        torch.nn.Parameter(torch.ones(3)),
        torch.nn.Parameter(torch.ones(2)),
        torch.nn.Parameter(torch.ones(1)),
    )
    a.grad, b.grad = torch.full((3,), 2.0), torch.full((2,), 3.0)
    assert not drop_nonfinite_gradients([a, b, frozen])  # finite: left as they are
    assert torch.equal(a.grad, torch.full((3,), 2.0)) and torch.equal(b.grad, torch.full((2,), 3.0))
    b.grad[1] = bad
    assert drop_nonfinite_gradients([a, b, frozen]) and a.grad is None and b.grad is None
    optimizer = torch.optim.AdamW([a, b], lr=0.1)
    optimizer.step()  # nothing to update
    assert torch.equal(a.detach(), torch.ones(3)) and not optimizer.state


def test_hf_rmt_eval_refuses_a_model_whose_weights_are_nan(backbone_dir, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    out = tmp_path / "run"
    args = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(out), "--segment-size", "16"]
    assert (
        main([*args, "--num-memory-tokens", "4", "--device", "cpu", "--curriculum", "1", "--steps-per-stage", "1"])
        == 0
    )
    weights = load_file(out / "adapter_model.safetensors")
    key = sorted(weights)[-1]
    weights[key] = torch.full_like(weights[key], float("inf"))
    save_file(weights, out / "adapter_model.safetensors", metadata={"format": "pt"})
    capsys.readouterr()
    evaluation = ["eval", "--model", str(out), "--backbone", backbone_dir, "--lengths", "32", "--num-samples", "2"]
    assert main([*evaluation, "--output", str(tmp_path / "eval")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"--model {out}: 1 of its weights hold NaN or inf values" in err and "diverged" in err
    assert not (tmp_path / "eval").exists()


def test_drop_nonfinite_gradients_without_get_total_norm(monkeypatch):
    # torch 2.4 and 2.5 (hf_rmt's floor) have no `torch.nn.utils.get_total_norm`: the fallback decides alike.
    from hf_rmt.training import drop_nonfinite_gradients

    monkeypatch.delattr(torch.nn.utils, "get_total_norm")
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2, 2))
    a.grad, b.grad = torch.full((3,), 2.0), torch.full((2, 2), 3.0)
    assert not drop_nonfinite_gradients([a, b]) and a.grad is not None
    b.grad[0, 1] = float("nan")
    assert drop_nonfinite_gradients([a, b]) and a.grad is None and b.grad is None
