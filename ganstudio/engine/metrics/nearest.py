"""The memorisation check: the training images closest to a generated sample.

Every training image is first compared at a small size (at most 8 × 8, an area average:
one matrix-vector product for the whole set); the best few hundred are then compared at
full size, read from wherever the set lives (a tensor in memory, or a prepared set on disk).
The small copy of a prepared set is made once and kept beside it, so a set of 60,000 images
is searched in a fraction of a second without the set ever being in memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from ganstudio.engine.data.prepare import PreparedSet

SMALL_SIDE = 8  # the side of the small copy every image is compared at first
CANDIDATES = 256  # the most similar small copies, compared again at full size
CHUNK = 8192  # images per block while small copies are made
SMALL_FILE = f"small-{SMALL_SIDE}.npy"


def small_copy(images: torch.Tensor) -> np.ndarray:
    """uint8 images (N, C, H, W) → (N, C·s·s) uint8 area averages, s = min(H, SMALL_SIDE)."""
    side = min(images.shape[-1], SMALL_SIDE)
    out = np.empty((images.shape[0], images.shape[1] * side * side), np.uint8)
    for start in range(0, len(images), CHUNK):
        block = images[start : start + CHUNK].float()
        if side != block.shape[-1]:
            block = F.adaptive_avg_pool2d(block, side)
        out[start : start + len(block)] = block.round().flatten(1).to(torch.uint8).numpy()
    return out


class NearestIndex:
    """Training images searched for the ones nearest to a sample.

    ``small`` is every image's small copy (from :func:`small_copy`); ``read`` gives the full
    images (K, C, H, W) uint8 at ascending indices.
    """

    def __init__(self, small: np.ndarray, shape: tuple[int, int, int],
                 read: Callable[[np.ndarray], np.ndarray]):
        self.shape, self._read = tuple(shape), read
        # float32 once (a few bytes per image), so a search is one product per chunk
        self.small = torch.from_numpy(small).float()
        self.norms = self.small.square().sum(dim=1)

    @classmethod
    def in_memory(cls, images: torch.Tensor) -> NearestIndex:
        """An index of uint8 images (N, C, H, W) held in memory."""
        return cls(small_copy(images), tuple(images.shape[1:]),
                   lambda idx: images[torch.from_numpy(idx)].numpy())

    @classmethod
    def of_prepared(cls, prepared: PreparedSet) -> NearestIndex:
        """An index of a prepared set; its small copy is made on first use and kept in the
        set's folder (a damaged or stale one is made again)."""
        from ganstudio.engine.atomic import atomic_write_bytes

        path = prepared.folder / SMALL_FILE
        side = min(prepared.shape[-1], SMALL_SIDE)
        expected = (len(prepared), prepared.shape[0] * side * side)
        small = None
        if path.is_file():
            try:
                small = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                small = None
            if small is not None and (small.dtype != np.uint8 or small.shape != expected):
                small = None
        if small is None:
            small = np.concatenate([
                small_copy(torch.from_numpy(prepared.read(np.arange(s, min(s + CHUNK,
                                                                            len(prepared))))))
                for s in range(0, len(prepared), CHUNK)])
            buffer = io.BytesIO()
            np.save(buffer, small, allow_pickle=False)
            atomic_write_bytes(path, buffer.getvalue(), replace=True)
        return cls(small, prepared.shape, prepared.read)

    def __len__(self) -> int:
        return len(self.small)

    def search(self, sample: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Indices and root-mean-square pixel distances (0–255 scale) of the ``k`` images
        nearest to ``sample`` (H, W, C uint8), nearest first."""
        query = torch.from_numpy(np.ascontiguousarray(sample.transpose(2, 0, 1)))
        if tuple(query.shape) != self.shape:
            raise ValueError(
                f"the sample has {tuple(sample.shape)} pixels but the training images are "
                f"{self.shape}: they cannot be compared")
        small_query = torch.from_numpy(small_copy(query[None])[0]).float()
        # ‖x − q‖² − ‖q‖² = ‖x‖² − 2 x·q: one matrix-vector product
        scores = torch.addmv(self.norms, self.small, small_query, alpha=-2).numpy()
        n = min(len(scores), max(CANDIDATES, k))
        candidates = np.sort(np.argpartition(scores, n - 1)[:n])
        full = torch.from_numpy(self._read(candidates)).flatten(1).float()
        distances = (full - query.flatten().float()).square().mean(dim=1).numpy()
        best = np.argsort(distances, kind="stable")[:k]
        return candidates[best], np.sqrt(distances[best])

    def images(self, indices: np.ndarray) -> np.ndarray:
        """The full images at ``indices`` (any order), uint8 (K, C, H, W)."""
        indices = np.asarray(indices, np.int64)
        order = np.argsort(indices, kind="stable")
        out = np.empty((len(indices), *self.shape), np.uint8)
        out[order] = self._read(indices[order])
        return out
