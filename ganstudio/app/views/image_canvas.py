"""A widget that draws one uint8 image, usually a grid of samples, scaled to fit and clickable."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ganstudio.app import theme

MARGIN = 8  # pixels of background kept around the image
LABEL_GAP = 8  # between the row labels and the image
# Upscaling snaps down to a whole number of screen pixels per image pixel when that keeps at
# least this share of the size: every sample pixel then has the same size on screen.
INTEGER_SNAP = 0.85

_FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888,
            4: QImage.Format.Format_RGBA8888}


@dataclass(frozen=True)
class _Geometry:
    """Where the image lies in the widget, and how the row labels are set."""

    image: QRectF
    scale: float  # screen pixels per image pixel
    label_font: QFont | None


class ImageCanvas(QWidget):
    """Draws a uint8 image (H, W, 1|3|4) scaled to fit, centred, crisp when magnified.

    The image is a grid of ``n`` cells, ``nrow`` per row, with ``pad`` pixels between them
    (as made by ``engine.images.make_grid``); a single image is ``nrow=1, n=1, pad=0``. The
    canvas reports clicks and hovers on cells and outlines the selected one; choosing what
    a click selects is left to its owner. A message (what to do while there is no image yet,
    or the error of a failed render) is drawn over the image or in its place.
    """

    cell_clicked = Signal(int)
    cell_hovered = Signal(int)  # -1 when the pointer leaves every cell
    image_clicked = Signal(float, float)  # x, y in image pixels: for pictures without cells

    def __init__(self, parent: QWidget | None = None, *, interactive: bool = True):
        super().__init__(parent)
        self._interactive = interactive
        self._array: np.ndarray | None = None  # QImage does not own its pixels: this does
        self._qimage: QImage | None = None
        self._nrow, self._n, self._pad = 1, 1, 0
        self._row_labels: list[str] | None = None
        self._selected: int | None = None
        self._hovered: int | None = None
        self._message: str | None = None
        self._message_is_error = False
        self._geometry: _Geometry | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(interactive)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    # --- data ---------------------------------------------------------------------------

    def set_image(
        self,
        image: np.ndarray | None,
        nrow: int = 1,
        n: int = 1,
        pad: int = 0,
        row_labels: list[str] | None = None,
    ) -> None:
        """Show ``image`` (or nothing), a grid of ``n`` cells with ``nrow`` per row."""
        if image is None:
            self._array, self._qimage = None, None
        else:
            array = np.asarray(image)
            if array.ndim == 2:
                array = array[:, :, None]
            if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in _FORMATS:
                raise ValueError(f"ImageCanvas draws (H, W, 1|3|4) uint8 images, "
                                 f"not {array.dtype} {array.shape}")
            array = np.ascontiguousarray(array)
            h, w, c = array.shape
            self._array = array
            self._qimage = QImage(array.data, w, h, w * c, _FORMATS[c])
        self._nrow, self._n, self._pad = max(1, nrow), max(1, n), max(0, pad)
        self._row_labels = list(row_labels) if row_labels else None
        if self._selected is not None and self._selected >= self._n:
            self._selected = None
        self._hovered = None
        self._relayout()

    def image(self) -> np.ndarray | None:
        return self._array

    def cell_image(self, index: int) -> np.ndarray | None:
        """The pixels of one cell of the current image (a view into it), or None."""
        box = self._cell_box(index)
        if box is None:
            return None
        y, x, h, w = box
        return self._array[y : y + h, x : x + w]

    def set_selected(self, index: int | None) -> None:
        """Outline cell ``index`` in the accent colour (None or -1: no selection)."""
        index = None if index is None or index < 0 or index >= self._n else index
        if index != self._selected:
            self._selected = index
            self.update()

    def selected(self) -> int | None:
        return self._selected

    def set_message(self, text: str | None, *, error: bool = False) -> None:
        """Draw ``text`` over the image, or in its place when there is none; None clears it."""
        self._message, self._message_is_error = text or None, error
        self.update()

    def message(self) -> str | None:
        return self._message

    # --- geometry -----------------------------------------------------------------------

    def cell_at(self, pos: QPoint | QPointF) -> int | None:
        """The index of the cell under widget position ``pos``, or None (padding, outside)."""
        geometry = self._layout()
        if self._array is None or geometry.scale <= 0:
            return None
        px = math.floor((pos.x() - geometry.image.x()) / geometry.scale)
        py = math.floor((pos.y() - geometry.image.y()) / geometry.scale)
        h, w = self._array.shape[:2]
        if not (0 <= px < w and 0 <= py < h):
            return None
        from ganstudio.engine.images import grid_cell

        return grid_cell(self._array.shape, (py, px), self._nrow, self._n, self._pad)

    def image_position(self, pos: QPoint | QPointF) -> tuple[float, float] | None:
        """Widget position ``pos`` in image pixels (x, y), or None outside the image."""
        geometry = self._layout()
        if self._array is None or geometry.scale <= 0:
            return None
        x = (pos.x() - geometry.image.x()) / geometry.scale
        y = (pos.y() - geometry.image.y()) / geometry.scale
        h, w = self._array.shape[:2]
        return (x, y) if 0 <= x < w and 0 <= y < h else None

    def widget_position(self, x: float, y: float) -> QPointF:
        """Image pixel (x, y) in widget coordinates."""
        geometry = self._layout()
        return QPointF(geometry.image.x() + x * geometry.scale,
                       geometry.image.y() + y * geometry.scale)

    def cell_rect(self, index: int) -> QRectF:
        """Cell ``index`` in widget coordinates (an empty rectangle when there is no such cell)."""
        box = self._cell_box(index)
        if box is None:
            return QRectF()
        y, x, h, w = box
        geometry = self._layout()
        s = geometry.scale
        return QRectF(geometry.image.x() + x * s, geometry.image.y() + y * s, w * s, h * s)

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in widget coordinates."""
        return QRectF(self._layout().image)

    def _cell_box(self, index: int) -> tuple[int, int, int, int] | None:
        """(y, x, h, w) of cell ``index`` in image pixels: ``grid_cell``'s maths, inverted."""
        if self._array is None or not 0 <= index < self._n:
            return None
        rows = math.ceil(self._n / self._nrow)
        pad = self._pad
        h = (self._array.shape[0] - pad) // rows - pad
        w = (self._array.shape[1] - pad) // self._nrow - pad
        r, c = divmod(index, self._nrow)
        return pad + r * (h + pad), pad + c * (w + pad), h, w

    def _cell_height(self) -> int:
        rows = math.ceil(self._n / self._nrow)
        return max(1, (self._array.shape[0] - self._pad) // rows - self._pad)

    def _relayout(self) -> None:
        self._geometry = None
        self.update()

    def _layout(self) -> _Geometry:
        if self._geometry is None:
            self._geometry = self._compute_layout()
        return self._geometry

    def _compute_layout(self) -> _Geometry:
        area = QRectF(self.rect()).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        if self._array is None or area.width() <= 0 or area.height() <= 0:
            return _Geometry(QRectF(), 0.0, None)
        h, w = self._array.shape[:2]
        # The labels' font follows the cell height, which follows the scale, which depends on
        # the room the labels take: size the gutter for the scale without labels (an upper
        # bound), then fit the image beside it.
        gutter, font = 0.0, None
        if self._row_labels:
            font = self._label_font(_fit_scale(area.width(), area.height(), w, h))
            widest = max(QFontMetricsF(font).horizontalAdvance(t) for t in self._row_labels)
            gutter = math.ceil(widest) + LABEL_GAP
        scale = _fit_scale(area.width() - gutter, area.height(), w, h)
        if self._row_labels:
            font = self._label_font(scale)
        width, height = w * scale, h * scale
        left = area.x() + (area.width() - gutter - width) / 2 + gutter
        top = area.y() + (area.height() - height) / 2
        if scale >= 1:
            left, top = round(left), round(top)
        return _Geometry(QRectF(left, top, width, height), scale, font)

    def _label_font(self, scale: float) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(int(min(15, max(9, self._cell_height() * scale * 0.4))))
        return font

    # --- Qt -----------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        return QSize(480, 480)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 200)

    def resizeEvent(self, event) -> None:
        self._geometry = None
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(theme.BACKGROUND))
        geometry = self._layout()
        if self._qimage is not None and geometry.scale > 0:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, geometry.scale < 1)
            painter.drawImage(geometry.image, self._qimage)
            self._paint_row_labels(painter, geometry)
            if self._hovered is not None and self._hovered != self._selected:
                hover = QColor(theme.TEXT)
                hover.setAlpha(150)
                painter.setPen(QPen(hover, 1))
                painter.drawRect(self.cell_rect(self._hovered).adjusted(-1, -1, 0, 0))
            if self._selected is not None:
                painter.setPen(QPen(QColor(theme.ACCENT), 2))
                painter.drawRect(self.cell_rect(self._selected).adjusted(-1, -1, 1, 1))
        if self._message:
            self._paint_message(painter)
        painter.end()

    def _paint_row_labels(self, painter: QPainter, geometry: _Geometry) -> None:
        if not self._row_labels or geometry.label_font is None:
            return
        painter.setFont(geometry.label_font)
        painter.setPen(QColor(theme.MUTED))
        rows = math.ceil(self._n / self._nrow)
        for r, text in enumerate(self._row_labels[:rows]):
            cell = self.cell_rect(r * self._nrow)
            box = QRectF(0, cell.y(), geometry.image.x() - LABEL_GAP, cell.height())
            painter.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_message(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = QColor(theme.ERROR if self._message_is_error else theme.MUTED)
        bounds = QRectF(self.rect()).adjusted(24, 24, -24, -24)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        text_rect = painter.boundingRect(bounds, flags, self._message)
        if self._qimage is not None:
            panel = QColor(theme.PANEL)
            panel.setAlpha(225)
            painter.setPen(QPen(QColor(theme.BORDER), 1))
            painter.setBrush(panel)
            painter.drawRoundedRect(text_rect.adjusted(-14, -10, 14, 10), 6, 6)
            if not self._message_is_error:
                colour = QColor(theme.TEXT)
        painter.setPen(colour)
        painter.drawText(bounds, flags, self._message)

    def mouseMoveEvent(self, event) -> None:
        if self._interactive:
            self._set_hovered(self.cell_at(event.position()))
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        if self._interactive:
            self._set_hovered(None)
        super().leaveEvent(event)

    def mousePressEvent(self, event) -> None:
        if self._interactive and event.button() == Qt.MouseButton.LeftButton:
            position = self.image_position(event.position())
            if position is not None:
                self.image_clicked.emit(*position)
            index = self.cell_at(event.position())
            if index is not None:
                self.cell_clicked.emit(index)
                return
        super().mousePressEvent(event)

    def _set_hovered(self, index: int | None) -> None:
        if index == self._hovered:
            return
        for old_or_new in (self._hovered, index):
            if old_or_new is not None:
                self.update(self.cell_rect(old_or_new).toAlignedRect().adjusted(-3, -3, 3, 3))
        self._hovered = index
        self.setCursor(Qt.CursorShape.PointingHandCursor if index is not None
                       else Qt.CursorShape.ArrowCursor)
        self.cell_hovered.emit(-1 if index is None else index)


def _fit_scale(width: float, height: float, w: int, h: int) -> float:
    """Screen pixels per image pixel so that a w × h image fits in width × height."""
    scale = max(0.0, min(width / w, height / h))
    if scale >= 1 and math.floor(scale) / scale >= INTEGER_SNAP:
        scale = float(math.floor(scale))
    return scale
