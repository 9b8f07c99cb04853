"""Batch sources: where the trainer's real batches come from.

A :class:`BatchSource` hands the trainer batches on its device and can say where it is, so a
resumed run draws the same batches it would have drawn. :class:`InMemorySource` holds the
whole set on the training device (the built-in sets); real data is prepared once into a
memory-mapped cache and streamed from it by :class:`StreamingSource`, so a set larger than
memory trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

from ganstudio.engine.config import DataConfig
from ganstudio.engine.data import DATASETS, Dataset, DatasetInfo, load_dataset
from ganstudio.engine.data.sources import CancelCheck, Progress

if TYPE_CHECKING:
    from ganstudio.engine.data.prepare import PreparedSet

Tensor = torch.Tensor


class BatchSource(Protocol):
    """The trainer's view of its data."""

    info: DatasetInfo
    dataset: Dataset | None  # the set in memory, when it is (2-D sets: modes and points)

    def __len__(self) -> int: ...

    def next_batch(self, batch_size: int) -> tuple[Tensor, Tensor | None]:
        """Images uint8 (B, C, H, W) or points float32 (B, 2) on the training device, and
        int64 labels (B,) or None."""

    def sample(self, n: int, seed: int) -> tuple[Tensor, Tensor | None]:
        """A fixed selection on the CPU for previews and evaluations; it does not move the
        source's position."""

    def state_dict(self) -> dict[str, Any]:
        """The position, JSON-ready, saved in the training state."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    hold_out: int  # real samples kept out of training (0: none)

    def held_out(self, n: int) -> tuple[Tensor, Tensor | None]:
        """``n`` of the held-out samples, never served by ``next_batch``, on the CPU."""

    def close(self) -> None: ...


class InMemorySource:
    """A set held on the training device, drawn by index with replacement.

    The indices come from the trainer's own generator (``rng``), whose state the training
    state already saves, so the source itself has no position to keep. ``held_out`` is a
    separate set of the same distribution that no batch comes from (for built-in sets: fresh
    draws, so the training batches are those of a source without one).
    """

    def __init__(self, dataset: Dataset, device: torch.device, rng: torch.Generator,
                 held_out: Dataset | None = None):
        self.info = dataset.info
        self.dataset = dataset
        self._held_out = held_out
        self.hold_out = len(held_out) if held_out is not None else 0
        self.device = device
        self.rng = rng
        self.x = dataset.x.to(device)
        self.y = dataset.y.to(device) if dataset.y is not None else None

    def __len__(self) -> int:
        return self.x.shape[0]

    def next_batch(self, batch_size: int) -> tuple[Tensor, Tensor | None]:
        idx = torch.randint(len(self.x), (batch_size,), generator=self.rng, device=self.device)
        return self.x[idx], (self.y[idx] if self.y is not None else None)

    def sample(self, n: int, seed: int) -> tuple[Tensor, Tensor | None]:
        pick = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(seed))
        pick = pick[:n]
        y = self.dataset.y
        return self.dataset.x[pick], (y[pick] if y is not None else None)

    def held_out(self, n: int) -> tuple[Tensor, Tensor | None]:
        if not 0 < n <= self.hold_out:
            from ganstudio.engine.errors import ConfigError

            raise ConfigError(f"Only {self.hold_out} samples of {self.info.name} are held out; "
                              f"cannot give {n}.")
        y = self._held_out.y
        return self._held_out.x[:n], (y[:n] if y is not None else None)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "memory", "size": len(self)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore but a check that it is the same set."""
        if state.get("size", len(self)) != len(self):
            from ganstudio.engine.errors import CheckpointError

            raise CheckpointError(
                f"The training state was saved with {state.get('size')} training samples, "
                f"but {self.info.name} has {len(self)}: resume with the same dataset.")

    def close(self) -> None:
        """Nothing runs in the background."""


# Each rank of a distributed run reads a real set in an order of its own.
_RANK_SEED_STRIDE = 1_000_003


def open_source(data: DataConfig, device: torch.device, rng: torch.Generator,
                rank: int = 0) -> BatchSource:
    """The batch source for a run's data settings: a built-in set in memory, or real data
    prepared (or found prepared) and streamed from its cache in an order fixed by
    ``data.seed``. ``rng`` draws the built-in sets' batches. Held out of training, for the
    overfitting diagnostic: fresh samples of a built-in set, ``data.hold_out`` real images."""
    if not data.is_real:
        from ganstudio.engine.data import held_out_dataset

        return InMemorySource(load_dataset(data.name, data.seed, data.path), device, rng,
                              held_out_dataset(data.name, data.seed))
    from ganstudio.engine.data.streaming import StreamingSource

    return StreamingSource(prepare_data(data), seed=data.seed + _RANK_SEED_STRIDE * rank,
                           device=device, flip=data.flip, name=data.name,
                           hold_out=data.hold_out)


def prepare_data(data: DataConfig, progress: Progress | None = None,
                 cancel: CancelCheck | None = None) -> PreparedSet:
    """The prepared set of a real-data config: from the cache, or prepared now (``progress``
    and ``cancel`` as for :func:`~ganstudio.engine.data.prepare.prepare`)."""
    from ganstudio.engine.data.catalogue import resolve_source
    from ganstudio.engine.data.prepare import PrepareOptions, prepare

    options = PrepareOptions(data.resolution, data.grayscale, data.crop, data.split)
    return prepare(resolve_source(data.source), options, flip=data.flip, progress=progress,
                   cancel=cancel)


def real_data(source: str, resolution: int, *, crop: str = "centre",
              grayscale: bool | None = None, flip: bool = False,
              split: str = "train") -> DataConfig:
    """The data settings of a real source: a catalogue name is kept as it is (found wherever
    it is installed or downloaded), a path is made absolute; its name is the catalogue name,
    or the file or folder's name."""
    from ganstudio.engine.data.catalogue import catalogue
    from ganstudio.engine.data.prepare import source_slug

    path = Path(source).expanduser()
    if source in catalogue() and not path.exists():
        name = source
    else:
        name, source = source_slug(path), str(path.resolve())
        if name in DATASETS:  # never mistaken for the built-in set of that name
            name = f"{name}-data"
    return DataConfig(name=name, source=source, resolution=resolution,
                      crop="centre" if crop == "center" else crop, grayscale=grayscale,
                      flip=flip, split=split)


def source_side(source: str) -> int | None:
    """The side of a real source's images when its first image is square (None when it is not,
    or cannot be read): the resolution to prepare at when none is asked for."""
    from ganstudio.engine.data.catalogue import resolve_source
    from ganstudio.engine.data.sources import ArraySource
    from ganstudio.engine.data.sources import open_source as open_images
    from ganstudio.engine.errors import DatasetError

    with open_images(resolve_source(source)) as images:
        if isinstance(images, ArraySource):
            width, height = images.image_size
        else:
            try:
                width, height = images.load(0).size if len(images) else (0, 1)
            except DatasetError:
                return None
    return width if width == height else None
