"""Kernel distance (KID; Bińkowski et al., 2018): the unbiased squared MMD with the cubic
polynomial kernel k(x, y) = (x·y / d + 1)³, averaged over random subsets.

Subsets are drawn as torchmetrics draws them (for each subset a permutation of the real rows,
then one of the generated rows; its defaults of 100 subsets of 1,000), so with the same seed
the two give the same subsets. Kernels are float32 matrix products; their row sums are added
in float64.
"""

from __future__ import annotations

import numpy as np
import torch

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.metrics.feature_arrays import as_feature_matrix, same_width

SUBSETS = 100
SUBSET_SIZE = 1000
BLOCK_ELEMENTS = 1 << 23  # kernel values held at once: 32 MB of float32


def polynomial_mmd2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD² under (x·y / d + 1)³ of equal-sized samples (…, m, d): one value per
    leading index, float64."""
    *lead, m, d = x.shape
    x, y = x.reshape(-1, m, d), y.reshape(-1, m, d)
    one = torch.ones((), dtype=x.dtype)

    def kernel_sum(a: torch.Tensor, b: torch.Tensor, drop_diagonal: bool) -> torch.Tensor:
        k = torch.baddbmm(one, a, b.transpose(1, 2), alpha=1.0 / d).pow_(3)
        # Rows summed in float32, then the row sums in float64: casting every kernel value
        # to float64 first costs more than the products themselves.
        total = k.sum(dim=2).sum(dim=1, dtype=torch.float64)
        if drop_diagonal:
            total -= k.diagonal(dim1=1, dim2=2).sum(dim=1, dtype=torch.float64)
        return total

    within = kernel_sum(x, x, True) + kernel_sum(y, y, True)
    return (within / (m * (m - 1)) - 2 * kernel_sum(x, y, False) / (m * m)).reshape(lead)


def kernel_distance(real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, *,
                    subsets: int = SUBSETS, subset_size: int = SUBSET_SIZE, seed: int = 0,
                    progress=None) -> dict[str, float]:
    """``kid`` (mean over subsets) and ``kid_std`` (their population standard deviation).

    A set smaller than ``subset_size`` shrinks the subsets to its size.
    """
    if subsets < 1 or subset_size < 2:
        raise ConfigError(f"KID needs at least 1 subset of at least 2 samples, not {subsets} "
                          f"of {subset_size}")
    x = as_feature_matrix(real, "real")
    y = as_feature_matrix(fake, "generated")
    same_width(x, y)
    m = min(subset_size, x.shape[0], y.shape[0])
    rng = torch.Generator().manual_seed(int(seed))
    picks = [(torch.randperm(x.shape[0], generator=rng)[:m],
              torch.randperm(y.shape[0], generator=rng)[:m]) for _ in range(subsets)]
    # Several subsets in one batched product: fewer, larger operations.
    group = max(1, BLOCK_ELEMENTS // (m * m))
    values = []
    for start in range(0, subsets, group):
        chosen = picks[start : start + group]
        xs = torch.stack([x[i] for i, _ in chosen])
        ys = torch.stack([y[j] for _, j in chosen])
        values.append(polynomial_mmd2(xs, ys))
        if progress is not None:
            progress(min(1.0, (start + group) / subsets))
    v = torch.cat(values)
    return {"kid": float(v.mean()), "kid_std": float(v.std(unbiased=False))}
