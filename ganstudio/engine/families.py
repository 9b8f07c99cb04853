"""What each generator/discriminator family is: name, the data it trains on, its variants
and the module that builds it.

Plain metadata that imports neither torch nor the settings (``ganstudio.engine.config``
checks a config against it; ``ganstudio.engine.nets`` builds the networks), so the app can
list families before torch loads.
"""

from __future__ import annotations

from dataclasses import dataclass


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
