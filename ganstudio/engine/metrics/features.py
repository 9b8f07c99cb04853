"""Feature spaces for the image metrics: a registry of names, and extractors that turn image
batches into feature arrays.

- ``inception``: Inception-v3 pool3 as FID defines it (weights downloaded once);
- ``classifier``: the penultimate layer of GAN Studio's own classifier for the dataset, with
  its logits for the class metrics (bundled, so it works offline);
- ``none``: features the user computed, passed in as arrays.

An extractor's ``identity`` changes whenever its network does; the real-data statistics cache
is keyed by it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from ganstudio.engine.errors import ConfigError


@dataclass(frozen=True)
class FeatureSpace:
    name: str
    description: str
    offline: bool  # usable with no network at all
    from_images: bool  # False: the user brings the feature arrays


FEATURE_SPACES: dict[str, FeatureSpace] = {
    space.name: space
    for space in (
        FeatureSpace("inception", "Inception-v3 pool3 features (2,048), as FID defines them; "
                     "the network's weights (92 MB) are downloaded once", False, True),
        FeatureSpace("classifier", "the penultimate layer (128) of GAN Studio's small "
                     "classifier for the dataset, and its class predictions; bundled", True,
                     True),
        FeatureSpace("none", "your own features: (N, D) arrays of real and generated samples",
                     True, False),
    )
}


@dataclass
class ExtractedFeatures:
    features: np.ndarray  # (N, D) float32
    logits: np.ndarray | None  # (N, classes) float32, for a classifier


class FeatureExtractor:
    """Maps (N, C, H, W) uint8 images (or floats in 0..1) to features, batch by batch."""

    def __init__(self, space: str, identity: str, dims: int, classes: tuple[str, ...],
                 network: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]],
                 image_shape: tuple[int, ...] | None, batch_size: int,
                 device: torch.device | str = "cpu"):
        self.space = space
        self.identity = identity
        self.dims = dims
        self.classes = classes
        self.image_shape = image_shape  # None: any size
        self._network = network
        self._batch_size = batch_size
        self._device = torch.device(device)

    @torch.no_grad()
    def extract(self, images: torch.Tensor,
                progress: Callable[[float], None] | None = None) -> ExtractedFeatures:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ConfigError(f"{self.space} features take image batches (N, 1 or 3, H, W), "
                              f"not an array of shape {tuple(images.shape)}")
        if self.image_shape is not None and tuple(images.shape[1:]) != self.image_shape:
            raise ConfigError(
                f"this {self.space} network takes {_shape_text(self.image_shape)} images; "
                f"these are {_shape_text(tuple(images.shape[1:]))}")
        features, logits = [], []
        for start in range(0, len(images), self._batch_size):
            batch = images[start : start + self._batch_size].to(self._device)
            f, z = self._network(batch)
            features.append(f.float().cpu())
            if z is not None:
                logits.append(z.float().cpu())
            if progress is not None:
                progress(min(1.0, (start + self._batch_size) / len(images)))
        return ExtractedFeatures(
            torch.cat(features).numpy(), torch.cat(logits).numpy() if logits else None)


def get_space(name: str) -> FeatureSpace:
    try:
        return FEATURE_SPACES[name]
    except KeyError:
        raise ConfigError(f"unknown feature space {name!r}; choose one of "
                          f"{', '.join(FEATURE_SPACES)}") from None


def feature_extractor(space: str, dataset: str | None = None,
                      device: torch.device | str = "cpu") -> FeatureExtractor:
    """The extractor of an image feature space (``classifier`` needs the dataset's name).

    Raises WeightsMissingError when Inception's weights are not here, and ConfigError when
    the dataset has no classifier: never another network in their place.
    """
    if not get_space(space).from_images:
        raise ConfigError(f"the {space!r} feature space takes arrays, not images")
    if space == "inception":
        from ganstudio.engine.metrics.inception import (
            FEATURES,
            WEIGHTS_FILE,
            inception_weights_path,
            load_inception,
        )

        path = inception_weights_path()
        network = load_inception(path).to(device)
        return FeatureExtractor(
            "inception", f"inception:{WEIGHTS_FILE}:{file_digest(path)}", FEATURES, (),
            lambda x: (network.pool_features(x), None),
            None, batch_size=25, device=device)

    from ganstudio.engine.metrics.classifier import load_classifier, shipped_classifier_path

    path = shipped_classifier_path(dataset) if dataset else None
    if path is None or not path.is_file():
        have = ", ".join(shipped_classifiers()) or "none"
        raise ConfigError(
            f"GAN Studio has no classifier for {dataset or 'this data'} (it has: {have}); "
            "use --features inception, or --features none with your own feature arrays")
    trained = load_classifier(path)
    network = trained.network.to(device)
    return FeatureExtractor(
        "classifier", f"classifier:{dataset}:{file_digest(path)}",
        network.hidden.out_features, tuple(trained.meta["classes"]),
        network.features_and_logits, tuple(trained.meta["shape"]), batch_size=500,
        device=device)


def shipped_classifiers() -> tuple[str, ...]:
    """Names of the datasets that have a bundled classifier."""
    from ganstudio.resources import resources_dir

    try:
        folder = resources_dir() / "classifiers"
    except FileNotFoundError:
        return ()
    return tuple(sorted(p.stem for p in folder.glob("*.safetensors")))


def file_digest(path: Path) -> str:
    """The first 16 hex digits of a file's SHA-256 (remembered while the file is unchanged)."""
    stat = path.stat()
    return _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@cache
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(s) for s in shape)
