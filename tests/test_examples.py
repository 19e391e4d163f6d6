"""The example scripts run end to end on a tiny model, on CPU, as subprocesses (a few steps each)."""

import json
import os
import shutil
import sys

import pytest
from _subprocess import MULTIPROCESS_TIMEOUT, TIMEOUT
from _subprocess import run as run_command
from tiny_models import minilm_path, tiny_backbone


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
pytestmark = pytest.mark.skipif(minilm_path() is None, reason="the examples' tasks need the offline MiniLM tokenizer")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A tiny random BERT with MiniLM's tokenizer (the examples load both from one path), and a small noise file."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("tiny_bert")
    tiny_backbone("bert", "base", vocab_size=30522, max_position_embeddings=64).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)
    sentences = [f"On day {i} the weather was {w} and nobody went out." for i, w in enumerate(["fine", "grey"] * 60)]
    (folder / "noise.txt").write_text("\n".join(sentences))
    return folder


def run(args, cwd, launcher=(sys.executable,), timeout=TIMEOUT):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    return run_command([*launcher, *args], cwd=cwd, env=env, timeout=timeout)


def read_losses(path):
    with open(path) as handle:
        return {r["step"]: r["loss"] for r in json.load(handle) if "loss" in r}


COMMON = {
    "task": "memorize",
    "num_memory_tokens": 4,
    "segment_size": 24,
    "max_steps": 4,
    "per_device_train_batch_size": 4,
    "eval_samples": 8,
    "curriculum": "one_per_stage",
    "max_segments": 2,
    "stage_steps": "2",
    "learning_rate": 1e-3,
    "seed": 0,
}


def test_train_trainer_from_a_json_config(tiny_dir, tmp_path):
    config = {
        **COMMON,
        "model_name_or_path": str(tiny_dir),
        "noise_file": str(tiny_dir / "noise.txt"),
        "output_dir": str(tmp_path / "out"),
        "do_train": True,
        "do_eval": True,
        "logging_steps": 1,
        "save_steps": 2,
        "use_cpu": True,
        "report_to": "none",
        "disable_tqdm": True,
        "segment_checkpointing": True,
        "disable_dropout": True,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    run([os.path.join(EXAMPLES, "train_trainer.py"), str(tmp_path / "config.json")], cwd=tmp_path)
    out = tmp_path / "out"
    with open(out / "loss_log.json") as handle:
        log = json.load(handle)
    assert sorted(read_losses(out / "loss_log.json")) == [1, 2, 3, 4]
    stages = [(r["curriculum_from_step"], r["curriculum_max_segments"]) for r in log if "curriculum_stage" in r]
    assert stages == [(1, 1), (3, 2)]
    assert {"config.json", "rmt_adapter.safetensors", "tokenizer.json"} <= set(os.listdir(out))
    assert {"rmt_adapter.safetensors", "trainer_state.json"} <= set(os.listdir(out / "checkpoint-2"))
    with open(out / "eval_results.json") as handle:
        results = json.load(handle)
    assert 0 <= results["eval_accuracy"] <= 1 and results["eval_segments"] == 2
    with open(out / "config.json") as handle:
        assert json.load(handle)["segment_checkpointing"] is True


def accelerate_args(tiny_dir, output_dir, **extra):
    options = {**COMMON, "save_steps": 2, "noise_file": str(tiny_dir / "noise.txt"), **extra}
    options["curriculum"], options["max_segments"] = "babilong", 4
    args = [os.path.join(EXAMPLES, "train_accelerate.py"), "--model_name_or_path", str(tiny_dir)]
    args += ["--output_dir", str(output_dir), "--cpu"]
    for key, value in options.items():
        args += [f"--{key}", str(value)]
    return args


def test_train_accelerate_and_resume_the_same_run(tiny_dir, tmp_path):
    out = tmp_path / "out"
    run(accelerate_args(tiny_dir, out), cwd=tmp_path)
    uninterrupted = read_losses(out / "loss_log.json")
    assert sorted(uninterrupted) == [1, 2, 3, 4]
    assert {"rmt_fingerprint.json", "training_state.json", "custom_checkpoint_0.pkl"} <= set(
        os.listdir(out / "checkpoint-2")
    )
    assert {"config.json", "rmt_adapter.safetensors", "eval_results.json"} <= set(os.listdir(out))

    shutil.copytree(out / "checkpoint-2", tmp_path / "resume" / "checkpoint-2")
    run(
        accelerate_args(tiny_dir, tmp_path / "resume", resume_from_checkpoint=tmp_path / "resume" / "checkpoint-2"),
        cwd=tmp_path,
    )
    resumed = read_losses(tmp_path / "resume" / "loss_log.json")
    assert sorted(resumed) == [3, 4]
    for step in (3, 4):
        assert resumed[step] == pytest.approx(uninterrupted[step], rel=1e-6)


@pytest.mark.slow
def test_train_trainer_under_torchrun_matches_one_process(tiny_dir, tmp_path):
    """Two processes (gloo on CPU) with half the per-device batch see the same global batches as one process."""

    def args(output, batch):
        # Segment checkpointing on: DDP must see each parameter's gradient once although every segment uses it.
        options = {**COMMON, "per_device_train_batch_size": batch, "max_steps": 4, "segment_checkpointing": True}
        flags = [os.path.join(EXAMPLES, "train_trainer.py"), "--model_name_or_path", str(tiny_dir)]
        flags += ["--noise_file", str(tiny_dir / "noise.txt"), "--output_dir", str(output), "--do_train"]
        flags += ["--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--logging_steps", "1"]
        flags += ["--save_strategy", "no", "--train_backbone"]
        for key, value in options.items():
            flags += [f"--{key}", str(value)]
        return flags

    assert_two_processes_follow_one(args, tmp_path, rel=1e-4)


@pytest.mark.slow
def test_train_accelerate_under_torchrun_matches_one_process(tiny_dir, tmp_path):
    """The Accelerate loop on two processes (gloo on CPU) follows the one-process run: same global batches, and the
    learning-rate schedule laid out in process-steps (a prepared scheduler steps once per process)."""
    extra = {"max_steps": 4, "warmup_steps": 1, "learning_rate": 3e-3, "disable_dropout": ""}
    extra["segment_checkpointing"] = ""
    extra["save_steps"] = 0  # checkpoints are the resume test's business: here they would only cost time

    def args(output, batch):
        flags = accelerate_args(tiny_dir, output, per_device_train_batch_size=batch, **extra)
        return [flag for flag in flags if flag != ""]  # bare flags

    assert_two_processes_follow_one(args, tmp_path, rel=1e-5)


def assert_two_processes_follow_one(args, tmp_path, rel):
    """`args(output_dir, per_device_batch)`: one process at batch 4, then torchrun with 2 processes at batch 2;
    the logged losses of the 4 steps must agree to `rel`."""
    run(args(tmp_path / "one", 4), cwd=tmp_path)
    # --standalone: a free port of its own, so runs of the suite side by side on one machine cannot meet.
    torchrun = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2")
    run(args(tmp_path / "two", 2), cwd=tmp_path, launcher=torchrun, timeout=MULTIPROCESS_TIMEOUT)
    one, two = read_losses(tmp_path / "one" / "loss_log.json"), read_losses(tmp_path / "two" / "loss_log.json")
    assert sorted(one) == sorted(two) == [1, 2, 3, 4]
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=rel), step
