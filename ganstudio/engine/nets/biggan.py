"""BigGAN-deep (Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis"), laid out as the pytorch-pretrained-BigGAN package stores it.

z (128) and a class embedding (a linear map of a class vector: one-hot, or a mixture of classes)
are concatenated into one condition vector. A linear layer makes a 4×4 map; bottleneck residual
blocks (1×1, 3×3, 3×3, 1×1 convolutions, each after a class-conditional batch norm and a ReLU)
double its size where the config says so, with self-attention at one position; a batch norm,
ReLU, 3×3 convolution and tanh make the image.

Every weight is spectrally normalised as ``torch.nn.utils.spectral_norm`` stores it (``weight_orig``
with the singular vector estimates ``weight_u`` and ``weight_v``); in evaluation the weight used is
``weight_orig / (u · W v)``. The batch norms use precomputed statistics for 51 truncation values,
interpolated between neighbours. Constructors only allocate, so that a network can be sized on the
meta device before its weights are read.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.engine.errors import ConfigError

TRUNCATION_BOUND = 2.0  # BigGAN's z: a standard normal truncated to [-2, 2]


def truncated_noise(n: int, z_dim: int = 128, truncation: float = 1.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """z as BigGAN samples it: a standard normal truncated to [-2, 2], times ``truncation``."""
    lo = 0.5 * (1 + math.erf(-TRUNCATION_BOUND / math.sqrt(2)))  # Φ(-2)
    u = lo + (1 - 2 * lo) * torch.rand(n, z_dim, generator=generator, dtype=torch.float64)
    z = math.sqrt(2) * torch.special.erfinv(2 * u - 1)  # Φ⁻¹(u), uniform in [Φ(-2), Φ(2)]
    return (truncation * z).float()


def class_vectors(classes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class vectors (N, num_classes) from labels (N,) or from vectors given as they are."""
    if classes.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8):
        if classes.numel() and (int(classes.min()) < 0 or int(classes.max()) >= num_classes):
            raise ConfigError(f"Class labels must be from 0 to {num_classes - 1}.")
        return F.one_hot(classes.long(), num_classes).float()
    if classes.ndim != 2 or classes.shape[1] != num_classes:
        raise ConfigError(f"Class vectors must have shape (N, {num_classes}), "
                          f"not {tuple(classes.shape)}.")
    return classes.float()


class _SpectralNorm(nn.Module):
    """A weight stored as spectral_norm stores it; ``effective_weight`` divides by σ = u·Wv."""

    def _register(self, shape: tuple[int, ...]) -> None:
        self.weight_orig = nn.Parameter(torch.empty(shape))
        self.register_buffer("weight_u", torch.empty(shape[0]))
        self.register_buffer("weight_v", torch.empty(math.prod(shape[1:])))

    def effective_weight(self) -> torch.Tensor:
        w = self.weight_orig
        sigma = torch.dot(self.weight_u, torch.mv(w.reshape(w.shape[0], -1), self.weight_v))
        return w / sigma


class SNLinear(_SpectralNorm):
    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self._register((out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)


class SNConv2d(_SpectralNorm):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 bias: bool = True):
        super().__init__()
        self._register((out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)


class TruncatedBatchNorm(nn.Module):
    """Batch norm with statistics precomputed for ``n_stats`` truncations from 0 to 1 and, when
    conditional, a scale (1 + …) and offset linear in the condition vector."""

    def __init__(self, num_features: int, condition_dim: int | None = None, n_stats: int = 51,
                 eps: float = 1e-4):
        super().__init__()
        self.eps = eps
        self.step_size = 1.0 / (n_stats - 1)
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        self.conditional = condition_dim is not None
        if self.conditional:
            self.scale = SNLinear(condition_dim, num_features, bias=False)
            self.offset = SNLinear(condition_dim, num_features, bias=False)
        else:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    def statistics(self, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance for ``truncation``. Between two stored truncations the published
        package weighs the lower one by the fraction and the upper one by its complement; the
        released weights were made and judged with it, so it is reproduced here."""
        fraction, whole = math.modf(truncation / self.step_size)
        i = int(whole)
        if fraction == 0.0:
            return self.running_means[i], self.running_vars[i]
        mean = self.running_means[i] * fraction + self.running_means[i + 1] * (1 - fraction)
        var = self.running_vars[i] * fraction + self.running_vars[i + 1] * (1 - fraction)
        return mean, var

    def forward(self, x: torch.Tensor, truncation: float,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        mean, var = self.statistics(truncation)
        inv_std = (var + self.eps).rsqrt()
        if self.conditional:
            scale = (1 + self.scale(condition)) * inv_std
            offset = self.offset(condition) - mean * scale
        else:
            scale = (self.weight * inv_std).expand(x.shape[0], -1)
            offset = (self.bias - mean * self.weight * inv_std).expand(x.shape[0], -1)
        return torch.addcmul(offset[:, :, None, None], x, scale[:, :, None, None])


class SelfAttention(nn.Module):
    """SAGAN's self-attention: queries at every position, keys and values max-pooled by 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.snconv1x1_theta = SNConv2d(channels, channels // 8, bias=False)
        self.snconv1x1_phi = SNConv2d(channels, channels // 8, bias=False)
        self.snconv1x1_g = SNConv2d(channels, channels // 2, bias=False)
        self.snconv1x1_o_conv = SNConv2d(channels // 2, channels, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        queries = self.snconv1x1_theta(x).reshape(n, c // 8, h * w)
        keys = F.max_pool2d(self.snconv1x1_phi(x), 2).reshape(n, c // 8, h * w // 4)
        values = F.max_pool2d(self.snconv1x1_g(x), 2).reshape(n, c // 2, h * w // 4)
        attention = torch.softmax(queries.transpose(1, 2) @ keys, dim=-1)  # (N, HW, HW/4)
        attended = (values @ attention.transpose(1, 2)).reshape(n, c // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(attended)


class ResidualBlock(nn.Module):
    """BigGAN-deep's bottleneck block; the shortcut drops channels and upsamples as needed."""

    def __init__(self, in_channels: int, out_channels: int, condition_dim: int,
                 upsample: bool, n_stats: int, eps: float):
        super().__init__()
        middle = in_channels // 4
        self.upsample = upsample
        self.drop_channels = in_channels != out_channels
        for i, (a, b, k) in enumerate(((in_channels, middle, 1), (middle, middle, 3),
                                        (middle, middle, 3), (middle, out_channels, 1))):
            self.add_module(f"bn_{i}", TruncatedBatchNorm(a, condition_dim, n_stats, eps))
            self.add_module(f"conv_{i}", SNConv2d(a, b, k))

    def forward(self, x: torch.Tensor, condition: torch.Tensor, truncation: float
                ) -> torch.Tensor:
        shortcut = x[:, : x.shape[1] // 2] if self.drop_channels else x
        for i in range(4):
            x = F.relu(getattr(self, f"bn_{i}")(x, truncation, condition))
            if i == 1 and self.upsample:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = getattr(self, f"conv_{i}")(x)
        if self.upsample:
            shortcut = F.interpolate(shortcut, scale_factor=2, mode="nearest")
        return x + shortcut


class ClassEmbedding(nn.Module):
    """A linear map, without bias, of class vectors to the size of z."""

    def __init__(self, num_classes: int, z_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(z_dim, num_classes))

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return F.linear(vectors, self.weight)


class BigGANGenerator(nn.Module):
    """The image generator proper: condition vector (z ‖ class embedding) → image."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        width, condition_dim = config["channel_width"], 2 * config["z_dim"]
        n_stats, eps = config["n_stats"], config["eps"]
        self.channel_width = width
        self.gen_z = SNLinear(condition_dim, 4 * 4 * 16 * width)
        layers: list[nn.Module] = []
        for i, (upsample, in_mult, out_mult) in enumerate(config["layers"]):
            if i == config["attention_layer_position"]:
                layers.append(SelfAttention(width * in_mult))
            layers.append(ResidualBlock(width * in_mult, width * out_mult, condition_dim,
                                        bool(upsample), n_stats, eps))
        self.layers = nn.ModuleList(layers)
        self.bn = TruncatedBatchNorm(width, None, n_stats, eps)
        self.conv_to_rgb = SNConv2d(width, width, 3)

    def forward(self, condition: torch.Tensor, truncation: float) -> torch.Tensor:
        # the weights came from TensorFlow: the first map is laid out height, width, channels
        x = self.gen_z(condition).reshape(-1, 4, 4, 16 * self.channel_width)
        x = x.permute(0, 3, 1, 2).contiguous()
        for layer in self.layers:
            x = layer(x, condition, truncation) if isinstance(layer, ResidualBlock) else layer(x)
        x = F.relu(self.bn(x, truncation))
        return torch.tanh(self.conv_to_rgb(x)[:, :3])


class BigGAN(nn.Module):
    """BigGAN-deep: ``(z, classes, truncation)`` → images (N, 3, R, R) in [-1, 1].

    ``classes`` are labels (N,) or class vectors (N, num_classes), one-hot or mixed. As in the
    reference, ``truncation`` only selects the batch-norm statistics; z is used as given (sample it
    with :func:`truncated_noise` to truncate it too).
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.config = config
        self.z_dim, self.num_classes = config["z_dim"], config["num_classes"]
        self.img_resolution = config["output_dim"]
        self.embeddings = ClassEmbedding(self.num_classes, self.z_dim)
        self.generator = BigGANGenerator(config)

    def forward(self, z: torch.Tensor, classes: torch.Tensor, truncation: float = 1.0
                ) -> torch.Tensor:
        if not 0 < truncation <= 1:
            raise ConfigError(f"BigGAN's truncation must be in (0, 1], not {truncation}.")
        vectors = class_vectors(classes, self.num_classes).to(z)
        condition = torch.cat([z, self.embeddings(vectors)], dim=1)
        return self.generator(condition, truncation)
