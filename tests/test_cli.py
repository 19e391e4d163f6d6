"""The `hf-rmt` command: help texts, `train` then `eval` end to end on a tiny model, `main` with shrunk settings, and
argument errors."""

import json
import os
import shutil
import sys

import pytest
import torch
from _subprocess import run as run_subprocess
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

import hf_rmt
from hf_rmt import cli
from hf_rmt.cli import main


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
    result = run_subprocess([sys.executable, "-m", "hf_rmt.cli", "--version"])
    assert result.stdout.strip() == f"hf_rmt {hf_rmt.__version__}"


def test_train_saves_a_loadable_checkpoint(trained_dir, backbone_dir):
    for name in ("config.json", "tokenizer.json", cli.TRAINING_INFO_FILE):
        assert os.path.isfile(os.path.join(trained_dir, name)), name
    with open(os.path.join(trained_dir, cli.TRAINING_INFO_FILE)) as handle:
        info = json.load(handle)
    assert info["task"] == "memorize" and info["curriculum"] == [1, 2] and info["steps_per_stage"] == [2, 1]
    assert info["trained_length"] == 32 and info["segment_size"] == 16 and info["base_model"] == backbone_dir
    # What the outcome depends on besides the flags: precision, hardware and library versions, shown on the card.
    assert info["precision"] == "float32" and info["hardware"] == f"CPU, {info['torch_threads']} threads"
    assert f"torch {torch.__version__}" in info["versions"] and info["stage_target"] is None
    card = cli.card_training_info(info)
    assert card["precision"] == "float32" and card["hardware"] == info["hardware"] and "init_from" not in card
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


def test_eval_adds_lengths_to_the_folder_results_and_its_card(trained_dir, tmp_path, capsys):
    """The paper's recipe evaluates 1M tokens and beyond in a second command, on fewer samples: the second run adds
    to the folder's results and card (a length measured again is replaced), and an evaluation of another task is
    refused before it runs instead of writing over them."""
    import shutil

    folder = str(tmp_path / "model")
    shutil.copytree(trained_dir, folder)
    for name in (cli.EVAL_JSON, cli.EVAL_PLOT):  # what other tests left in the shared folder
        if os.path.exists(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))
    base = ["eval", "--model", folder, "--batch-size", "4", "--no-progress", "--device", "cpu", "--no-plot"]
    assert main([*base, "--lengths", "32,64", "--num-samples", "4"]) == 0
    assert main([*base, "--lengths", "128,64", "--num-samples", "2"]) == 0
    assert "Kept the results at 1 other lengths already in" in capsys.readouterr().out
    with open(os.path.join(folder, cli.EVAL_JSON)) as handle:
        rows = [(r["length"], r["num_samples"]) for r in json.load(handle)["results"]]
    assert rows == [(32, 4), (64, 2), (128, 2)]
    card = open(os.path.join(folder, "README.md")).read()
    assert "| Input length | Segments | memorize accuracy | Samples |" in card
    assert "| 32 | 2 |" in card and "| 64 (2x trained) | 4 |" in card and "| 128 (4x trained) | 8 |" in card
    assert "| Stage | Segments |" in card  # the training section stays

    before = open(os.path.join(folder, cli.EVAL_JSON)).read()
    assert main([*base, "--task", "qa1", "--lengths", "100", "--num-samples", "2"]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"--output {folder} already holds the results of another evaluation" in message
    assert "task 'memorize', this evaluation's task is 'qa1'" in message and "pass another --output" in message
    assert open(os.path.join(folder, cli.EVAL_JSON)).read() == before
    assert (
        main([*base, "--task", "qa1", "--lengths", "100", "--num-samples", "2", "--output", str(tmp_path / "qa1")])
        == 0
    )


def test_eval_output_of_a_hub_id_does_not_shadow_it(trained_dir, tmp_path, monkeypatch):
    """Written to `user/rmt-x/`, a Hub model's results would make `--model user/rmt-x` a local folder at the next run
    (one without weights)."""
    monkeypatch.chdir(tmp_path)
    assert cli._eval_output("user/rmt-x", "user/rmt-x", None) == "user--rmt-x-eval"
    assert cli._eval_output("rmt-x", "rmt-x", None) == "rmt-x-eval"
    assert cli._eval_output("user/rmt-x", "user/rmt-x", "out") == "out"
    assert cli._eval_output(trained_dir, trained_dir, None) == trained_dir
    os.makedirs(cli._eval_output("user/rmt-x", "user/rmt-x", None))  # what the first evaluation leaves here
    assert not cli._looks_local("user/rmt-x") and cli._model_folder("user/rmt-x") == "user/rmt-x"


@pytest.mark.parametrize("min_accuracy, status", [(0.0, 0), (1.01, 1)])
def test_main_with_small_settings(backbone_dir, tmp_path, monkeypatch, capsys, min_accuracy, status):
    monkeypatch.setattr(cli, "MAIN_SEGMENT_SIZE", 16)
    monkeypatch.setattr(cli, "MAIN_CURRICULUM", (1, 2))
    monkeypatch.setattr(cli, "MAIN_STEPS_PER_STAGE", (2, 2))
    monkeypatch.setattr(cli, "MAIN_BATCH_SIZE", 2)
    monkeypatch.setattr(cli, "MAIN_EVAL_STEPS", 1)
    monkeypatch.setattr(cli, "MAIN_EVAL_SAMPLES", 4)
    monkeypatch.setattr(cli, "MAIN_TEST_SEGMENTS", (2, 8))
    monkeypatch.setattr(cli, "MAIN_MIN_ACCURACY", min_accuracy)
    out = tmp_path / "main"
    args = ["main", "--model", backbone_dir, "--output-dir", str(out), "--num-samples", "3", "--no-progress"]
    assert main([*args, "--device", "cpu"]) == status
    captured = capsys.readouterr()
    assert "128 (4x trained)" in captured.out and "Total wall time" in captured.out
    # A run below the threshold says so, on stderr, with the measured accuracy; the results are still written.
    assert ("training did NOT converge" in captured.err) == (status == 1)
    with open(out / cli.EVAL_JSON) as handle:
        data = json.load(handle)
    assert [r["length"] for r in data["results"]] == [32, 128]
    assert data["trained_length"] == 32 and data["extra"]["training"]["train_backbone"] is True
    assert data["extra"]["total_seconds"] > 0
    training = data["extra"]["training"]
    # Validated every step: each stage reports its best validation accuracy, and the training ran 2 + 2 steps.
    assert [s["max_segments"] for s in training["stages"]] == [1, 2] and training["steps"] == 4
    assert os.path.isfile(out / "model" / "config.json")
    # The model folder holds the results too, so that a later evaluation adds to them, in the JSON and the card.
    args = [
        "eval",
        "--model",
        str(out / "model"),
        "--lengths",
        "64",
        "--num-samples",
        "3",
        "--no-plot",
        "--no-progress",
    ]
    assert main([*args, "--device", "cpu"]) == 0
    with open(out / "model" / cli.EVAL_JSON) as handle:
        assert [r["length"] for r in json.load(handle)["results"]] == [32, 64, 128]
    card = (out / "model" / "README.md").read_text()
    assert "| 32 | 2 |" in card and "| 64 (2x trained) | 4 |" in card and "| 128 (4x trained) | 8 |" in card


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
    assert "hf-rmt train: error: --task qa9: unknown task; choose one of" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--task qa9: unknown task"):  # --verbose shows the traceback
        main(["--verbose", *base, "--task", "qa9"])
    with pytest.raises(SystemExit, match="gives 2 values for a curriculum of 3 stages"):
        main([*base, "--task", "qa1", "--curriculum", "1,2,3", "--steps-per-stage", "1,2"])
    assert main([*base, "--task", "qa1", "--curriculum", "2,1"]) == 2
    # In the flag's words, not SegmentCurriculum's argument name (`schedule`).
    err = capsys.readouterr().err
    assert "hf-rmt train: error: --curriculum 2,1: the segments per stage must be strictly increasing" in err
    assert "schedule" not in err


# ---- bad input: refused in the flags' words (the flag, the rule, the value), with exit status 2, before the model is
# loaded and before anything is written


def error_of(args, capsys):
    """Runs `hf-rmt ARGS`, which must fail with exit status 2 and print nothing on stdout; returns stderr."""
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return " ".join(captured.err.split())


def files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture
def no_model_loading(monkeypatch):
    """Bad arguments must be refused before the model is loaded."""
    monkeypatch.setattr(cli, "_load_for_eval", lambda *args, **kwargs: pytest.fail("the model was loaded"))


@pytest.mark.parametrize("command", ["eval", "train"])
@pytest.mark.parametrize("value", ["/no/such/dir", "./missing", "~/no-such-hf-rmt-folder", "no/such/deeper/dir"])
def test_model_that_is_no_folder(command, value, tmp_path, capsys):
    out = tmp_path / "out"
    if command == "eval":
        args = ["eval", "--model", value, "--lengths", "100", "--output", str(out)]
    else:
        args = ["train", "--model", value, "--task", "qa1", "--output-dir", str(out), *TINY_RMT]
    assert error_of(args, capsys) == f"hf-rmt {command}: error: --model {value}: no such folder"
    assert not out.exists()


def test_model_that_is_a_file(trained_dir, tmp_path, capsys):
    config = os.path.join(trained_dir, "config.json")
    err = error_of(["eval", "--model", config, "--lengths", "100", "--output", str(tmp_path / "out")], capsys)
    assert err == (
        f"hf-rmt eval: error: --model {config}: not a folder but a file; give the checkpoint's folder: "
        f"--model {trained_dir}"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["bert-base-cased", "namespace/repo_name", "google-bert/bert-base-uncased"])
def test_hub_ids_stay_hub_ids(value):
    assert not cli._looks_local(value) and cli._model_folder(value) == value


def test_model_folder_without_config(tmp_path, capsys, no_model_loading):
    parent = tmp_path / "outputs" / "main"
    (parent / "model").mkdir(parents=True)
    (parent / "model" / "config.json").write_text('{"model_type": "rmt"}')
    (parent / "empty").mkdir()
    before = files_under(tmp_path)
    err = error_of(["eval", "--model", str(parent), "--lengths", "100"], capsys)
    assert err == (
        f"hf-rmt eval: error: --model {parent}: the folder has no config.json, so it is not an hf_rmt checkpoint; "
        f"{parent / 'model'} has one: use --model {parent / 'model'}"
    )
    err = error_of(["eval", "--model", str(tmp_path / "outputs"), "--lengths", "100"], capsys)  # two levels down
    assert f"so it is not an hf_rmt checkpoint; {parent / 'model'} has one" in err
    err = error_of(["eval", "--model", str(parent / "empty"), "--lengths", "100"], capsys)
    assert (
        err == f"hf-rmt eval: error: --model {parent / 'empty'}: the folder has no config.json, so it is not an "
        "hf_rmt checkpoint"
    )
    args = ["train", "--model", str(parent), "--task", "qa1", "--output-dir", str(tmp_path / "o"), *TINY_RMT]
    err = error_of(args, capsys)
    assert f"--model {parent}: the folder has no config.json, so it is not a transformers checkpoint; " in err
    assert files_under(tmp_path) == before


def test_unknown_task_is_refused_before_loading(backbone_dir, tmp_path, capsys, no_model_loading):
    rmt = tmp_path / "rmt"
    rmt.mkdir()
    (rmt / "config.json").write_text('{"model_type": "rmt"}')
    before = files_under(tmp_path)
    names = "memorize, detect_memorize, reasoning, qa1, qa2, qa3, qa4, qa5"
    err = error_of(["eval", "--model", str(rmt), "--task", "qa9", "--lengths", "100"], capsys)
    assert err == f"hf-rmt eval: error: --task qa9: unknown task; choose one of {names}"
    err = error_of(["eval", "--model", "/no/such/dir", "--task", "qa9", "--lengths", "100"], capsys)
    assert err.startswith("hf-rmt eval: error: --task qa9: unknown task")  # checked first
    args = ["train", "--model", backbone_dir, "--task", "qa9", "--output-dir", str(tmp_path / "o"), *TINY_RMT]
    assert error_of(args, capsys) == f"hf-rmt train: error: --task qa9: unknown task; choose one of {names}"
    # No --task: the checkpoint's training info names it, or the user is asked for one.
    err = error_of(["eval", "--model", str(rmt), "--lengths", "100"], capsys)
    assert (
        err == f"hf-rmt eval: error: --task is required: --model {rmt} has no {cli.TRAINING_INFO_FILE} naming its task"
    )
    (rmt / cli.TRAINING_INFO_FILE).write_text('{"task": "qa7"}')
    before = files_under(tmp_path)
    err = error_of(["eval", "--model", str(rmt), "--lengths", "100"], capsys)
    assert err.startswith(f"hf-rmt eval: error: --task (from {cli.TRAINING_INFO_FILE} of --model {rmt}) qa7: unknown")
    assert files_under(tmp_path) == before


def test_lengths_shorter_than_the_task_needs(trained_dir, tmp_path, capsys, monkeypatch):
    from hf_rmt.tasks import min_target_length

    minimum = min_target_length("memorize", AutoTokenizer.from_pretrained(trained_dir), "test", 0)
    assert 5 < minimum < 32
    out = tmp_path / "out"
    load = cli._load_for_eval
    monkeypatch.setattr(cli, "_load_for_eval", lambda *args, **kwargs: pytest.fail("the model was loaded"))
    args = ["eval", "--model", trained_dir, "--output", str(out), "--no-progress", "--no-plot"]
    err = error_of([*args, "--lengths", "5"], capsys)
    assert err == (
        f"hf-rmt eval: error: --lengths 5: each length must be at least {minimum} tokens for task memorize (the facts "
        "and the question must fit)"
    )
    err = error_of([*args, "--lengths", f"100,{minimum - 1}", "--task", "qa1"], capsys)
    assert err.startswith("hf-rmt eval: error: --lengths 100,") and "for task qa1" in err
    assert not out.exists()
    monkeypatch.setattr(cli, "_load_for_eval", load)
    assert main([*args, "--lengths", str(minimum), "--num-samples", "2"]) == 0  # the minimum itself is fine
    assert (out / cli.EVAL_JSON).is_file()


def test_plain_classifier_is_not_an_rmt_checkpoint(backbone_dir, tmp_path, capsys, no_model_loading):
    args = ["eval", "--model", backbone_dir, "--task", "memorize", "--lengths", "100", "--output", str(tmp_path / "o")]
    message = (
        f"--model {backbone_dir} is a BertForSequenceClassification checkpoint, not an hf_rmt one (its config has "
        "model_type 'bert'); wrap it with hf_rmt.get_rmt_model or train it with hf-rmt train"
    )
    assert error_of(args, capsys) == f"hf-rmt eval: error: {message}"
    assert not (tmp_path / "o").exists() and not os.path.exists(os.path.join(backbone_dir, cli.EVAL_JSON))


def test_plain_classifier_from_the_hub_is_refused_once_loaded(backbone_dir):
    # A Hub id's config is only known once loaded: _load_for_eval checks the loaded model's.
    with pytest.raises(ValueError, match="is a BertForSequenceClassification checkpoint, not an hf_rmt one"):
        cli._load_for_eval(backbone_dir, "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_cuda(trained_dir, tmp_path, capsys, no_model_loading):
    args = ["eval", "--model", trained_dir, "--lengths", "100", "--device", "cuda", "--output", str(tmp_path / "o")]
    assert error_of(args, capsys) == (
        "hf-rmt eval: error: --device cuda: no CUDA device is available (torch.cuda.is_available() is False); use cpu"
    )
    assert not (tmp_path / "o").exists()


def test_makefile_runs_the_cli_with_its_python():
    """`make main PYTHON=venv/bin/python` works without an activated venv: no bare `hf-rmt` on the PATH needed."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    # --no-print-directory: under `make test` (CI), the outer make's flags would add "make[1]: Leaving directory".
    dry_run = run_subprocess(["make", "--no-print-directory", "-n", "main", f"PYTHON={sys.executable}"], cwd=root)
    lines = dry_run.stdout.splitlines()
    assert lines[-1] == f"{sys.executable} -m hf_rmt.cli main"
    assert not any(line.startswith("hf-rmt") for line in lines)


def test_logging_settings_are_restored(trained_dir):
    import logging

    from transformers.utils import logging as hf_logging

    hf_logger = logging.getLogger("hf_rmt")
    before = (hf_logger.level, hf_logger.propagate, list(hf_logger.handlers), hf_logging.get_verbosity())
    args = ["eval", "--model", trained_dir, "--lengths", "32", "--num-samples", "1", "--no-plot", "--no-progress"]
    assert main([*args, "--output", trained_dir + "-logging"]) == 0
    assert (hf_logger.level, hf_logger.propagate, list(hf_logger.handlers), hf_logging.get_verbosity()) == before


@pytest.mark.parametrize("extra", [["--device", "cpu"], ["--no-cuda-graphs"]])
def test_eval_compile_needs_cuda_graphs_on_a_gpu(trained_dir, tmp_path, capsys, no_model_loading, extra):
    if "--no-cuda-graphs" in extra and not __import__("torch").cuda.is_available():
        extra = [*extra, "--device", "cpu"]
    out = tmp_path / "out"
    err = error_of(
        ["eval", "--model", trained_dir, "--lengths", "100", "--compile", *extra, "--output", str(out)], capsys
    )
    assert err.startswith("hf-rmt eval: error: --compile compiles the CUDA-graph step on a GPU, but ")
    assert err.endswith("; drop --compile") and not out.exists()


def test_train_with_segment_checkpointing_keeping_the_last_segments(backbone_dir, tmp_path, capsys):
    """`--segment-checkpointing-keep-last K` reaches the saved config; without `--segment-checkpointing` it is refused
    in the flags' words, before anything is written."""
    out = tmp_path / "kept"
    args = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(out), *TINY_RMT]
    args += ["--curriculum", "1,3", "--steps-per-stage", "1", "--batch-size", "2"]
    assert main([*args, "--segment-checkpointing", "--segment-checkpointing-keep-last", "2"]) == 0
    capsys.readouterr()
    config = AutoConfig.from_pretrained(out)
    assert config.segment_checkpointing and config.segment_checkpointing_keep_last == 2
    refused = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(tmp_path / "refused")]
    err = error_of([*refused, *TINY_RMT, "--segment-checkpointing-keep-last", "3"], capsys)
    assert "--segment-checkpointing-keep-last sets how many segments segment checkpointing keeps: it needs " in err
    assert "got --segment-checkpointing-keep-last 3 without it" in err
    assert not (tmp_path / "refused").exists()
    with pytest.raises(SystemExit):  # argparse's own error for a bad value
        main([*refused, *TINY_RMT, "--segment-checkpointing", "--segment-checkpointing-keep-last", "0"])
    err = capsys.readouterr().err
    assert "--segment-checkpointing-keep-last: expected a positive integer, got '0'" in err
    assert not (tmp_path / "refused").exists()


def test_train_an_associative_memory(backbone_dir, tmp_path, capsys):
    """`--memory-type associative` (ARMT) trains and saves a checkpoint that reloads with its associative memory;
    `--memory-dim` without it is refused in the flags' words."""
    out = tmp_path / "armt"
    args = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(out), *TINY_RMT]
    args += ["--curriculum", "1,2", "--steps-per-stage", "1", "--batch-size", "2", "--lr", "1e-3"]
    assert main([*args, "--memory-type", "associative", "--memory-dim", "8"]) == 0
    assert "ARMT around" in capsys.readouterr().out
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.memory_type == "associative" and model.config.memory_dim == 8
    assert len(model.memory.layers) == 2
    refused = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(tmp_path / "refused")]
    err = error_of([*refused, *TINY_RMT, "--memory-dim", "8"], capsys)
    assert (
        "--memory-dim sizes the associative memory: it needs --memory-type associative, got --memory-type rmt" in err
    )
    assert not (tmp_path / "refused").exists()


def test_train_placement_reaches_the_training_data_only(backbone_dir, tmp_path, capsys, monkeypatch):
    """`--placement` lays out the training samples (with the model's segment size and alignment); the validation
    samples keep the task's own placement, and the training info records the flag."""
    import hf_rmt.tasks

    made = []
    real_make_dataset = hf_rmt.tasks.make_dataset

    def spy(*args, **kwargs):
        dataset = real_make_dataset(*args, **kwargs)
        made.append(dataset)
        return dataset

    monkeypatch.setattr(hf_rmt.tasks, "make_dataset", spy)
    out = tmp_path / "placed"
    args = ["train", "--model", backbone_dir, "--task", "qa1", "--output-dir", str(out), "--segment-size", "48"]
    args += ["--num-memory-tokens", "4", "--device", "cpu", "--curriculum", "1,2", "--steps-per-stage", "1"]
    args += ["--batch-size", "2", "--eval-steps", "1", "--eval-samples", "2", "--placement", "before_last_segment"]
    assert main(args) == 0
    capsys.readouterr()
    train = {d.target_lengths: d for d in made if d.split == "train"}
    validation = {d.target_lengths: d for d in made if d.split == "validation"}
    assert set(train) == set(validation) == {(48,), (96,)}  # both stages were built and validated
    for dataset in train.values():
        assert (dataset.placement, dataset.segment_size, dataset.segment_alignment) == (
            "before_last_segment",
            48,
            "right",
        )
    # the 2-segment samples whose facts fit in one segment have them all in the first (the others fall back)
    fitting = [s for s in train[(96,)] if sum(end - start for start, end in s["fact_spans"]) <= 48]
    assert fitting and all(s["fact_spans"][-1][1] <= 48 for s in fitting)
    for dataset in validation.values():
        assert (dataset.placement, dataset.segment_size) == ("random_gaps", None)
    with open(out / cli.TRAINING_INFO_FILE) as handle:
        assert json.load(handle)["placement"] == "before_last_segment"
    # the default leaves the training data as it was: the task's placement, no segment layout
    made.clear()
    args = [a if a != str(out) else str(tmp_path / "auto") for a in args[:-2]]
    assert main(args) == 0
    capsys.readouterr()
    assert {(d.split, d.placement, d.segment_size) for d in made} == {
        ("train", "random_gaps", None),
        ("validation", "random_gaps", None),
    }
    with open(tmp_path / "auto" / cli.TRAINING_INFO_FILE) as handle:
        assert json.load(handle)["placement"] == "auto"


def test_train_placement_errors(backbone_dir, tmp_path, capsys):
    """A placement the task refuses is reported in the flag's words before any model is loaded or file written."""
    from hf_rmt.cli_checks import TRAIN_PLACEMENTS
    from hf_rmt.tasks import PLACEMENTS

    assert TRAIN_PLACEMENTS == ("auto", *PLACEMENTS)
    out = tmp_path / "refused"
    args = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(out), *TINY_RMT]
    err = error_of([*args, "--placement", "before_last_segment"], capsys)
    assert err == (
        "hf-rmt train: error: --placement before_last_segment with --task memorize: task 'memorize' keeps its fact at "
        "the start, so placement must be 'auto' or 'start', got 'before_last_segment'; use 'detect_memorize' for a "
        "fact at a random place"
    )
    assert not out.exists()
    with pytest.raises(SystemExit):  # argparse's own error for an unknown value
        main([*args, "--placement", "middle"])
    assert "argument --placement: invalid choice: 'middle'" in capsys.readouterr().err
    assert not out.exists()


def test_train_torch_compile_compiles_the_blocks_and_trains_as_eager(backbone_dir, tmp_path, capsys, monkeypatch):
    """`--torch-compile-backend` (implying `--torch-compile`) reaches RMTTrainer, which compiles the backbone's blocks
    in place: the run logs the losses of the eager run, saves the same loadable weights (no `_orig_mod` keys) and
    records the mode; an unknown backend is refused in the flag's words before anything is written."""
    import hf_rmt.training.trainer as trainer_module

    compiled = []
    real_compile = trainer_module.compile_backbone_blocks

    def spy(model, **kwargs):
        compiled.append(kwargs)
        return real_compile(model, **kwargs)

    monkeypatch.setattr(trainer_module, "compile_backbone_blocks", spy)
    base = ["train", "--model", backbone_dir, "--task", "memorize", *TINY_RMT, "--curriculum", "1,2"]
    base += ["--steps-per-stage", "2,1", "--batch-size", "2", "--lr", "1e-3", "--logging-steps", "1", "--seed", "5"]
    runs = {}
    for name, extra in (("eager", []), ("compiled", ["--torch-compile-backend", "aot_eager"])):
        assert main([*base, "--output-dir", str(tmp_path / name), *extra]) == 0
        with open(tmp_path / name / cli.TRAINING_INFO_FILE) as handle:
            runs[name] = json.load(handle)
    capsys.readouterr()
    assert compiled == [{"mode": "default", "backend": "aot_eager"}]
    assert runs["eager"]["torch_compile"] is None and runs["compiled"]["torch_compile"] == "default"
    assert len(runs["compiled"]["final_losses"]) == 3
    torch.testing.assert_close(runs["compiled"]["final_losses"], runs["eager"]["final_losses"], rtol=1e-4, atol=1e-5)
    eager = AutoModelForSequenceClassification.from_pretrained(tmp_path / "eager").state_dict()
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "compiled").state_dict()
    assert loaded.keys() == eager.keys() and not any("_orig_mod" in key for key in loaded)
    for key in eager:
        torch.testing.assert_close(loaded[key], eager[key], rtol=1e-4, atol=1e-5)
    refused = tmp_path / "refused"
    capsys.readouterr()
    err = error_of([*base, "--output-dir", str(refused), "--torch-compile-backend", "nope"], capsys)
    assert err.startswith("hf-rmt train: error: --torch-compile-backend nope: not a torch.compile backend; choose one")
    assert "inductor" in err and "aot_eager" in err
    assert not refused.exists()
