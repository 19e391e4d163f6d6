"""The benchmark scripts run end to end (tiny models, CPU) and write the JSON they promise."""

import json
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


def test_armt_benchmark_smoke_run_writes_json_and_log(tmp_path):
    script = os.path.join(ROOT, "bench", "bench_armt.py")
    run([sys.executable, script, "--quick", "--device", "cpu", "--output-dir", str(tmp_path)], cwd=ROOT)
    result = json.loads((tmp_path / "bench_armt.json").read_text())
    assert [(row["batch"], row["mode"]) for row in result["inference"]] == [(1, "eager"), (2, "eager")]
    for row in result["inference"]:
        assert row["rmt_tok_s"] > 0 and row["armt_tok_s"] > 0
        assert row["ratio"] == pytest.approx(row["armt_tok_s"] / row["rmt_tok_s"])
    assert result["training"][0]["rmt_s"] > 0 and result["training"][0]["armt_s"] > 0
    # 2 layers, hidden 64, memory_dim 8: 2 * (2 * 64 * 8 + 64 * 64 + 65) extra parameters
    assert result["settings"]["extra_parameters"] == 2 * (2 * 64 * 8 + 64 * 64 + 65)
    assert "ARMT vs RMT" in (tmp_path / "bench_armt.log").read_text()


def test_associative_retrieval_training_smoke_run_writes_json_and_log(tmp_path):
    script = os.path.join(ROOT, "bench", "train_associative_retrieval.py")
    run([sys.executable, script, "--quick", "--device", "cpu", "--output-dir", str(tmp_path)], cwd=ROOT)
    result = json.loads((tmp_path / "associative_retrieval.json").read_text())
    assert [m["memory_type"] for m in result["models"]] == ["associative", "rmt"]
    for model in result["models"]:
        assert [s["max_pairs"] for s in model["stages"]] == [1, 2] and model["steps"] == 6
        assert [e["pairs"] for e in model["evaluation"]] == [1, 2, 4, 10, 20]  # up to 10x the trained 2 pairs
        assert all(0 <= e["exact_match"] <= 1 for e in model["evaluation"])
        assert not model["stopped_by_time_cap"]
    assert result["models"][0]["parameters"] > result["models"][1]["parameters"]  # ARMT's projections
    assert "Exact match by number of pairs" in (tmp_path / "associative_retrieval.log").read_text()
