"""RunState: everything the window knows about one run, fed by trainer events.

A run trained in the app and a run folder written by another process both end up here, as
the same events, so every view works the same for both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from ganstudio.engine import events as ev
from ganstudio.engine.events import event_from_record
from ganstudio.engine.plotdata import RunData


class RunState(QObject):
    started = Signal(object)  # StartedEvent
    steps_added = Signal()
    snapshot_added = Signal(object)  # SamplesEvent, its path made absolute
    eval_added = Signal(object)  # EvalEvent
    gradients_added = Signal(object)  # GradientsEvent: per-layer norms, flagged layers
    alert_raised = Signal(object)  # AlertEvent
    status_changed = Signal(str)  # running, paused, finished, stopped, failed, interrupted
    hyper_changed = Signal(object)  # HyperEvent
    checkpoint_saved = Signal(object)  # CheckpointEvent
    done = Signal(object)  # DoneEvent

    def __init__(self, run_dir: str | Path | None = None, parent: QObject | None = None,
                 history: RunData | None = None):
        super().__init__(parent)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.history = history if history is not None else RunData()  # what the plots draw
        self.total_steps = 0
        self.first_step = 0
        self.device_name = ""
        self.kind = "images"
        self.classes: tuple[str, ...] = ()
        self.real_points: np.ndarray | None = None
        self.status = "starting"
        self.last_step: ev.StepEvent | None = None
        self.last_eval: ev.EvalEvent | None = None
        self.last_checkpoint: ev.CheckpointEvent | None = None
        self.last_gradients: ev.GradientsEvent | None = None
        self.snapshots: list[ev.SamplesEvent] = []
        self.alerts: list[ev.AlertEvent] = []

    @property
    def step(self) -> int:
        return self.last_step.step if self.last_step else self.first_step

    def set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)

    def apply(self, events: list) -> None:
        """Take a batch of events in order; steps are appended to the history together."""
        steps: list[ev.StepEvent] = []

        def flush_steps() -> None:
            if steps:
                self.history.append(steps)
                self.last_step = steps[-1]
                steps.clear()
                self.steps_added.emit()

        for event in events:
            if isinstance(event, ev.StepEvent):
                steps.append(event)
                continue
            flush_steps()
            if isinstance(event, (ev.EvalEvent, ev.DiagEvent)):
                self.history.append([event])  # diagnostics plot as evaluations do
            elif isinstance(event, ev.StartedEvent) and event.step:
                self.history.truncate_after(event.step)  # a resumed run supersedes the rest
            self._apply_one(event)
        flush_steps()

    def apply_step_records(self, records: list[dict]) -> None:
        """Take consecutive step records of metrics.jsonl (checked already), as ``apply``
        takes their events."""
        self.history.append(records)
        last = event_from_record(records[-1])
        if last is not None:
            self.last_step = last
        self.steps_added.emit()

    def load(self, events: list, last_step: ev.StepEvent | None) -> None:
        """Take the events of a run read from its folder, whose steps, evaluations and
        diagnostics are in ``history`` already; of the evaluations and the gradient tables,
        only the latest is announced."""
        latest = (ev.EvalEvent, ev.GradientsEvent)
        for event in events:
            if not isinstance(event, latest):
                self._apply_one(event)
        for kind in latest:
            of_kind = [event for event in events if isinstance(event, kind)]
            if of_kind:
                self._apply_one(of_kind[-1])
        if last_step is not None:
            self.last_step = last_step
            self.steps_added.emit()

    def _apply_one(self, event) -> None:
        if isinstance(event, ev.StartedEvent):
            self.total_steps, self.first_step = event.total_steps, event.step
            self.device_name, self.kind, self.classes = (
                event.device_name, event.kind, tuple(event.classes))
            if event.real_points is not None:
                self.real_points = event.real_points
            if event.run_dir and self.run_dir is None:
                self.run_dir = Path(event.run_dir)
            self.started.emit(event)
            self.set_status("running")
        elif isinstance(event, ev.SamplesEvent):
            if event.path and self.run_dir is not None and not Path(event.path).is_absolute():
                event = _with_path(event, self.run_dir / event.path)
            self.snapshots.append(event)
            self.snapshot_added.emit(event)
        elif isinstance(event, ev.EvalEvent):
            self.last_eval = event
            self.eval_added.emit(event)
        elif isinstance(event, ev.GradientsEvent):
            self.last_gradients = event
            self.gradients_added.emit(event)
        elif isinstance(event, ev.AlertEvent):
            self.alerts.append(event)
            self.alert_raised.emit(event)
        elif isinstance(event, ev.RollbackEvent):
            self.history.truncate_after(event.step)  # the restored weights' own history
            self.steps_added.emit()
        elif isinstance(event, ev.StatusEvent):
            self.set_status(event.state)
        elif isinstance(event, ev.HyperEvent):
            self.hyper_changed.emit(event)
        elif isinstance(event, ev.CheckpointEvent):
            self.last_checkpoint = event
            self.checkpoint_saved.emit(event)
        elif isinstance(event, ev.DoneEvent):
            self.set_status(event.reason)
            self.done.emit(event)


def _with_path(event: ev.SamplesEvent, path: Path) -> ev.SamplesEvent:
    from dataclasses import replace

    return replace(event, path=str(path))
