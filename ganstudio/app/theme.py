"""Colours, fonts and the application palette: one home for how GAN Studio looks."""

from __future__ import annotations

import zlib

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#1b1d21"
PANEL = "#23262b"
RAISED = "#2c3036"
BORDER = "#3a3f47"
TEXT = "#e3e6ea"
MUTED = "#9aa2ad"
ACCENT = "#4c9aff"
WARNING = "#f5b342"
ERROR = "#ff6b6b"
SUCCESS = "#3ecf8e"

# One colour per metric series, used by every plot and legend.
SERIES = {
    "loss_g": "#ff9f43",
    "loss_d": "#4c9aff",
    "d_real": "#3ecf8e",
    "d_fake": "#ff6b6b",
    "grad_g": "#f7d154",
    "grad_d": "#b28dff",
}
SERIES_NAMES = {
    "loss_g": "G loss",
    "loss_d": "D loss",
    "d_real": "D(x)",
    "d_fake": "D(G(z))",
    "grad_g": "‖∇G‖",
    "grad_d": "‖∇D‖",
}


def series_colour(name: str) -> str:
    """A series' own colour, or, for one without (an evaluation's), one of those colours
    chosen by its name, the same in every session."""
    if name in SERIES:
        return SERIES[name]
    palette = list(SERIES.values())
    return palette[zlib.crc32(name.encode()) % len(palette)]


def series_label(name: str) -> str:
    return SERIES_NAMES.get(name, name)


# One colour per run where several runs share a plot (the compare page), in the order shown.
RUN_COLOURS = ("#4c9aff", "#ff9f43", "#3ecf8e", "#ff6b6b", "#b28dff", "#f7d154", "#5ad1e6",
               "#f78fb3")


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


REAL_POINTS = "#8a93a0"
FAKE_POINTS = ACCENT

STYLESHEET = f"""
QMainWindow, QDialog {{ background: {BACKGROUND}; }}
QDockWidget {{ color: {TEXT}; font-weight: 600; }}
QDockWidget::title {{ background: {PANEL}; padding: 6px 8px; border-bottom: 1px solid {BORDER}; }}
QToolBar {{ background: {PANEL}; border: none; border-bottom: 1px solid {BORDER}; spacing: 4px;
            padding: 4px; }}
QToolButton {{ color: {TEXT}; padding: 5px 9px; border-radius: 4px; }}
QToolButton:hover {{ background: {RAISED}; }}
QToolButton:checked {{ background: {RAISED}; }}
QToolButton:disabled {{ color: #5b626c; }}
QStatusBar {{ background: {PANEL}; color: {MUTED}; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ color: {MUTED}; padding: 0 6px; }}
QProgressBar {{ background: {RAISED}; border: none; border-radius: 3px; height: 8px;
                text-align: center; color: transparent; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 3px; }}
QPushButton {{ background: {RAISED}; color: {TEXT}; border: 1px solid {BORDER};
               border-radius: 5px; padding: 6px 14px; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:checked {{ border-color: {ACCENT}; color: {ACCENT}; }}
QPushButton:disabled {{ color: #5b626c; }}
QPushButton#primary {{ background: {ACCENT}; color: #0b1220; border: none; font-weight: 600; }}
QPushButton#primary:disabled {{ background: #33465f; color: #7c8796; }}
QLabel#heading {{ color: {TEXT}; font-size: 20px; font-weight: 600; }}
QLabel#subtle {{ color: {MUTED}; }}
QLabel#error {{ color: {ERROR}; }}
QListWidget {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 4px; }}
QSplitter::handle {{ background: {BORDER}; }}
"""


def apply(app: QApplication) -> None:
    """The Fusion style with a dark palette: it looks the same on every platform."""
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: BACKGROUND,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: PANEL,
        QPalette.ColorRole.AlternateBase: RAISED,
        QPalette.ColorRole.ToolTipBase: RAISED,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: RAISED,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: ERROR,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#0b1220",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.PlaceholderText: MUTED,
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5b626c"))
    app.setPalette(palette)
    app.setStyleSheet(STYLESHEET)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    configure_pyqtgraph()


def configure_pyqtgraph() -> None:
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, background=BACKGROUND, foreground=MUTED,
                        imageAxisOrder="row-major")
