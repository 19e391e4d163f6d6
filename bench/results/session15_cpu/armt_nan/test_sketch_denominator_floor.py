"""Test sketch for denominator_floor.patch (would go in tests/test_associative.py). Fails on the current module
(forward read amplified ~1e3 x, dL/dz ~1e7), passes with the patch.

Run: PYTHONPATH=<repo with or without the patch> python -m pytest -q test_sketch_denominator_floor.py
"""
import pytest
import torch

from hf_rmt.core.memory.associative import EPS, AssociativeLayer, dpfp


def layer_and_query_feature():
    layer = AssociativeLayer(hidden_size=6, memory_dim=2)
    with torch.no_grad():
        for linear in (layer.query, layer.key):
            linear.weight.zero_()
            linear.weight[0, 0] = linear.weight[1, 1] = 1.0
    hidden = torch.tensor([[[1.0, 0.5, 0.0, 0.0, 0.0, 0.0]]])
    return layer, hidden, dpfp(layer.query(hidden)).detach()[0, 0]  # unit, non-negative


@pytest.mark.parametrize("s", [0.1, 0.03, 0.01])
def test_a_direction_that_z_lags_reads_and_backpropagates_boundedly(s):
    """gamma = 1 - k.z adds ~s^3/2 of a direction to z where A takes s of it (a key nearly parallel to a stored one):
    the read of that direction must stay of the order of the values, and so must its gradients."""
    layer, hidden, p = layer_and_query_feature()
    u = torch.tensor([0.0, 0.0, 1.0, -2.0, 0.5, 1.0])
    matrix = (s * torch.outer(p, u))[None].requires_grad_(True)
    normaliser = (s**3 / 2 * p)[None].requires_grad_(True)
    read = layer.read(hidden, matrix, normaliser) - hidden
    read.sum().backward()
    assert read.abs().max() < 50 * u.abs().max()
    assert matrix.grad.abs().max() < 1e3 and normaliser.grad.abs().max() < 1e4
    # the write's recall of the same direction (key = p) is bounded the same way
    memory = hidden.clone()
    matrix2 = matrix.detach().clone().requires_grad_(True)
    new_matrix, _ = layer.write(memory, matrix2, normaliser.detach())
    new_matrix.sum().backward()
    assert new_matrix.abs().max() < 50 * u.abs().max() and matrix2.grad.abs().max() < 1e3


def test_normal_denominators_read_as_the_official_formula():
    """Dots above the floor: the read is exactly A q / (z . q + EPS), the official code's."""
    layer, hidden, p = layer_and_query_feature()
    torch.manual_seed(0)
    matrix = torch.randn(1, p.numel(), 6)
    for dot in (0.05, 0.5, 3.0):
        normaliser = (dot * p)[None]
        want = hidden + (p @ matrix[0]) / (dot + EPS)
        torch.testing.assert_close(layer.read(hidden, matrix, normaliser), want)
