import math

import pytest
import torch

from ganstudio.engine.data.toy2d import ring8_modes
from ganstudio.engine.metrics.modes import mode_coverage


def test_perfect_samples_cover_every_mode_uniformly():
    modes = ring8_modes()
    samples = modes.repeat(100, 1) + 0.01 * torch.randn(800, 2)
    m = mode_coverage(samples, modes, std=0.02)
    assert m["modes"] == 8 and m["n_modes"] == 8
    assert m["high_quality"] > 99
    assert m["reverse_kl"] == pytest.approx(0.0, abs=1e-9)


def test_collapsed_samples_cover_one_mode():
    modes = ring8_modes()
    samples = modes[:1].repeat(50, 1)
    m = mode_coverage(samples, modes, std=0.02)
    assert m["modes"] == 1 and m["high_quality"] == 100
    assert m["reverse_kl"] == pytest.approx(math.log(8))


def test_samples_between_modes_are_not_high_quality():
    modes = ring8_modes()
    samples = torch.zeros(100, 2)  # the centre of the ring, far from every mode
    m = mode_coverage(samples, modes, std=0.02)
    assert m["modes"] == 0 and m["high_quality"] == 0


def test_three_sigma_boundary():
    modes = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    samples = torch.tensor([[0.059, 0.0], [10.061, 0.0]])
    m = mode_coverage(samples, modes, std=0.02)
    assert m["modes"] == 1 and m["high_quality"] == 50
