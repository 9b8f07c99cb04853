"""CIFAR-10 and CIFAR-100, in the binary and the Python versions their publisher ships.

The binary version is fixed-size records: a label byte (CIFAR-100: coarse then fine) and 3,072
bytes of pixels, the red plane, then green, then blue, each 32 × 32 row by row. A batch whose
size is not a whole number of records is refused as cut short.

The Python version is a pickle of a dict with a numpy array, written by Python 2. It is read
with a restricted unpickler: the only globals it admits are numpy's array and dtype
reconstruction (and the latin-1 encoding Python 3 writes bytes with), each mapped to a
stand-in of ours that only records its arguments, so that no code from the file can run.
Anything else (``os.system``, ``builtins.eval`` …) is refused and the file named.

A folder holding the batches (or the folder the tarball unpacks to), a single batch file, or
the publisher's tarball itself (via the tar reader) can be opened.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ganstudio.engine.data.sources import ArraySource
from ganstudio.engine.errors import DatasetError

PIXELS = 3 * 32 * 32
MAX_BATCH_BYTES = 1 << 30
_BATCH_NAME = re.compile(r"^(data_batch_[1-9]|test_batch|train|test)(\.bin)?$")
_DTYPES = {"u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"}


# --- the restricted unpickler --------------------------------------------------------------


class _NdarrayClass:
    """Stands in for ``numpy.ndarray``: only ever passed to ``_reconstruct``."""


class _ArrayState:
    """What ``numpy.core.multiarray._reconstruct`` would build: its state, kept as data."""

    def __init__(self) -> None:
        self.state: tuple | None = None

    def __setstate__(self, state) -> None:
        self.state = state


class _DtypeState:
    """Stands in for ``numpy.dtype(spec, align, copy)``: the spec and state, as data."""

    def __init__(self, spec, align=0, copy=0) -> None:
        self.spec, self.state = spec, None

    def __setstate__(self, state) -> None:
        self.state = state


def _reconstruct(cls, shape, typecode) -> _ArrayState:
    if cls is not _NdarrayClass:
        raise pickle.UnpicklingError("_reconstruct was asked for something other than an array")
    return _ArrayState()


def _latin1(text, encoding="latin1") -> bytes:
    """Python 3's protocol-2 spelling of bytes: ``_codecs.encode(text, 'latin1')``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode was called with something other than text")
    return text.encode("latin1")


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NdarrayClass,
    ("numpy", "dtype"): _DtypeState,
    ("_codecs", "encode"): _latin1,
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"it asks for {module}.{name}, which could run code"
            ) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it refers to persistent objects")


def load_python_batch(data: bytes, name: str) -> dict:
    """The dict of a CIFAR Python-version file, its arrays as numpy arrays; no code runs."""
    try:
        raw = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except EOFError:
        raise DatasetError(f"{name} is cut short. Download the set again.") from None
    except pickle.UnpicklingError as e:
        if "truncated" in str(e):
            raise DatasetError(f"{name} is cut short. Download the set again.") from None
        raise DatasetError(f"{name} was refused: {e}.") from None
    except Exception as e:  # a broken pickle can raise almost anything
        raise DatasetError(f"{name} is not a CIFAR batch GAN Studio can read ({e}).") from None
    if not isinstance(raw, dict):
        raise DatasetError(f"{name} is not a CIFAR batch (it holds a {type(raw).__name__}).")
    return {_text(k): _array(v, name) if isinstance(v, _ArrayState) else v
            for k, v in raw.items()}


def _text(value) -> str:
    return value.decode("latin1") if isinstance(value, bytes) else str(value)


def _array(stub: _ArrayState, name: str) -> np.ndarray:
    state = stub.state
    if isinstance(state, tuple) and len(state) == 5:
        state = state[1:]
    if not (isinstance(state, tuple) and len(state) == 4):
        raise DatasetError(f"{name} holds an array with no data.")
    shape, dtype_state, fortran, payload = state
    if not isinstance(dtype_state, _DtypeState) or not isinstance(payload, bytes):
        raise DatasetError(f"{name} holds an array of objects, which is refused.")
    spec = _text(dtype_state.spec)
    order = "<"
    if isinstance(dtype_state.state, tuple) and len(dtype_state.state) > 1:
        order = _text(dtype_state.state[1])
    if spec not in _DTYPES or order not in ("<", ">", "|", "="):
        raise DatasetError(f"{name} holds an array of type {spec!r}, which is refused.")
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise DatasetError(f"{name} holds an array of shape {shape!r}.")
    dtype = np.dtype(spec).newbyteorder(order if order != "|" else "=")
    if math.prod(shape) * dtype.itemsize != len(payload):
        raise DatasetError(
            f"{name} is damaged: an array of shape {shape} does not fit its {len(payload):,} bytes."
        )
    return np.frombuffer(payload, dtype).reshape(shape, order="F" if fortran else "C")


# --- finding and reading batches -----------------------------------------------------------


def is_python_batch(head: bytes) -> bool:
    return head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04")


def binary_record_size(path: Path) -> int | None:
    """3,073 (CIFAR-10) or 3,074 (CIFAR-100) for a file named or sized like a binary batch."""
    match = _BATCH_NAME.match(path.name)
    if match and match.group(2):
        return PIXELS + (2 if match.group(1) in ("train", "test") else 1)
    if path.suffix == ".bin":
        size = path.stat().st_size
        for record in (PIXELS + 1, PIXELS + 2):
            if size and size % record == 0:
                return record
    return None


class CifarSource(ArraySource):
    format = "cifar"

    def __init__(self, path: Path, images: np.ndarray, labels: np.ndarray,
                 classes: tuple[str, ...], description: str, files: list[Path]):
        super().__init__(path, images, classes=classes, labels=labels, description=description)
        self._files = files

    def files(self) -> list[Path]:
        return self._files


Reader = Callable[[], bytes]


def open_file(path: Path) -> CifarSource:
    """A single batch file, binary or Python version; class names from a meta file beside it."""
    metas = sorted(p for p in path.parent.iterdir() if p.is_file() and p.name in _META_NAMES)
    entries = {p.name: _file_reader(p) for p in [*metas, path]}
    return _read(path, entries, [path.name], [path, *metas])


def open_folder(folder: Path, split: str) -> CifarSource | None:
    """The batches of a folder, or of the one CIFAR folder inside it; None when it has none."""
    inside = sorted(p for p in folder.iterdir()
                    if p.name.lower().startswith("cifar") and p.is_dir())
    for where in (folder, *inside):
        # Names first: an image folder of many thousand files is not stat-ed here.
        entries = {p.name: p for p in where.iterdir()
                   if (_BATCH_NAME.match(p.name) or p.name in _META_NAMES) and p.is_file()}
        chosen = _batches(set(entries), split)
        if chosen is not None:
            files = [entries[n] for n in sorted(entries) if n in chosen or n in _META_NAMES]
            return _read(where, {n: _file_reader(p) for n, p in entries.items()}, chosen, files)
    return None


def open_tar(path: Path, tar: tarfile.TarFile, members: list[tarfile.TarInfo],
             split: str) -> CifarSource | None:
    """CIFAR batches inside a tar (the publisher's tarball); None when it holds none."""
    by_name = {m.name.rsplit("/", 1)[-1]: m for m in members if m.isfile()}
    chosen = _batches(set(by_name), split)
    if chosen is None:
        return None

    def reader(member: tarfile.TarInfo) -> Reader:
        def read() -> bytes:
            if member.size > MAX_BATCH_BYTES:
                raise DatasetError(f"{path.name}/{member.name} is too large for a CIFAR batch.")
            f = tar.extractfile(member)
            return f.read() if f is not None else b""
        return read

    try:
        return _read(path, {n: reader(m) for n, m in by_name.items()}, chosen, [path],
                     prefix=f"{path.name}/")
    finally:
        tar.close()


_META_NAMES = {"batches.meta", "batches.meta.txt", "meta", "fine_label_names.txt"}


def _batches(names: set[str], split: str) -> list[str] | None:
    """The batch names of a split, in order, when ``names`` hold a CIFAR set."""
    for suffix in ("", ".bin"):
        train = sorted(n for n in names if re.fullmatch(rf"data_batch_[1-9]{re.escape(suffix)}", n))
        if train:
            test = [f"test_batch{suffix}"] if f"test_batch{suffix}" in names else []
        elif f"train{suffix}" in names and (suffix or "meta" in names):
            train = [f"train{suffix}"]
            test = [f"test{suffix}"] if f"test{suffix}" in names else []
        else:
            continue
        chosen = {"train": train, "test": test, "all": train + test}[split]
        return chosen or None
    return None


def _file_reader(path: Path) -> Reader:
    def read() -> bytes:
        if path.stat().st_size > MAX_BATCH_BYTES:
            raise DatasetError(f"{path.name} is too large for a CIFAR batch.")
        return path.read_bytes()
    return read


def _read(path: Path, entries: dict[str, Reader], chosen: list[str], files: list[Path],
          prefix: str = "") -> CifarSource:
    images, labels = [], []
    hundred = False
    python = not chosen[0].endswith(".bin")
    for name in chosen:
        data = entries[name]()
        shown = prefix + name
        if python:
            x, y, hundred = _python_batch(data, shown)
        else:
            x, y, hundred = _binary_batch(data, shown, name)
        images.append(x)
        labels.append(y)
    n_classes = 100 if hundred else 10
    classes = _class_names(entries, hundred, python) or tuple(str(k) for k in range(n_classes))
    label_array = np.concatenate(labels)
    if label_array.size and (label_array.min() < 0 or label_array.max() >= len(classes)):
        raise DatasetError(f"{prefix}{chosen[0]} has labels outside 0–{len(classes) - 1}.")
    version = "Python" if python else "binary"
    split_words = ", ".join(chosen)
    description = f"CIFAR-{n_classes} ({version} version: {split_words})"
    x = images[0] if len(images) == 1 else np.concatenate(images)
    return CifarSource(path, x, label_array, classes, description, files)


def _binary_batch(data: bytes, shown: str, name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    hundred = name in ("train.bin", "test.bin") or (
        len(data) % (PIXELS + 1) != 0 and len(data) % (PIXELS + 2) == 0
    )
    record = PIXELS + (2 if hundred else 1)
    if not data or len(data) % record:
        raise DatasetError(
            f"{shown} is cut short: {len(data):,} bytes is not a whole number of "
            f"{record:,}-byte CIFAR records. Download the set again."
        )
    rows = np.frombuffer(data, np.uint8).reshape(-1, record)
    labels = rows[:, record - PIXELS - 1].astype(np.int64)  # CIFAR-100: the fine label
    pixels = rows[:, record - PIXELS:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(pixels), labels, hundred


def _python_batch(data: bytes, shown: str) -> tuple[np.ndarray, np.ndarray, bool]:
    batch = load_python_batch(data, shown)
    pixels = batch.get("data")
    hundred = "fine_labels" in batch
    labels = batch.get("fine_labels" if hundred else "labels")
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 2 \
            or pixels.shape[1] != PIXELS:
        raise DatasetError(f"{shown} is not a CIFAR batch: it has no N × 3072 uint8 'data'.")
    if not isinstance(labels, list) or len(labels) != len(pixels) \
            or not all(isinstance(v, int) for v in labels):
        raise DatasetError(f"{shown} is not a CIFAR batch: it has no label per image.")
    images = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(labels, np.int64), hundred


def _class_names(entries: dict[str, Reader], hundred: bool, python: bool) -> tuple[str, ...]:
    try:
        if python:
            name, key = ("meta", "fine_label_names") if hundred else ("batches.meta",
                                                                      "label_names")
            if name not in entries:
                return ()
            names = load_python_batch(entries[name](), name).get(key)
            if isinstance(names, list):
                return tuple(_text(n) for n in names)
            return ()
        name = "fine_label_names.txt" if hundred else "batches.meta.txt"
        if name not in entries:
            return ()
        text = entries[name]().decode("utf-8", "replace")
        return tuple(line.strip() for line in text.splitlines() if line.strip())
    except DatasetError:
        return ()
