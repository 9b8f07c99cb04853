"""Batch sources: where the trainer's real batches come from.

A :class:`BatchSource` hands the trainer batches on its device and can say where it is, so a
resumed run draws the same batches it would have drawn. :class:`InMemorySource` holds the
whole set on the training device (the built-in sets); a streaming source over a
memory-mapped prepared set implements the same protocol for sets larger than memory.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from ganstudio.engine.data import Dataset, DatasetInfo, load_dataset

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

    def close(self) -> None: ...


class InMemorySource:
    """A set held on the training device, drawn by index with replacement.

    The indices come from the trainer's own generator (``rng``), whose state the training
    state already saves, so the source itself has no position to keep.
    """

    def __init__(self, dataset: Dataset, device: torch.device, rng: torch.Generator):
        self.info = dataset.info
        self.dataset = dataset
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


def open_source(name: str, seed: int, path: str | None, device: torch.device,
                rng: torch.Generator) -> BatchSource:
    """The batch source for a run's data settings."""
    return InMemorySource(load_dataset(name, seed, path), device, rng)
