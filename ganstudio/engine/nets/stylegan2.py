"""The StyleGAN2 synthesis network (Karras et al. 2020, "Analyzing and Improving the Image Quality
of StyleGAN"), as in the StyleGAN2-ADA code's network pickles.

Blocks double the resolution from 4×4 up. Each block has two 3×3 convolutions whose weights are
modulated per sample by a style (an affine map of that layer's w) and demodulated to unit output
variance, adds per-pixel noise, and (in the "skip" architecture) adds its RGB contribution to an
image that is upsampled from block to block. Every change of resolution goes through a small FIR
filter (``resample_filter``, [1, 3, 3, 1] normalised, stored in the file).

For one sample at high resolution the modulated, demodulated weight is built and used directly;
otherwise (a batch, or activations smaller than the weight) the convolution scales its input by
the styles and its output by the demodulation coefficients instead: the same arithmetic, as one
convolution over the whole batch. Upsampling convolutions run
transposed with stride 2, followed by the FIR filter; the leaky ReLU's gain is folded into those
scales. The network runs in channels-last layout by default (``channels_last``), which the CPU's
convolutions prefer.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.nets.stylegan import (
    ACTIVATION_GAINS,
    EqualizedLinear,
    activate,
    check_activation,
)
from ganstudio.engine.nets.upfirdn import upfirdn2d, upsample2d

NOISE_MODES = ("const", "random", "none")
ARCHITECTURES = ("orig", "skip", "resnet")


def _fir_filter(taps: tuple[float, ...] | list[float]) -> torch.Tensor:
    # designed on the CPU even while a network is sized on the meta device
    f = torch.as_tensor(taps, dtype=torch.float32, device="cpu")
    if f.ndim == 1:
        f = torch.outer(f, f)
    return f / f.sum()


def _derived(module: nn.Module, name: str, make) -> torch.Tensor:
    """``make(module.weight)``, remembered until the weight changes (a load, a move, an edit):
    the forms of a weight that every call would otherwise recompute."""
    weight = module.weight
    version = -1 if weight.is_inference() else weight._version  # inference tensors have none
    stamp = (version, weight.data_ptr(), weight.dtype, weight.device)
    cache = module.__dict__.setdefault("_derived_weights", {})
    hit = cache.get(name)
    if hit is None or hit[0] != stamp:
        hit = cache[name] = (stamp, make(weight))
    return hit[1]


def _layout(x: torch.Tensor) -> torch.memory_format:
    return (torch.channels_last if x.ndim == 4 and x.shape[1] > 1
            and x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    out_scale: torch.Tensor | None = None,
    up: int = 1,
    resample_filter: torch.Tensor | None = None,
    weight_t: torch.Tensor | None = None,
) -> torch.Tensor:
    """Convolve each sample of ``x`` with ``weight`` scaled per input channel by its ``styles``
    (N, in) and per output channel by ``out_scale`` (N, out; the demodulation, say).

    With ``up`` = 2 the weight acts as a true convolution on the zero-upsampled input, followed
    by ``resample_filter``; the output is then exactly twice the input's size. ``weight_t`` is
    ``weight.transpose(0, 1)`` when the caller keeps one ready.
    """
    n, in_ch = styles.shape
    out_ch, _, k, _ = weight.shape
    styles = styles.to(x.dtype)
    out_scale = None if out_scale is None else out_scale.to(x.dtype)
    if n == 1 and weight.numel() <= x[0].numel():  # scale whichever holds fewer numbers
        scale = styles.reshape(1, in_ch, 1, 1)
        if out_scale is not None:
            scale = scale * out_scale.reshape(out_ch, 1, 1, 1)
        if up == 1:
            return F.conv2d(x, weight * scale, padding=k // 2)
        if weight_t is None:
            weight_t = weight.transpose(0, 1)
        x = F.conv_transpose2d(x, weight_t * scale.transpose(0, 1), stride=up)
    else:  # scale the activations around one convolution over the whole batch
        x = x * styles.reshape(n, in_ch, 1, 1)
        if up == 1:
            x = F.conv2d(x, weight, padding=k // 2)
        else:
            x = F.conv_transpose2d(x, weight.transpose(0, 1) if weight_t is None else weight_t,
                                   stride=up)
        if out_scale is not None:
            x = x.mul_(out_scale.reshape(n, out_ch, 1, 1))
    if up == 1:
        return x
    taps = resample_filter.shape[-1]
    lo = k // 2 + (taps + up - 1) // 2 - (k - 1)
    hi = k // 2 + (taps - up) // 2 - (k - up)
    return upfirdn2d(x, resample_filter, padding=(lo, hi, lo, hi), gain=up * up)


class StyleConv(nn.Module):
    """A modulated convolution with noise, bias and leaky ReLU (the files' ``SynthesisLayer``)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 kernel_size: int = 3, up: int = 1, use_noise: bool = True,
                 activation: str = "lrelu", resample_filter=(1, 3, 3, 1),
                 conv_clamp: float | None = None):
        super().__init__()
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation = check_activation(activation)
        self.conv_clamp = conv_clamp
        self.act_gain = ACTIVATION_GAINS[activation]
        self.register_buffer("resample_filter", _fir_filter(resample_filter))
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size,
                                               kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.empty(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.normal_(self.weight, generator=generator)
        if self.use_noise:
            nn.init.normal_(self.noise_const, generator=generator)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                noise_generator: torch.Generator | None = None, gain: float = 1.0) -> torch.Tensor:
        styles = self.affine(w)
        layout = _layout(x)
        weight = _derived(self, f"weight {layout}", lambda v: v.contiguous(memory_format=layout))
        weight_t = None
        if self.up > 1:
            weight_t = _derived(self, f"weight_t {layout}",
                                lambda v: v.transpose(0, 1).contiguous(memory_format=layout))
        # demodulation: unit norm per output channel of the style-scaled weight
        power = _derived(self, "power", lambda v: v.square().sum(dim=(2, 3)).t())
        # the activations are positively homogeneous: their gain folds into the scales
        act_gain = self.act_gain * gain
        out_scale = (styles.square() @ power + 1e-8).rsqrt() * act_gain
        x = modulated_conv2d(x, weight, styles, out_scale, self.up, self.resample_filter,
                             weight_t)
        if self.use_noise and noise_mode == "const":
            x = x.add_(self.noise_const * (self.noise_strength * act_gain))
        elif self.use_noise and noise_mode == "random":
            noise = torch.randn((x.shape[0], 1, self.resolution, self.resolution),
                                generator=noise_generator, device=x.device, dtype=x.dtype)
            x = x.add_(noise.mul_(self.noise_strength * act_gain))
        x = x.add_((self.bias * act_gain).to(x.dtype).reshape(1, -1, 1, 1))
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return activate(x, self.activation, 1.0, clamp)


class ToRGB(nn.Module):
    """A modulated 1×1 convolution to the image's channels, not demodulated."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int,
                 conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.normal_(self.weight, generator=generator)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        layout = _layout(x)
        weight = _derived(self, f"weight {layout}", lambda v: v.contiguous(memory_format=layout))
        x = modulated_conv2d(x, weight, self.affine(w) * self.weight_gain)
        x = x.add_(self.bias.to(x.dtype).reshape(1, -1, 1, 1))
        return x if self.conv_clamp is None else x.clamp_(-self.conv_clamp, self.conv_clamp)


class ResidualUpsample(nn.Module):
    """The resnet architecture's shortcut: a 1×1 convolution (no bias), then FIR upsampling."""

    def __init__(self, in_channels: int, out_channels: int, resample_filter=(1, 3, 3, 1)):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.register_buffer("resample_filter", _fir_filter(resample_filter))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.normal_(self.weight, generator=generator)

    def forward(self, x: torch.Tensor, gain: float) -> torch.Tensor:
        x = F.conv2d(x, self.weight * (self.weight_gain * gain))
        return upsample2d(x, self.resample_filter)


class SynthesisBlock(nn.Module):
    """One resolution: a learned constant (first block) or an upsampling convolution, a second
    convolution, and the block's RGB output."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 img_channels: int, is_last: bool, architecture: str = "skip",
                 resample_filter=(1, 3, 3, 1), conv_clamp: float | None = None,
                 **layer_options):
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        self.is_last, self.architecture = is_last, architecture
        self.register_buffer("resample_filter", _fir_filter(resample_filter))
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1 if is_last or architecture == "skip" else 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.empty(out_channels, resolution, resolution))
        else:
            self.conv0 = StyleConv(in_channels, out_channels, w_dim, resolution, up=2,
                                   resample_filter=resample_filter, conv_clamp=conv_clamp,
                                   **layer_options)
        self.conv1 = StyleConv(out_channels, out_channels, w_dim, resolution,
                               conv_clamp=conv_clamp, **layer_options)
        if self.num_torgb:
            self.torgb = ToRGB(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        if in_channels and architecture == "resnet":
            self.skip = ResidualUpsample(in_channels, out_channels, resample_filter)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        if self.in_channels == 0:
            nn.init.normal_(self.const, generator=generator)

    def layers(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
               noise_mode: str, noise_generator: torch.Generator | None,
               layout: torch.memory_format = torch.contiguous_format
               ) -> Iterator[tuple[str, torch.Tensor]]:
        """Runs the block, yielding each layer's output by name, and last ``("image", img)``."""
        w = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            x = x.contiguous(memory_format=layout)
            x = self.conv1(x, next(w), noise_mode, noise_generator)
            yield "conv1", x
        elif self.architecture == "resnet":
            shortcut = self.skip(x, math.sqrt(0.5))
            x = self.conv0(x, next(w), noise_mode, noise_generator)
            yield "conv0", x
            x = self.conv1(x, next(w), noise_mode, noise_generator, gain=math.sqrt(0.5))
            yield "conv1", x
            x = shortcut.add_(x)
        else:
            x = self.conv0(x, next(w), noise_mode, noise_generator)
            yield "conv0", x
            x = self.conv1(x, next(w), noise_mode, noise_generator)
            yield "conv1", x
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.num_torgb:
            rgb = self.torgb(x, next(w))
            yield "torgb", rgb
            img = rgb if img is None else img.add_(rgb)
        yield "features", x
        yield "image", img


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) → images (N, img_channels, R, R), nominally in [-1, 1]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 channel_base: int = 32768, channel_max: int = 512,
                 architecture: str = "skip", resample_filter=(1, 3, 3, 1),
                 conv_clamp: float | None = None, kernel_size: int = 3,
                 use_noise: bool = True, activation: str = "lrelu"):
        super().__init__()
        log2 = int(math.log2(img_resolution)) if img_resolution >= 4 else 0
        if img_resolution < 4 or 2**log2 != img_resolution:
            raise ConfigError(f"StyleGAN2 resolution {img_resolution} is not a power of 2 ≥ 4.")
        if architecture not in ARCHITECTURES:
            raise ConfigError(f"StyleGAN2 architecture {architecture!r} is not one of "
                              f"{', '.join(ARCHITECTURES)}.")
        if kernel_size % 2 != 1:
            raise ConfigError(f"StyleGAN2 kernel size {kernel_size} is not odd.")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        channels = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        self.num_ws = 0
        self._first_ws: list[int] = []
        for r in self.block_resolutions:
            block = SynthesisBlock(
                channels[r // 2] if r > 4 else 0, channels[r], w_dim, r, img_channels,
                is_last=r == img_resolution, architecture=architecture,
                resample_filter=resample_filter, conv_clamp=conv_clamp,
                kernel_size=kernel_size, use_noise=use_noise, activation=activation)
            self._first_ws.append(self.num_ws)
            self.num_ws += block.num_conv
            self.add_module(f"b{r}", block)
        self.num_ws += getattr(self, f"b{img_resolution}").num_torgb
        self.channels_last = True  # activations' memory layout; see the module doc

    @property
    def layer_groups(self) -> tuple[tuple[str, int, int], ...]:
        stops = [*self._first_ws[1:], self.num_ws]
        return tuple((f"{r}×{r}", first, stop)
                     for r, first, stop in zip(self.block_resolutions, self._first_ws, stops))

    @property
    def feature_layers(self) -> list[str]:
        """Names of the layers whose activations :meth:`features` returns, input to output."""
        names = []
        for r in self.block_resolutions:
            block = getattr(self, f"b{r}")
            names += [f"b{r}.conv0"] if block.in_channels else []
            names += [f"b{r}.conv1"] + ([f"b{r}.torgb"] if block.num_torgb else [])
        return names

    def _run(self, ws: torch.Tensor, noise_mode: str, noise_seed: int,
             stop_after: str | None = None) -> Iterator[tuple[str, torch.Tensor]]:
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ConfigError(f"This synthesis network takes ws of shape (N, {self.num_ws}, "
                              f"{self.w_dim}), not {tuple(ws.shape)}.")
        if noise_mode not in NOISE_MODES:
            raise ConfigError(f"Noise mode {noise_mode!r} is not one of {', '.join(NOISE_MODES)}.")
        generator = None
        if noise_mode == "random":
            generator = torch.Generator(device=ws.device).manual_seed(int(noise_seed))
        ws = ws.to(self.b4.const.dtype)
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        x = img = None
        for r, first in zip(self.block_resolutions, self._first_ws):
            block = getattr(self, f"b{r}")
            block_ws = ws[:, first:first + block.num_conv + block.num_torgb]
            for name, out in block.layers(x, img, block_ws, noise_mode, generator, layout):
                if name == "features":
                    x = out
                elif name == "image":
                    img = out
                    yield f"b{r}", None if img is None else img.contiguous()
                else:
                    yield f"b{r}.{name}", out
                    if stop_after == f"b{r}.{name}":
                        return

    def forward(self, ws: torch.Tensor, noise_mode: str = "const",
                noise_seed: int = 0) -> torch.Tensor:
        _, img = deque(self.progressive(ws, noise_mode, noise_seed), maxlen=1)[0]
        return img

    def progressive(self, ws: torch.Tensor, noise_mode: str = "const", noise_seed: int = 0,
                    size: int | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """Yields ``(resolution, image)`` after each block, coarse to fine; the image is the sum
        of the RGB outputs so far (the skip architecture; others yield only the last block).
        With ``size`` every image is upsampled bilinearly to size × size for display."""
        for name, img in self._run(ws, noise_mode, noise_seed):
            if "." in name or img is None:
                continue
            r = int(name[1:])
            if size is not None and r != size:
                img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
            yield r, img

    def features(self, ws: torch.Tensor, layer: str, noise_mode: str = "const",
                 noise_seed: int = 0) -> torch.Tensor:
        """The activations (N, C, H, W) of the layer named ``layer`` (see ``feature_layers``)."""
        if layer not in self.feature_layers:
            raise ConfigError(f"No synthesis layer {layer!r}; choose one of "
                              f"{', '.join(self.feature_layers)}.")
        run = self._run(ws, noise_mode, noise_seed, stop_after=layer)
        return next(out for name, out in run if name == layer)
