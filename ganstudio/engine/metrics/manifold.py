"""Manifold metrics on k-nearest-neighbour balls, as the ``prdc`` package defines them.

- Improved precision and recall (Kynkäänniemi et al., 2019; k = 3): the share of generated
  samples inside the real manifold (the union of balls reaching each real sample's k-th
  nearest real neighbour), and the share of real samples inside the generated manifold.
- Density and coverage (Naeem et al., 2020; k = 5): how many real balls hold each generated
  sample, over k and averaged; and the share of real balls that hold any generated sample.

"Inside" is a strict ``<`` and a sample's neighbours include itself, as in ``prdc``. Distances
come block by block (a few MB each), from float32 matrix products on data centred first, so
10,000 × 10,000 samples need little memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.metrics.feature_arrays import as_feature_matrix, same_width

K_PRECISION_RECALL = 3
K_DENSITY_COVERAGE = 5
BLOCK_ELEMENTS = 1 << 22  # distances held at once: 16 MB of float32


def _squared_distances(a: torch.Tensor, b: torch.Tensor, b_squared: torch.Tensor) -> torch.Tensor:
    """(rows of a) × (rows of b) squared Euclidean distances, never negative."""
    a_squared = a.square().sum(dim=1, keepdim=True)
    return torch.addmm(a_squared + b_squared, a, b.T, alpha=-2.0).clamp_(min=0)


def _blocks(n_rows: int, n_cols: int) -> Iterable[tuple[int, int]]:
    step = max(1, BLOCK_ELEMENTS // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)


def knn_radii(features: np.ndarray | torch.Tensor, ks: Iterable[int],
              progress: Callable[[float], None] | None = None) -> dict[int, torch.Tensor]:
    """For each k, every sample's distance to its k-th nearest neighbour in the same set
    (the sample itself counting as the 0-th), float32."""
    ks = sorted(set(ks))
    x = as_feature_matrix(features, "feature")
    if not ks:
        return {}
    if ks[0] < 1 or ks[-1] + 1 > x.shape[0]:
        raise ConfigError(f"k-nearest-neighbour radii with k = {ks[-1]} need more than "
                          f"{ks[-1]} samples; there are {x.shape[0]}")
    x = x - x.mean(dim=0)
    x_squared = x.square().sum(dim=1)
    radii = {k: torch.empty(x.shape[0]) for k in ks}
    for start, stop in _blocks(x.shape[0], x.shape[0]):
        d2 = _squared_distances(x[start:stop], x, x_squared)
        rows = torch.arange(stop - start)
        d2[rows, rows + start] = 0.0  # round-off must not move a sample off itself
        nearest = torch.topk(d2, ks[-1] + 1, dim=1, largest=False, sorted=True).values
        for k in ks:
            radii[k][start:stop] = nearest[:, k]
        if progress is not None:
            progress(stop / x.shape[0])
    return {k: r.sqrt_() for k, r in radii.items()}


def manifold_metrics(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, *,
                     precision_recall: bool = True, density_coverage: bool = True,
                     k_pr: int = K_PRECISION_RECALL, k_dc: int = K_DENSITY_COVERAGE,
                     real_radii: dict[int, torch.Tensor] | None = None,
                     progress: Callable[[float], None] | None = None) -> dict[str, float]:
    """``precision``/``recall`` and/or ``density``/``coverage`` of generated features
    against real ones, in one pass over the real × generated distances.

    ``real_radii`` (from ``knn_radii(real, (k_pr, k_dc))``) may be passed when the real set is
    used many times.
    """
    x = as_feature_matrix(real, "real")
    y = as_feature_matrix(fake, "generated")
    same_width(x, y)
    ks_real = ([k_pr] if precision_recall else []) + ([k_dc] if density_coverage else [])
    if not ks_real:
        return {}
    if real_radii is None or any(k not in real_radii for k in ks_real):
        real_radii = knn_radii(x, ks_real)
    r2 = {k: real_radii[k].float().square() for k in ks_real}
    if precision_recall:
        fake_r2 = knn_radii(y, [k_pr])[k_pr].square()
        in_real = torch.zeros(y.shape[0], dtype=torch.bool)  # precision, per generated sample
        in_fake = torch.zeros(x.shape[0], dtype=torch.bool)  # recall, per real sample
    if density_coverage:
        balls_holding = torch.zeros(y.shape[0], dtype=torch.float64)
        covered = torch.zeros(x.shape[0], dtype=torch.bool)

    centre = x.mean(dim=0)
    x, y = x - centre, y - centre
    y_squared = y.square().sum(dim=1)
    for start, stop in _blocks(x.shape[0], y.shape[0]):
        d2 = _squared_distances(x[start:stop], y, y_squared)  # (real block, generated)
        if precision_recall:
            in_real |= (d2 < r2[k_pr][start:stop, None]).any(dim=0)
            in_fake[start:stop] = (d2 < fake_r2[None, :]).any(dim=1)
        if density_coverage:
            radius2 = r2[k_dc][start:stop]
            balls_holding += (d2 < radius2[:, None]).sum(dim=0, dtype=torch.float64)
            covered[start:stop] = d2.min(dim=1).values < radius2
        if progress is not None:
            progress(stop / x.shape[0])

    out = {}
    if precision_recall:
        out["precision"] = float(in_real.double().mean())
        out["recall"] = float(in_fake.double().mean())
    if density_coverage:
        out["density"] = float(balls_holding.mean() / k_dc)
        out["coverage"] = float(covered.double().mean())
    return out
