"""`RMTConfig.memory_denominator_floor`: ARMT's normaliser `z` lags its matrix `A` (gamma adds to `z` only the part of
a key not yet in it, `A` takes all of it), so without a floor a direction `A` holds and `z` barely does is read
amplified by orders of magnitude, and its gradients more (the bf16 divergence of session 15's GPU run; the mechanism:
bench/results/session15_cpu/armt_nan). A floor bounds both; above it, and without it, the read and the write are the
official formula's exactly."""

from __future__ import annotations

import pytest
import torch
from tiny_models import rmt_config, tiny_backbone

import hf_rmt
from hf_rmt.cli import main
from hf_rmt.core.memory.associative import EPS, AssociativeLayer, dpfp


def layer_and_feature(floor=0.0):
    """A layer whose query and key read dimensions 0-1, a hidden state, and its (unit, non-negative) DPFP feature."""
    layer = AssociativeLayer(hidden_size=6, memory_dim=2, denominator_floor=floor)
    with torch.no_grad():
        for linear in (layer.query, layer.key):
            linear.weight.zero_()
            linear.weight[0, 0] = linear.weight[1, 1] = 1.0
    hidden = torch.tensor([[[1.0, 0.5, 0.0, 0.0, 0.0, 0.0]]])
    return layer, hidden, dpfp(layer.query(hidden)).detach()[0, 0]


VALUE = torch.tensor([0.0, 0.0, 1.0, -2.0, 0.5, 1.0])


def lagging_state(feature, s):
    """What a key nearly parallel to a stored one leaves along a new direction: s of it in A, ~s^3 / 2 in z."""
    matrix = (s * torch.outer(feature, VALUE))[None].requires_grad_(True)
    normaliser = (s**3 / 2 * feature)[None].requires_grad_(True)
    return matrix, normaliser


def amplification(floor, s):
    layer, hidden, feature = layer_and_feature(floor)
    matrix, normaliser = lagging_state(feature, s)
    read = layer.read(hidden, matrix, normaliser) - hidden
    read.sum().backward()
    write_matrix = matrix.detach().clone().requires_grad_(True)
    written, _ = layer.write(hidden, write_matrix, normaliser.detach())
    written.sum().backward()
    ratio = float(read.detach().abs().max() / VALUE.abs().max())
    return (
        ratio,
        float(matrix.grad.abs().max()),
        float(normaliser.grad.abs().max()),
        float(write_matrix.grad.abs().max()),
    )


@pytest.mark.parametrize("s", [0.1, 0.03])
def test_without_a_floor_a_lagging_direction_is_amplified(s):
    read, grad_a, grad_z, _ = amplification(0.0, s)
    # The mechanism behind the NaN gradients: a read far larger than any value written, and larger gradients still.
    assert read > 100 and grad_a > 1e3 and grad_z > 1e5


@pytest.mark.parametrize("floor, bound", [(1e-2, 50), (1e-3, 500)])
@pytest.mark.parametrize("s", [0.1, 0.03, 0.01])
def test_a_floor_bounds_the_read_and_its_gradients(s, floor, bound):
    read, grad_a, grad_z, grad_write = amplification(floor, s)
    assert read < bound and grad_a < 20 * bound and grad_write < 20 * bound
    assert grad_z < 20 * bound


def test_dots_above_the_floor_and_no_floor_are_the_official_formula_exactly():
    layer, hidden, feature = layer_and_feature(1e-2)
    plain, _, _ = layer_and_feature(0.0)
    plain.load_state_dict(layer.state_dict())
    torch.manual_seed(0)
    matrix = torch.randn(1, feature.numel(), 6)
    memory = torch.randn(1, 3, 6)
    for dot in (0.05, 0.5, 3.0):
        normaliser = (dot * feature)[None]
        official_read = hidden + (feature @ matrix[0]) / (dot + EPS)
        for model in (layer, plain):
            torch.testing.assert_close(model.read(hidden, matrix, normaliser), official_read)
    # The official write (ARMT code): seen = z . k + EPS, v_bar = A k / seen, gamma = clamp(1 - seen, 0, 1).
    for normaliser in (torch.zeros(1, feature.numel()), torch.rand(1, feature.numel())):
        key = dpfp(plain.key(memory))
        value, beta = plain.value(memory), torch.sigmoid(plain.beta(memory))
        seen = key @ normaliser[..., None] + EPS
        official = (
            matrix + key.transpose(1, 2) @ (beta * (value - key @ matrix / seen)),
            normaliser + ((1 - seen).clamp(0, 1) * key).sum(1),
        )
        for got, want in zip(plain.write(memory, matrix, normaliser), official, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)


def test_the_config_sets_the_floor_and_it_survives_save_and_load(tmp_path):
    config = rmt_config("bert", memory_type="associative", memory_denominator_floor=1e-3)
    model = hf_rmt.get_rmt_model(tiny_backbone("bert", "sequence-classification"), config)
    assert {layer.denominator_floor for layer in model.memory.layers} == {1e-3}
    assert "denominator_floor=0.001" in repr(model.memory)
    model.save_pretrained(tmp_path, adapter_only=False)
    loaded = hf_rmt.RMTForSequenceClassification.from_pretrained(tmp_path)
    assert loaded.config.memory_denominator_floor == 1e-3
    assert {layer.denominator_floor for layer in loaded.memory.layers} == {1e-3}
    default = hf_rmt.get_rmt_model(tiny_backbone("bert"), rmt_config("bert", memory_type="associative"))
    assert {layer.denominator_floor for layer in default.memory.layers} == {0.0}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"memory_type": "associative", "memory_denominator_floor": -0.1}, "must be a number in [0, 1) or None"),
        ({"memory_type": "associative", "memory_denominator_floor": 1.0}, "must be a number in [0, 1) or None"),
        ({"memory_type": "associative", "memory_denominator_floor": True}, "must be a number in [0, 1) or None"),
        ({"memory_type": "associative", "memory_denominator_floor": "1e-3"}, "must be a number in [0, 1) or None"),
        ({"memory_denominator_floor": 1e-3}, "needs `memory_type='associative'`"),
    ],
)
def test_bad_floors_are_refused_in_the_fields_words(kwargs, message):
    with pytest.raises(ValueError) as error:
        hf_rmt.RMTConfig(**kwargs)
    assert "`memory_denominator_floor`" in str(error.value) and message in str(error.value)


def test_cli_flag_errors(backbone_dir, tmp_path, capsys):
    base = ["train", "--model", backbone_dir, "--task", "memorize", "--output-dir", str(tmp_path / "out")]
    assert main([*base, "--memory-denominator-floor", "1e-3"]) == 2
    assert "--memory-denominator-floor bounds the associative memory's read: it needs --memory-type associative" in (
        capsys.readouterr().err
    )
    assert main([*base, "--memory-type", "associative", "--memory-denominator-floor", "2"]) == 2
    assert "--memory-denominator-floor 2.0: must be a number in [0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
