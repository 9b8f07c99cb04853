"""DiffAugment (Zhao et al., 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): the same random, differentiable transforms applied to real and fake images alike
before D, so that D cannot memorise a small set and G still gets gradients through them.

The policy is a comma-separated list of

- ``color``: brightness (± 0.5), saturation (× 0–2) and contrast (× 0.5–1.5), per image;
- ``translation``: a shift of up to 1/8 of the size each way, the vacated pixels zero;
- ``cutout``: a zeroed square of half the size at a random place.

Images are floats in [-1, 1]. ``p`` is the probability that each transform is applied to
each image (1: always, as in the paper; lower values are how ADA would drive it); ``p = 0``
returns the input itself. With a ``generator`` the draws are reproducible.
"""

from __future__ import annotations

import torch

from ganstudio.engine.errors import ConfigError

TRANSFORMS = ("color", "translation", "cutout")
DEFAULT_POLICY = "color,translation,cutout"
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def parse_policy(policy: str) -> tuple[str, ...]:
    """The transforms a policy string names, in order; ConfigError for an unknown one."""
    names = tuple(part.strip() for part in policy.split(",") if part.strip())
    for name in names:
        if name not in TRANSFORMS:
            raise ConfigError(
                f"Unknown DiffAugment transform {name!r}; choose from {', '.join(TRANSFORMS)}."
            )
    return names


def diff_augment(x: torch.Tensor, policy: str = DEFAULT_POLICY, p: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` (N, C, H, W) with the policy's transforms applied, each with probability ``p``."""
    names = parse_policy(policy)
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"The augmentation probability must be from 0 to 1, not {p!r}.")
    if p == 0.0 or not names or x.shape[0] == 0:
        return x
    for name in names:
        transformed = _APPLY[name](x, generator)
        if p < 1.0:
            chosen = _rand(x, (x.shape[0], 1, 1, 1), generator) < p
            transformed = torch.where(chosen, transformed, x)
        x = transformed
    return x


def _rand(x: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator | None):
    return torch.rand(shape, generator=generator, device=x.device, dtype=x.dtype)


def _randint(x: torch.Tensor, low: int, high: int, shape: tuple[int, ...],
             generator: torch.Generator | None) -> torch.Tensor:
    return torch.randint(low, high, shape, generator=generator, device=x.device)


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_rand(x, (n, 1, 1, 1), generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, (n, 1, 1, 1), generator) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, (n, 1, 1, 1), generator) + 0.5) + mean


def translation(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    n, _, h, w = x.shape
    sy, sx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy = _randint(x, -sy, sy + 1, (n, 1, 1), generator)
    dx = _randint(x, -sx, sx + 1, (n, 1, 1), generator)
    rows = torch.arange(h, device=x.device)[None, :, None] + dy  # (n, h, 1): source rows
    cols = torch.arange(w, device=x.device)[None, None, :] + dx  # (n, 1, w)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (n, h, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    moved = x.permute(0, 2, 3, 1)[batch, rows.clamp(0, h - 1), cols.clamp(0, w - 1)]
    return (moved * inside[..., None]).permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    # centres such that the square may hang over an edge by up to half its size
    cy = _randint(x, 0, h + (1 - ch % 2), (n, 1, 1), generator)
    cx = _randint(x, 0, w + (1 - cw % 2), (n, 1, 1), generator)
    rows = torch.arange(h, device=x.device)[None, :, None] - (cy - ch // 2)
    cols = torch.arange(w, device=x.device)[None, None, :] - (cx - cw // 2)
    cut = (rows >= 0) & (rows < ch) & (cols >= 0) & (cols < cw)  # (n, h, w)
    return x * (~cut)[:, None].to(x.dtype)


_APPLY = {"color": color, "translation": translation, "cutout": cutout}
