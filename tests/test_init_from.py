"""`hf-rmt train --init-from DIR`: a run continues from the weights an earlier run saved (LoRA + memory, full
fine-tuning, memory only), exactly, and refuses a saved model that does not fit it, in the flags' words."""

import json
import os

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from hf_rmt.cli import main
from hf_rmt.tasks import make_dataset


TINY = ["--segment-size", "16", "--num-memory-tokens", "4", "--device", "cpu", "--batch-size", "2", "--seed", "1"]
MODES = {"lora": [], "full": ["--train-backbone"], "memory": ["--lora-r", "0"]}


def train(backbone_dir, out, *extra, task="memorize", steps="2"):
    args = ["train", "--model", backbone_dir, "--task", task, "--output-dir", str(out), *TINY]
    return main([*args, "--curriculum", "1", "--steps-per-stage", steps, "--lr", "1e-2", *extra])


def logits(path, backbone_dir):
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    data = make_dataset("memorize", tokenizer, 3, 40, "test", 0, fields=["input_ids"])
    ids = torch.tensor([data[i]["input_ids"] for i in range(3)])
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("mode", sorted(MODES))
def test_continues_from_the_saved_weights(backbone_dir, tmp_path, mode):
    first = tmp_path / "first"
    assert train(backbone_dir, first, *MODES[mode]) == 0
    # A continuation with learning rate 0 changes nothing: it must save exactly what it started from.
    again = tmp_path / "again"
    assert train(backbone_dir, again, *MODES[mode], "--init-from", str(first), "--lr", "0") == 0
    torch.testing.assert_close(logits(again, backbone_dir), logits(first, backbone_dir), rtol=0, atol=0)
    with open(again / "hf_rmt_training.json") as handle:
        assert json.load(handle)["init_from"] == str(first)
    # ... and one that trains starts from there, not from scratch: a fresh run with the same seed ends elsewhere.
    continued, fresh = tmp_path / "continued", tmp_path / "fresh"
    assert train(backbone_dir, continued, *MODES[mode], "--init-from", str(first)) == 0
    assert train(backbone_dir, fresh, *MODES[mode]) == 0
    assert not torch.allclose(logits(continued, backbone_dir), logits(fresh, backbone_dir))


def error_of(capsys, *args):
    assert main(list(args)) == 2
    return " ".join(capsys.readouterr().err.split())


def test_refuses_what_does_not_fit(backbone_dir, tmp_path, capsys):
    lora, full = tmp_path / "lora", tmp_path / "full"
    assert train(backbone_dir, lora) == 0 and train(backbone_dir, full, "--train-backbone") == 0
    capsys.readouterr()
    base = ["train", "--model", backbone_dir, "--task", "memorize", "--curriculum", "1", "--steps-per-stage", "1"]
    out = tmp_path / "out"

    def refused(*extra, tiny=TINY):
        return error_of(capsys, *base, "--output-dir", str(out), *tiny, *extra)

    assert refused("--init-from", str(tmp_path / "nowhere")).endswith(
        f"--init-from {tmp_path / 'nowhere'}: no such folder."
    )
    other = [*TINY[:2], "--num-memory-tokens", "3", *TINY[4:]]
    err = refused("--init-from", str(lora), tiny=other)
    assert "it was trained with --num-memory-tokens 4, this run has 3; give --num-memory-tokens 4" in err
    assert "its LoRA has r=16, this run 8; give --lora-r 16" in refused("--init-from", str(lora), "--lora-r", "8")
    assert "holds no LoRA adapter" in refused("--init-from", str(full))
    assert "continue it with --train-backbone" in refused("--init-from", str(full), "--lora-r", "0")
    assert "holds a LoRA adapter" in refused("--init-from", str(lora), "--lora-r", "0")
    task = ["--task", "qa5"]  # other labels than memorize's (people and objects)
    args = ["train", "--model", backbone_dir, "--output-dir", str(out), *TINY, "--curriculum", "1", "--init-from"]
    err = error_of(capsys, *args, str(lora), *task)
    assert "its labels" in err and "are not this task's" in err
    assert not os.path.exists(out)  # nothing written for a refused run


@pytest.mark.parametrize("mode", ["lora", "full"])
def test_refuses_weights_that_are_not_finite(backbone_dir, tmp_path, capsys, mode):
    # What a diverged run left (session 15's ARMT run saved NaN weights and the next command trained qa1 from them at
    # chance): refused in --init-from's words, before anything trains.
    from safetensors.torch import load_file, save_file

    saved = tmp_path / "saved"
    assert train(backbone_dir, saved, *MODES[mode]) == 0
    name = "adapter_model.safetensors" if mode == "lora" else "model.safetensors"
    weights = load_file(saved / name)
    key = sorted(weights)[0]
    weights[key] = torch.full_like(weights[key], float("nan"))
    save_file(weights, saved / name, metadata={"format": "pt"})
    capsys.readouterr()
    out = tmp_path / "out"
    err = error_of(
        capsys, "train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(out), *TINY,
        *MODES[mode], "--curriculum", "1", "--steps-per-stage", "1", "--init-from", str(saved),
    )  # fmt: skip
    assert f"--init-from {saved}: 1 of its weights hold NaN or inf values" in err and "diverged" in err
    assert not os.path.exists(out)
