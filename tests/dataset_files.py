"""Small dataset files in every format GAN Studio reads, written the way their publishers do."""

from __future__ import annotations

import gzip
import io
import json
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def pixels(seed: int, size: tuple[int, int], channels: int = 3) -> np.ndarray:
    """A smooth random picture (h, w, c) uint8: JPEG keeps it recognisable."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    planes = [np.sin(x * rng.uniform(1, 9) + y * rng.uniform(1, 9) + rng.uniform(0, 6))
              for _ in range(channels)]
    return ((np.stack(planes, axis=2) + 1) * 127.5).astype(np.uint8)


def write_image(path: Path, seed: int = 0, size: tuple[int, int] = (40, 30), mode: str = "RGB",
                **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":  # 16-bit grey: the 8-bit grey of pixels(seed, size, 1), times 257
        image = Image.fromarray(pixels(seed, size, 1)[:, :, 0].astype(np.uint16) * 257)
    else:
        image = Image.fromarray(pixels(seed, size)).convert(mode)
    image.save(path, **save)
    return path


def image_folder(root: Path, classes: dict[str, int], size=(40, 30), suffix=".png") -> Path:
    seed = 0
    for name, count in classes.items():
        for k in range(count):
            write_image(root / name / f"{k:03d}{suffix}", seed, size)
            seed += 1
    return root


def idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08}
    head = bytes([0, 0, codes[array.dtype], array.ndim])
    return head + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def mnist_folder(root: Path, n_train: int = 30, n_test: int = 10, gz: bool = True) -> Path:
    rng = np.random.default_rng(1)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{prefix}-images-idx3-ubyte{ext}",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{ext}",
                  (np.arange(n) % 10).astype(np.uint8), gz)
    return root


def cifar_rows(n: int, hundred: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (n, 3072) and labels, as CIFAR stores them: red plane, green, blue."""
    rng = np.random.default_rng(2)
    return (rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            (np.arange(n) % (100 if hundred else 10)).astype(np.uint8))


def cifar_binary(rows: np.ndarray, labels: np.ndarray, hundred: bool = False) -> bytes:
    lead = [labels[:, None] // 5, labels[:, None]] if hundred else [labels[:, None]]
    return np.concatenate([*lead, rows], axis=1).astype(np.uint8).tobytes()


def py2_pickle(obj) -> bytes:
    """A pickle as Python 2's cPickle wrote CIFAR (protocol 2, str as BINSTRING, numpy 1.x
    arrays through ``numpy.core.multiarray._reconstruct``)."""
    out = bytearray(b"\x80\x02")

    def emit(o) -> None:
        if isinstance(o, dict):
            out.extend(b"}(")
            for k, v in o.items():
                emit(k)
                emit(v)
            out.extend(b"u")
        elif isinstance(o, list):
            out.extend(b"](")
            for v in o:
                emit(v)
            out.extend(b"e")
        elif isinstance(o, tuple):
            out.extend(b"(")
            for v in o:
                emit(v)
            out.extend(b"t")
        elif o is None:
            out.extend(b"N")
        elif isinstance(o, bool):
            out.extend(b"\x88" if o else b"\x89")
        elif isinstance(o, int):
            out.extend(b"J" + struct.pack("<i", o))
        elif isinstance(o, bytes):
            out.extend(b"T" + struct.pack("<I", len(o)) + o)
        elif isinstance(o, np.ndarray):
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n")
            emit((0,))
            emit(b"b")
            out.extend(b"\x87R(")  # TUPLE3, REDUCE, then the state tuple
            emit(1)
            emit(tuple(o.shape))
            out.extend(b"cnumpy\ndtype\n")
            emit((o.dtype.str[1:].encode(), 0, 1))
            out.extend(b"R")
            emit((3, b"|" if o.dtype.itemsize == 1 else b"<", None, None, None, -1, -1, 0))
            out.extend(b"b\x89")  # BUILD the dtype; is_fortran False
            emit(np.ascontiguousarray(o).tobytes())
            out.extend(b"tb")  # the state tuple, BUILD the array
        else:
            raise TypeError(type(o))

    emit(obj)
    return bytes(out + b".")


def cifar_python_batch(rows: np.ndarray, labels: np.ndarray, hundred: bool = False) -> bytes:
    key = b"fine_labels" if hundred else b"labels"
    batch = {b"batch_label": b"training batch 1 of 1", key: [int(v) for v in labels],
             b"data": rows, b"filenames": [b"x.png"] * len(rows)}
    if hundred:
        batch[b"coarse_labels"] = [int(v) // 5 for v in labels]
    return py2_pickle(batch)


CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")


def cifar10_python_folder(root: Path, per_batch: int = 6, batches: int = 2) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k in range(1, batches + 1):
        (root / f"data_batch_{k}").write_bytes(cifar_python_batch(*cifar_rows(per_batch)))
    (root / "test_batch").write_bytes(cifar_python_batch(*cifar_rows(4)))
    (root / "batches.meta").write_bytes(py2_pickle(
        {b"label_names": [n.encode() for n in CIFAR10_NAMES], b"num_vis": 3072}))
    return root


def tar_folder(folder: Path, out: Path, mode: str = "w:gz") -> Path:
    with tarfile.open(out, mode) as tar:
        tar.add(folder, arcname=folder.name)
    return out


def zip_folder(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as z:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                z.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return out


def stylegan_zip(out: Path, labels: list[int] | None, count: int = 6) -> Path:
    """A zip as StyleGAN2-ADA's dataset_tool writes one: 00000/img00000000.png …"""
    entries = []
    with zipfile.ZipFile(out, "w") as z:
        for k in range(count):
            name = f"{k // 1000:05d}/img{k:08d}.png"
            buf = io.BytesIO()
            Image.fromarray(pixels(k, (16, 16))).save(buf, "PNG")
            z.writestr(name, buf.getvalue())
            entries.append([name, labels[k] if labels else None])
        z.writestr("dataset.json", json.dumps({"labels": entries if labels else None}))
    return out


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` grey pixels: a decompression bomb
    as Pillow sees it when it opens one (the pixel data is not needed for that)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
