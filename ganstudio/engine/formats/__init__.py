"""Opening a generator from any file GAN Studio supports, the format chosen by the content.

Each format is a module of this package with::

    NAME = "torch-export"
    DESCRIPTION = "generators exported with torch.export (.pt2)"
    def sniff(path: Path, head: bytes) -> bool    # by content, not by suffix; cheap; never raises
    def load(path: Path) -> Generator       # a CheckpointError when it cannot

:func:`load_generator` stats the path first and opens only regular files and folders (a FIFO
or a device could block forever or never end), reads the first bytes once, and asks each
format in the order of FORMAT_MODULES. When none claims the file, the error says what the file
looks like and what GAN Studio opens. Loading never runs code from a file.
"""

from __future__ import annotations

import functools
import importlib
import os
import stat
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ganstudio.engine.errors import CheckpointError
from ganstudio.engine.readers import describe_stat, open_regular, stat_path, zip_names

if TYPE_CHECKING:
    from ganstudio.engine.generator import Generator

# Asked in this order; the first whose sniff says yes loads the file.
# BigGAN folders before run folders (both hold a config.json); StyleGAN pickles before the
# PyTorch files, whose legacy form is a pickle too.
FORMAT_MODULES = ("biggan_folder", "native", "torch_export", "stylegan_pickle", "pytorch_dcgan")
HEAD_BYTES = 4096


@functools.cache
def formats() -> tuple[ModuleType, ...]:
    """The format modules, in the order they are asked."""
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in FORMAT_MODULES)


def supported() -> str:
    """What GAN Studio opens, in words, for error messages."""
    return "; ".join(module.DESCRIPTION for module in formats())


def find_format(path: str | Path) -> ModuleType:
    """The format module that claims ``path``; a CheckpointError says why none does."""
    path = Path(path)
    st = stat_path(path, CheckpointError)
    if stat.S_ISDIR(st.st_mode):
        head = b""
    elif stat.S_ISREG(st.st_mode):
        with open_regular(path, CheckpointError) as f:
            try:
                head = f.read(HEAD_BYTES)
            except OSError as e:
                raise CheckpointError(f"{path} cannot be read ({e.strerror or e}).") from None
    else:
        raise CheckpointError(
            f"{path} is {describe_stat(st)}, not a generator file; GAN Studio opens only "
            "regular files and folders."
        )
    for module in formats():
        if module.sniff(path, head):
            return module
    what = looks_like(path, head, st)
    if what.startswith("a Python pickle"):
        raise CheckpointError(
            f"{path} was refused: it is {what}, and unpickling one could run code. "
            f"GAN Studio opens: {supported()}."
        )
    raise CheckpointError(
        f"{path} is not a generator file GAN Studio can open: it is {what}. "
        f"GAN Studio opens: {supported()}."
    )


def load_generator(path: str | Path) -> Generator:
    """Open any supported generator file or folder; a CheckpointError says why one cannot be."""
    path = Path(path)
    return find_format(path).load(path)


# --- what a file looks like, when no format claims it ---------------------------------------

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file (unpack it first)"),
    (b"\x93NUMPY", "a NumPy array (.npy), not a generator"),
    (b"\x89HDF", "an HDF5 file (Keras or similar), which GAN Studio does not read"),
    (b"\x7fELF", "a program (an ELF executable)"),
    (b"MZ", "a Windows program or library"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)


def looks_like(path: Path, head: bytes, st: os.stat_result) -> str:
    """What a file no format claims seems to be: "an empty file", "a PNG image", "text", ..."""
    if stat.S_ISDIR(st.st_mode):
        return ("a folder, but not a GAN Studio run folder (it has no config.json and no "
                "checkpoints/latest.json)")
    if st.st_size == 0:
        return "an empty file"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        names = zip_names(path, CheckpointError)
        if names is None:
            return "a damaged or truncated ZIP archive"
        return "a ZIP archive without data.pkl or a torch.export model (not a PyTorch file)"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "a Python pickle"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if len(head) < 16:  # too short to tell text from the start of a cut binary file
        count = f"{st.st_size} byte" + ("s" if st.st_size != 1 else "")
        return f"only {count} long: truncated, or not a generator file"
    if _is_text(head):
        return "JSON text" if head.lstrip()[:1] in (b"{", b"[") else "text"
    return "binary data of a kind GAN Studio does not know"


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason != "unexpected end of data":  # more than a character cut by the head's end
            return False
        text = head[: e.start].decode("utf-8")
    return bool(text) and all(c.isprintable() or c in "\r\n\t" for c in text)
