"""The compare page: the runs table above; the overlaid curves and the samples below it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from ganstudio.app.views.compare_plot import ComparePlot
from ganstudio.app.views.runs_table import RunsTableView
from ganstudio.app.views.side_by_side import SideBySideSamples

HINT = "Select rows to choose the runs plotted; right-click a run to fork it."


class ComparePage(QWidget):
    """Lays out the views; the compare controller fills them."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel("Compare runs")
        title.setObjectName("heading")
        self.hint = QLabel(HINT)
        self.hint.setObjectName("subtle")
        self.add_button = QPushButton("Add runs…")
        self.fork_button = QPushButton("Fork…")
        header = QHBoxLayout()
        header.setContentsMargins(14, 10, 14, 4)
        header.addWidget(title)
        header.addSpacing(10)
        header.addWidget(self.hint, 1)
        header.addWidget(self.fork_button)
        header.addWidget(self.add_button)

        self.table = RunsTableView()
        self.plot = ComparePlot()
        self.samples = SideBySideSamples()
        below = QSplitter(Qt.Orientation.Horizontal)
        below.addWidget(self.plot)
        below.addWidget(self.samples)
        below.setStretchFactor(0, 6)
        below.setStretchFactor(1, 5)
        below.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("compareSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(below)
        self.splitter.setStretchFactor(0, 0)  # the table keeps room for four runs
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)
