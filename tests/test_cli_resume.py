"""`hf-rmt train --save-steps N` and `--resume`: a run stopped by a signal (a `timeout`, a preemption) leaves a
checkpoint, and the next command continues it exactly where it stopped, ending with the weights the uninterrupted run
ends with; bad combinations are refused in the flags' words before anything trains."""

import json
import os
import shutil
import signal

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hf_rmt.cli import main
from hf_rmt.tasks import make_dataset
from hf_rmt.training.signals import StopOnSignalCallback


TINY = ["--segment-size", "16", "--num-memory-tokens", "4", "--device", "cpu", "--batch-size", "2", "--seed", "1"]
# Two stages, so that the stop falls in the first and the resumed run must also restore the curriculum's stage.
RUN = [*TINY, "--task", "memorize", "--curriculum", "1,2", "--steps-per-stage", "3,3", "--lr", "1e-2"]
MODES = {"lora": [], "full": ["--train-backbone"], "memory": ["--lora-r", "0"]}


def train(backbone_dir, out, *extra):
    return main(["train", "--model", backbone_dir, "--output-dir", str(out), *RUN, *extra])


def logits(path, backbone_dir):
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    data = make_dataset("memorize", tokenizer, 3, 40, "test", 0, fields=["input_ids"])
    with torch.no_grad():
        return model(input_ids=torch.tensor([data[i]["input_ids"] for i in range(3)])).logits


def info(path):
    with open(os.path.join(path, "hf_rmt_training.json")) as handle:
        return json.load(handle)


@pytest.fixture
def sigterm_at_step(monkeypatch):
    """Delivers SIGTERM to this process at the end of optimizer step `step`, as `timeout` would."""

    def arm(step):
        original = StopOnSignalCallback.on_step_end

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step and self.received is None:
                os.kill(os.getpid(), signal.SIGTERM)  # handled before os.kill returns (main thread)
            return original(self, args, state, control, **kwargs)

        monkeypatch.setattr(StopOnSignalCallback, "on_step_end", on_step_end)

    return arm


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_stopped_run_resumes_to_the_weights_of_the_whole_run(backbone_dir, tmp_path, sigterm_at_step, mode):
    whole = tmp_path / "whole"
    assert train(backbone_dir, whole, *MODES[mode], "--save-steps", "2") == 0

    stopped = tmp_path / "stopped"
    sigterm_at_step(2)
    assert train(backbone_dir, stopped, *MODES[mode], "--save-steps", "5") == 0
    # Step 2 is no multiple of 5: the checkpoint is the signal's.
    assert (stopped / "checkpoint-2").is_dir() and info(stopped)["stopped_by"] == "SIGTERM"
    assert info(stopped)["steps"] == 2
    perturbed = tmp_path / "perturbed"  # a copy for later: resuming deletes it, keeping the latest checkpoint only
    shutil.copytree(stopped / "checkpoint-2", perturbed / "checkpoint-2")

    assert train(backbone_dir, stopped, *MODES[mode], "--save-steps", "5", "--resume") == 0
    record = info(stopped)
    assert record["steps"] == 6 and record["trained_length"] == 32 and "stopped_by" not in record
    assert record["resumed_from"] == str(stopped / "checkpoint-2")
    # Optimizer moments, schedule, curriculum stage and batches all continued: the same weights as one run.
    torch.testing.assert_close(logits(stopped, backbone_dir), logits(whole, backbone_dir), rtol=1e-5, atol=1e-6)
    # ... from the checkpoint's weights: a copy resumed from perturbed weights ends elsewhere.
    for name in os.listdir(perturbed / "checkpoint-2"):
        if name.endswith(".safetensors"):
            path = str(perturbed / "checkpoint-2" / name)
            save_file({key: value + 0.01 for key, value in load_file(path).items()}, path, metadata={"format": "pt"})
    assert train(backbone_dir, perturbed, *MODES[mode], "--resume") == 0
    assert not torch.allclose(logits(perturbed, backbone_dir), logits(whole, backbone_dir), atol=1e-3)
    # Only the latest checkpoint is kept (the run's own `save_total_limit`).
    assert [name for name in os.listdir(whole) if name.startswith("checkpoint-")] == ["checkpoint-6"]


def test_resume_errors_name_the_flags(backbone_dir, tmp_path, capsys):
    def error(*args):
        assert train(backbone_dir, tmp_path / "run", *args) == 2
        return " ".join(capsys.readouterr().err.split())

    message = error("--resume")
    assert "--resume: --output-dir" in message and "holds no checkpoint-STEP folder" in message
    assert "--save-steps N" in message
    assert "not a checkpoint of `hf-rmt train --save-steps`" in error("--resume", str(tmp_path))
    message = error("--resume", "--init-from", str(tmp_path))
    assert "--resume last with --init-from" in message and "give one of them" in message
    assert not os.path.exists(tmp_path / "run")  # refused before anything was written


def test_a_resumed_stage_keeps_its_best_state_from_before_the_stop(backbone_dir, tmp_path, sigterm_at_step):
    """With validation, each stage hands on its best validated state; the checkpoint holds the best seen before a stop
    (`hf_rmt_best_state.safetensors`), so the resumed run closes the stage as the uninterrupted run does."""
    validate = ["--eval-steps", "1", "--eval-samples", "4", "--stage-target", "1.0", "--save-steps", "5"]
    whole = tmp_path / "whole"
    assert train(backbone_dir, whole, *validate) == 0
    best_step = info(whole)["stages"][0]["best_step"]
    # Stopped at the first stage's best step (or at 2, where the test still checks the weights come out equal).
    stop = best_step if best_step < 3 else 2
    stopped = tmp_path / "stopped"
    sigterm_at_step(stop)
    assert train(backbone_dir, stopped, *validate) == 0
    assert os.path.isfile(stopped / f"checkpoint-{stop}" / "hf_rmt_best_state.safetensors")
    assert train(backbone_dir, stopped, *validate, "--resume") == 0
    # Without the saved best state, stage 1 would report (and hand on) its best since the resume: a later step.
    assert info(stopped)["stages"] == info(whole)["stages"]
    torch.testing.assert_close(logits(stopped, backbone_dir), logits(whole, backbone_dir), rtol=1e-5, atol=1e-6)
