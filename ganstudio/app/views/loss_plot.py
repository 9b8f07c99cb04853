"""The live training curves: losses, D's outputs and gradient norms on three linked plots.

The view draws what a ``PlotData`` model gives it, on a timer, never on every appended row:
per series, points at one or two per pixel (min/max envelopes of long runs), smoothed and in
log units when asked. The model keeps those up to date as rows arrive, so a frame costs the
same at a million rows as at a thousand; the view only places them, fits the ranges and
reads out values under the mouse.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QFlowLayout, QLabeledDoubleSlider
from superqt.utils import qthrottled

from ganstudio.app import theme
from ganstudio.engine.plotdata import Curve, PlotData

# (title, series) of each plot, top to bottom.
PLOTS = (
    ("Loss", ("loss_g", "loss_d")),
    ("D output", ("d_real", "d_fake")),
    ("Gradient norm", ("grad_g", "grad_d")),
)
METRICS = tuple(name for _, names in PLOTS for name in names)
X_AXES = {"step": ("step", "Step"), "time": ("elapsed", "Wall time")}  # choice: (column, label)
MAX_SMOOTHING = 0.99
# The raw series behind a smoothed one, faint as TensorBoard draws it, and the grid lines:
# opaque colours mixed with the background, because Qt's raster engine draws translucent
# lines several times slower than opaque ones (a plain grid cost ~9 ms per plot per frame).
RAW_OPACITY = 0.3
GRID_OPACITY = 0.14
BUCKETS_PER_PIXEL = 1.5
# Room left around the data when a range is fitted, as fractions of the data's span: (before,
# after) on x, where new steps arrive, and on y. Ranges move seldom while a run grows, as
# moving one redraws the axes: x ends on a round number (_follow_x), and a y range is refitted
# only when the data leave it or fill less than RANGE_SLACK of it.
X_ROOM = (0.01, 0.03)
Y_ROOM = (0.05, 0.05)
RANGE_SLACK = 0.8
# Auto-refresh spends at most about this share of the UI thread's time on the plots: when a
# frame costs more than REFRESH_BUDGET × the minimum interval, frames come further apart.
REFRESH_BUDGET = 0.05
MAX_REFRESH_INTERVAL_MS = 1000
AXIS_WIDTH = 58  # px: the same for all three plots, so that their x axes line up


class RefreshPacer(QObject):
    """Calls ``refresh()`` (which returns whether it drew) from a single-shot timer: every
    ``interval_ms`` at most, and less often when a frame, the refresh plus the paint it caused
    (reported to ``painted``), costs more than REFRESH_BUDGET of that (a long history, a busy
    machine), so that drawing never crowds out the rest of the window or, through the GIL,
    training."""

    def __init__(self, refresh: Callable[[], bool], parent: QObject):
        super().__init__(parent)
        self._refresh = refresh
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._tick)
        self._running = False
        self._min_interval_ms = 100
        self._frame_cost_s: float | None = None  # smoothed wall time of a refresh plus its paint
        self._refresh_cost_s = 0.0

    def start(self, interval_ms: int = 100) -> None:
        self._min_interval_ms = interval_ms
        self._running = True
        self.timer.start(interval_ms)

    def stop(self) -> None:
        self._running = False
        self.timer.stop()

    def interval_ms(self) -> int:
        """The current interval (the minimum until a frame has been timed)."""
        if self._frame_cost_s is None:
            return self._min_interval_ms
        wanted = 1000 * self._frame_cost_s / REFRESH_BUDGET
        return round(min(max(wanted, self._min_interval_ms), MAX_REFRESH_INTERVAL_MS))

    def painted(self, seconds: float) -> None:
        cost = self._refresh_cost_s + seconds
        self._refresh_cost_s = 0.0
        previous = self._frame_cost_s
        self._frame_cost_s = cost if previous is None else 0.7 * previous + 0.3 * cost

    def _tick(self) -> None:
        start = time.perf_counter()
        if self._refresh():
            # The paint this refresh asked for runs after it, in the same turn of the event
            # loop; the canvas times it. Both go into the cost of the next frame's interval.
            self._refresh_cost_s = time.perf_counter() - start
        if self._running:
            self.timer.start(self.interval_ms())


def _row_of(*widgets: QWidget) -> QWidget:
    """Widgets that stay together on one line when the controls wrap."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 6, 0)
    layout.setSpacing(6)
    for widget in widgets:
        layout.addWidget(widget)
    return box


class PacedRedraw:
    """The redraw gate both plots share: ``refresh()`` draws (``_draw``) only when the data's
    version or a setting (``_dirty``) changed since the last draw, and a :class:`RefreshPacer`
    (``_pacer``) calls it from a timer."""

    _data: PlotData | None
    _dirty: bool
    _drawn_version: tuple | None
    _pacer: RefreshPacer

    def refresh(self) -> bool:
        """Redraw if the data or a setting changed since the last draw; return whether it did."""
        data = self._data
        if data is None or (not self._dirty and data.version == self._drawn_version):
            return False
        self._draw()
        self._drawn_version = data.version
        self._dirty = False
        return True

    def start_auto_refresh(self, interval_ms: int = 100) -> None:
        """Call ``refresh()`` from a timer (see :class:`RefreshPacer`)."""
        self._pacer.start(interval_ms)

    def stop_auto_refresh(self) -> None:
        self._pacer.stop()

    def refresh_interval_ms(self) -> int:
        return self._pacer.interval_ms()

    def _draw(self) -> None:
        raise NotImplementedError


class LossPlot(PacedRedraw, QWidget):
    """Stacked plots of a run's series with linked x axes, smoothing and a hover read-out.

    ``plots`` is (title, series names) per plot, top to bottom: the step series (``loss_g``,
    …) or an evaluation's (``modes/modes``). The owner calls ``refresh()`` from a timer (or
    ``start_auto_refresh()``); it redraws only when the data or a setting changed.
    Follow-latest keeps all data in view; zooming or panning with the mouse turns it off, and
    ``reset_zoom()`` turns it back on.
    """

    settings_changed = Signal()  # smoothing, log scale or x axis changed: worth persisting
    follow_latest_changed = Signal(bool)  # also when a zoom with the mouse turned it off

    def __init__(self, plots: Sequence[tuple[str, Sequence[str]]] = PLOTS,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self._pacer = RefreshPacer(self.refresh, self)
        self._layout = tuple((title, tuple(names)) for title, names in plots)
        self._series = tuple(name for _, names in self._layout for name in names)
        self._data: PlotData | None = None
        self._run: str | None = None  # the run drawn, one of the model's
        self._smoothing = 0.0
        self._log_scale = False
        self._x_axis = "step"
        self._follow = True
        self._hover_x: float | None = None  # x of the row under the mouse
        self._readout_plain = ""
        self._dirty = True  # a setting or the view changed: the next refresh redraws
        self._refit = True  # the next draw fits the ranges afresh, even if the data fits now
        self._drawn_version: tuple | None = None
        self._minimums: dict[str, float] = {}  # per series, as last drawn: for the log note
        # Per plot: fit y to the data in view (until the user zooms or pans that plot's y).
        self._auto_y = [True] * len(self._layout)

        self._build_controls()
        self._build_plots()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(self._controls)
        layout.addLayout(self._readout_row)
        layout.addWidget(self._canvas, 1)

        # View changes (zoom, pan, resize) arrive in storms; one redraw after the storm will do.
        self._view_changed = QTimer(self)
        self._view_changed.setSingleShot(True)
        self._view_changed.setInterval(0)
        self._view_changed.timeout.connect(self._on_view_changed_timeout)
        self._show_readout()

    # ---------------------------------------------------------------- construction

    def _build_controls(self) -> None:
        self._smoothing_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self._smoothing_slider.setRange(0.0, MAX_SMOOTHING)
        self._smoothing_slider.setSingleStep(0.01)
        self._smoothing_slider.setValue(0.0)
        self._smoothing_slider.setFixedWidth(140)
        self._smoothing_slider.setToolTip(
            "TensorBoard's debiased exponential moving average. 0 draws the raw values; "
            "higher values smooth more and draw the raw values faintly behind.")
        self._smoothing_slider.valueChanged.connect(self._on_smoothing_slider_changed)
        smoothing_label = QLabel("Smoothing")
        smoothing_label.setToolTip(self._smoothing_slider.toolTip())

        self._log_check = QCheckBox("Log scale")
        self._log_check.setToolTip("Logarithmic y axes. Zero and negative values are not shown.")
        self._log_check.toggled.connect(self.set_log_scale)
        self._log_note = QLabel("≤ 0 hidden")
        self._log_note.setStyleSheet(f"color: {theme.WARNING};")
        self._log_note.hide()

        self._x_combo = QComboBox()
        for key, (_, label) in X_AXES.items():
            self._x_combo.addItem(label, key)
        self._x_combo.setToolTip("Plot against the training step or the wall-clock time.")
        self._x_combo.currentIndexChanged.connect(
            lambda index: self.set_x_axis(self._x_combo.itemData(index)))
        x_label = QLabel("X axis")
        x_label.setToolTip(self._x_combo.toolTip())

        self._follow_button = QToolButton()
        self._follow_button.setText("Follow latest")
        self._follow_button.setCheckable(True)
        self._follow_button.setChecked(True)
        self._follow_button.setToolTip(
            "Keep all data in view as it arrives. Zooming or panning turns this off.")
        self._follow_button.toggled.connect(self.set_follow_latest)
        reset_button = QToolButton()
        reset_button.setText("Reset zoom")
        reset_button.setToolTip("Show all data and follow new data again (or double-click a plot).")
        reset_button.clicked.connect(self.reset_zoom)

        # The read-out: the step and time in the row of controls, the values below it.
        self._position = _TextRuns(align_right=True)
        self._readout = _TextRuns()
        self._readout.setToolTip("Values at the step under the mouse, or at the latest step. "
                                 "With smoothing: the smoothed value, then the raw one.")
        self._position.setToolTip(self._readout.toolTip())

        # The controls wrap onto a second line in a narrow window instead of widening it.
        self._controls = QFlowLayout()
        self._controls.setContentsMargins(2, 0, 2, 0)
        self._controls.setSpacing(6)
        for group in ((smoothing_label, self._smoothing_slider),
                      (self._log_check, self._log_note),
                      (x_label, self._x_combo),
                      (self._follow_button, reset_button)):
            self._controls.addWidget(_row_of(*group))
        self._readout_row = QHBoxLayout()
        self._readout_row.setContentsMargins(0, 0, 0, 0)
        self._readout_row.addWidget(self._readout, 1)
        self._position.setMinimumWidth(170)
        self._readout_row.addWidget(self._position)

    def _build_plots(self) -> None:
        self._canvas = _Canvas()
        self._canvas.painted.connect(self._pacer.painted)
        # A frame changes every curve, so nearly the whole canvas is repainted anyway; one
        # bounding rectangle is cheaper to clip to than the region of a dozen curves' rects
        # that Qt's minimal update builds (frames ~25% faster, measured at 150 and 1M rows).
        self._canvas.setViewportUpdateMode(
            QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self._canvas.setBackground(theme.BACKGROUND)
        self._canvas.ci.setContentsMargins(2, 4, 8, 2)
        self._canvas.ci.setSpacing(6)
        self._canvas.installEventFilter(self)
        self._x_axis_item = _XAxisItem(orientation="bottom")
        self._plots: list[pg.PlotItem] = []
        self._curves: dict[str, _Curve] = {}
        self._raw_curves: dict[str, _Curve] = {}
        self._hover_lines: list[pg.InfiniteLine] = []
        for row, (title, names) in enumerate(self._layout):
            last = row == len(self._layout) - 1
            axes = {"left": _YAxisItem(orientation="left")}
            if last:
                axes["bottom"] = self._x_axis_item
            plot = self._canvas.addPlot(row=row, col=0, axisItems=axes)
            legend = plot.addLegend(offset=(-6, 4), colCount=len(names), horSpacing=4,
                                    brush=pg.mkBrush(theme.PANEL),
                                    pen=pg.mkPen(theme.BORDER), labelTextColor=theme.TEXT,
                                    labelTextSize="8pt")
            legend.layout.setContentsMargins(4, 0, 4, 0)
            self._style_plot(plot, title, show_x=last)
            for name in names:  # raw first, so that every smoothed curve is drawn over them
                raw = _over_background(theme.series_colour(name), RAW_OPACITY)
                self._raw_curves[name] = self._add_curve(plot, raw, None)
                self._raw_curves[name].hide()
            for name in names:
                self._curves[name] = self._add_curve(plot, QColor(theme.series_colour(name)),
                                                     theme.series_label(name))
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=pg.mkPen(theme.MUTED, width=1,
                                                style=Qt.PenStyle.DashLine))
            line.hide()
            plot.addItem(line, ignoreBounds=True)
            self._hover_lines.append(line)
            plot.vb.sigRangeChangedManually.connect(
                partial(self._on_view_range_changed_manually, row))
            self._plots.append(plot)
        master = self._plots[-1].vb
        master.setXRange(0, 100, padding=0)  # until the first steps arrive
        for plot in self._plots[:-1]:
            plot.setXLink(master)
        master.sigXRangeChanged.connect(self._on_master_x_range_changed)
        master.sigResized.connect(self._on_master_resized)
        self._mouse_proxy = pg.SignalProxy(self._canvas.scene().sigMouseMoved, rateLimit=60,
                                           slot=self._on_scene_mouse_moved)
        self._canvas.scene().sigMouseClicked.connect(self._on_scene_mouse_clicked)

    @staticmethod
    def _style_plot(plot: pg.PlotItem, title: str, show_x: bool) -> None:
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.showGrid(x=True, y=True)
        # The view sets both ranges itself (_draw): it knows the extremes of what it feeds the
        # curves, where pyqtgraph's autorange would measure every curve again at each paint.
        plot.vb.enableAutoRange(x=False, y=False)
        label_style = {"color": theme.MUTED, "font-size": "9pt"}
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setPen(pg.mkPen(theme.BORDER))
            axis.setTextPen(pg.mkPen(theme.MUTED))
            axis.setTickPen(pg.mkPen(_over_background(theme.MUTED, GRID_OPACITY)))
            axis.setStyle(tickAlpha=255, maxTickLevel=1, maxTextLevel=1)
            axis.enableAutoSIPrefix(False)  # "D output (x0.001)" reads worse than 0.2 … 0.8
            axis.setZValue(-200)  # under the view box: grid lines behind the curves
        plot.getAxis("left").setWidth(AXIS_WIDTH)
        plot.setLabel("left", title, **label_style)
        if show_x:
            plot.setLabel("bottom", X_AXES["step"][1], **label_style)
        else:
            plot.getAxis("bottom").setStyle(showValues=False)
            plot.getAxis("bottom").setHeight(4)
        # Legends, axis titles and the axes with their grid lines change far less often than
        # the curves move over them: paint them from pixmaps, redrawn only when they change
        # (an axis replaying its picture of ticks, labels and grid cost ~0.5 ms per paint).
        plot.legend.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            axis.label.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    @staticmethod
    def _add_curve(plot: pg.PlotItem, colour: QColor, name: str | None) -> _Curve:
        curve = _Curve(colour, name)
        plot.addItem(curve)
        return curve

    # ---------------------------------------------------------------- public API

    def set_data(self, data: PlotData, run: str) -> None:
        """Draw this run of this model from now on."""
        self._data, self._run = data, run
        self._hover_x = None
        self._dirty = self._refit = True
        self.refresh()

    def set_smoothing(self, weight: float) -> None:
        """Smooth every series with TensorBoard's debiased EMA of this weight (0 to 0.99)."""
        weight = min(max(float(weight), 0.0), MAX_SMOOTHING)
        if weight == self._smoothing:
            return
        self._smoothing = weight
        with QSignalBlocker(self._smoothing_slider):
            self._smoothing_slider.setValue(weight)
        self._redraw()
        self.settings_changed.emit()

    def smoothing(self) -> float:
        return self._smoothing

    def series(self) -> tuple[str, ...]:
        """The series drawn, plot by plot."""
        return self._series

    def set_log_scale(self, on: bool) -> None:
        """Logarithmic y axes; zero and negative values are left out of the curves."""
        on = bool(on)
        if on == self._log_scale:
            return
        self._log_scale = on
        with QSignalBlocker(self._log_check):
            self._log_check.setChecked(on)
        x_range = self._plots[-1].vb.viewRange()[0]
        for plot in self._plots:
            plot.setLogMode(x=False, y=on)
            plot.vb.enableAutoRange(x=False, y=False)  # PlotItem turned it on again
        if not self._follow:
            self._plots[-1].vb.setXRange(*x_range, padding=0)
        self._auto_y = [True] * len(self._layout)  # a y range in the other scale means nothing
        self._refit = True
        self._redraw()
        self.settings_changed.emit()

    def log_scale(self) -> bool:
        return self._log_scale

    def set_x_axis(self, choice: str) -> None:
        """Plot against ``"step"`` or ``"time"`` (the run's elapsed seconds)."""
        if choice not in X_AXES:
            raise ValueError(f"x axis {choice!r} is not one of {', '.join(map(repr, X_AXES))}")
        if choice == self._x_axis:
            return
        self._x_axis = choice
        with QSignalBlocker(self._x_combo):
            self._x_combo.setCurrentIndex(self._x_combo.findData(choice))
        self._x_axis_item.set_mode(choice)
        self._plots[-1].setLabel("bottom", X_AXES[choice][1])
        # The old x range means nothing on the new axis: show everything again.
        self._set_follow(True)
        self._redraw()
        self.settings_changed.emit()

    def x_axis(self) -> str:
        return self._x_axis

    def set_follow_latest(self, on: bool) -> None:
        """Keep all data in view as it arrives (on), or leave the x range to the user (off)."""
        on = bool(on)
        if on == self._follow:
            return
        self._set_follow(on)
        self._redraw()

    def follow_latest(self) -> bool:
        return self._follow

    def reset_zoom(self) -> None:
        """Show all data, fit the y axes and follow new data again."""
        self._set_follow(True)
        self._redraw()

    def hover_at(self, x: float) -> None:
        """Put the hover line on the row nearest to ``x`` (on the current x axis) and show its
        values in the read-out."""
        readout = self._readout_at(x)
        self._hover_x = readout.x if readout is not None else None
        self._show_hover()

    def readout_text(self) -> str:
        """The read-out as plain text: the hovered row's values, else the latest row's."""
        return self._readout_plain

    def series_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the series' main curve at full resolution: smoothed when smoothing is on.

        The curve itself is fed a min/max envelope of these when there are more rows than
        pixels; these arrays are what that envelope summarises.
        """
        if name not in self._curves:
            raise KeyError(f"no series {name!r}; the series are {', '.join(self._series)}")
        if self._data is None:
            return np.empty(0), np.empty(0)
        return self._data.series(self._run, name, X_AXES[self._x_axis][0], self._smoothing)

    # ---------------------------------------------------------------- drawing

    def _redraw(self) -> None:
        """Draw now, though the data may not have changed: a setting or the view did."""
        self._dirty = True
        self.refresh()

    def _draw(self) -> None:
        data, runs = self._data, [self._run]
        x_column = X_AXES[self._x_axis][0]
        vb = self._plots[-1].vb
        bounds = data.x_bounds(self._series, runs, x_column)
        if bounds is None:
            for curve in (*self._curves.values(), *self._raw_curves.values()):
                curve.clear_points()
            self._hover_x = None
            self._minimums = {}
            self._show_hover()
            self._log_note.hide()
            return
        if self._follow:
            _follow_x(vb, *bounds)
            x_range = None
        else:
            x_range = tuple(vb.viewRange()[0])
        width = vb.width()
        buckets = max(int(width * BUCKETS_PER_PIXEL), 256) if width > 1 else 2048
        view = data.view(self._series, runs, x_column, x_range, buckets, self._smoothing,
                         self._log_scale)
        y_bounds: dict[str, list] = {}  # per series: the bounds of the curves drawn for it
        for name in self._series:
            curve, raw_curve = self._curves[name], self._raw_curves[name]
            drawn: Curve | None = view.get((self._run, name))
            if drawn is None:
                curve.clear_points()
                raw_curve.clear_points()
                y_bounds[name] = []
                continue
            if drawn.raw_y is not None:
                raw_curve.set_points(drawn.raw_x, drawn.raw_y, drawn.x_bounds,
                                     drawn.raw_y_bounds)
                raw_curve.show()
            elif raw_curve.isVisible():
                raw_curve.hide()
                raw_curve.clear_points()
            curve.set_points(drawn.x, drawn.y, drawn.x_bounds, drawn.y_bounds)
            y_bounds[name] = [drawn.y_bounds, drawn.raw_y_bounds]
        self._minimums = {name: drawn.minimum for (_, name), drawn in view.items()}
        self._fit_y(y_bounds)
        self._refit = False
        self._show_hover()
        self._show_log_note()

    def _fit_y(self, y_bounds: dict[str, list]) -> None:
        """Fit the y range of each plot the user has not zoomed to the values it draws."""
        for index, (plot, (_, names)) in enumerate(zip(self._plots, self._layout)):
            if not self._auto_y[index]:
                continue
            bounds = [b for name in names for b in y_bounds[name] if b is not None]
            if bounds:
                lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
                _fit_y_range(plot.vb, lo, hi, self._refit)

    def _set_follow(self, on: bool) -> None:
        changed = on != self._follow
        self._follow = on
        with QSignalBlocker(self._follow_button):
            self._follow_button.setChecked(on)
        if on:
            self._auto_y = [True] * len(self._layout)
            self._refit = True
        if changed:
            self.follow_latest_changed.emit(on)

    def _show_log_note(self) -> None:
        hidden = [theme.series_label(name) for name in self._series
                  if self._log_scale and self._minimums.get(name, math.inf) <= 0]
        self._log_note.setVisible(bool(hidden))
        if hidden:
            self._log_note.setToolTip(f"{', '.join(hidden)} went to zero or below at some "
                                      "steps; a log axis cannot show those values.")

    # ---------------------------------------------------------------- hover read-out

    def _readout_at(self, x: float | None):
        """The values at the row nearest to ``x`` (the latest row when None), or None."""
        if self._data is None:
            return None
        return self._data.readout(self._run, self._series, x, X_AXES[self._x_axis][0],
                                  self._smoothing)

    def _show_hover(self) -> None:
        readout = self._readout_at(self._hover_x)
        if readout is None:
            self._hover_x = None
        hovering = self._hover_x is not None
        for line in self._hover_lines:
            line.setVisible(hovering)
            if hovering:
                line.setValue(readout.x)
        self._show_readout(readout)

    def _show_readout(self, readout=None) -> None:
        if readout is None:
            self._readout_plain = ""
            self._position.set_runs([("No training steps yet", theme.MUTED, False)])
            self._readout.set_runs([])
            return
        head = f"step {_format_step(readout.step)}"
        if math.isfinite(readout.elapsed):
            head += f" · {_format_clock(readout.elapsed)}"
        self._position.set_runs([("latest " if self._hover_x is None else "at ", theme.MUTED,
                                  False), (head, theme.TEXT, True)])
        plain, runs = [head], []
        for name in self._series:
            if name not in readout.values:
                continue
            raw, smoothed = readout.values[name]
            label, value = theme.series_label(name), _format_value(raw)
            runs.append((f"{label} ", theme.series_colour(name), False))
            if smoothed is not None:
                smoothed = _format_value(smoothed)
                plain.append(f"{label} {smoothed} (raw {value})")
                runs += [(smoothed, theme.TEXT, False), (f" ({value})", theme.MUTED, False)]
            else:
                plain.append(f"{label} {value}")
                runs.append((value, theme.TEXT, False))
            runs.append(("    ", theme.TEXT, False))
        self._readout_plain = "  ".join(plain)
        self._readout.set_runs(runs[:-1])

    # ---------------------------------------------------------------- event handlers

    @qthrottled(timeout=100, leading=True)
    def _on_smoothing_slider_changed(self, value: float) -> None:
        # A full recomputation of a long run takes a while: a dragged slider applies at most
        # ten values a second, the last one always.
        self.set_smoothing(round(value, 2))

    def _on_view_range_changed_manually(self, index: int, mask) -> None:
        # mask: which axes the mouse moved. Panning or zooming x leaves follow-latest; zooming
        # y hands that plot's y range to the user until the zoom is reset.
        if mask[1]:
            self._auto_y[index] = False
        if mask[0] and self._follow:
            self._set_follow(False)
        self._view_changed.start()  # the range changed before follow-latest went off

    def _on_master_x_range_changed(self, *_args) -> None:
        if not self._follow:
            self._view_changed.start()

    def _on_master_resized(self, *_args) -> None:
        self._view_changed.start()  # the number of buckets follows the width

    def _on_view_changed_timeout(self) -> None:
        self._redraw()

    def _on_scene_mouse_moved(self, args) -> None:
        pos = args[0]
        for plot in self._plots:
            if plot.vb.sceneBoundingRect().contains(pos):
                readout = self._readout_at(plot.vb.mapSceneToView(pos).x())
                x = readout.x if readout is not None else None
                if x != self._hover_x:
                    self._hover_x = x
                    self._show_hover()
                return
        self._clear_hover()

    def _on_scene_mouse_clicked(self, event) -> None:
        if event.double():
            self.reset_zoom()

    def _clear_hover(self) -> None:
        if self._hover_x is not None:
            self._hover_x = None
            self._show_hover()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._canvas and event.type() == QEvent.Type.Leave:
            self._clear_hover()
        return super().eventFilter(watched, event)


class _Canvas(pg.GraphicsLayoutWidget):
    """The plots' canvas, which reports how long each paint took (wall seconds)."""

    painted = Signal(float)

    def paintEvent(self, event) -> None:
        start = time.perf_counter()
        super().paintEvent(event)
        self.painted.emit(time.perf_counter() - start)


class _TextRuns(QWidget):
    """One line of coloured runs of text, painted directly.

    A rich-text QLabel that changes every frame costs ~1.5 ms a frame (parsing, layout and
    relayout of its neighbours); this costs next to nothing, and its size ignores its text:
    a narrow window cuts it off on the right.
    """

    def __init__(self, align_right: bool = False):
        super().__init__()
        self._runs: list[tuple[str, str, bool]] = []  # (text, colour, bold)
        self._align_right = align_right
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().height() + 6)

    def set_runs(self, runs: list[tuple[str, str, bool]]) -> None:
        if runs != self._runs:
            self._runs = runs
            self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        regular = QFont(self.font())
        bold = QFont(regular)
        bold.setBold(True)
        fonts = [bold if is_bold else regular for _, _, is_bold in self._runs]
        widths = [QFontMetrics(font).horizontalAdvance(text)
                  for font, (text, _, _) in zip(fonts, self._runs)]
        spare = self.width() - 8 - sum(widths)
        x = 4 + spare if self._align_right and spare > 0 else 4  # too long: cut off the end
        metrics = self.fontMetrics()
        baseline = (self.height() + metrics.ascent() - metrics.descent()) / 2
        for font, width, (text, colour, _) in zip(fonts, widths, self._runs):
            painter.setFont(font)
            painter.setPen(QColor(colour))
            painter.drawText(QPointF(x, baseline), text)
            x += width
        painter.end()


class _YAxisItem(pg.AxisItem):
    """A y axis whose log scale labels the minor ticks (2…9 × 10ᵏ) only where they have room:
    pyqtgraph labels them all, and over a decade or two on a short plot they overlap."""

    def tickStrings(self, values, scale, spacing):
        strings = super().tickStrings(values, scale, spacing)
        low, high = self.range
        if not self.logMode or (spacing is not None and spacing >= 1) or high <= low:
            return strings
        pixels_per_unit = self.size().height() / (high - low)
        room = 1.2 * QFontMetrics(self.style["tickFont"] or self.font()).height()
        taken = [float(k) for k in range(math.ceil(low), math.floor(high) + 1)]  # decades
        kept = []
        for value, text in zip(values, strings):
            decade = abs(value - round(value)) < 1e-9
            if decade or all(abs(value - t) * pixels_per_unit >= room for t in taken):
                taken.append(value)
                kept.append(text)
            else:
                kept.append("")
        return kept


class _XAxisItem(pg.AxisItem):
    """The shared x axis: step counts (12.5k, 1.2M), or wall time as m:ss / h:mm:ss on round
    units of time."""

    TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                  43200, 86400)
    PIXELS_PER_TICK = 90

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._mode = "step"

    def set_mode(self, mode: str) -> None:
        self._mode = mode
        self.picture = None
        self.update()

    def tickSpacing(self, minVal, maxVal, size):
        span = maxVal - minVal
        if self._mode != "time" or span <= 0 or size <= 0:
            return super().tickSpacing(minVal, maxVal, size)
        wanted = span / max(size / self.PIXELS_PER_TICK, 1)
        spacing = next((s for s in self.TIME_STEPS if s >= wanted),
                       86400 * math.ceil(wanted / 86400))
        return [(spacing, 0)]

    def tickStrings(self, values, scale, spacing):
        if self._mode == "time":
            return [_format_clock(v) for v in values]
        if spacing < 1:
            return super().tickStrings(values, scale, spacing)
        top = max(abs(self.range[0]), abs(self.range[1]))  # one unit for every level
        unit, suffix = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 else (1, "")
        decimals = max(0, -math.floor(math.log10(spacing / unit) + 1e-9))
        return [f"{v / unit:,.{decimals}f}{suffix}" for v in values]


class _Curve(pg.PlotCurveItem):
    """A curve fed points the model has already downsampled, clipped and measured.

    pyqtgraph's PlotDataItem would downsample and clip the points again, and the curve would
    find its bounds with a NaN-aware min and max of each array, twice per feed: ~0.5 ms per
    curve per frame, for twelve curves. The points come in plot units (log10 on a log axis).
    """

    def __init__(self, colour: QColor, name: str | None):
        super().__init__(pen=pg.mkPen(colour, width=1), connect="finite", name=name)
        self.values = (np.empty(0), np.empty(0))  # (x, y) as fed
        self._known: tuple[tuple, tuple] = ((None, None), (None, None))

    def set_points(self, x: np.ndarray, y: np.ndarray, x_bounds: tuple[float, float] | None,
                   y_bounds: tuple[float, float] | None) -> None:
        self.values = (x, y)
        self._known = (x_bounds or (None, None), y_bounds or (None, None))
        self.setData(x, y)

    def clear_points(self) -> None:
        self.set_points(np.empty(0), np.empty(0), None, None)

    def dataBounds(self, ax, frac=1.0, orthoRange=None):
        # The extremes of every point (the view fits its ranges to them), not a percentile.
        return self._known[ax]


def _over_background(colour: str, opacity: float) -> QColor:
    """``colour`` drawn at ``opacity`` over the theme's background, as an opaque colour."""
    top, bottom = QColor(colour), QColor(theme.BACKGROUND)
    mix = [round(opacity * a + (1 - opacity) * b)
           for a, b in zip(top.getRgb()[:3], bottom.getRgb()[:3])]
    return QColor(*mix)


def _fit_y_range(vb: pg.ViewBox, lo: float, hi: float, force: bool) -> None:
    """Show lo..hi on the y axis of ``vb`` with some room around it, unless (and not ``force``)
    the current range already holds it without too much empty space."""
    start, end = vb.viewRange()[1]
    span = hi - lo
    if not force and start <= lo and hi <= end and span >= RANGE_SLACK * (end - start):
        return
    if span <= 0:
        span = abs(lo) or 1.0  # one value: give it a range around itself
    vb.setYRange(lo - Y_ROOM[0] * span, hi + Y_ROOM[1] * span, padding=0)


def _follow_x(vb: pg.ViewBox, lo: float, hi: float) -> None:
    """Show lo..hi on x with the end rounded up to a round number (`_round_up`), so that as a
    run grows the range moves about ten times per decade of steps, not on every frame: each
    move redraws every axis and grid, and the curves jump."""
    span = hi - lo if hi > lo else abs(lo) or 1.0
    end = _round_up(hi + X_ROOM[1] * span)
    start = lo - X_ROOM[0] * (end - lo)
    current = vb.viewRange()[0]
    if not (math.isclose(current[0], start) and math.isclose(current[1], end)):
        vb.setXRange(start, end, padding=0)


ROUND_MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def _round_up(value: float) -> float:
    """The smallest m × 10ᵏ ≥ ``value`` with m in ROUND_MANTISSAS (``value`` itself if ≤ 0)."""
    if not value > 0 or not math.isfinite(value):
        return value
    decade = 10.0 ** math.floor(math.log10(value))
    for mantissa in ROUND_MANTISSAS:
        if mantissa * decade >= value * (1 - 1e-12):
            return mantissa * decade
    return 10 * decade


def _format_value(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "—"


def _format_step(step: float) -> str:
    if not math.isfinite(step):
        return "—"
    return f"{step:,.0f}" if step == int(step) else f"{step:g}"


def _format_clock(seconds: float) -> str:
    """0:07, 12:34, 1:02:03."""
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes}:{secs:02d}"
