"""The StyleGAN3 synthesis network (Karras et al. 2021, "Alias-Free Generative Adversarial
Networks"), configs T and R, as in the stylegan3 code's network pickles.

The input is a set of Fourier features: sinusoids of fixed frequencies and phases, rotated and
translated per sample by an affine map of the first w, then by a user transform (``transform``).
Each of the following layers is a modulated convolution followed by a *filtered* leaky ReLU:
upsample with a windowed-sinc filter, apply the nonlinearity at the higher rate, low-pass and
downsample again, so the nonlinearity adds no aliasing. The cutoff and stopband frequencies grow
geometrically from layer to layer (the paper's appendix F); :func:`layer_specs` derives every
layer's sampling rate, size, channels and filters from the network's config. Config R uses 1×1
convolutions and radially symmetric (jinc) downsampling filters.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.nets.stylegan import LRELU_SLOPE, EqualizedLinear
from ganstudio.engine.nets.upfirdn import upfirdn2d

MAX_FILTER_TAPS = 256  # published networks use 12 to 24


def layer_specs(img_resolution: int, img_channels: int, channel_base: int = 32768,
                channel_max: int = 512, num_layers: int = 14, num_critical: int = 2,
                first_cutoff: float = 2, first_stopband: float = 2**2.1,
                last_stopband_rel: float = 2**0.3, margin_size: int = 10) -> list[dict[str, Any]]:
    """Per layer (the input first, then ``num_layers`` + 1 layers ending with ToRGB): channels,
    size, sampling rate, cutoff and transition half-width."""
    n = num_layers
    with np.errstate(all="raise"):  # settings that make no sense fail here, not as NaN later
        exponents = np.minimum(np.arange(n + 1) / (n - num_critical), 1)
        last_cutoff = img_resolution / 2
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = (first_stopband
                     * (last_cutoff * last_stopband_rel / first_stopband) ** exponents)
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    sizes = rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels[-1] = img_channels
    return [{"channels": int(channels[i]), "size": int(sizes[i]),
             "sampling_rate": int(rates[i]), "cutoff": float(cutoffs[i]),
             "half_width": float(half_widths[i])} for i in range(n + 1)]


def _kaiser_beta(numtaps: int, width: float, fs: float) -> float:
    """Kaiser's window parameter for a transition band ``width`` wide (in units of ``fs``)."""
    attenuation = 2.285 * (numtaps - 1) * math.pi * (width / (fs / 2)) + 7.95
    if attenuation > 50:
        return 0.1102 * (attenuation - 8.7)
    if attenuation > 21:
        return 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21)
    return 0.0


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                   radial: bool = False) -> torch.Tensor | None:
    """A Kaiser-windowed low-pass filter normalised to unit DC gain: 1-D sinc (applied to both
    axes) or 2-D jinc (``radial``); None for a single tap."""
    if numtaps == 1:
        return None
    # designed on the CPU even while a network is sized on the meta device
    window = torch.kaiser_window(numtaps, periodic=False, beta=_kaiser_beta(numtaps, width, fs),
                                 dtype=torch.float64, device="cpu")
    t = (torch.arange(numtaps, dtype=torch.float64, device="cpu") - (numtaps - 1) / 2) / fs
    if not radial:
        f = 2 * cutoff * torch.sinc(2 * cutoff * t) * window
    else:
        r = torch.hypot(t[None, :], t[:, None])
        jinc = torch.special.bessel_j1(2 * math.pi * cutoff * r) / (math.pi * r)
        f = torch.where(r == 0, torch.full_like(r, cutoff), jinc) * torch.outer(window, window)
    return (f / f.sum()).float()


def input_transform(translate_x: float = 0.0, translate_y: float = 0.0,
                    rotate_degrees: float = 0.0) -> torch.Tensor:
    """The 3×3 ``transform`` that moves the image by (x, y) image widths and turns it by
    ``rotate_degrees`` counter-clockwise (as seen on screen): the inverse of that motion, since
    it maps output coordinates to where the Fourier features are sampled."""
    a = math.radians(rotate_degrees)
    motion = torch.tensor([[math.cos(a), math.sin(a), translate_x],
                           [-math.sin(a), math.cos(a), translate_y],
                           [0.0, 0.0, 1.0]], dtype=torch.float64)
    return torch.linalg.inv(motion).float()


class FourierInput(nn.Module):
    """Fourier features, turned and shifted per sample by an affine map of w, then mixed by a
    learned channel matrix (the files' ``SynthesisInput``)."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float,
                 bandwidth: float):
        super().__init__()
        self.w_dim, self.channels = w_dim, channels
        self.size, self.sampling_rate, self.bandwidth = [size, size], sampling_rate, bandwidth
        self.register_buffer("freqs", torch.empty(channels, 2))
        self.register_buffer("phases", torch.empty(channels))
        self.register_buffer("transform", torch.eye(3, device="cpu"))
        self.weight = nn.Parameter(torch.empty(channels, channels))
        # starts as "no rotation, no translation": (cos, sin, tx, ty) = (1, 0, 0, 0)
        self.affine = EqualizedLinear(w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Random frequencies within the band, in random directions, and random phases."""
        directions = F.normalize(torch.randn(self.channels, 2, generator=generator), dim=1)
        radii = torch.rand(self.channels, 1, generator=generator) * self.bandwidth
        self.freqs.copy_(directions * radii)
        self.phases.copy_(torch.rand(self.channels, generator=generator) - 0.5)
        nn.init.normal_(self.weight, generator=generator)

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        n = w.shape[0]
        user = (self.transform if transform is None else transform).to(w)
        t = self.affine(w)  # (cos, sin, tx, ty), rotation normalised below
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(dim=1)
        rotation = torch.eye(3, device=w.device, dtype=w.dtype).repeat(n, 1, 1)
        rotation[:, 0, 0], rotation[:, 0, 1] = cos, -sin
        rotation[:, 1, 0], rotation[:, 1, 1] = sin, cos
        translation = torch.eye(3, device=w.device, dtype=w.dtype).repeat(n, 1, 1)
        translation[:, 0, 2], translation[:, 1, 2] = -tx, -ty
        m = rotation @ translation @ user
        freqs = self.freqs.to(w).unsqueeze(0) @ m[:, :2, :2]  # (N, C, 2)
        phases = self.phases.to(w) + (self.freqs.to(w).unsqueeze(0) @ m[:, :2, 2:]).squeeze(2)
        # frequencies the user's transform pushes past the band fade out instead of aliasing
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth)
                      / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        width, height = self.size
        xs = (torch.arange(width, device=w.device, dtype=w.dtype) + 0.5 - width / 2)
        ys = (torch.arange(height, device=w.device, dtype=w.dtype) + 0.5 - height / 2)
        xs, ys = xs / self.sampling_rate, ys / self.sampling_rate
        # (N, C, H, W): sin(2π (f · p + φ)) at each sample position p = (x, y)
        arg = (freqs[:, :, 0, None, None] * xs[None, None, None, :]
               + freqs[:, :, 1, None, None] * ys[None, None, :, None]
               + phases[:, :, None, None])
        x = torch.sin(arg * (2 * math.pi)) * amplitudes[:, :, None, None]
        mix = self.weight.to(w) / math.sqrt(self.channels)
        return torch.einsum("nchw,dc->ndhw", x, mix)


class AliasFreeLayer(nn.Module):
    """A modulated convolution and a filtered leaky ReLU (the files' ``SynthesisLayer``); the
    last one (``is_torgb``) is a plain modulated 1×1 convolution to RGB."""

    def __init__(self, w_dim: int, is_torgb: bool, is_critically_sampled: bool,
                 in_channels: int, out_channels: int, in_size: int, out_size: int,
                 in_sampling_rate: int, out_sampling_rate: int, in_cutoff: float,
                 out_cutoff: float, in_half_width: float, out_half_width: float,
                 conv_kernel: int = 3, filter_size: int = 6, lrelu_upsampling: int = 2,
                 use_radial_filters: bool = False, conv_clamp: float | None = 256):
        super().__init__()
        self.is_torgb, self.is_critically_sampled = is_torgb, is_critically_sampled
        self.in_channels, self.out_channels = in_channels, out_channels
        self.in_size, self.out_size = [in_size, in_size], [out_size, out_size]
        self.in_sampling_rate, self.out_sampling_rate = in_sampling_rate, out_sampling_rate
        self.tmp_sampling_rate = (max(in_sampling_rate, out_sampling_rate)
                                  * (1 if is_torgb else lrelu_upsampling))
        self.in_cutoff, self.out_cutoff = in_cutoff, out_cutoff
        self.in_half_width, self.out_half_width = in_half_width, out_half_width
        self.conv_kernel = 1 if is_torgb else conv_kernel
        self.conv_clamp = conv_clamp

        self.affine = EqualizedLinear(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, self.conv_kernel,
                                               self.conv_kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))

        tmp = self.tmp_sampling_rate
        self.up_factor = round(tmp / in_sampling_rate)
        self.down_factor = round(tmp / out_sampling_rate)
        if max(self.up_factor, self.down_factor) * filter_size > MAX_FILTER_TAPS:
            raise ConfigError(f"StyleGAN3 layer filters of more than {MAX_FILTER_TAPS} taps "
                              f"(rates {in_sampling_rate} → {tmp} → {out_sampling_rate}, "
                              f"filter_size {filter_size}).")
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer("up_filter", lowpass_filter(
            self.up_taps, in_cutoff, in_half_width * 2, tmp))
        self.down_taps = (filter_size * self.down_factor
                          if self.down_factor > 1 and not is_torgb else 1)
        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer("down_filter", lowpass_filter(
            self.down_taps, out_cutoff, out_half_width * 2, tmp, radial=self.down_radial))
        # pad so that after up-sampling, filtering and down-sampling the output is out_size,
        # with samples centred as in the paper's symmetric interpretation (appendix C.3)
        total = ((out_size - 1) * self.down_factor + 1
                 - (in_size + self.conv_kernel - 1) * self.up_factor
                 + self.up_taps + self.down_taps - 2)
        lo = (total + self.up_factor) // 2
        self.padding = [lo, total - lo, lo, total - lo]

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.normal_(self.weight, generator=generator)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        k = self.conv_kernel
        weight = self.weight
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * k * k))
        else:  # scale-free before demodulation, so that the 1e-8 below stays negligible
            weight = weight * weight.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
            styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
        gain = self.magnitude_ema.rsqrt()
        x = x * (styles * gain).reshape(*styles.shape, 1, 1).to(x.dtype)
        x = F.conv2d(x, weight.to(x.dtype), padding=k - 1)
        if not self.is_torgb:
            power = styles.square() @ weight.square().sum(dim=(2, 3)).t()
            x = x.mul_((power + 1e-8).rsqrt().reshape(*power.shape, 1, 1).to(x.dtype))
        x = x.add_(self.bias.reshape(1, -1, 1, 1).to(x.dtype))
        if self.is_torgb:
            return x if self.conv_clamp is None else x.clamp_(-self.conv_clamp, self.conv_clamp)
        x = upfirdn2d(x, self.up_filter, up=self.up_factor, padding=tuple(self.padding),
                      gain=self.up_factor**2)
        x = F.leaky_relu(x, LRELU_SLOPE, inplace=True).mul_(math.sqrt(2))
        if self.conv_clamp is not None:
            x = x.clamp_(-self.conv_clamp, self.conv_clamp)
        return upfirdn2d(x, self.down_filter, down=self.down_factor)


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) → images (N, img_channels, R, R), nominally in [-1, 1]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 channel_base: int = 32768, channel_max: int = 512, num_layers: int = 14,
                 num_critical: int = 2, first_cutoff: float = 2,
                 first_stopband: float = 2**2.1, last_stopband_rel: float = 2**0.3,
                 margin_size: int = 10, output_scale: float = 0.25, **layer_options):
        super().__init__()
        if not 1 <= num_critical < num_layers:
            raise ConfigError(f"StyleGAN3 needs 1 ≤ num_critical < num_layers, "
                              f"not {num_critical} and {num_layers}.")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_ws = num_layers + 2
        self.output_scale = output_scale
        specs = layer_specs(img_resolution, img_channels, channel_base, channel_max, num_layers,
                            num_critical, first_cutoff, first_stopband, last_stopband_rel,
                            margin_size)
        first = specs[0]
        self.input = FourierInput(w_dim, first["channels"], first["size"],
                                  first["sampling_rate"], first["cutoff"])
        self.layer_names: list[str] = []
        for i, spec in enumerate(specs):
            prev = specs[max(i - 1, 0)]
            layer = AliasFreeLayer(
                w_dim, is_torgb=i == num_layers,
                is_critically_sampled=i >= num_layers - num_critical,
                in_channels=prev["channels"], out_channels=spec["channels"],
                in_size=prev["size"], out_size=spec["size"],
                in_sampling_rate=prev["sampling_rate"], out_sampling_rate=spec["sampling_rate"],
                in_cutoff=prev["cutoff"], out_cutoff=spec["cutoff"],
                in_half_width=prev["half_width"], out_half_width=spec["half_width"],
                **layer_options)
            name = f"L{i}_{spec['size']}_{spec['channels']}"
            self.layer_names.append(name)
            self.add_module(name, layer)

    @property
    def layer_groups(self) -> tuple[tuple[str, int, int], ...]:
        return (("input", 0, 1),
                *((name, i + 1, i + 2) for i, name in enumerate(self.layer_names)))

    def _run(self, ws: torch.Tensor, transform: torch.Tensor | None
             ) -> Iterator[tuple[str, torch.Tensor]]:
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ConfigError(f"This synthesis network takes ws of shape (N, {self.num_ws}, "
                              f"{self.w_dim}), not {tuple(ws.shape)}.")
        ws = ws.to(self.input.weight.dtype).unbind(dim=1)
        x = self.input(ws[0], transform)
        yield "input", x
        for name, w in zip(self.layer_names, ws[1:]):
            x = getattr(self, name)(x, w)
            yield name, x

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise_seed: int = 0,
                transform: torch.Tensor | None = None) -> torch.Tensor:
        """Images from ws; StyleGAN3 has no noise inputs, so the noise options do nothing.
        ``transform`` (see :func:`input_transform`) replaces the file's input transform."""
        _, x = deque(self._run(ws, transform), maxlen=1)[0]
        return x * self.output_scale

    @property
    def feature_layers(self) -> list[str]:
        """Names of the layers whose activations :meth:`features` returns, input to output."""
        return ["input", *self.layer_names]

    def features(self, ws: torch.Tensor, layer: str, noise_mode: str = "const",
                 noise_seed: int = 0, transform: torch.Tensor | None = None) -> torch.Tensor:
        """The activations (N, C, H, W) of the layer named ``layer`` (see ``feature_layers``)."""
        if layer not in self.feature_layers:
            raise ConfigError(f"No synthesis layer {layer!r}; choose one of "
                              f"{', '.join(self.feature_layers)}.")
        return next(x for name, x in self._run(ws, transform) if name == layer)
