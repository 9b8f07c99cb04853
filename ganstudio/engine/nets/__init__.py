"""A registry of generator/discriminator families, each built from a ModelConfig.

The registry itself is metadata only (no torch), so the app can list families before torch
loads. Every generator maps ``(z, labels)`` to samples in its ``output_range`` and carries
``z_dim``, ``n_classes`` and ``output_range`` attributes; every discriminator maps
``(x, labels)`` to one logit per sample (the final sigmoid, where a loss needs one, lives in
the loss, where it is numerically stable).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganstudio.engine.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from ganstudio.engine.config import ModelConfig
    from ganstudio.engine.data import DatasetInfo


@dataclass(frozen=True)
class Family:
    name: str
    description: str
    kinds: tuple[str, ...]  # the dataset kinds it trains on
    conditional: bool  # has a class-conditional variant
    image_sizes: tuple[int, ...]  # () when any size (or no image) works
    default_z_dim: int
    module: str


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "toy", "MLPs for 2-D points, configurable width and depth",
            ("points",), True, (), 16, "ganstudio.engine.nets.toy",
        ),
        Family(
            "gan2014", "The original GAN (Goodfellow et al., 2014): ReLU MLP G, maxout D",
            ("images",), False, (), 100, "ganstudio.engine.nets.gan2014",
        ),
        Family(
            "dcgan", "DCGAN (Radford et al., 2015) at 16, 28, 32, 64 or 128 px with a width "
            "multiplier",
            ("images",), True, (16, 28, 32, 64, 128), 100, "ganstudio.engine.nets.dcgan",
        ),
        Family(
            "resnet", "SNGAN/BigGAN-style ResNets at 32, 64 or 128 px: batch-norm G, spectrally "
            "normalised D, conditional batch norm and projection for classes",
            ("images",), True, (32, 64, 128), 128, "ganstudio.engine.nets.resnet",
        ),
    )
}


def z_dim_of(cfg: ModelConfig) -> int:
    return cfg.z_dim if cfg.z_dim is not None else FAMILIES[cfg.family].default_z_dim


def build_networks(
    cfg: ModelConfig, info: DatasetInfo, loss: str = "nonsaturating"
) -> tuple[nn.Module, nn.Module]:
    """Build ``(generator, discriminator)`` for a dataset; ``loss`` picks D's normalisation."""
    return build_generator(cfg, info), _module(cfg).build_discriminator(cfg, info, loss)


def build_generator(cfg: ModelConfig, info: DatasetInfo) -> nn.Module:
    return _module(cfg).build_generator(cfg, info)


def _module(cfg: ModelConfig):
    family = FAMILIES.get(cfg.family)
    if family is None:
        raise ConfigError(f"Unknown model {cfg.family!r}; choose one of {', '.join(FAMILIES)}.")
    return importlib.import_module(family.module)
