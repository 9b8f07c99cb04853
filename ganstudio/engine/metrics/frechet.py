"""Fréchet distance between Gaussians fitted to two feature sets (FID; Heusel et al., 2017).

d² = |μ₁ − μ₂|² + tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½). The trace of the matrix square root is the sum of
the square roots of the eigenvalues of the symmetric positive semi-definite product
Σ₁^½ Σ₂ Σ₁^½ (which has the eigenvalues of Σ₁Σ₂), so it needs no general square root and
stays real when the covariances are singular (fewer samples than dimensions). All in float64.
"""

from __future__ import annotations

import numpy as np
import torch

from ganstudio.engine.metrics.feature_arrays import as_feature_matrix, same_width

ROWS_PER_BLOCK = 1024


def gaussian_stats(features: np.ndarray | torch.Tensor, what: str = "feature"
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of (N, D) features, float64."""
    x = as_feature_matrix(features, what, min_rows=2, dtype=None)
    n, d = x.shape
    # In float64 a block of rows at a time: a float64 copy of 10,000 × 2,048 float32 features
    # would take 160 MB, and its centred copy as much again.
    blocks = range(0, n, ROWS_PER_BLOCK)
    mean = sum(x[i : i + ROWS_PER_BLOCK].double().sum(dim=0) for i in blocks) / n
    cov = torch.zeros(d, d, dtype=torch.float64)
    for i in blocks:
        centred = x[i : i + ROWS_PER_BLOCK].double() - mean
        cov.addmm_(centred.T, centred)
    return mean, cov / (n - 1)


def psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a positive semi-definite matrix (round-off negatives → 0)."""
    m = matrix.double()
    values, vectors = torch.linalg.eigh((m + m.T) / 2)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor,
                     cov2: torch.Tensor, cov1_sqrt: torch.Tensor | None = None) -> float:
    """The squared Fréchet distance of N(mean1, cov1) and N(mean2, cov2).

    ``cov1_sqrt`` (``psd_sqrt(cov1)``) may be passed when the first set is used many times.
    """
    mean1, mean2 = torch.as_tensor(mean1).double(), torch.as_tensor(mean2).double()
    cov1, cov2 = torch.as_tensor(cov1).double(), torch.as_tensor(cov2).double()
    root = psd_sqrt(cov1) if cov1_sqrt is None else torch.as_tensor(cov1_sqrt).double()
    product = root @ cov2 @ root
    eigenvalues = torch.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = eigenvalues.clamp(min=0).sqrt().sum()
    diff = mean1 - mean2
    return float(diff @ diff + cov1.trace() + cov2.trace() - 2 * trace_sqrt)


def frechet_distance_of_features(real: np.ndarray | torch.Tensor,
                                 fake: np.ndarray | torch.Tensor) -> float:
    """FID of two (N, D) feature arrays."""
    real = as_feature_matrix(real, "real", dtype=None)
    fake = as_feature_matrix(fake, "generated", dtype=None)
    same_width(real, fake)
    mean_r, cov_r = gaussian_stats(real, "real")
    mean_f, cov_f = gaussian_stats(fake, "generated")
    return frechet_distance(mean_r, cov_r, mean_f, cov_f)
