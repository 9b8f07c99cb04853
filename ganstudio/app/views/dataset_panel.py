"""The real-data part of the Setup panel: what a set holds, a grid of its images, the progress
of a download or a prepare with its Cancel, and the size of the cache.

It only draws and asks: the data controller does the work and tells it what to show. A folder
or file dropped on it is offered to the controller as a dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ganstudio.app import theme


@dataclass(frozen=True)
class DatasetEntry:
    """A real set the Setup panel offers: ``source`` (a catalogue name or an absolute path)
    and ``name`` go into DataConfig; ``present`` is False for a catalogue set not downloaded."""

    source: str
    name: str
    label: str
    kind: str  # catalogue, installed, prepared or recent
    present: bool = True
    detail: str = ""
    resolution: int | None = None  # a prepared set's
    grayscale: bool | None = None
    crop: str = "centre"
    download_bytes: int = 0


@dataclass(frozen=True)
class Inspection:
    """What ``inspect`` found: the report's lines for people, its counts, and a sample grid."""

    source: str
    count: int
    channels: int
    side: int | None  # the images' side when the most common size is square
    classes: tuple[str, ...]
    class_counts: tuple[int, ...]
    lines: tuple[str, ...]
    skipped: int
    grid: np.ndarray | None  # (H, W, 3) uint8



class DatasetPanel(QWidget):
    """Buttons to add, download and prepare a set; its report and sample grid; the cache."""

    download_requested = Signal()
    prepare_requested = Signal()
    cancel_requested = Signal()
    clear_cache_requested = Signal()
    path_dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        self.add_button = QPushButton("Add dataset…")
        self.add_button.setToolTip("A folder of images, an archive (.zip, .tar, .tar.gz), "
                                   "MNIST/CIFAR files or a .npy/.npz array; or drop one here")
        self.add_button.setMenu(QMenu(self.add_button))
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Download this set from its publisher into the cache")
        self.download_button.clicked.connect(self.download_requested)
        self.prepare_button = QPushButton("Prepare")
        self.prepare_button.setToolTip("Decode every image once into the cache at these "
                                       "settings (training does it too, when needed)")
        self.prepare_button.clicked.connect(self.prepare_requested)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.prepare_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        progress = QHBoxLayout()
        progress.setSpacing(6)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("subtle")
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setFixedHeight(10)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        progress.addWidget(self.progress_label)
        progress.addWidget(self.progress_bar, 1)
        progress.addWidget(self.cancel_button)
        self.progress_row = QWidget()
        self.progress_row.setLayout(progress)
        progress.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress_row)

        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.error)

        self.report = QLabel()
        self.report.setWordWrap(True)
        # wrapped to the dock's width, never widening it
        self.report.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report.setStyleSheet(f"color: {theme.TEXT};")
        layout.addWidget(self.report)
        self.grid = QLabel()
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # a grid wider than the dock is scaled down to it rather than widening the dock
        self.grid.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.grid)
        self._grid_pixmap: QPixmap | None = None

        cache = QHBoxLayout()
        cache.setSpacing(6)
        self.cache_label = QLabel("Cache: measuring…")
        self.cache_label.setObjectName("subtle")
        self.cache_label.setWordWrap(True)
        self.cache_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.clear_button = QPushButton("Clear cache…")
        self.clear_button.setToolTip("Delete every prepared set (downloads stay)")
        self.clear_button.clicked.connect(self.clear_cache_requested)
        cache.addWidget(self.cache_label, 1)
        cache.addWidget(self.clear_button)
        layout.addLayout(cache)

        self.hide_progress()
        self.show_error("")
        self.set_entry(None)

    # --- what the controller says -------------------------------------------------------

    def set_entry(self, entry) -> None:
        """The set chosen in the dataset list (None: a built-in set): which buttons apply."""
        real = entry is not None
        self.download_button.setVisible(real and not entry.present)
        self.prepare_button.setVisible(real and entry.present)
        self.report.setVisible(real)
        self.grid.setVisible(real)
        if not real:
            return
        if not entry.present:
            self.report.setText(f"Not on this machine yet. {entry.detail}")
            self._set_grid(None)
        elif self.report.property("source") != entry.source:
            self.report.setText("Reading…")
            self._set_grid(None)

    def show_inspection(self, inspection) -> None:
        """What a set holds: counts, sizes, channels, classes, what was skipped; its images."""
        self.report.setProperty("source", inspection.source)
        self.report.setText("\n".join(inspection.lines))
        self._set_grid(inspection.grid)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def show_progress(self, what: str, done: int, total: int) -> None:
        self.progress_row.setVisible(True)
        self.progress_label.setText(what)
        if total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(round(1000 * min(done, total) / total))
        else:
            self.progress_bar.setRange(0, 0)  # busy: the total is not known yet
        self.prepare_button.setEnabled(False)
        self.download_button.setEnabled(False)

    def hide_progress(self) -> None:
        self.progress_row.setVisible(False)
        self.prepare_button.setEnabled(True)
        self.download_button.setEnabled(True)

    def show_cache_size(self, prepared_bytes: int, download_bytes: int) -> None:
        self.cache_label.setText(f"Cache: {size_text(prepared_bytes)} prepared, "
                                 f"{size_text(download_bytes)} downloaded")
        self.clear_button.setEnabled(prepared_bytes > 0)

    def grid_pixmap(self) -> QPixmap | None:
        return self._grid_pixmap

    def _set_grid(self, grid: np.ndarray | None) -> None:
        if grid is None:
            self._grid_pixmap = None
            self.grid.clear()
            return
        h, w, _ = grid.shape
        grid = np.ascontiguousarray(grid)
        image = QImage(grid.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self._grid_pixmap = QPixmap.fromImage(image)
        self._fit_grid()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_grid()

    def _fit_grid(self) -> None:
        pixmap = self._grid_pixmap
        if pixmap is None:
            return
        width = max(1, min(pixmap.width(), self.width()))
        self.grid.setPixmap(pixmap.scaledToWidth(width, Qt.TransformationMode.FastTransformation)
                            if width < pixmap.width() else pixmap)

    # --- drops --------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_path(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_path(event)
        if path is not None:
            event.acceptProposedAction()
            self.path_dropped.emit(str(path))


def dropped_path(event) -> Path | None:
    """The one local file or folder being dropped, or None."""
    urls = event.mimeData().urls()
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    return Path(urls[0].toLocalFile())


def size_text(n: int) -> str:
    """Bytes for people: 0 B, 12 kB, 3.4 MB, 1.2 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}" if n < 100 * scale else f"{n / scale:,.0f} {unit}"
    return f"{n} B"
