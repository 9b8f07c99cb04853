"""The original GAN of Goodfellow et al. (2014), as in its MNIST experiment.

G: noise(100) → 1200 ReLU → 1200 ReLU → 784 sigmoid.
D: dropout(keep 0.8) → maxout 240×5 → dropout(keep 0.5) → maxout 240×5 → dropout(keep 0.5)
   → one unit (its sigmoid is applied inside the loss).
Weights start uniform in ±0.05 (G) and ±0.005 (D), the ranges of the paper's pylearn2 setup;
with ``model.output_bias = "marginals"`` (the family's recipe) G's output bias starts at the
logit of each pixel's mean over the training images.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganstudio.engine.config import ModelConfig
from ganstudio.engine.data import DatasetInfo
from ganstudio.engine.nets import z_dim_of
from ganstudio.engine.nets.layers import Maxout


def _uniform_init(module: nn.Module, bound: float) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)


class Gan2014Generator(nn.Module):
    def __init__(self, z_dim: int, shape: tuple[int, ...], hidden: int = 1200):
        super().__init__()
        self.z_dim, self.n_classes, self.output_range = z_dim, 0, (0.0, 1.0)
        self.shape = tuple(shape)
        self.main = nn.Sequential(
            nn.Linear(z_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, math.prod(shape)), nn.Sigmoid(),
        )
        _uniform_init(self, 0.05)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(z).view(z.shape[0], *self.shape)

    @torch.no_grad()
    def init_output_bias(self, marginals: torch.Tensor) -> None:
        """Start G at the data's mean image: the sigmoid's bias is the logit of each pixel's
        mean in 0..1, clipped to [1e-7, 1 − 1e-7] as pylearn2's
        init_sigmoid_bias_from_marginals does."""
        mean = marginals.double().reshape(-1).clamp(1e-7, 1 - 1e-7)
        self.main[-2].bias.copy_(torch.logit(mean).float())

    def features(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The first hidden layer's activations."""
        return self.main[:2](z)


class Gan2014Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], units: int = 240, pieces: int = 5):
        super().__init__()
        self.n_classes = 0
        self.main = nn.Sequential(
            nn.Dropout(0.2),
            Maxout(math.prod(shape), units, pieces),
            nn.Dropout(0.5),
            Maxout(units, units, pieces),
            nn.Dropout(0.5),
            nn.Linear(units, 1),
        )
        _uniform_init(self, 0.005)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(x.flatten(1)).squeeze(1)


def build_generator(cfg: ModelConfig, info: DatasetInfo) -> Gan2014Generator:
    return Gan2014Generator(z_dim_of(cfg), info.shape)


def build_discriminator(cfg: ModelConfig, info: DatasetInfo, loss: str) -> Gan2014Discriminator:
    return Gan2014Discriminator(info.shape)
