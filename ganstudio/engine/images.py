"""Turning generator outputs into uint8 images, grids and PNG files."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganstudio.engine.atomic import atomic_write_bytes
from ganstudio.engine.view2d import Extent, to_pixels


def to_uint8(x: torch.Tensor, output_range: tuple[float, float]) -> np.ndarray:
    """(N, C, H, W) floats in ``output_range`` → (N, H, W, C) uint8, C-contiguous."""
    lo, hi = output_range
    scaled = (x.detach().float() - lo) * (255.0 / (hi - lo))
    out = scaled.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    return np.ascontiguousarray(out.cpu().numpy())


def from_uint8(x: torch.Tensor, output_range: tuple[float, float]) -> torch.Tensor:
    """uint8 images (any shape) → floats in ``output_range``."""
    lo, hi = output_range
    return x.float() * ((hi - lo) / 255.0) + lo


def make_grid(images: np.ndarray, nrow: int, pad: int = 2, background: int = 24) -> np.ndarray:
    """(N, H, W, C) uint8 → one (rows·(H+pad)+pad, nrow·(W+pad)+pad, C) uint8 grid image."""
    n, h, w, c = images.shape
    nrow = max(1, min(nrow, n))
    rows = math.ceil(n / nrow)
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), background, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y : y + h, x : x + w] = images[i]
    return grid


def grid_cell(grid_shape: tuple[int, ...], cell: tuple[int, int], nrow: int, n: int, pad: int = 2):
    """The index of the sample under pixel ``cell`` (y, x) of a grid, or None on padding."""
    rows = math.ceil(n / nrow)
    h = (grid_shape[0] - pad) // rows - pad
    w = (grid_shape[1] - pad) // nrow - pad
    y, x = cell
    r, ry = divmod(y - pad, h + pad)
    c, cx = divmod(x - pad, w + pad)
    if y < pad or x < pad or ry >= h or cx >= w or r >= rows or c >= nrow:
        return None
    index = r * nrow + c
    return index if index < n else None


def png_bytes(image: np.ndarray) -> bytes:
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path: str | Path, image: np.ndarray, *, replace: bool = False) -> Path:
    """Write a PNG atomically; ``replace`` allows replacing an existing file."""
    return atomic_write_bytes(path, png_bytes(image), replace=replace)


def render_points(
    points: np.ndarray,
    size: int = 384,
    extent: Extent | None = None,
    reference: np.ndarray | None = None,
    field: np.ndarray | None = None,
) -> np.ndarray:
    """A 2-D snapshot as an RGB image: D's field behind, real points grey, generated blue."""
    from PIL import ImageDraw

    if extent is None:
        every = [p for p in (points, reference) if p is not None and len(p)]
        half = max(float(np.abs(np.concatenate(every)).max()) * 1.1 if every else 1.0, 1.0)
        extent = (-half, half, -half, half)
    if field is not None:
        image = Image.fromarray(_field_colours(field)).resize((size, size), Image.BILINEAR)
    else:
        image = Image.new("RGB", (size, size), (250, 250, 250))
    draw = ImageDraw.Draw(image)

    def plot(p: np.ndarray, colour: tuple[int, int, int]) -> None:
        for x, y in to_pixels(p, extent, size):
            if 0 <= x < size and 0 <= y < size:
                draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), colour)

    if reference is not None:
        plot(reference, (120, 120, 120))
    plot(points, (31, 119, 180))
    return np.asarray(image)


def _field_colours(field: np.ndarray) -> np.ndarray:
    """D's output → pale red (fake) … white … pale green (real), centred on its midpoint."""
    f = np.asarray(field, np.float64)
    lo, hi = np.nanmin(f), np.nanmax(f)
    mid = 0.5 if lo >= 0 and hi <= 1 else (lo + hi) / 2
    span = max(hi - mid, mid - lo, 1e-6)
    t = np.clip((f - mid) / span, -1, 1)[..., None]
    white = np.array([250.0, 250.0, 250.0])
    real, fake = np.array([200.0, 235.0, 205.0]), np.array([245.0, 205.0, 205.0])
    rgb = np.where(t >= 0, white + t * (real - white), white - t * (fake - white))
    return rgb.astype(np.uint8)
