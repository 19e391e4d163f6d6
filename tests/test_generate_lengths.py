"""`RMTForCausalLM.generate`: every length and stopping argument counts as transformers counts it for a plain model
given the same prompt (issue 15: `max_length=46` on a 40-token prompt gave 34 new tokens, counted against the row
`[read mem | last segment]` instead of the prompt).

Each test runs the same call on a plain GPT-2 and on an RMT GPT-2 (4 memory tokens, segments of 8) and compares what
transformers decides from the prompt: how many tokens are generated, where generation stops, what is refused. The
tokens themselves differ (the RMT model reads its prompt through memory); where stopping depends on them (an eos or a
stop string), each model's own greedy continuation defines the stop token or string.
"""

from __future__ import annotations

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList, PreTrainedTokenizerFast

import hf_rmt


# A 5-token prompt is shorter than its row (4 memory tokens + 5), a 40-token prompt longer (4 + 8): a count against
# the row errs in both directions.
PROMPT_LENGTHS = (5, 40)


def plain_model():
    model = tiny_backbone("gpt2", "causal-lm", seed=0)
    model.generation_config.pad_token_id = 0
    return model


def rmt_model():
    model = hf_rmt.get_rmt_model(tiny_backbone("gpt2", "causal-lm", seed=0), rmt_config("gpt2")).eval()
    model.generation_config.pad_token_id = 0
    return model


MODELS = {"plain": plain_model, "rmt": rmt_model}


def prompt(length, batch=1):
    return torch.randint(5, 99, (batch, length), generator=torch.Generator().manual_seed(length))


class Prefer(LogitsProcessor):
    """Adds a large score to `token`: it is generated whenever nothing forbids it (an additive bias keeps -inf, so
    `min_length`'s suppression of eos still holds)."""

    def __init__(self, token):
        self.token = token

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.token] += 1e4
        return scores


class SeesLength(LogitsProcessor):
    """Forbids `token` until the sequence it is given is `length` long: a processor that reads the sequence."""

    def __init__(self, token, length):
        self.token, self.length = token, length
        self.seen = []

    def __call__(self, input_ids, scores):
        self.seen.append(input_ids.shape[1])
        if input_ids.shape[1] < self.length:
            scores = scores.clone()
            scores[:, self.token] = -float("inf")
        return scores


# Token i of the tiny vocabulary is one printable character (and five longer tokens), so that text and tokens match
# one to one for stop strings.
CHARACTERS = [chr(c) for c in range(33, 127)] + [f"[{i}]" for i in range(5)]


def tokenizer():
    """A character-level tokenizer over the tiny vocabulary (`CHARACTERS`)."""
    backend = Tokenizer(models.WordLevel({text: i for i, text in enumerate(CHARACTERS)}, unk_token="[0]"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=backend)


def new_tokens(model, ids, **kwargs):
    out = model.generate(ids, **kwargs)
    assert torch.equal(out[:, : ids.shape[1]], ids)
    return out[:, ids.shape[1] :]


@pytest.mark.parametrize("length", PROMPT_LENGTHS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_length": 46},
        {"max_length": 52, "do_sample": False},
        {"max_new_tokens": 7},
        {"max_new_tokens": 3, "max_length": 60},  # max_new_tokens wins
        {},  # transformers' default: 20 new tokens
    ],
    ids=["max_length", "max_length-greedy", "max_new_tokens", "both", "default"],
)
def test_length_counts_like_a_plain_model(kwargs, length):
    ids = prompt(length)
    counts = {name: new_tokens(build(), ids, **kwargs).shape[1] for name, build in MODELS.items()}
    assert counts["rmt"] == counts["plain"], counts
    expected = kwargs.get("max_new_tokens", kwargs.get("max_length", length + 20) - length)
    assert counts["plain"] == expected


@pytest.mark.parametrize("length", PROMPT_LENGTHS)
def test_max_length_on_a_generation_config_counts_like_a_plain_model(length):
    ids = prompt(length)
    for how in ("model", "argument"):
        counts = {}
        for name, build in MODELS.items():
            model = build()
            if how == "model":
                model.generation_config.max_length = length + 6
                counts[name] = new_tokens(model, ids).shape[1]
            else:
                config = GenerationConfig(max_length=length + 6, pad_token_id=0)
                counts[name] = new_tokens(model, ids, generation_config=config).shape[1]
        assert counts == {"plain": 6, "rmt": 6}, (how, counts)


@pytest.mark.parametrize("length", PROMPT_LENGTHS)
@pytest.mark.parametrize("how", ["min_length", "min_new_tokens", "config_min_length"])
def test_minimum_lengths_hold_eos_back_as_for_a_plain_model(how, length):
    """With eos preferred at every step, generation ends at the first step where the minimum allows eos."""
    ids = prompt(length)
    eos = 7
    counts = {}
    for name, build in MODELS.items():
        model = build()
        kwargs = {"eos_token_id": eos, "max_new_tokens": 12, "logits_processor": LogitsProcessorList([Prefer(eos)])}
        if how == "min_length":
            kwargs["min_length"] = length + 4
        elif how == "min_new_tokens":
            kwargs["min_new_tokens"] = 4
        else:
            model.generation_config.min_length = length + 4
        out = new_tokens(model, ids, **kwargs)
        assert out[0, -1] == eos and (out[0, :-1] != eos).all(), (name, out)
        counts[name] = out.shape[1]
    assert counts == {"plain": 5, "rmt": 5}, counts


class PreferInRow(LogitsProcessor):
    """Makes `token` the choice of sample `row` once the sequence is `length` long (and nothing forbids it)."""

    def __init__(self, token, row, length):
        self.token, self.row, self.length = token, row, length

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] >= self.length:
            scores = scores.clone()
            scores[self.row, self.token] += 1e4
        return scores


@pytest.mark.parametrize("length", PROMPT_LENGTHS)
@pytest.mark.parametrize("where", ["argument", "model"])
def test_eos_token_id_stops_and_pads_as_for_a_plain_model(where, length):
    """In a batch, the sample that generates eos (as its third new token) stops and is padded, the other goes on to
    `max_new_tokens`; with the eos given as an argument or set on the model's generation config."""
    ids = prompt(length, batch=2)
    results = {}
    for name, build in MODELS.items():
        model = build()
        free = new_tokens(model, ids, max_new_tokens=6)
        eos = next(t for t in range(5, 99) if t not in free.tolist()[0] + free.tolist()[1])  # generated by neither
        kwargs = {"max_new_tokens": 6, "logits_processor": LogitsProcessorList([PreferInRow(eos, 0, length + 2)])}
        if where == "model":
            model.generation_config.eos_token_id = eos
        else:
            kwargs["eos_token_id"] = eos
        out = new_tokens(model, ids, **kwargs)
        assert out[0].tolist() == free[0, :2].tolist() + [eos, 0, 0, 0], (name, out)
        assert out[1].tolist() == free[1].tolist(), (name, out)
        results[name] = out.shape
    assert results["rmt"] == results["plain"] == (2, 6)


class Force(LogitsProcessor):
    """Makes `tokens[k]` the choice at the step where the sequence is `start + k` long."""

    def __init__(self, tokens, start):
        self.tokens, self.start = tokens, start

    def __call__(self, input_ids, scores):
        k = input_ids.shape[1] - self.start
        if 0 <= k < len(self.tokens):
            scores = scores.clone()
            scores[:, self.tokens[k]] += 1e4
        return scores


@pytest.mark.parametrize("length", PROMPT_LENGTHS)
def test_stop_strings_count_the_prompt_as_for_a_plain_model(length):
    """A stop string made of the prompt's last token and the first new token stops after one token (the plain
    model's sequence holds the prompt); one made of the first two new tokens stops after two."""
    ids = prompt(length)
    tok = tokenizer()
    last = int(ids[0, -1])
    forced = [t for t in (40, 41, 42, 43, 44) if t != last][:4]  # distinct from each other and the prompt's end
    across = CHARACTERS[last] + CHARACTERS[forced[0]]
    within = CHARACTERS[forced[0]] + CHARACTERS[forced[1]]
    for name, build in MODELS.items():
        model = build()
        for stop, expected in ((across, 1), (within, 2), ("no such string", 4)):
            processors = LogitsProcessorList([Force(forced, length)])
            out = new_tokens(
                model, ids, max_new_tokens=4, stop_strings=stop, tokenizer=tok, logits_processor=processors
            )
            assert out[0].tolist() == forced[:expected], (name, stop, out)


def test_stop_strings_without_a_tokenizer_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match=r"stop_strings.*tokenizer"):
        rmt_model().generate(prompt(20), max_new_tokens=3, stop_strings="ab")


@pytest.mark.parametrize("length", PROMPT_LENGTHS)
def test_custom_processors_and_criteria_see_the_whole_sequence(length):
    ids = prompt(length)
    for name, build in MODELS.items():
        processor = SeesLength(token=3, length=length + 2)
        new_tokens(build(), ids, max_new_tokens=3, logits_processor=LogitsProcessorList([processor]))
        assert processor.seen == [length, length + 1, length + 2], name


def test_max_length_not_above_the_prompt_is_refused_as_for_a_plain_model():
    ids = prompt(40)
    messages = []
    for build in MODELS.values():
        with pytest.raises(ValueError, match="Input length of input_ids is 40") as error:
            build().generate(ids, max_length=40)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_return_dict_in_generate_holds_the_whole_sequence():
    ids = prompt(20)
    out = rmt_model().generate(ids, max_new_tokens=3, return_dict_in_generate=True, output_scores=True)
    assert out.sequences.shape == (1, 23) and torch.equal(out.sequences[:, :20], ids)
    assert len(out.scores) == 3


def test_the_model_and_its_backbone_share_one_generation_config():
    model = rmt_model()
    assert model.generation_config is model.backbone.generation_config
    assert model.generation_config.eos_token_id == model.backbone.config.eos_token_id
