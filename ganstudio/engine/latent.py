"""Latent-space maths: sampling, truncation, interpolation, paths and directions."""

from __future__ import annotations

import torch


def sample_latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    """``n`` standard-normal latents, the same for the same seed on every machine."""
    g = torch.Generator().manual_seed(int(seed) % (2**63))
    return torch.randn(n, z_dim, generator=g)


def truncate(z: torch.Tensor, mean: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick: move latents towards ``mean`` (psi 1: unchanged, 0: the mean)."""
    return mean + psi * (z - mean)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    return a + (b - a) * t
