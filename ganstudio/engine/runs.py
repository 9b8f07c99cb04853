"""Run folders: the contract between headless training and the app.

::

    RUN_DIR/
      config.json            the RunConfig, with its format_version
      run.json               status (running, finished, stopped, failed), device, dataset, pid;
                             a fork's parent: {"run": PARENT_DIR, "step": N, "checkpoint": FILE}
      metrics.jsonl          one JSON record per line, append-only, flushed at least every second
      samples/step_0000200.png   grids from the fixed noise (2-D sets: a scatter PNG and .npz)
      checkpoints/step_0001000.safetensors        the generator (samples with no other file)
      checkpoints/step_0001000.train.safetensors  the training state (for resume)
      checkpoints/latest.json                     which checkpoint is the newest
      writer.lock            locked by the process writing the run (released when it exits)

Records in metrics.jsonl (each with a ``type`` and a whole-number ``step``):

- ``step``: the losses, D's outputs, gradient norms and learning rates of one training step;
  ``"moved": "D"`` or ``"G"`` when a learner stepped one network alone (absent: both moved);
- ``eval``: ``{"name": NAME, ...values}``, an evaluation of the sampler (mode coverage, FID…);
- ``diag``: ``{"name": NAME, ...values}``, a stability diagnostic
  (ganstudio.engine.diagnostics): ``overfit`` (``r_t``, ``d_train``, ``d_heldout``,
  ``d_fake``, ``heldout_gap``, ``overfit``, ``augment_p``) every ``train.diag_every`` steps,
  ``collapse`` (``diversity``, ``distinct``, ``classes``) at snapshots. Evaluations and
  diagnostics alike read back as series ``NAME/VALUE`` over steps;
- ``gradients``: ``{"g": {layer: norm}, "d": {layer: norm}, "exploding": ["G:layer", …],
  "vanishing": […]}``, the per-layer gradient table every ``train.diag_every`` steps;
- ``started``, ``samples``, ``checkpoint``, ``alert``, ``hyper``, ``status``, ``done``; and
  ``resume``/``rollback``, after which every earlier record of a later step is superseded.

Another process may read a run while it is written: :class:`MetricsTail` returns only
complete lines, and every other file is replaced atomically. One process writes a run folder
at a time (:class:`RunLock`). Every file is checked against its schema when it is read, and a
damaged one is refused with a message that names it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import re
import socket
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ganstudio import __version__
from ganstudio.engine.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    check_writable,
    remove_orphan_temporaries,
)
from ganstudio.engine.config import RunConfig
from ganstudio.engine.errors import ConfigError, OutputError, RunFolderError
from ganstudio.engine.events import (
    DoneEvent,
    SamplesEvent,
    StartedEvent,
    StepEvent,
    event_record,
)
from ganstudio.engine.readers import describe_stat, read_json, read_npz

RUN_FORMAT_VERSION = 1
REAL_POINTS = "real.npz"  # 2-D runs: the real points the snapshots are drawn against
LOCK = "writer.lock"
FLUSH_SECONDS = 0.5
STATUSES = ("running", "finished", "stopped", "failed")
MAX_POINTS_SAMPLE = 10_000_000  # values in a snapshot .npz
_SAMPLE_NAME = re.compile(r"step_(\d+)\.(png|npz)$")
_CHECKPOINT_NAME = re.compile(r"step_(\d+)\.safetensors$")


def new_run_dir(base: str | Path, config: RunConfig) -> Path:
    """A fresh, uniquely named folder under ``base``: ``2026-11-21_10-30-12_digits-dcgan``."""
    base = Path(base)
    stem = f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{config.data.name}-{config.model.family}"
    for i in range(1000):
        candidate = base / (stem if i == 0 else f"{stem}-{i + 1}")
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise RunFolderError(f"Could not create a new run folder under {base}.")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunWriter:
    """Writes a trainer's events into a run folder; used by the CLI and the app alike."""

    def __init__(self, run_dir: str | Path, config: RunConfig, dataset: dict,
                 parent: dict | None = None):
        """``parent``: what a fork started from, {"run", "step", "checkpoint"}; a run resumed
        into its own folder keeps the parent its run.json names."""
        self.path = Path(run_dir)
        self.config = config
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = RunLock.acquire(self.path)  # before anything in the folder is touched
        try:
            self._open(config, dataset, parent)
        except BaseException:
            self._lock.release()
            raise

    def _open(self, config: RunConfig, dataset: dict, parent: dict | None) -> None:
        for folder in ("samples", "checkpoints"):
            (self.path / folder).mkdir(exist_ok=True)
        for folder in (self.path, self.path / "samples", self.path / "checkpoints"):
            remove_orphan_temporaries(folder)  # the lock is ours: no live writer left these
        atomic_write_json(self.path / "config.json", config.to_dict(), replace=True)
        self._meta: dict[str, Any] = {
            "format_version": RUN_FORMAT_VERSION,
            "status": "running",
            "dataset": dataset,
            "ganstudio_version": __version__,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if parent is None and (self.path / "run.json").is_file():
            with contextlib.suppress(RunFolderError):
                parent = RunFolder.read_parent(self.path)
        if parent is not None:
            self._meta["parent"] = parent
        metrics = self.path / "metrics.jsonl"
        check_writable(metrics, replace=True)
        self._metrics = open(metrics, "a+b")  # noqa: SIM115
        if self._metrics.tell() > 0:
            # a writer killed mid-line left a torn record: the next one starts on its own line
            self._metrics.seek(-1, os.SEEK_END)
            if self._metrics.read(1) != b"\n":
                self._metrics.write(b"\n")
        self._buffer: list[str] = []
        self._last_flush = time.monotonic()
        self.reference_points: np.ndarray | None = None

    def write(self, event):
        """Record ``event``; returns it (a SamplesEvent comes back with its file's path)."""
        if isinstance(event, SamplesEvent):
            event = self._write_samples(event)
        elif isinstance(event, StartedEvent):
            if event.real_points is not None:
                self.reference_points = event.real_points
                buffer = io.BytesIO()
                np.savez(buffer, points=event.real_points)
                atomic_write_bytes(self.path / "samples" / REAL_POINTS, buffer.getvalue(),
                                   replace=True)
            self._meta.update(
                total_steps=event.total_steps, device=event.device,
                device_name=event.device_name, params_g=event.params_g, params_d=event.params_d,
            )
            if event.step > 0:
                self._append({"type": "resume", "step": event.step})
            self._write_meta()
        record = event_record(event)
        self._append({k: _finite(v) for k, v in record.items()})
        if not isinstance(event, StepEvent) or time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()
        if isinstance(event, DoneEvent):
            # after the flush: a reader that sees the final status has every record already
            self._meta.update(status=event.reason, step=event.step)
            self._write_meta()
        return event

    def _append(self, record: dict) -> None:
        self._buffer.append(json.dumps(record, allow_nan=False) + "\n")

    def flush(self, durable: bool = False) -> None:
        """Hand the buffered records to the OS; ``durable`` also waits until they are on disk
        (before a checkpoint is published, so no record of its steps can be lost)."""
        if self._buffer:
            data = "".join(self._buffer).encode("utf-8")
            self._buffer.clear()
            self._metrics.write(data)
            self._metrics.flush()
        if durable:
            os.fsync(self._metrics.fileno())
        self._last_flush = time.monotonic()

    def _write_samples(self, event: SamplesEvent) -> SamplesEvent:
        from ganstudio.engine.images import render_points, save_png

        png = self.path / "samples" / f"step_{event.step:07d}.png"
        if event.grid is not None:
            save_png(png, event.grid, replace=True)
        else:
            buffer = io.BytesIO()
            arrays = {"points": event.points}
            if event.labels is not None:
                arrays["labels"] = event.labels
            if event.field is not None:
                arrays["field"] = event.field
            if event.extent is not None:
                arrays["extent"] = np.asarray(event.extent, dtype=np.float64)
            if event.directions is not None:
                arrays["directions"] = event.directions
            if event.manifold is not None:
                arrays["manifold"] = event.manifold
            np.savez(buffer, **arrays)
            atomic_write_bytes(png.with_suffix(".npz"), buffer.getvalue(), replace=True)
            save_png(png, render_points(event.points, extent=event.extent,
                                        reference=self.reference_points, field=event.field),
                     replace=True)
        return replace(event, path=str(png.relative_to(self.path)))

    def _write_meta(self) -> None:
        self._meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        atomic_write_json(self.path / "run.json", self._meta, replace=True)

    def close(self, status: str | None = None) -> None:
        """Flush, and release the folder; ``status`` marks a run that ended without a
        DoneEvent (stopped or failed). On a full disk, whatever cannot be written is lost,
        and the rest is still done."""
        if self._metrics.closed:
            return
        try:
            try:
                self.flush()
            except OSError as e:
                if not is_disk_full(e):
                    raise
                self._buffer.clear()
            try:
                self._metrics.close()
            except OSError as e:  # the file is closed all the same; its last bytes are lost
                if not is_disk_full(e):
                    raise
            if status and self._meta.get("status") == "running":
                self._meta["status"] = status
                try:
                    self._write_meta()
                except OSError as e:
                    if not is_disk_full(e):
                        raise
        finally:
            self._lock.release()


class MetricsTail:
    """Reads the records appended to a metrics.jsonl since the last poll (complete lines only)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    @property
    def offset(self) -> int:
        """How many bytes of the file have been read."""
        return self._offset

    def poll(self, max_bytes: int = -1) -> list[dict]:
        """The records in the next ``max_bytes`` of the file (all that is there by default)."""
        try:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                return []  # RunFolder says what is wrong with it
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read(max_bytes)
        except OSError:
            return []
        if not chunk:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" after a complete last line
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue  # a line damaged by a crash is skipped, the rest still reads
            if valid_record(record):
                records.append(record)
        return records


_NUMBER_TYPES = (int, float)
MOVES = ("D", "G")


def valid_record(record: Any) -> bool:
    """The schema of a metrics.jsonl record: an object with a type and a whole-number step;
    a step record's values are numbers (or null, for a value that was not finite). Records
    that fail it are skipped, as a damaged line is."""
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        return False
    step = record.get("step")
    if type(step) is not int or not 0 <= step < 2**53:
        return False
    if record["type"] == "step":
        return all(v is None or (isinstance(v, _NUMBER_TYPES) and not isinstance(v, bool))
                   or (k == "moved" and v in MOVES) for k, v in record.items() if k != "type")
    if record["type"] in ("eval", "diag"):
        return all(v is None or isinstance(v, (*_NUMBER_TYPES, str))
                   for k, v in record.items() if k != "type")
    if record["type"] == "gradients":
        tables = [record.get("g"), record.get("d")]
        names = [record.get("exploding", []), record.get("vanishing", [])]
        return (all(isinstance(t, dict) and all(
                    isinstance(k, str) and (v is None or isinstance(v, _NUMBER_TYPES))
                    for k, v in t.items()) for t in tables)
                and all(isinstance(n, list) and all(isinstance(x, str) for x in n)
                        for n in names))
    return True


@dataclass
class SampleFile:
    step: int
    path: Path  # the PNG
    points: Path | None = None  # the .npz of a 2-D run


class RunFolder:
    """Reads a run folder, finished or still being written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise RunFolderError(f"Run folder {self.path} does not exist.")
        if not (self.path / "config.json").exists():
            raise RunFolderError(
                f"{self.path} is not a GAN Studio run folder (it has no config.json)."
            )
        try:
            self.config = RunConfig.from_json_file(self.path / "config.json")
        except ConfigError as e:
            raise RunFolderError(str(e)) from None
        # Every file read later is checked now, so a damaged one is said once, at opening.
        metrics = self.path / "metrics.jsonl"
        if metrics.exists() and not stat.S_ISREG(os.stat(metrics).st_mode):
            raise RunFolderError(f"{metrics} is {describe_stat(os.stat(metrics))}, not a "
                                 "file of records; the run folder is damaged.")
        # the data it trained on, as the trainer named it (None until run.json exists)
        name = self.meta().get("dataset", {}).get("name")
        self.dataset_name = name if isinstance(name, str) and name else None
        self.real_points()

    @staticmethod
    def is_run_dir(path: str | Path) -> bool:
        return (Path(path) / "config.json").is_file() and (Path(path) / "metrics.jsonl").exists()

    @property
    def name(self) -> str:
        return self.path.name

    def meta(self) -> dict:
        """run.json, checked against its schema (see :func:`check_run_meta`); {} before the
        writer has made one."""
        path = self.path / "run.json"
        if not path.exists():
            return {}
        return check_run_meta(read_json(path, RunFolderError), path)

    def status(self) -> str:
        """``running``, ``finished``, ``stopped``, ``failed``, ``interrupted`` (writer gone) or
        ``unknown``."""
        try:
            meta = self.meta()
        except RunFolderError:
            return "unknown"
        status = meta.get("status", "unknown")
        same_host = meta.get("host") == socket.gethostname()
        if status == "running" and same_host and not _pid_alive(meta.get("pid")):
            return "interrupted"
        return status

    def metrics(self) -> list[dict]:
        return resolve_history(MetricsTail(self.path / "metrics.jsonl").poll())

    def samples(self) -> list[SampleFile]:
        """The snapshot files, regular files only (a FIFO named like one would block a
        reader forever)."""
        out = []
        for p in sorted((self.path / "samples").glob("step_*.png")):
            m = _SAMPLE_NAME.fullmatch(p.name)
            if m and _is_regular(p):
                npz = p.with_suffix(".npz")
                out.append(SampleFile(int(m.group(1)), p, npz if _is_regular(npz) else None))
        return out

    def real_points(self) -> np.ndarray | None:
        path = self.path / "samples" / REAL_POINTS
        if not path.exists():
            return None
        return load_points_sample(path).points

    @staticmethod
    def read_parent(path: str | Path) -> dict | None:
        """The ``parent`` of a run folder's run.json (checked), or None."""
        meta_path = Path(path) / "run.json"
        if not meta_path.exists():
            return None
        return check_run_meta(read_json(meta_path, RunFolderError), meta_path).get("parent")

    def parent(self) -> tuple[Path, int] | None:
        """The run this one was forked from and the step it forked at (None: not a fork).
        A relative parent path is relative to this run's folder."""
        parent = self.meta().get("parent")
        if parent is None:
            return None
        return (self.path / parent["run"]).resolve(strict=False), parent["step"]

    def lineage(self) -> list[tuple[Path, int]]:
        """Every ancestor, nearest first, each with the step its child forked at; a parent
        that is gone (or not a run folder any more) ends the line."""
        out: list[tuple[Path, int]] = []
        seen = {self.path.resolve()}
        parent = self.parent()
        while parent is not None and parent[0] not in seen:
            out.append(parent)
            seen.add(parent[0])
            try:
                parent = RunFolder(parent[0]).parent()
            except RunFolderError:
                break
        return out

    def checkpoints(self) -> dict[int, Path]:
        """The generator checkpoints in ``checkpoints/`` by step (regular files only)."""
        out = {}
        for p in (self.path / "checkpoints").glob("step_*.safetensors"):
            m = _CHECKPOINT_NAME.fullmatch(p.name)
            if m and _is_regular(p):
                out[int(m.group(1))] = p
        return dict(sorted(out.items()))

    def latest_checkpoint(self) -> Path | None:
        """The newest checkpoint, or None when there is none (or ``latest.json`` is refused:
        :func:`~ganstudio.engine.checkpoint.resolve_checkpoint` says why)."""
        from ganstudio.engine.checkpoint import resolve_checkpoint
        from ganstudio.engine.errors import CheckpointError

        try:
            path = resolve_checkpoint(self.path)
        except CheckpointError:
            return None
        return path if path.is_file() else None


SUPERSEDING = ("resume", "rollback")


def resolve_history(records: list[dict]) -> list[dict]:
    """Drop the records a resume or a NaN-guard rollback superseded: after
    ``{"type": "resume", "step": N}`` every earlier record of a step above N is gone."""
    out: list[dict] = []
    for record in records:
        if record.get("type") in SUPERSEDING:
            step = record.get("step", 0)
            out = [r for r in out if r.get("step", 0) <= step]
        out.append(record)
    return out


@dataclass
class PointsSample:
    """A 2-D snapshot read back from a run folder's .npz."""

    points: np.ndarray
    labels: np.ndarray | None = None
    field: np.ndarray | None = None
    extent: tuple[float, float, float, float] | None = None
    directions: np.ndarray | None = None  # (N, 2): where G's next update moves each point
    manifold: np.ndarray | None = None  # (rows, columns, 2): G's image of a grid of z


def load_points_sample(path: Path) -> PointsSample:
    """A 2-D snapshot (.npz), checked against its schema: points (N, 2), labels (N,), the
    discriminator's field (H, W), the extent (4,), G's update directions (N, 2) and its
    manifold (rows, columns, 2)."""
    data = read_npz(path, RunFolderError, MAX_POINTS_SAMPLE)

    def field(name: str, ndim: int, kind: str, check=None) -> np.ndarray | None:
        value = data.get(name)
        if value is None:
            return None
        if value.ndim != ndim or np.dtype(value.dtype).kind not in kind or (
                check is not None and not check(value)):
            raise RunFolderError(f"{path} is damaged: its {name} have shape "
                                 f"{tuple(value.shape)} and type {value.dtype}.")
        return value

    points = field("points", 2, "fiu", lambda v: v.shape[1] == 2)
    if points is None:
        raise RunFolderError(f"{path} is damaged: it holds no points.")
    labels = field("labels", 1, "iu", lambda v: len(v) == len(points))
    extent = field("extent", 1, "fiu", lambda v: v.shape == (4,) and np.isfinite(v).all())
    directions = field("directions", 2, "f", lambda v: v.shape == points.shape)
    manifold = field("manifold", 3, "f", lambda v: v.shape[2] == 2)
    return PointsSample(
        points.astype(np.float32, copy=False), labels, field("field", 2, "fiu"),
        tuple(float(v) for v in extent) if extent is not None else None,
        directions, manifold,
    )


def check_run_meta(meta: Any, path: Path) -> dict:
    """The schema of run.json: each field of the right type, or a RunFolderError naming it."""
    if not isinstance(meta, dict):
        raise RunFolderError(f"{path} is damaged: a JSON object was expected.")
    kinds = {"status": str, "host": str, "device": str, "device_name": str, "started": str,
             "updated": str, "ganstudio_version": str, "dataset": dict, "pid": int,
             "step": int, "total_steps": int, "params_g": int, "params_d": int,
             "format_version": int}
    for key, kind in kinds.items():
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool) or (
                kind is int and not 0 <= value < 2**63):
            raise RunFolderError(f"{path} is damaged: {key} is {value!r}.")
    parent = meta.get("parent")
    if parent is not None and not (
            isinstance(parent, dict) and isinstance(parent.get("run"), str)
            and type(parent.get("step")) is int and 0 <= parent["step"] < 2**53
            and isinstance(parent.get("checkpoint", ""), str)):
        raise RunFolderError(f"{path} is damaged: parent is {parent!r}.")
    if meta.get("status") is not None and meta["status"] not in STATUSES:
        raise RunFolderError(f"{path} is damaged: status is {meta['status']!r}, not one of "
                             f"{', '.join(STATUSES)}.")
    return meta


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def is_disk_full(error: OSError) -> bool:
    """Whether a failed write failed for want of space (or of quota)."""
    return error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class RunLock:
    """One writer per run folder: an advisory lock on ``RUN_DIR/writer.lock``.

    ``fcntl.flock`` on POSIX, ``msvcrt.locking`` of its first byte on Windows; either way the
    OS releases it when the process ends, however it ends, so a crash never leaves a folder
    locked. After the first byte, the file names the holder (pid, host, start time) for the
    message a second writer gets.
    """

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, run_dir: str | Path) -> RunLock:
        """Take the folder's lock, or a RunFolderError naming the live process that holds it."""
        path = Path(run_dir) / LOCK
        try:
            check_writable(path, replace=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except (OSError, OutputError) as e:
            raise RunFolderError(f"Cannot lock the run folder {run_dir} for writing "
                                 f"({getattr(e, 'strerror', None) or e}).") from None
        if _lock_fd(fd) == "busy":
            holder = _read_holder(fd)
            os.close(fd)
            raise RunFolderError(
                f"{run_dir} is being written by {holder}; a run folder takes one writer at "
                "a time. Wait for that run to end (or stop it), then resume."
            )
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"\n" + record + b"\n")
        os.ftruncate(fd, len(record) + 2)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if os.name == "nt":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            with contextlib.suppress(OSError):  # never locked, where locks are unsupported
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        os.close(fd)  # on POSIX this releases the flock

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _lock_fd(fd: int) -> str:
    """Lock without waiting: ``locked``; ``busy`` when another process (or another open file)
    holds it; ``unsupported`` where the file system has no locks (some network shares), and
    the run goes on unguarded rather than not at all."""
    try:
        if os.name == "nt":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, errno.EDEADLK):
            return "busy"
        return "unsupported"
    return "locked"


def _read_holder(fd: int) -> str:
    """Who holds the lock, in words, from what it wrote after the locked first byte."""
    try:
        os.lseek(fd, 1, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096))
        pid, host, started = int(info["pid"]), str(info["host"]), str(info["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
    return f"process {pid} on {host} (since {started})"


def _pid_alive(pid: Any) -> bool:
    if type(pid) is not int or not 0 < pid < 2**31:
        return False
    if os.name == "nt":
        return True  # os.kill(pid, 0) would send Ctrl+C there; trust the status instead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True
