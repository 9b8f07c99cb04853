"""Preparing a set once: every image decoded, made square, resized, and cached on disk.

The cache is a uint8 array (N, C, R, R) in ``images.npy`` with ``labels.npy`` and a JSON
``meta.json`` beside it, in a folder of the cache keyed by the source's fingerprint and the
options. It is written under a temporary name and renamed when complete, so a crash leaves
no half-written set; it is read back memory-mapped, so a set larger than memory trains, and
a second prepare of the same source with the same options returns at once.

Decoding runs on every core: a pool of processes that each open the source themselves and
receive only ranges of indices (or, for a compressed tar that can only be read in order, the
encoded bytes), and write their rows straight into the memory-mapped output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganstudio.engine.atomic import atomic_write_json
from ganstudio.engine.config import MAX_RESOLUTION, MIN_RESOLUTION
from ganstudio.engine.data import DatasetInfo, image_files
from ganstudio.engine.data.sources import (
    MAX_NAMED,
    ArraySource,
    CancelCheck,
    EncodedSource,
    ImageSource,
    Progress,
    Skipped,
    open_source,
    require_items,
)
from ganstudio.engine.errors import Cancelled, ConfigError, DatasetError
from ganstudio.resources import cache_dir

FORMAT_VERSION = 1
# Raise when the pixels a prepare writes change (the resize, the crop), so old caches go stale.
PIPELINE_VERSION = 1
CROPS = ("centre", "pad")
_CHUNK = 128  # images per task: small enough that a cancel is felt within a second
_POOL_MINIMUM = 512  # fewer images than this decode faster in one process than a pool starts


@dataclass(frozen=True)
class PrepareOptions:
    """How a set is prepared. ``grayscale`` None: grey when the source's images are.

    ``jpeg_draft`` lets libjpeg decode large JPEGs at 1/2, 1/4 or 1/8 scale (still at least
    the resolution) before the resize: several times faster, with pixels that differ slightly.
    """

    resolution: int = 64
    grayscale: bool | None = None
    crop: str = "centre"
    split: str = "train"
    jpeg_draft: bool = True

    def validated(self) -> PrepareOptions:
        crop = "centre" if self.crop == "center" else self.crop
        if not isinstance(self.resolution, int) or isinstance(self.resolution, bool) or not (
            MIN_RESOLUTION <= self.resolution <= MAX_RESOLUTION
        ):
            raise ConfigError(
                f"The resolution must be a whole number of pixels from {MIN_RESOLUTION} to "
                f"{MAX_RESOLUTION}, not {self.resolution!r}."
            )
        if crop not in CROPS:
            raise ConfigError(f"Unknown crop {self.crop!r}; choose centre or pad.")
        if self.split not in ("train", "test", "all"):
            raise ConfigError(f"Unknown split {self.split!r}; choose train, test or all.")
        return dataclasses.replace(self, crop=crop)


@dataclass
class PreparedSet:
    """A prepared set on disk: memory-mapped images (N, C, R, R) uint8, labels, its meta."""

    folder: Path
    meta: dict
    images: np.ndarray
    labels: np.ndarray | None

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.meta["classes"])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.meta["shape"])  # type: ignore[return-value]

    @property
    def flip(self) -> bool:
        """Whether training should flip images left-right at random (an augmentation)."""
        return bool(self.meta.get("flip", False))

    @property
    def key(self) -> str:
        return self.meta["key"]

    def __len__(self) -> int:
        return self.images.shape[0]

    def read(self, indices: np.ndarray) -> np.ndarray:
        """The images at ``indices`` (ascending reads fastest), as a new array.

        They are read from the file, not through the memory map: pages touched through a map
        count as the process's memory until it is unmapped, so reading a whole set larger
        than memory that way would look like using all of it. The page cache is shared.
        """
        indices = np.asarray(indices, np.int64)
        out = np.empty((len(indices), *self.images.shape[1:]), np.uint8)
        if not hasattr(os, "preadv"):  # Windows: through the map
            out[:] = self.images[indices]
            return out
        row = out[0].nbytes if len(out) else 0
        # runs of consecutive indices are one read each
        starts = np.flatnonzero(np.diff(indices, prepend=-2) != 1)
        ends = np.append(starts[1:], len(indices))
        flat = out.reshape(len(out), -1)
        fd = os.open(self.images.filename, os.O_RDONLY)
        try:
            for a, b in zip(starts.tolist(), ends.tolist()):
                offset = self.images.offset + int(indices[a]) * row
                want = (b - a) * row
                if os.preadv(fd, [flat[a:b]], offset) != want:
                    raise DatasetError(f"The prepared set {self.folder} is shorter than its "
                                       "meta.json says; prepare it again.")
        finally:
            os.close(fd)
        return out

    @property
    def info(self) -> DatasetInfo:
        source = self.meta["source"]
        return DatasetInfo(
            self.name, "images", self.shape, self.classes,
            f"{source['description']} from {source['path']}, prepared at "
            f"{self.shape[-1]} px", len(self),
        )


@dataclass(frozen=True)
class PreparedSummary:
    """One prepared set as ``list_prepared`` finds it, without opening its arrays."""

    folder: Path
    name: str
    source: str
    count: int
    shape: tuple[int, ...]
    classes: int
    bytes: int


def prepared_root() -> Path:
    return cache_dir() / "prepared"


# --- preparing -----------------------------------------------------------------------------


def prepare(
    path: str | os.PathLike,
    options: PrepareOptions | None = None,
    *,
    flip: bool = False,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    workers: int | None = None,
) -> PreparedSet:
    """Prepare the set at ``path`` (or return the cache prepared before with these options).

    ``flip`` is recorded for training (random left-right flips); it does not change the
    cache. ``workers``: decoding processes, default one per available core (a script that
    calls this needs the usual ``if __name__ == "__main__":`` guard of multiprocessing).
    ``cancel`` is polled while decoding; when it returns True, nothing is left behind and
    Cancelled is raised.
    """
    options = (options or PrepareOptions()).validated()
    quick = _find_by_stamp(Path(path), options)
    if quick is not None:
        return _with_flip(quick, flip)
    with open_source(path, options.split) as source:
        require_items(source)
        grey = source.is_grey() if options.grayscale is None else options.grayscale
        resolved = dataclasses.replace(options, grayscale=grey)
        key = _key(source, resolved)
        folder = prepared_root() / _folder_name(source, resolved, key)
        if folder.exists():
            try:
                return _with_flip(open_prepared(folder), flip)
            except DatasetError:
                shutil.rmtree(folder, ignore_errors=True)  # damaged: never trusted, rebuilt
        started = time.monotonic()
        return _write(source, options, resolved, key, folder, flip, progress, cancel,
                      workers or _cores(), started)


def open_prepared(folder: str | os.PathLike) -> PreparedSet:
    """A prepared set, memory-mapped; DatasetError when it is incomplete or damaged."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        count, shape = int(meta["count"]), tuple(int(v) for v in meta["shape"])
        classes = list(meta["classes"])
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {meta.get('format_version')!r}")
        images = np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)
        labels = None
        if classes:
            labels = np.load(folder / "labels.npy", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"The prepared set {folder} is incomplete or damaged ({e}); "
                           "prepare it again.") from None
    # Right length, wrong shape (or type) is still wrong: never trusted.
    if images.dtype != np.uint8 or images.shape != (count, *shape) or len(shape) != 3:
        raise DatasetError(
            f"The prepared set {folder} holds {images.dtype} {images.shape}, not the uint8 "
            f"{(count, *shape)} its meta.json promises; prepare it again."
        )
    if labels is not None and (
        labels.shape != (count,) or labels.dtype != np.int64
        or (count and (labels.min() < 0 or labels.max() >= len(classes)))
    ):
        raise DatasetError(f"The prepared set {folder} has damaged labels; prepare it again.")
    return PreparedSet(folder, meta, images, labels)


def find_prepared(key: str) -> PreparedSet | None:
    """The prepared set of this key (a source's fingerprint and options), if it is cached."""
    root = prepared_root()
    if not root.is_dir() or not re.fullmatch(r"[0-9a-f]{16}", key):
        return None
    for folder in root.glob(f"*-{key}"):
        with contextlib.suppress(DatasetError):
            prepared = open_prepared(folder)
            if prepared.key == key:
                return prepared
    return None


def list_prepared() -> list[PreparedSummary]:
    """Every complete prepared set in the cache, newest first."""
    out = []
    root = prepared_root()
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            out.append(PreparedSummary(
                folder, meta["name"], meta["source"]["path"], int(meta["count"]),
                tuple(meta["shape"]), len(meta["classes"]), _folder_bytes(folder),
            ))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def clear_prepared() -> int:
    """Delete every prepared set (and any left by an interrupted prepare); the bytes freed."""
    root = prepared_root()
    freed = 0
    if root.is_dir():
        for folder in root.iterdir():
            freed += _folder_bytes(folder) if folder.is_dir() else folder.stat().st_size
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folder.unlink(missing_ok=True)
    return freed


# --- the pixels of one image ---------------------------------------------------------------


def fit_square(image: Image.Image, resolution: int, crop: str) -> Image.Image:
    """A centre crop of the largest square (``centre``) or the whole image on black (``pad``),
    resized to ``resolution`` px with Lanczos."""
    w, h = image.size
    if crop == "centre":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        if side == resolution:
            return image if w == h else image.crop((left, top, left + side, top + side))
        return image.resize((resolution, resolution), Image.Resampling.LANCZOS,
                            box=(left, top, left + side, top + side))
    side = max(w, h)
    nw, nh = max(1, round(w * resolution / side)), max(1, round(h * resolution / side))
    inner = image if (nw, nh) == (w, h) else image.resize((nw, nh), Image.Resampling.LANCZOS)
    if (nw, nh) == (resolution, resolution):
        return inner
    canvas = Image.new(image.mode, (resolution, resolution), 0)
    canvas.paste(inner, ((resolution - nw) // 2, (resolution - nh) // 2))
    return canvas


def prepare_image(image: Image.Image, options: PrepareOptions) -> np.ndarray:
    """One decoded image → uint8 (C, R, R) as the options ask."""
    pixels = image_files.to_pixels(image, bool(options.grayscale))
    square = np.asarray(fit_square(pixels, options.resolution, options.crop))
    return square[None] if square.ndim == 2 else square.transpose(2, 0, 1)


def _converted(image: Image.Image, name: str, options: PrepareOptions) -> np.ndarray:
    """``prepare_image``, with any failure (a mode Pillow cannot convert) naming the file."""
    try:
        return prepare_image(image, options)
    except Exception as e:
        raise DatasetError(f"{name} could not be converted ({e}).") from None


def draft_hook(options: PrepareOptions):
    """Asks libjpeg for the smallest reduced decode that still covers the resolution."""
    if not options.jpeg_draft:
        return None

    def hook(image: Image.Image) -> None:
        if image.format != "JPEG":
            return
        w, h = image.size
        side = min(w, h) if options.crop == "centre" else max(w, h)
        scale = options.resolution / side
        mode = "L" if options.grayscale else image.mode
        image.draft(mode, (math.ceil(w * scale), math.ceil(h * scale)))

    return hook


# --- the pool's side -----------------------------------------------------------------------

_WORKER: dict = {}


def _start_worker(path: str, split: str, fingerprint: str | None, count: int, output: str,
                  options: PrepareOptions) -> None:
    """Runs once in each pool process: open the source and the output for writing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    if fingerprint is not None:
        source = open_source(path, split)
        if len(source) != count or source.fingerprint() != fingerprint:
            raise DatasetError(f"{path} changed while it was being prepared; prepare it again.")
        _WORKER["source"] = source
    _WORKER["output"] = np.load(output, mmap_mode="r+", allow_pickle=False)
    _WORKER["options"] = options
    _WORKER["draft"] = draft_hook(options)


def _decode_range(start: int, stop: int) -> list[tuple[int, str]]:
    source: EncodedSource = _WORKER["source"]
    failures = []
    for i in range(start, stop):
        try:
            image = source.decode(i, _WORKER["draft"])
            _WORKER["output"][i] = _converted(image, source.name(i), _WORKER["options"])
        except DatasetError as e:
            failures.append((i, str(e)))
    return failures


def _decode_bytes(items: list[tuple[int, str, bytes]]) -> list[tuple[int, str]]:
    failures = []
    for i, name, data in items:
        try:
            image = image_files.decode(io.BytesIO(data), name, _WORKER["draft"])
            _WORKER["output"][i] = _converted(image, name, _WORKER["options"])
        except DatasetError as e:
            failures.append((i, str(e)))
    return failures


# --- the parent's side ---------------------------------------------------------------------


def _write(source: ImageSource, requested: PrepareOptions, options: PrepareOptions, key: str,
           folder: Path, flip: bool, progress: Progress | None, cancel: CancelCheck | None,
           workers: int, started: float) -> PreparedSet:
    channels = 1 if options.grayscale else 3
    shape = (channels, options.resolution, options.resolution)
    n = len(source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        output = np.lib.format.open_memmap(tmp / "images.npy", "w+", np.uint8, (n, *shape))
        report = _Reporter(n, progress, cancel)
        if isinstance(source, ArraySource):
            failures = _prepare_arrays(source, output, options, report, workers)
        else:
            failures = _prepare_encoded(source, tmp / "images.npy", output, options, report,
                                        workers)
        output.flush()
        bad = sorted(failures)
        keep = np.ones(n, bool)
        keep[[i for i, _ in bad]] = False
        if not keep.any():
            raise DatasetError(f"None of the {n:,} images of {source.path} could be read; "
                               f"the first: {bad[0][1]}")
        del output
        if bad:
            _compact(tmp / "images.npy", keep)
        labels = None
        if source.labels is not None:
            labels = source.labels[keep]
            np.save(tmp / "labels.npy", labels.astype(np.int64), allow_pickle=False)
        _fsync(tmp / "images.npy")
        skipped = list(source.skipped) + [Skipped(source.name(i), why) for i, why in bad]
        meta = {
            "format_version": FORMAT_VERSION, "key": key,
            "name": folder.name.rsplit("-", 1)[0],
            "source": {
                "path": str(Path(source.path).resolve()), "format": source.format,
                "description": source.description, "fingerprint": source.fingerprint(),
                "stamp": _stamp(Path(source.path)),
            },
            "options": dataclasses.asdict(options),
            "requested": dataclasses.asdict(requested),
            "flip": flip, "count": int(keep.sum()), "shape": list(shape),
            "classes": list(source.classes),
            "class_counts": [] if labels is None else
            np.bincount(labels, minlength=len(source.classes)).tolist(),
            "skipped": {"count": len(skipped),
                        "first": [{"name": s.name, "reason": s.reason}
                                  for s in skipped[:MAX_NAMED]]},
            "quietly_skipped": source.quiet_skips,
            "seconds": round(time.monotonic() - started, 3),
        }
        atomic_write_json(tmp / "meta.json", meta)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another prepare finished it first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return open_prepared(folder)


class _Reporter:
    """Progress and cancel, shared by every way of decoding."""

    def __init__(self, total: int, progress: Progress | None, cancel: CancelCheck | None):
        self.total, self.done = total, 0
        self.progress, self.cancel = progress, cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("Preparing was cancelled; nothing was written.")

    def advance(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)
        self.check()


def _prepare_arrays(source: ArraySource, output: np.ndarray, options: PrepareOptions,
                    report: _Reporter, workers: int) -> list[tuple[int, str]]:
    """Arrays are decoded already: copied as they are, or resized on threads (Pillow lets go
    of the GIL while it resizes, and the arrays need not be loaded again in other processes)."""
    n = len(source)
    same = source.image_size == (options.resolution,) * 2
    copy = same and source.images.shape[3] == output.shape[1]

    def convert(start: int) -> int:
        rows = source.rows(start, min(n, start + _CHUNK))
        if copy:
            output[start : start + len(rows)] = rows.transpose(0, 3, 1, 2)
        else:
            for k, pixels in enumerate(rows):
                image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
                output[start + k] = prepare_image(image, options)
        return len(rows)

    with ThreadPoolExecutor(1 if copy else workers) as pool:
        pending = {pool.submit(convert, s): 0 for s in range(0, n, _CHUNK)}
        try:
            while pending:
                done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                report.check()
                for future in done:
                    pending.pop(future)
                    report.advance(future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return []


def _prepare_encoded(source: EncodedSource, output_path: Path, output: np.ndarray,
                     options: PrepareOptions, report: _Reporter,
                     workers: int) -> list[tuple[int, str]]:
    n = len(source)
    if workers <= 1 or n < _POOL_MINIMUM:
        return _prepare_here(source, output, options, report)
    fingerprint = source.fingerprint() if source.random_access else None
    context = _pool_context()
    initargs = (str(source.path), options.split, fingerprint, n, str(output_path), options)
    failures: list[tuple[int, str]] = []
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                               initargs=initargs)
    try:
        if source.random_access:
            pending = {pool.submit(_decode_range, s, min(n, s + _CHUNK)): min(_CHUNK, n - s)
                       for s in range(0, n, _CHUNK)}
            _drain(pending, failures, report, until=0)
        else:
            pending: dict[Future, int] = {}
            for chunk in _byte_chunks(source, failures, report):
                pending[pool.submit(_decode_bytes, chunk)] = len(chunk)
                _drain(pending, failures, report, until=2 * workers)
            _drain(pending, failures, report, until=0)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return failures


def _drain(pending: dict[Future, int], failures: list, report: _Reporter, until: int) -> None:
    """Collect finished tasks until at most ``until`` are pending, polling for a cancel."""
    while len(pending) > until:
        done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
        report.check()
        for future in done:
            try:
                failures += future.result()
            except DatasetError:
                raise
            except Exception as e:  # a worker that could not start: one line, not a trace
                raise DatasetError(f"Preparing failed in a worker process: {e}") from None
            report.advance(pending.pop(future))


def _byte_chunks(source: EncodedSource, failures: list, report: _Reporter) -> Iterator[list]:
    """The encoded items in chunks for the pool; items that cannot be read fail here."""
    chunk: list = []
    for i, item in source.iter_items(range(len(source))):
        if isinstance(item, DatasetError):
            failures.append((i, str(item)))
            report.advance(1)
            continue
        with item:
            chunk.append((i, source.name(i), item.read()))
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _prepare_here(source: EncodedSource, output: np.ndarray, options: PrepareOptions,
                  report: _Reporter) -> list[tuple[int, str]]:
    draft = draft_hook(options)
    failures = []
    for done, (i, item) in enumerate(source.iter_items(range(len(source))), start=1):
        try:
            if isinstance(item, DatasetError):
                raise item
            with item:
                image = image_files.decode(item, source.name(i), draft)
            output[i] = _converted(image, source.name(i), options)
        except DatasetError as e:
            failures.append((i, str(e)))
        if done % _CHUNK == 0 or done == len(source):
            report.advance(done - report.done)
    return failures


def _compact(path: Path, keep: np.ndarray) -> None:
    """Rewrite the images without the rows that failed, a slice at a time."""
    full = np.load(path, mmap_mode="r", allow_pickle=False)
    kept = path.with_name("kept.npy")
    out = np.lib.format.open_memmap(kept, "w+", np.uint8, (int(keep.sum()), *full.shape[1:]))
    at = 0
    for start in range(0, len(full), 4096):
        rows = full[start : start + 4096][keep[start : start + 4096]]
        out[at : at + len(rows)] = rows
        at += len(rows)
    out.flush()
    del out, full
    os.replace(kept, path)


# --- keys, names and stamps ----------------------------------------------------------------


def _key(source: ImageSource, options: PrepareOptions) -> str:
    text = json.dumps({
        "fingerprint": source.fingerprint(), "format": source.format,
        "options": dataclasses.asdict(options), "pipeline": PIPELINE_VERSION,
    }, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def source_slug(path: Path) -> str:
    """A file or folder's name, short and lower-case: ``Faces_2024.tar.gz`` → ``faces-2024``."""
    stem = path.name
    for suffix in (".gz", ".bz2", ".xz", ".tar", ".tgz", ".zip", ".npz", ".npy"):
        stem = stem.removesuffix(suffix)
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40] or "dataset"


def _folder_name(source: ImageSource, options: PrepareOptions, key: str) -> str:
    colour = "grey" if options.grayscale else "rgb"
    split = "" if options.split == "train" else f"-{options.split}"
    return (f"{source_slug(source.path)}{split}-{options.resolution}px-{colour}-"
            f"{options.crop}-{key}")


def _stamp(path: Path) -> str:
    """A cheap token that changes when a file (or a folder's direct entries) changes."""
    try:
        if path.is_dir():
            entries = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                             for p in path.iterdir())
            return hashlib.sha256(repr(entries).encode()).hexdigest()[:32]
        st = path.stat()
        return f"{st.st_size}-{st.st_mtime_ns}"
    except OSError:
        return ""


def _find_by_stamp(path: Path, options: PrepareOptions) -> PreparedSet | None:
    """A set prepared from this very file with these options, found without reading it.

    Only for sources whose stamp sees every change: files, and folders of set files (IDX,
    CIFAR). An image folder's files can change without its stamp changing, so it is always
    listed and fingerprinted.
    """
    stamp = _stamp(path)
    root = prepared_root()
    if not stamp or not root.is_dir():
        return None
    resolved = str(path.resolve())
    for folder in root.iterdir():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, DatasetError):
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            source = meta["source"]
            if (source["path"] == resolved and source["stamp"] == stamp
                    and source["format"] != "image-folder"
                    and meta["requested"] == dataclasses.asdict(options)):
                return open_prepared(folder)
    return None


def _with_flip(prepared: PreparedSet, flip: bool) -> PreparedSet:
    if prepared.flip != flip:
        prepared.meta["flip"] = flip
        atomic_write_json(prepared.folder / "meta.json", prepared.meta, replace=True)
    return prepared


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pool_context():
    """Workers forked from a fork server that has this module loaded: they start in a blink
    after the first pool, and nothing is forked from a process that runs threads (the app,
    torch), which can deadlock. Where there is no fork server (Windows), spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
