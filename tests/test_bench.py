"""The benchmark scripts run end to end (tiny models, CPU) and write the JSON they promise."""

import json
import math
import os
import sys

import pytest
from _subprocess import run


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("script", ["bench_inference.py", "bench_training.py"])
def test_benchmark_smoke_run_writes_json(script, tmp_path):
    output = tmp_path / "result.json"
    command = [
        sys.executable,
        os.path.join(ROOT, "bench", script),
        "--quick",
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--output",
        str(output),
    ]
    run(command, cwd=ROOT)
    result = json.loads(output.read_text())
    if script == "bench_inference.py":
        assert result["torch"] and result["device"]
        assert len(result["throughput"]) == 2 and all(row["rmt_tok_s"] > 0 for row in result["throughput"])
        assert len(result["long_inputs"]) == 4 and all(row["seconds"] > 0 for row in result["long_inputs"])
        assert [row["tokens"] for row in result["versus_full_attention"]] == [128, 256]
        for row in result["versus_full_attention"]:  # quick: one RMT segment size, timed eager (no CUDA)
            assert row["full_s"] > 0 and [r["segment_size"] for r in row["rmt"]] == [32]
            assert (
                row["rmt"][0]["eager_s"] > 0 and row["rmt"][0]["speedup"] == row["full_s"] / row["rmt"][0]["eager_s"]
            )
    else:
        assert result["environment"]["torch"]
        assert {(r["segments"], r["segment_checkpointing"]) for r in result["results"]} == {
            (2, False),
            (2, True),
            (4, False),
            (4, True),
        }
        assert all(r["step_time_s"] > 0 for r in result["results"])


def test_seq2seq_qa1_training_smoke_run_writes_accuracy_by_length(tmp_path):
    """bench/train_seq2seq_qa1.py --quick: a tokenizer trained in the script, a tiny T5 + memory, 4 steps over a
    1-then-2-segment curriculum, exact match at 1 and 2 segments of the test split."""
    output = tmp_path / "seq2seq.json"
    script = os.path.join(ROOT, "bench", "train_seq2seq_qa1.py")
    run([sys.executable, script, "--quick", "--device", "cpu", "--output", str(output)], cwd=ROOT)
    result = json.loads(output.read_text())
    training, evaluation = result["training"], result["evaluation"]
    assert training["steps"] == 4 and not training["stopped_by_time"]
    assert [stage["max_segments"] for stage in training["stages"]] == [1, 2]  # the curriculum ran both stages
    assert [v["length"] for v in training["validation"]] == [96, 192]
    assert all(math.isfinite(entry["loss"]) for entry in training["log"])
    assert evaluation["task"] == "qa1" and evaluation["metric"] == "exact_match" and evaluation["split"] == "test"
    assert [(r["length"], r["num_segments"], r["num_samples"]) for r in evaluation["results"]] == [
        (96, 1, 4),
        (192, 2, 4),
    ]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in evaluation["results"])
    assert result["model"]["backbone"] == "T5 (random init)" and evaluation["trained_length"] == 192
