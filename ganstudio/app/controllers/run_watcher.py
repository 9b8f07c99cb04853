"""RunWatcher: opens a run folder, finished or still being written by another process.

It reads what is there, then tails ``metrics.jsonl`` on a timer, turning each new record
into the same event the trainer yielded, so the views cannot tell the difference.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from ganstudio.app.controllers.run_state import RunState
from ganstudio.engine.events import event_from_record
from ganstudio.engine.runs import MetricsTail, RunFolder, resolve_history

POLL_MS = 250


class RunWatcher(QObject):
    live_changed = Signal(bool)

    def __init__(self, run_dir: str | Path, parent: QObject | None = None):
        super().__init__(parent)
        self.folder = RunFolder(run_dir)  # raises RunFolderError for a folder that is not a run
        self.state = RunState(self.folder.path, self)
        self.config = self.folder.config
        self._tail = MetricsTail(self.folder.path / "metrics.jsonl")
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self.live = False

    def start(self) -> None:
        """Read the whole run as it is now, then follow it while its writer lives."""
        self.state.real_points = self.folder.real_points()
        records = resolve_history(self._tail.poll())
        self._apply_records(records)
        self._update_liveness()
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
        events = []
        for record in records:
            if record.get("type") == "resume":
                self.state.apply(events)
                events = []
                self.state.history.truncate_after(record.get("step", 0))
                continue
            event = event_from_record(record)
            if event is not None:
                events.append(event)
        self.state.apply(events)

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
