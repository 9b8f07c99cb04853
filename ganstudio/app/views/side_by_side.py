"""Several runs' samples side by side at the same step, with one step slider for them all."""

from __future__ import annotations

import bisect

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ganstudio.app.controllers.run_state import RunState
from ganstudio.app.views.points_view import PointsView
from ganstudio.app.views.sample_grid import SampleGridView
from ganstudio.app.views.snapshot_scrubber import latest_button
from ganstudio.app.views.training_page import add_snapshot

EMPTY_TEXT = "Select runs in the table to see their samples side by side."


class _RunSamples(QWidget):
    """One run's samples (a grid, or the 2-D scatter) under its name, without a slider."""

    snapshot_added = Signal(int)  # step

    def __init__(self, run_id: str, label: str, colour: str, state: RunState):
        super().__init__()
        self.run_id, self.state = run_id, state
        self.title = QLabel(f"■ {label}")
        self.title.setStyleSheet(f"color: {colour}; font-weight: 600;")
        self.view = PointsView() if state.kind == "points" else SampleGridView()
        self.view.scrubber.hide()  # the one slider of SideBySideSamples moves them all
        if isinstance(self.view, PointsView) and state.real_points is not None:
            self.view.set_real_points(state.real_points)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        with self.view.scrubber.deferred():
            for event in state.snapshots:
                add_snapshot(self.view, state, event)
        state.snapshot_added.connect(self._on_snapshot_added)

    def steps(self) -> list[int]:
        scrubber = self.view.scrubber
        return [scrubber.snapshot(i).step for i in range(scrubber.count())]

    def _on_snapshot_added(self, event) -> None:
        add_snapshot(self.view, self.state, event)
        self.snapshot_added.emit(event.step)


class SideBySideSamples(QWidget):
    """The samples of the runs given to :meth:`set_runs`, each at the step of the slider (its
    last snapshot at or before that step), following the newest until the slider moves back."""

    step_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._panels: list[_RunSamples] = []
        self._steps: list[int] = []  # every step any run has a snapshot of, sorted
        self._following = True

        self._grid = QGridLayout()
        self._grid.setSpacing(8)
        self._empty = QLabel(EMPTY_TEXT)
        self._empty.setObjectName("subtle")
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("The step shown for every run: each shows its last snapshot at "
                               "or before it")
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.label = QLabel()
        self.label.setObjectName("subtle")
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("step 1,000,000")
                                   + 8)
        self.latest = latest_button("Follow every run's newest snapshot")
        self.latest.toggled.connect(self._on_latest_toggled)
        controls = QHBoxLayout()
        controls.setSpacing(10)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.label)
        controls.addWidget(self.latest)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self._empty, 1)
        layout.addLayout(self._grid, 1)
        layout.addLayout(controls)
        self._update_controls()

    def set_runs(self, runs: list[tuple[str, str, str, RunState]]) -> None:
        """Show these runs: (id, label, colour, state) each, in order."""
        if [(p.run_id, p.state) for p in self._panels] == [(r[0], r[3]) for r in runs]:
            return
        kept = {(p.run_id, id(p.state)): p for p in self._panels}
        panels = []
        for run in runs:
            panel = kept.pop((run[0], id(run[3])), None)
            if panel is None:  # a run not shown before (building a view costs a few ms)
                panel = _RunSamples(*run)
                panel.snapshot_added.connect(self._on_snapshot_added)
            panels.append(panel)
        for panel in self._panels:
            self._grid.removeWidget(panel)
        for panel in kept.values():
            panel.state.snapshot_added.disconnect(panel._on_snapshot_added)
            panel.deleteLater()
        self._panels = panels
        columns = max(1, 2 if len(runs) == 4 else min(len(runs), 3))
        for i, panel in enumerate(self._panels):
            self._grid.addWidget(panel, i // columns, i % columns)
        self._empty.setVisible(not self._panels)
        self._collect_steps()
        if self._following or not self._steps:
            self._follow()
        else:
            self.show_step(self.current_step())

    def panel_steps(self) -> dict[str, int | None]:
        """Per run: the step of the snapshot it shows (None before its first)."""
        return {panel.run_id: panel.view.current_step() for panel in self._panels}

    def steps(self) -> list[int]:
        return list(self._steps)

    def current_step(self) -> int | None:
        if not self._steps:
            return None
        return self._steps[min(self.slider.value(), len(self._steps) - 1)]

    def show_step(self, step: int) -> None:
        """Show every run at ``step`` (its last snapshot at or before it); the last step
        follows the newest again."""
        if not self._steps:
            return
        index = max(0, bisect.bisect_right(self._steps, step) - 1)
        self._following = index == len(self._steps) - 1
        self._show_index(index)

    def following_latest(self) -> bool:
        return self._following

    def _collect_steps(self) -> None:
        self._steps = sorted({step for panel in self._panels for step in panel.steps()})

    def _follow(self) -> None:
        self._following = True
        for panel in self._panels:
            panel.view.set_following_latest(True)
        self._update_controls()

    def _show_index(self, index: int) -> None:
        step = self._steps[index]
        if self._following:
            self._follow()
        else:
            for panel in self._panels:
                if panel.view.count():
                    panel.view.show_step(step)
            self._update_controls()
        self.step_changed.emit(step)

    def _update_controls(self) -> None:
        blocked = [self.slider.blockSignals(True), self.latest.blockSignals(True)]
        self.slider.setRange(0, max(0, len(self._steps) - 1))
        if self._following and self._steps:
            self.slider.setValue(len(self._steps) - 1)
        self.slider.setEnabled(len(self._steps) > 1)
        self.latest.setChecked(self._following)
        self.slider.blockSignals(blocked[0])
        self.latest.blockSignals(blocked[1])
        step = self.current_step()
        self.label.setText("no snapshots yet" if step is None else f"step {step:,}")

    def _on_snapshot_added(self, _step: int) -> None:
        held = None if self._following else self.current_step()
        self._collect_steps()
        if held is None:
            self._update_controls()
            return
        blocked = self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self._steps) - 1))
        self.slider.setValue(bisect.bisect_right(self._steps, held) - 1)
        self.slider.blockSignals(blocked)
        for panel in self._panels:  # the slider holds the step: a new snapshot waits
            if panel.view.count():
                panel.view.show_step(held)
        self._update_controls()

    def _on_slider_value_changed(self, value: int) -> None:
        if self._steps:
            self._following = value == len(self._steps) - 1
            self._show_index(value)

    def _on_latest_toggled(self, checked: bool) -> None:
        if checked:
            self._follow()
            if self._steps:
                self.step_changed.emit(self._steps[-1])
        else:
            self._following = False
            self._update_controls()
