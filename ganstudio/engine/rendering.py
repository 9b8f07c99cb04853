"""Turning latents into pictures: sample images, grids, strips, 2-D scatters, and exports.

Everything returns C-contiguous uint8 arrays of shape (H, W, C), ready for the screen or a
file; exports write PNG, animated GIF and animated WebP with Pillow.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ganstudio.engine.atomic import atomic_write_bytes
from ganstudio.engine.images import make_grid
from ganstudio.engine.view2d import Extent, to_pixels

SCATTER_SIZE = 420
POINT_COLOURS = [
    (76, 154, 255), (255, 159, 67), (62, 207, 142), (255, 107, 107), (178, 141, 255),
    (247, 209, 84), (86, 204, 242), (240, 98, 146), (160, 174, 192), (129, 199, 132),
]


def scatter(
    background: np.ndarray,
    extent: Extent,
    marks: Sequence[tuple[np.ndarray, tuple[int, int, int], float]] = (),
    lines: Sequence[tuple[np.ndarray, tuple[int, int, int]]] = (),
    size: int = SCATTER_SIZE,
) -> np.ndarray:
    """A 2-D picture: grey background points, then coloured marks (points, colour, radius)
    and polylines, in a square view of ``extent`` (x0, x1, y0, y1)."""
    image = Image.new("RGB", (size, size), (27, 29, 33))
    draw = ImageDraw.Draw(image)

    def pixels(p: np.ndarray) -> np.ndarray:
        return to_pixels(p, extent, size)

    for x, y in pixels(background):
        draw.point((x, y), fill=(110, 116, 126))
    for points, colour in lines:
        xy = [tuple(p) for p in pixels(points)]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
    for points, colour, radius in marks:
        for x, y in pixels(points):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour,
                         outline=(250, 250, 250) if radius >= 5 else None)
    return np.ascontiguousarray(np.asarray(image))


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Crisp (nearest-neighbour) enlargement for exports of small samples."""
    if factor <= 1:
        return image
    return np.ascontiguousarray(image.repeat(factor, axis=0).repeat(factor, axis=1))


def strip(images: np.ndarray, pad: int = 2) -> np.ndarray:
    """(N, H, W, C) → one row."""
    return make_grid(images, nrow=len(images), pad=pad)


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)


ANIMATION_FORMATS = {".gif": "GIF", ".webp": "WEBP"}


def save_animation(path: str | Path, frames: Sequence[np.ndarray], fps: float = 12.0,
                   bounce: bool = False, *, replace: bool = False) -> Path:
    """An endlessly looping GIF or WebP (chosen by the suffix); ``bounce`` plays it back too."""
    path = Path(path)
    kind = ANIMATION_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path.name}: animations are saved as .gif or .webp")
    if len(frames) < 2:
        raise ValueError("an animation needs at least two frames")
    sequence = list(frames) + (list(frames[-2:0:-1]) if bounce else [])
    images = [_pil(f) for f in sequence]
    if kind == "GIF":
        images = [im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                             dither=Image.Dither.NONE) for im in images]
    else:
        images = [im.convert("RGB") for im in images]
    buffer = io.BytesIO()
    options = {"lossless": True} if kind == "WEBP" else {"disposal": 2}
    images[0].save(buffer, format=kind, save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0, **options)
    return atomic_write_bytes(path, buffer.getvalue(), replace=replace)
