"""IDX files as MNIST, Fashion-MNIST, KMNIST and EMNIST ship them, gzipped or raw.

An IDX file is a 4-byte magic (two zero bytes, a type code, the number of dimensions), the
dimensions as big-endian 32-bit integers, then the values. The header is checked against the
file's size before anything is allocated: a raw file must be exactly as long as its header
says, and a gzipped one is read in pieces, so a header that lies cannot fill the memory.

Point at a folder holding ``train-images-idx3-ubyte(.gz)`` and its siblings, or at one images
file with its labels file beside it. Class names come from the set (found by the path's name:
``fashion``, ``kmnist``, ``emnist``; else the digits), EMNIST's from its ``mapping.txt``.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ganstudio.engine.data.sources import ArraySource
from ganstudio.engine.errors import DatasetError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CHUNK = 1 << 22
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")


def is_idx(head: bytes) -> bool:
    return len(head) >= 8 and head[:2] == b"\0\0" and head[2] in _TYPES and 1 <= head[3] <= 4


class IdxSource(ArraySource):
    """Images (N, H, W) from an IDX file, with labels from its companion file when present."""

    format = "idx"

    def __init__(self, path: Path, images: np.ndarray, labels: np.ndarray | None,
                 files: list[Path], description: str):
        classes: tuple[str, ...] = ()
        index = None
        if labels is not None:
            values, index = np.unique(labels, return_inverse=True)
            names = _class_names(files[0], [int(v) for v in values])
            classes = tuple(names)
        super().__init__(path, images[..., None], classes=classes,
                         labels=None if index is None else index.astype(np.int64),
                         description=description)
        self._files = files

    def files(self) -> list[Path]:
        return self._files


def read_idx(path: Path) -> np.ndarray:
    """The array in an IDX file (raw files are memory-mapped); DatasetError when it lies."""
    with open(path, "rb") as f:
        compressed = f.read(2) == b"\x1f\x8b"
    try:
        if not compressed:
            with open(path, "rb") as f:
                dtype, dims, offset = _header(f, path)
            expected = math.prod(dims) * np.dtype(dtype).itemsize
            actual = path.stat().st_size - offset
            if actual != expected:
                raise DatasetError(_size_message(path, dims, expected, actual))
            return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(dims))
        with gzip.open(path, "rb") as f:
            dtype, dims, offset = _header(f, path)
            expected = math.prod(dims) * np.dtype(dtype).itemsize
            data = bytearray()
            while len(data) <= expected:  # in pieces: only real data takes memory
                piece = f.read(min(_CHUNK, expected + 1 - len(data)))
                if not piece:
                    break
                data += piece
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path.name} is not a readable IDX file ({e}).") from None
    if len(data) != expected:
        raise DatasetError(_size_message(path, dims, expected, len(data)))
    return np.frombuffer(bytes(data), dtype=dtype).reshape(dims)


def _header(f, path: Path) -> tuple[object, list[int], int]:
    head = f.read(4)
    if not is_idx(head + b"\0" * 4):
        raise DatasetError(f"{path.name} is not an IDX file (its first bytes are {head!r}).")
    ndim = head[3]
    raw = f.read(4 * ndim)
    if len(raw) != 4 * ndim:
        raise DatasetError(f"{path.name} is cut short inside its IDX header.")
    return _TYPES[head[2]], list(struct.unpack(f">{ndim}I", raw)), 4 + 4 * ndim


def _size_message(path: Path, dims: list[int], expected: int, actual: int) -> str:
    shape = " × ".join(f"{d:,}" for d in dims)
    more = "more than" if actual > expected else "only"
    return (f"{path.name} is damaged: its header promises {shape} values ({expected:,} bytes) "
            f"but the file holds {more} {actual:,}. Download it again.")


def open_file(path: Path) -> IdxSource:
    """One images file; its labels file (``…labels-idx1-ubyte…``) beside it, when there."""
    images = _images(path)
    labels_path = _labels_path(path)
    labels = None if labels_path is None else _labels(labels_path, len(images))
    files = [path] + ([labels_path] if labels_path is not None else [])
    return IdxSource(path, _upright(images, path), labels, files, _set_name(path))


def open_folder(folder: Path, split: str) -> IdxSource | None:
    """The IDX images files of a folder (or its ``raw/``), for a split; None when it has none."""
    candidates = []
    for where in (folder, folder / "raw"):
        if where.is_dir():
            candidates += [p for p in sorted(where.iterdir())
                           if p.is_file() and "idx" in p.name.lower() and _is_images_file(p)]
    if not candidates:
        return None
    parts = {"train": [], "test": []}
    for p in candidates:
        name = p.name.lower()
        parts["test" if "t10k" in name or "test" in name else "train"].append(p)
    chosen = parts["train"] + parts["test"] if split == "all" else parts[split]
    if not chosen:
        raise DatasetError(f"{folder} has no {split} images file among {candidates[0].name} ….")
    prefixes = {p.name.lower().split("images")[0].replace("train", "").replace("t10k", "")
                .replace("test", "") for p in chosen}
    if len(prefixes) > 1:
        names = ", ".join(p.name for p in chosen)
        raise DatasetError(f"{folder} holds several sets ({names}); point at one images file.")
    arrays, labels, files = [], [], []
    for p in chosen:
        arrays.append(_images(p))
        lp = _labels_path(p)
        labels.append(None if lp is None else _labels(lp, len(arrays[-1])))
        files += [p] + ([lp] if lp is not None else [])
    images = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    all_labels = None
    if all(v is not None for v in labels):
        all_labels = labels[0] if len(labels) == 1 else np.concatenate(labels)
    what = _set_name(chosen[0])
    description = f"{what}, {split} split" if split != "all" else f"{what}, train and test"
    return IdxSource(folder, _upright(images, chosen[0]), all_labels, files, description)


def _is_images_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        if head.startswith(b"\x1f\x8b"):
            with gzip.open(path, "rb") as f:
                head = f.read(8)
    except (OSError, EOFError, zlib.error):
        return False
    return is_idx(head) and head[3] == 3


def _images(path: Path) -> np.ndarray:
    array = read_idx(path)
    if array.ndim != 3 or array.dtype != np.uint8:
        kind = "labels" if array.ndim == 1 else f"{array.ndim}-D {array.dtype}"
        raise DatasetError(
            f"{path.name} holds {kind}, not images (N × H × W bytes); point at the images file "
            "or at the folder holding the set."
        )
    return array


def _labels(path: Path, count: int) -> np.ndarray:
    array = read_idx(path)
    if array.ndim != 1 or array.shape[0] != count:
        raise DatasetError(
            f"{path.name} holds {array.shape} values, not one label per image ({count:,})."
        )
    return np.asarray(array, dtype=np.int64)


def _labels_path(images: Path) -> Path | None:
    name = images.name
    for old, new in (("images-idx3", "labels-idx1"), ("images", "labels")):
        if old in name:
            candidate = images.with_name(name.replace(old, new))
            if candidate.is_file():
                return candidate
    return None


def _upright(images: np.ndarray, path: Path) -> np.ndarray:
    # EMNIST stores each image transposed (column by column) relative to MNIST.
    if "emnist" in path.name.lower():
        return np.ascontiguousarray(images.transpose(0, 2, 1))
    return images


def _set_name(path: Path) -> str:
    text = str(path.resolve()).lower()
    if "emnist" in text:
        return "EMNIST (IDX)"
    if "fashion" in text:
        return "Fashion-MNIST (IDX)"
    if "kmnist" in text or "kuzushiji" in text:
        return "Kuzushiji-MNIST (IDX)"
    if "mnist" in text:
        return "MNIST (IDX)"
    return "IDX images"


def _class_names(images: Path, values: list[int]) -> list[str]:
    kind = _set_name(images)
    table: tuple[str, ...] = ()
    if kind.startswith("Fashion"):
        table = FASHION_CLASSES
    elif kind.startswith("Kuzushiji"):
        table = KMNIST_CLASSES
    elif kind.startswith("EMNIST"):
        mapping = _emnist_mapping(images)
        return [mapping.get(v, str(v)) for v in values]
    return [table[v] if v < len(table) else str(v) for v in values]


def _emnist_mapping(images: Path) -> dict[int, str]:
    """EMNIST's ``emnist-<split>-mapping.txt``: a label and an ASCII code per line."""
    stem = images.name.split("-train")[0].split("-test")[0]
    path = images.with_name(f"{stem}-mapping.txt")
    mapping: dict[int, str] = {}
    try:
        for line in path.read_text(encoding="ascii").splitlines()[:1000]:
            label, code = line.split()[:2]
            mapping[int(label)] = chr(int(code))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return mapping
