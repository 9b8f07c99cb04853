"""Generator/discriminator families built from a ModelConfig (what each family is:
``ganstudio.engine.families``).

Every generator maps ``(z, labels)`` to samples in its ``output_range`` and carries
``z_dim``, ``n_classes`` and ``output_range`` attributes; every discriminator maps
``(x, labels)`` to one logit per sample (the final sigmoid, where a loss needs one, lives in
the loss, where it is numerically stable).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.families import FAMILIES

if TYPE_CHECKING:
    from torch import nn

    from ganstudio.engine.config import ModelConfig
    from ganstudio.engine.data import DatasetInfo


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
