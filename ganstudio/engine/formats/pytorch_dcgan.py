"""Generator state dicts of the PyTorch DCGAN example (``netG.pth``), read with
``torch.load(weights_only=True)``: nz, ngf, nc and the image size come from the shapes."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ganstudio.engine.checkpoint import safe_torch_load
from ganstudio.engine.errors import CheckpointError
from ganstudio.engine.generator import Generator
from ganstudio.engine.readers import zip_names

NAME = "pytorch-dcgan"
DESCRIPTION = "PyTorch DCGAN-example generator state dicts (netG.pth, .pt)"

MAX_IMAGE_SIZE = 1024
# torch.save's files: a zip archive with data.pkl, or the legacy format, which opens with the
# pickled magic number 0x1950a86a20f9469cfc6c.
_LEGACY_MAGIC = b"\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"
_CONV_KEY = re.compile(r"main\.(\d+)\.weight$")
_NESTING_KEYS = ("netG", "generator", "G", "state_dict", "model")


def sniff(path: Path, head: bytes) -> bool:
    if head[:1] == b"\x80" and _LEGACY_MAGIC in head[:16]:
        return True
    if not head.startswith(b"PK\x03\x04"):
        return False
    names = zip_names(path, CheckpointError) or []
    return any(n.rpartition("/")[2] == "data.pkl" for n in names)


def load(path: Path) -> Generator:
    from ganstudio.engine.nets.dcgan import DCGANGenerator

    obj = safe_torch_load(path)
    state = _find_dcgan_state(obj)
    if state is None:
        raise CheckpointError(
            f"{path} holds tensors, but not a generator laid out like the PyTorch DCGAN "
            "example (main.0.weight … ConvTranspose2d layers)."
        )
    convs = sorted(
        (int(m.group(1)), t) for k, t in state.items()
        if (m := _CONV_KEY.fullmatch(k)) and t.dim() == 4
    )
    first, last = convs[0][1], convs[-1][1]
    nz, start = int(first.shape[0]), int(first.shape[2])
    channels = tuple(int(t.shape[1]) for _, t in convs[:-1])
    nc = int(last.shape[1])
    size = start * 2 ** (len(convs) - 1)
    if size > MAX_IMAGE_SIZE or nc not in (1, 3):
        raise CheckpointError(
            f"{path} would draw {nc}-channel images of {size} px; GAN Studio opens DCGAN "
            f"generators of 1 or 3 channels up to {MAX_IMAGE_SIZE} px."
        )
    try:
        module = DCGANGenerator(nz, channels, nc, start)
        module.load_state_dict({k: v.float() if v.is_floating_point() else v
                                for k, v in state.items()})
    except (RuntimeError, IndexError, ValueError) as e:
        raise CheckpointError(
            f"{path} looks like a DCGAN generator but its layers do not fit the DCGAN "
            f"example's layout ({str(e).splitlines()[0]})."
        ) from None
    module.eval().requires_grad_(False)
    return Generator(
        module=module, path=path, source=NAME, z_dim=nz, kind="images",
        shape=(nc, module.size, module.size), output_range=(-1.0, 1.0),
        meta={"nz": nz, "ngf": int(channels[-1]), "nc": nc, "image_size": module.size},
    )


def _find_dcgan_state(obj, depth: int = 0) -> dict[str, torch.Tensor] | None:
    """The netG state dict inside ``obj``: the dict itself, or one nested under a key."""
    if not isinstance(obj, dict) or depth > len(_NESTING_KEYS):
        return None
    tensors = {k.removeprefix("module."): v for k, v in obj.items()
               if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if sum(1 for k, v in tensors.items() if _CONV_KEY.fullmatch(k) and v.dim() == 4) >= 2:
        return tensors
    for key in _NESTING_KEYS:
        found = _find_dcgan_state(obj.get(key), depth + 1)
        if found is not None:
            return found
    return None
