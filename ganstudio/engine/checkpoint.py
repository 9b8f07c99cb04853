"""Checkpoints: safetensors files with JSON metadata, written atomically, read without running code.

A generator checkpoint (``step_000500.safetensors``) holds the generator's tensors under its
own state-dict names, and metadata enough to rebuild and sample it with no other file. The
training state beside it (``step_000500.train.safetensors``) holds everything else a resume
needs: both networks, the EMA copy, optimisers, RNG states and the step.

Nothing here unpickles: safetensors cannot hold code, and PyTorch files are read only through
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import pickle
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors

from ganstudio import __version__
from ganstudio.engine.atomic import atomic_write_bytes, atomic_write_json
from ganstudio.engine.errors import CheckpointError

if TYPE_CHECKING:
    from ganstudio.engine.generator import Generator

FORMAT_VERSION = 1
META_KEY = "ganstudio"
GENERATOR_FORMAT = "ganstudio.generator"
STATE_FORMAT = "ganstudio.training_state"
LATEST = "latest.json"


# --- nested state ⇄ flat tensors + JSON skeleton --------------------------------------------


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "") -> Any:
    """Move every tensor of a nested state (dicts, lists, numbers) into ``tensors``.

    Returns a JSON-ready skeleton that :func:`unflatten_state` turns back into the original,
    integer dict keys and tuples included (optimiser state dicts use both).
    """
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {"tensor": prefix}
    if isinstance(obj, dict):
        return {"dict": [[k, flatten_state(v, tensors, f"{prefix}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"tuple": [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix!r} in a checkpoint")


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skeleton, dict):
        if "tensor" in skeleton:
            return tensors[skeleton["tensor"]]
        if "tuple" in skeleton:
            return tuple(unflatten_state(v, tensors) for v in skeleton["tuple"])
        return {k: unflatten_state(v, tensors) for k, v in skeleton["dict"]}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


# --- writing ------------------------------------------------------------------------------


def save_generator(
    path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict, half: bool = False
) -> Path:
    """Write a generator checkpoint atomically; ``half`` stores float tensors as fp16."""
    tensors = {}
    for name, t in state_dict.items():
        t = t.detach().cpu()
        if half and t.is_floating_point():
            t = t.half()
        tensors[name] = t.contiguous()
    full_meta = {"format": GENERATOR_FORMAT, "format_version": FORMAT_VERSION, **meta}
    return atomic_write_bytes(path, _serialize(tensors, full_meta))


def save_training_state(path: str | Path, state: dict[str, Any], meta: dict) -> Path:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten_state(state, tensors, "state")
    full_meta = {
        "format": STATE_FORMAT, "format_version": FORMAT_VERSION, **meta, "skeleton": skeleton
    }
    return atomic_write_bytes(path, _serialize(tensors, full_meta))


def _serialize(tensors: dict[str, torch.Tensor], meta: dict) -> bytes:
    meta = {**meta, "ganstudio_version": __version__, "saved": time.strftime("%Y-%m-%dT%H:%M:%S")}
    return save_safetensors(tensors, metadata={META_KEY: json.dumps(meta)})


def write_latest(folder: str | Path, step: int, generator: Path, state: Path) -> Path:
    return atomic_write_json(
        Path(folder) / LATEST,
        {"step": step, "generator": generator.name, "state": state.name},
    )


def checkpoint_paths(folder: str | Path, step: int) -> tuple[Path, Path]:
    folder = Path(folder)
    return folder / f"step_{step:07d}.safetensors", folder / f"step_{step:07d}.train.safetensors"


def state_path_for(generator_path: str | Path) -> Path:
    p = Path(generator_path)
    if p.name.endswith(".train.safetensors"):
        return p
    return p.with_name(p.name.removesuffix(".safetensors") + ".train.safetensors")


# --- reading ------------------------------------------------------------------------------


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a GAN Studio safetensors file: ``(tensors, metadata)``, or a CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw_meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (no __iter__)
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(
            f"{path.name} is damaged or not a safetensors file ({_first_line(e)}). "
            "If it was being written when a program stopped, use an earlier checkpoint."
        ) from None
    if META_KEY not in raw_meta:
        raise CheckpointError(
            f"{path.name} is a safetensors file without GAN Studio metadata, so the network "
            "it belongs to is unknown. Open a checkpoint written by GAN Studio."
        )
    try:
        meta = json.loads(raw_meta[META_KEY])
    except json.JSONDecodeError:
        raise CheckpointError(f"{path.name} has damaged GAN Studio metadata.") from None
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path.name} has checkpoint format {version!r}, newer than this GAN Studio reads "
            f"({FORMAT_VERSION}). Upgrade GAN Studio to open it."
        )
    return tensors, meta


def read_training_state(path: str | Path) -> tuple[dict[str, Any], dict]:
    tensors, meta = read_safetensors(path)
    if meta.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{Path(path).name} is not a GAN Studio training state.")
    try:
        return unflatten_state(meta["skeleton"], tensors), meta
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{Path(path).name} has a damaged training-state layout.") from None


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` with errors for people; refuses pickled code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"{path.name} was refused: it holds pickled Python objects beyond plain tensors "
            f"({_pickle_culprit(e)}), and loading them could run code. GAN Studio only loads "
            "weights. Save the model's state_dict() instead, or export it with torch.export."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(
            f"{path.name} is damaged or truncated, or is not a PyTorch file ({_first_line(e)})."
        ) from None


def _pickle_culprit(e: Exception) -> str:
    text = str(e)
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("Unsupported global", "Unsupported operand", "Trying to call")):
            return line.rstrip(".")
    return "not a plain state dict"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:160] if text else type(e).__name__


def resolve_checkpoint(path: str | Path) -> Path:
    """A generator checkpoint from a file, a checkpoints folder or a run folder (its latest)."""
    path = Path(path)
    if path.is_dir():
        folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
        pointer = folder / LATEST
        if not pointer.is_file():
            raise CheckpointError(f"{path} has no checkpoints yet ({pointer.name} is missing).")
        try:
            latest = json.loads(pointer.read_text(encoding="utf-8"))
            return folder / latest["generator"]
        except (json.JSONDecodeError, KeyError, TypeError, OSError):
            raise CheckpointError(
                f"{pointer} is damaged; open a checkpoint file directly."
            ) from None
    if path.name.endswith(".train.safetensors"):
        return path.with_name(path.name.removesuffix(".train.safetensors") + ".safetensors")
    return path


@dataclass
class CheckpointInfo:
    """What a checkpoint is, read from its metadata without building any network."""

    path: Path
    meta: dict
    params: int

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))


def _read_generator_file(path: str | Path) -> tuple[Path, dict[str, torch.Tensor], dict]:
    path = resolve_checkpoint(path)
    tensors, meta = read_safetensors(path)
    if meta.get("format") != GENERATOR_FORMAT:
        raise CheckpointError(
            f"{path.name} is a training state, not a generator; open the .safetensors file "
            "beside it (without .train)."
        )
    return path, tensors, meta


def read_generator_info(path: str | Path) -> CheckpointInfo:
    path, tensors, meta = _read_generator_file(path)
    params = sum(t.numel() for k, t in tensors.items() if not _is_buffer_name(k))
    return CheckpointInfo(path, meta, params)


def _is_buffer_name(name: str) -> bool:
    return name.endswith(("running_mean", "running_var", "num_batches_tracked"))


# --- generators, rebuilt for sampling --------------------------------------------------------


def load_native_generator(path: str | Path) -> Generator:
    """Rebuild a GAN Studio generator from its checkpoint alone, on the CPU, in eval mode."""
    from ganstudio.engine.config import ModelConfig
    from ganstudio.engine.data import DatasetInfo
    from ganstudio.engine.generator import Generator
    from ganstudio.engine.nets import build_generator

    path, tensors, meta = _read_generator_file(path)
    try:
        model_cfg = ModelConfig(**meta["model"])
        d = meta["dataset"]
        info = DatasetInfo(
            d["name"], d["kind"], tuple(d["shape"]), tuple(d["classes"]), d.get("description", "")
        )
        module = build_generator(model_cfg, info)
        module.load_state_dict({k: t.float() if t.is_floating_point() else t
                                for k, t in tensors.items()})
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{path.name} does not match the network its metadata describes "
            f"({_first_line(e)}); the file may come from a newer GAN Studio."
        ) from None
    module.eval().requires_grad_(False)
    return Generator(
        module=module,
        path=path,
        source="ganstudio",
        z_dim=module.z_dim,
        kind=info.kind,
        shape=info.shape,
        output_range=getattr(module, "output_range", None),
        classes=info.classes if model_cfg.conditional else (),
        step=int(meta.get("step", 0)),
        dataset=info.name,
        meta=meta,
    )
