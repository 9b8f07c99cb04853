"""Starting the app: the window first, torch afterwards (in the background)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ganstudio import __version__
from ganstudio.app import theme
from ganstudio.app.background import wait_for_background
from ganstudio.app.process import quiet_cpu_threads
from ganstudio.app.settings import AppSettings


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("GAN Studio")
    app.setOrganizationName("GAN Studio")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("ganstudio")
    icon = _icon()
    if icon is not None:
        app.setWindowIcon(icon)
    theme.apply(app)
    return app


def _icon() -> QIcon | None:
    from ganstudio.resources import resources_dir

    try:
        path = resources_dir() / "icons" / "ganstudio.svg"
    except FileNotFoundError:
        return None
    return QIcon(str(path)) if path.is_file() else None


def run_app(open_path: str | Path | None = None, explore: bool = False,
            compare: list[str | Path] | None = None) -> int:
    quiet_cpu_threads()
    app = create_app()
    window = show_window(open_path=open_path, explore=explore, compare=compare)  # noqa: F841 (held: unheld, it would be collected)
    code = app.exec()
    wait_for_background()  # a job still building a dataset must not outlive the interpreter
    return code


def show_window(settings: AppSettings | None = None, open_path: str | Path | None = None,
                explore: bool = False, compare: list[str | Path] | None = None):
    """The main window, shown, with torch loading behind it and ``open_path`` opening: in
    the explorer, following the run it belongs to, when ``explore``; the run folders of
    ``compare`` on the compare page."""
    from ganstudio.app.main_window import MainWindow

    window = MainWindow(settings)
    window.show()
    QTimer.singleShot(0, window.warm_up)
    if open_path is not None and explore:
        QTimer.singleShot(
            0, lambda: window.explorer_controller.open_checkpoint(open_path, live=True))
    elif open_path is not None:
        QTimer.singleShot(0, lambda: window.open_path(open_path))
    if compare:
        QTimer.singleShot(0, lambda: window.compare_controller.add_runs(compare))
    return window
