"""Download a pretrained generator: the catalogue of well-known StyleGAN2-ADA, StyleGAN3 and
BigGAN-deep networks, each with its size and licence, downloaded with a progress bar and
Cancel off the UI thread, then opened in the explorer."""

from __future__ import annotations

import contextlib
import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ganstudio.app.background import JobFailed, run_in_background
from ganstudio.engine.readers import format_size

COLUMNS = ("Network", "Family", "Size", "Licence", "Here")


class DownloadDialog(QDialog):
    """The catalogue's networks; Download (or Open, for one already here) emits ``chosen``
    with the path to open once it is on disk and verified."""

    chosen = Signal(str)  # the path to open: a file, or a folder for BigGAN
    progressed = Signal(int, int)  # bytes so far, total (0: unknown); from the download thread
    finished_download = Signal(object)  # the path, or JobFailed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Download a pretrained generator")
        self.resize(900, 520)
        self._cancel = threading.Event()
        self._downloading: str | None = None
        layout = QVBoxLayout(self)
        intro = QLabel("Well-known networks, from their publishers. A file is checked by opening "
                       "it with GAN Studio's own reader, which runs nothing from it. Read each "
                       "licence: most allow non-commercial research use only.")
        intro.setWordWrap(True)
        intro.setObjectName("subtle")
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):  # the licence takes what room is left
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch if column == 3
                                        else QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.itemDoubleClicked.connect(lambda _: self.start())
        layout.addWidget(self.table, 1)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.details.setOpenExternalLinks(True)
        layout.addWidget(self.details)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.status = QLabel("")
        self.status.setObjectName("subtle")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.go = QPushButton("Download")
        self.go.setObjectName("primary")
        self.go.setDefault(True)
        self.go.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.go)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.progressed.connect(self._on_progress)
        self.finished_download.connect(self._on_finished)
        self.fill()

    def fill(self) -> None:
        """One row per catalogue network, with whether it is downloaded already."""
        from ganstudio.engine.networks_catalogue import downloaded_path, networks

        entries = list(networks().values())
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            here = downloaded_path(entry.name) is not None
            size = format_size(entry.download_bytes) if entry.download_bytes else "?"
            cells = (entry.title, f"{entry.family} · {entry.resolution} px", size,
                     entry.licence, "✓ downloaded" if here else "")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                item.setData(Qt.ItemDataRole.UserRole, entry.name)
                self.table.setItem(row, column, item)
        if entries and not self.table.selectedItems():
            self.table.selectRow(0)
        self._on_selection()

    def selected_name(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(row)
                return

    def _on_selection(self) -> None:
        from ganstudio.engine.networks_catalogue import downloaded_path, get_network

        name = self.selected_name()
        if name is None:
            self.details.setText("")
            self.go.setEnabled(False)
            return
        entry = get_network(name)
        self.details.setText(
            f"<b>{entry.title}</b> · trained on {entry.dataset} · "
            f"<a href='{entry.homepage}'>{entry.homepage}</a><br>Licence: {entry.licence}")
        here = downloaded_path(name) is not None
        self.go.setText("Open" if here else "Download")
        self.go.setEnabled(self._downloading is None)

    def start(self) -> None:
        """Open the selected network, downloading it first when it is not here."""
        from ganstudio.engine.networks_catalogue import downloaded_path

        name = self.selected_name()
        if name is None or self._downloading is not None:
            return
        path = downloaded_path(name)
        if path is not None:
            self.chosen.emit(str(path))
            self.accept()
            return
        self._downloading = name
        self._cancel.clear()
        self.go.setEnabled(False)
        self.table.setEnabled(False)
        self.cancel_button.show()
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText(f"Downloading {name}…")

        def report(have: int, total: int) -> None:
            with contextlib.suppress(RuntimeError):  # the dialog is gone
                self.progressed.emit(have, total)

        run_in_background(_download, name, report, self._cancel.is_set,
                          on_done=self.finished_download.emit, owner=self)

    def cancel(self) -> None:
        if self._downloading is not None:
            self._cancel.set()
            self.status.setText("Cancelling…")

    def _on_progress(self, have: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(1000 * min(1.0, have / total)))
            self.status.setText(f"Downloading {self._downloading}: {format_size(have)} of "
                                f"{format_size(total)}")
        else:
            self.progress.setRange(0, 0)  # busy: the size is not known
            self.status.setText(f"Downloading {self._downloading}: {format_size(have)}")

    def _on_finished(self, result) -> None:
        from ganstudio.engine.errors import Cancelled

        name, self._downloading = self._downloading, None
        self.cancel_button.hide()
        self.progress.hide()
        self.table.setEnabled(True)
        self.fill()
        if isinstance(result, JobFailed):
            if isinstance(result.error, Cancelled):
                self.status.setText(f"The download of {name} was cancelled; it resumes where it "
                                    "stopped next time.")
            else:
                self.status.setText(f"The download of {name} failed: {result.message}")
            return
        self.status.setText(f"{name} is downloaded and checked.")
        self.chosen.emit(str(result))
        self.accept()

    def reject(self) -> None:
        self.cancel()  # a download is not left running behind a closed dialog
        super().reject()


def _download(name: str, report, cancelled) -> str:
    """Runs off the UI thread: the download, then the check that it opens as named."""
    from ganstudio.engine.networks_catalogue import download_network

    return str(download_network(name, progress=report, cancel=cancelled))
