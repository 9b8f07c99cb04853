"""The training page's live grid of samples from the fixed noise, scrubbable through its history."""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ganstudio.app import theme
from ganstudio.app.views.image_canvas import ImageCanvas
from ganstudio.app.views.snapshot_scrubber import Scrubbed, SnapshotScrubber

EMPTY_MESSAGE = "Samples from the fixed noise appear here as training runs."
DECODED_GRIDS = 8  # grids kept decoded in memory; older ones are read back when shown
DETAIL_SIZE = 240  # pixels: a 28-pixel sample shows at 8×


@dataclass(eq=False)
class _GridSnapshot:
    step: int
    path: Path | None
    nrow: int
    n: int | None
    pad: int
    row_labels: list[str] | None
    png: bytes | None = None  # a grid with no file, compressed when it left memory


class SampleDetail(QFrame):
    """One sample enlarged, crisp, with its index, class and step."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sampleDetail")
        self.setStyleSheet(f"#sampleDetail {{ background: {theme.PANEL}; "
                           f"border: 1px solid {theme.BORDER}; border-radius: 6px; }}")
        self.title = QLabel()
        self.title.setStyleSheet(f"color: {theme.TEXT}; font-weight: 600;")
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Close (Esc)")
        close.setAutoRaise(True)
        close.clicked.connect(self.closed)
        self.canvas = ImageCanvas(interactive=False)
        self.canvas.setFixedSize(DETAIL_SIZE, DETAIL_SIZE)
        self.label = QLabel()
        self.label.setStyleSheet(f"color: {theme.TEXT}; font-size: 15px;")
        self.step = QLabel()
        self.step.setObjectName("subtle")

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 12)
        layout.setSpacing(6)
        layout.addLayout(header)
        layout.addWidget(self.canvas)
        layout.addWidget(self.label)
        layout.addWidget(self.step)
        layout.addStretch(1)

    def show_sample(self, image: np.ndarray | None, index: int, step: int,
                    label: str | None = None) -> None:
        self.title.setText(f"Sample {index}")
        self.canvas.set_image(image)
        self.canvas.set_message(None if image is not None else "Not available at this step")
        self.label.setText(f"class {label}" if label is not None else "")
        self.label.setVisible(label is not None)
        self.step.setText(f"step {step:,}")


class SampleGridView(Scrubbed, QWidget):
    """The grid of samples from the fixed noise, newest first, with every earlier one a scrub away.

    Each snapshot is a grid image made by ``make_grid`` (pad 2), given as an array, as the
    PNG it was saved to, or both. Only the most recent few grids stay decoded; the others
    are read back from their PNG when scrubbed to. Clicking a sample shows it enlarged, and
    it stays selected as new snapshots arrive, so the same noise sharpens in place.
    """

    sample_selected = Signal(int)  # -1 when the selection is cleared

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._decoded: OrderedDict[_GridSnapshot, np.ndarray] = OrderedDict()
        self._selected: int | None = None

        self.subtitle = QLabel()
        self.canvas = ImageCanvas()
        self.canvas.cell_clicked.connect(self._on_canvas_cell_clicked)
        self.canvas.set_message(EMPTY_MESSAGE)
        self.detail = SampleDetail()
        self.detail.closed.connect(self._on_detail_closed)
        self.detail.hide()
        self.scrubber = SnapshotScrubber()
        self.scrubber.snapshot_chosen.connect(self._on_scrubber_snapshot_chosen)

        body = QHBoxLayout()
        body.addWidget(self.canvas, 1)
        body.addWidget(self.detail, 0, Qt.AlignmentFlag.AlignTop)
        self.lay_out(body)

    # --- snapshots ----------------------------------------------------------------------

    def add_snapshot(
        self,
        step: int,
        grid: np.ndarray | None = None,
        path: str | Path | None = None,
        nrow: int = 8,
        n: int | None = None,
        row_labels: list[str] | None = None,
        pad: int = 2,
    ) -> None:
        """Append the snapshot of ``step``: its grid image, the PNG it was saved to, or both.

        ``n`` (how many samples; None or 0 when unknown) defaults to a full grid of square
        samples, ``nrow`` a row: pass it for a grid whose last row is short. ``row_labels``
        name each row's class.
        """
        if grid is None and path is None:
            raise ValueError(f"the snapshot of step {step} has neither a grid nor a path")
        snapshot = _GridSnapshot(step, Path(path) if path is not None else None, max(1, nrow),
                                 n or None, pad, list(row_labels) if row_labels else None)
        if grid is not None:
            self._remember(snapshot, _with_channels(np.asarray(grid)))
        self.scrubber.add(snapshot)

    def clear(self) -> None:
        self._decoded.clear()
        self.scrubber.clear()
        self.select_sample(None)
        self.canvas.set_image(None)
        self.canvas.set_message(EMPTY_MESSAGE)
        self.subtitle.clear()

    def decoded_steps(self) -> list[int]:
        """The steps whose grids are decoded in memory, least recently shown first."""
        return [snapshot.step for snapshot in self._decoded]

    # --- selection ----------------------------------------------------------------------

    def select_sample(self, index: int | None) -> None:
        """Show sample ``index`` enlarged beside the grid (None or -1: hide it)."""
        index = None if index is None or index < 0 else index
        if index == self._selected:
            return
        self._selected = index
        self.canvas.set_selected(index)
        self._update_detail()
        self.sample_selected.emit(-1 if index is None else index)

    def selected_sample(self) -> int | None:
        return self._selected

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self._selected is not None:
            self.select_sample(None)
            return
        super().keyPressEvent(event)

    # --- drawing ------------------------------------------------------------------------

    def _on_scrubber_snapshot_chosen(self, index: int) -> None:
        snapshot = self.scrubber.snapshot(index)
        self.subtitle.setText(f"fixed noise, step {snapshot.step:,}")
        try:
            grid = self._grid(snapshot)
        except (OSError, ValueError) as error:
            self.canvas.set_image(None)
            self.canvas.set_message(f"Couldn't read the samples of step {snapshot.step:,}\n"
                                    f"{snapshot.path}\n{_reason(error)}", error=True)
            self._update_detail()
            return
        n = snapshot.n or _full_grid_count(grid.shape, snapshot.nrow, snapshot.pad)
        self.canvas.set_image(grid, snapshot.nrow, n, snapshot.pad, snapshot.row_labels)
        self.canvas.set_message(None)
        if self._selected is not None and self._selected >= n:
            self.select_sample(None)
        self.canvas.set_selected(self._selected)
        self._update_detail()

    def _update_detail(self) -> None:
        snapshot = self.scrubber.current()
        if self._selected is None or snapshot is None:
            self.detail.hide()
            return
        label = None
        if snapshot.row_labels:
            row = self._selected // snapshot.nrow
            label = snapshot.row_labels[row] if row < len(snapshot.row_labels) else None
        self.detail.show_sample(self.canvas.cell_image(self._selected), self._selected,
                                snapshot.step, label)
        self.detail.show()

    def _on_canvas_cell_clicked(self, index: int) -> None:
        self.select_sample(None if index == self._selected else index)

    def _on_detail_closed(self) -> None:
        self.select_sample(None)

    # --- memory -------------------------------------------------------------------------

    def _grid(self, snapshot: _GridSnapshot) -> np.ndarray:
        grid = self._decoded.get(snapshot)
        if grid is None:
            source = io.BytesIO(snapshot.png) if snapshot.png is not None else snapshot.path
            grid = _read_png(source)
        self._remember(snapshot, grid)
        return grid

    def _remember(self, snapshot: _GridSnapshot, grid: np.ndarray) -> None:
        self._decoded[snapshot] = grid
        self._decoded.move_to_end(snapshot)
        while len(self._decoded) > DECODED_GRIDS:
            old, old_grid = self._decoded.popitem(last=False)
            if old.path is None and old.png is None:
                old.png = _png_bytes(old_grid)


def _read_png(source: Path | io.BytesIO) -> np.ndarray:
    from ganstudio.engine.readers import open_image

    with open_image(source) as image:
        grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
        return _with_channels(np.asarray(image.convert("L" if grey else "RGB")))


def _reason(error: Exception) -> str:
    if isinstance(error, UnidentifiedImageError):
        return "It is not an image that Pillow can read."
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def _png_bytes(grid: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(grid[:, :, 0] if grid.shape[2] == 1 else grid).save(buffer, format="PNG")
    return buffer.getvalue()


def _with_channels(grid: np.ndarray) -> np.ndarray:
    """(H, W) grey → (H, W, 1), C-contiguous."""
    return np.ascontiguousarray(grid[:, :, None] if grid.ndim == 2 else grid)


def _full_grid_count(shape: tuple[int, ...], nrow: int, pad: int) -> int:
    """How many square samples fill a grid image ``nrow`` samples wide."""
    cell = (shape[1] - pad) // nrow - pad
    rows = max(1, (shape[0] - pad) // (cell + pad))
    return rows * nrow
