"""An on-disk cache of built image datasets, safe against a crash mid-write.

The file is safetensors (no code can hide in it) written atomically, and a cache that does
not read back cleanly is rebuilt rather than trusted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from ganstudio.engine.atomic import atomic_write_bytes
from ganstudio.resources import cache_dir

# Raise when a builder changes what it draws, so that stale caches are not used.
BUILDER_VERSION = 1

Builder = Callable[[int, int], "tuple[torch.Tensor, torch.Tensor]"]


def cached_images(name: str, n: int, seed: int, builder: Builder):
    path = cache_dir() / "datasets" / f"{name}-v{BUILDER_VERSION}-n{n}-seed{seed}.safetensors"
    if path.is_file():
        try:
            tensors = load_file(path)
            x, y = tensors["images"], tensors["labels"]
            if x.shape[0] == n and y.shape[0] == n:
                return x, y
        except (SafetensorError, KeyError, OSError, RuntimeError):
            pass  # unreadable: rebuild it below
    x, y = builder(n, seed)
    # A read-only or full cache folder only costs a rebuild next time.
    with contextlib.suppress(OSError):
        atomic_write_bytes(path, save({"images": x.contiguous(), "labels": y.contiguous()}))
    return x, y
