"""The generator interface: every generator GAN Studio samples from, trained here or opened.

A :class:`Generator` knows the latent space the explorer edits. For DCGAN-like networks that
is z itself; StyleGAN-like networks edit W (the mapping network's output) and take one latent
per synthesis layer. Everything that samples (the explorer, ``ganstudio sample``, exports,
GANSpace) goes through this interface::

    z = generator.sample_z(n, seed)                       # the noise the network was trained on
    latents = generator.to_latent(z, labels)              # into the edited space (z or w)
    latents = generator.truncate(latents, psi)            # towards the space's mean latent
    images = generator.render(latents, labels, options)   # outputs in generator.output_range

Labels are class indices (n,) or class vectors (n, classes): a vector mixes classes, which is
how a class morph and BigGAN's class mixing are expressed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ganstudio.engine import latent

Tensor = torch.Tensor
NOISE_MODES = ("const", "random", "none")


@dataclass(frozen=True)
class RenderOptions:
    """What a render needs besides latents and labels; each generator uses what applies to it.

    ``psi`` is what the network itself does with the truncation value (BigGAN chooses its
    batch-norm statistics with it); latents are truncated before ``render`` in every case.
    ``noise_mode`` and ``noise_seed`` drive StyleGAN's per-pixel noise inputs, ``transform``
    StyleGAN3's input (translate x, translate y, rotation in degrees).
    """

    psi: float = 1.0
    noise_mode: str = "const"
    noise_seed: int = 0
    transform: tuple[float, float, float] | None = None


@dataclass
class Generator:
    """A generator ready to sample, with what is known about its samples.

    This base class serves every network whose edited latent space is its input z
    (GAN Studio's own families, the DCGAN example, torch.export programs). Networks with a
    mapping network override the latent-space methods.
    """

    module: torch.nn.Module
    path: Path
    source: str  # "ganstudio", "pytorch-dcgan", "torch-export", ...
    z_dim: int
    kind: str  # "images" or "points"
    shape: tuple[int, ...]  # per sample
    output_range: tuple[float, float] | None
    classes: tuple[str, ...] = ()
    step: int | None = None
    dataset: str | None = None
    meta: dict = field(default_factory=dict)

    latent_space = "z"

    @property
    def latent_dim(self) -> int:
        return self.z_dim

    @property
    def num_ws(self) -> int:
        """How many per-layer latents the network takes (1: one for the whole network)."""
        return 1

    @property
    def layer_groups(self) -> tuple[tuple[str, int, int], ...]:
        """(label, first, stop) ranges over the per-layer latents, coarse to fine."""
        return ()

    @property
    def conditional(self) -> bool:
        return bool(self.classes)

    @property
    def title(self) -> str:
        parts = [self.path.name]
        if self.dataset:
            parts.append(self.dataset)
        if self.step is not None:
            parts.append(f"step {self.step}")
        return " · ".join(parts)

    @property
    def feature_source(self) -> str:
        """Where GANSpace takes its PCA: an early layer, or the output of an opaque program."""
        return "first layer" if hasattr(self.module, "features") else "output"

    # --- the latent space ---------------------------------------------------------------

    def sample_z(self, n: int, seed: int, psi: float = 1.0) -> Tensor:
        """``n`` latents of the noise the network was trained on, the same for a seed."""
        return latent.sample_latents(n, self.z_dim, seed)

    def to_latent(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z into the space the explorer edits (here: z itself)."""
        return z

    def mean_latent(self, labels: Tensor | None = None) -> Tensor:
        """The latent that truncation pulls towards."""
        return torch.zeros(self.latent_dim)

    def truncate(self, latents: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
        """Move latents towards the mean latent (ψ 1: unchanged, 0: the mean).

        ``cutoff`` truncates only the first ``cutoff`` per-layer latents of an
        (n, num_ws, dim) tensor, as StyleGAN's tools do.
        """
        if psi == 1.0:
            return latents
        mean = self.mean_latent()
        if cutoff is None or latents.dim() == 2:
            return latent.truncate(latents, mean, psi)
        out = latents.clone()
        out[:, :cutoff] = latent.truncate(latents[:, :cutoff], mean, psi)
        return out

    def broadcast(self, latents: Tensor) -> Tensor:
        """(n, dim) → (n, num_ws, dim): one latent per layer, for per-layer edits."""
        if latents.dim() == 3:
            return latents
        return latents[:, None, :].expand(-1, self.num_ws, -1).clone()

    # --- sampling -----------------------------------------------------------------------

    @torch.no_grad()
    def render(self, latents: Tensor, labels: Tensor | None = None,
               options: RenderOptions | None = None) -> Tensor:
        """Outputs for latents in the edited space: (n, C, H, W) images or (n, 2) points."""
        if latents.dim() == 3:  # per-layer latents of a one-input network are all the same
            latents = latents[:, 0]
        if self.conditional:
            return self.module(latents, self._labels(labels, latents.shape[0]))
        return self.module(latents)

    def render_stages(self, latents: Tensor, labels: Tensor | None = None,
                      options: RenderOptions | None = None) -> Iterator[Tensor]:
        """Outputs from coarse to fine, the last the full render: networks that build their
        image in stages (StyleGAN2's ToRGB skips) yield a preview after each stage, at the
        final size; the others yield once."""
        yield self.render(latents, labels, options)

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers whose feature maps can be shown, input to output."""
        if self.kind != "images":
            return ()
        kinds = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
        return tuple(name for name, m in self.module.named_modules() if isinstance(m, kinds))

    @torch.no_grad()
    def layer_features(self, latents: Tensor, layer: str, labels: Tensor | None = None,
                       options: RenderOptions | None = None) -> Tensor:
        """The feature maps (n, C, H, W) of one of :attr:`layers` for these latents."""
        if layer not in self.layers:
            raise KeyError(f"{self.path.name} has no layer {layer!r}")
        captured: list[Tensor] = []
        module = dict(self.module.named_modules())[layer]
        handle = module.register_forward_hook(lambda m, args, out: captured.append(out))
        try:
            self.render(latents, labels, options)
        finally:
            handle.remove()
        return captured[-1].float()

    @torch.no_grad()
    def features(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        """Early-layer activations for GANSpace (n, F); the output of an opaque program."""
        tap = getattr(self.module, "features", None)
        if tap is None:
            return self.render(latents, labels).flatten(1)
        if latents.dim() == 3:
            latents = latents[:, 0]
        if self.conditional:
            return tap(latents, self._labels(labels, latents.shape[0])).flatten(1)
        return tap(latents).flatten(1)

    def _labels(self, labels: Tensor | None, n: int) -> Tensor:
        """Labels as the network takes them: class 0 when none are given."""
        if labels is None:
            return torch.zeros(n, dtype=torch.long)
        return labels

    def class_vectors(self, labels: Tensor) -> Tensor:
        """Class indices (n,) → one-hot class vectors (n, classes); vectors pass through."""
        if labels.dim() == 2:
            return labels.float()
        return torch.nn.functional.one_hot(labels.long(), len(self.classes)).float()

    def can_mix_classes(self) -> bool:
        """Whether the network takes class vectors (a class morph), not only indices."""
        return self.conditional and bool(getattr(self.module, "takes_class_vectors", False))
