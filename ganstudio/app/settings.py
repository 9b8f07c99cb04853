"""What GAN Studio remembers between sessions, kept in QSettings."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

MAX_RECENT = 10


def default_runs_dir() -> Path:
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    base = Path(docs) if docs else Path.home()
    return base / "GAN Studio" / "runs"


class AppSettings:
    """Typed access to the QSettings store (tests pass an ini-file store of their own)."""

    def __init__(self, store: QSettings | None = None):
        self.store = store if store is not None else QSettings("GAN Studio", "GAN Studio")

    # --- window -----------------------------------------------------------------------------

    def window_geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)

    def _bytes(self, key: str) -> QByteArray | None:
        value = self.store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # --- training setup ---------------------------------------------------------------------

    def last_setup(self) -> dict | None:
        text = self.store.value("setup/config")
        try:
            return json.loads(text) if isinstance(text, str) else None
        except (ValueError, RecursionError):  # damaged by hand or by another version
            return None

    def save_setup(self, config: dict) -> None:
        self.store.setValue("setup/config", json.dumps(config))

    def runs_dir(self) -> Path:
        value = self.store.value("runs/dir")
        return Path(value) if isinstance(value, str) and value else default_runs_dir()

    def set_runs_dir(self, path: str | Path) -> None:
        self.store.setValue("runs/dir", str(path))

    # --- recent runs and checkpoints ------------------------------------------------------

    def recent(self, kind: str) -> list[str]:
        """Recent ``runs`` or ``checkpoints``, newest first."""
        value = self.store.value(f"recent/{kind}")
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)]

    def add_recent(self, kind: str, path: str | Path) -> None:
        path = str(Path(path).resolve())
        items = [path] + [p for p in self.recent(kind) if p != path]
        self.store.setValue(f"recent/{kind}", items[:MAX_RECENT])

    def remove_recent(self, kind: str, path: str) -> None:
        self.store.setValue(f"recent/{kind}", [p for p in self.recent(kind) if p != path])

    # --- plot preferences -------------------------------------------------------------------

    def value(self, key: str, default=None, kind=None):
        value = self.store.value(key, default)
        if kind is bool and isinstance(value, str):
            return value.lower() == "true"
        if kind is not None and value is not None:
            try:
                return kind(value)
            except (TypeError, ValueError):
                return default
        return value

    def set_value(self, key: str, value) -> None:
        self.store.setValue(key, value)

    def sync(self) -> None:
        self.store.sync()
