"""The famous pretrained networks behind the generator interface: StyleGAN and BigGAN.

:class:`StyleGANModel` edits W, the mapping network's output, with one style input per
synthesis layer (``num_ws``): truncation pulls w towards the file's ``w_avg``, per-layer
latents carry style mixing and layer-range edits, StyleGAN2 renders coarse to fine through its
ToRGB skips, StyleGAN3 takes an input transform. :class:`BigGANModel` keeps z: ψ shapes its
truncated noise and picks its batch-norm statistics, and labels may be class vectors that mix
classes.

Both are rebuilt from plain data (a family, a JSON config and named tensors), whether the
tensors came from NVIDIA's pickle, a pytorch-pretrained-BigGAN folder or GAN Studio's own
checkpoint written by :func:`ganstudio.engine.formats.convert` (``ganstudio convert``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ganstudio.engine.generator import Generator, RenderOptions

Tensor = torch.Tensor
STYLEGAN_FAMILIES = ("stylegan2", "stylegan3")
# families rebuilt from a network config in their metadata, not from a ModelConfig
PRETRAINED_FAMILIES = (*STYLEGAN_FAMILIES, "biggan")
BIGGAN_MIN_PSI = 0.02  # BigGAN's statistics are stored for truncations in (0, 1]


@dataclass
class StyleGANModel(Generator):
    """A StyleGAN2 or StyleGAN3 generator (``nets.stylegan.StyleGANGenerator``)."""

    latent_space = "w"

    @property
    def latent_dim(self) -> int:
        return self.module.w_dim

    @property
    def num_ws(self) -> int:
        return self.module.num_ws

    @property
    def layer_groups(self) -> tuple[tuple[str, int, int], ...]:
        return tuple(self.module.layer_groups)

    @property
    def feature_source(self) -> str:
        return "W space"

    @property
    def family(self) -> str:
        return self.module.family

    def _c(self, labels: Tensor | None, n: int) -> Tensor | None:
        if not self.module.c_dim:
            return None
        return self.class_vectors(self._labels(labels, n))

    @torch.no_grad()
    def to_latent(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """w = mapping(z, c), untruncated: (n, w_dim)."""
        return self.module.mapping(z, self._c(labels, z.shape[0]))[:, 0]

    def mean_latent(self, labels: Tensor | None = None) -> Tensor:
        return self.module.mapping.w_avg.detach().clone()

    def _synthesis_options(self, options: RenderOptions | None) -> dict:
        options = options or RenderOptions()
        out = {"noise_mode": options.noise_mode, "noise_seed": options.noise_seed}
        if self.family == "stylegan3" and options.transform is not None:
            from ganstudio.engine.nets.stylegan3 import input_transform

            out["transform"] = input_transform(*options.transform)
        return out

    @torch.no_grad()
    def render(self, latents: Tensor, labels: Tensor | None = None,
               options: RenderOptions | None = None) -> Tensor:
        return self.module.synthesis(self.broadcast(latents), **self._synthesis_options(options))

    @torch.no_grad()
    def render_stages(self, latents: Tensor, labels: Tensor | None = None,
                      options: RenderOptions | None = None) -> Iterator[Tensor]:
        if self.family != "stylegan2":
            yield self.render(latents, labels, options)
            return
        ws = self.broadcast(latents)
        size = self.shape[-1]
        for _, image in self.module.synthesis.progressive(ws, size=size,
                                                          **self._synthesis_options(options)):
            yield image

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.module.synthesis.feature_layers)

    @torch.no_grad()
    def layer_features(self, latents: Tensor, layer: str, labels: Tensor | None = None,
                       options: RenderOptions | None = None) -> Tensor:
        if layer not in self.layers:
            raise KeyError(f"{self.path.name} has no layer {layer!r}")
        return self.module.synthesis.features(self.broadcast(latents), layer,
                                              **self._synthesis_options(options)).float()

    @torch.no_grad()
    def features(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        """GANSpace in W takes its PCA of w itself (Härkönen et al., 2020, for StyleGAN)."""
        return (latents[:, 0] if latents.dim() == 3 else latents).flatten(1)

    def can_mix_classes(self) -> bool:
        return self.conditional  # c enters through a linear embedding: mixtures are fine


@dataclass
class BigGANModel(Generator):
    """A BigGAN-deep (``nets.biggan.BigGAN``): z edited as it is, classes by name or mixed."""

    def sample_z(self, n: int, seed: int, psi: float = 1.0) -> Tensor:
        """BigGAN's noise: a normal truncated to [-2, 2], scaled by ψ (as BigGAN samples)."""
        from ganstudio.engine.nets.biggan import truncated_noise

        g = torch.Generator().manual_seed(int(seed) % (2**63))
        return truncated_noise(n, self.z_dim, max(psi, BIGGAN_MIN_PSI), generator=g)

    def truncate(self, latents: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
        """Unchanged: BigGAN's ψ shapes the noise when it is drawn, and picks statistics."""
        return latents

    @torch.no_grad()
    def render(self, latents: Tensor, labels: Tensor | None = None,
               options: RenderOptions | None = None) -> Tensor:
        psi = min(1.0, max((options or RenderOptions()).psi, BIGGAN_MIN_PSI))
        if latents.dim() == 3:
            latents = latents[:, 0]
        return self.module(latents, self._labels(labels, latents.shape[0]), psi)

    @property
    def layers(self) -> tuple[str, ...]:
        blocks = [f"generator.layers.{i}" for i in range(len(self.module.generator.layers))]
        return ("generator.gen_z", *blocks, "generator.bn")

    @torch.no_grad()
    def layer_features(self, latents: Tensor, layer: str, labels: Tensor | None = None,
                       options: RenderOptions | None = None) -> Tensor:
        out = super().layer_features(latents, layer, labels, options)
        if layer == "generator.gen_z":  # the first map, laid out as the generator reads it
            width = self.module.generator.channel_width
            out = out.reshape(-1, 4, 4, 16 * width).permute(0, 3, 1, 2)
        return out

    @torch.no_grad()
    def features(self, latents: Tensor, labels: Tensor | None = None) -> Tensor:
        """GANSpace takes its PCA of the first layer's activations (of one class)."""
        return self.layer_features(latents, "generator.gen_z", labels).flatten(1)

    def can_mix_classes(self) -> bool:
        return True


def stylegan_model(module, path: Path, source: str, meta: dict, classes: tuple[str, ...] = (),
                   dataset: str | None = None, step: int | None = None) -> StyleGANModel:
    module.eval().requires_grad_(False)
    if module.c_dim and not classes:
        classes = tuple(f"class {i}" for i in range(module.c_dim))
    return StyleGANModel(
        module=module, path=Path(path), source=source, z_dim=module.z_dim, kind="images",
        shape=(module.img_channels, module.img_resolution, module.img_resolution),
        output_range=(-1.0, 1.0), classes=classes, step=step, dataset=dataset, meta=meta)


def biggan_model(module, path: Path, source: str, meta: dict, classes: tuple[str, ...],
                 dataset: str | None = None) -> BigGANModel:
    module.eval().requires_grad_(False)
    return BigGANModel(
        module=module, path=Path(path), source=source, z_dim=module.z_dim, kind="images",
        shape=(3, module.img_resolution, module.img_resolution), output_range=(-1.0, 1.0),
        classes=classes, dataset=dataset, meta=meta)


# --- GAN Studio checkpoints of these networks (written by formats.convert) ----------------------


def check_converted_meta(meta: dict, where: str) -> tuple[str, dict, tuple[str, ...]]:
    """The metadata of a converted StyleGAN or BigGAN checkpoint: ``(family, network config,
    class names)``, each checked as the original file's would be; a CheckpointError names
    what is wrong."""
    from ganstudio.engine.errors import CheckpointError

    family, config = meta.get("family"), meta.get("network")
    if family in STYLEGAN_FAMILIES:
        from ganstudio.engine.formats.stylegan_pickle import check_config

        family, config = check_config(family, config, where)
    elif family == "biggan":
        from ganstudio.engine.formats.biggan_folder import check_config

        config = check_config(config, where)
    else:
        raise CheckpointError(f"{where} names family {family!r}; GAN Studio converts "
                              f"{', '.join(PRETRAINED_FAMILIES)}.")
    dataset = meta.get("dataset", {})
    classes = dataset.get("classes", []) if isinstance(dataset, dict) else None
    if not isinstance(classes, list) or len(classes) > 100_000 or not all(
            isinstance(c, str) for c in classes):
        raise CheckpointError(f"{where} has damaged metadata: dataset.classes is not a list of "
                              "class names.")
    return family, config, tuple(classes)


def load_converted(path: Path, meta: dict, read_state) -> Generator:
    """A StyleGAN or BigGAN rebuilt from a GAN Studio checkpoint (``read_state()`` gives its
    tensors; they are read only once the config has been checked and sized)."""
    family, config, classes = check_converted_meta(meta, str(path))
    dataset = meta.get("dataset", {}).get("name") if isinstance(meta.get("dataset"), dict) \
        else None
    step = meta.get("step") if type(meta.get("step")) is int else None
    if family == "biggan":
        from ganstudio.engine.formats.biggan_folder import class_names, rebuild_biggan

        module = rebuild_biggan(config, read_state, str(path))
        return biggan_model(module, path, "ganstudio", meta,
                            classes or class_names(config["num_classes"]), dataset=dataset)
    from ganstudio.engine.formats.stylegan_pickle import rebuild_generator

    state = {k: t.float() if t.is_floating_point() else t for k, t in read_state().items()}
    module = rebuild_generator(family, config, state, str(path))
    return stylegan_model(module, path, "ganstudio", meta, classes, dataset=dataset, step=step)
