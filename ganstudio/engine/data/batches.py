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


def open_source(name: str, seed: int, path: str | None, device: torch.device,
                rng: torch.Generator) -> BatchSource:
    """The batch source for a run's data settings (with a held-out set for built-in sets)."""
    from ganstudio.engine.data import held_out_dataset

    return InMemorySource(load_dataset(name, seed, path), device, rng,
                          held_out_dataset(name, seed))
