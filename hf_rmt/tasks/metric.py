"""Where the packaged `evaluate` metric lives, so it loads offline with `evaluate.load(get_metric_path())`."""

from __future__ import annotations

import os


METRICS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "metrics")


def get_metric_path(name: str = "rmt_accuracy") -> str:
    """The folder of a metric shipped with hf_rmt, for `evaluate.load` (no Hub access needed).

    Args:
        name (`str`, defaults to `"rmt_accuracy"`): The metric folder under `hf_rmt/metrics/`.

    Example:

    ```python
    >>> import evaluate
    >>> from hf_rmt.tasks import get_metric_path
    >>> metric = evaluate.load(get_metric_path())
    >>> metric.compute(predictions=[0, 1, 2], references=[0, 1, 1], lengths=[512, 512, 1024])
    ```
    """
    path = os.path.join(METRICS_DIR, name)
    if not os.path.isfile(os.path.join(path, f"{name}.py")):
        available = sorted(
            d for d in os.listdir(METRICS_DIR) if os.path.isfile(os.path.join(METRICS_DIR, d, f"{d}.py"))
        )
        raise ValueError(f"name must be one of the shipped metrics {available}, got {name!r}")
    return path
