# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Accuracy against input length: how RMT results are read (arXiv:2304.11062, Fig. 1 and 5; BABILong).

[`evaluate_by_length`] runs a model on samples of an `hf_rmt.tasks` task at each of a list of lengths (up to millions
of tokens: the model reads them segment by segment) and returns a [`LengthEvalResult`], which prints as a table and
saves as JSON and as a plot.

```python
>>> from hf_rmt.evaluation import evaluate_by_length
>>> result = evaluate_by_length(model, tokenizer, "qa1", [1_000, 4_000, 16_000], num_samples=100)
>>> print(result.to_markdown())
>>> result.save_json("eval.json")
>>> result.plot("accuracy_vs_length.png")
```
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers.utils import logging

from .core.backbone import max_positions
from .eval_depth import DEPTH_FIELDS, accuracy_by_depth, correct_answers, fact_depth, score
from .eval_precision import default_autocast, eval_precision
from .eval_results import LengthEvalResult, LengthResult
from .tasks import get_metric_path, get_task, make_dataset
from .utils.validation import OUTPUT_FORMATS, check_positive_int, is_rmt_config


logger = logging.get_logger(__name__)


def check_lengths(lengths: Any) -> list[int]:
    """Validates `lengths` (one positive integer or a non-empty list of them); returns them sorted, without
    duplicates. Raises `ValueError` naming `lengths`, the rule and the value."""
    if isinstance(lengths, numbers.Integral) and not isinstance(lengths, bool):
        lengths = [lengths]
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or len(lengths) == 0:
        raise ValueError(f"`lengths` must be a positive integer or a non-empty list of them, got {lengths!r}.")
    for value in lengths:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
            raise ValueError(
                f"`lengths` must contain only positive integers (token counts), got {value!r} in {lengths!r}."
            )
    return sorted({int(v) for v in lengths})


def _model_config(model: torch.nn.Module) -> Any:
    return getattr(model, "config", None)


def _is_rmt(model: torch.nn.Module) -> bool:
    return is_rmt_config(_model_config(model))


def _check_fits_positions(model: torch.nn.Module, lengths: list[int], extra: int) -> None:
    """A model that is not an hf_rmt model reads a sample in one pass: refuse up front the lengths its positions
    cannot hold (rather than score the shorter lengths and fail inside the model on a longer one)."""
    limit = max_positions(_model_config(model)) if _model_config(model) is not None else None
    too_long = [n for n in lengths if limit is not None and n + extra > limit]
    if too_long:
        raise ValueError(
            f"`lengths` must fit the {limit} positions of {type(model).__name__}, which is not an hf_rmt model and "
            f"reads a sample in one pass ({extra} special or generated tokens added): at most {limit - extra} tokens, "
            f"got {too_long[0]} in {lengths}. Wrap it with `hf_rmt.get_rmt_model` to read longer inputs by segments."
        )


def _infer_output_format(model: torch.nn.Module) -> str:
    task = getattr(model, "task", None)  # hf_rmt model classes say what they are
    if task in ("causal-lm", "seq2seq-lm"):
        return "generation" if task == "causal-lm" else "seq2seq"
    if task is None and not _is_rmt(model):
        config = _model_config(model)
        if getattr(config, "is_encoder_decoder", False):
            return "seq2seq"
        architectures = getattr(config, "architectures", None) or []
        if any(name.endswith("ForCausalLM") for name in architectures):
            return "generation"
    return "classification"


def _label_map(model: torch.nn.Module, labels: tuple[str, ...]) -> dict[int, int] | None:
    """Maps the model's class ids to the task's when the model's `id2label` names the task's labels in another order;
    None when the ids agree (or the model does not name its labels)."""
    config = _model_config(model)
    base = getattr(config, "base_config", None)
    id2label = getattr(base, "id2label", None) or getattr(config, "id2label", None) or {}
    names = {int(i): str(name) for i, name in id2label.items()}
    if set(labels) - set(names.values()):
        return None
    mapping = {i: labels.index(name) for i, name in names.items() if name in labels}
    if all(i == j for i, j in mapping.items()):
        return None
    return mapping


def _model_device(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _load_metric() -> Any:
    """The shipped `rmt_accuracy` metric, or None when `evaluate` is not installed."""
    try:
        import evaluate
    except ImportError:
        return None
    return evaluate.load(get_metric_path())


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="sample", desc="evaluating", disable=not enabled, dynamic_ncols=True)


@torch.no_grad()
def evaluate_by_length(
    model: torch.nn.Module,
    tokenizer: Any,
    task: str,
    lengths: int | Sequence[int],
    num_samples: int = 100,
    batch_size: int = 8,
    split: str = "test",
    seed: int = 0,
    progress: bool = True,
    output_format: str | None = None,
    max_new_tokens: int = 8,
    trained_length: int | None = None,
    bf16: bool | None = None,
    cuda_graphs: bool | None = None,
    compile: bool = False,
    **task_kwargs: Any,
) -> LengthEvalResult:
    """
    Accuracy of `model` on `task` at each of `lengths`.

    For each length, `num_samples` samples of `hf_rmt.tasks.make_dataset(task, tokenizer, num_samples, length, split,
    seed)` are run through the model in batches of `batch_size` on the model's device, under `torch.no_grad()`. An
    hf_rmt model reads each sample segment by segment, keeping only the memory between segments, so lengths of
    millions of tokens (the 1M-token paper's 2,043,904 = 4096 x 499) need memory for one segment and the input ids.

    - Classification models (`RMTForSequenceClassification`, ...): the prediction is the argmax of the logits,
      scored as the accuracy of class ids. If the model's `id2label` names the task's labels in another order, ids are
      mapped by name.
    - Causal-LM models (`RMTForCausalLM`): the answer is generated greedily after the prompt (`max_new_tokens`) and
      scored by exact match with the gold answer (case and surrounding punctuation ignored).
    - Seq2seq models (`RMTForSeq2SeqLM`): the same, the answer generated greedily by the decoder from the whole input.

    Scores come from the shipped `evaluate` metric `rmt_accuracy` when `evaluate` is installed, else they are
    computed directly (same result).

    Args:
        model (`torch.nn.Module`): An hf_rmt model (or any model taking `input_ids`/`attention_mask`; a model that is
            not an hf_rmt model gets the tokenizer's special tokens around each sample).
        tokenizer: The model's tokenizer; lengths are counted in its tokens.
        task (`str`): An `hf_rmt.tasks` task: `"memorize"`, `"detect_memorize"`, `"reasoning"`, `"qa1"`...`"qa5"`.
        lengths (`int` or `list[int]`): Input lengths in tokens (context and question, without special tokens).
        num_samples (`int`, defaults to 100): Samples per length.
        batch_size (`int`, defaults to 8): Samples per forward pass.
        split (`str`, defaults to `"test"`): `"train"`, `"validation"` or `"test"` (test noise is from other books).
        seed (`int`, defaults to 0): Seed of the samples; sample `i` is the same whatever the batch size.
        progress (`bool`, defaults to `True`): Show a progress bar (unless transformers' progress bars are disabled,
            `transformers.utils.logging.disable_progress_bar()`).
        output_format (`str`, *optional*): `"classification"`, `"generation"` or `"seq2seq"`; by default from the model.
        max_new_tokens (`int`, defaults to 8): Longest generated answer (generation only).
        trained_length (`int`, *optional*): Longest training length, recorded for the table and the plot.
        bf16 (`bool`, *optional*): Run the forward passes under bf16 autocast. Default: on a CUDA device with float32
            weights, yes (the weights stay as they are; the memory state is carried in bf16 between segments); a
            model already in bf16 runs without autocast, which is faster (`model.to(torch.bfloat16)`; `hf-rmt eval`
            loads it so on a GPU). On CUDA, FlashAttention is tried first (`hf_rmt.eval_precision`).
        cuda_graphs (`bool`, *optional*): Replay the memory-only segment steps of an hf_rmt model from CUDA graphs
            (`enable_cuda_graphs()`) during this evaluation (classification; samples of one length have no padding).
            Default: on a CUDA device, yes. Graphs the model already had enabled are left as they are.
        compile (`bool`, *optional*, defaults to `False`): With `cuda_graphs`, compile the captured step with
            `torch.compile` and fold the weights in as constants (`enable_cuda_graphs(compile=True,
            freeze_weights=True)`): fewer, fused kernels per segment, after a compilation of a minute or so on the
            first length. Worth it for long inputs; the graphs are freed when the evaluation ends.
        task_kwargs: Passed to `make_dataset` (`placement`, `noise`, `segment_size`, ...).

    Returns:
        [`LengthEvalResult`]: print it, `.to_markdown()`, `.save_json(path)`, `.plot(path)`. Each length's result
        also holds its accuracy by fact depth (`by_depth`, `.depth_markdown()`: where in the input the supporting fact
        was, in five ranges; `hf_rmt.eval_depth`), which shows whether errors come from facts carried longest.

    Raises:
        `ValueError`: Unknown task (from `hf_rmt.tasks`), `lengths` not positive integers, a length too short for the
            task's facts and question, a model whose number of classes differs from the task's labels.
    """
    spec = get_task(task)
    lengths = check_lengths(lengths)
    num_samples = check_positive_int("num_samples", num_samples)
    batch_size = check_positive_int("batch_size", batch_size)
    max_new_tokens = check_positive_int("max_new_tokens", max_new_tokens)
    if trained_length is not None:
        trained_length = check_positive_int("trained_length", trained_length)
    if output_format is None:
        output_format = _infer_output_format(model)
    elif output_format not in OUTPUT_FORMATS:
        raise ValueError(f"`output_format` must be one of {OUTPUT_FORMATS} or None, got {output_format!r}.")
    generate = output_format != "classification"

    config = _model_config(model)
    is_rmt = _is_rmt(model)
    segment_size = getattr(config, "segment_size", None) if is_rmt else None
    device = _model_device(model)
    label_map = None if generate else _label_map(model, spec.labels)
    metric = _load_metric()
    fields = (["input_ids", "answer", "prompt_length"] if generate else ["input_ids", "labels"]) + DEPTH_FIELDS
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    prefix, suffix = ([], []) if is_rmt else _special_tokens(tokenizer)
    if not is_rmt:
        _check_fits_positions(model, lengths, len(prefix) + len(suffix) + (max_new_tokens if generate else 0))

    # Datasets are built first: a length too short for the task fails before any model time is spent.
    datasets = [
        make_dataset(
            spec.name,
            tokenizer,
            num_samples,
            length,
            split,
            seed,
            fields=fields,
            output_format=output_format,
            **task_kwargs,
        )
        for length in lengths
    ]
    on_cuda = device.type == "cuda"
    bf16 = default_autocast(model, device) if bf16 is None else bool(bf16)
    if cuda_graphs is None:
        cuda_graphs = on_cuda and is_rmt and not generate
    graphs_enabled_here = False
    if compile and not (cuda_graphs and is_rmt and not generate):
        raise ValueError(
            f"compile=True compiles the CUDA-graph step of an hf_rmt classifier; it needs cuda_graphs (got "
            f"{cuda_graphs}), an hf_rmt model (got {type(model).__name__}) and a classification task."
        )
    if cuda_graphs and not generate and getattr(model, "_graphs", "missing") is None:
        # Before eval(): capture happens on the first memory-only step. The weights cannot change during an
        # evaluation, so a compiled step may fold them in as constants.
        model.enable_cuda_graphs(compile=compile, freeze_weights=compile)
        graphs_enabled_here = True
    was_training = model.training
    model.eval()
    results: list[LengthResult] = []
    bar = _progress_bar(num_samples * len(lengths), progress and logging.is_progress_bar_enabled())
    try:
        for length, dataset in zip(lengths, datasets):
            bar.set_description(f"length {length:,}")
            predictions: list = []
            references: list = []
            depths: list = []
            seconds = 0.0
            for start in range(0, num_samples, batch_size):
                prompts = []
                for index in range(start, min(start + batch_size, num_samples)):
                    # NumPy ids straight to a tensor: a 2,043,904-token sample as a Python list costs more to build
                    # and convert than the sample itself (73% of its time; 8 MB as a tensor, ~40 MB as a list).
                    sample = dataset.sample(index, return_tensors="np")
                    ids = sample["input_ids"][: sample["prompt_length"]] if generate else sample["input_ids"]
                    if not is_rmt:
                        ids = np.concatenate(
                            [np.asarray(prefix, dtype=np.int64), ids, np.asarray(suffix, dtype=np.int64)]
                        )
                    prompts.append(torch.from_numpy(np.ascontiguousarray(ids)))
                    references.append(sample["answer"] if generate else int(sample["labels"]))
                    depths.append(fact_depth(sample))
                    del sample, ids
                input_ids, attention_mask = _pad_left(prompts, pad_id, device)
                began = time.perf_counter()
                if generate:
                    with eval_precision(device, bf16):
                        predictions += _generate(
                            model, tokenizer, input_ids, attention_mask, max_new_tokens, output_format
                        )
                else:
                    with eval_precision(device, bf16):
                        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
                    if logits.shape[-1] != spec.num_labels:
                        raise ValueError(
                            f"The model predicts {logits.shape[-1]} classes but task {spec.name!r} has "
                            f"{spec.num_labels} labels {list(spec.labels)}; train it with num_labels={spec.num_labels}."
                        )
                    predicted = logits.argmax(-1).tolist()
                    predictions += [label_map.get(i, -1) for i in predicted] if label_map else predicted
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                seconds += time.perf_counter() - began
                bar.update(len(prompts))
            accuracy = score(metric, predictions, references)
            segments = math.ceil(length / segment_size) if segment_size else None
            by_depth = accuracy_by_depth(depths, correct_answers(predictions, references))
            results.append(LengthResult(length, accuracy, num_samples, segments, seconds, by_depth))
            bar.set_postfix_str(f"{length:,}: {100 * accuracy:.1f}%")
            logger.info(f"{spec.name} at {length:,} tokens: {output_format} {100 * accuracy:.1f}% ({seconds:.1f} s)")
    finally:
        bar.close()
        model.train(was_training)
        if graphs_enabled_here:
            model.disable_cuda_graphs()
    return LengthEvalResult(
        task=spec.name,
        results=results,
        metric="exact_match" if generate else "accuracy",
        chance=1.0 / spec.num_labels,
        split=split,
        seed=seed,
        model=getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None) or None,
        segment_size=segment_size,
        num_memory_tokens=getattr(config, "num_memory_tokens", None) if is_rmt else None,
        trained_length=trained_length,
    )


def _special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before and after one sequence (`[CLS]` and `[SEP]` for BERT, `<s>` for Llama)."""
    plain = tokenizer.encode("hello", add_special_tokens=False)
    full = tokenizer.encode("hello", add_special_tokens=True)
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start], full[start + len(plain) :]
    return [], []


def _pad_left(rows: list[torch.Tensor], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stacks rows, padding on the left (so `generate` continues right after each prompt); no mask when all rows
    have the same length (always the case for task samples of one length)."""
    width = max(len(r) for r in rows)
    if all(len(r) == width for r in rows):
        return torch.stack(rows).to(device), None
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = row
        mask[i, width - len(row) :] = 1
    return ids.to(device), mask.to(device)


def _generate(
    model: torch.nn.Module,
    tokenizer: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    limit: int,
    output_format: str,
) -> list[str]:
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    output = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=limit,
        do_sample=False,
        pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
    )
    # A causal LM returns the prompt and its continuation; an encoder-decoder its decoder start token and the answer.
    new_tokens = output[:, 1:] if output_format == "seq2seq" else output[:, input_ids.shape[1] :]
    answers = []
    for row in new_tokens.tolist():
        if tokenizer.eos_token_id is not None and tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id)]
        answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return answers


__all__ = ["LengthEvalResult", "LengthResult", "check_lengths", "evaluate_by_length"]
