"""Layers shared by the network families: maxout, label conditioning, DCGAN initialisation,
and the switch to eval mode for a while."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al., 2013): the max over ``pieces`` linear pieces per unit."""

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(dim=2)


class LabelEmbedding(nn.Module):
    """Appends a learned class embedding to the latent: ``[z, embed(y)]``.

    Labels are class indices (n,) or class vectors (n, classes); a vector mixes the classes'
    embeddings, which is what a class morph draws.
    """

    def __init__(self, n_classes: int, dim: int):
        super().__init__()
        self.embed = nn.Embedding(n_classes, dim)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if labels.dim() == 2:
            embedded = labels.to(self.embed.weight.dtype) @ self.embed.weight
        else:
            embedded = self.embed(labels)
        return torch.cat([z, embedded], dim=1)


def conditioned(z: torch.Tensor, labels: torch.Tensor | None,
                condition: LabelEmbedding | None) -> torch.Tensor:
    """A generator's input: z, with the class embedding appended when it is conditional."""
    if condition is None:
        return z
    if labels is None:
        raise ValueError("This is a class-conditional network: pass a class label per sample.")
    return condition(z, labels)


class Projection(nn.Module):
    """The class term of a projection discriminator (Miyato & Koyama, 2018): ``<embed(y), h>``."""

    def __init__(self, n_classes: int, features: int):
        super().__init__()
        self.embed = nn.Embedding(n_classes, features)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return (self.embed(labels) * h).sum(dim=1)


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) for convolutions, N(1, 0.02) for BatchNorm scales, as in the DCGAN paper."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def check_labels(n_classes: int, labels: torch.Tensor | None) -> None:
    if n_classes and labels is None:
        raise ValueError("This is a class-conditional network: pass a class label per sample.")


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode (dropout off, batch norm on its running statistics) for the
    ``with`` block, then back in the mode it was in, even if the block raised."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
