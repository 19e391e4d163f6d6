# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Ending a `Trainer` run cleanly when the process is asked to stop (`timeout`, a cluster's preemption, Ctrl-C).

A curriculum run is long, and a batch job's time limit or a preemption sends SIGTERM before it kills: without a
handler, Python dies at once and the hours trained are lost. [`StopOnSignalCallback`] turns the first SIGTERM or
SIGINT into `control.should_training_stop` at the end of the current optimizer step, so `Trainer.train` returns
normally and the caller saves what it has (with [`CurriculumCallback`]`(keep_best=True)`, the best validated state of
the stage reached). A second signal restores the default behaviour and is re-raised: a user who presses Ctrl-C twice
still gets out at once.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.utils import logging


logger = logging.get_logger(__name__)

STOP_SIGNALS = ("SIGTERM", "SIGINT")


class StopOnSignalCallback(TrainerCallback):
    """
    Ends training at the end of the current optimizer step when the process receives SIGTERM or SIGINT, so the run
    returns from `Trainer.train` and its model can be saved.

    Handlers are installed in `on_train_begin` and the previous ones restored in `on_train_end`; signals can only be
    handled in the main thread, so elsewhere the callback does nothing (and says so once).

    Args:
        signals (`tuple[str, ...]`, *optional*, defaults to `("SIGTERM", "SIGINT")`): Names of the signals handled.

    Attributes:
        received (`str` or `None`): The name of the first signal received, `None` while none was.

    Example:

    ```python
    >>> stop = StopOnSignalCallback()
    >>> trainer = Trainer(model, args, train_dataset=train, callbacks=[CurriculumCallback(keep_best=True), stop])
    >>> trainer.train()  # `timeout 3600 python train.py`: after an hour the run ends here, not in a traceback
    >>> trainer.save_model(output_dir)
    >>> stop.received
    'SIGTERM'
    ```
    """

    def __init__(self, signals: tuple[str, ...] = STOP_SIGNALS):
        unknown = [name for name in signals if not isinstance(getattr(signal, str(name), None), signal.Signals)]
        if unknown or not signals:
            raise ValueError(
                f"`signals` must name signals of the `signal` module (e.g. 'SIGTERM', 'SIGINT'), got {signals!r}."
            )
        self.signals = tuple(signals)
        self.received: str | None = None
        self._previous: dict[signal.Signals, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            # Second signal: give the default behaviour back and deliver this one again (Ctrl-C twice exits now).
            self._restore()
            signal.raise_signal(signum)
            return
        self.received = name
        logger.warning(
            f"{name} received: training stops at the end of this optimizer step and the model is saved "
            "(send it again to stop at once, without saving)."
        )

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self.received = None
        if threading.current_thread() is not threading.main_thread():
            logger.warning(
                "StopOnSignalCallback: training runs outside the main thread, where signals cannot be handled."
            )
            return
        for name in self.signals:
            sig = getattr(signal, name)
            self._previous[sig] = signal.signal(sig, self._handle)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        if self.received is not None:
            control.should_training_stop = True
            # A run that saves checkpoints saves one here, so that it can be resumed from this very step.
            control.should_save = args is not None and args.save_strategy != "no"
        return control

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._restore()


__all__ = ["STOP_SIGNALS", "StopOnSignalCallback"]
