"""BigGAN-deep generators in the pytorch-pretrained-BigGAN format: a folder holding
``config.json`` and ``pytorch_model.bin`` (a state dict written by ``torch.save``), or either of
those two files with the other beside it. The state dict is read with ``weights_only=True``."""

from __future__ import annotations

import json
import math
import pickle
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch

from ganstudio.engine.errors import CheckpointError, ConfigError

NAME = "biggan-folder"
DESCRIPTION = "BigGAN-deep folders of pytorch-pretrained-BigGAN (config.json + pytorch_model.bin)"
CONFIG_NAME, WEIGHTS_NAME = "config.json", "pytorch_model.bin"
MAX_CONFIG_BYTES = 1 << 20
MAX_PARAMETERS = 2_000_000_000
_CONFIG_KEYS = {"output_dim": int, "z_dim": int, "class_embed_dim": int, "channel_width": int,
                "num_classes": int, "layers": list, "attention_layer_position": int,
                "eps": float, "n_stats": int}
_BOUNDS = {"z_dim": (1, 4096), "class_embed_dim": (1, 4096), "channel_width": (8, 1024),
           "num_classes": (1, 100_000), "n_stats": (2, 1001), "output_dim": (4, 4096),
           "attention_layer_position": (0, 64)}


@dataclass(frozen=True)
class BigGANInfo:
    config: dict[str, Any]  # config.json, checked; rebuilds the network with nets.biggan.BigGAN
    classes: tuple[str, ...]  # the ImageNet class names for 1,000 classes, else "class 0" …
    config_path: Path
    weights_path: Path


def _files(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        return path / CONFIG_NAME, path / WEIGHTS_NAME
    if path.name == CONFIG_NAME:
        return path, path.with_name(WEIGHTS_NAME)
    return path.with_name(CONFIG_NAME), path


def sniff(path: Path, head: bytes) -> bool:
    """A folder, config.json or weights file with a BigGAN-deep config.json beside it."""
    config_path, weights_path = _files(path)
    try:
        if not weights_path.is_file() or config_path.stat().st_size > MAX_CONFIG_BYTES:
            return False
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and {"layers", "attention_layer_position",
                                         "n_stats", "channel_width"} <= set(config)


def read_config(path: Path) -> dict[str, Any]:
    """config.json with every key BigGAN needs, of the right type and within sane bounds."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{path} is too large to be a BigGAN config.json.")
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise CheckpointError(f"{path} could not be read ({e.strerror or e}).") from None
    except ValueError as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}).") from None
    return check_config(config, path.name)


def check_config(config: Any, where: str) -> dict[str, Any]:
    """A BigGAN-deep config (from config.json, or a converted checkpoint's metadata) with every
    key BigGAN needs, of the right type and within sane bounds."""
    if not isinstance(config, dict):
        raise CheckpointError(f"{where} does not hold a BigGAN config (a JSON object).")
    for key, kind in _CONFIG_KEYS.items():
        value = config.get(key)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float \
            else isinstance(value, kind) and not isinstance(value, bool)
        if not ok:
            raise CheckpointError(f"{where} lacks {key} (a {kind.__name__}) or has "
                                  f"{key}={value!r}.")
        if key in _BOUNDS and not _BOUNDS[key][0] <= value <= _BOUNDS[key][1]:
            raise CheckpointError(f"{where} has {key}={value}; GAN Studio expects "
                                  f"{_BOUNDS[key][0]} to {_BOUNDS[key][1]}.")
    layers = config["layers"]
    if not 1 <= len(layers) <= 64 or not all(
            isinstance(layer, list) and len(layer) == 3 and isinstance(layer[0], bool)
            and all(isinstance(m, int) and 1 <= m <= 64 for m in layer[1:]) for layer in layers):
        raise CheckpointError(f"{where} has layers that are not [upsample, in, out] "
                              "triples of a flag and two channel multipliers.")
    # the first map has 16 × channel_width channels, the last channel_width; a block keeps or
    # halves its input's
    chain = [16] + [layer[2] for layer in layers]
    if chain[-1] != 1 or any(layer[1] != chain[i] or layer[2] not in (layer[1], layer[1] / 2)
                             for i, layer in enumerate(layers)):
        raise CheckpointError(f"{where} has layers whose channels do not chain: from 16 "
                              "to 1 times channel_width, each starting where the last ended "
                              "and keeping or halving them.")
    upsamplings = sum(1 for layer in layers if layer[0])
    if config["output_dim"] != 4 * 2**upsamplings:
        raise CheckpointError(f"{where} says output_dim={config['output_dim']}, but its "
                              f"layers upsample 4 px to {4 * 2**upsamplings} px.")
    if config["class_embed_dim"] != config["z_dim"]:
        raise CheckpointError(f"{where} has class_embed_dim {config['class_embed_dim']} ≠ "
                              f"z_dim {config['z_dim']}; BigGAN-deep needs them equal.")
    return {key: config[key] for key in _CONFIG_KEYS}


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True,
                           mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path.name} was refused: it holds pickled Python objects beyond tensors "
            f"({str(e).splitlines()[0] if str(e) else 'unsupported'}), and loading them could "
            "run code.") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path.name} is damaged or truncated, or is not a PyTorch file "
                              f"({str(e).splitlines()[0] if str(e) else type(e).__name__}).") \
            from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{path.name} does not hold a state dict of named tensors.")
    return state


def open_biggan(path: str | Path):
    """``(BigGAN, BigGANInfo)`` from a pytorch-pretrained-BigGAN folder (or one of its files);
    the network is in eval mode on the CPU."""

    config_path, weights_path = _files(Path(path))
    for needed in (config_path, weights_path):
        if not needed.is_file():
            raise CheckpointError(f"{needed} does not exist; a BigGAN folder holds "
                                  f"{CONFIG_NAME} and {WEIGHTS_NAME}.")
    config = read_config(config_path)
    where = config_path.parent.name or str(config_path.parent)
    module = rebuild_biggan(config, lambda: _read_state(weights_path), where)
    return module, BigGANInfo(config, class_names(config["num_classes"]), config_path,
                              weights_path)


def rebuild_biggan(config: dict[str, Any], read_state, where: str):
    """Our BigGAN-deep with the tensors ``read_state()`` returns, loaded by name: the network is
    sized on the meta device first, so a config asking for a giant network costs nothing."""
    from ganstudio.engine.nets import check_state_fits
    from ganstudio.engine.nets.biggan import BigGAN

    try:
        with torch.device("meta"):  # sizes only, before anything is allocated
            expected = {k: tuple(t.shape) for k, t in BigGAN(config).state_dict().items()}
    except (ConfigError, ValueError, IndexError) as e:
        raise CheckpointError(f"{where}: the config describes a network GAN Studio cannot "
                              f"build ({e}).") from None
    total = sum(math.prod(s) for s in expected.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(f"{where}: the config describes {total:,} numbers; GAN Studio "
                              f"opens up to {MAX_PARAMETERS:,}.")
    state = read_state()
    check_state_fits(expected, state, where, "the BigGAN-deep its config describes")
    with torch.inference_mode(False):  # plain tensors, even when called in inference mode
        module = BigGAN(config)
        module.load_state_dict({k: t.float() for k, t in state.items()}, strict=True)
    return module.eval().requires_grad_(False)


def class_names(num_classes: int) -> tuple[str, ...]:
    names = imagenet_class_names()
    return names if num_classes == len(names) else tuple(
        f"class {i}" for i in range(num_classes))


def load(path: Path):
    """A BigGAN-deep folder's generator, behind the generator interface."""
    from ganstudio.engine.generators import biggan_model

    module, info = open_biggan(path)
    return biggan_model(module, info.config_path.parent, "biggan",
                        {"family": "biggan", "network": info.config}, info.classes,
                        dataset="ImageNet")


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet classes BigGAN was trained on, by index (0 tench … 999 toilet tissue)."""
    from ganstudio.resources import resources_dir

    text = (resources_dir() / "imagenet_classes.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())
