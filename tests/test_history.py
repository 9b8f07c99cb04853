"""TensorBoard's debiased EMA, as the loss plot smooths with it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganstudio.app.history import debiased_ema


def reference(values, weight):
    """TensorBoard's own loop: skip non-finite values, debias by the weights seen."""
    last, debias, out = 0.0, 0.0, []
    for value in values:
        if not math.isfinite(value):
            out.append(math.nan)
            last *= weight
            debias *= weight
            continue
        last = weight * last + (1 - weight) * value
        debias = weight * debias + (1 - weight)
        out.append(last / debias)
    return np.array(out)


@pytest.mark.parametrize("n", [1, 31, 32, 33, 1000, 40_000])
@pytest.mark.parametrize("weight", [0.3, 0.6, 0.9, 0.99])
def test_matches_tensorboards_loop(n, weight):
    rng = np.random.default_rng(n)
    values = rng.normal(1.0, 0.5, n) + np.linspace(0, 3, n)
    values[rng.random(n) < 0.01] = np.nan
    values[rng.random(n) < 0.005] = np.inf
    np.testing.assert_allclose(debiased_ema(values, weight), reference(values, weight),
                               rtol=1e-9, atol=1e-12, equal_nan=True)


def test_weight_zero_is_no_smoothing():
    values = np.array([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(debiased_ema(values, 0.0), values)


def test_leading_gaps_and_an_empty_series():
    values = np.array([np.nan, np.nan, 2.0, 4.0])
    smoothed = debiased_ema(values, 0.5)
    assert np.isnan(smoothed[:2]).all()
    assert smoothed[2] == 2.0  # debiased: the first finite value is itself
    assert smoothed[3] == pytest.approx((0.25 * 2 + 0.5 * 4) / 0.75)
    assert len(debiased_ema(np.array([]), 0.6)) == 0
