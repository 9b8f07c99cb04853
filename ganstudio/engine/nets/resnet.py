"""ResNet generator and spectrally normalised ResNet discriminator, SNGAN / BigGAN style.

At 32 px these are the CIFAR-10 networks of Miyato et al. (2018), "Spectral Normalization for
Generative Adversarial Networks" (Table 4): G maps z (128) through a 4 × 4 × 256 dense layer
and three up-sampling residual blocks of 256 channels; D has four residual blocks of 128
channels, the first two down-sampling, then ReLU, a global sum and a linear unit. At 64 and
128 px the channel plans follow BigGAN (Brock et al., 2019) at a base of 64 channels: G from
16 × base down to base, D from base up to 16 × base. ``width`` scales every plan.

Class-conditional variants use conditional batch norm in G (per-layer gains and biases from a
shared class embedding, as BigGAN) and a projection term in D (Miyato & Koyama, 2018).
Every convolution and linear layer of D is spectrally normalised; G is not (as in SNGAN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganstudio.engine.config import ModelConfig
from ganstudio.engine.data import DatasetInfo
from ganstudio.engine.nets import z_dim_of
from ganstudio.engine.nets.layers import Projection, check_labels

# Per output size: G's base channels and the (in, out) multipliers of its up-sampling blocks;
# D's base channels, the out multipliers of its blocks, and how many of them down-sample.
G_PLANS = {
    32: (256, ((1, 1), (1, 1), (1, 1))),  # 4 → 8 → 16 → 32
    64: (64, ((16, 16), (16, 8), (8, 4), (4, 2))),  # 4 → … → 64
    128: (64, ((16, 16), (16, 8), (8, 4), (4, 2), (2, 1))),  # 4 → … → 128
}
D_PLANS = {
    32: (128, (1, 1, 1, 1), 2),  # 32 → 16 → 8, then two blocks at 8 × 8
    64: (64, (1, 2, 4, 8, 16), 4),  # 64 → … → 4
    128: (64, (1, 2, 4, 8, 16, 16), 5),  # 128 → … → 4
}
EMBED_DIM = 128  # the shared class embedding of a conditional G


def _channels(base: int, width: float) -> int:
    return max(8, round(base * width))


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and shift come from a class embedding (1 + γ(e), β(e))."""

    def __init__(self, channels: int, embed_dim: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(embed_dim, channels, bias=False)
        self.bias = nn.Linear(embed_dim, channels, bias=False)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.gain(e)[:, :, None, None]
        return self.norm(x) * gain + self.bias(e)[:, :, None, None]


class GeneratorBlock(nn.Module):
    """BN → ReLU → ×2 nearest → conv 3×3 → BN → ReLU → conv 3×3, plus a 1×1 shortcut."""

    def __init__(self, cin: int, cout: int, embed_dim: int = 0):
        super().__init__()
        self.bn1 = ConditionalBatchNorm(cin, embed_dim) if embed_dim else nn.BatchNorm2d(cin)
        self.bn2 = ConditionalBatchNorm(cout, embed_dim) if embed_dim else nn.BatchNorm2d(cout)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def _norm(self, bn: nn.Module, x: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
        return bn(x, e) if isinstance(bn, ConditionalBatchNorm) else bn(x)

    def forward(self, x: torch.Tensor, e: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self._norm(self.bn1, x, e))
        h = self.conv1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv2(F.relu(self._norm(self.bn2, h, e)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, size: int, nc: int, width: float = 1.0, n_classes: int = 0):
        super().__init__()
        self.z_dim, self.n_classes, self.output_range = z_dim, n_classes, (-1.0, 1.0)
        self.nc, self.size = nc, size
        base, plan = G_PLANS[size]
        ch = _channels(base, width)
        embed_dim = EMBED_DIM if n_classes else 0
        self.shared = nn.Embedding(n_classes, EMBED_DIM) if n_classes else None
        self.first = ch * plan[0][0]
        # z → first x 4 x 4
        self.dense = nn.Linear(z_dim, self.first * 16)
        # each block: (ch·a) x s x s → (ch·b) x 2s x 2s
        self.blocks = nn.ModuleList(GeneratorBlock(ch * a, ch * b, embed_dim) for a, b in plan)
        last = ch * plan[-1][1]
        # (ch·last) x size x size → nc x size x size
        self.out = nn.Sequential(nn.BatchNorm2d(last), nn.ReLU(), nn.Conv2d(last, nc, 3, 1, 1),
                                 nn.Tanh())
        _orthogonal_init(self)

    # Labels may be class indices (n,) or class vectors (n, classes): a vector mixes the
    # classes' embeddings, which is what a class morph draws.
    takes_class_vectors = True

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h, e = self._start(z, labels)
        for block in self.blocks:
            h = block(h, e)
        return self.out(h)

    def features(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The first residual block's activations: the early layer GANSpace takes its PCA of."""
        h, e = self._start(z, labels)
        return self.blocks[0](h, e)

    def _start(self, z, labels) -> tuple[torch.Tensor, torch.Tensor | None]:
        check_labels(self.n_classes, labels)
        e = None
        if self.shared is not None:
            if labels.dim() == 2:
                e = labels.to(self.shared.weight.dtype) @ self.shared.weight
            else:
                e = self.shared(labels)
        return self.dense(z).view(z.shape[0], self.first, 4, 4), e


class DiscriminatorBlock(nn.Module):
    """[ReLU →] conv 3×3 → ReLU → conv 3×3 [→ avg-pool ×2], plus a 1×1 shortcut.

    The first block of D takes the image itself: no ReLU before its first convolution, and
    its shortcut pools before the 1×1 convolution (SNGAN's "optimized" block).
    """

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = spectral_norm(nn.Conv2d(cin, cout, 3, 1, 1))
        self.conv2 = spectral_norm(nn.Conv2d(cout, cout, 3, 1, 1))
        self.shortcut = (spectral_norm(nn.Conv2d(cin, cout, 1))
                         if first or down or cin != cout else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.shortcut is None:
            return h + x
        if self.first:
            return h + self.shortcut(F.avg_pool2d(x, 2))
        s = self.shortcut(x)
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class ResNetDiscriminator(nn.Module):
    def __init__(self, size: int, nc: int, width: float = 1.0, n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        base, mults, downs = D_PLANS[size]
        ch = _channels(base, width)
        widths = [nc] + [ch * m for m in mults]
        # nc x size x size → … → (ch·mults[-1]) x 4 (or 8) x 4 (or 8)
        self.blocks = nn.Sequential(*(
            DiscriminatorBlock(widths[k], widths[k + 1], down=k < downs, first=k == 0)
            for k in range(len(mults))
        ))
        self.head = spectral_norm(nn.Linear(widths[-1], 1))
        self.projection = Projection(n_classes, widths[-1]) if n_classes else None
        if self.projection is not None:
            spectral_norm(self.projection.embed)
        _orthogonal_init(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(self.n_classes, labels)
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        logits = self.head(h).squeeze(1)
        if self.projection is not None:
            logits = logits + self.projection(h, labels)
        return logits


def _orthogonal_init(module: nn.Module) -> None:
    """Orthogonal weights and zero biases, as BigGAN. Embeddings keep theirs, and conditional
    batch norms start as plain batch norm (zero gain and bias maps)."""
    conditional = {id(linear) for m in module.modules() if isinstance(m, ConditionalBatchNorm)
                   for linear in (m.gain, m.bias)}
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and id(m) not in conditional:
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") \
                else m.weight
            nn.init.orthogonal_(weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _classes(cfg: ModelConfig, info: DatasetInfo) -> int:
    return len(info.classes) if cfg.conditional else 0


def build_generator(cfg: ModelConfig, info: DatasetInfo) -> ResNetGenerator:
    return ResNetGenerator(z_dim_of(cfg), info.shape[-1], info.shape[0], cfg.width,
                           _classes(cfg, info))


def build_discriminator(cfg: ModelConfig, info: DatasetInfo, loss: str) -> ResNetDiscriminator:
    return ResNetDiscriminator(info.shape[-1], info.shape[0], cfg.width, _classes(cfg, info))
