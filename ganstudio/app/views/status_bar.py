"""The status bar's permanent parts: the run on screen, and a run folder being read."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from ganstudio.app.controllers.run_state import RunState


class RunStatus(QWidget):
    """The device, and of the run on the training page: step / total with a progress bar,
    it/s, ETA and elapsed time."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.device = QLabel("Device: starting…")
        self.step = QLabel("")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(180)
        self.progress.setTextVisible(False)
        self.speed = QLabel("")
        self.eta = QLabel("")
        self.elapsed = QLabel("")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        for widget in (self.device, self.step, self.progress, self.speed, self.eta,
                       self.elapsed):
            layout.addWidget(widget)

    def set_device(self, description: str) -> None:
        self.device.setText(f"Device: {description}")

    def show_run(self, state: RunState | None) -> None:
        """Show this run's progress, or none (None: no run, or its page is not on screen)."""
        if state is None:
            for label in (self.step, self.speed, self.eta, self.elapsed):
                label.setText("")
            self.progress.setVisible(False)
            return
        self.progress.setVisible(True)
        total = max(1, state.total_steps)
        step = state.step
        self.progress.setRange(0, total)
        self.progress.setValue(min(step, total))
        self.step.setText(f"step {step:,} / {state.total_steps:,}")
        last = state.last_step
        running = state.status == "running"
        its = last.its if last is not None and running else 0.0
        self.speed.setText(f"{its:,.1f} it/s" if running else state.status)
        remaining = (state.total_steps - step) / its if its > 0 else float("nan")
        self.eta.setText(f"ETA {_duration(remaining)}" if running else "")
        elapsed = last.elapsed if last is not None else 0.0
        self.elapsed.setText(f"elapsed {_duration(elapsed)}")
        if state.device_name:
            self.set_device(state.device_name)


class ReadProgress(QWidget):
    """A run folder being read off the UI thread: its name, how far, and Cancel."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setToolTip("Stop reading this run folder")
        self.cancel.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addStretch(1)  # any room the status bar gives goes before, not between
        for widget in (self.label, self.bar, self.cancel):
            layout.addWidget(widget)
        self.hide()

    def show_progress(self, name: str, fraction: float) -> None:
        self.label.setText(f"Reading {name}…")
        self.bar.setValue(round(1000 * fraction))
        self.show()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
