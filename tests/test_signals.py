"""`hf-rmt train` and `StopOnSignalCallback`: SIGTERM (a `timeout`, a preemption) or Ctrl-C ends a run after the
current step and the model is saved, instead of the run dying with everything trained lost."""

import json
import os
import signal
import subprocess
import sys

import pytest
from transformers import AutoModelForSequenceClassification, TrainerControl

import hf_rmt
from hf_rmt.recipe import TRAINING_INFO_FILE
from hf_rmt.training.signals import StopOnSignalCallback


def _begin(callback):
    callback.on_train_begin(None, None, TrainerControl())


def test_first_signal_asks_the_trainer_to_stop_and_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    callback = StopOnSignalCallback()
    _begin(callback)
    try:
        control = callback.on_step_end(None, None, TrainerControl())
        assert not control.should_training_stop and callback.received is None
        os.kill(os.getpid(), signal.SIGTERM)  # delivered to the main thread before os.kill returns
        assert callback.received == "SIGTERM"
        assert callback.on_step_end(None, None, TrainerControl()).should_training_stop
    finally:
        callback.on_train_end(None, None, TrainerControl())
    assert signal.getsignal(signal.SIGTERM) is before


def test_second_signal_stops_at_once():
    # Python's own Ctrl-C handler before training starts, whatever this process inherited: a process started in the
    # background of a non-interactive shell (`cmd &`, as some CI runners do) begins with SIGINT ignored.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    callback = StopOnSignalCallback(("SIGINT",))
    _begin(callback)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        assert callback.received == "SIGINT"
        with pytest.raises(KeyboardInterrupt):  # the default SIGINT handler, given back by the second signal
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        callback.on_train_end(None, None, TrainerControl())
        signal.signal(signal.SIGINT, inherited)


@pytest.mark.parametrize("signals", [(), ("SIGNOPE",), ("SIG_DFL",)])
def test_unknown_signal_names(signals):
    with pytest.raises(ValueError, match=r"`signals` must name signals .* got"):
        StopOnSignalCallback(signals)


def test_sigterm_ends_hf_rmt_train_and_saves_the_stage_reached(backbone_dir, tmp_path):
    """A run whose caps it could never finish (a million steps per stage) gets SIGTERM once it has logged a step: it
    exits 0 and leaves a loadable model whose training record says why it stopped and which length it reached."""
    out = tmp_path / "model"
    command = [sys.executable, "-m", "hf_rmt.cli", "train", "--model", backbone_dir, "--task", "memorize"]
    command += ["--output-dir", str(out), "--segment-size", "16", "--num-memory-tokens", "4", "--device", "cpu"]
    command += ["--curriculum", "1,2", "--steps-per-stage", "1000000", "--batch-size", "2", "--logging-steps", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    lines = []
    try:
        for line in process.stdout:  # the first logged loss: training is under way
            lines.append(line)
            if "'loss'" in line:
                process.send_signal(signal.SIGTERM)
                break
        rest, _ = process.communicate(timeout=600)  # generous: it only turns a hang into a failure
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = "".join(lines) + rest
    assert process.returncode == 0, output
    assert "SIGTERM ended training at step" in output, output
    with open(out / TRAINING_INFO_FILE) as handle:
        info = json.load(handle)
    assert info["stopped_by"] == "SIGTERM"
    assert 1 <= info["steps"] < 1000000 and info["trained_length"] == 16  # still in the 1-segment stage
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert isinstance(model, hf_rmt.RMTForSequenceClassification)
