"""GAN Lab's teaching views of a 2-D run, computed at snapshots (Kahng et al. 2019).

- **Generator gradients:** for each generated point x, the direction G's next update moves
  it: −∂ℓ_G(D(x))/∂x, the gradient of G's loss for that point alone, through D as it is now.
  Backpropagation carries exactly this vector into G's parameters, so it is what G is told.
- **The manifold:** G's image of a regular grid of z (for 1-D and 2-D z), which shows how G
  folds and stretches its input space onto the plane.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ganstudio.engine import losses
from ganstudio.engine.nets.layers import eval_mode

MANIFOLD_SIDE = 31  # grid lines along each z axis (2-D z); 1-D z gets MANIFOLD_POINTS
MANIFOLD_POINTS = 201
MANIFOLD_RANGE = 3.0  # z from −3 to 3: 99.7% of the standard normal's mass on each axis


def update_directions(D: nn.Module, points: torch.Tensor, labels: torch.Tensor | None,
                      loss: str) -> np.ndarray:
    """(N, 2) float32: −∂ℓ_G/∂x at each of ``points`` (D in eval mode; D's own parameters
    get no gradient). Each point's own loss, not the batch mean, so an arrow does not
    shrink as the batch grows."""
    x = points.detach().float().clone().requires_grad_(True)
    with torch.enable_grad(), eval_mode(D):
        logits = D(x, labels).float()
        per_point = losses.g_loss(loss, logits) * len(x)  # the sum of the per-point losses
        (grad,) = torch.autograd.grad(per_point, x)
    return np.ascontiguousarray((-grad).cpu().numpy().astype(np.float32))


def latent_grid(z_dim: int) -> torch.Tensor | None:
    """The regular grid of z the manifold view maps: (rows, columns, z_dim), or None for
    z of more than two dimensions."""
    if z_dim == 1:
        return torch.linspace(-MANIFOLD_RANGE, MANIFOLD_RANGE, MANIFOLD_POINTS)[None, :, None]
    if z_dim == 2:
        axis = torch.linspace(-MANIFOLD_RANGE, MANIFOLD_RANGE, MANIFOLD_SIDE)
        rows, cols = torch.meshgrid(axis, axis, indexing="ij")
        return torch.stack([cols, rows], dim=-1)  # z₁ along a row, z₂ down the columns
    return None


def latent_manifold(generate: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
                    z_dim: int, device: torch.device) -> np.ndarray | None:
    """(rows, columns, 2) float32: G's image of :func:`latent_grid` (None beyond 2-D z)."""
    grid = latent_grid(z_dim)
    if grid is None:
        return None
    rows, cols, _ = grid.shape
    out = generate(grid.reshape(-1, z_dim).to(device), None)
    return np.ascontiguousarray(out.reshape(rows, cols, 2).cpu().numpy().astype(np.float32))
