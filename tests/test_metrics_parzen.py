"""The Parzen-window log-likelihood against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.metrics.parzen import SIGMAS, parzen_evaluation, parzen_log_likelihoods


def test_tiny_case_against_the_formula():
    samples = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    points = np.array([[0.5, 0.5], [3.0, -1.0]])
    sigma = 0.7
    ll = parzen_log_likelihoods(samples, points, [sigma])[0]
    for point, value in zip(points, ll):
        density = sum(
            math.exp(-np.sum((point - mu) ** 2) / (2 * sigma**2)) / (2 * math.pi * sigma**2)
            for mu in samples
        ) / len(samples)
        assert float(value) == pytest.approx(math.log(density), rel=1e-12)


def test_one_pass_for_many_widths_equals_one_width_at_a_time(monkeypatch):
    from ganstudio.engine.metrics import parzen

    rng = np.random.default_rng(1)
    samples, points = rng.normal(size=(300, 5)), rng.normal(size=(40, 5))
    together = parzen_log_likelihoods(samples, points, SIGMAS)
    monkeypatch.setattr(parzen, "BLOCK_ELEMENTS", 3000)  # blocks of 10 points
    for i, sigma in enumerate(SIGMAS):
        alone = parzen_log_likelihoods(samples, points, [sigma])[0]
        torch.testing.assert_close(alone, together[i], rtol=1e-12, atol=1e-12)


def test_many_gaussian_samples_approach_the_convolved_gaussian():
    """Samples of N(μ, s²I) in a Parzen window of width σ tend to the density of
    N(μ, (s² + σ²) I), whose log-likelihood is known exactly."""
    rng = np.random.default_rng(7)
    d, s, sigma = 2, 1.0, 0.5
    mu = np.array([0.5, -1.0])
    samples = mu + s * rng.normal(size=(40_000, d))
    points = mu + 1.3 * rng.normal(size=(500, d))
    ll = parzen_log_likelihoods(samples, points, [sigma])[0].numpy()
    var = s**2 + sigma**2
    exact = -0.5 * d * np.log(2 * np.pi * var) - np.sum((points - mu) ** 2, axis=1) / (2 * var)
    assert float(np.mean(ll)) == pytest.approx(float(np.mean(exact)), abs=0.02)
    assert float(np.mean(np.abs(ll - exact))) < 0.02


def test_sigma_is_chosen_on_validation_and_the_test_mean_has_a_standard_error():
    rng = np.random.default_rng(3)
    d = 4
    samples = 0.3 * rng.normal(size=(3000, d))
    valid, test = 0.3 * rng.normal(size=(300, d)), 0.3 * rng.normal(size=(200, d))
    result = parzen_evaluation(samples, valid, test)
    sigmas = [s for s, _ in result.validation]
    values = [v for _, v in result.validation]
    assert sigmas == pytest.approx(list(np.logspace(-1, 0, 10)))
    assert result.sigma == sigmas[int(np.argmax(values))]
    assert 0.1 < result.sigma < 1.0  # an interior choice for this spread
    ll = parzen_log_likelihoods(samples, test, [result.sigma])[0].numpy()
    assert result.mean == pytest.approx(ll.mean())
    assert result.sem == pytest.approx(ll.std() / math.sqrt(len(ll)))
    # the paper's fit is near the truth: N(0, (0.09 + σ²) I) in 4-D
    truth = -0.5 * d * np.log(2 * np.pi * 0.09) - np.sum(test**2, axis=1) / (2 * 0.09)
    assert result.mean < truth.mean() + 0.05


def test_bad_widths_and_shapes_are_refused():
    with pytest.raises(ConfigError, match="positive"):
        parzen_log_likelihoods(np.zeros((3, 2)), np.zeros((2, 2)), [0.0])
    with pytest.raises(ConfigError, match="different feature spaces"):
        parzen_log_likelihoods(np.zeros((3, 2)), np.zeros((2, 3)), [1.0])
