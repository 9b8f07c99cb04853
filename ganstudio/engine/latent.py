"""Latent-space maths: sampling, truncation, interpolation, walks, planes and directions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor


def sample_latents(n: int, z_dim: int, seed: int) -> Tensor:
    """``n`` standard-normal latents, the same for the same seed on every machine."""
    g = torch.Generator().manual_seed(int(seed) % (2**63))
    return torch.randn(n, z_dim, generator=g)


def truncate(z: Tensor, mean: Tensor, psi: float) -> Tensor:
    """The truncation trick: move latents towards ``mean`` (psi 1: unchanged, 0: the mean)."""
    return mean + psi * (z - mean)


def lerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Straight-line interpolation; ``t`` of shape (n,) gives n points."""
    t = _as_column(t, a)
    return a + (b - a) * t


def slerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Spherical interpolation (Shoemake; White, 2016, for GAN latents).

    Follows the great circle between the directions of ``a`` and ``b`` while interpolating
    their norms, so that intermediate latents keep a typical norm for a Gaussian rather
    than shrinking towards the origin as a straight line does. Falls back to ``lerp`` for
    (anti)parallel vectors, where the circle is not unique.
    """
    t = _as_column(t, a)
    a_unit, b_unit = a / a.norm(), b / b.norm()
    cos = torch.clamp((a_unit * b_unit).sum(), -1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    if sin.abs() < 1e-6:
        return lerp(a, b, t)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin


def _as_column(t: Tensor | float, like: Tensor) -> Tensor:
    t = torch.as_tensor(t, dtype=like.dtype)
    return t.reshape(-1, 1) if t.dim() else t


def interpolate(keyframes: Tensor, frames: int, method: str = "slerp") -> Tensor:
    """``frames`` latents along the path through ``keyframes`` (K, z), ends included.

    Frames are spread evenly over the K - 1 segments (by segment count, not length), so
    each keyframe is hit exactly when the frame count allows it.
    """
    if keyframes.dim() < 2 or keyframes.shape[0] < 2:
        raise ValueError("interpolation needs at least two keyframes")
    if frames < 2:
        raise ValueError("interpolation needs at least two frames")
    if method not in ("lerp", "slerp"):
        raise ValueError(f"unknown interpolation {method!r}; use lerp or slerp")
    segments = keyframes.shape[0] - 1
    position = torch.linspace(0, segments, frames, dtype=torch.float64)
    index = position.floor().long().clamp(max=segments - 1)
    t = (position - index).to(keyframes.dtype)
    step = slerp if method == "slerp" else lerp
    flat = keyframes.reshape(keyframes.shape[0], -1)  # per-layer latents interpolate as one
    out = torch.empty(frames, flat.shape[1], dtype=keyframes.dtype)
    for s in range(segments):
        mask = index == s
        if mask.any():
            out[mask] = step(flat[s], flat[s + 1], t[mask])
    return out.reshape(frames, *keyframes.shape[1:])


def walk(z: Tensor, direction: Tensor, frames: int, extent: float) -> Tensor:
    """Latents from ``z - extent·d`` to ``z + extent·d``: a walk along one direction.

    ``z`` may be one latent (dim,) or per-layer latents (num_ws, dim); ``direction`` either
    shape, broadcast against ``z``. The result is (frames, *z.shape).
    """
    amounts = torch.linspace(-extent, extent, frames, dtype=z.dtype)
    return z + amounts.reshape(-1, *[1] * z.dim()) * direction


def plane(z: Tensor, d1: Tensor, d2: Tensor, extent: float, size: int) -> Tensor:
    """A ``size`` × ``size`` grid of latents spanning ``d1`` (columns) and ``d2`` (rows),
    row by row: (size², *z.shape), for one latent or per-layer latents as :func:`walk`."""
    steps = torch.linspace(-extent, extent, size, dtype=z.dtype)
    rows = steps.flip(0)  # the top row is +extent along d2, as on a chart
    ones = [1] * z.dim()
    out = z + rows.reshape(-1, 1, *ones) * d2 + steps.reshape(1, -1, *ones) * d1
    return out.reshape(size * size, *z.shape)


def layered(direction: Tensor, num_ws: int, layers: tuple[int, int] | None) -> Tensor:
    """A direction (dim,) as per-layer latents (num_ws, dim) that move only the style inputs
    ``layers`` = (first, stop), as GANSpace edits a range of layers; all when None."""
    first, stop = layers if layers is not None else (0, num_ws)
    out = torch.zeros(num_ws, direction.shape[-1], dtype=direction.dtype)
    out[first:stop] = direction
    return out


def mix_styles(ws: Tensor, other: Tensor, inputs) -> Tensor:
    """Style mixing: per-layer latents ``ws`` (…, num_ws, dim) with the style inputs listed in
    ``inputs`` taken from ``other`` (the same shape)."""
    out = ws.clone()
    index = sorted(inputs)
    if index:
        out[..., index, :] = other[..., index, :]
    return out


def arithmetic(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Vector arithmetic on latents (Radford et al., 2015): A − B + C."""
    return a - b + c


@dataclass
class Directions:
    """Latent directions found by PCA, strongest first."""

    vectors: Tensor  # (k, dim), each of unit length
    explained: Tensor  # (k,) the share of the feature variance each component explains
    latent_r2: Tensor  # (k,) how much of each component the latents explain linearly (R²)
    feature_dim: int
    samples: int


def pca_directions(
    features: Callable[[slice], Tensor],
    latents: Tensor,
    k: int = 10,
    batch: int = 1000,
    progress: Callable[[float], None] | None = None,
) -> Directions:
    """Interpretable directions the GANSpace way (Härkönen et al., 2020).

    1. Run the ``latents`` (n, dim) through the generator up to an early layer:
       ``features(rows) → (len(rows), F)`` for a slice of them.
    2. PCA of those activations.
    3. Map the components back to latent space: regress the latents on the PCA coordinates
       (least squares), so that direction i is the latent change that moves component i.

    For a StyleGAN, ``features`` returns w itself and the directions are W's components.
    ``latent_r2`` says how well each component is explained by the latents: a direction
    is only meaningful where it is high.
    """
    n_samples = latents.shape[0]
    chunks = []
    for start in range(0, n_samples, batch):
        with torch.no_grad():
            chunks.append(features(slice(start, start + batch)).flatten(1).float())
        if progress is not None:
            progress(0.8 * min(1.0, (start + batch) / n_samples))
    x = torch.cat(chunks)
    latents = latents.reshape(n_samples, -1).float()
    k = min(k, latents.shape[1], x.shape[1], n_samples - 1)
    mean = x.mean(dim=0, keepdim=True)
    centred = x - mean
    # randomized PCA: exact enough for the leading components, and fast for wide layers
    _, s, v = torch.pca_lowrank(centred, q=min(k + 10, min(centred.shape)), center=False,
                                niter=4)
    components = v[:, :k]  # (F, k)
    coords = centred @ components  # (n, k)
    total = centred.square().sum() / (n_samples - 1)
    explained = (s[:k].square() / (n_samples - 1)) / total
    solution = torch.linalg.lstsq(coords, latents).solution  # (k, dim): z ≈ coords @ solution
    vectors = solution / solution.norm(dim=1, keepdim=True).clamp_min(1e-12)
    lat = latents - latents.mean(dim=0, keepdim=True)
    fitted = lat @ torch.linalg.lstsq(lat, coords).solution  # coords predicted from latents
    r2 = 1 - (coords - fitted).square().sum(0) / coords.square().sum(0).clamp_min(1e-12)
    if progress is not None:
        progress(1.0)
    return Directions(vectors, explained, r2, x.shape[1], n_samples)
