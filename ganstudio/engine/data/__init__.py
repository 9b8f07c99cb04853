"""The built-in datasets: a registry of what each one is, and a loader that builds it in memory.

The registry is plain metadata (no torch), so the app can list datasets before torch loads.
Every set is deterministic for its seed and held in memory as tensors: points as float32
(N, 2) coordinates, images as uint8 (N, C, H, W) in 0..255.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ganstudio.engine.errors import DatasetError

if TYPE_CHECKING:
    import torch

DIGIT_CLASSES = tuple(str(d) for d in range(10))
SHAPE_CLASSES = ("circle", "square", "triangle", "star", "hexagon", "heart")


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's name, kind (``points`` or ``images``), per-sample shape and classes."""

    name: str
    kind: str
    shape: tuple[int, ...]
    classes: tuple[str, ...]
    description: str
    size: int | None = None  # None: depends on the user's file

    @property
    def is_image(self) -> bool:
        return self.kind == "images"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "classes": list(self.classes),
        }


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "ring8", "points", (2,), tuple(f"mode {i}" for i in range(8)),
            "8 Gaussians on a circle of radius 2 (std 0.02): the classic mode-collapse test",
            50_000,
        ),
        DatasetInfo(
            "grid25", "points", (2,), tuple(f"mode {i}" for i in range(25)),
            "25 Gaussians on a 5×5 grid at {-4,-2,0,2,4}² (std 0.05): a hard mode-coverage test",
            50_000,
        ),
        DatasetInfo(
            "spiral", "points", (2,), ("arm 1", "arm 2"),
            "Two interleaved spiral arms: a thin curved manifold", 50_000,
        ),
        DatasetInfo(
            "moons", "points", (2,), ("upper", "lower"),
            "Two interleaving half circles", 50_000,
        ),
        DatasetInfo(
            "points", "points", (2,), (),
            "Your own 2-D points from a .csv or .npy file of shape (N, 2)",
        ),
        DatasetInfo(
            "digits", "images", (1, 28, 28), DIGIT_CLASSES,
            "Procedurally drawn handwriting-like digits 0–9, 28×28 grayscale, MNIST-sized",
            60_000,
        ),
        DatasetInfo(
            "shapes", "images", (3, 32, 32), SHAPE_CLASSES,
            "Coloured shapes on varied backgrounds, 32×32 RGB", 20_000,
        ),
    )
}


@dataclass
class Dataset:
    """A dataset in memory. ``modes`` and ``mode_std`` are set for the mode-coverage sets."""

    info: DatasetInfo
    x: torch.Tensor
    y: torch.Tensor | None = None
    modes: torch.Tensor | None = None
    mode_std: float | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


def get_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"Unknown dataset {name!r}; the built-in datasets are {', '.join(DATASETS)}."
        ) from None


def load_dataset(name: str, seed: int = 0, path: str | Path | None = None) -> Dataset:
    """Build (or read from the cache) the named dataset."""
    info = get_info(name)
    if name == "points":
        from ganstudio.engine.data.points_file import load_points_file

        if path is None:
            raise DatasetError("The points dataset needs a .csv or .npy file of shape (N, 2).")
        return Dataset(info, load_points_file(path))
    if info.kind == "points":
        from ganstudio.engine.data import toy2d

        return toy2d.build(info, seed)
    from ganstudio.engine.data.cache import cached_images

    if name == "digits":
        from ganstudio.engine.data.digits import build_digits as builder
    else:
        from ganstudio.engine.data.shapes import build_shapes as builder
    x, y = cached_images(name, info.size, seed, builder, info.shape, len(info.classes))
    return Dataset(info, x, y)


# Held-out images of a built-in set are drawn from the seed + this: never a valid data seed,
# so they are fresh samples of the same distribution, never one the run trains on.
HELD_OUT_SEED = 2**32
HELD_OUT_SIZE = 512  # the held-out samples a built-in set offers


def held_out_dataset(name: str, seed: int = 0, n: int = HELD_OUT_SIZE) -> Dataset | None:
    """``n`` fresh samples of a built-in set that its training set (``seed``) does not hold;
    None for the points dataset (its file has no more samples than it holds)."""
    info = get_info(name)
    if name == "points":
        return None
    if info.kind == "points":
        from ganstudio.engine.data import toy2d

        full = toy2d.build(info, seed + HELD_OUT_SEED)
        return Dataset(info, full.x[:n], full.y[:n] if full.y is not None else None,
                       full.modes, full.mode_std)
    if name == "digits":
        from ganstudio.engine.data.digits import build_digits as builder
    else:
        from ganstudio.engine.data.shapes import build_shapes as builder
    x, y = builder(n, seed + HELD_OUT_SEED)
    return Dataset(info, x, y)

