"""Images as numpy arrays: ``.npy`` or ``.npz``, read with ``allow_pickle=False``.

Shapes N × H × W (grey) or N × H × W × C with C = 1 or 3 (N × C × H × W is recognised too);
uint8, or floats in [0, 1] or [-1, 1]. A ``.npy`` is memory-mapped, so it may be larger than
memory; its labels can sit beside it as ``<name>_labels.npy``. A ``.npz`` names its images
``images`` (or ``x``, ``x_train``, ``data``, or is the only image-shaped array) and its labels
``labels`` (or ``y``, ``y_train``, ``targets``), with optional class names in ``classes``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ganstudio.engine.data.sources import ArraySource
from ganstudio.engine.errors import DatasetError

_IMAGE_KEYS = ("images", "x", "x_train", "data")
_LABEL_KEYS = ("labels", "y", "y_train", "targets")
_CHUNK = 4096  # images scanned at once for a float array's range


class NumpySource(ArraySource):
    format = "numpy"

    def __init__(self, path: Path, images: np.ndarray, labels: np.ndarray | None,
                 class_names: list[str] | None, files: list[Path]):
        images, value_range = _image_array(images, path.name)
        classes: tuple[str, ...] = ()
        index = None
        if labels is not None:
            labels = _label_array(labels, len(images), path.name)
            values, index = np.unique(labels, return_inverse=True)
            if class_names is not None and values.min() >= 0 and values.max() < len(class_names):
                classes = tuple(class_names[v] for v in values)
            else:
                classes = tuple(str(v) for v in values)
        super().__init__(path, images, value_range, classes=classes,
                         labels=None if index is None else index.astype(np.int64),
                         description=f"numpy array {'×'.join(map(str, images.shape))}")
        self._files = files

    def files(self) -> list[Path]:
        return self._files


def is_npz(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def open_npy(path: Path) -> NumpySource:
    images = _load(path, mmap=True)
    labels_path = path.with_name(f"{path.stem}_labels.npy")
    labels = _load(labels_path, mmap=False) if labels_path.is_file() else None
    files = [path] + ([labels_path] if labels is not None else [])
    return NumpySource(path, images, labels, None, files)


def open_npz(path: Path) -> NumpySource:
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.files)
            image_key = next((k for k in _IMAGE_KEYS if k in keys), None)
            if image_key is None:
                shaped = [k for k in keys if len(z[k].shape) in (3, 4)]
                if len(shaped) != 1:
                    raise DatasetError(
                        f"{path.name} holds {', '.join(keys) or 'no arrays'}; name the images "
                        "array 'images' (N × H × W or N × H × W × C)."
                    )
                image_key = shaped[0]
            images = z[image_key]
            label_key = next((k for k in _LABEL_KEYS if k in keys), None)
            labels = z[label_key] if label_key else None
            names = None
            if "classes" in keys:
                names = [str(c) for c in z["classes"].tolist()]
    except DatasetError:
        raise
    except ValueError as e:
        raise DatasetError(f"{path.name} was refused: {e} (arrays of objects need "
                           "pickle, which could run code).") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DatasetError(f"{path.name} is not a readable .npz file ({e}).") from None
    return NumpySource(path, images, labels, names, [path])


def _load(path: Path, mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as e:
        raise DatasetError(f"{path.name} was refused: {e} (arrays of objects need pickle, "
                           "which could run code).") from None
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path.name} is not a readable .npy file ({e}).") from None


def _image_array(images: np.ndarray, name: str) -> tuple[np.ndarray, tuple[float, float]]:
    """(N, H, W, C) with C 1 or 3, and the range its values span."""
    if images.ndim == 3:
        images = images[..., None]
    elif images.ndim == 4 and images.shape[3] not in (1, 3, 4) and images.shape[1] in (1, 3):
        images = images.transpose(0, 2, 3, 1)
    if images.ndim != 4 or images.shape[3] not in (1, 3, 4) or 0 in images.shape[1:]:
        raise DatasetError(
            f"{name} holds an array of shape {images.shape}; images need N × H × W or "
            "N × H × W × C with C = 1 or 3."
        )
    if images.shape[3] == 4:
        images = images[..., :3]  # RGBA: the colour, without its alpha
    if images.dtype == np.uint8:
        return images, (0.0, 255.0)
    if images.dtype.kind not in "fiu":
        raise DatasetError(f"{name} holds {images.dtype} values; images need numbers.")
    lo, hi = _range(images)
    if images.dtype.kind in "iu" and lo >= 0 and hi <= 255:
        return images, (0.0, 255.0)
    if images.dtype.kind == "f" and lo >= -1.0 - 1e-6 and hi <= 1.0 + 1e-6:
        return images, ((-1.0, 1.0) if lo < 0 else (0.0, 1.0))
    raise DatasetError(
        f"{name} holds values from {lo:g} to {hi:g}; images need uint8 (0–255) or floats "
        "in [0, 1] or [-1, 1]."
    )


def _range(images: np.ndarray) -> tuple[float, float]:
    lo, hi = np.inf, -np.inf
    for start in range(0, len(images), _CHUNK):
        chunk = np.asarray(images[start : start + _CHUNK])
        if chunk.dtype.kind == "f" and not np.isfinite(chunk).all():
            return float("nan"), float("nan")
        lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
    return lo, hi


def _label_array(labels: np.ndarray, count: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != count or labels.dtype.kind not in "iu":
        raise DatasetError(
            f"{name}: the labels are {labels.dtype} of shape {labels.shape}; they need one "
            f"whole number per image ({count:,})."
        )
    return labels.astype(np.int64)
