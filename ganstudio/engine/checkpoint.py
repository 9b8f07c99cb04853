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
import math
import os
import pickle
import re
import struct
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors

from ganstudio import __version__
from ganstudio.engine.atomic import atomic_write_bytes, atomic_write_json
from ganstudio.engine.errors import CheckpointError, ConfigError, first_line
from ganstudio.engine.generators import PRETRAINED_FAMILIES
from ganstudio.engine.readers import (
    check_zip,
    open_regular,
    parse_json,
    read_bytes,
    read_json,
)

if TYPE_CHECKING:
    from ganstudio.engine.generator import Generator

FORMAT_VERSION = 1
META_KEY = "ganstudio"
GENERATOR_FORMAT = "ganstudio.generator"
STATE_FORMAT = "ganstudio.training_state"
LATEST = "latest.json"
# safetensors refuses headers above 100 MB; ours are a few KB.
MAX_HEADER_BYTES = 100_000_000
# Files read whole into memory (a checkpoint under a file name that is not UTF-8).
MAX_CHECKPOINT_BYTES = 8 * 2**30
MAX_CLASSES = 100_000
_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
MAX_IMAGE_SIDE = 4096


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
    path: str | Path, state_dict: dict[str, torch.Tensor], meta: dict, half: bool = False,
    *, replace: bool = False,
) -> Path:
    """Write a generator checkpoint atomically; ``half`` stores float tensors as fp16;
    ``replace`` allows replacing an existing file of that name."""
    tensors = {}
    for name, t in state_dict.items():
        t = t.detach().cpu()
        if half and t.is_floating_point():
            t = t.half()
        tensors[name] = t.contiguous()
    full_meta = {"format": GENERATOR_FORMAT, "format_version": FORMAT_VERSION, **meta}
    return atomic_write_bytes(path, _serialize(tensors, full_meta), replace=replace)


def save_training_state(path: str | Path, state: dict[str, Any], meta: dict, *,
                        replace: bool = False) -> Path:
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten_state(state, tensors, "state")
    full_meta = {
        "format": STATE_FORMAT, "format_version": FORMAT_VERSION, **meta, "skeleton": skeleton
    }
    return atomic_write_bytes(path, _serialize(tensors, full_meta), replace=replace)


def _serialize(tensors: dict[str, torch.Tensor], meta: dict) -> bytes:
    meta = {**meta, "ganstudio_version": __version__, "saved": time.strftime("%Y-%m-%dT%H:%M:%S")}
    return save_safetensors(tensors, metadata={META_KEY: json.dumps(meta)})


def write_latest(folder: str | Path, step: int, generator: Path, state: Path) -> Path:
    return atomic_write_json(
        Path(folder) / LATEST,
        {"step": step, "generator": generator.name, "state": state.name}, replace=True,
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


def read_safetensors_header(path: str | Path) -> tuple[dict[str, tuple[int, ...]], dict]:
    """The tensor shapes and the GAN Studio metadata of a safetensors file, read from its header
    alone (no tensor data): ``(shapes, metadata)``, or a CheckpointError."""
    path = Path(path)
    with open_regular(path, CheckpointError) as f:
        size = os.fstat(f.fileno()).st_size
        start = f.read(8)
        if len(start) < 8:
            raise CheckpointError(f"{path} is damaged or truncated: {size} bytes is too short "
                                  "for a safetensors file.")
        length = struct.unpack("<Q", start)[0]
        if length > MAX_HEADER_BYTES or length > size - 8:
            raise CheckpointError(
                f"{path} is damaged or truncated: its header claims {length:,} bytes, and the "
                f"file holds {size:,}. If it was being written when a program stopped, use an "
                "earlier checkpoint."
            )
        header = parse_json(f.read(length), str(path), CheckpointError)
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is damaged: its header is not a JSON object.")
    raw_meta = header.pop("__metadata__", None) or {}
    shapes, end = {}, 0
    for name, entry in header.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise CheckpointError(f"{path} is damaged: tensor {name!r} has no valid shape.")
        offsets = entry.get("data_offsets")
        if (entry.get("dtype") not in _DTYPE_BYTES or not isinstance(offsets, list)
                or len(offsets) != 2 or not all(type(v) is int for v in offsets)
                or not 0 <= offsets[0] <= offsets[1]
                or offsets[1] - offsets[0] != math.prod(shape) * _DTYPE_BYTES[entry["dtype"]]):
            raise CheckpointError(f"{path} is damaged: tensor {name!r} of shape {tuple(shape)} "
                                  "does not match the bytes its header gives it.")
        shapes[name] = tuple(shape)
        end = max(end, offsets[1])
    if end != size - 8 - length:
        raise CheckpointError(
            f"{path} is damaged or truncated: its tensors take {end:,} bytes and the file holds "
            f"{size - 8 - length:,} after its header. If it was being written when a program "
            "stopped, use an earlier checkpoint."
        )
    if not isinstance(raw_meta, dict) or META_KEY not in raw_meta:
        raise CheckpointError(
            f"{path} is a safetensors file without GAN Studio metadata, so the network "
            "it belongs to is unknown. Open a checkpoint written by GAN Studio."
        )
    if not isinstance(raw_meta[META_KEY], str):
        raise CheckpointError(f"{path} is damaged: its GAN Studio metadata is not text.")
    meta = parse_json(raw_meta[META_KEY].encode("utf-8", "surrogatepass"),
                      f"The GAN Studio metadata in {path}", CheckpointError)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path} has damaged GAN Studio metadata: a JSON object was "
                              f"expected, not {_json_kind(meta)}.")
    version = meta.get("format_version", 0)
    if type(version) is not int or version < 0:
        raise CheckpointError(f"{path} has an invalid checkpoint format_version {version!r} "
                              "(a whole number is expected); the file is damaged.")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {version}, newer than this GAN Studio reads "
            f"({FORMAT_VERSION}). Upgrade GAN Studio to open it."
        )
    if not isinstance(meta.get("format"), str):
        raise CheckpointError(f"{path} has damaged GAN Studio metadata: no format name.")
    return shapes, meta


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a GAN Studio safetensors file: ``(tensors, metadata)``, or a CheckpointError."""
    path = Path(path)
    _, meta = read_safetensors_header(path)
    try:
        if _utf8(path):
            with safe_open(str(path), framework="pt") as f:
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (no __iter__)
        else:  # safetensors opens only UTF-8 paths; read this one through Python
            tensors = load_safetensors_bytes(read_bytes(path, CheckpointError,
                                                        MAX_CHECKPOINT_BYTES))
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(
            f"{path} is damaged or not a safetensors file ({first_line(e)}). "
            "If it was being written when a program stopped, use an earlier checkpoint."
        ) from None
    return tensors, meta


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_training_state(path: str | Path) -> tuple[dict[str, Any], dict]:
    """A training state, checked against its schema (see :func:`check_training_state`)."""
    path = Path(path)
    tensors, meta = read_safetensors(path)
    if meta.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not a GAN Studio training state.")
    try:
        state = unflatten_state(meta["skeleton"], tensors)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        raise CheckpointError(f"{path} has a damaged training-state layout.") from None
    check_training_state(state, path)
    return state, meta


def check_training_state(state: Any, path: Path) -> None:
    """The schema of a training state: every field of the right type and size. Checked when it
    is read, so a damaged one is refused before a run is marked as running."""

    def bad(field: str, what: str) -> CheckpointError:
        return CheckpointError(f"{path}: the training state's {field} {what}; the file is "
                               "damaged. Resume from another checkpoint.")

    if not isinstance(state, dict):
        raise bad("layout", "is not an object")
    for key in ("step", "d_steps"):
        if type(state.get(key)) is not int or state[key] < (0 if key == "step" else 1):
            raise bad(key, f"is {state.get(key)!r}, not a whole number")
    elapsed = state.get("elapsed")
    if (not isinstance(elapsed, (int, float)) or isinstance(elapsed, bool)
            or not math.isfinite(elapsed) or elapsed < 0):
        raise bad("elapsed", f"is {elapsed!r}, not a time in seconds")
    if not isinstance(state.get("config"), dict):
        raise bad("config", "is missing")
    try:
        from ganstudio.engine.config import RunConfig, validate

        validate(RunConfig.from_dict(state["config"]))
    except ConfigError as e:
        raise CheckpointError(f"{path}: the training state's config is invalid: "
                              f"{' '.join(str(e).split())}") from None
    required = ["generator", "discriminator"] + (["generator_ema"] if "generator_ema" in state
                                                 else [])
    for key in required:
        weights = state.get(key)
        if not isinstance(weights, dict) or not all(
                isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
            raise bad(key, "is not a set of named tensors")
    for key in ("optim_g", "optim_d"):
        opt = state.get(key)
        if not (isinstance(opt, dict) and isinstance(opt.get("state"), dict)
                and isinstance(opt.get("param_groups"), list)
                and all(isinstance(g, dict) for g in opt["param_groups"])):
            raise bad(key, "is not an optimiser state")
    for key in ("rng_torch", "rng_run", "rng_cuda"):
        rng = state.get(key)
        if key == "rng_cuda" and rng is None:
            continue
        if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or rng.dim() != 1:
            raise bad(key, "is not a random-number generator state (bytes)")
    diag = state.get("diagnostics")
    if diag is not None and not _diagnostics_state(diag):
        raise bad("diagnostics", f"are {diag!r:.80}, not the diagnostics' counters")
    if state["rng_torch"].numel() != torch.get_rng_state().numel():
        raise bad("rng_torch", f"has {state['rng_torch'].numel()} bytes, not "
                  f"{torch.get_rng_state().numel()}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _counter(value: Any) -> bool:
    """A running sum and its count, as the diagnostics keep them."""
    return (isinstance(value, dict) and _number(value.get("sum"))
            and type(value.get("count")) is int and value["count"] >= 0)


def _diagnostics_state(diag: Any) -> bool:
    """The trainer's diagnostics state: r_t's counter, and ADA's with its p (or None)."""
    if not isinstance(diag, dict) or not _counter(diag.get("overfit")):
        return False
    ada = diag.get("ada")
    return ada is None or (_counter(ada) and _number(ada.get("p")) and 0 <= ada["p"] <= 1)


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load(weights_only=True)`` with errors for people; refuses pickled code, and
    tensors that would cost more memory than the file holds."""
    path = Path(path)
    with open_regular(path, CheckpointError) as f:
        if zipfile.is_zipfile(f):
            f.seek(0)
            try:
                with zipfile.ZipFile(f) as archive:
                    check_zip(archive, str(path), CheckpointError)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
                raise CheckpointError(f"{path} is damaged or truncated ({first_line(e)}).") \
                    from None
        f.seek(0)
        try:
            obj = torch.load(f, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            raise CheckpointError(
                f"{path} was refused: it holds pickled Python objects beyond plain tensors "
                f"({pickle_culprit(e)}), and loading them could run code. GAN Studio only "
                "loads weights. Save the model's state_dict() instead, or export it with "
                "torch.export."
            ) from None
        except Exception as e:  # a hostile file can make torch raise anything
            raise CheckpointError(
                f"{path} is damaged or truncated, or is not a PyTorch file ({first_line(e)})."
            ) from None
    _check_tensors(obj, path)
    return obj


def _check_tensors(obj: Any, path: Path) -> None:
    """Refuse tensors that claim more elements than their storage holds (an expanded, stride-0
    tensor of a few bytes that would take gigabytes once used), or that are not plain."""
    seen, stack = set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, torch.Tensor):
            if item.layout != torch.strided:
                raise CheckpointError(f"{path} holds a {item.layout} tensor; GAN Studio loads "
                                      "ordinary (dense) tensors only.")
            if item.numel() * item.element_size() > item.untyped_storage().nbytes():
                raise CheckpointError(
                    f"{path} holds an expanded tensor of shape {tuple(item.shape)} over "
                    f"{item.untyped_storage().nbytes():,} stored bytes; using it would cost far "
                    "more memory than the file holds. Refused."
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)


def pickle_culprit(e: Exception) -> str:
    """What torch's weights-only unpickler refused, in a few words ("the global os.system")."""
    text = str(e)
    if (m := re.search(r"(?:Unsupported|unsupported) (?:global: )?GLOBAL ([\w.]+)", text)):
        return f"the global {m.group(1)}"
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("Unsupported operand", "Trying to call")):
            return line.rstrip(".")[:120]
    return "not a plain state dict"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false"}.get(
        type(value), "a number")


# The names latest.json may give: files beside it, never a path.
_CHECKPOINT_NAME = re.compile(r"[^/\\]+\.safetensors")


def resolve_checkpoint(path: str | Path) -> Path:
    """A generator checkpoint from a file, a checkpoints folder or a run folder (its latest).

    A run folder is one run: the checkpoint its ``latest.json`` names must be a file in that
    folder, not a path out of it (another run's checkpoint, /etc/passwd, a link elsewhere).
    """
    path = Path(path)
    if path.is_dir():
        folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
        pointer = folder / LATEST
        if not pointer.exists():
            raise CheckpointError(f"{path} has no checkpoints yet ({pointer.name} is missing).")
        latest = read_json(pointer, CheckpointError)
        name = latest.get("generator") if isinstance(latest, dict) else None
        if not isinstance(name, str):
            raise CheckpointError(f"{pointer} is damaged (it names no generator); open a "
                                  "checkpoint file directly.")
        target = folder / name
        if (_CHECKPOINT_NAME.fullmatch(name) is None or name.startswith(".")
                or not _inside(target, folder)):
            raise CheckpointError(
                f"{pointer} names {name!r}, which is not a checkpoint in {folder}; a run "
                "folder's checkpoints must be its own. Refused: open a checkpoint file directly."
            )
        return target
    if path.name.endswith(".train.safetensors"):
        return path.with_name(path.name.removesuffix(".train.safetensors") + ".safetensors")
    return path


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, links resolved, lies in ``folder`` (links resolved too)."""
    try:
        real = os.path.realpath(path)
        base = os.path.realpath(folder)
    except (OSError, ValueError):
        return False
    return os.path.commonpath([real, base]) == base and real != base


@dataclass
class CheckpointInfo:
    """What a checkpoint is, read from its metadata without building any network."""

    path: Path
    meta: dict
    params: int

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))


def _read_generator_header(path: str | Path) -> tuple[Path, dict[str, tuple[int, ...]], dict]:
    """A generator checkpoint's header, checked: its metadata against the schema, and its
    tensors against the network the metadata describes, built on the meta device (so a file
    that asks for an enormous network costs nothing before it is refused)."""
    from ganstudio.engine.nets import build_on_meta, check_parameter_count

    path = resolve_checkpoint(path)
    shapes, meta = read_safetensors_header(path)
    if meta.get("format") != GENERATOR_FORMAT:
        raise CheckpointError(
            f"{path} is a training state, not a generator; open the .safetensors file "
            "beside it (without .train)."
        )
    if meta.get("family") in PRETRAINED_FAMILIES:  # a converted StyleGAN or BigGAN
        from ganstudio.engine.generators import check_converted_meta

        check_converted_meta(meta, str(path))
        return path, shapes, meta
    model_cfg, info = check_generator_meta(meta, path)
    try:
        planned = build_on_meta(model_cfg, info)
        check_parameter_count(planned, str(path))
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    except (RuntimeError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path} describes a network GAN Studio cannot build "
                              f"({first_line(e)}).") from None
    expected = {k: tuple(v.shape) for k, v in planned.state_dict().items()}
    if expected != shapes:
        wrong = sorted(set(expected) ^ set(shapes)) or sorted(
            k for k in expected if expected[k] != shapes[k])
        raise CheckpointError(
            f"{path} does not match the network its metadata describes (tensor {wrong[0]!r} "
            "is missing, extra or of another shape); the file may come from a newer GAN Studio."
        )
    return path, shapes, meta


def read_generator_info(path: str | Path) -> CheckpointInfo:
    path, shapes, meta = _read_generator_header(path)
    params = sum(math.prod(shape) for k, shape in shapes.items() if not _is_buffer_name(k))
    return CheckpointInfo(path, meta, params)


def _is_buffer_name(name: str) -> bool:
    return name.endswith(("running_mean", "running_var", "num_batches_tracked"))


def check_generator_meta(meta: dict, path: Path) -> tuple:
    """The schema of a generator checkpoint's metadata: ``(ModelConfig, DatasetInfo)`` rebuilt
    from it, or a CheckpointError naming the field that is wrong."""
    from ganstudio.engine.config import ModelConfig, RunConfig, check_model, section_from_dict
    from ganstudio.engine.data import DatasetInfo

    def bad(field: str, what: str) -> CheckpointError:
        return CheckpointError(f"{path} has damaged GAN Studio metadata: {field} {what}.")

    step = meta.get("step", 0)
    if type(step) is not int or not 0 <= step < 2**63:
        raise bad("step", f"is {step!r}, not a whole number of steps")
    for key, kind in (("family", str), ("loss", str), ("ema", bool)):
        if key in meta and not isinstance(meta[key], kind):
            raise bad(key, f"is {meta[key]!r}")
    if not isinstance(meta.get("model"), dict):
        raise bad("model", "is missing or not an object")
    try:
        model = section_from_dict(ModelConfig, "model", meta["model"])
    except ConfigError as e:
        raise bad("model", f"is invalid ({str(e).rstrip('.')})") from None
    d = meta.get("dataset")
    if not isinstance(d, dict):
        raise bad("dataset", "is missing or not an object")
    kind, shape, classes = d.get("kind"), d.get("shape"), d.get("classes", [])
    if not isinstance(d.get("name"), str) or len(d["name"]) > 200:
        raise bad("dataset.name", f"is {d.get('name')!r}")
    if kind not in ("images", "points"):
        raise bad("dataset.kind", f"is {kind!r}, not images or points")
    valid_shape = isinstance(shape, list) and all(type(v) is int for v in shape) and (
        shape == [2] if kind == "points" else
        len(shape) == 3 and shape[0] in (1, 3) and all(1 <= v <= MAX_IMAGE_SIDE for v in shape))
    if not valid_shape:
        raise bad("dataset.shape", f"is {shape!r}, not the shape of {kind}")
    if (not isinstance(classes, list) or len(classes) > MAX_CLASSES
            or not all(isinstance(c, str) for c in classes)):
        raise bad("dataset.classes", "is not a list of class names")
    if not isinstance(d.get("description", ""), str):
        raise bad("dataset.description", "is not text")
    prepared = d.get("prepared")
    if prepared is not None and not (isinstance(prepared, str)
                                     and re.fullmatch(r"[0-9a-f]{16}", prepared)):
        raise bad("dataset.prepared", f"is {prepared!r}, not the key of a prepared set")
    output_range = meta.get("output_range")
    if output_range is not None and not (
            isinstance(output_range, list) and len(output_range) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in output_range) and output_range[0] < output_range[1]):
        raise bad("output_range", f"is {output_range!r}, not [low, high]")
    if meta.get("config") is not None:
        if not isinstance(meta["config"], dict):
            raise bad("config", "is not an object")
        try:
            RunConfig.from_dict(meta["config"])
        except ConfigError as e:
            raise bad("config", f"is invalid ({str(e).rstrip('.')})") from None
    info = DatasetInfo(d["name"], kind, tuple(shape), tuple(classes), d.get("description", ""))
    problems = check_model(model, info)
    if problems:
        raise CheckpointError(f"{path} has damaged GAN Studio metadata: {problems[0]}.")
    return model, info


# --- generators, rebuilt for sampling --------------------------------------------------------


def load_native_generator(path: str | Path) -> Generator:
    """Rebuild a GAN Studio generator from its checkpoint alone, on the CPU, in eval mode."""
    from ganstudio.engine.generator import Generator
    from ganstudio.engine.nets import build_generator

    path, _, meta = _read_generator_header(path)
    if meta.get("family") in PRETRAINED_FAMILIES:
        from ganstudio.engine.generators import load_converted

        return load_converted(path, meta, lambda: read_safetensors(path)[0])
    model_cfg, info = check_generator_meta(meta, path)
    tensors, _ = read_safetensors(path)
    module = build_generator(model_cfg, info)
    module.load_state_dict({k: t.float() if t.is_floating_point() else t
                            for k, t in tensors.items()})
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
