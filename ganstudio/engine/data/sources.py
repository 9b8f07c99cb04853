"""Real datasets on disk: one path in, its format worked out from the files' content.

``open_source(path)`` gives an ImageSource: a list of items that each decode to an image, with
class names and labels when the set has them. It reads

- image folders, recursively (PNG, JPEG, WebP, BMP, TIFF, the first frame of a GIF), with
  first-level subfolders as the classes (the ImageFolder convention);
- ``.zip``, ``.tar``, ``.tar.gz`` (also bz2, xz) archives of such a folder, without extracting
  them, and StyleGAN2-ADA ``dataset_tool`` zips with the labels of their ``dataset.json``;
- MNIST, Fashion-MNIST, KMNIST and EMNIST IDX files, gzipped or raw;
- CIFAR-10 and CIFAR-100, binary and Python versions, as a folder or as the publisher's tarball;
- ``.npy`` / ``.npz`` arrays of N × H × W (× C) images.

``inspect_source(path)`` says what is there: count, sizes, channels, classes, and what was
skipped and why. Hidden files and non-images are skipped quietly; damaged ones are counted and
the first few named. One bad file never aborts a set.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from ganstudio.engine.data import image_files
from ganstudio.engine.errors import Cancelled, DatasetError

MAX_NAMED = 5  # damaged items named in a report; the rest are counted
_GREY_SAMPLE = 64  # images whose mode decides whether an image set is grey
_FINGERPRINT_BYTES = 1 << 16  # read from each end of a file for its fingerprint

Progress = Callable[[int, int], None]  # (done, total)
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class Skipped:
    """An item left out of a set; ``reason`` is a sentence that names it."""

    name: str
    reason: str


class ImageSource(ABC):
    """A dataset on disk: its items, each decoded on demand, with classes when it has them.

    ``labels`` (int64, one per item) index ``classes``; both are empty/None for unlabelled
    sets. ``skipped`` lists items refused while listing (unsafe archive paths, say);
    ``quiet_skips`` counts hidden files and non-images, left out without a word.
    """

    format: str = ""

    def __init__(
        self,
        path: Path,
        *,
        classes: Sequence[str] = (),
        labels: np.ndarray | None = None,
        skipped: Iterable[Skipped] = (),
        quiet_skips: int = 0,
        description: str = "",
    ):
        self.path = path
        self.classes = tuple(classes)
        self.labels = labels if self.classes else None
        self.skipped = list(skipped)
        self.quiet_skips = quiet_skips
        self.description = description or self.format

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def name(self, i: int) -> str:
        """Item ``i`` as a person finds it: a file's path inside the set, or an array row."""

    @abstractmethod
    def load(self, i: int) -> Image.Image:
        """Item ``i`` decoded, as an 8-bit ``L`` or ``RGB`` image; DatasetError names it."""

    @abstractmethod
    def fingerprint(self) -> str:
        """Changes whenever the set's content may have: the key of its prepared caches."""

    @abstractmethod
    def is_grey(self) -> bool:
        """Whether the images are grey (one channel), judged without decoding them all."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing open
        """Let go of open files; the source can no longer be read."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EncodedSource(ImageSource):
    """Items that are image files, from a folder or an archive, decoded with Pillow.

    ``random_access`` is False where items are cheapest read in order (a compressed tar); then
    ``iter_items`` streams them.
    """

    random_access = True

    def __init__(self, path: Path, names: Sequence[str], **kwargs):
        super().__init__(path, **kwargs)
        self.names = list(names)

    def __len__(self) -> int:
        return len(self.names)

    def name(self, i: int) -> str:
        return f"{self.path.name}/{self.names[i]}"

    @abstractmethod
    def open_item(self, i: int) -> BinaryIO:
        """Item ``i``'s bytes as a seekable binary file (the caller closes it)."""

    def iter_items(self, indices: Iterable[int]) -> Iterator[tuple[int, BinaryIO | DatasetError]]:
        """``(i, file)`` for the given items, or ``(i, error)`` for one that cannot be read.

        Random-access sources keep the given order; a streamed one yields in its own order.
        """
        for i in indices:
            try:
                yield i, self.open_item(i)
            except DatasetError as e:
                yield i, e

    def decode(self, i: int, draft: image_files.DraftHook | None = None) -> Image.Image:
        with self.open_item(i) as fp:
            return image_files.decode(fp, self.name(i), draft)

    def load(self, i: int) -> Image.Image:
        image = self.decode(i)
        return image_files.to_pixels(image, image.mode in image_files.GREY_MODES)

    def is_grey(self) -> bool:
        step = max(1, len(self) // _GREY_SAMPLE)
        modes = set()
        for _, fp in self.iter_items(range(0, len(self), step)):
            if isinstance(fp, DatasetError):
                continue
            with fp:
                try:
                    modes.add(image_files.open_image(fp, "").mode)
                except DatasetError:
                    continue
        return bool(modes) and modes <= image_files.GREY_MODES


class ArraySource(ImageSource):
    """Items that are rows of one array (N, H, W, C), C 1 or 3, in memory or memory-mapped.

    ``value_range`` is how the stored numbers map to black and white: (0, 255) for uint8,
    (0, 1) or (-1, 1) for floats; ``rows`` converts to uint8 a slice at a time, so that a large
    float array never has to fit in memory twice.
    """

    def __init__(self, path: Path, images: np.ndarray,
                 value_range: tuple[float, float] = (0, 255), **kwargs):
        super().__init__(path, **kwargs)
        self.images = images
        self.value_range = value_range
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    def name(self, i: int) -> str:
        return f"{self.path.name}[{i}]"

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) of every image."""
        return self.images.shape[2], self.images.shape[1]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Images ``start:stop`` as uint8 (n, H, W, C)."""
        chunk = self.images[start:stop]
        if chunk.dtype == np.uint8:
            return np.asarray(chunk)
        lo, hi = self.value_range
        scaled = (chunk.astype(np.float32) - lo) * (255.0 / (hi - lo))
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)

    def load(self, i: int) -> Image.Image:
        pixels = self.rows(i, i + 1)[0]
        return Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)

    def is_grey(self) -> bool:
        return self.images.shape[3] == 1

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_files(self.files(), self.format)
        return self._fingerprint

    def files(self) -> list[Path]:
        """The files the arrays were read from."""
        return [self.path]


def fingerprint_files(paths: Iterable[Path], extra: str = "") -> str:
    """A digest of the files' names, sizes and first and last bytes: cheap, even for GBs."""
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        size = path.stat().st_size
        digest.update(f"\0{path.name}\0{size}\0".encode())
        with open(path, "rb") as f:
            digest.update(f.read(_FINGERPRINT_BYTES))
            if size > 2 * _FINGERPRINT_BYTES:
                f.seek(-_FINGERPRINT_BYTES, os.SEEK_END)
                digest.update(f.read())
    return digest.hexdigest()[:32]


def folder_labels(names: Sequence[str]) -> tuple[tuple[str, ...], np.ndarray | None]:
    """Classes from first-level folders (the ImageFolder convention), else none.

    ``names`` are relative paths with ``/``. Classes need every image inside a first-level
    folder and at least two such folders.
    """
    tops = [n.split("/", 1)[0] if "/" in n else None for n in names]
    if not names or None in tops:
        return (), None
    classes = tuple(sorted(set(tops)))  # type: ignore[arg-type]
    if len(classes) < 2:
        return (), None
    index = {c: k for k, c in enumerate(classes)}
    return classes, np.fromiter((index[t] for t in tops), np.int64, len(tops))


def strip_common_root(names: Sequence[str]) -> list[str]:
    """Names without the single top folder that holds them all (as archives often have)."""
    names = list(names)
    while names and all("/" in n for n in names):
        first = names[0].split("/", 1)[0]
        if any(n.split("/", 1)[0] != first for n in names):
            break
        names = [n.split("/", 1)[1] for n in names]
    return names


def is_hidden(relative: str) -> bool:
    """Hidden files and folders, and the resource forks macOS adds to archives."""
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.split("/"))


def unsafe_member(name: str) -> str | None:
    """Why an archive member's path could escape its folder, or None when it cannot."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "a path that climbs out of the archive's folder (..)"
    return None


# --- finding the format --------------------------------------------------------------------


def open_source(path: str | os.PathLike, split: str = "train") -> ImageSource:
    """The dataset at ``path``, by content. ``split`` picks ``train``, ``test`` or ``all`` of
    the standard sets that ship both (IDX, CIFAR); other sources ignore it."""
    from ganstudio.engine.data import archive, arrays, cifar, folder, idx

    if split not in ("train", "test", "all"):
        raise DatasetError(f"Unknown split {split!r}; choose train, test or all.")
    path = Path(path).expanduser()
    if not path.exists():
        raise DatasetError(f"{path} does not exist.")
    if path.is_dir():
        for opener in (cifar.open_folder, idx.open_folder):
            source = opener(path, split)
            if source is not None:
                return source
        return folder.FolderSource(path)
    if not path.is_file():
        raise DatasetError(f"{path} is neither a folder nor a regular file.")
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as e:
        raise DatasetError(f"Cannot read {path}: {e.strerror}.") from None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if arrays.is_npz(path):
            return arrays.open_npz(path)
        return archive.ZipSource(path)
    if head.startswith(b"\x93NUMPY"):
        return arrays.open_npy(path)
    inner = archive.decompressed_head(path, head)
    if archive.is_tar(inner if inner is not None else head):
        return archive.open_tar(path, split)
    if idx.is_idx(inner if inner is not None else head):
        return idx.open_file(path)
    if cifar.is_python_batch(head):
        return cifar.open_file(path)
    if cifar.binary_record_size(path) is not None:
        return cifar.open_file(path)
    if image_files.is_image_name(path.name):
        raise DatasetError(
            f"{path} is a single image; point at the folder (or archive) that holds the set."
        )
    raise DatasetError(
        f"{path} is not a dataset GAN Studio can read: expected an image folder, a .zip or "
        ".tar(.gz) of images, MNIST-style IDX files, CIFAR batches, or a .npy/.npz array."
    )


def require_items(source: ImageSource) -> None:
    """Raise DatasetError when a source holds nothing that could be an image."""
    if len(source):
        return
    why = ""
    if source.quiet_skips:
        why = (f" ({source.quiet_skips:,} hidden files or non-images were passed over; the "
               "image files read are PNG, JPEG, WebP, BMP, TIFF and GIF)")
    elif source.skipped:
        why = f" ({len(source.skipped):,} items were refused: {source.skipped[0].reason})"
    raise DatasetError(f"{source.path} holds no images{why}.")


# --- inspecting ----------------------------------------------------------------------------


@dataclass
class SourceReport:
    """What ``inspect_source`` found: counts, sizes, modes, classes, and what was skipped."""

    path: str
    format: str
    description: str
    count: int  # readable images
    sizes: list[tuple[int, int, int]]  # (width, height, images), most common first
    modes: dict[str, int]  # Pillow modes ("L", "RGB", "RGBA", "P", "I;16" …) → images
    classes: tuple[str, ...]
    class_counts: tuple[int, ...]
    skipped_quietly: int  # hidden files and non-images
    skipped: int  # damaged, cut short, refused
    first_skipped: list[Skipped] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def channels(self) -> int:
        """1 when every image is grey, else 3."""
        return 1 if self.modes and set(self.modes) <= image_files.GREY_MODES else 3

    def to_dict(self) -> dict:
        return {
            "path": self.path, "format": self.format, "description": self.description,
            "count": self.count, "channels": self.channels,
            "sizes": [{"width": w, "height": h, "count": n} for w, h, n in self.sizes],
            "modes": self.modes,
            "classes": [{"name": c, "count": n} for c, n in zip(self.classes, self.class_counts)],
            "skipped_quietly": self.skipped_quietly, "skipped": self.skipped,
            "first_skipped": [{"name": s.name, "reason": s.reason} for s in self.first_skipped],
            "fingerprint": self.fingerprint,
        }

    def lines(self) -> list[str]:
        """A short report for a terminal."""
        out = [f"{self.path}: {self.description}", f"  {self.count:,} images"]
        sizes = ", ".join(f"{w}×{h} ({n:,})" for w, h, n in self.sizes[:4])
        if len(self.sizes) > 4:
            sizes += f" and {len(self.sizes) - 4} more sizes"
        if sizes:
            out.append(f"  sizes: {sizes}")
        if self.modes:
            modes = ", ".join(f"{m} ({n:,})" for m, n in sorted(self.modes.items(),
                                                               key=lambda kv: -kv[1]))
            out.append(f"  channels: {self.channels} (modes {modes})")
        if self.classes:
            shown = ", ".join(f"{c} ({n:,})" for c, n in zip(self.classes[:20], self.class_counts))
            more = f" and {len(self.classes) - 20} more" if len(self.classes) > 20 else ""
            out.append(f"  {len(self.classes)} classes: {shown}{more}")
        else:
            out.append("  no classes")
        if self.skipped_quietly:
            out.append(f"  skipped {self.skipped_quietly:,} hidden files and non-images")
        if self.skipped:
            out.append(f"  skipped {self.skipped:,} unreadable or refused:")
            out += [f"    {s.reason}" for s in self.first_skipped]
            if self.skipped > len(self.first_skipped):
                out.append(f"    … and {self.skipped - len(self.first_skipped):,} more")
        return out


def inspect_source(
    path: str | os.PathLike,
    split: str = "train",
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> SourceReport:
    """Look at every item's header (no full decode) and report what the set holds.

    JPEG and PNG files are also checked for a missing end, the usual sign of a file cut short;
    damage inside a file shows when it is prepared, where it is skipped the same way.
    """
    with open_source(path, split) as source:
        require_items(source)
        sizes: Counter[tuple[int, int]] = Counter()
        modes: Counter[str] = Counter()
        bad = list(source.skipped)
        readable = np.ones(len(source), bool)
        if isinstance(source, ArraySource):
            sizes[source.image_size] = len(source)
            modes["L" if source.is_grey() else "RGB"] = len(source)
        elif isinstance(source, EncodedSource):
            for done, (i, fp) in enumerate(source.iter_items(range(len(source))), start=1):
                try:
                    if isinstance(fp, DatasetError):
                        raise fp
                    with fp:
                        w, h, mode = image_files.probe(fp, source.name(i))
                    sizes[(w, h)] += 1
                    modes[mode] += 1
                except DatasetError as e:
                    readable[i] = False
                    bad.append(Skipped(source.name(i), str(e)))
                if done % 256 == 0:
                    if cancel is not None and cancel():
                        raise Cancelled("Inspecting was cancelled.")
                    if progress is not None:
                        progress(done, len(source))
        if progress is not None:
            progress(len(source), len(source))
        counts: tuple[int, ...] = ()
        if source.labels is not None:
            kept = source.labels[readable]
            counts = tuple(int(n) for n in np.bincount(kept, minlength=len(source.classes)))
        return SourceReport(
            path=str(source.path), format=source.format, description=source.description,
            count=int(readable.sum()),
            sizes=[(w, h, n) for (w, h), n in sizes.most_common()],
            modes=dict(modes), classes=source.classes, class_counts=counts,
            skipped_quietly=source.quiet_skips, skipped=len(bad), first_skipped=bad[:MAX_NAMED],
            fingerprint=source.fingerprint(),
        )
