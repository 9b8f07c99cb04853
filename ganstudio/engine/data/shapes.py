"""Coloured shapes on varied backgrounds: a small RGB dataset, drawn procedurally.

Each image holds one shape with a random centre, size, rotation and colour, on a solid,
gradient or softly textured background whose brightness is kept well apart from the shape's.
Edges are anti-aliased from signed distances: a pixel is covered by how far its centre lies
inside the outline, in pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ganstudio.engine.errors import ConfigError

CLASSES = ("circle", "square", "triangle", "star", "hexagon", "heart")
SIZE = 32

_CHUNK = 2000  # images drawn at once; bounds memory to a few tens of MB
_MIN_CONTRAST = 0.3  # between the luma of the shape and of its background, on a 0..1 scale
_LUMA = torch.tensor([0.299, 0.587, 0.114])


# Signed distances in shape units (negative inside), for shapes of radius about 1 centred on 0,
# with y pointing down. The formulas follow Inigo Quilez's 2-D distance functions.


def _circle(p: torch.Tensor) -> torch.Tensor:
    return p.norm(dim=-1) - 0.82


def _square(p: torch.Tensor) -> torch.Tensor:
    q = p.abs() - 0.72
    return q.clamp(min=0).norm(dim=-1) + q.amax(dim=-1).clamp(max=0)


def _triangle(p: torch.Tensor) -> torch.Tensor:
    k = math.sqrt(3)
    half_side = 0.95  # circumradius 1.1, centred on its centroid
    x = p[..., 0].abs() - half_side
    y = -p[..., 1] + half_side / k
    fold = x + k * y > 0
    x, y = torch.where(fold, (x - k * y) / 2, x), torch.where(fold, (-k * x - y) / 2, y)
    x = x - x.clamp(-2 * half_side, 0)
    return -torch.hypot(x, y) * torch.sign(y)


def _star(p: torch.Tensor) -> torch.Tensor:
    outer, inner_ratio = 1.08, 0.5
    k1 = torch.tensor([0.809016994375, -0.587785252292])
    k2 = torch.tensor([-0.809016994375, -0.587785252292])
    p = torch.stack([p[..., 0].abs(), -p[..., 1]], dim=-1)  # point up
    p = p - 2 * (p @ k1).clamp(min=0)[..., None] * k1
    p = p - 2 * (p @ k2).clamp(min=0)[..., None] * k2
    p = torch.stack([p[..., 0].abs(), p[..., 1] - outer], dim=-1)
    ba = inner_ratio * torch.tensor([0.587785252292, 0.809016994375]) - torch.tensor([0.0, 1.0])
    h = ((p @ ba) / (ba @ ba)).clamp(0, outer)
    side = torch.sign(p[..., 1] * ba[0] - p[..., 0] * ba[1])
    return (p - h[..., None] * ba).norm(dim=-1) * side


def _hexagon(p: torch.Tensor) -> torch.Tensor:
    apothem = 0.8
    k = torch.tensor([-0.866025404, 0.5])
    p = p.abs()
    p = p - 2 * (p @ k).clamp(max=0)[..., None] * k
    limit = 0.577350269 * apothem
    x = p[..., 0] - p[..., 0].clamp(-limit, limit)
    y = p[..., 1] - apothem
    return torch.hypot(x, y) * torch.sign(y)


def _heart(p: torch.Tensor) -> torch.Tensor:
    # Quilez's heart points its tip at the origin, y up, and is 1.1 tall: scale and centre it.
    scale = 1.58
    x = p[..., 0].abs() / scale
    y = 0.52 - p[..., 1] / scale
    lobe = torch.hypot(x - 0.25, y - 0.75) - math.sqrt(2) / 4
    to_top = x**2 + (y - 1) ** 2
    along = 0.5 * (x + y).clamp(min=0)
    to_axis = (x - along) ** 2 + (y - along) ** 2
    body = torch.sqrt(torch.minimum(to_top, to_axis)) * torch.sign(x - y)
    return torch.where(x + y > 1, lobe, body) * scale


# Each class's outline, and its largest rotation either way: a circle has nothing to turn, a
# heart reads best about upright, and the polygons may take any angle.
_OUTLINES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], float]] = {
    "circle": (_circle, 0.0),
    "square": (_square, math.pi),
    "triangle": (_triangle, math.pi),
    "star": (_star, math.pi),
    "hexagon": (_hexagon, math.pi),
    "heart": (_heart, 0.6),
}
_MAX_TURN = torch.tensor([_OUTLINES[name][1] for name in CLASSES])
_EXTENT = 1.1  # every shape fits in this radius, in shape units


def _hsv_colours(
    b: int, saturation: tuple[float, float], value: tuple[float, float], gen: torch.Generator
) -> torch.Tensor:
    """`b` random RGB colours (b, 3) in [0, 1] with uniform hue."""
    h = torch.rand(b, 1, generator=gen)
    s = torch.empty(b, 1).uniform_(*saturation, generator=gen)
    v = torch.empty(b, 1).uniform_(*value, generator=gen)
    k = (torch.tensor([5.0, 3.0, 1.0]) + 6 * h) % 6
    return v - v * s * torch.minimum(k, 4 - k).clamp(0, 1)


def _away_from(colour: torch.Tensor, luma: torch.Tensor) -> torch.Tensor:
    """Blend `colour` (b, 3) towards black or white until its luma is far enough from `luma`."""
    own = colour @ _LUMA
    to_black = luma >= 0.5
    darken = (1 - (luma - _MIN_CONTRAST) / own.clamp(min=1e-6)).clamp(0, 1)
    lighten = ((luma + _MIN_CONTRAST - own) / (1 - own).clamp(min=1e-6)).clamp(0, 1)
    amount = torch.where(to_black, darken, lighten)[:, None]
    target = torch.where(to_black, 0.0, 1.0)[:, None]
    return colour + amount * (target - colour)


def _backgrounds(shape_luma: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Solid, gradient or textured backgrounds (b, 3, SIZE, SIZE) that the shapes stand out on."""
    b = shape_luma.shape[0]
    start = _away_from(_hsv_colours(b, (0.0, 0.8), (0.05, 1.0), gen), shape_luma)
    end = _away_from(_hsv_colours(b, (0.0, 0.8), (0.05, 1.0), gen), shape_luma)
    # A third of the backgrounds are solid: their gradient ends in the colour it starts from.
    solid = torch.rand(b, 1, generator=gen) < 1 / 3
    end = torch.where(solid, start, end)

    heading = torch.empty(b).uniform_(0.0, 2 * math.pi, generator=gen)
    axis = torch.linspace(-1, 1, SIZE)
    along = (
        torch.cos(heading)[:, None, None] * axis + torch.sin(heading)[:, None, None] * axis[:, None]
    )
    along = (along / math.sqrt(2) + 1) / 2  # (b, SIZE, SIZE) in [0, 1]
    image = start[:, :, None, None] + (end - start)[:, :, None, None] * along[:, None]

    # Soft texture: coarse noise, smoothly enlarged, on half of the backgrounds. Its strength
    # stays below the contrast margin, so the shape still stands out.
    coarse = torch.randn(b, 1, 5, 5, generator=gen)
    texture = torch.nn.functional.interpolate(
        coarse, size=(SIZE, SIZE), mode="bicubic", align_corners=True
    )
    strength = torch.empty(b, 1, 1, 1).uniform_(0.0, 0.08, generator=gen) * (
        torch.rand(b, 1, 1, 1, generator=gen) < 0.5
    )
    return (image + strength * texture).clamp(0, 1)


def _coverage(label: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """How much of each pixel the shape covers: (b, SIZE, SIZE) in [0, 1]."""
    b = label.shape[0]
    radius = torch.empty(b).uniform_(7.0, 11.0, generator=gen)  # pixels per shape unit
    reach = _EXTENT * radius + 1  # keep the whole shape and its soft edge inside the image
    centre = reach[:, None] + torch.rand(b, 2, generator=gen) * (SIZE - 2 * reach)[:, None]
    turn = torch.empty(b).uniform_(-1.0, 1.0, generator=gen) * _MAX_TURN[label]

    pixel = torch.arange(SIZE, dtype=torch.float32) + 0.5
    grid = torch.stack(torch.meshgrid(pixel, pixel, indexing="xy"), dim=-1)  # (SIZE, SIZE, 2)
    offset = grid - centre[:, None, None]
    cos, sin = torch.cos(turn)[:, None, None], torch.sin(turn)[:, None, None]
    local = (
        torch.stack(
            [
                cos * offset[..., 0] + sin * offset[..., 1],
                -sin * offset[..., 0] + cos * offset[..., 1],
            ],
            dim=-1,
        )
        / radius[:, None, None, None]
    )

    distance = torch.empty(b, SIZE, SIZE)
    for index, name in enumerate(CLASSES):
        chosen = label == index
        signed_distance, _ = _OUTLINES[name]
        distance[chosen] = signed_distance(local[chosen])
    return (0.5 - distance * radius[:, None, None]).clamp(0, 1)


def build_shapes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images of one coloured shape each: uint8 RGB (n, 3, 32, 32) and int64 labels.

    The classes, named in CLASSES, are balanced and shuffled. The same `seed` always gives the
    same tensors.
    """
    if n < 0:
        raise ConfigError(f"The number of shape images must be 0 or more, not {n}.")
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % len(CLASSES))[torch.randperm(n, generator=gen)]
    images = torch.empty(n, 3, SIZE, SIZE, dtype=torch.uint8)
    for start in range(0, n, _CHUNK):
        label = labels[start : start + _CHUNK]
        colour = _hsv_colours(label.shape[0], (0.35, 1.0), (0.3, 1.0), gen)
        background = _backgrounds(colour @ _LUMA, gen)
        cover = _coverage(label, gen)[:, None]
        image = background + cover * (colour[:, :, None, None] - background)
        images[start : start + _CHUNK] = (image * 255).round().to(torch.uint8)
    return images, labels
