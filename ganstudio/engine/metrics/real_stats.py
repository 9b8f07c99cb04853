"""What the image metrics need of the real data, computed once per (data, feature space):
the Gaussian (mean, covariance), the feature sample itself (KID, precision/recall) and its
nearest-neighbour radii. Cached as safetensors under ``<cache>/metric_stats/``, keyed by a
hash of the images and the extractor's identity, so changing either makes a new entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganstudio.engine.metrics.feature_arrays import as_feature_matrix
from ganstudio.engine.metrics.manifold import K_DENSITY_COVERAGE, K_PRECISION_RECALL

STATS_VERSION = 1
CACHED_RADII = (K_PRECISION_RECALL, K_DENSITY_COVERAGE)


@dataclass
class RealStats:
    features: torch.Tensor  # (N, D) float32
    mean: torch.Tensor  # (D,) float64
    cov: torch.Tensor  # (D, D) float64
    radii: dict[int, torch.Tensor] = field(default_factory=dict)  # k → (N,) float32
    _cov_sqrt: torch.Tensor | None = field(default=None, repr=False)

    @classmethod
    def from_features(cls, features: np.ndarray | torch.Tensor, what: str = "real"
                      ) -> RealStats:
        from ganstudio.engine.metrics.frechet import gaussian_stats

        mean, cov = gaussian_stats(features, what)  # from float64 features where given
        return cls(as_feature_matrix(features, what), mean, cov)

    def cov_sqrt(self) -> torch.Tensor:
        """Σ^½, computed once: FID against the same real set reuses it."""
        if self._cov_sqrt is None:
            from ganstudio.engine.metrics.frechet import psd_sqrt

            self._cov_sqrt = psd_sqrt(self.cov)
        return self._cov_sqrt

    def radii_for(self, ks: Iterable[int],
                  progress: Callable[[float], None] | None = None) -> dict[int, torch.Tensor]:
        missing = [k for k in ks if k not in self.radii]
        if missing:
            from ganstudio.engine.metrics.manifold import knn_radii

            self.radii.update(knn_radii(self.features, missing, progress))
        return self.radii


def stats_key(images: torch.Tensor, extractor_identity: str) -> str:
    """A hash of the images (bytes, dtype and shape) and the extractor."""
    h = hashlib.sha256()
    h.update(json.dumps([STATS_VERSION, extractor_identity, str(images.dtype),
                         list(images.shape)]).encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


def stats_path(dataset: str, space: str, key: str) -> Path:
    from ganstudio.resources import cache_dir

    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in dataset)
    return cache_dir() / "metric_stats" / f"{safe}-{space}-{key}.safetensors"


def real_stats_of_images(images: torch.Tensor, extractor, dataset: str,
                         progress: Callable[[str, float], None] | None = None) -> RealStats:
    """The statistics of real ``images`` in ``extractor``'s space, from the cache when they
    were computed before (a damaged or unreadable entry is computed again)."""
    path = stats_path(dataset, extractor.space, stats_key(images, extractor.identity))
    cached = _IN_MEMORY.get(path) or _read(path)
    if cached is not None:
        _remember(path, cached)
        return cached
    stage = (lambda name: (lambda f: progress(name, f))) if progress else (lambda name: None)
    extracted = extractor.extract(images, stage("real features"))
    stats = RealStats.from_features(extracted.features)
    stats.radii_for(CACHED_RADII, stage("real neighbours"))
    _write(path, stats, {"dataset": dataset, "space": extractor.space,
                         "extractor": extractor.identity, "n": int(images.shape[0])})
    _remember(path, stats)
    return stats


# Evaluations during training compare with the same real set again and again: the last few
# are kept in memory (up to ~110 MB each in Inception's space), as is their Σ^½.
_IN_MEMORY: OrderedDict[Path, RealStats] = OrderedDict()
_IN_MEMORY_ENTRIES = 2


def _remember(path: Path, stats: RealStats) -> None:
    _IN_MEMORY[path] = stats
    _IN_MEMORY.move_to_end(path)
    while len(_IN_MEMORY) > _IN_MEMORY_ENTRIES:
        _IN_MEMORY.popitem(last=False)


def _write(path: Path, stats: RealStats, meta: dict) -> None:
    from safetensors.torch import save

    from ganstudio.engine.atomic import atomic_write_bytes

    tensors = {"features": stats.features.contiguous(), "mean": stats.mean, "cov": stats.cov}
    tensors.update({f"radii_{k}": r.contiguous() for k, r in stats.radii.items()})
    meta = {"format": "ganstudio-metric-stats", "version": STATS_VERSION, **meta}
    # A read-only or full cache folder only costs computing them again next time.
    with contextlib.suppress(OSError):
        atomic_write_bytes(path, save(tensors, metadata={"meta": json.dumps(meta)}),
                           replace=True)


def _read(path: Path) -> RealStats | None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        t = load_file(path)
        radii = {int(k.removeprefix("radii_")): v for k, v in t.items()
                 if k.startswith("radii_")}
        stats = RealStats(t["features"], t["mean"], t["cov"], radii)
    except (SafetensorError, OSError, RuntimeError, KeyError, ValueError):
        return None
    n, d = stats.features.shape
    if stats.mean.shape != (d,) or stats.cov.shape != (d, d) or any(
            r.shape != (n,) for r in radii.values()):
        return None
    return stats
