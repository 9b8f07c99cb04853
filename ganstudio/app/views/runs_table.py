"""The runs table: one row per run compared, sortable; the rows selected are the runs plotted."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QPoint,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from ganstudio.app import theme
from ganstudio.engine.runs_table import RunsTable

HEADINGS = {"name": "Run", "dataset": "Dataset", "model": "Model", "loss": "Loss",
            "status": "Status", "steps": "Steps", "parent": "Forked from"}


class RunsTableModel(QAbstractTableModel):
    """A :class:`~ganstudio.engine.runs_table.RunsTable` as a Qt model, its rows named by run
    ids; ``set_table`` replaces it, and the selection stays while the rows do."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._table = RunsTable([], [])
        self._ids: list[str] = []
        self._colours: dict[str, str] = {}

    def set_table(self, table: RunsTable, ids: list[str],
                  colours: dict[str, str] | None = None) -> None:
        """``ids`` name ``table``'s rows in order; ``colours`` (by id) colour the names."""
        same_shape = table.columns == self._table.columns and ids == self._ids
        self._colours = dict(colours or {})
        if same_shape:  # values changed only (a live run stepped): the selection stays
            self._table = table
            if table.rows:
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(table.rows) - 1, len(table.columns) - 1))
            return
        self.beginResetModel()
        self._table, self._ids = table, list(ids)
        self.endResetModel()

    def table(self) -> RunsTable:
        return self._table

    def run_id(self, row: int) -> str:
        return self._ids[row]

    def value(self, row: int, column: int) -> Any:
        return self._table.rows[row].get(self._table.columns[column])

    def column_keys(self) -> list[str]:
        return list(self._table.columns)

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._table.rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._table.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        key = self._table.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADINGS.get(key, key)
        if role == Qt.ItemDataRole.ToolTipRole and key in self._table.settings:
            return f"{key}: differs between the runs shown"
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run_id = self._ids[index.row()]
        key = self._table.columns[index.column()]
        value = self._table.rows[index.row()].get(key)
        if role == Qt.ItemDataRole.DisplayRole:
            return _format(value)
        if role == Qt.ItemDataRole.ForegroundRole and key == "name" and run_id in self._colours:
            return QColor(self._colours[run_id])
        if role == Qt.ItemDataRole.TextAlignmentRole and _is_number(value):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RunsTableView(QTableView):
    """The table, sortable by any column; ``selection_changed`` gives the selected runs' ids
    in table order, and ``fork_requested(id)`` comes from the context menu."""

    selection_changed = Signal(list)
    fork_requested = Signal(str)
    remove_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs_model = RunsTableModel(self)
        self.proxy = _RunsSortModel(self)
        self.proxy.setSourceModel(self.runs_model)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the order runs were added
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        # Fitted to the contents when the columns change, not at every value a live run
        # changes: ResizeToContents measures every cell on each change.
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.setStyleSheet(f"QTableView {{ background: {theme.PANEL}; "
                           f"gridline-color: {theme.BORDER}; border: 1px solid {theme.BORDER}; }}")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_context_menu)
        self.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.runs_model.modelReset.connect(self._on_selection_changed)
        self.runs_model.modelReset.connect(self.resizeColumnsToContents)

    def set_table(self, table: RunsTable, ids: list[str],
                  colours: dict[str, str] | None = None) -> None:
        self.runs_model.set_table(table, ids, colours)

    def sizeHint(self) -> QSize:
        """Room for a header and four runs (and a scroll bar) before it scrolls."""
        rows = 4 * self.verticalHeader().defaultSectionSize()
        height = (self.horizontalHeader().sizeHint().height() + rows
                  + self.horizontalScrollBar().sizeHint().height() + 2 * self.frameWidth())
        return QSize(super().sizeHint().width(), height)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def selected_runs(self) -> list[str]:
        rows = sorted(index.row() for index in self.selectionModel().selectedRows())
        return [self.runs_model.run_id(self.proxy.mapToSource(self.proxy.index(row, 0)).row())
                for row in rows]

    def select_runs(self, run_ids: list[str]) -> None:
        """Select exactly these runs."""
        wanted = set(run_ids)
        chosen = QItemSelection()
        for row in range(self.proxy.rowCount()):
            source = self.proxy.mapToSource(self.proxy.index(row, 0)).row()
            if self.runs_model.run_id(source) in wanted:
                chosen.select(self.proxy.index(row, 0), self.proxy.index(row, 0))
        selection = self.selectionModel()
        flags = selection.SelectionFlag.ClearAndSelect | selection.SelectionFlag.Rows
        selection.select(chosen, flags)  # one change: the plots are told once

    def column_values(self, key: str) -> list[str]:
        """The text of one column, top to bottom as shown (sorted as shown)."""
        column = self.runs_model.column_keys().index(key)
        return [self.proxy.index(row, column).data() for row in range(self.proxy.rowCount())]

    def _on_selection_changed(self, *_args) -> None:
        self.selection_changed.emit(self.selected_runs())

    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        run_id = self.runs_model.run_id(self.proxy.mapToSource(index).row())
        menu = QMenu(self)
        menu.addAction("Fork from a checkpoint…", lambda: self.fork_requested.emit(run_id))
        menu.addAction("Remove from comparison",
                       lambda: self.remove_requested.emit(self.selected_runs() or [run_id]))
        menu.exec(self.viewport().mapToGlobal(pos))


class _RunsSortModel(QSortFilterProxyModel):
    """Sorts numbers as numbers, before text, and missing values last, in either order."""

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:
        model = self.sourceModel()
        return _sort_key(model.value(left.row(), left.column())) < \
            _sort_key(model.value(right.row(), right.column()))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _format(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "—"
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    return str(value)


def _sort_key(value: Any) -> tuple:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return (2, 0.0, "")
    if _is_number(value):
        return (0, float(value), "")
    return (1, 0.0, _format(value))
