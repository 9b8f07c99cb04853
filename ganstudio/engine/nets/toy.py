"""MLPs for 2-D point data, optionally class-conditional."""

from __future__ import annotations

import torch
from torch import nn

from ganstudio.engine.config import ModelConfig
from ganstudio.engine.data import DatasetInfo
from ganstudio.engine.nets import z_dim_of
from ganstudio.engine.nets.layers import LabelEmbedding, Projection, check_labels, conditioned


def _mlp(in_features: int, hidden: int, depth: int, activation) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_features if i == 0 else hidden, hidden), activation()]
    return layers


class ToyGenerator(nn.Module):
    def __init__(self, z_dim: int, hidden: int, depth: int, n_classes: int = 0, out: int = 2):
        super().__init__()
        self.z_dim, self.n_classes, self.output_range = z_dim, n_classes, None
        self.condition = LabelEmbedding(n_classes, 16) if n_classes else None
        width_in = z_dim + (16 if n_classes else 0)
        self.main = nn.Sequential(*_mlp(width_in, hidden, depth, nn.ReLU), nn.Linear(hidden, out))

    takes_class_vectors = True

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(conditioned(z, labels, self.condition))

    def features(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The first hidden layer's activations."""
        return self.main[:2](conditioned(z, labels, self.condition))


class ToyDiscriminator(nn.Module):
    def __init__(self, hidden: int, depth: int, n_classes: int = 0, features: int = 2):
        super().__init__()
        self.n_classes = n_classes
        self.body = nn.Sequential(*_mlp(features, hidden, depth, lambda: nn.LeakyReLU(0.2)))
        self.head = nn.Linear(hidden, 1)
        self.projection = Projection(n_classes, hidden) if n_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self.n_classes, labels)
        h = self.body(x)
        logits = self.head(h).squeeze(1)
        if self.projection is not None:
            logits = logits + self.projection(h, labels)
        return logits


def _classes(cfg: ModelConfig, info: DatasetInfo) -> int:
    return len(info.classes) if cfg.conditional else 0


def build_generator(cfg: ModelConfig, info: DatasetInfo) -> ToyGenerator:
    return ToyGenerator(z_dim_of(cfg), cfg.hidden, cfg.depth, _classes(cfg, info))


def build_discriminator(cfg: ModelConfig, info: DatasetInfo, loss: str) -> ToyDiscriminator:
    return ToyDiscriminator(cfg.hidden, cfg.depth, _classes(cfg, info))
