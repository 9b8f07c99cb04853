"""Dialogs: errors with details, the keyboard shortcuts, and About."""

from __future__ import annotations

import platform
import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ganstudio import __version__
from ganstudio.engine.errors import printable


def show_error(parent: QWidget, title: str, message: str, details: str | None = None):
    """A non-blocking error box with the details (a traceback) folded away."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(printable(message))  # a file name that is not UTF-8 would not reach Qt
    box.setInformativeText("GAN Studio is still running and nothing you made was lost.")
    if details:
        box.setDetailedText(printable(details))
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("errorDialog")
    box.open()
    return box


class ShortcutsDialog(QDialog):
    """Every action that has a shortcut, read from the window's own actions."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(480, 520)
        rows = []
        for action in actions:
            keys = ", ".join(s.toString(s.SequenceFormat.NativeText) for s in action.shortcuts())
            if keys:
                rows.append((action.text().replace("&", "").rstrip("…"), keys))
        rows.append(("Pan a plot / zoom a plot", "drag / mouse wheel"))
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for r, (name, keys) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(name))
            table.setItem(r, 1, QTableWidgetItem(keys))
        self.table = table
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def about_text(device: str) -> str:
    import PySide6
    from PySide6.QtCore import qVersion

    torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else "loading…"
    return (
        f"<h3>GAN Studio {__version__}</h3>"
        "<p>Train, watch and explore Generative Adversarial Networks.</p>"
        f"<table>"
        f"<tr><td>GAN Studio</td><td>&nbsp;{__version__}</td></tr>"
        f"<tr><td>PyTorch</td><td>&nbsp;{torch_version}</td></tr>"
        f"<tr><td>Qt</td><td>&nbsp;{qVersion()} (PySide6 {PySide6.__version__})</td></tr>"
        f"<tr><td>Python</td><td>&nbsp;{platform.python_version()}</td></tr>"
        f"<tr><td>Device</td><td>&nbsp;{device}</td></tr>"
        f"</table>"
    )
