"""A census of bad inputs: one case per bad input a user can give hf_rmt (config fields, `get_rmt_model`, forward and
generate arguments, loading, saving, tasks and training helpers, the `hf-rmt` command).

Each case asserts that the error names the argument, states the rule and echoes the value received, and that nothing
on disk changed: every case runs inside a workspace holding a backbone folder, a full and an adapter-only checkpoint
(and the command's output folders would go there too), whose files are byte-identical before and after.

Some cases are also covered, with more context, next to their feature (test_config.py, test_cli.py, test_saving.py,
test_generate_lengths.py); this file is the one list.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone
from tokenizers import Tokenizer, models
from torch import nn
from transformers import AutoModelForSequenceClassification, BertConfig, PreTrainedTokenizerFast

import hf_rmt
from hf_rmt import cli
from hf_rmt.evaluation import evaluate_by_length
from hf_rmt.tasks import make_dataset
from hf_rmt.training import CurriculumCallback, RMTDataCollator, SegmentCurriculum


@dataclass
class Workspace:
    root: str
    backbone: str  # a tiny BERT classifier (a plain transformers checkpoint)
    full: str  # an hf_rmt classifier saved in full
    adapter: str  # the same, adapter-only
    causal: str  # an hf_rmt causal LM, in full


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("census")
    backbone = root / "backbone"
    tiny_backbone("bert", "sequence-classification").save_pretrained(backbone)
    model = hf_rmt.get_rmt_model(AutoModelForSequenceClassification.from_pretrained(backbone), rmt_config("bert"))
    model.save_pretrained(root / "full", adapter_only=False)
    model.save_pretrained(root / "adapter", adapter_only=True)
    causal = hf_rmt.get_rmt_model(tiny_backbone("gpt2", "causal-lm"), rmt_config("gpt2"))
    causal.save_pretrained(root / "causal", adapter_only=False)
    return Workspace(str(root), str(backbone), str(root / "full"), str(root / "adapter"), str(root / "causal"))


def snapshot(root: str) -> dict[str, str]:
    """`{relative path: sha256}` of every file below `root`."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return found


# ---------------------------------------------------------------------------------------------- helpers of the cases


def classifier(**config):
    return hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), rmt_config("bert", **config))


def causal_lm(**config):
    return hf_rmt.get_rmt_model(tiny_backbone("gpt2", "causal-lm"), rmt_config("gpt2", **config))


def ids(batch=2, length=20, vocab=99):
    return torch.randint(5, vocab, (batch, length), generator=torch.Generator().manual_seed(0))


def word_tokenizer(size: int, specials: bool = False):
    """A word-level tokenizer of `size` tokens (`[CLS]`/`[SEP]` among them with `specials`)."""
    vocab = {f"w{i}": i for i in range(size)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="w0")))
    if specials:
        tokenizer.cls_token, tokenizer.sep_token = "w1", "w2"
    return tokenizer


def command(*argv: str) -> None:
    """Runs `hf-rmt` with `--verbose` (errors raise instead of printing); argparse's own errors exit with status 2
    after printing the message, which is raised here as a ValueError."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            cli.main(["--verbose", *argv])
    except SystemExit as error:
        raise ValueError(stderr.getvalue()) from error


def save_into(folder: str, model_factory: Callable, **kwargs) -> None:
    """`save_pretrained` into an existing checkpoint folder (whose files must stay as they were)."""
    model_factory().save_pretrained(folder, **kwargs)


def without_backbone_name():
    model = classifier()
    model.config.base_model_name_or_path = None
    return model


# ---------------------------------------------------------------------------------------------- the cases


@dataclass
class Case:
    """`call(workspace)` must raise `error` whose message contains `argument`, `rule` and `value`."""

    name: str
    call: Callable[[Workspace], object]
    argument: str
    rule: str
    value: str
    error: type = ValueError


CASES = [
    # ---- RMTConfig fields
    Case("config-num_memory_tokens", lambda w: hf_rmt.RMTConfig(num_memory_tokens=0), "`num_memory_tokens`", "an integer >= 1", "got 0"),
    Case("config-segment_size", lambda w: hf_rmt.RMTConfig(segment_size=-3), "`segment_size`", "an integer >= 1 or None", "got -3"),
    Case("config-max_n_segments", lambda w: hf_rmt.RMTConfig(max_n_segments=0), "`max_n_segments`", "an integer >= 1", "got 0"),
    Case("config-bptt_depth", lambda w: hf_rmt.RMTConfig(bptt_depth=-2), "`bptt_depth`", "an integer >= -1", "got -2"),
    Case("config-memory_layout", lambda w: hf_rmt.RMTConfig(memory_layout="middle"), "`memory_layout`", "one of ('encoder', 'decoder', 'seq2seq')", "'middle'"),
    Case("config-segment_alignment", lambda w: hf_rmt.RMTConfig(segment_alignment="center"), "`segment_alignment`", "one of ('left', 'right')", "'center'"),
    Case("config-cls_token_id", lambda w: hf_rmt.RMTConfig(cls_token_id=-1), "`cls_token_id`", "an integer >= 0", "got -1"),
    Case("config-memory_init_std", lambda w: hf_rmt.RMTConfig(memory_init_std=0.0), "`memory_init_std`", "a positive number", "got 0.0"),
    Case("config-segment_checkpointing", lambda w: hf_rmt.RMTConfig(segment_checkpointing="yes"), "`segment_checkpointing`", "must be a bool", "'yes'"),
    Case("config-segment_checkpointing_keep_last", lambda w: hf_rmt.RMTConfig(segment_checkpointing_keep_last=0), "`segment_checkpointing_keep_last`", "an integer >= 1", "got 0"),
    Case("config-modules_to_save", lambda w: hf_rmt.RMTConfig(modules_to_save="classifier"), "`modules_to_save`", "a list of module names", "'classifier'"),
    Case("config-base_config-dict", lambda w: hf_rmt.RMTConfig(base_config={"hidden_size": 8}), "`base_config`", "must contain `model_type`", "['hidden_size']"),
    Case("config-base_config-type", lambda w: hf_rmt.RMTConfig(base_config=42), "`base_config`", "a PreTrainedConfig, a dict or None", "42", TypeError),
    # ---- get_rmt_model
    Case("wrap-model", lambda w: hf_rmt.get_rmt_model(nn.Linear(2, 2)), "`model`", "must be a transformers PreTrainedModel", "Linear", TypeError),
    Case("wrap-config", lambda w: hf_rmt.get_rmt_model(tiny_backbone("bert"), BertConfig()), "`config`", "must be an RMTConfig", "BertConfig", TypeError),
    Case("wrap-twice", lambda w: hf_rmt.get_rmt_model(classifier()), "`model`", "is already an hf_rmt model", "RMTForSequenceClassification"),
    Case("wrap-tokenizer-mismatch", lambda w: hf_rmt.get_rmt_model(tiny_backbone("bert"), hf_rmt.RMTConfig(segment_size=8), tokenizer=word_tokenizer(200, True)), "`tokenizer`", "does not match the backbone", "200 tokens"),
    Case("wrap-tokenizer-without-specials", lambda w: hf_rmt.get_rmt_model(tiny_backbone("bert"), hf_rmt.RMTConfig(segment_size=8), tokenizer=word_tokenizer(50)), "cls_token_id and sep_token_id", "not in the backbone's config, nor in the tokenizer passed", "which has no cls_token and sep_token"),
    Case("wrap-segment_size", lambda w: hf_rmt.get_rmt_model(tiny_backbone("bert"), rmt_config("bert", segment_size=100)), "`segment_size`=100", "the largest segment_size that fits is", "64 positions"),
    Case("wrap-modules_to_save", lambda w: hf_rmt.get_rmt_model(tiny_backbone("bert"), rmt_config("bert", modules_to_save=["nope"])), "`modules_to_save`", "modules that the backbone does not have", "['nope']"),
    Case("wrap-cls_token_id", lambda w: hf_rmt.get_rmt_model(tiny_backbone("bert"), rmt_config("bert", cls_token_id=500)), "`cls_token_id`", "outside the backbone's vocabulary of 99", "=500"),
    # ---- forward
    Case("forward-both-inputs", lambda w: classifier()(input_ids=ids(), inputs_embeds=torch.zeros(2, 20, 32)), "`input_ids` and `inputs_embeds`", "exactly one of", "got both"),
    Case("forward-no-input", lambda w: classifier()(), "`input_ids` and `inputs_embeds`", "exactly one of", "got neither"),
    Case("forward-input_ids-shape", lambda w: classifier()(input_ids=ids()[0]), "`input_ids`", "shape (batch, seq_len)", "(20,)"),
    Case("forward-inputs_embeds-width", lambda w: classifier()(inputs_embeds=torch.zeros(2, 20, 16)), "`inputs_embeds`", "shape (batch, seq_len, 32)", "(2, 20, 16)"),
    Case("forward-empty", lambda w: classifier()(input_ids=torch.zeros(2, 0, dtype=torch.long)), "`input_ids`", "at least one token per sample", "(2, 0)"),
    Case("forward-attention_mask-shape", lambda w: classifier()(input_ids=ids(), attention_mask=torch.ones(2, 19)), "`attention_mask`", "the input's shape (2, 20)", "(2, 19)"),
    Case("forward-attention_mask-empty-row", lambda w: classifier()(input_ids=ids(), attention_mask=torch.tensor([[1] * 20, [0] * 20])), "`attention_mask`", "at least one real token in every sample", "[1]"),
    Case("forward-memory_state", lambda w: classifier()(input_ids=ids(), memory_state=torch.zeros(2, 3, 32)), "`memory_state`", "shape (2, 4, 32)", "(2, 3, 32)"),
    Case("forward-token-beyond-vocabulary", lambda w: classifier()(input_ids=ids().index_fill(1, torch.tensor([3]), 50000)), "`input_ids`", "token ids in [0, 98]", "50000"),
    Case("forward-negative-token", lambda w: classifier()(input_ids=ids().index_fill(1, torch.tensor([3]), -5)), "`input_ids`", "token ids in [0, 98]", "-5"),
    Case("forward-max_n_segments", lambda w: classifier(max_n_segments=2)(input_ids=ids()), "`max_n_segments`=2", "needs 3 segments", "20 tokens"),
    Case("forward-labels-classification", lambda w: classifier()(input_ids=ids(), labels=torch.tensor([0, 1, 2])), "`labels`", "shape (2,)", "(3,)"),
    Case("forward-labels-causal", lambda w: causal_lm()(input_ids=ids(), labels=ids()[:, :5]), "`labels`", "the input's shape (2, 20)", "(2, 5)"),
    Case("forward-logits_to_keep", lambda w: causal_lm()(input_ids=ids(), logits_to_keep=-1), "`logits_to_keep`", "an integer >= 0", "-1"),
    Case("generate-no-prompt", lambda w: causal_lm().generate(max_new_tokens=2), "`input_ids`", "`generate` needs", "got None"),
    Case("generate-stop_strings", lambda w: causal_lm().generate(ids(1), max_new_tokens=2, stop_strings="ab"), "`stop_strings`", "need the model's tokenizer", "'ab'"),
    Case("cuda-graphs-compile", lambda w: classifier().enable_cuda_graphs(compile="fast"), "`compile`", "a bool or one of", "'fast'"),
    Case("cuda-graphs-freeze", lambda w: classifier().enable_cuda_graphs(freeze_weights=True), "`freeze_weights=True`", "needs `compile`", "compile=False"),
    # ---- loading
    Case("load-plain-checkpoint", lambda w: hf_rmt.RMTForSequenceClassification.from_pretrained(w.backbone), "backbone is not an hf_rmt checkpoint", "not 'rmt'", "model_type 'bert'"),
    Case("load-wrong-auto-class", lambda w: AutoModelForSequenceClassification.from_pretrained(w.causal), "RMTForSequenceClassification cannot load", "Load it with AutoModelForCausalLM", "an RMTForCausalLM checkpoint"),
    Case("load-backbone-for-full", lambda w: hf_rmt.RMTForSequenceClassification.from_pretrained(w.full, backbone=tiny_backbone("bert", "sequence-classification")), "`backbone`", "`backbone=` is for adapter-only", "a full hf_rmt checkpoint"),
    Case("load-backbone-mismatch", lambda w: hf_rmt.RMTForSequenceClassification.from_pretrained(w.adapter, backbone=tiny_backbone("bert", "sequence-classification", hidden_size=16)), "hidden_size", "does not match the hf_rmt adapter", "is 16"),
    Case("load-backbone-type", lambda w: hf_rmt.RMTForSequenceClassification.from_pretrained(w.adapter, backbone="bert"), "`backbone`", "a transformers PreTrainedModel", "str", TypeError),
    Case("load-config-type", lambda w: hf_rmt.RMTForSequenceClassification.from_pretrained(w.full, config=BertConfig()), "full is not an hf_rmt checkpoint", "its config is a", "BertConfig"),
    # ---- saving (into an existing checkpoint folder, which must stay as it was)
    Case("save-adapter-without-backbone-name", lambda w: save_into(w.adapter, without_backbone_name, adapter_only=True), "`adapter_only=True`", "needs `config.base_model_name_or_path`", "it is None"),
    Case("save-training_info", lambda w: save_into(w.adapter, classifier, training_info={"curriculum": "1,2"}), "`training_info['curriculum']`", "a list of stages", "'1,2'"),
    Case("save-eval_results", lambda w: save_into(w.adapter, classifier, eval_results={"task": "qa1", "accuracy_by_length": {0: 2.0}}), "`eval_results`", "accuracies in [0, 1]", "got 0: 2.0"),
    Case("save-card_data", lambda w: save_into(w.full, classifier, card_data="mit"), "`card_data`", "a dict of model card YAML fields", "'mit'"),
    # ---- tasks, training helpers, evaluation
    Case("task-name", lambda w: make_dataset("qa9", word_tokenizer(50), 2, 100), "task", "must be one of", "'qa9'"),
    Case("task-num_samples", lambda w: make_dataset("qa1", word_tokenizer(50), 0, 100), "num_samples", "a positive integer", "got 0"),
    Case("task-split", lambda w: make_dataset("qa1", word_tokenizer(50), 2, 100, split="dev"), "split", "must be one of", "'dev'"),
    Case("task-tokenizer", lambda w: make_dataset("qa1", "bert-base-cased", 2, 100), "tokenizer", "a transformers PreTrainedTokenizerBase", "str", TypeError),
    Case("curriculum-order", lambda w: SegmentCurriculum([4, 2, 1], stage_steps=10), "`schedule`", "strictly increasing", "[4, 2, 1]"),
    Case("curriculum-stage_steps", lambda w: SegmentCurriculum([1, 2, 4], stage_steps=[10]), "`stage_steps`", "one length per stage (3", "[10]"),
    Case("curriculum-callback-chance", lambda w: CurriculumCallback(chance=1.5), "`chance`", "in [0, 1)", "1.5"),
    Case("collator-padding_side", lambda w: RMTDataCollator(padding_side="middle"), "`padding_side`", "'left' or 'right'", "'middle'"),
    Case("eval-lengths", lambda w: evaluate_by_length(classifier(), word_tokenizer(50), "qa1", []), "`lengths`", "a non-empty list", "[]"),
    Case("eval-plain-model-too-long", lambda w: evaluate_by_length(tiny_backbone("bert", "sequence-classification", num_labels=6), word_tokenizer(50, True), "memorize", [32, 1024]), "`lengths`", "must fit the 64 positions", "got 1024"),
    # ---- the hf-rmt command (refused before any model is loaded or anything written)
    Case("cli-curriculum-order", lambda w: command("train", "--task", "memorize", "--model", w.backbone, "--output-dir", os.path.join(w.root, "out"), "--curriculum", "4,2,1"), "--curriculum 4,2,1", "strictly increasing", "4,2,1"),
    Case("cli-curriculum-zero", lambda w: command("train", "--task", "memorize", "--model", w.backbone, "--output-dir", os.path.join(w.root, "out"), "--curriculum", "0,1"), "--curriculum", "at least 1 segment", "0,1"),
    Case("cli-model-folder", lambda w: command("train", "--task", "memorize", "--model", os.path.join(w.root, "missing"), "--output-dir", os.path.join(w.root, "out")), "--model", "no such folder", "missing"),
    Case("cli-eval-plain-checkpoint", lambda w: command("eval", "--model", w.backbone, "--task", "memorize", "--lengths", "256,1024"), "--model", "not an hf_rmt one", "BertForSequenceClassification"),
    Case("cli-lora-r", lambda w: command("train", "--task", "memorize", "--model", w.backbone, "--output-dir", os.path.join(w.root, "out"), "--lora-r", "-1"), "--lora-r", "0 (no LoRA) or a positive rank", "-1"),
    Case("cli-stage-target", lambda w: command("train", "--task", "memorize", "--model", w.backbone, "--output-dir", os.path.join(w.root, "out"), "--eval-steps", "5", "--stage-target", "1.5"), "--stage-target", "an accuracy in (0, 1]", "1.5"),
    Case("cli-num-memory-tokens", lambda w: command("train", "--task", "memorize", "--model", w.backbone, "--num-memory-tokens", "0"), "--num-memory-tokens", "a positive integer", "'0'"),
    Case("cli-lengths", lambda w: command("eval", "--model", w.full, "--task", "memorize", "--lengths", "100,0"), "--lengths", "positive whole token counts", "'0'"),
    Case("cli-task", lambda w: command("eval", "--model", w.full, "--task", "qa9", "--lengths", "100"), "--task qa9", "unknown task; choose one of", "qa9"),
]  # fmt: skip


def test_the_census_counts_at_least_thirty_distinct_cases():
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)
    assert len({(case.argument, case.rule, case.value) for case in CASES}) == len(CASES)  # none repeats another


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_names_argument_rule_and_value_and_changes_nothing_on_disk(case, workspace, monkeypatch):
    monkeypatch.chdir(workspace.root)  # anything written to a relative path would land in the snapshot
    before = snapshot(workspace.root)
    with pytest.raises(case.error) as raised:
        case.call(workspace)
    message = str(raised.value)
    for part, what in ((case.argument, "argument"), (case.rule, "rule"), (case.value, "value")):
        assert part in message, f"the message does not name the {what} ({part!r}): {message}"
    assert snapshot(workspace.root) == before, "files changed on disk"
