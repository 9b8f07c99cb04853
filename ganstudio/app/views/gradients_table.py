"""The live per-layer gradient norms of G and D, with exploding and vanishing layers marked."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ganstudio.app import theme

COLUMNS = ("Network", "Layer", "Gradient norm", "")
MARKS = {"exploding": theme.ERROR, "vanishing": theme.WARNING}
EMPTY_TEXT = ("Per-layer gradient norms appear here every train.diag_every steps, with "
              "exploding and vanishing layers marked.")


class _NormItem(QTableWidgetItem):
    """Sorts by the norm, not by its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return _norm(self) < _norm(other)


def _norm(item: QTableWidgetItem) -> float:
    value = item.data(Qt.ItemDataRole.UserRole)
    return value if value is not None and math.isfinite(value) else -math.inf


class GradientsTable(QWidget):
    """Feed it ``set_gradients`` at each gradients record; the rows are replaced in place."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.heading = QLabel(EMPTY_TEXT)
        self.heading.setObjectName("subtle")
        self.heading.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Stretch)
        self.table.setSortingEnabled(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        self._marks: dict[str, str] = {}

    def clear(self) -> None:
        self.table.setRowCount(0)
        self._marks = {}
        self.heading.setText(EMPTY_TEXT)

    def set_gradients(self, step: int, g: dict[str, float], d: dict[str, float],
                      exploding: tuple[str, ...] = (), vanishing: tuple[str, ...] = ()) -> None:
        """The norms of one step; ``exploding`` and ``vanishing`` name layers ``"G:layer"``."""
        self._marks = {name: "exploding" for name in exploding}
        self._marks.update({name: "vanishing" for name in vanishing})
        rows = [("G", layer, norm) for layer, norm in g.items()] + \
            [("D", layer, norm) for layer, norm in d.items()]
        sorting = self.table.isSortingEnabled()
        self.table.setSortingEnabled(False)  # rows filled in place, then sorted once
        self.table.setRowCount(len(rows))
        for row, (network, layer, norm) in enumerate(rows):
            mark = self._marks.get(f"{network}:{layer}", "")
            norm_item = _NormItem("—" if norm is None else f"{norm:.3g}")
            norm_item.setData(Qt.ItemDataRole.UserRole, norm)
            norm_item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items = (QTableWidgetItem(network), QTableWidgetItem(layer), norm_item,
                     QTableWidgetItem(mark))
            for column, item in enumerate(items):
                if mark:
                    item.setForeground(QBrush(QColor(MARKS[mark])))
                    item.setToolTip(f"{network} {layer}: {mark} gradients at step {step:,}")
                self.table.setItem(row, column, item)
        self.table.setSortingEnabled(sorting)
        flagged = len(self._marks)
        self.heading.setText(f"Step {step:,}: {len(g)} layers of G, {len(d)} of D"
                             + (f"; {flagged} marked" if flagged else ""))

    def marks(self) -> dict[str, str]:
        """Per flagged layer (``"G:layer"``): ``exploding`` or ``vanishing``, as shown."""
        out = {}
        for row in range(self.table.rowCount()):
            mark = self.table.item(row, 3).text()
            if mark:
                out[f"{self.table.item(row, 0).text()}:{self.table.item(row, 1).text()}"] = mark
        return out
