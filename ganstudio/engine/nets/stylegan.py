"""What StyleGAN2 and StyleGAN3 share: equalized layers, the mapping network, and the generator.

The generator is ``mapping`` (z, optional class vector c → one w per style input, "ws") followed by
``synthesis`` (ws → image): ``stylegan2.SynthesisNetwork`` or ``stylegan3.SynthesisNetwork``.
Module and tensor names follow NVIDIA's network pickles, so their weights load by name
(``mapping.fc0.weight``, ``synthesis.b8.conv0.affine.bias`` …); the code is our own, written from
Karras et al. 2019-2021 and the layout of the files.

A network is rebuilt from a JSON-ready config (:func:`build_stylegan`), which is how the pickle
reader and GAN Studio's own checkpoints rebuild one::

    {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 1024, "img_channels": 3,
     "mapping": {"num_layers": 8}, "synthesis": {"channel_base": 32768, "channel_max": 512}}

Constructors only allocate (and compute the fixed filters on the CPU), so that a network can be
sized on the meta device before anything is allocated; random initial weights come from each
module's ``reset_parameters``, which :func:`build_stylegan` calls when given a seed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganstudio.engine.errors import ConfigError

LRELU_SLOPE = 0.2
ACTIVATION_GAINS = {"linear": 1.0, "relu": math.sqrt(2), "lrelu": math.sqrt(2)}


def activate(x: torch.Tensor, activation: str, gain: float = 1.0,
             clamp: float | None = None) -> torch.Tensor:
    """StyleGAN's activation: the nonlinearity, times ``gain``, clamped to ±``clamp``; in place."""
    if activation == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE, inplace=True)
    elif activation == "relu":
        x = F.relu(x, inplace=True)
    if gain != 1:
        x = x.mul_(gain)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp)
    return x


def check_activation(activation: str) -> str:
    if activation not in ACTIVATION_GAINS:
        raise ConfigError(
            f"StyleGAN activation {activation!r} is not supported; "
            f"GAN Studio implements {', '.join(ACTIVATION_GAINS)}."
        )
    return activation


class EqualizedLinear(nn.Module):
    """A fully connected layer with StyleGAN's equalized learning rate.

    Weights are stored divided by ``lr_multiplier`` and scaled by
    ``lr_multiplier / sqrt(in_features)`` when used; the bias by ``lr_multiplier``.
    """

    def __init__(self, in_features: int, out_features: int, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float | list = 0.0,
                 weight_init: float = 1.0):
        super().__init__()
        self.activation = check_activation(activation)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        bias = torch.as_tensor(bias_init, dtype=torch.float32, device="cpu")
        self.bias = nn.Parameter(bias.expand(out_features) / lr_multiplier)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.init_std = weight_init / lr_multiplier

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.normal_(self.weight, 0.0, self.init_std, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return activate(x, self.activation, ACTIVATION_GAINS[self.activation])


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (and a class vector c) → w, repeated for each of the ``num_ws`` style inputs.

    z and the embedded c are each normalised to unit second moment, concatenated and sent through
    ``num_layers`` equalized layers. ``w_avg`` is the running mean of w kept during training; the
    truncation trick pulls w towards it.
    """

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 activation: str = "lrelu", lr_multiplier: float = 0.01):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim else 0
        layer_features = w_dim if layer_features is None else layer_features
        if c_dim:
            self.embed = EqualizedLinear(c_dim, embed_features)
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        for i in range(num_layers):
            self.add_module(f"fc{i}", EqualizedLinear(
                features[i], features[i + 1], activation, lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
                cutoff: int | None = None) -> torch.Tensor:
        """ws of shape (N, num_ws, w_dim); ``psi`` ≠ 1 truncates the first ``cutoff`` of them."""
        parts = []
        if self.z_dim:
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim:
            if c is None or c.shape[-1] != self.c_dim:
                raise ConfigError(f"This generator needs class vectors of size {self.c_dim}.")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        return self.truncate(ws, psi, cutoff)

    def truncate(self, ws: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        """Pull the first ``cutoff`` style inputs (all when None) towards ``w_avg`` by ``psi``."""
        if psi == 1:
            return ws
        ws = ws.clone()
        stop = ws.shape[1] if cutoff is None else cutoff
        ws[:, :stop] = self.w_avg.lerp(ws[:, :stop], psi)
        return ws


class StyleGANGenerator(nn.Module):
    """``mapping`` followed by ``synthesis``; ``family`` and ``config`` say how to rebuild it."""

    def __init__(self, family: str, config: dict[str, Any], mapping: MappingNetwork,
                 synthesis: nn.Module):
        super().__init__()
        self.family, self.config = family, config
        self.z_dim, self.c_dim, self.w_dim = mapping.z_dim, mapping.c_dim, mapping.w_dim
        self.img_resolution = config["img_resolution"]
        self.img_channels = config["img_channels"]
        self.num_ws = synthesis.num_ws
        self.mapping, self.synthesis = mapping, synthesis

    @property
    def layer_groups(self) -> tuple[tuple[str, int, int], ...]:
        """(label, first, stop) over the ``num_ws`` style inputs, coarse to fine."""
        return self.synthesis.layer_groups

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, psi: float = 1.0,
                cutoff: int | None = None, **synthesis_options: Any) -> torch.Tensor:
        return self.synthesis(self.mapping(z, c, psi, cutoff), **synthesis_options)


def build_stylegan(family: str, config: dict[str, Any],
                   seed: int | None = 0) -> StyleGANGenerator:
    """A StyleGAN2 or StyleGAN3 generator from its config (see the module doc), with random
    initial weights drawn from ``seed``, or left uninitialised when ``seed`` is None."""
    if family == "stylegan2":
        from ganstudio.engine.nets.stylegan2 import SynthesisNetwork
    elif family == "stylegan3":
        from ganstudio.engine.nets.stylegan3 import SynthesisNetwork
    else:
        raise ConfigError(f"Unknown StyleGAN family {family!r}; use stylegan2 or stylegan3.")
    synthesis = SynthesisNetwork(config["w_dim"], config["img_resolution"],
                                 config["img_channels"], **config.get("synthesis", {}))
    mapping = MappingNetwork(config["z_dim"], config["c_dim"], config["w_dim"],
                             synthesis.num_ws, **config.get("mapping", {}))
    generator = StyleGANGenerator(family, config, mapping, synthesis)
    if seed is not None:
        rng = torch.Generator().manual_seed(seed)
        for module in generator.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters(rng)
    return generator
