"""CurriculumCallback's stage-end logic, driven hook by hook as Trainer drives it: each stage hands its best validated
weights to the next (1M-token paper, section 4.1), a stage left at chance is reported, the last stage can end at the
target or at its own step cap."""

import logging

import pytest
import torch
from transformers import TrainerControl, TrainerState

from hf_rmt.training import CurriculumCallback, SegmentCurriculum


class Run:
    """A model and the Trainer-side state a callback sees."""

    def __init__(self, callback):
        self.callback = callback
        self.model = torch.nn.Linear(2, 2)
        self.frozen = torch.nn.Linear(2, 2).requires_grad_(False)
        self.model.add_module("frozen", self.frozen)
        self.state, self.control = TrainerState(), TrainerControl()

    def set_weights(self, value):
        with torch.no_grad():
            self.model.weight.fill_(value)

    def step(self):
        self.state.global_step += 1
        self.callback.on_step_end(None, self.state, self.control, model=self.model)

    def evaluate(self, accuracy, loss=1.0):
        metrics = {"eval_accuracy": accuracy, "eval_loss": loss}
        self.callback.on_evaluate(None, self.state, self.control, metrics=metrics, model=self.model)

    def end(self):
        self.callback.on_train_end(None, self.state, self.control, model=self.model)


def test_each_stage_hands_its_best_validated_weights_to_the_next():
    run = Run(CurriculumCallback(SegmentCurriculum([1, 2], stage_steps=[3, 3], metric="accuracy"), keep_best=True))
    run.set_weights(1.0)
    run.step()
    run.evaluate(0.5)
    run.set_weights(2.0)
    run.step()
    run.evaluate(0.9, loss=0.4)  # the best of stage 1
    run.set_weights(3.0)
    run.evaluate(0.9, loss=0.6)  # as accurate, higher loss: not better
    run.set_weights(4.0)
    run.step()  # step 3 closes stage 1 (its cap): the weights of step 2 come back
    assert torch.all(run.model.weight == 2.0)
    assert run.callback.stage_results == [
        {"stage": 1, "max_segments": 1, "best_metric": 0.9, "best_step": 2, "end_step": 3}
    ]
    assert any(record.get("curriculum_stage_best_accuracy") == 0.9 for record in run.state.log_history)
    # Stage 2: a late spike does not reach the saved model either.
    run.set_weights(5.0)
    run.step()
    run.evaluate(1.0, loss=0.01)
    run.set_weights(-7.0)
    run.step()
    run.evaluate(0.2, loss=3.0)
    run.end()
    assert torch.all(run.model.weight == 5.0)
    assert [r["best_metric"] for r in run.callback.stage_results] == [0.9, 1.0]


def test_frozen_weights_are_not_copied_and_without_keep_best_nothing_is_restored():
    callback = CurriculumCallback(SegmentCurriculum([1, 2], stage_steps=[1, 1], metric="accuracy"))
    run = Run(callback)
    run.set_weights(1.0)
    run.evaluate(0.9)
    run.set_weights(2.0)
    run.step()
    assert torch.all(run.model.weight == 2.0) and callback.stage_results[0]["best_metric"] == 0.9
    kept = CurriculumCallback(SegmentCurriculum([1, 2], stage_steps=[1, 1], metric="accuracy"), keep_best=True)
    run = Run(kept)
    run.evaluate(0.9)
    assert set(kept._best_weights) == {"weight", "bias"}  # the frozen submodule is not copied


def test_a_stage_left_at_chance_is_reported(caplog):
    callback = CurriculumCallback(
        SegmentCurriculum([1, 2], stage_steps=[2, 2], metric="accuracy"), keep_best=True, chance=1 / 6
    )
    run = Run(callback)
    with caplog.at_level(logging.WARNING, logger="hf_rmt"):
        run.step()
        run.evaluate(0.8)
        run.step()  # stage 1 ends well above chance: no warning
        assert "chance level" not in caplog.text
        run.step()
        run.evaluate(0.2)
        run.step()
        run.end()
    assert "stage 2 (2 segments) ended at chance level: best accuracy 0.200 (chance 0.167)" in caplog.text


def test_a_stage_ended_by_its_cap_below_the_target_is_reported(caplog):
    curriculum = SegmentCurriculum([1, 2], stage_steps=[2, 2], metric="accuracy", target=0.95)
    run = Run(CurriculumCallback(curriculum, keep_best=True, chance=1 / 6))
    with caplog.at_level(logging.WARNING, logger="hf_rmt"):
        run.step()
        run.evaluate(0.96)  # stage 1 reaches its target: no warning
        run.step()
        assert "below its target" not in caplog.text
        run.evaluate(0.8)
        run.step()
        run.end()
    assert (
        "stage 2 (2 segments) ended by its step cap below its target: best accuracy 0.800, target 0.95" in caplog.text
    )
    assert "chance level" not in caplog.text


@pytest.mark.parametrize("stop_at_target", [False, True])
def test_the_last_stage_ends_at_the_target_or_at_its_own_cap(stop_at_target):
    curriculum = SegmentCurriculum([1, 2], stage_steps=[10, 3], metric="accuracy", target=0.95)
    run = Run(CurriculumCallback(curriculum, stop_at_target=stop_at_target, end_with_last_stage=True))
    run.step()
    run.evaluate(0.97)  # stage 1 reaches the target at step 1: stage 2 from the next step
    run.step()
    assert curriculum.stage == 1 and not run.control.should_training_stop
    run.evaluate(0.99)  # the last stage reaches the target
    assert run.control.should_training_stop == stop_at_target
    run.step()  # step 3, the last stage's 2nd
    assert run.control.should_training_stop == stop_at_target
    run.step()  # its 3rd step: the last stage's own cap, whatever steps stage 1 left unused
    assert run.control.should_training_stop


def test_chance_must_be_a_metric_value():
    with pytest.raises(ValueError, match=r"`chance` must be a metric value in \[0, 1\), got 6"):
        CurriculumCallback(SegmentCurriculum([1]), chance=6)
