"""One series of several runs overlaid: a colour per run, a legend that toggles each run.

The series is any of the runs' step series (``loss_g``, …) or evaluation series (``fid/fid``,
``kid/kid``, …), chosen in a list that grows as the runs' evaluations arrive. Like
:class:`~ganstudio.app.views.loss_plot.LossPlot` it draws what a ``PlotData`` model gives it on
a timer, at one or two points per pixel, so four live runs cost about four curves a frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsView,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QFlowLayout, QLabeledDoubleSlider

from ganstudio.app import theme
from ganstudio.app.views.loss_plot import (
    AXIS_WIDTH,
    BUCKETS_PER_PIXEL,
    MAX_SMOOTHING,
    RAW_OPACITY,
    X_AXES,
    PacedRedraw,
    RefreshPacer,
    _Canvas,
    _Curve,
    _fit_y_range,
    _follow_x,
    _over_background,
    _row_of,
    _XAxisItem,
    _YAxisItem,
)
from ganstudio.engine.plotdata import STEP_SERIES, PlotData

EMPTY_TEXT = "No values yet"
NO_METRICS_TEXT = "No evaluations yet: FID, KID, … appear here every train.eval_every steps"


def is_metric(series: str) -> bool:
    """Whether a series is an evaluation's (``NAME/VALUE``) rather than a step series."""
    return "/" in series


class ComparePlot(PacedRedraw, QWidget):
    """The chosen series of every run shown, one curve per run.

    ``set_runs`` says which runs of the model to draw, in order, with a label and colour
    each. With ``metrics_only`` the series list holds only evaluation series (the training
    page's metrics plot). The owner calls ``refresh()`` from a timer, or
    ``start_auto_refresh()``; it redraws only when the data or a setting changed.
    """

    run_toggled = Signal(str, bool)  # run id, visible: a legend entry was clicked
    series_changed = Signal(str)

    def __init__(self, metrics_only: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self._pacer = RefreshPacer(self.refresh, self)
        self._metrics_only = metrics_only
        self._data: PlotData | None = None
        self._runs: list[tuple[str, str, str]] = []  # (id, label, colour) in order
        self._hidden: set[str] = set()
        self._series = ""
        self._smoothing = 0.0
        self._log_scale = False
        self._x_axis = "step"
        self._follow = True
        self._dirty = True
        self._drawn_version: tuple | None = None
        self._curves: dict[str, _Curve] = {}
        self._raw_curves: dict[str, _Curve] = {}
        self._legend: dict[str, QToolButton] = {}

        self._build_controls()
        self._build_plot()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(self._controls)
        layout.addLayout(self._legend_row)
        layout.addWidget(self._canvas, 1)


    # ---------------------------------------------------------------- construction

    def _build_controls(self) -> None:
        self._series_combo = QComboBox()
        self._series_combo.setMinimumContentsLength(14)
        self._series_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._series_combo.setToolTip("The series drawn for every run: a loss, D's outputs, a "
                                      "gradient norm, or an evaluation (FID, KID, …)")
        self._series_combo.currentIndexChanged.connect(self._on_series_combo_changed)
        self._smoothing_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self._smoothing_slider.setRange(0.0, MAX_SMOOTHING)
        self._smoothing_slider.setSingleStep(0.01)
        self._smoothing_slider.setFixedWidth(130)
        self._smoothing_slider.setToolTip("TensorBoard's debiased moving average, for all runs")
        self._smoothing_slider.valueChanged.connect(
            lambda value: self.set_smoothing(round(value, 2)))
        self._log_check = QCheckBox("Log scale")
        self._log_check.setToolTip("Logarithmic y axis for all runs; values ≤ 0 are not shown.")
        self._log_check.toggled.connect(self.set_log_scale)
        self._x_combo = QComboBox()
        for key, (_, label) in X_AXES.items():
            self._x_combo.addItem(label, key)
        self._x_combo.currentIndexChanged.connect(
            lambda index: self.set_x_axis(self._x_combo.itemData(index)))
        reset = QToolButton()
        reset.setText("Reset zoom")
        reset.setToolTip("Show every run's whole history and follow new values again")
        reset.clicked.connect(self.reset_zoom)

        self._controls = QFlowLayout()
        self._controls.setContentsMargins(2, 0, 2, 0)
        self._controls.setSpacing(6)
        for group in ((QLabel("Series"), self._series_combo),
                      (QLabel("Smoothing"), self._smoothing_slider),
                      (self._log_check,), (QLabel("X axis"), self._x_combo), (reset,)):
            self._controls.addWidget(_row_of(*group))
        self._legend_row = QFlowLayout()
        self._legend_row.setContentsMargins(2, 0, 2, 0)
        self._legend_row.setSpacing(4)

    def _build_plot(self) -> None:
        self._canvas = _Canvas()
        self._canvas.painted.connect(self._pacer.painted)
        # a frame moves every curve: one bounding rectangle is cheaper than their region
        self._canvas.setViewportUpdateMode(
            QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self._canvas.setBackground(theme.BACKGROUND)
        self._canvas.ci.setContentsMargins(2, 4, 8, 2)
        self._x_axis_item = _XAxisItem(orientation="bottom")
        self._plot = self._canvas.addPlot(
            axisItems={"left": _YAxisItem(orientation="left"), "bottom": self._x_axis_item})
        plot = self._plot
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True)
        plot.vb.enableAutoRange(x=False, y=False)
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setPen(pg.mkPen(theme.BORDER))
            axis.setTextPen(pg.mkPen(theme.MUTED))
            axis.setStyle(tickAlpha=36, maxTickLevel=1, maxTextLevel=1)
            axis.enableAutoSIPrefix(False)
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.setLabel("bottom", X_AXES["step"][1], color=theme.MUTED, **{"font-size": "9pt"})
        plot.vb.setXRange(0, 100, padding=0)
        plot.vb.sigRangeChangedManually.connect(self._on_range_changed_manually)
        self._canvas.scene().sigMouseClicked.connect(
            lambda event: event.double() and self.reset_zoom())
        self._empty = pg.TextItem(NO_METRICS_TEXT if self._metrics_only else EMPTY_TEXT,
                                  color=theme.MUTED, anchor=(0.5, 0.5))
        plot.addItem(self._empty, ignoreBounds=True)

    # ---------------------------------------------------------------- public API

    def set_data(self, data: PlotData) -> None:
        self._data = data
        if self._metrics_only:
            self._series = ""  # the first evaluation of the new data
        self._redraw()

    def set_runs(self, runs: Sequence[tuple[str, str, str]]) -> None:
        """Draw these runs of the model: (id, label, colour) each, in this order."""
        runs = [tuple(run) for run in runs]
        if runs == self._runs:
            return
        self._runs = runs
        ids = {run[0] for run in runs}
        self._hidden &= ids
        for run_id in [r for r in self._curves if r not in ids]:
            self._plot.removeItem(self._curves.pop(run_id))
            self._plot.removeItem(self._raw_curves.pop(run_id))
            self._legend.pop(run_id).deleteLater()
        for run_id, label, colour in runs:
            if run_id not in self._curves:
                raw = _Curve(_over_background(colour, RAW_OPACITY), None)
                raw.setZValue(-1)
                self._raw_curves[run_id] = raw
                self._curves[run_id] = _Curve(QColor(colour), None)
                self._plot.addItem(raw)
                self._plot.addItem(self._curves[run_id])
                button = QToolButton()
                button.setCheckable(True)
                button.setChecked(run_id not in self._hidden)
                button.toggled.connect(lambda on, r=run_id: self._on_legend_toggled(r, on))
                self._legend[run_id] = button
            else:
                self._curves[run_id].setPen(pg.mkPen(QColor(colour), width=1))
                self._raw_curves[run_id].setPen(
                    pg.mkPen(_over_background(colour, RAW_OPACITY), width=1))
            button = self._legend[run_id]
            button.setText(f"■ {label}")
            button.setToolTip(f"{label}: click to hide or show this run")
            _style_legend_button(button, colour)
            self._legend_row.removeWidget(button)
            self._legend_row.addWidget(button)
        self._update_series_list()
        self._follow = True
        self._redraw()

    def runs(self) -> list[str]:
        return [run[0] for run in self._runs]

    def set_run_visible(self, run_id: str, visible: bool) -> None:
        """Show or hide one run's curve (as its legend entry does)."""
        self._legend[run_id].setChecked(visible)

    def run_visible(self, run_id: str) -> bool:
        return run_id in self._curves and run_id not in self._hidden

    def legend_button(self, run_id: str) -> QToolButton:
        return self._legend[run_id]

    def set_series(self, name: str) -> None:
        """Draw series ``name`` for every run (a run that lacks it draws nothing)."""
        if name == self._series:
            return
        self._series = name
        self._update_series_list()
        self._redraw()
        self.series_changed.emit(name)

    def series(self) -> str:
        return self._series

    def available_series(self) -> list[str]:
        """What the series list offers: every series some run shown has."""
        return [self._series_combo.itemData(i) for i in range(self._series_combo.count())]

    def set_smoothing(self, weight: float) -> None:
        weight = min(max(float(weight), 0.0), MAX_SMOOTHING)
        if weight != self._smoothing:
            self._smoothing = weight
            with QSignalBlocker(self._smoothing_slider):
                self._smoothing_slider.setValue(weight)
            self._redraw()

    def smoothing(self) -> float:
        return self._smoothing

    def set_log_scale(self, on: bool) -> None:
        on = bool(on)
        if on != self._log_scale:
            self._log_scale = on
            with QSignalBlocker(self._log_check):
                self._log_check.setChecked(on)
            self._plot.setLogMode(x=False, y=on)
            self._plot.vb.enableAutoRange(x=False, y=False)
            self._follow = True
            self._redraw()

    def log_scale(self) -> bool:
        return self._log_scale

    def set_x_axis(self, choice: str) -> None:
        if choice not in X_AXES:
            raise ValueError(f"x axis {choice!r} is not one of {', '.join(map(repr, X_AXES))}")
        if choice != self._x_axis:
            self._x_axis = choice
            with QSignalBlocker(self._x_combo):
                self._x_combo.setCurrentIndex(self._x_combo.findData(choice))
            self._x_axis_item.set_mode(choice)
            self._plot.setLabel("bottom", X_AXES[choice][1])
            self._follow = True
            self._redraw()

    def reset_zoom(self) -> None:
        self._follow = True
        self._redraw()

    def curve_data(self, run_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) a run's main curve was last fed, in plot units (empty when hidden)."""
        return self._curves[run_id].values

    # ---------------------------------------------------------------- drawing

    def _redraw(self) -> None:
        self._dirty = True
        self.refresh()

    def _visible_runs(self) -> list[str]:
        return [run[0] for run in self._runs if run[0] not in self._hidden]

    def _update_series_list(self) -> None:
        """The series list: every series of the runs shown, kept in a stable order."""
        names: list[str] = [] if self._metrics_only else list(STEP_SERIES)
        if self._data is not None:
            known = set(self._data.run_ids())
            for run_id, *_ in self._runs:
                if run_id not in known:
                    continue
                for name in self._data.run(run_id).series_names():
                    if is_metric(name) and name not in names:
                        names.append(name)
        if not self._series and names:
            self._series = names[0]
        if self._series and self._series not in names:
            names.append(self._series)  # chosen before any run had it
        if names != self.available_series():
            with QSignalBlocker(self._series_combo):
                self._series_combo.clear()
                for name in names:
                    self._series_combo.addItem(theme.series_label(name), name)
        with QSignalBlocker(self._series_combo):
            self._series_combo.setCurrentIndex(self._series_combo.findData(self._series))

    def _draw(self) -> None:
        self._update_series_list()
        data, runs, series = self._data, self._visible_runs(), self._series
        for run_id in self._curves:
            if run_id not in runs:
                self._curves[run_id].clear_points()
                self._raw_curves[run_id].clear_points()
        x_column = X_AXES[self._x_axis][0]
        vb = self._plot.vb
        known = set(data.run_ids())
        runs = [run_id for run_id in runs if run_id in known]
        bounds = data.x_bounds([series], runs, x_column) if series else None
        self._empty.setVisible(bounds is None)
        if bounds is None:
            for run_id in runs:
                self._curves[run_id].clear_points()
                self._raw_curves[run_id].clear_points()
            x0, x1 = vb.viewRange()[0]
            y0, y1 = vb.viewRange()[1]
            self._empty.setPos((x0 + x1) / 2, (y0 + y1) / 2)
            return
        if self._follow:
            _follow_x(vb, *bounds)
            x_range = None
        else:
            x_range = tuple(vb.viewRange()[0])
        width = vb.width()
        buckets = max(int(width * BUCKETS_PER_PIXEL), 256) if width > 1 else 2048
        view = data.view([series], runs, x_column, x_range, buckets, self._smoothing,
                         self._log_scale)
        y_bounds = []
        for run_id in runs:
            curve, raw = self._curves[run_id], self._raw_curves[run_id]
            drawn = view.get((run_id, series))
            if drawn is None:
                curve.clear_points()
                raw.clear_points()
                continue
            if drawn.raw_y is not None:
                raw.set_points(drawn.raw_x, drawn.raw_y, drawn.x_bounds, drawn.raw_y_bounds)
            else:
                raw.clear_points()
            curve.set_points(drawn.x, drawn.y, drawn.x_bounds, drawn.y_bounds)
            y_bounds += [b for b in (drawn.y_bounds, drawn.raw_y_bounds) if b is not None]
        if self._follow and y_bounds:
            _fit_y_range(vb, min(b[0] for b in y_bounds), max(b[1] for b in y_bounds),
                         force=True)

    # ---------------------------------------------------------------- event handlers

    def _on_series_combo_changed(self, index: int) -> None:
        if index >= 0:
            self.set_series(self._series_combo.itemData(index))

    def _on_legend_toggled(self, run_id: str, on: bool) -> None:
        if on:
            self._hidden.discard(run_id)
        else:
            self._hidden.add(run_id)
        self._redraw()
        self.run_toggled.emit(run_id, on)

    def _on_range_changed_manually(self, _mask) -> None:
        if self._follow:
            self._follow = False
            self._redraw()


def _style_legend_button(button: QToolButton, colour: str) -> None:
    button.setStyleSheet(
        f"QToolButton {{ color: {theme.MUTED}; padding: 1px 6px; }}"
        f"QToolButton:checked {{ color: {colour}; background: transparent; }}")
