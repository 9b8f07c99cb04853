"""NVIDIA StyleGAN2-ADA and StyleGAN3 network pickles, read without running anything from them.

A snapshot ``.pkl`` is a pickled dict (``G``, ``D``, ``G_ema``, ``augment_pipe``,
``training_set_kwargs``; released files may hold only some of these). Each network went through
``torch_utils.persistence``: unpickling it calls ``_reconstruct_persistent_obj(meta)``, whose
``meta`` holds the module's whole Python source, the class name and the object's ``__dict__``
(parameters, buffers, child modules, ``_init_kwargs``). NVIDIA's loader compiles and runs that
source. Ours never looks at it: a restricted unpickler maps each global the format uses to a
stand-in of our own that rebuilds plain data (a :class:`PersistentObject` per network), refuses
every other global, and rebuilds the tensors from their storage bytes with a parser of its own.
The network itself is then rebuilt from its init kwargs by GAN Studio's implementation
(``ganstudio.engine.nets.stylegan2`` / ``stylegan3``) and its weights loaded by name.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganstudio.engine.errors import CheckpointError

NAME = "stylegan-pickle"
DESCRIPTION = "NVIDIA StyleGAN2-ADA / StyleGAN3 network pickles (.pkl)"
OPENS = (
    "GAN Studio opens network pickles of NVIDIA's PyTorch StyleGAN2-ADA and StyleGAN3 code "
    "(snapshots with G, D, G_ema), pytorch-pretrained-BigGAN folders, and its own checkpoints"
)

MAX_TENSOR_DIMS = 8
MAX_PARAMETERS = 2_000_000_000  # elements in the rebuilt generator; the largest release is ~0.1 G
MAX_LIST_ARRAY = 4096  # numpy arrays up to this size become lists; larger ones tensors


# --- what a snapshot holds, as plain data --------------------------------------------------------


@dataclass
class PersistentObject:
    """One network (or child module) of a snapshot: its class name, how it was built, its tensors.

    ``tensors`` holds its own parameters and buffers by name (``None`` for a buffer registered as
    None); ``children`` its child modules; ``attributes`` every other plain field of its
    ``__dict__`` (``num_ws``, ``img_resolution``, ``padding`` …).
    """

    class_name: str
    init_kwargs: dict[str, Any]
    tensors: dict[str, torch.Tensor | None] = field(default_factory=dict)
    children: dict[str, PersistentObject] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)

    def state_dict(self, prefix: str = "") -> dict[str, torch.Tensor]:
        """Every tensor at and below this object by dotted path, as ``state_dict`` names them."""
        out = {prefix + k: t for k, t in self.tensors.items() if t is not None}
        for name, child in self.children.items():
            out.update(child.state_dict(f"{prefix}{name}."))
        return out

    def child(self, name: str) -> PersistentObject | None:
        return self.children.get(name)


@dataclass
class StyleGANSnapshot:
    """The plain contents of a snapshot: its networks and the other entries (training kwargs …)."""

    path: Path
    protocol: int
    networks: dict[str, PersistentObject]
    extras: dict[str, Any]


# --- the restricted unpickler -------------------------------------------------------------------


class _Refused(Exception):
    """Raised inside the unpickler; turned into a CheckpointError that names the file."""


class _NumpyDType:
    """``numpy.dtype(descr, align, copy)`` for plain numeric dtypes only."""

    _NUMERIC = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4",
                          "f8", "c8", "c16"})

    def __init__(self, descr: Any, align: Any = False, copy: Any = False):
        if not isinstance(descr, str) or descr.lstrip("<>|=") not in self._NUMERIC:
            what = "Python objects (object dtype)" if str(descr).startswith("O") else repr(descr)
            raise _Refused(f"a numpy array or scalar of {what}")
        self.descr = descr
        self.byteorder = "<"

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise _Refused("a numpy dtype with an unusual layout")
        if len(state) > 3 and (state[2] is not None or state[3] is not None):
            raise _Refused("a structured numpy dtype")
        self.byteorder = state[1]

    def numpy(self) -> np.dtype:
        order = "<" if self.byteorder == "|" else self.byteorder
        return np.dtype(order + self.descr)


class _NumpyArrayMarker:
    """Stands for ``numpy.ndarray``, which only ever appears as ``_reconstruct``'s argument."""


class _NumpyArray:
    """An array rebuilt from ``numpy.core.multiarray._reconstruct`` and its pickled state."""

    def __init__(self, subtype: Any, shape: Any = (0,), dtype: Any = b"b"):
        if subtype is not _NumpyArrayMarker:
            raise _Refused("a numpy array of a class other than numpy.ndarray")
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise _Refused("a numpy array with an unusual layout")
        _, shape, dtype, fortran, data = state
        if not isinstance(dtype, _NumpyDType):
            raise _Refused("a numpy array without a plain dtype")
        if not isinstance(data, bytes):
            raise _Refused("a numpy array of Python objects (object dtype)")
        if not _is_shape(shape):
            raise _Refused("a numpy array with an impossible shape")
        dt = dtype.numpy()
        if math.prod(shape) * dt.itemsize != len(data):
            raise _Refused("a numpy array whose data does not fit its shape")
        flat = np.frombuffer(data, dtype=dt)
        self.array = flat.reshape(shape, order="F" if fortran else "C")


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, _NumpyDType):
        raise _Refused("a numpy scalar without a plain dtype")
    dt = dtype.numpy()
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise _Refused("a numpy scalar of Python objects")
    return np.frombuffer(data, dtype=dt)[0].item()


class _EasyDict(dict):
    """``dnnlib.util.EasyDict``: a dict, nothing more."""


def _plain_dict(*args: Any) -> dict:
    if args and not isinstance(args[0], (list, tuple, dict)):
        raise _Refused("an OrderedDict built from something other than items")
    return dict(*args[:1])


def _plain_set(items: Any = ()) -> set:
    if not isinstance(items, (list, tuple)):
        raise _Refused("a set built from something other than a list")
    return set(items)


def _is_shape(shape: Any) -> bool:
    return (isinstance(shape, tuple) and len(shape) <= MAX_TENSOR_DIMS
            and all(isinstance(s, int) and 0 <= s < 2**40 for s in shape))


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> torch.Tensor:
    if not isinstance(storage, _Storage):
        raise _Refused("a tensor whose storage is not a plain torch storage")
    if not (isinstance(offset, int) and offset >= 0 and _is_shape(size) and _is_shape(stride)
            and len(size) == len(stride)):
        raise _Refused("a tensor with an impossible shape")
    numel = storage.data.numel()
    if math.prod(size) and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= numel:
        raise _Refused(f"a tensor of shape {list(size)} larger than its storage")
    if not math.prod(size) and offset > numel:
        raise _Refused("a tensor that starts beyond its storage")
    return torch.as_strided(storage.data, size, stride, offset)


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise _Refused("a parameter that is not a tensor")
    return data


@dataclass
class _Storage:
    data: torch.Tensor  # 1-D, the storage's elements


def _persistent_object(meta: Any) -> PersistentObject:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise _Refused("a persistent object that is not a class instance")
    class_name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise _Refused("a persistent object without a class name and state")
    # meta["module_src"] is the module's Python source: deliberately never read.
    tensors: dict[str, torch.Tensor | None] = {}
    for key in ("_parameters", "_buffers"):
        group = state.get(key, {})
        if not isinstance(group, dict):
            raise _Refused(f"a module whose {key} is not a dict")
        for name, t in group.items():
            if not isinstance(name, str) or not (t is None or isinstance(t, torch.Tensor)):
                raise _Refused(f"a module entry {name!r} that is not a tensor")
            tensors[name] = t
    children = {}
    for name, child in state.get("_modules", {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise _Refused(f"a child module {name!r} that is not a persistent network")
        children[name] = child
    kwargs = _plain(state.get("_init_kwargs", {}))
    if not isinstance(kwargs, dict):
        raise _Refused("init kwargs that are not a dict")
    attributes = _plain({k: v for k, v in state.items()
                         if isinstance(k, str) and k != "training" and not k.startswith("_")})
    return PersistentObject(class_name, kwargs, tensors, children, attributes)


def _plain(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """Plain Python data (dicts, lists, tuples, sets, numbers, strings, tensors) from stand-ins.

    Shared objects stay shared (``memo``): a pickle can reference one list from many places, and
    copying each reference would blow up a small file into an enormous structure.
    """
    memo = {} if memo is None else memo
    if id(value) in memo:
        return memo[id(value)]
    if isinstance(value, (dict, list)):
        out: Any = {} if isinstance(value, dict) else []
        memo[id(value)] = out  # first, in case the value contains itself
        if isinstance(value, dict):
            out.update((k, _plain(v, memo)) for k, v in value.items())
        else:
            out.extend(_plain(v, memo) for v in value)
        return out
    if isinstance(value, tuple):
        out = memo[id(value)] = tuple(_plain(v, memo) for v in value)
        return out
    if isinstance(value, _NumpyArray):
        array = value.array if value.array is not None else np.zeros(0)
        out = array.tolist() if array.size <= MAX_LIST_ARRAY else torch.from_numpy(array.copy())
        memo[id(value)] = out
        return out
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, set,
                                           torch.Tensor, PersistentObject)):
        return value
    raise _Refused(f"a {type(value).__name__} where plain data was expected")


# --- storages: a legacy torch.save stream of one storage ----------------------------------------

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_VERSION = 1001
_STORAGE_TYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class _StorageUnpickler(pickle.Unpickler):
    """Reads the small pickles of a legacy ``torch.save`` stream: plain data and storage types."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        raise _Refused(f"a tensor storage that names the Python global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], torch.dtype) and isinstance(pid[2], str)
                and isinstance(pid[4], int) and pid[5] is None):
            raise _Refused("a tensor storage with an unusual layout")
        return pid


def _storage_from_bytes(blob: Any) -> _Storage:
    """Parse ``torch.storage._load_from_bytes``'s argument: magic, version, system info, one storage
    reference, its key list, then its element count and raw little-endian bytes."""
    if not isinstance(blob, bytes):
        raise _Refused("a tensor storage that is not bytes")
    f = io.BytesIO(blob)

    def next_pickle() -> Any:
        try:
            return _StorageUnpickler(f).load()
        except _Refused:
            raise
        except Exception:
            raise _Refused("a damaged tensor storage") from None

    if next_pickle() != _LEGACY_MAGIC or next_pickle() != _LEGACY_VERSION:
        raise _Refused("a tensor storage that is not a torch.save stream")
    info = next_pickle()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise _Refused("a tensor storage written on a big-endian machine")
    ref, keys = next_pickle(), next_pickle()
    if not isinstance(ref, tuple) or keys != [ref[2]]:
        raise _Refused("a tensor storage with an unusual layout")
    dtype, numel = ref[1], ref[4]
    head = f.read(8)
    if len(head) != 8 or struct.unpack("<q", head)[0] != numel:
        raise _Refused("a damaged tensor storage")
    data = f.read()
    if len(data) != numel * torch.empty((), dtype=dtype).element_size():
        raise _Refused("a tensor storage whose data does not fit its size")
    if numel == 0:
        return _Storage(torch.empty(0, dtype=dtype))
    return _Storage(torch.frombuffer(bytearray(data), dtype=dtype))


_GLOBALS = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _persistent_object,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _NumpyArray,
    ("numpy._core.multiarray", "_reconstruct"): _NumpyArray,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): _NumpyArrayMarker,
    ("numpy", "dtype"): _NumpyDType,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("builtins", "set"): _plain_set,
    ("collections", "OrderedDict"): _plain_dict,
}


class _SnapshotUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        stand_in = _GLOBALS.get((module, name))
        if stand_in is not None:
            return stand_in
        if module.startswith("dnnlib.tflib"):
            raise _Refused(
                f"a TensorFlow-era StyleGAN network ({module}.{name}); convert it with the "
                "legacy.py of NVIDIA's stylegan2-ada-pytorch first"
            )
        raise _Refused(f"the Python global {module}.{name}, which a StyleGAN network never uses")


# --- reading a snapshot ---------------------------------------------------------------------------


def sniff(path: Path, head: bytes) -> bool:
    """A pickle (protocol 2–5) that names NVIDIA's ``torch_utils`` or ``dnnlib`` modules."""
    return (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
            and (b"torch_utils" in head or b"dnnlib" in head))


def read_snapshot(path: str | Path) -> StyleGANSnapshot:
    """The plain contents of a StyleGAN network pickle; a CheckpointError when it is refused."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path} could not be read ({e.strerror or e}).") from None
    if not (len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5):
        raise CheckpointError(f"{path.name} is not a Python pickle. {OPENS}.")
    try:
        top = _plain(_SnapshotUnpickler(io.BytesIO(data)).load())
    except _Refused as e:
        raise CheckpointError(f"{path.name} was refused: it holds {e}. {OPENS}.") from None
    except RecursionError:
        raise CheckpointError(f"{path.name} was refused: it nests data absurdly deep.") from None
    except Exception as e:  # the unpickler raises many types for a damaged file
        raise CheckpointError(
            f"{path.name} is damaged or truncated ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else 'no detail'})."
        ) from None
    if isinstance(top, PersistentObject):  # a single network pickled on its own
        top = {"G_ema": top}
    if not isinstance(top, dict):
        raise CheckpointError(f"{path.name} holds a {type(top).__name__}, not a snapshot. {OPENS}.")
    networks = {k: v for k, v in top.items() if isinstance(v, PersistentObject)}
    if not networks:
        raise CheckpointError(f"{path.name} holds no network (no G, G_ema). {OPENS}.")
    try:
        for network in networks.values():
            _check_network(network, set())
    except _Refused as e:
        raise CheckpointError(f"{path.name} was refused: it holds {e}. {OPENS}.") from None
    except RecursionError:
        raise CheckpointError(f"{path.name} was refused: it nests modules absurdly deep.") \
            from None
    extras = {k: v for k, v in top.items() if k not in networks}
    return StyleGANSnapshot(path, data[1], networks, extras)


def _check_network(obj: PersistentObject, seen: set[int]) -> None:
    """Every field of the tree has the type it is built with, and no module appears twice: a
    pickle may rewrite an object's fields after building it (the BUILD opcode) and reference one
    object from many places, so the result is checked, not trusted."""
    if id(obj) in seen:
        raise _Refused("a module used twice, or inside itself")
    seen.add(id(obj))
    if not (isinstance(obj.class_name, str) and isinstance(obj.init_kwargs, dict)
            and isinstance(obj.attributes, dict) and isinstance(obj.tensors, dict)
            and isinstance(obj.children, dict)
            and all(isinstance(k, str) and (t is None or isinstance(t, torch.Tensor))
                    for k, t in obj.tensors.items())
            and all(isinstance(k, str) and isinstance(c, PersistentObject)
                    for k, c in obj.children.items())):
        raise _Refused("a network whose fields were rewritten after it was built")
    for child in obj.children.values():
        _check_network(child, seen)


# --- rebuilding the generator -----------------------------------------------------------------

# init kwargs that change nothing at inference in float32 (mixed precision, EMA rates, layout)
_INERT = {"num_fp16_res", "fp16_channels_last", "channels_last", "magnitude_ema_beta",
          "fused_modconv_default", "w_avg_beta"}
_MAPPING_KEYS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier"}
_SYNTHESIS_KEYS = {
    "stylegan2": {"channel_base", "channel_max", "architecture", "resample_filter", "conv_clamp",
                  "kernel_size", "use_noise", "activation"},
    "stylegan3": {"channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff",
                  "first_stopband", "last_stopband_rel", "margin_size", "output_scale",
                  "conv_kernel", "filter_size", "lrelu_upsampling", "use_radial_filters",
                  "conv_clamp"},
}
# (low, high) for every integer setting: a hostile file must not make us build a giant network
_BOUNDS = {
    "z_dim": (0, 65536), "c_dim": (0, 1_000_000), "w_dim": (1, 65536),
    "img_resolution": (4, 16384), "img_channels": (1, 64), "num_layers": (1, 64),
    "embed_features": (1, 65536), "layer_features": (1, 65536), "channel_base": (1, 2**24),
    "channel_max": (1, 65536), "kernel_size": (1, 9), "conv_kernel": (1, 9),
    "num_critical": (0, 64), "margin_size": (0, 1024), "filter_size": (1, 64),
    "lrelu_upsampling": (1, 8),
}


@dataclass(frozen=True)
class StyleGANInfo:
    """What :func:`open_stylegan_pickle` learnt about the file beside the network itself."""

    family: str  # "stylegan2" or "stylegan3"
    codebase: str  # "stylegan2-ada-pytorch" or "stylegan3"
    config: dict[str, Any]  # rebuilds the network: nets.stylegan.build_stylegan(family, config)
    network: str  # the entry opened, e.g. "G_ema"
    networks: tuple[str, ...]  # every network the file holds
    pickle_protocol: int
    training_set: dict[str, Any]  # the snapshot's training_set_kwargs ({} when absent)


def generator_config(obj: PersistentObject, where: str) -> tuple[str, str, dict[str, Any]]:
    """``(family, codebase, config)`` of a generator, from its init kwargs and structure."""
    mapping, synthesis = obj.child("mapping"), obj.child("synthesis")
    if obj.class_name != "Generator" or mapping is None or synthesis is None:
        raise CheckpointError(f"{where} is a {obj.class_name}, not a StyleGAN generator "
                              "(a Generator with mapping and synthesis networks).")
    if synthesis.child("input") is not None:
        family = "stylegan3"
    elif synthesis.child("b4") is not None:
        family = "stylegan2"
    else:
        raise CheckpointError(f"{where}'s synthesis network is neither StyleGAN2 (blocks b4 …) "
                              "nor StyleGAN3 (an input layer and layers L0 …).")
    kwargs = dict(obj.init_kwargs)
    codebase = "stylegan2-ada-pytorch" if "synthesis_kwargs" in kwargs else "stylegan3"
    mapping_kwargs = kwargs.pop("mapping_kwargs", None) or {}
    synthesis_kwargs = kwargs.pop("synthesis_kwargs", None) or {}
    if not isinstance(mapping_kwargs, dict) or not isinstance(synthesis_kwargs, dict):
        raise CheckpointError(f"{where}'s mapping_kwargs and synthesis_kwargs are not dicts.")
    mapping_kwargs, synthesis_kwargs = dict(mapping_kwargs), dict(synthesis_kwargs)
    config: dict[str, Any] = {}
    for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        if key not in kwargs:
            raise CheckpointError(f"{where}'s init kwargs lack {key}.")
        config[key] = kwargs.pop(key)
    synthesis_kwargs.update(kwargs)  # the stylegan3 codebase passes them flat
    mapping_kwargs.setdefault("num_layers", mapping.attributes.get("num_layers", 8))
    config["mapping"] = _known(mapping_kwargs, _MAPPING_KEYS, where, "mapping")
    config["synthesis"] = _known(synthesis_kwargs, _SYNTHESIS_KEYS[family], where, "synthesis")
    _check_bounds(config, where)
    return family, codebase, config


def check_config(family: Any, config: Any, where: str) -> tuple[str, dict[str, Any]]:
    """A config read back from JSON (a converted checkpoint's metadata): the same checks as a
    pickle's init kwargs get. ``(family, config)``, or a CheckpointError naming what is wrong."""
    if family not in _SYNTHESIS_KEYS:
        raise CheckpointError(f"{where} names family {family!r}, not stylegan2 or stylegan3.")
    if not isinstance(config, dict) or not isinstance(config.get("mapping", {}), dict) \
            or not isinstance(config.get("synthesis", {}), dict):
        raise CheckpointError(f"{where} has a network config that is not an object of settings.")
    for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        if key not in config:
            raise CheckpointError(f"{where}'s network config lacks {key}.")
    extra = sorted(set(config) - {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels",
                                  "mapping", "synthesis"})
    if extra:
        raise CheckpointError(f"{where}'s network config has unknown settings ({extra[0]}).")
    config = {**config, "mapping": _known(dict(config.get("mapping", {})), _MAPPING_KEYS,
                                          where, "mapping"),
              "synthesis": _known(dict(config.get("synthesis", {})), _SYNTHESIS_KEYS[family],
                                  where, "synthesis")}
    _check_bounds(config, where)
    return family, config


def _known(kwargs: dict, keys: set[str], where: str, part: str) -> dict[str, Any]:
    unknown = sorted(set(kwargs) - keys - _INERT)
    if unknown:
        raise CheckpointError(
            f"{where}'s {part} network was built with options GAN Studio does not implement "
            f"({', '.join(f'{k}={kwargs[k]!r}' for k in unknown)}).")
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in kwargs.items() if k in keys}


def _check_bounds(config: dict[str, Any], where: str) -> None:
    flat = {**config["mapping"], **config["synthesis"],
            **{k: v for k, v in config.items() if not isinstance(v, dict)}}
    for key, value in flat.items():
        if key in _BOUNDS:
            lo, hi = _BOUNDS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise CheckpointError(f"{where} has {key}={value!r}; GAN Studio expects an "
                                      f"integer from {lo} to {hi}.")
        elif isinstance(value, list):
            if len(value) > 64 or not all(isinstance(v, (int, float)) for v in value):
                raise CheckpointError(f"{where} has {key}={value!r:.80}; GAN Studio expects a "
                                      "short list of numbers.")
        elif value is not None and not isinstance(value, (bool, int, float, str)):
            raise CheckpointError(f"{where} has {key}={value!r:.80}, which is not a plain "
                                  "setting.")


def rebuild_generator(family: str, config: dict[str, Any], state: dict[str, torch.Tensor],
                      where: str):
    """Our implementation of the network with ``state`` loaded by name; a CheckpointError when
    the tensors do not have exactly the names and shapes the config implies."""
    from ganstudio.engine.errors import ConfigError
    from ganstudio.engine.nets import check_state_fits
    from ganstudio.engine.nets.stylegan import build_stylegan

    try:
        with torch.device("meta"):  # sizes only: nothing is allocated before they are checked
            module = build_stylegan(family, config, seed=None)
    except (ConfigError, ValueError, TypeError, ArithmeticError, RuntimeError) as e:
        raise CheckpointError(
            f"{where} describes a network GAN Studio cannot build ({e}).") from None
    expected = {k: tuple(t.shape) for k, t in module.state_dict().items()}
    total = sum(math.prod(s) for s in expected.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(f"{where} describes a network of {total:,} numbers; GAN Studio "
                              f"opens up to {MAX_PARAMETERS:,}.")
    check_state_fits(expected, state, where, f"the {family} network its settings describe")
    with torch.inference_mode(False):  # plain tensors, even when called in inference mode
        module = build_stylegan(family, config, seed=None)  # for real now; only allocated
        module.load_state_dict(state, strict=True)
    return module.eval().requires_grad_(False)


def open_stylegan_pickle(path: str | Path, which: str = "G_ema"):
    """``(generator, info)``: a ``StyleGANGenerator`` (eval mode, CPU, float32) rebuilt from the
    network ``which`` of the pickle, and a :class:`StyleGANInfo`."""
    path = Path(path)
    snapshot = read_snapshot(path)
    obj = snapshot.networks.get(which)
    if obj is None:
        raise CheckpointError(f"{path.name} holds no {which} (it holds "
                              f"{', '.join(snapshot.networks)}).")
    where = f"{path.name} ({which})"
    family, codebase, config = generator_config(obj, where)
    module = rebuild_generator(family, config, obj.state_dict(), where)
    training_set = snapshot.extras.get("training_set_kwargs")
    info = StyleGANInfo(family, codebase, config, which, tuple(snapshot.networks),
                        snapshot.protocol, training_set if isinstance(training_set, dict) else {})
    return module, info


def load(path: Path):
    """The generator (G_ema) of a StyleGAN pickle, behind the generator interface."""
    from ganstudio.engine.generators import stylegan_model

    module, info = open_stylegan_pickle(path)
    meta = {"family": info.family, "network": info.config, "codebase": info.codebase,
            "networks": list(info.networks), "pickle_protocol": info.pickle_protocol,
            "training_set": _json_ready(info.training_set)}
    return stylegan_model(module, path, info.family, meta,
                          dataset=_training_set_name(info.training_set))


def _training_set_name(kwargs: dict[str, Any]) -> str | None:
    """The dataset a snapshot was trained on, from its training_set_kwargs (a zip's name)."""
    where = kwargs.get("path")
    return Path(where).stem if isinstance(where, str) and where else None


def _json_ready(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return None
    if isinstance(value, dict):
        return {str(k): _json_ready(v, depth + 1) for k, v in list(value.items())[:64]}
    if isinstance(value, (list, tuple, set)):
        return [_json_ready(v, depth + 1) for v in list(value)[:64]]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:200]
