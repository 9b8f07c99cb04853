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


# The most parameters one network may have (1 GiB as float32): a config or a checkpoint that
# asks for more is refused before any weight is allocated.
MAX_PARAMETERS = 2**28


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


def build_on_meta(cfg: ModelConfig, info: DatasetInfo, loss: str | None = None):
    """The generator (and, given a ``loss``, the discriminator) on the meta device: their shapes
    and parameter counts without allocating or initialising a single weight."""
    import torch

    with torch.device("meta"):
        if loss is None:
            return build_generator(cfg, info)
        return build_networks(cfg, info, loss)


def check_parameter_count(module: nn.Module, what: str) -> int:
    """The number of parameters of ``module``; a ConfigError when above MAX_PARAMETERS."""
    count = sum(p.numel() for p in module.parameters())
    if count > MAX_PARAMETERS:
        raise ConfigError(
            f"{what} would have {count:,} parameters, more than the {MAX_PARAMETERS:,} GAN "
            "Studio builds; use a smaller model (z_dim, hidden, depth or width)."
        )
    return count


def activation_elements(G: nn.Module, D: nn.Module, z_dim: int, sample_shape: tuple[int, ...],
                        n_classes: int) -> tuple[int, int]:
    """Elements of every layer's output for one sample through G and through D, found by a
    forward pass of networks built on the meta device (no memory, no arithmetic)."""
    import torch

    counts = [0]

    def count(module, inputs, output) -> None:
        if isinstance(output, torch.Tensor) and not list(module.children()):
            counts[0] += output.numel()

    hooks = [m.register_forward_hook(count) for m in (*G.modules(), *D.modules())]
    try:
        labels = torch.zeros(1, dtype=torch.long, device="meta") if n_classes else None
        G(torch.zeros(1, z_dim, device="meta"), labels)
        per_g, counts[0] = counts[0], 0
        D(torch.zeros(1, *sample_shape, device="meta"), labels)
        return per_g, counts[0]
    finally:
        for hook in hooks:
            hook.remove()


def check_state_fits(expected: dict[str, tuple[int, ...]], state: dict, where: str,
                     what: str) -> None:
    """A CheckpointError unless ``state`` holds exactly the tensors ``expected`` names, with
    their shapes; the message lists the first few that are missing, extra or of another shape.
    ``what`` says what the tensors were to fit, e.g. "the stylegan2 network its kwargs
    describe"."""
    from ganstudio.engine.errors import CheckpointError

    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(state[k].shape) != expected[k])
    if missing or unexpected or wrong:
        problems = [f"{label}: {', '.join(names[:3])}{' …' if len(names) > 3 else ''}"
                    for label, names in (("missing", missing), ("unexpected", unexpected),
                                         ("other shape", wrong)) if names]
        raise CheckpointError(f"{where}: the tensors do not fit {what} ({'; '.join(problems)}).")
