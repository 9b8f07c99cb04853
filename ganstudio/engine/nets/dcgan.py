"""DCGAN (Radford et al., 2015) at 28, 32 and 64 px.

The generator keeps the layer layout of the PyTorch DCGAN example (``main.0`` … ``main.N``),
so a ``netG.pth`` trained with that example loads into it unchanged. A width multiplier
scales the 64 base channels; BatchNorm everywhere but D's first layer; N(0, 0.02) weights.
The class-conditional variant appends a label embedding to z in G and adds a projection
term to D. Under wgan-gp D has no BatchNorm, since the gradient penalty is per sample.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from ganstudio.engine.config import ModelConfig
from ganstudio.engine.data import DatasetInfo
from ganstudio.engine.nets import z_dim_of
from ganstudio.engine.nets.layers import (
    LabelEmbedding,
    Projection,
    check_labels,
    conditioned,
    dcgan_init,
)

# Per output size: the spatial size of the first feature map and the channel multipliers of
# each hidden block (each block after the first doubles the size).
LAYOUTS = {
    28: (7, (4, 2)),  # 7 → 14 → 28
    32: (4, (4, 2, 1)),  # 4 → 8 → 16 → 32
    64: (4, (8, 4, 2, 1)),  # 4 → 8 → 16 → 32 → 64, the PyTorch example
}
BASE_CHANNELS = 64


def base_channels(width: float) -> int:
    return max(4, round(BASE_CHANNELS * width))


class DCGANGenerator(nn.Module):
    """``channels`` are the hidden blocks' widths; the output is ``start · 2^len(channels)`` px."""

    def __init__(
        self, z_dim: int, channels: tuple[int, ...], nc: int, start: int, n_classes: int = 0
    ):
        super().__init__()
        self.z_dim, self.n_classes, self.output_range = z_dim, n_classes, (-1.0, 1.0)
        self.nc, self.size = nc, start * 2 ** len(channels)
        embed_dim = min(z_dim, 50) if n_classes else 0
        self.condition = LabelEmbedding(n_classes, embed_dim) if n_classes else None
        layers: list[nn.Module] = [
            # input: (z_dim [+ embed]) x 1 x 1 → channels[0] x start x start
            nn.ConvTranspose2d(z_dim + embed_dim, channels[0], start, 1, 0, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(True),
        ]
        for a, b in itertools.pairwise(channels):
            # a x s x s → b x 2s x 2s
            layers += [
                nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)
            ]
        # channels[-1] x size/2 x size/2 → nc x size x size
        layers += [nn.ConvTranspose2d(channels[-1], nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        dcgan_init(self)

    takes_class_vectors = True

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(conditioned(z, labels, self.condition)[:, :, None, None])

    def features(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The first block's activations: the early layer GANSpace takes its PCA of."""
        return self.main[:3](conditioned(z, labels, self.condition)[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, ndf: int, nc: int, size: int, n_classes: int = 0, norm: bool = True):
        super().__init__()
        self.n_classes = n_classes
        start, mults = LAYOUTS[size]
        mults = mults[::-1]
        # nc x size x size → ndf*mults[0] x size/2 x size/2, no norm on the input layer
        layers: list[nn.Module] = [
            nn.Conv2d(nc, ndf * mults[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for a, b in itertools.pairwise(mults):
            layers += [nn.Conv2d(ndf * a, ndf * b, 4, 2, 1, bias=False)]
            layers += [nn.BatchNorm2d(ndf * b)] if norm else []
            layers += [nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        # (ndf*mults[-1]) x start x start → 1 x 1 x 1
        self.head = nn.Conv2d(ndf * mults[-1], 1, start, 1, 0, bias=False)
        self.projection = Projection(n_classes, ndf * mults[-1]) if n_classes else None
        dcgan_init(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self.n_classes, labels)
        h = self.features(x)
        logits = self.head(h).flatten()
        if self.projection is not None:
            logits = logits + self.projection(h.sum(dim=(2, 3)), labels)
        return logits


def _classes(cfg: ModelConfig, info: DatasetInfo) -> int:
    return len(info.classes) if cfg.conditional else 0


def build_generator(cfg: ModelConfig, info: DatasetInfo) -> DCGANGenerator:
    nc, size = info.shape[0], info.shape[-1]
    start, mults = LAYOUTS[size]
    ngf = base_channels(cfg.width)
    return DCGANGenerator(
        z_dim_of(cfg), tuple(ngf * m for m in mults), nc, start, _classes(cfg, info)
    )


def build_discriminator(cfg: ModelConfig, info: DatasetInfo, loss: str) -> DCGANDiscriminator:
    nc, size = info.shape[0], info.shape[-1]
    return DCGANDiscriminator(
        base_channels(cfg.width), nc, size, _classes(cfg, info), norm=loss != "wgan-gp"
    )
