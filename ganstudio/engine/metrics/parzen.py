"""Parzen-window log-likelihood: the metric of Goodfellow et al. (2014), Table 1, after
Breuleux et al. (2011).

A Gaussian kernel of width σ is centred on each of the generated samples μ₁…μ_N, and a point x
gets  log p(x) = logsumexp_i(−|x − μ_i|² / 2σ²) − log N − (D/2) log(2πσ²).
σ is the one of a log-spaced grid (the paper's code: 10 values from 0.1 to 1) that gives the
validation set the highest mean log-likelihood; the result is the test set's mean with its
standard error. Distances are float64, computed block by block.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.metrics.feature_arrays import as_feature_matrix, same_width

SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))
BLOCK_ELEMENTS = 1 << 22  # float64 distances held at once: 32 MB


@dataclass(frozen=True)
class ParzenResult:
    mean: float  # mean log-likelihood of the test set (nats)
    sem: float  # its standard error: std / sqrt(n)
    sigma: float  # the kernel width chosen on the validation set
    validation: tuple[tuple[float, float], ...]  # (σ, mean validation log-likelihood) per σ


def parzen_log_likelihoods(samples: np.ndarray | torch.Tensor, points: np.ndarray | torch.Tensor,
                           sigmas: Sequence[float],
                           progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """(len(sigmas), n_points) float64 log-likelihoods of ``points`` under Parzen windows of
    each width fitted to ``samples``; the distances are computed once for every σ."""
    mu = as_feature_matrix(samples, "generated", min_rows=1, dtype=torch.float64)
    x = as_feature_matrix(points, "evaluation", min_rows=1, dtype=torch.float64)
    same_width(mu, x)
    sigmas = torch.as_tensor(list(sigmas), dtype=torch.float64)
    if sigmas.numel() == 0 or not bool((sigmas > 0).all()):
        raise ConfigError("Parzen window widths must be positive numbers")
    centre = mu.mean(dim=0)
    mu, x = mu - centre, x - centre
    mu_squared = mu.square().sum(dim=1)
    n, d = mu.shape
    # The normalising constant of the mixture: its N kernels, each a D-dimensional Gaussian.
    constant = -math.log(n) - 0.5 * d * torch.log(2 * math.pi * sigmas.square())
    out = torch.empty(len(sigmas), x.shape[0], dtype=torch.float64)
    step = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, x.shape[0], step):
        block = x[start : start + step]
        d2 = torch.addmm(block.square().sum(dim=1, keepdim=True) + mu_squared, block, mu.T,
                         alpha=-2.0).clamp_(min=0)
        for i, sigma in enumerate(sigmas):
            out[i, start : start + step] = torch.logsumexp(d2 / (-2 * sigma * sigma), dim=1)
        if progress is not None:
            progress(min(1.0, (start + step) / x.shape[0]))
    return out + constant[:, None]


def parzen_evaluation(samples: np.ndarray | torch.Tensor, validation: np.ndarray | torch.Tensor,
                      test: np.ndarray | torch.Tensor, sigmas: Sequence[float] = SIGMAS,
                      progress: Callable[[float], None] | None = None) -> ParzenResult:
    """Choose σ on ``validation``, then the mean log-likelihood of ``test`` and its standard
    error (rows are flattened samples, e.g. pixels scaled to 0..1 as in the paper)."""
    valid = parzen_log_likelihoods(samples, validation, sigmas,
                                   _share(progress, 0.0, 0.5)).mean(dim=1)
    sigma = float(sigmas[int(valid.argmax())])
    ll = parzen_log_likelihoods(samples, test, [sigma], _share(progress, 0.5, 1.0))[0]
    # The paper's code divides numpy's (population) standard deviation by sqrt(n).
    sem = float(ll.std(unbiased=False) / math.sqrt(ll.numel()))
    return ParzenResult(
        mean=float(ll.mean()), sem=sem, sigma=sigma,
        validation=tuple((float(s), float(v)) for s, v in zip(sigmas, valid)),
    )


def _share(progress: Callable[[float], None] | None, lo: float, hi: float):
    """Progress of one stage reported as the range lo..hi of the whole."""
    return None if progress is None else (lambda f: progress(lo + (hi - lo) * f))
