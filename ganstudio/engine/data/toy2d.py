"""2-D point sets. ``ring8`` and ``grid25`` use the geometries of the VEEGAN/PacGAN tables."""

from __future__ import annotations

import math

import torch

from ganstudio.engine.data import Dataset, DatasetInfo


def ring8_modes() -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid25_modes() -> torch.Tensor:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def _mixture(modes: torch.Tensor, std: float, n: int, g: torch.Generator):
    labels = torch.arange(n) % modes.shape[0]
    labels = labels[torch.randperm(n, generator=g)]
    x = modes[labels] + std * torch.randn(n, 2, generator=g)
    return x, labels


def _spiral(n: int, g: torch.Generator):
    labels = torch.arange(n) % 2
    t = torch.sqrt(torch.rand(n, generator=g)) * 3.5 * math.pi
    angle = t + math.pi * labels
    radius = t / (3.5 * math.pi) * 3.0
    x = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
    return x + 0.04 * torch.randn(n, 2, generator=g), labels


def _moons(n: int, g: torch.Generator):
    labels = torch.arange(n) % 2
    t = torch.rand(n, generator=g) * math.pi
    upper = torch.stack([t.cos(), t.sin()], dim=1)
    lower = torch.stack([1 - t.cos(), 0.5 - t.sin()], dim=1)
    x = torch.where(labels[:, None] == 0, upper, lower) - torch.tensor([0.5, 0.25])
    return 1.5 * x + 0.05 * torch.randn(n, 2, generator=g), labels


def build(info: DatasetInfo, seed: int) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    n = info.size
    if info.name == "ring8":
        modes, std = ring8_modes(), 0.02
        x, y = _mixture(modes, std, n, g)
        return Dataset(info, x, y, modes, std)
    if info.name == "grid25":
        modes, std = grid25_modes(), 0.05
        x, y = _mixture(modes, std, n, g)
        return Dataset(info, x, y, modes, std)
    x, y = _spiral(n, g) if info.name == "spiral" else _moons(n, g)
    return Dataset(info, x.float(), y)
