"""RMT accuracy: accuracy of class ids or exact match of answer strings, overall and per input-length bucket.

A local `evaluate` module, so it loads without the Hub:

```python
>>> import evaluate
>>> from hf_rmt.tasks import get_metric_path
>>> metric = evaluate.load(get_metric_path())  # this folder
```
"""

from __future__ import annotations

import bisect
import string

import datasets
import evaluate


_DESCRIPTION = """\
Accuracy for long-context RMT tasks. Integer predictions and references (class ids) give `accuracy`; string
predictions and references (generated answers) give `exact_match`, compared after stripping white space and
surrounding punctuation and (by default) ignoring case. With `lengths`, the score is also reported per length bucket,
which is how RMT and BABILong results are read (accuracy against input length).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[int]` or `list[str]`): Predicted class ids or answer strings.
    references (`list[int]` or `list[str]`): Gold class ids or answers, of the same kind.
    lengths (`list[int]`, *optional*): Input length (tokens) of each example; a compute-time argument, so pass it to
        `compute` (also after `add_batch`, for all examples in order).
    bucket_edges (`list[int]`, *optional*): Ascending lower edges of the length buckets: a length goes to the largest
        edge not above it (lengths below the first edge go to the first). Without it each distinct length is a bucket.
    ignore_case (`bool`, defaults to `True`): For strings, compare case-insensitively.

Returns:
    `accuracy` (ints) or `exact_match` (strings): the overall score in [0, 1];
    `num_examples`: how many examples were scored;
    with `lengths`: `per_length` (bucket -> score) and `count_per_length` (bucket -> examples), keyed by the bucket's
    lower edge (or the length itself), in ascending order.

Examples:
    >>> metric = evaluate.load(path_to_this_folder)
    >>> metric.compute(predictions=[0, 1, 2, 3], references=[0, 1, 2, 0], lengths=[512, 512, 1024, 1024])
    {'accuracy': 0.75, 'num_examples': 4, 'per_length': {512: 1.0, 1024: 0.5}, 'count_per_length': {512: 2, 1024: 2}}
"""

_CITATION = """\
@inproceedings{bulatov2022recurrent,
  title={Recurrent Memory Transformer},
  author={Bulatov, Aydar and Kuratov, Yuri and Burtsev, Mikhail S.},
  booktitle={Advances in Neural Information Processing Systems},
  year={2022}
}
"""

_STRIP = string.whitespace + string.punctuation


def _normalize(text: str, ignore_case: bool) -> str:
    text = text.strip(_STRIP)
    return text.lower() if ignore_case else text


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class RmtAccuracy(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references, lengths=None, bucket_edges=None, ignore_case=True):
        if predictions and isinstance(predictions[0], str):
            key = "exact_match"
            correct = [
                _normalize(p, ignore_case) == _normalize(r, ignore_case) for p, r in zip(predictions, references)
            ]
        else:
            key = "accuracy"
            correct = [int(p) == int(r) for p, r in zip(predictions, references)]
        result = {key: sum(correct) / len(correct) if correct else 0.0, "num_examples": len(correct)}
        if lengths is None:
            return result
        lengths = [int(n) for n in lengths]
        if len(lengths) != len(correct):
            raise ValueError(
                f"lengths must give one length per example: got {len(lengths)} lengths for {len(correct)} examples"
            )
        if bucket_edges is not None:
            edges = [int(e) for e in bucket_edges]
            if not edges or edges != sorted(set(edges)):
                raise ValueError(f"bucket_edges must be a non-empty, strictly ascending list, got {bucket_edges!r}")
            buckets = [edges[max(bisect.bisect_right(edges, n) - 1, 0)] for n in lengths]
        else:
            buckets = lengths
        hits: dict[int, list[bool]] = {}
        for bucket, ok in zip(buckets, correct):
            hits.setdefault(bucket, []).append(ok)
        result["per_length"] = {b: sum(hits[b]) / len(hits[b]) for b in sorted(hits)}
        result["count_per_length"] = {b: len(hits[b]) for b in sorted(hits)}
        return result
