"""Reading the files a user hands us: regular files only, sizes checked before anything is
allocated, and nothing in them ever run.

Every reader takes the error class its caller reports (a CheckpointError for a checkpoint, a
RunFolderError for a run folder's files, ...), so a refusal reaches the user as one line that
names the file. A FIFO, a device or a link to one is refused from its ``stat``, before it is
opened: reading one could block forever or never end.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ganstudio.engine.errors import GanStudioError, ImageError, first_line

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# JSON files we read (configs, run.json, latest.json, checkpoint metadata) are a few KB.
MAX_JSON_BYTES = 16 * 2**20
# Deeper JSON is no file of ours, and would exhaust the recursion of anything walking it.
MAX_JSON_DEPTH = 64
# Zip archives (.pt2, .pth, .npz): members, their sizes, and how much they may inflate.
MAX_ZIP_MEMBERS = 100_000
MAX_MEMBER_BYTES = 8 * 2**30
MAX_INFLATION = 50  # uncompressed : compressed, for members above INFLATION_FLOOR
INFLATION_FLOOR = 2**20
# Images we read (snapshots, exports) are a few megapixels; more is a decompression bomb.
MAX_IMAGE_PIXELS = 64_000_000
MAX_IMAGE_BYTES = 512 * 2**20

Error = type[GanStudioError]


def describe_stat(st: os.stat_result) -> str:
    """What a non-regular file is, in words: "a folder", "a FIFO (named pipe)", ..."""
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def format_size(n: float) -> str:
    """A byte count for people: "512 bytes", "3.2 MB", "1.5 GB"."""
    units = ("bytes", "KB", "MB", "GB", "TB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:,} bytes" if i == 0 else f"{n:.1f} {units[i]}"


def stat_path(path: str | os.PathLike, error: Error) -> os.stat_result:
    """``os.stat`` (links followed) with the failures said plainly."""
    path = Path(path)
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise error(f"{path} does not exist.") from None
    except PermissionError:
        raise error(f"{path} cannot be read: permission denied.") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(f"{path} is a symbolic link that points to itself (a link loop).") from None
        raise error(f"{path} cannot be read ({e.strerror or e}).") from None


def check_regular(path: str | os.PathLike, error: Error) -> os.stat_result:
    """The stat of ``path``, which must be a regular file (links to one are fine)."""
    st = stat_path(path, error)
    if not stat.S_ISREG(st.st_mode):
        raise error(
            f"{path} is {describe_stat(st)}, not a regular file; GAN Studio reads only "
            "regular files."
        )
    return st


def open_regular(path: str | os.PathLike, error: Error) -> IO[bytes]:
    """Open a regular file for reading; anything else is refused before it is opened."""
    check_regular(path, error)
    # O_NONBLOCK: should the path become a FIFO between the stat and the open, the open still
    # returns at once, and the fstat below refuses it.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise error(f"{path} cannot be read ({e.strerror or e}).") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise error(f"{path} is not a regular file; GAN Studio reads only regular files.")
    return os.fdopen(fd, "rb")


def read_bytes(path: str | os.PathLike, error: Error, limit: int) -> bytes:
    """The whole of a regular file of at most ``limit`` bytes."""
    with open_regular(path, error) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise error(f"{path} is {format_size(size)}, more than the {format_size(limit)} "
                        "such a file can be; it is not the file it is named for.")
        try:
            data = f.read(size + 1)  # not limit + 1: read() allocates what it is asked for
        except OSError as e:
            raise error(f"{path} cannot be read ({e.strerror or e}).") from None
        except MemoryError:
            raise error(f"{path} is {format_size(size)}, more than this machine has memory "
                        "free to read it.") from None
    if len(data) > size:
        raise error(f"{path} grew while it was read; read it again once it is complete.")
    return data


def parse_json(data: bytes, name: str, error: Error) -> Any:
    """UTF-8 JSON, no deeper than MAX_JSON_DEPTH; ``name`` says where it came from."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{name} is not UTF-8 text (byte {e.start} is not); it is damaged or "
                    "not a JSON file.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{name} is not valid JSON (line {e.lineno}, column {e.colno}: "
                    f"{e.msg}).") from None
    except RecursionError:
        raise error(f"{name} is nested too deeply to be a GAN Studio file.") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise error(f"{name} is nested more than {MAX_JSON_DEPTH} levels deep; no GAN Studio "
                    "file is.")
    return value


def read_json(path: str | os.PathLike, error: Error, limit: int = MAX_JSON_BYTES) -> Any:
    """A JSON file, read whole (regular files only, at most ``limit`` bytes)."""
    return parse_json(read_bytes(path, error, limit), str(path), error)


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            return depth
        stack.extend((child, depth + 1) for child in children)
    return deepest


# --- zip archives ---------------------------------------------------------------------------


def check_zip(archive: zipfile.ZipFile, name: str, error: Error,
              max_member_bytes: int = MAX_MEMBER_BYTES) -> list[zipfile.ZipInfo]:
    """The members of an archive, after checking what reading them would cost.

    Refused: duplicate names, encrypted members, and any member whose declared size is above
    ``max_member_bytes`` or which would inflate more than MAX_INFLATION times (a zip bomb).
    Nothing is extracted to disk, ever; members are read into memory by name.
    """
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise error(f"{name} is a zip archive of {len(members):,} files; no file GAN Studio "
                    "opens has that many.")
    seen = set()
    for info in members:
        if info.filename.lower() in seen:
            raise error(f"{name} holds two files named {info.filename!r}; it is damaged or "
                        "was built to mislead.")
        seen.add(info.filename.lower())
        if info.flag_bits & 0x1:
            raise error(f"{name} holds an encrypted file ({info.filename!r}).")
        if info.file_size > max_member_bytes:
            raise error(f"{name}: {info.filename!r} would unpack to "
                        f"{format_size(info.file_size)}, more than the "
                        f"{format_size(max_member_bytes)} GAN Studio allows.")
        if (info.file_size > INFLATION_FLOOR
                and info.file_size > MAX_INFLATION * max(info.compress_size, 1)):
            raise error(
                f"{name}: {info.filename!r} would inflate from "
                f"{format_size(info.compress_size)} to {format_size(info.file_size)}, more than "
                f"{MAX_INFLATION} times; refused as a zip bomb."
            )
    return members


def zip_names(path: str | os.PathLike, error: Error) -> list[str] | None:
    """The member names of a zip archive (from its central directory), or None when the file
    is not a readable zip archive."""
    with open_regular(path, error) as f:
        try:
            with zipfile.ZipFile(f) as archive:
                return archive.namelist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return None


# What zipfile can decompress; any other method (PPMd, Deflate64, …) it refuses mid-read.
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
               zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}


def check_zip_method(info: zipfile.ZipInfo, name: str, error: Error) -> None:
    """Refuse a member packed with a compression method zipfile cannot read, before reading."""
    if info.compress_type not in ZIP_METHODS:
        raise error(f"{name}: {info.filename!r} is packed with compression method "
                    f"{info.compress_type}, which GAN Studio cannot unpack; repack it with "
                    "deflate (a standard zip).")


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, error: Error,
                limit: int) -> bytes:
    """One member's bytes, at most ``limit`` of them (its declared size is checked first)."""
    check_zip_method(info, name, error)
    if info.file_size > limit:
        raise error(f"{name}: {info.filename!r} is {format_size(info.file_size)}, more than the "
                    f"{format_size(limit)} such an entry can be.")
    try:
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise error(f"{name} is damaged: {info.filename!r} cannot be read "
                    f"({first_line(e)}).") from None
    if len(data) > info.file_size:
        raise error(f"{name}: {info.filename!r} unpacks to more than it declares.")
    return data


# --- numpy files ----------------------------------------------------------------------------


def read_npy(path: str | os.PathLike, error: Error, max_elements: int,
             text: bool = False) -> np.ndarray:
    """A numeric ``.npy`` array (or, with ``text``, an array of strings); its header is
    checked (dtype, shape, size) before any read."""
    with open_regular(path, error) as f:
        return _read_npy_stream(f, str(path), error, max_elements,
                                os.fstat(f.fileno()).st_size, text)


def read_npz(path: str | os.PathLike, error: Error, max_elements: int,
             text: bool = False) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, each checked as :func:`read_npy` checks one."""
    name = str(path)
    with open_regular(path, error) as f:
        try:
            archive = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise error(f"{name} is damaged or not a .npz file ({first_line(e)}).") from None
        with archive:
            arrays = {}
            total = 0
            for info in check_zip(archive, name, error):
                if not info.filename.endswith(".npy"):
                    raise error(f"{name} holds {info.filename!r}, which is not an array.")
                try:
                    with archive.open(info) as member:
                        array = _read_npy_stream(member, f"{name}: {info.filename}", error,
                                                 max_elements - total, info.file_size, text)
                except (zipfile.BadZipFile, OSError, EOFError) as e:
                    raise error(f"{name} is damaged ({first_line(e)}).") from None
                total += array.size
                arrays[info.filename.removesuffix(".npy")] = array
    return arrays


def _read_npy_stream(f, name: str, error: Error, max_elements: int, size: int,
                     text: bool = False) -> np.ndarray:
    import numpy as np

    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f".npy format {version[0]}.{version[1]} (structured fields)")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as e:
        raise error(f"{name} is damaged or not a .npy array ({first_line(e)}).") from None
    plain = np.issubdtype(dtype, np.number) or dtype == np.bool_ or (
        text and dtype.kind in "US")
    if dtype.hasobject or not plain:
        raise error(f"{name} holds {dtype} values, not numbers; GAN Studio loads only numeric "
                    "arrays (never pickled Python objects).")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise error(f"{name} declares an impossible shape {shape}.")
    count = math.prod(shape)
    if count > max_elements:
        raise error(f"{name} declares {count:,} values (shape {tuple(shape)}), more than the "
                    f"{max_elements:,} GAN Studio reads from such a file.")
    if count * dtype.itemsize > size - f.tell():
        raise error(f"{name} is truncated: its header declares shape {tuple(shape)}, which "
                    "the file is too short to hold.")
    try:
        data = f.read(count * dtype.itemsize)
    except OSError as e:
        raise error(f"{name} cannot be read ({e.strerror or e}).") from None
    if len(data) != count * dtype.itemsize:
        raise error(f"{name} is truncated.")
    array = np.frombuffer(data, dtype=dtype, count=count)
    order = "F" if fortran else "C"
    return array.reshape(shape, order=order).copy(order="C")


# --- images ---------------------------------------------------------------------------------


@contextlib.contextmanager
def open_image(source: str | os.PathLike | io.BytesIO,
               max_pixels: int = MAX_IMAGE_PIXELS) -> Iterator[Image.Image]:
    """Pillow's image for a regular file (or bytes), refused with an ImageError when it would
    decode to more than ``max_pixels`` pixels (a small file that would fill memory)."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    name = "the image" if isinstance(source, io.BytesIO) else str(source)
    if not isinstance(source, io.BytesIO):
        source = io.BytesIO(read_bytes(source, ImageError, MAX_IMAGE_BYTES))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the check is below
        try:
            image = Image.open(source)  # reads the header only: no pixels are decoded yet
        except Image.DecompressionBombError:
            image = None
        except UnidentifiedImageError:
            raise ImageError(f"{name} is not an image that Pillow can read.") from None
        except (OSError, ValueError, SyntaxError) as e:
            raise ImageError(f"{name} is not an image GAN Studio can read "
                             f"({first_line(e)}).") from None
    if image is None or image.width * image.height > max_pixels:
        raise ImageError(f"{name} is larger than {max_pixels:,} pixels once decoded; refused as "
                         "a decompression bomb.")
    with image:
        yield image
