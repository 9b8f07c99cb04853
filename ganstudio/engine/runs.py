"""Run folders: the contract between headless training and the app.

::

    RUN_DIR/
      config.json            the RunConfig, with its format_version
      run.json               status (running, finished, stopped, failed), device, dataset, pid
      metrics.jsonl          one JSON record per line, append-only, flushed at least every second
      samples/step_0000200.png   grids from the fixed noise (2-D sets: a scatter PNG and .npz)
      checkpoints/step_0001000.safetensors        the generator (samples with no other file)
      checkpoints/step_0001000.train.safetensors  the training state (for resume)
      checkpoints/latest.json                     which checkpoint is the newest

Another process may read a run while it is written: :class:`MetricsTail` returns only
complete lines, and every other file is replaced atomically.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ganstudio import __version__
from ganstudio.engine.atomic import atomic_write_bytes, atomic_write_json
from ganstudio.engine.config import RunConfig
from ganstudio.engine.errors import ConfigError, RunFolderError
from ganstudio.engine.events import (
    DoneEvent,
    SamplesEvent,
    StartedEvent,
    StepEvent,
    event_record,
)

RUN_FORMAT_VERSION = 1
REAL_POINTS = "real.npz"  # 2-D runs: the real points the snapshots are drawn against
FLUSH_SECONDS = 0.5
_SAMPLE_NAME = re.compile(r"step_(\d+)\.(png|npz)$")


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

    def __init__(self, run_dir: str | Path, config: RunConfig, dataset: dict):
        self.path = Path(run_dir)
        self.config = config
        (self.path / "samples").mkdir(parents=True, exist_ok=True)
        (self.path / "checkpoints").mkdir(exist_ok=True)
        atomic_write_json(self.path / "config.json", config.to_dict())
        self._meta: dict[str, Any] = {
            "format_version": RUN_FORMAT_VERSION,
            "status": "running",
            "dataset": dataset,
            "ganstudio_version": __version__,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self._metrics = open(self.path / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
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
                atomic_write_bytes(self.path / "samples" / REAL_POINTS, buffer.getvalue())
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

    def flush(self) -> None:
        if self._buffer:
            self._metrics.write("".join(self._buffer))
            self._metrics.flush()
            self._buffer.clear()
        self._last_flush = time.monotonic()

    def _write_samples(self, event: SamplesEvent) -> SamplesEvent:
        from ganstudio.engine.images import render_points, save_png

        png = self.path / "samples" / f"step_{event.step:07d}.png"
        if event.grid is not None:
            save_png(png, event.grid)
        else:
            buffer = io.BytesIO()
            arrays = {"points": event.points}
            if event.labels is not None:
                arrays["labels"] = event.labels
            if event.field is not None:
                arrays["field"] = event.field
            if event.extent is not None:
                arrays["extent"] = np.asarray(event.extent, dtype=np.float64)
            np.savez(buffer, **arrays)
            atomic_write_bytes(png.with_suffix(".npz"), buffer.getvalue())
            save_png(png, render_points(event.points, extent=event.extent,
                                        reference=self.reference_points, field=event.field))
        return replace(event, path=str(png.relative_to(self.path)))

    def _write_meta(self) -> None:
        self._meta["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        atomic_write_json(self.path / "run.json", self._meta)

    def close(self, status: str | None = None) -> None:
        """Flush; ``status`` marks a run that ended without a DoneEvent (stopped or failed)."""
        if self._metrics.closed:
            return
        self.flush()
        self._metrics.close()
        if status and self._meta.get("status") == "running":
            self._meta["status"] = status
            self._write_meta()


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
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read(max_bytes)
        except FileNotFoundError:
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
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line damaged by a crash is skipped, the rest still reads
        return records


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
        if not (self.path / "config.json").is_file():
            raise RunFolderError(
                f"{self.path} is not a GAN Studio run folder (it has no config.json)."
            )
        try:
            self.config = RunConfig.from_json_file(self.path / "config.json")
        except ConfigError as e:
            raise RunFolderError(str(e)) from None

    @staticmethod
    def is_run_dir(path: str | Path) -> bool:
        return (Path(path) / "config.json").is_file() and (Path(path) / "metrics.jsonl").exists()

    @property
    def name(self) -> str:
        return self.path.name

    def meta(self) -> dict:
        try:
            return json.loads((self.path / "run.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}

    def status(self) -> str:
        """``running``, ``finished``, ``stopped``, ``failed``, or ``interrupted`` (writer gone)."""
        meta = self.meta()
        status = meta.get("status", "unknown")
        same_host = meta.get("host") == socket.gethostname()
        if status == "running" and same_host and not _pid_alive(meta.get("pid")):
            return "interrupted"
        return status

    def metrics(self) -> list[dict]:
        return resolve_history(MetricsTail(self.path / "metrics.jsonl").poll())

    def samples(self) -> list[SampleFile]:
        out = []
        for p in sorted((self.path / "samples").glob("step_*.png")):
            m = _SAMPLE_NAME.search(p.name)
            if m:
                npz = p.with_suffix(".npz")
                out.append(SampleFile(int(m.group(1)), p, npz if npz.exists() else None))
        return out

    def real_points(self) -> np.ndarray | None:
        path = self.path / "samples" / REAL_POINTS
        if not path.is_file():
            return None
        return load_points_sample(path).points

    def latest_checkpoint(self) -> Path | None:
        from ganstudio.engine.checkpoint import resolve_checkpoint
        from ganstudio.engine.errors import CheckpointError

        try:
            path = resolve_checkpoint(self.path)
        except CheckpointError:
            return None
        return path if path.is_file() else None


def resolve_history(records: list[dict]) -> list[dict]:
    """Drop the records a resume superseded: after ``{"type": "resume", "step": N}`` every
    earlier record of a step above N is gone."""
    out: list[dict] = []
    for record in records:
        if record.get("type") == "resume":
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


def load_points_sample(path: Path) -> PointsSample:
    with np.load(path, allow_pickle=False) as data:
        get = lambda name: data[name] if name in data.files else None  # noqa: E731
        extent = get("extent")
        return PointsSample(
            data["points"], get("labels"), get("field"),
            tuple(float(v) for v in extent) if extent is not None else None,
        )


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
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
