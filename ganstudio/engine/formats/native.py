"""GAN Studio's own checkpoints: safetensors files with JSON metadata, and run folders (their
latest checkpoint)."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ganstudio.engine.generator import Generator

NAME = "ganstudio"
DESCRIPTION = "GAN Studio checkpoints (.safetensors) and run folders"


def sniff(path: Path, head: bytes) -> bool:
    """A run folder or checkpoints folder, or a file that starts as safetensors does: an 8-byte
    header length, then a JSON object (the length may be damaged: load says so)."""
    if not head:
        return path.is_dir() and any(
            (path / name).is_file()
            for name in ("config.json", "latest.json", "checkpoints/latest.json")
        )
    return len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] >= 2


def load(path: Path) -> Generator:
    from ganstudio.engine.checkpoint import load_native_generator

    return load_native_generator(path)
