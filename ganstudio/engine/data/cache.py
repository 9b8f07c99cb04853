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

from ganstudio.engine.atomic import atomic_write_bytes, remove_orphan_temporaries
from ganstudio.engine.errors import OutputError
from ganstudio.resources import cache_dir

# Raise when a builder changes what it draws, so that stale caches are not used.
BUILDER_VERSION = 1

Builder = Callable[[int, int], "tuple[torch.Tensor, torch.Tensor]"]


def cached_images(name: str, n: int, seed: int, builder: Builder, shape: tuple[int, ...],
                  classes: int):
    """``(images, labels)``: uint8 (n, *shape) and int64 (n,) in 0..classes-1, from the cache
    when a cached copy has exactly that form, else built (and cached)."""
    folder = cache_dir() / "datasets"
    # Left by a process killed while writing; an hour is far longer than any live write.
    remove_orphan_temporaries(folder, older_than=3600)
    path = folder / f"{name}-v{BUILDER_VERSION}-n{n}-seed{seed}.safetensors"
    if path.is_file() and not path.is_symlink():
        try:
            tensors = load_file(path)
            x, y = tensors["images"], tensors["labels"]
            if (x.dtype == torch.uint8 and tuple(x.shape) == (n, *shape)
                    and y.dtype == torch.int64 and tuple(y.shape) == (n,)
                    and bool(((y >= 0) & (y < classes)).all())):
                return x, y
        except (SafetensorError, KeyError, OSError, RuntimeError):
            pass  # unreadable: rebuild it below
    x, y = builder(n, seed)
    # A read-only or full cache folder only costs a rebuild next time.
    with contextlib.suppress(OSError, OutputError):
        atomic_write_bytes(path, save({"images": x.contiguous(), "labels": y.contiguous()}),
                           replace=True)
    return x, y
