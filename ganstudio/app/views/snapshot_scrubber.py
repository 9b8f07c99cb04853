"""A run's snapshots in order, with a step slider to scrub back and a Latest toggle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from ganstudio.app import theme


def latest_button(tooltip: str) -> QPushButton:
    """The checked "Latest" toggle of a step slider: on, it follows the newest snapshot."""
    button = QPushButton("Latest")
    button.setCheckable(True)
    button.setChecked(True)
    button.setToolTip(tooltip)
    button.setStyleSheet(f"QPushButton:checked {{ color: {theme.ACCENT}; "
                         f"border-color: {theme.ACCENT}; }}")
    return button


class SnapshotScrubber(QWidget):
    """Holds a run's snapshots (any objects with a ``step``) and chooses which one to show.

    It follows the newest snapshot until the user moves the slider back; pressing Latest,
    or dragging the slider to the end, follows again. ``snapshot_chosen(index)`` fires each
    time the snapshot to show changes, whoever changed it; the owner draws it.
    """

    snapshot_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._snapshots: list[Any] = []
        self._index = -1
        self._shown: Any = None
        self._following = True
        self._deferred = False

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.setToolTip("Scrub back through every snapshot of the run")
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.label = QLabel()
        self.label.setObjectName("subtle")
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance(
            "step 1,000,000 (1000/1000)") + 8)
        self.latest = latest_button("Follow the newest snapshot as training runs")
        self.latest.toggled.connect(self._on_latest_toggled)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.latest)
        self._update_controls()

    # --- the list -----------------------------------------------------------------------

    def add(self, snapshot: Any) -> int:
        """Append a snapshot and return its index.

        One at or before the last step replaces the snapshots from that step on: a resumed
        run superseded them.
        """
        while self._snapshots and self._snapshots[-1].step >= snapshot.step:
            self._snapshots.pop()
        self._snapshots.append(snapshot)
        last = len(self._snapshots) - 1
        if not self._deferred:
            self._choose(last if self._following or self._index < 0 else min(self._index, last))
        return last

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Snapshots added in the block are only recorded; which one to show is chosen once,
        at its end (a run read from disk adds thousands, and showing one reads its file)."""
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False
            if self._snapshots:
                last = len(self._snapshots) - 1
                self._choose(last if self._following or self._index < 0
                             else min(self._index, last))

    def clear(self) -> None:
        self._snapshots.clear()
        self._index, self._shown = -1, None
        self._following = True
        self._update_controls()

    def count(self) -> int:
        return len(self._snapshots)

    def snapshot(self, index: int) -> Any:
        return self._snapshots[index]

    def current(self) -> Any:
        """The snapshot being shown, or None before the first."""
        return self._shown

    def current_index(self) -> int:
        """The index of the snapshot being shown, -1 before the first."""
        return self._index

    # --- following and choosing ---------------------------------------------------------

    def following_latest(self) -> bool:
        return self._following

    def set_following_latest(self, follow: bool) -> None:
        self._following = follow
        if follow and self._snapshots:
            self._choose(len(self._snapshots) - 1)
        else:
            self._update_controls()

    def show_index(self, index: int) -> None:
        """Show snapshot ``index``; the last one follows the newest, any other stops following."""
        if not self._snapshots:
            return
        index = max(0, min(index, len(self._snapshots) - 1))
        self._following = index == len(self._snapshots) - 1
        self._choose(index)

    def show_step(self, step: int) -> None:
        """Show the snapshot of ``step``, or the last one before it."""
        index = 0
        for i, snapshot in enumerate(self._snapshots):
            if snapshot.step <= step:
                index = i
        self.show_index(index)

    def _choose(self, index: int) -> None:
        self._index = index
        self._update_controls()
        snapshot = self._snapshots[index]
        if snapshot is not self._shown:
            self._shown = snapshot
            self.snapshot_chosen.emit(index)

    def _update_controls(self) -> None:
        count = len(self._snapshots)
        blocked = [self.slider.blockSignals(True), self.latest.blockSignals(True)]
        self.slider.setRange(0, max(0, count - 1))
        self.slider.setValue(max(0, self._index))
        self.slider.setEnabled(count > 1)
        self.latest.setChecked(self._following)
        self.slider.blockSignals(blocked[0])
        self.latest.blockSignals(blocked[1])
        if self._index < 0:
            self.label.setText("no snapshots yet")
        else:
            step = self._snapshots[self._index].step
            self.label.setText(f"step {step:,} ({self._index + 1}/{count})")

    def _on_slider_value_changed(self, value: int) -> None:
        self.show_index(value)

    def _on_latest_toggled(self, checked: bool) -> None:
        self.set_following_latest(checked)


class Scrubbed:
    """For a view with a ``scrubber``: the history queries and moves, delegated to it."""

    scrubber: SnapshotScrubber
    subtitle: QLabel

    def lay_out(self, body: QHBoxLayout, *, above_body: tuple[QWidget, ...] = ()) -> None:
        """The "Samples" title and ``subtitle`` above ``body``, and the scrubber below it."""
        title = QLabel("Samples")
        title.setStyleSheet(f"color: {theme.TEXT}; font-size: 15px; font-weight: 600;")
        self.subtitle.setObjectName("subtle")
        header = QHBoxLayout()
        header.setSpacing(10)
        header.addWidget(title)
        header.addWidget(self.subtitle, 1)
        body.setSpacing(8)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(header)
        for widget in above_body:
            layout.addWidget(widget)
        layout.addLayout(body, 1)
        layout.addWidget(self.scrubber)

    def count(self) -> int:
        return self.scrubber.count()

    def current_step(self) -> int | None:
        snapshot = self.scrubber.current()
        return snapshot.step if snapshot is not None else None

    def following_latest(self) -> bool:
        return self.scrubber.following_latest()

    def set_following_latest(self, follow: bool) -> None:
        self.scrubber.set_following_latest(follow)

    def show_step(self, step: int) -> None:
        """Show the snapshot of ``step`` (or the last before it); stops following the newest."""
        self.scrubber.show_step(step)
