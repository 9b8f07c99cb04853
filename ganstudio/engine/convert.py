"""``ganstudio convert``: any generator GAN Studio opens, as a GAN Studio checkpoint.

A StyleGAN pickle is parsed once (slowly and carefully, by the restricted unpickler) and then
opens from a safetensors file with metadata that rebuilds it: its family (``stylegan2``,
``stylegan3``, ``biggan``, or one of GAN Studio's own), its network config and its classes.
A torch.export program cannot be rebuilt from a config, so it stays as it is.
"""

from __future__ import annotations

from pathlib import Path

from ganstudio.engine.checkpoint import save_generator
from ganstudio.engine.errors import CheckpointError
from ganstudio.engine.generator import Generator
from ganstudio.engine.generators import PRETRAINED_FAMILIES


def checkpoint_meta(generator: Generator) -> dict:
    """Metadata that rebuilds ``generator`` from a GAN Studio checkpoint of its tensors."""
    origin = {"file": generator.path.name, "source": generator.source}
    if generator.source == "ganstudio":
        return {**generator.meta, "converted_from": origin}
    if generator.source == "pytorch-dcgan":
        return _dcgan_example_meta(generator, origin)
    family = generator.meta.get("family")
    if family not in PRETRAINED_FAMILIES:
        raise CheckpointError(
            f"{generator.path.name} is a {generator.source} generator, which GAN Studio cannot "
            "rebuild from a config; it opens as it is (a torch.export program is already a "
            "format that runs no code).")
    extra = {k: generator.meta[k] for k in ("codebase", "training_set", "pickle_protocol")
             if k in generator.meta}
    return {
        "step": generator.step or 0,
        "family": family,
        "network": generator.meta["network"],
        "dataset": {"name": generator.dataset or generator.path.stem, "kind": "images",
                    "shape": list(generator.shape), "classes": list(generator.classes),
                    "description": f"converted from {generator.path.name}"},
        "output_range": list(generator.output_range),
        "converted_from": {**origin, **extra},
    }


def _dcgan_example_meta(generator: Generator, origin: dict) -> dict:
    """The DCGAN example's netG is GAN Studio's dcgan family (same layer names) when its
    channels follow a layout of that family."""
    from ganstudio.engine.nets.dcgan import BASE_CHANNELS, LAYOUTS

    nc, size = generator.shape[0], generator.shape[-1]
    ngf = generator.meta["ngf"]
    start, mults = LAYOUTS.get(size, (None, ()))
    channels = [t.shape[1] for k, t in generator.module.state_dict().items()
                if k.endswith(".weight") and t.dim() == 4][:-1]
    if start is None or channels != [ngf * m for m in mults]:
        raise CheckpointError(
            f"{generator.path.name} is a DCGAN of a layout GAN Studio's dcgan family does not "
            "build (channels and image size); it opens as it is.")
    return {
        "step": 0, "family": "dcgan",
        "model": {"family": "dcgan", "conditional": False, "z_dim": generator.z_dim,
                  "hidden": 256, "depth": 3, "width": ngf / BASE_CHANNELS},
        "dataset": {"name": generator.path.stem, "kind": "images", "shape": [nc, size, size],
                    "classes": [], "description": f"converted from {generator.path.name}"},
        "output_range": [-1.0, 1.0],
        "converted_from": origin,
    }


def convert(generator: Generator, out: str | Path, half: bool = False,
            replace: bool = False) -> Path:
    """Write ``generator`` as a GAN Studio checkpoint (``half``: float tensors as fp16)."""
    meta = checkpoint_meta(generator)
    return save_generator(out, generator.module.state_dict(), meta, half=half, replace=replace)
