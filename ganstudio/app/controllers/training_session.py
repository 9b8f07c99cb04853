"""TrainingSession: one training run in the app, its worker thread and its commands."""

from __future__ import annotations

import queue
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ganstudio.app.controllers.run_state import RunState
from ganstudio.app.workers import EventWorker
from ganstudio.engine import events as ev
from ganstudio.engine.config import RunConfig


class TrainingSession(QObject):
    """Runs ``Trainer(config).run()`` on a worker thread and feeds its events to ``state``.

    Commands (pause, resume, step, stop, save, live hyper-parameters) go straight onto the
    trainer's queue, so they may be sent before the worker has even built the networks.
    """

    failed = Signal(str, str)  # message, details
    finished = Signal()

    def __init__(self, config: RunConfig, run_dir: str | Path, resume: str | Path | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.config = config
        self.run_dir = Path(run_dir)
        self.resume_path = resume
        self.state = RunState(self.run_dir, self)
        self.commands: queue.SimpleQueue = queue.SimpleQueue()
        self.error: tuple[str, str] | None = None
        self._stopping = False
        self._trainer = None  # set and read on the worker thread only
        self.worker = EventWorker(self._events, is_urgent=self._is_urgent, name="training",
                                  parent=self)
        self.worker.batch.connect(self.state.apply)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.finished.connect(self._on_worker_finished)

    def _events(self):
        """Runs on the worker thread: torch is imported and the networks built there."""
        from ganstudio.engine.trainer import Trainer

        self._trainer = Trainer(self.config, run_dir=self.run_dir, resume=self.resume_path,
                                commands=self.commands)
        yield from self._trainer.run()

    def _is_urgent(self, event) -> bool:
        """Runs on the worker thread. Steps are batched, except a step made while paused:
        the trainer then blocks waiting for a command, and the step must not wait with it."""
        if not isinstance(event, ev.StepEvent):
            return True
        return self._trainer is not None and self._trainer.paused

    def start(self) -> None:
        self.state.set_status("starting")
        self.worker.start()

    def is_active(self) -> bool:
        return self.worker.is_running()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def pause(self) -> None:
        self.commands.put(ev.Pause())

    def resume(self) -> None:
        self.commands.put(ev.Resume())

    def toggle_pause(self) -> None:
        if self.state.status == "paused":
            self.resume()
        else:
            self.pause()

    def step_once(self) -> None:
        self.commands.put(ev.StepOnce())

    def step_network(self, network: str) -> None:
        """While paused: one update of ``"D"`` or ``"G"`` alone (GAN Lab's teaching steps)."""
        self.commands.put(ev.StepD() if network == "D" else ev.StepG())

    def save_now(self) -> None:
        self.commands.put(ev.SaveNow())

    def set_hyper(self, lr_g=None, lr_d=None, d_steps=None) -> None:
        """Change learning rates or d_steps live; a ConfigError says what is wrong with a
        value, here, before anything reaches the trainer."""
        from ganstudio.engine.config import check_hyper
        from ganstudio.engine.errors import ConfigError

        found = check_hyper(lr_g, lr_d, d_steps, self.config.optim.updates)
        if found:
            raise ConfigError("; ".join(str(p) for p in found))
        self.commands.put(ev.SetHyper(lr_g, lr_d, d_steps))

    def stop(self) -> None:
        """Ask for a stop with a final checkpoint; ``finished`` follows."""
        self._stopping = True
        self.commands.put(ev.Stop())

    def wait(self, msecs: int) -> bool:
        return self.worker.wait(msecs)

    def _on_worker_failed(self, message: str, details: str) -> None:
        self.error = (message, details)
        self.state.set_status("failed")
        self.failed.emit(message, details)

    def _on_worker_finished(self) -> None:
        if self.state.status in ("starting", "running", "paused"):
            self.state.set_status("stopped")
        self.finished.emit()

