"""Batches streamed from a prepared set on disk, read ahead on a background thread.

The images stay on disk (a set larger than memory trains, and reading it leaves the process
no larger); a thread reads the next batches while the training step runs, so that the step
never waits for data. The order is a
fresh permutation each epoch, drawn from the source's own seed and the epoch number, and the
position is (epoch, cursor): with it in the training state, a resumed run draws exactly the
batches the uninterrupted one would have. Random left-right flips, when the set was prepared
with ``flip``, are drawn from the seed and the position too.

A held-out part (``hold_out`` images, fixed by the prepared set and the seed) is never served
by ``next_batch``: ``held_out(n)`` gives images the discriminator has never seen, to measure
how much it overfits.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import zlib
from pathlib import Path

import numpy as np
import torch

from ganstudio.engine.data.prepare import PreparedSet, open_prepared
from ganstudio.engine.errors import ConfigError, DatasetError

# Streams of random numbers, kept apart so that one never shifts another.
_HOLD_OUT, _ORDER, _FLIP, _SAMPLE = 1, 2, 3, 4
_STOP = object()


class StreamingSource:
    """A BatchSource over a prepared set: uint8 (B, C, H, W) images on ``device``, int64
    labels (or None), in an order fixed by ``seed``."""

    dataset = None  # the images stay on disk: there is no set in memory to hand out

    def __init__(
        self,
        prepared: PreparedSet | str | Path,
        *,
        seed: int = 0,
        device: torch.device | str = "cpu",
        hold_out: int = 0,
        flip: bool | None = None,
        prefetch: int = 2,
        name: str | None = None,
    ):
        self.prepared = prepared if isinstance(prepared, PreparedSet) else open_prepared(prepared)
        self.info = self.prepared.info
        if name is not None:  # what the run calls the set
            self.info = dataclasses.replace(self.info, name=name)
        self.seed, self.device = int(seed), torch.device(device)
        self.flip = self.prepared.flip if flip is None else flip
        n = len(self.prepared)
        if not 0 <= hold_out < n:
            raise ConfigError(f"hold_out must be from 0 to {n - 1} for {self.info.name}, "
                              f"not {hold_out}.")
        set_id = zlib.crc32(self.prepared.key.encode())
        order = np.random.default_rng([self.seed, _HOLD_OUT, set_id]).permutation(n)
        self.hold_out = hold_out
        self._held = order[:hold_out]
        self._train = np.sort(order[hold_out:])
        self._labels = self.prepared.labels
        self._epoch, self._cursor = 0, 0  # where the batches handed out so far end
        self._orders: dict[int, np.ndarray] = {}
        self._prefetch = max(1, prefetch)
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._batch_size = 0

    def __len__(self) -> int:
        return len(self._train)

    # --- the protocol ----------------------------------------------------------------------

    def next_batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if batch_size < 1:
            raise ConfigError(f"The batch size must be at least 1, not {batch_size}.")
        if batch_size != self._batch_size or self._thread is None:
            self._restart(batch_size)
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._thread = None
            raise item
        images, labels, self._epoch, self._cursor = item
        return images, labels

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` training images chosen by ``seed`` alone, on the CPU (with repeats only when
        the set holds fewer than ``n``)."""
        rng = np.random.default_rng([int(seed), _SAMPLE])
        picks = rng.choice(len(self._train), size=n, replace=n > len(self._train))
        return self._read(self._train[picks])

    def held_out(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``n`` of the held-out images (never served by ``next_batch``), on the CPU."""
        if not 0 < n <= self.hold_out:
            raise ConfigError(f"Only {self.hold_out} images are held out of {self.info.name}; "
                              f"cannot give {n}.")
        return self._read(self._held[:n])

    def state_dict(self) -> dict:
        return {"kind": "streaming", "key": self.prepared.key, "seed": self.seed,
                "hold_out": self.hold_out, "epoch": self._epoch, "cursor": self._cursor}

    def load_state_dict(self, state: dict) -> None:
        for name in ("key", "seed", "hold_out"):
            if state.get(name) != self.state_dict()[name]:
                raise DatasetError(
                    f"The training state was saved with another data order ({name} "
                    f"{state.get(name)!r}, here {self.state_dict()[name]!r}), so it cannot "
                    "resume exactly on this prepared set."
                )
        self._halt()
        self._epoch, self._cursor = int(state["epoch"]), int(state["cursor"])

    def close(self) -> None:
        self._halt()

    # --- reading ahead ---------------------------------------------------------------------

    def _restart(self, batch_size: int) -> None:
        self._halt()
        self._batch_size = batch_size
        self._stop = threading.Event()
        self._queue = queue.Queue(self._prefetch)
        self._thread = threading.Thread(
            target=self._read_ahead, args=(self._epoch, self._cursor, batch_size, self._stop,
                                           self._queue),
            name="ganstudio-prefetch", daemon=True,
        )
        self._thread.start()

    def _halt(self) -> None:
        """Stop the reader: batches it read ahead are dropped, the position is unchanged."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()  # a reader waiting on a full queue looks at the stop every 0.1 s
        self._thread = None

    def _read_ahead(self, epoch: int, cursor: int, batch_size: int, stop: threading.Event,
                    out: queue.Queue) -> None:
        while not stop.is_set():
            try:
                indices, flips, epoch, cursor = self._draw(epoch, cursor, batch_size)
                images, labels = self._read(indices, flips)
                if self.device.type != "cpu":
                    images = images.pin_memory().to(self.device, non_blocking=True)
                    labels = None if labels is None else labels.to(self.device)
                item: tuple | BaseException = (images, labels, epoch, cursor)
            except BaseException as e:  # handed to the trainer's thread, raised there
                item = e
            while not stop.is_set():  # a full queue is waited on, but never past a stop
                try:
                    out.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def _draw(self, epoch: int, cursor: int, batch_size: int):
        """The set's indices of the next batch from (epoch, cursor), and where it ends."""
        picked, flips = [], []
        left = batch_size
        while left:
            order = self._order(epoch)
            take = order[cursor : cursor + left]
            picked.append(self._train[take])
            if self.flip:
                rng = np.random.default_rng([self.seed, _FLIP, epoch, cursor])
                flips.append(rng.random(len(take)) < 0.5)
            cursor += len(take)
            left -= len(take)
            if cursor == len(order):
                epoch, cursor = epoch + 1, 0
        flip = np.concatenate(flips) if flips else None
        return np.concatenate(picked), flip, epoch, cursor

    def _order(self, epoch: int) -> np.ndarray:
        order = self._orders.get(epoch)
        if order is None:
            rng = np.random.default_rng([self.seed, _ORDER, epoch])
            order = rng.permutation(len(self._train))
            self._orders = {e: o for e, o in self._orders.items() if e >= epoch - 1}
            self._orders[epoch] = order
        return order

    def _read(self, indices: np.ndarray,
              flips: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        # Rows are read in file order (kinder to the disk), then put back in batch order.
        order = np.argsort(indices, kind="stable")
        rows = np.empty((len(indices), *self.prepared.shape), np.uint8)
        rows[order] = self.prepared.read(indices[order])
        if flips is not None and flips.any():
            rows[flips] = rows[flips][..., ::-1]
        labels = None
        if self._labels is not None:
            labels = torch.from_numpy(self._labels[indices].astype(np.int64))
        return torch.from_numpy(rows), labels
