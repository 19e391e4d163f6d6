"""The memory seam of `hf_rmt.core.memory`: a second memory type, with a state of several tensors (as a per-layer
memory has), runs through the unchanged segment loop, and segment recomputation gives it the plain loop's gradients."""

from __future__ import annotations

import torch
from tiny_models import rmt_config, tiny_backbone

import hf_rmt
from hf_rmt.core.memory import MemoryUpdate, RMTUpdate, detach_rows, merge_rows, select_rows
from hf_rmt.modeling.heads import SequenceClassificationHead


class TwoPartUpdate(MemoryUpdate):
    """A toy memory type: the row reads the sum of two tensors; the first is replaced by what is written, the second
    keeps a running mean of it."""

    def read(self, state):
        return state[0] + state[1]

    def write(self, state, written):
        return written, 0.5 * (state[1] + written)


def classifier(segment_checkpointing: bool):
    config = rmt_config("bert", segment_checkpointing=segment_checkpointing)
    model = hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), config, train_backbone=True)
    model.memory_update = TwoPartUpdate()
    return model.train()


def loss_and_grads(segment_checkpointing: bool):
    model = classifier(segment_checkpointing)
    torch.manual_seed(0)
    ids = torch.randint(5, 99, (2, 30))
    mask = torch.ones_like(ids)
    mask[1, :7] = 0
    first, second = (torch.randn(2, 4, 32, requires_grad=True) for _ in range(2))
    plan = model.make_plan(ids, mask)
    memory, results = model.run_segments(plan, ids, (first, second), SequenceClassificationHead(len(plan) - 1, None))
    assert isinstance(memory, tuple) and len(memory) == 2
    loss = results[-1][1].logits.square().sum() + memory[1].sum()
    loss.backward()
    return loss.detach(), first.grad, second.grad, model.memory.weight.grad


def test_a_two_tensor_state_runs_through_the_loop_and_recomputation_matches():
    plain, recomputed = loss_and_grads(False), loss_and_grads(True)
    assert plain[1] is not None and plain[2] is not None and plain[1].abs().sum() > 0
    for want, got in zip(plain, recomputed):
        if want is None:
            assert got is None
        else:
            torch.testing.assert_close(got, want)


def test_row_helpers_work_on_tensors_and_tuples():
    state = (torch.arange(6.0).view(3, 2), torch.arange(6.0, 12.0).view(3, 2))
    rows = torch.tensor([0, 2])
    picked = select_rows(state, rows)
    assert picked[0].tolist() == [[0.0, 1.0], [4.0, 5.0]]
    merged = merge_rows(state, rows, tuple(-t for t in picked))
    assert merged[1].tolist() == [[-6.0, -7.0], [8.0, 9.0], [-10.0, -11.0]]
    leaf = torch.ones(3, 2, requires_grad=True)
    cut = detach_rows(leaf * 2, torch.tensor([True, False, True]))
    cut.sum().backward()
    assert leaf.grad[:, 0].tolist() == [0.0, 2.0, 0.0]
    assert merge_rows(leaf, None, leaf.double()).dtype == leaf.dtype  # cast back to the state's dtype


def test_rmt_update_is_the_identity_of_the_rmt_paper():
    memory, written = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    assert RMTUpdate().read(memory) is memory and RMTUpdate().write(memory, written) is written
