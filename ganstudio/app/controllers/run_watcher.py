"""RunWatcher: shows a run folder, finished or still being written by another process.

:func:`read_run` reads what is there, off the UI thread (a long run's metrics.jsonl holds
hundreds of megabytes); the watcher then shows it and tails ``metrics.jsonl`` on a timer,
turning each new record into the same event the trainer yielded, so the views cannot tell
the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ganstudio.app.controllers.run_state import RunState
from ganstudio.engine import events as ev
from ganstudio.engine.events import event_from_record
from ganstudio.engine.plotdata import PlotData, RunData
from ganstudio.engine.runs import MetricsTail, RunFolder, resolve_history

POLL_MS = 250
READ_CHUNK_BYTES = 4 << 20  # progress and cancellation are checked between chunks


class ReadCancelled(Exception):
    """Raised inside :func:`read_run` when the reader was asked to stop."""


@dataclass
class RunRead:
    """A run folder as read so far: enough to show it at once, and where to go on reading."""

    folder: RunFolder
    tail: MetricsTail  # positioned after the records read
    history: RunData  # the step and evaluation series
    events: list  # every other event, in order, with what a resume superseded left out
    last_step: ev.StepEvent | None
    real_points: np.ndarray | None


def read_run(path: str | Path, progress: Callable[[float], None] | None = None,
             cancelled: Callable[[], bool] | None = None, plot_series: Sequence[str] = (),
             smoothing: float = 0.0) -> RunRead:
    """Read a run folder as it is now. Runs off the UI thread; ``progress`` gets the share of
    metrics.jsonl read, and ``cancelled()`` returning True stops it with ReadCancelled.
    ``plot_series`` smoothed by ``smoothing`` are made ready to draw here too: for a long run
    that is a fraction of a second the UI thread would otherwise spend on its first frame."""
    folder = RunFolder(path)  # raises RunFolderError for a folder that is not a run
    metrics = folder.path / "metrics.jsonl"
    tail = MetricsTail(metrics)
    try:
        size = metrics.stat().st_size
    except OSError:
        size = 0
    # Each chunk's steps become columns at once: a long run's hundreds of thousands of records
    # never live together, so no one step of the reading holds the GIL (and the window) long.
    history = RunData()
    kept: list[dict] = []  # the other records, for their events
    last_step: dict | None = None
    while tail.offset < size:  # what was appended after this began, the watcher tails
        if cancelled is not None and cancelled():
            raise ReadCancelled
        before = tail.offset
        records = tail.poll(READ_CHUNK_BYTES)
        history.append(records)  # a resume record forgets the rows it superseded
        for record in records:
            kind = record.get("type")
            if kind == "step":
                last_step = record
            else:
                kept.append(record)
                if kind == "resume" and last_step is not None and \
                        last_step.get("step", 0) > record.get("step", 0):
                    last_step = None
        if tail.offset == before:
            break
        if progress is not None:
            progress(min(1.0, tail.offset / size))
    if plot_series:
        plot = PlotData()
        plot.add(folder.name, history)
        plot.view(plot_series, [folder.name], smoothing=smoothing)
    events = [event for record in resolve_history(kept)
              if (event := event_from_record(record)) is not None]
    if last_step is None and len(history):  # the last steps were superseded by a resume
        last_step = {"type": "step", **{name: history.column(name)[-1].item()
                                        for name in history.steps.columns}}
    return RunRead(folder, tail, history, events,
                   event_from_record(last_step) if last_step is not None else None,
                   folder.real_points())


class RunWatcher(QObject):
    live_changed = Signal(bool)

    def __init__(self, read: RunRead, parent: QObject | None = None):
        super().__init__(parent)
        self.folder = read.folder
        self.config = self.folder.config
        self.state = RunState(self.folder.path, self, history=read.history)
        self.state.real_points = read.real_points
        self._read = read
        self._tail = read.tail
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self.live = False

    def start(self) -> None:
        """Show the run as it was read, then follow it while its writer lives."""
        self.state.load(self._read.events, self._read.last_step)
        self._read = None
        self.poll()
        if self.live:
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def poll(self) -> None:
        records = self._tail.poll()
        if records:
            self._apply_records(records)
        self._update_liveness()

    def _apply_records(self, records: list[dict]) -> None:
        # Step records go into the history as they are, a run of them at a time: making an
        # event of each cost most of a poll while four live runs were followed.
        events: list = []
        steps: list[dict] = []
        for record in records:
            kind = record.get("type")
            if kind == "step":
                if events:
                    self.state.apply(events)
                    events = []
                steps.append(record)
                continue
            if steps:
                self.state.apply_step_records(steps)
                steps = []
            if kind == "resume":
                self.state.apply(events)
                events = []
                self.state.history.truncate_after(record.get("step", 0))
                continue
            event = event_from_record(record)
            if event is not None:
                events.append(event)
        self.state.apply(events)
        if steps:
            self.state.apply_step_records(steps)

    def _update_liveness(self) -> None:
        status = self.folder.status()
        live = status == "running"
        if not live and self.state.status in ("starting", "running", "paused"):
            self.state.set_status(status if status != "unknown" else "stopped")
        if live != self.live:
            self.live = live
            self.live_changed.emit(live)
            if not live:
                self._timer.stop()
