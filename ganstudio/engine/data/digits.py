"""Handwriting-like digits 0–9 in the style of MNIST, drawn procedurally.

Each digit is a few pen strokes: Catmull-Rom splines through control points in a unit box
(x to the right, y down), with two or three styles for most digits. Every sample jitters the
control points, bends the glyph with a smooth random warp, stretches, slants and rotates it,
fits it in a 20 x 20 box centred by its centre of mass as MNIST does, and draws it with a
Gaussian pen. A Gaussian dab is separable in x and y, so the ink of a whole image is one small
matrix product and no pixel ever loops over strokes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torch
import torch.nn.functional as F

from ganstudio.engine.errors import ConfigError

CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
SIZE = 28

_CHUNK = 2000  # images drawn at once; bounds memory to a few tens of MB
# Glyph units between pen dabs. A unit is drawn at most ~18 px, so dabs are at most ~1.5 times
# the narrowest pen's sigma apart, close enough that a row of them inks evenly (ripple < 1e-3).
_DAB_SPACING = 0.04
_INK_RAMP = (0.18, 0.72)  # normalised ink at which a pixel starts to show and turns fully white


@dataclass(frozen=True)
class _Stroke:
    points: tuple[tuple[float, float], ...]
    closed: bool = False


def _line(*points: tuple[float, float]) -> _Stroke:
    return _Stroke(points)


def _loop(*points: tuple[float, float]) -> _Stroke:
    return _Stroke(points, closed=True)


# Strokes that share a control point (same coordinates) stay joined under jitter. The table
# is laid out by hand, a few points to a line, so that each glyph reads at a glance.
# fmt: off
_GLYPHS: dict[int, tuple[tuple[_Stroke, ...], ...]] = {
    0: (
        (
            _loop((0.5, 0.0), (0.22, 0.17), (0.15, 0.55), (0.3, 0.92),
                  (0.55, 1.0), (0.8, 0.8), (0.84, 0.4), (0.72, 0.1)),
        ),
        (
            _line((0.62, 0.03), (0.35, 0.06), (0.18, 0.42), (0.25, 0.86), (0.5, 1.0),
                  (0.78, 0.84), (0.84, 0.42), (0.7, 0.08), (0.48, 0.0), (0.36, 0.1)),
        ),
    ),
    1: (
        (_line((0.52, 0.0), (0.5, 0.5), (0.47, 1.0)),),
        (
            _line((0.33, 0.22), (0.44, 0.11), (0.53, 0.0)),
            _line((0.53, 0.0), (0.51, 0.5), (0.49, 1.0)),
        ),
        (
            _line((0.33, 0.21), (0.44, 0.1), (0.53, 0.0)),
            _line((0.53, 0.0), (0.51, 0.5), (0.49, 0.97)),
            _line((0.26, 0.98), (0.49, 0.97), (0.72, 0.96)),
        ),
    ),
    2: (
        (
            _line((0.16, 0.24), (0.38, 0.03), (0.66, 0.04), (0.8, 0.28),
                  (0.66, 0.53), (0.4, 0.76), (0.14, 0.99)),
            _line((0.14, 0.99), (0.5, 0.96), (0.88, 0.98)),
        ),
        (  # with a loop at the bottom left
            _line((0.16, 0.24), (0.38, 0.03), (0.66, 0.04), (0.8, 0.28), (0.66, 0.53),
                  (0.44, 0.66), (0.1, 0.78), (0.13, 0.95), (0.33, 1.0), (0.52, 0.89),
                  (0.48, 0.72), (0.27, 0.66), (0.11, 0.8), (0.18, 0.97), (0.5, 0.99),
                  (0.9, 0.96)),
        ),
    ),
    3: (
        (
            _line((0.18, 0.15), (0.45, 0.01), (0.74, 0.12), (0.72, 0.35), (0.42, 0.48)),
            _line((0.42, 0.48), (0.76, 0.6), (0.8, 0.83), (0.55, 1.0), (0.16, 0.9)),
        ),
        (  # flat top
            _line((0.2, 0.02), (0.8, 0.02)),
            _line((0.8, 0.02), (0.62, 0.22), (0.44, 0.42)),
            _line((0.44, 0.42), (0.76, 0.55), (0.8, 0.8), (0.55, 1.0), (0.16, 0.9)),
        ),
    ),
    4: (
        (  # closed
            _line((0.64, 0.0), (0.12, 0.68)),
            _line((0.12, 0.68), (0.88, 0.67)),
            _line((0.64, 0.0), (0.64, 0.5), (0.63, 1.0)),
        ),
        (  # open
            _line((0.22, 0.0), (0.18, 0.32), (0.15, 0.62)),
            _line((0.15, 0.62), (0.5, 0.61), (0.86, 0.58)),
            _line((0.68, 0.12), (0.67, 0.55), (0.66, 1.0)),
        ),
    ),
    5: (
        (
            _line((0.82, 0.02), (0.3, 0.02)),
            _line((0.3, 0.02), (0.25, 0.45)),
            _line((0.25, 0.45), (0.52, 0.38), (0.79, 0.53), (0.8, 0.8), (0.55, 0.99),
                  (0.18, 0.9)),
        ),
        (
            _line((0.34, 0.0), (0.3, 0.22), (0.26, 0.42)),
            _line((0.26, 0.42), (0.5, 0.35), (0.78, 0.48), (0.82, 0.76), (0.6, 0.98),
                  (0.2, 0.94)),
            _line((0.34, 0.0), (0.6, 0.0), (0.84, 0.04)),
        ),
    ),
    6: (
        (
            _line((0.72, 0.02), (0.45, 0.12), (0.25, 0.42), (0.2, 0.75), (0.42, 1.0),
                  (0.72, 0.88), (0.75, 0.62), (0.5, 0.5), (0.24, 0.64)),
        ),
        (
            _line((0.64, 0.0), (0.42, 0.25), (0.26, 0.52), (0.22, 0.8), (0.45, 1.0),
                  (0.72, 0.88), (0.72, 0.64), (0.48, 0.54), (0.24, 0.7)),
        ),
    ),
    7: (
        (
            _line((0.14, 0.03), (0.5, 0.02), (0.86, 0.03)),
            _line((0.86, 0.03), (0.62, 0.48), (0.42, 1.0)),
        ),
        (  # crossed
            _line((0.14, 0.03), (0.5, 0.02), (0.86, 0.03)),
            _line((0.86, 0.03), (0.62, 0.48), (0.42, 1.0)),
            _line((0.36, 0.52), (0.6, 0.5), (0.84, 0.49)),
        ),
        (  # with a serif at the top left
            _line((0.16, 0.17), (0.17, 0.02)),
            _line((0.17, 0.02), (0.5, 0.04), (0.84, 0.02)),
            _line((0.84, 0.02), (0.66, 0.4), (0.5, 1.0)),
        ),
    ),
    8: (
        (  # one figure-of-eight stroke
            _loop((0.5, 0.5), (0.72, 0.33), (0.7, 0.1), (0.5, 0.01), (0.3, 0.1), (0.28, 0.33),
                  (0.5, 0.5), (0.76, 0.68), (0.74, 0.92), (0.5, 1.0), (0.26, 0.92), (0.24, 0.68)),
        ),
        (  # two stacked loops
            _loop((0.5, 0.02), (0.3, 0.13), (0.32, 0.36), (0.5, 0.46), (0.68, 0.36), (0.7, 0.13)),
            _loop((0.5, 0.46), (0.24, 0.6), (0.22, 0.86), (0.5, 1.0), (0.78, 0.86), (0.76, 0.6)),
        ),
    ),
    9: (
        (  # straight tail
            _line((0.75, 0.2), (0.5, 0.02), (0.25, 0.15), (0.22, 0.38),
                  (0.45, 0.52), (0.72, 0.4), (0.75, 0.2)),
            _line((0.75, 0.2), (0.72, 0.6), (0.68, 1.0)),
        ),
        (  # curved tail
            _loop((0.5, 0.02), (0.25, 0.15), (0.24, 0.38), (0.48, 0.5), (0.72, 0.38), (0.74, 0.15)),
            _line((0.74, 0.15), (0.75, 0.6), (0.62, 0.94), (0.34, 0.98)),
        ),
    ),
}
# fmt: on


@dataclass(frozen=True)
class _GlyphTable:
    """Every glyph style as tensors padded to a common size, so a batch can mix them."""

    samples: torch.Tensor  # (styles, dabs, controls): control points -> dab positions
    controls: torch.Tensor  # (styles, controls, 2)
    linked: torch.Tensor  # (styles, dabs - 1): 1 where dab i and i + 1 lie on one stroke
    drawn: torch.Tensor  # (styles, dabs): False for the padding after a style's last dab
    first_style: torch.Tensor  # (10,) index of each digit's first style
    style_count: torch.Tensor  # (10,)


def _spline_matrix(points: torch.Tensor, closed: bool) -> torch.Tensor:
    """Uniform Catmull-Rom weights (samples, controls) from a stroke's control points to dabs.

    The dabs lie about `_DAB_SPACING` apart: each span gets a share in proportion to its chord.
    """
    eye = torch.eye(len(points), dtype=torch.float64)
    if closed:
        # A loop's spans take their neighbours from across the seam.
        extend = torch.cat([eye[-1:], eye, eye[:2]])
        ends = torch.cat([points, points[:1]])
    else:
        # An open stroke's missing neighbours are its end points mirrored, which keeps the
        # stroke running straight on into its ends.
        extend = torch.cat([2 * eye[:1] - eye[1:2], eye, 2 * eye[-1:] - eye[-2:-1]])
        ends = points
    chords = (ends[1:] - ends[:-1]).norm(dim=1)
    reached = torch.cat([torch.zeros(1, dtype=torch.float64), chords.cumsum(0)])
    # Curves run about 15% longer than the polygon through their control points.
    n_samples = max(2, math.ceil(1.15 * float(reached[-1]) / _DAB_SPACING) + 1)
    along = torch.linspace(0.0, float(reached[-1]), n_samples, dtype=torch.float64)
    span = (torch.searchsorted(reached, along, right=True) - 1).clamp(0, len(chords) - 1)
    t = ((along - reached[span]) / chords[span]).clamp(0, 1)[:, None]
    # Weights of the span's four neighbours, from the one before its start to the one after
    # its end; in `extend`, control point i sits at row i + 1.
    basis = 0.5 * torch.cat(
        [-(t**3) + 2 * t**2 - t, 3 * t**3 - 5 * t**2 + 2, -3 * t**3 + 4 * t**2 + t, t**3 - t**2],
        dim=1,
    )
    weights = torch.zeros(n_samples, len(extend), dtype=torch.float64)
    weights.scatter_(1, span[:, None] + torch.arange(4), basis)
    return weights @ extend


@cache
def _glyph_table() -> _GlyphTable:
    styles = []  # per style: (sample matrix, unique control points, linked flags)
    for digit in range(10):
        for strokes in _GLYPHS[digit]:
            unique: list[tuple[float, float]] = []
            for stroke in strokes:
                unique.extend(p for p in stroke.points if p not in unique)
            blocks, linked = [], []
            for stroke in strokes:
                local = _spline_matrix(
                    torch.tensor(stroke.points, dtype=torch.float64), stroke.closed
                )
                block = torch.zeros(len(local), len(unique), dtype=torch.float64)
                for column, point in enumerate(stroke.points):
                    block[:, unique.index(point)] += local[:, column]
                blocks.append(block)
                linked.append(torch.cat([torch.ones(len(local) - 1), torch.zeros(1)]))
            styles.append((torch.cat(blocks), torch.tensor(unique), torch.cat(linked)[:-1]))

    n_styles = len(styles)
    n_dabs = max(s[0].shape[0] for s in styles)
    n_controls = max(s[1].shape[0] for s in styles)
    samples = torch.zeros(n_styles, n_dabs, n_controls)
    controls = torch.zeros(n_styles, n_controls, 2)
    linked = torch.zeros(n_styles, n_dabs - 1)
    drawn = torch.zeros(n_styles, n_dabs, dtype=torch.bool)
    for i, (matrix, points, links) in enumerate(styles):
        samples[i, : matrix.shape[0], : matrix.shape[1]] = matrix.float()
        controls[i, : points.shape[0]] = points.float()
        linked[i, : links.shape[0]] = links
        drawn[i, : matrix.shape[0]] = True
    counts = torch.tensor([len(_GLYPHS[d]) for d in range(10)])
    first = torch.cumsum(counts, 0) - counts
    return _GlyphTable(samples, controls, linked, drawn, first, counts)


def _dab_positions(
    table: _GlyphTable, style: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pen dab positions in pixels (B, dabs, 2) and the ink each one lays down (B, dabs)."""
    b = style.shape[0]
    jitter = torch.randn(b, table.controls.shape[1], 2, generator=gen).clamp(-2.5, 2.5)
    controls = table.controls[style] + 0.022 * jitter
    points = torch.bmm(table.samples[style], controls)  # (B, dabs, 2) in glyph units

    # A smooth warp from two random waves: loops swell and shrink, strokes bow a little.
    waves = 2
    heading = torch.empty(b, waves).uniform_(0.0, 2 * math.pi, generator=gen)
    frequency = torch.empty(b, waves, 1).uniform_(0.3, 1.5, generator=gen) * torch.stack(
        [torch.cos(heading), torch.sin(heading)], dim=-1
    )
    phase = torch.empty(b, waves, 1).uniform_(0.0, 2 * math.pi, generator=gen)
    amplitude = torch.empty(b, waves, 2).uniform_(-0.04, 0.04, generator=gen)
    angle = 2 * math.pi * torch.einsum("bpc,bwc->bwp", points, frequency) + phase
    points = points + torch.einsum("bwp,bwc->bpc", torch.sin(angle), amplitude)

    # Stretch, slant (tops lean right more often than left, as in MNIST) and rotate.
    points = points - 0.5
    aspect = torch.exp(torch.empty(b).uniform_(-0.35, 0.2, generator=gen))
    slant = torch.empty(b).uniform_(-0.12, 0.5, generator=gen)
    turn = torch.empty(b).uniform_(-0.18, 0.18, generator=gen)
    x = points[..., 0] * aspect[:, None] - slant[:, None] * points[..., 1]
    y = points[..., 1]
    cos, sin = torch.cos(turn)[:, None], torch.sin(turn)[:, None]
    points = torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)

    # Fit the pen's centre line in a 13.5-17.5 px box (the pen adds ~3 px, so the ink fills
    # up to 20 x 20), then move the centre of mass to the image centre, give or take a pixel.
    drawn = table.drawn[style][..., None]
    low = torch.where(drawn, points, torch.inf).amin(dim=1)
    high = torch.where(drawn, points, -torch.inf).amax(dim=1)
    box = torch.empty(b).uniform_(13.5, 17.5, generator=gen)
    points = points * (box / (high - low).amax(dim=1))[:, None, None]

    segment = (points[:, 1:] - points[:, :-1]).norm(dim=-1) * table.linked[style]
    # Each dab carries half of each segment it ends, so ink per length is even along a stroke.
    ink = 0.5 * (F.pad(segment, (1, 0)) + F.pad(segment, (0, 1)))
    # The pen presses a little harder and lighter along the way, which swells and thins the line.
    pressure = 1 + 0.12 * torch.sin(
        torch.empty(b, 1).uniform_(2.0, 6.0, generator=gen) * torch.linspace(0, 1, points.shape[1])
        + torch.empty(b, 1).uniform_(0.0, 2 * math.pi, generator=gen)
    )
    ink = ink * pressure
    centre = (points * ink[..., None]).sum(dim=1) / ink.sum(dim=1, keepdim=True)
    offset = torch.empty(b, 2).uniform_(-1.0, 1.0, generator=gen)
    points = points - centre[:, None] + (SIZE / 2 + offset)[:, None]
    return points, ink


def _draw(points: torch.Tensor, ink: torch.Tensor, pen_sigma: torch.Tensor) -> torch.Tensor:
    """Draw the dabs with a Gaussian pen of `pen_sigma` (B,) px: (B, SIZE, SIZE) in [0, 1]."""
    centres = torch.arange(SIZE, dtype=torch.float32) + 0.5
    # In place: these (B, dabs, SIZE) tensors are where the time goes.
    minus_inv_two_var = (-0.5 / pen_sigma**2)[:, None, None]
    gx = (centres - points[..., 0:1]).square_().mul_(minus_inv_two_var).exp_()
    gy = (centres - points[..., 1:2]).square_().mul_(minus_inv_two_var).exp_()
    density = torch.bmm(gy.mul_(ink[..., None]).transpose(1, 2), gx)
    # Scaled so that the middle of a long straight stroke gets 1 whatever the pen's width.
    density = density / (math.sqrt(2 * math.pi) * pen_sigma)[:, None, None]
    low, high = _INK_RAMP
    level = ((density - low) / (high - low)).clamp(0, 1)
    return level * level * (3 - 2 * level)


def build_digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` handwriting-like digits: uint8 images (n, 1, 28, 28), white on black, and int64 labels.

    The classes are balanced and shuffled. The same `seed` always gives the same tensors.
    """
    if n < 0:
        raise ConfigError(f"The number of digit images must be 0 or more, not {n}.")
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % len(CLASSES))[torch.randperm(n, generator=gen)]
    table = _glyph_table()
    images = torch.empty(n, 1, SIZE, SIZE, dtype=torch.uint8)
    for start in range(0, n, _CHUNK):
        label = labels[start : start + _CHUNK]
        pick = torch.rand(label.shape, generator=gen)
        style = table.first_style[label] + (pick * table.style_count[label]).long()
        points, ink = _dab_positions(table, style, gen)
        pen_sigma = torch.empty(label.shape).uniform_(0.6, 1.05, generator=gen)
        level = _draw(points, ink, pen_sigma)
        images[start : start + _CHUNK, 0] = (level * 255).round().to(torch.uint8)
    return images, labels
