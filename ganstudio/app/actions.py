"""Menu and toolbar actions, made one way (text, shortcut, tool tip and status tip), and
found again on the object that owns them."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence


def make_action(owner: QObject, text: str, slot: Callable, shortcut: str | list[str] | None = None,
                tip: str = "", checkable: bool = False) -> QAction:
    """An action owned by ``owner``. Its shortcut works once a window adds it
    (``QWidget.addActions(actions_of(owner))``); the tool tip names the shortcut."""
    action = QAction(text, owner)
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setStatusTip(tip)
        name = text.replace("&", "").rstrip("…")
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{name} ({keys})" if keys else tip)
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    return action


def actions_of(owner: QObject) -> list[QAction]:
    """The actions ``owner`` made, in the order it made them."""
    return owner.findChildren(QAction, options=Qt.FindChildOption.FindDirectChildrenOnly)
