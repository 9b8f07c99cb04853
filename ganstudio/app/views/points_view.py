"""The live scatter of a 2-D GAN, as GAN Lab draws it: real and generated points over D's view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ganstudio.app import theme
from ganstudio.app.views.snapshot_scrubber import Scrubbed, SnapshotScrubber
from ganstudio.engine.view2d import view_extent

EMPTY_MESSAGE = "Generated points appear here as training runs."
REAL_SIZE, FAKE_SIZE = 3, 4  # screen pixels
GRADIENT_COLOUR = "#f7d154"
MANIFOLD_COLOUR = "#b28dff"
# The longest of G's update arrows (its 95th percentile, so one outlier does not shrink the
# rest to dots) is drawn this share of the plane's width.
ARROW_REACH = 0.08
FIELD_FAKE = "#7d3a3e"  # D says fake
FIELD_REAL = "#2a6e58"  # D says real
# One colour per class of a conditional model, told apart on the dark background.
CLASS_COLOURS = ("#4c9aff", "#ff9f43", "#3ecf8e", "#ff6b6b", "#b28dff", "#f7d154", "#4dd0e1",
                 "#f78fb3", "#a3e048", "#c7a17a")


def _field_lut(steps: int = 256) -> np.ndarray:
    """(steps, 3) uint8: fake red, through the background, to real green."""
    stops = np.array([QColor(c).getRgb()[:3] for c in (FIELD_FAKE, theme.BACKGROUND,
                                                        FIELD_REAL)], np.float64)
    t = np.linspace(0.0, 2.0, steps)
    low = np.minimum(t.astype(int), 1)
    frac = (t - low)[:, None]
    return np.round(stops[low] * (1 - frac) + stops[low + 1] * frac).astype(np.uint8)


FIELD_LUT = _field_lut()


class _SmoothImageItem(pg.ImageItem):
    """An image item drawn with bilinear filtering: D's output is smooth, not blocky."""

    def paint(self, painter, *args):
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        super().paint(painter, *args)


@dataclass(eq=False)
class _PointsSnapshot:
    step: int
    points: np.ndarray | None
    labels: np.ndarray | None
    field: np.ndarray | None
    extent: tuple[float, float, float, float] | None
    path: Path | None
    directions: np.ndarray | None = None
    manifold: np.ndarray | None = None


class PointsView(Scrubbed, QWidget):
    """Real points in grey, generated points on top, and D's output over the plane behind them.

    Items are made once and fed with ``setData``. The view range is set once, from the first
    extent (or the real points), so the picture holds still while training moves the points.
    Snapshots added with ``add_snapshot`` can be scrubbed back through, as in the sample grid.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._range_from: str | None = None  # "points" or "extent": what set the view range
        self._has_field = False
        self._fake_brush = pg.mkBrush(theme.FAKE_POINTS)
        self._class_brushes = [pg.mkBrush(c) for c in CLASS_COLOURS]

        self.subtitle = QLabel(EMPTY_MESSAGE)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()

        self.plot = pg.PlotWidget(background=theme.BACKGROUND)
        plot_item = self.plot.getPlotItem()
        for axis in ("left", "bottom"):
            plot_item.hideAxis(axis)
        plot_item.hideButtons()
        plot_item.setMenuEnabled(False)
        self.view_box = plot_item.getViewBox()
        self.view_box.setAspectLocked(True)
        self.view_box.disableAutoRange()
        self.view_box.setMouseEnabled(False, False)  # the plane holds still, as in GAN Lab
        self.field_item = _SmoothImageItem(axisOrder="row-major")
        self.field_item.setLookupTable(FIELD_LUT)
        self.field_item.setZValue(-10)
        self.field_item.setVisible(False)
        self.real_item = pg.ScatterPlotItem(pxMode=True, size=REAL_SIZE, pen=None,
                                            brush=pg.mkBrush(theme.REAL_POINTS))
        self.fake_item = pg.ScatterPlotItem(pxMode=True, size=FAKE_SIZE, pen=None,
                                            brush=self._fake_brush)
        # GAN Lab's teaching views: G's update direction on each generated point, and G's
        # image of a regular grid of z, each one curve of line segments.
        self.manifold_item = pg.PlotCurveItem(pen=pg.mkPen(MANIFOLD_COLOUR, width=1),
                                              connect="finite")
        self.directions_item = pg.PlotCurveItem(pen=pg.mkPen(GRADIENT_COLOUR, width=1),
                                                connect="pairs")
        for item in (self.field_item, self.real_item, self.manifold_item, self.fake_item,
                     self.directions_item):
            self.plot.addItem(item)

        self.show_d = QCheckBox("Show D")
        self.show_d.setChecked(True)
        self.show_d.setToolTip("Colour the plane by the discriminator's output D(x)")
        self.show_d.toggled.connect(self._on_show_d_toggled)
        self.show_directions = QCheckBox("G's gradients")
        self.show_directions.setChecked(True)
        self.show_directions.setToolTip("On each generated point, the direction G's next "
                                        "update moves it (−∂ G's loss / ∂x, through D as it is)")
        self.show_directions.toggled.connect(self._update_overlays)
        self.show_manifold = QCheckBox("Manifold")
        self.show_manifold.setChecked(True)
        self.show_manifold.setToolTip("How G warps a regular grid of z (1-D and 2-D z)")
        self.show_manifold.toggled.connect(self._update_overlays)
        self._has_directions = self._has_manifold = False
        self.scrubber = SnapshotScrubber()
        self.scrubber.snapshot_chosen.connect(self._on_scrubber_snapshot_chosen)

        body = QHBoxLayout()
        body.addWidget(self.plot, 1)
        body.addWidget(self._legend_strip())
        self.lay_out(body, above_body=(self.error,))
        self.set_metrics(None)
        self._update_overlays()  # their check boxes show once a snapshot has them

    def _legend_strip(self) -> QFrame:
        strip = QFrame()
        strip.setObjectName("pointsLegend")
        strip.setStyleSheet(f"#pointsLegend {{ background: {theme.PANEL}; "
                            f"border: 1px solid {theme.BORDER}; border-radius: 6px; }}")
        strip.setFixedWidth(196)
        layout = QVBoxLayout(strip)
        layout.setContentsMargins(14, 12, 14, 14)
        layout.setSpacing(4)

        layout.addWidget(_dot_label(theme.REAL_POINTS, "Real"))
        self.generated_key = _dot_label(theme.FAKE_POINTS, "Generated")
        layout.addWidget(self.generated_key)
        layout.addSpacing(12)

        self.scale_box = QWidget()
        scale = QVBoxLayout(self.scale_box)
        scale.setContentsMargins(0, 0, 0, 0)
        scale.setSpacing(3)
        scale.addWidget(_caption("D(x) colour scale"))
        bar = QLabel()
        bar.setPixmap(_scale_pixmap(166, 10))
        scale.addWidget(bar)
        ends = QHBoxLayout()
        ends.addWidget(_caption("fake"))
        ends.addStretch(1)
        ends.addWidget(_caption("real"))
        scale.addLayout(ends)
        layout.addWidget(self.scale_box)
        layout.addWidget(self.show_d)
        layout.addWidget(self.show_directions)
        layout.addWidget(self.show_manifold)
        layout.addSpacing(14)

        line = QFrame()
        line.setFixedHeight(1)
        line.setStyleSheet(f"background: {theme.BORDER};")
        layout.addWidget(line)
        layout.addSpacing(8)
        self.eval_caption = _caption("Latest evaluation")
        layout.addWidget(self.eval_caption)
        layout.addSpacing(4)
        self.metric_values: dict[str, QLabel] = {}
        for key, name in (("modes", "Modes captured"), ("high_quality", "High-quality"),
                          ("reverse_kl", "Reverse KL")):
            layout.addWidget(_caption(name))
            value = QLabel()
            layout.addWidget(value)
            layout.addSpacing(6)
            self.metric_values[key] = value
        layout.addStretch(1)
        return strip

    # --- data ---------------------------------------------------------------------------

    def set_real_points(self, points: np.ndarray) -> None:
        """The real data, drawn in grey under everything generated (a few thousand at most)."""
        points = np.asarray(points, np.float32)
        self.real_item.setData(pos=points)
        if self._range_from is None and len(points):
            self._set_range(view_extent(points))
            self._range_from = "points"

    def set_snapshot(
        self,
        step: int,
        points: np.ndarray,
        labels: np.ndarray | None = None,
        field: np.ndarray | None = None,
        extent: tuple[float, float, float, float] | None = None,
        directions: np.ndarray | None = None,
        manifold: np.ndarray | None = None,
    ) -> None:
        """Draw one snapshot now, outside the history (``add_snapshot`` records it too).

        ``field`` is D's output on a grid over ``extent`` (x0, x1, y0, y1), row 0 at the top.
        ``labels`` (conditional models) colour the generated points by class. ``directions``
        (N, 2) is where G's next update moves each point; ``manifold`` (rows, columns, 2) is
        G's image of a regular grid of z.
        """
        points = np.asarray(points, np.float32)
        if labels is not None:
            brushes = self._class_brushes
            self.fake_item.setData(pos=points,
                                   brush=[brushes[int(c) % len(brushes)] for c in labels])
        else:
            self.fake_item.setData(pos=points, brush=self._fake_brush)
        by_class = labels is not None
        self.generated_key.setText(
            _dot_text(CLASS_COLOURS[:3] if by_class else (theme.FAKE_POINTS,), "Generated"))
        self.generated_key.setToolTip("Coloured by class" if by_class else "")
        if extent is not None and self._range_from != "extent":
            self._set_range(extent)
            self._range_from = "extent"
        self._has_field = field is not None and extent is not None
        if self._has_field:
            # Row 0 of the field is the top of the plane; row 0 of an image item lies at its
            # rectangle's y0, the bottom of this y-up plot.
            self.field_item.setImage(np.ascontiguousarray(np.asarray(field)[::-1]),
                                     levels=_field_levels(field), autoLevels=False)
            self.field_item.setRect(field_rect(extent, np.shape(field)))
        self._update_field_visibility()
        self._set_overlays(points, directions, manifold)
        self.subtitle.setText(f"step {step:,} · {len(points):,} generated points")
        self.error.hide()

    def add_snapshot(
        self,
        step: int,
        points: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        field: np.ndarray | None = None,
        extent: tuple[float, float, float, float] | None = None,
        path: str | Path | None = None,
        directions: np.ndarray | None = None,
        manifold: np.ndarray | None = None,
    ) -> None:
        """Record the snapshot of ``step`` and draw it while following the newest.

        Give its arrays, or only ``path``: the .npz a run folder holds (a .png path means the
        .npz beside it), read when the snapshot is shown.
        """
        if points is None and path is None:
            raise ValueError(f"the snapshot of step {step} has neither points nor a path")
        if path is not None:
            path = Path(path)
            if path.suffix == ".png":
                path = path.with_suffix(".npz")
        extent = tuple(float(v) for v in extent) if extent is not None else None
        self.scrubber.add(_PointsSnapshot(step, points, labels, field, extent, path,
                                          directions, manifold))

    def set_metrics(self, metrics: dict | None, step: int | None = None) -> None:
        """The latest mode-coverage evaluation (keys modes, n_modes, high_quality, reverse_kl)."""
        metrics = metrics or {}
        modes, n_modes = metrics.get("modes"), metrics.get("n_modes")
        quality, kl = metrics.get("high_quality"), metrics.get("reverse_kl")
        colour = theme.TEXT
        if modes is not None and n_modes is not None:
            colour = theme.SUCCESS if modes >= n_modes else theme.WARNING
        texts = {
            "modes": (f"{int(modes)}/{int(n_modes)}" if modes is not None
                      and n_modes is not None else None, colour),
            "high_quality": (f"{quality:.1f}%" if quality is not None else None, theme.TEXT),
            "reverse_kl": (f"{kl:.2f}" if kl is not None else None, theme.TEXT),
        }
        for key, (text, colour) in texts.items():
            self.metric_values[key].setText(text or "—")
            self.metric_values[key].setStyleSheet(
                f"color: {colour if text else theme.MUTED}; font-size: 22px; font-weight: 600;")
        self.eval_caption.setText(f"Evaluation at step {step:,}" if step is not None
                                  else "Latest evaluation")

    def show_field(self, show: bool) -> None:
        """Show or hide D's output behind the points (the Show D check box)."""
        self.show_d.setChecked(show)

    def clear(self) -> None:
        """Forget everything: points, snapshots, metrics and the view range."""
        self.scrubber.clear()
        self.real_item.clear()
        self.fake_item.clear()
        self._set_overlays(None, None, None)
        self._has_field = False
        self._update_field_visibility()
        self._range_from = None
        self.set_metrics(None)
        self.subtitle.setText(EMPTY_MESSAGE)
        self.error.hide()

    # --- events -------------------------------------------------------------------------

    def _on_scrubber_snapshot_chosen(self, index: int) -> None:
        snapshot = self.scrubber.snapshot(index)
        if snapshot.points is not None:
            self.set_snapshot(snapshot.step, snapshot.points, snapshot.labels, snapshot.field,
                              snapshot.extent, snapshot.directions, snapshot.manifold)
            return
        from ganstudio.engine.errors import GanStudioError
        from ganstudio.engine.runs import load_points_sample

        try:
            sample = load_points_sample(snapshot.path)
        except (OSError, GanStudioError) as error:
            self.fake_item.clear()
            self._set_overlays(None, None, None)
            self._has_field = False
            self._update_field_visibility()
            self.subtitle.setText(f"step {snapshot.step:,}")
            self.error.setText(f"Couldn't read the points of step {snapshot.step:,} from "
                               f"{snapshot.path}: {error}")
            self.error.show()
            return
        self.set_snapshot(snapshot.step, sample.points, sample.labels, sample.field,
                          sample.extent, sample.directions, sample.manifold)

    def _on_show_d_toggled(self, checked: bool) -> None:
        self._update_field_visibility()

    def _update_field_visibility(self) -> None:
        self.field_item.setVisible(self._has_field and self.show_d.isChecked())
        # A class-conditional D has no single map over the plane: say nothing about one.
        has_map = self._has_field or self.scrubber.current() is None
        self.scale_box.setVisible(has_map)
        self.show_d.setVisible(has_map)

    def _set_overlays(self, points: np.ndarray | None, directions: np.ndarray | None,
                      manifold: np.ndarray | None) -> None:
        self._has_directions = points is not None and directions is not None
        if self._has_directions:
            x, y = arrow_segments(points, directions, self.view_box.viewRange()[0])
            self.directions_item.setData(x, y)
        else:
            self.directions_item.setData([], [])
        self._has_manifold = manifold is not None
        if self._has_manifold:
            self.manifold_item.setData(*manifold_lines(manifold))
        else:
            self.manifold_item.setData([], [])
        self._update_overlays()

    def _update_overlays(self) -> None:
        self.directions_item.setVisible(self._has_directions
                                        and self.show_directions.isChecked())
        self.manifold_item.setVisible(self._has_manifold and self.show_manifold.isChecked())
        self.show_directions.setVisible(self._has_directions)
        self.show_manifold.setVisible(self._has_manifold)

    def _set_range(self, extent: tuple[float, float, float, float]) -> None:
        x0, x1, y0, y1 = (float(v) for v in extent)
        self.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)


def arrow_segments(points: np.ndarray, directions: np.ndarray,
                   x_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one line segment per point, from the point along its direction (pairs of
    vertices), scaled together so that the 95th percentile of their lengths is ARROW_REACH
    of the plane's width: the arrows compare with each other, not with anything absolute."""
    points = np.asarray(points, np.float64)
    directions = np.asarray(directions, np.float64)
    lengths = np.linalg.norm(directions, axis=1)
    finite = lengths[np.isfinite(lengths)]
    reference = float(np.percentile(finite, 95)) if len(finite) else 0.0
    width = float(x_range[1] - x_range[0]) or 1.0
    scale = ARROW_REACH * width / reference if reference > 0 else 0.0
    ends = points + scale * np.nan_to_num(directions)
    segments = np.empty((2 * len(points), 2))
    segments[0::2], segments[1::2] = points, ends
    return segments[:, 0], segments[:, 1]


def manifold_lines(manifold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the lines of G's image of a grid of z, (rows, columns, 2): each row, then
    each column (for 2-D z), NaN between lines so that they are not joined."""
    grid = np.asarray(manifold, np.float64)
    lines = list(grid) + (list(grid.transpose(1, 0, 2)) if grid.shape[0] > 1 else [])
    gap = np.full((1, 2), np.nan)
    joined = np.concatenate([part for line in lines for part in (line, gap)])
    return joined[:, 0], joined[:, 1]


def field_rect(extent: tuple[float, float, float, float], shape: tuple[int, ...]) -> QRectF:
    """Where a field sampled at the nodes of a regular grid spanning ``extent`` is drawn.

    The samples include the extent's edges (``linspace(x0, x1, n)``), so each pixel's centre
    sits on its node and the image reaches half a pixel beyond the extent on every side.
    """
    x0, x1, y0, y1 = (float(v) for v in extent)
    rows, cols = shape[:2]
    dx, dy = (x1 - x0) / max(1, cols - 1), (y1 - y0) / max(1, rows - 1)
    return QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy)


def _field_levels(field: np.ndarray) -> tuple[float, float]:
    """Probabilities span 0..1 with 0.5 undecided; raw critic outputs are centred on 0."""
    lo, hi = float(np.min(field)), float(np.max(field))
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0
    reach = max(abs(lo), abs(hi), 1e-6)
    return -reach, reach


def _scale_pixmap(width: int, height: int) -> QPixmap:
    row = FIELD_LUT[np.linspace(0, len(FIELD_LUT) - 1, width).astype(int)]
    pixels = np.ascontiguousarray(np.repeat(row[None], height, axis=0))
    image = QImage(pixels.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image)


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("subtle")
    return label


def _dot_text(colours: tuple[str, ...], text: str) -> str:
    dots = "".join(f'<span style="color:{c}; font-size:16px;">●</span>' for c in colours)
    return f"{dots}&nbsp;&nbsp;{text}"


def _dot_label(colour: str, text: str) -> QLabel:
    label = QLabel(_dot_text((colour,), text))
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setStyleSheet(f"color: {theme.TEXT};")
    return label
