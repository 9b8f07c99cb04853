"""The notifications panel: alerts from the engine (NaN, divergence) and app messages."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

ICONS = {
    "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
}


class NotificationsPanel(QWidget):
    count_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        layout.addWidget(self.list)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        buttons.addWidget(clear)
        layout.addLayout(buttons)

    def add(self, level: str, message: str, step: int | None = None) -> None:
        stamp = time.strftime("%H:%M:%S")
        where = f"step {step:,} · " if step is not None else ""
        item = QListWidgetItem(self.style().standardIcon(ICONS.get(level, ICONS["info"])),
                               f"{where}{stamp}  {message}")
        item.setToolTip(message)
        self.list.insertItem(0, item)
        self.count_changed.emit(self.list.count())

    def messages(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def clear(self) -> None:
        self.list.clear()
        self.count_changed.emit(0)
