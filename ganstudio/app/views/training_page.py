"""The training page: live samples (or the 2-D scatter) beside the live loss plots."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ganstudio.app import theme
from ganstudio.app.controllers.run_state import RunState
from ganstudio.app.views.compare_plot import ComparePlot
from ganstudio.app.views.gradients_table import GradientsTable
from ganstudio.app.views.loss_plot import LossPlot
from ganstudio.app.views.points_view import PointsView
from ganstudio.app.views.sample_grid import SampleGridView
from ganstudio.engine.plotdata import PlotData

RUN = "run"  # the id of the one run on the page in its plot data
METRICS_REFRESH_MS = 250  # evaluations arrive every few hundred steps at most
STATUS_COLOURS = {
    "starting": theme.MUTED, "running": theme.SUCCESS, "paused": theme.WARNING,
    "finished": theme.ACCENT, "stopped": theme.MUTED, "failed": theme.ERROR,
    "interrupted": theme.WARNING, "watching": theme.SUCCESS,
}


class TrainingPage(QWidget):
    """Shows one RunState; :meth:`bind` switches it to another run."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.state: RunState | None = None
        self.title = QLabel("No run")
        self.title.setObjectName("heading")
        self.chip = QLabel()
        self.detail = QLabel()
        self.detail.setObjectName("subtle")
        header = QHBoxLayout()
        header.setContentsMargins(14, 10, 14, 4)
        header.addWidget(self.title)
        header.addSpacing(10)
        header.addWidget(self.chip)
        header.addStretch(1)
        header.addWidget(self.detail)
        self.explore_button = QPushButton("Explore generator")
        self.explore_button.setToolTip("Open this run's latest checkpoint in the latent "
                                       "explorer, following new checkpoints live")
        header.addWidget(self.explore_button)

        self.samples = SampleGridView()
        self.points = PointsView()
        self.views = QStackedWidget()
        self.views.addWidget(self.samples)
        self.views.addWidget(self.points)
        self.plot = LossPlot()
        self.metrics = ComparePlot(metrics_only=True)  # FID, KID, … over steps
        self.metrics.start_auto_refresh(METRICS_REFRESH_MS)
        self.plots = QTabWidget()
        self.plots.setDocumentMode(True)
        self.plots.addTab(self.plot, "Losses")
        self.plots.addTab(self.metrics, "Metrics")
        self.plots.setTabToolTip(1, "The run's evaluations (FID, KID, precision and recall, "
                                    "…) and stability diagnostics (r_t, D's held-out gap, "
                                    "ADA's p, diversity) over steps")
        self.gradients = GradientsTable()
        self.plots.addTab(self.gradients, "Gradients")
        self.plots.setTabToolTip(2, "Per-layer gradient norms of G and D, live, with "
                                    "exploding and vanishing layers marked")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("trainingSplitter")
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(self.plots)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 6)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)
        self._set_status("starting")

    def bind(self, state: RunState, title: str) -> None:
        if self.state is not None:
            self.state.disconnect(self)
        self.state = state
        self.title.setText(title)
        self.detail.setText("")
        self.samples.clear()
        self.points.clear()
        plot_data = PlotData()
        plot_data.add(RUN, state.history)
        self.plot.set_data(plot_data, RUN)
        self.plot.set_follow_latest(True)
        self.metrics.set_data(plot_data)
        self.metrics.set_runs([(RUN, title, theme.ACCENT)])
        self.gradients.clear()
        if state.last_gradients is not None:
            self._on_gradients(state.last_gradients)
        state.gradients_added.connect(self._on_gradients)
        self._show_kind(state.kind)
        if state.real_points is not None:
            self.points.set_real_points(state.real_points)
        state.started.connect(self._on_started)
        state.snapshot_added.connect(self._on_snapshot)
        state.eval_added.connect(self._on_eval)
        state.status_changed.connect(self._set_status)
        self._set_status(state.status)

    @contextmanager
    def adding_many(self) -> Iterator[None]:
        """Snapshots that arrive in the block are drawn once, the newest, at its end."""
        with self.samples.scrubber.deferred(), self.points.scrubber.deferred():
            yield

    def _show_kind(self, kind: str) -> None:
        self.views.setCurrentWidget(self.points if kind == "points" else self.samples)

    def _on_started(self, event) -> None:
        self._show_kind(event.kind)
        if event.real_points is not None:
            self.points.set_real_points(event.real_points)
        elif self.state is not None and self.state.real_points is not None:
            self.points.set_real_points(self.state.real_points)
        params = f"G {event.params_g:,} · D {event.params_d:,} parameters"
        self.detail.setText(f"{event.device_name} · {params}")

    def _on_snapshot(self, event) -> None:
        state = self.state
        if state is None:
            return
        add_snapshot(self.points if state.kind == "points" else self.samples, state, event)

    def _on_gradients(self, event) -> None:
        self.gradients.set_gradients(event.step, event.g, event.d, event.exploding,
                                     event.vanishing)

    def _on_eval(self, event) -> None:
        self.points.set_metrics(event.metrics, event.step)

    def _set_status(self, status: str) -> None:
        colour = STATUS_COLOURS.get(status, theme.MUTED)
        self.chip.setText(status.capitalize())
        self.chip.setStyleSheet(
            f"color: {colour}; border: 1px solid {colour}; border-radius: 9px;"
            "padding: 1px 9px; font-weight: 600;")


def add_snapshot(view: SampleGridView | PointsView, state: RunState, event) -> None:
    """Give a run's snapshot (a SamplesEvent) to the view of its kind: a grid or the scatter."""
    if isinstance(view, PointsView):
        view.add_snapshot(event.step, points=event.points, labels=event.labels,
                          field=event.field, extent=event.extent, path=_npz_of(event.path),
                          directions=event.directions, manifold=event.manifold)
        return
    row_labels = list(state.classes) if state.classes else None
    n = event.n or (event.nrow * len(state.classes) if state.classes else None)
    view.add_snapshot(event.step, grid=event.grid, path=event.path, nrow=event.nrow or 8, n=n,
                      row_labels=row_labels)


def _npz_of(path: str | None) -> str | None:
    if not path:
        return None
    return path[: -len(".png")] + ".npz" if path.endswith(".png") else path
