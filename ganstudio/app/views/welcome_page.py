"""The welcome page: the big first actions and the recent runs and checkpoints."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ganstudio import __version__
from ganstudio.app import theme

CARD_STYLE = f"""
QPushButton#card {{
    background: {theme.PANEL}; border: 1px solid {theme.BORDER}; border-radius: 10px;
    padding: 18px; text-align: left; color: {theme.TEXT};
}}
QPushButton#card:hover {{ border-color: {theme.ACCENT}; background: {theme.RAISED}; }}
QPushButton#card:focus {{ border-color: {theme.ACCENT}; }}
"""


class _Card(QPushButton):
    """A large action: a glyph, a title and one line of explanation."""

    def __init__(self, glyph: str, title: str, text: str):
        super().__init__()
        self.setObjectName("card")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(118)
        self.setAccessibleName(title)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 14)
        icon = QLabel(glyph)
        icon.setStyleSheet(f"font-size: 26px; color: {theme.ACCENT}; background: transparent;")
        heading = QLabel(title)
        heading.setStyleSheet(f"font-size: 15px; font-weight: 600; color: {theme.TEXT};"
                              "background: transparent;")
        body = QLabel(text)
        body.setWordWrap(True)
        body.setStyleSheet(f"color: {theme.MUTED}; background: transparent;")
        for label in (icon, heading, body):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            layout.addWidget(label)
        layout.addStretch(1)
        self.title = title


class WelcomePage(QWidget):
    train_digits = Signal()
    watch_ring = Signal()
    open_checkpoint = Signal()
    explore_pretrained = Signal()
    download_pretrained = Signal()
    open_run = Signal()
    new_training = Signal()
    open_recent = Signal(str, str)  # kind ("runs" or "checkpoints"), path

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setStyleSheet(CARD_STYLE)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        column = QVBoxLayout()
        column.setSpacing(14)
        outer.addLayout(column, 6)
        outer.addStretch(1)

        column.addStretch(1)
        title = QLabel("GAN Studio")
        title.setStyleSheet(f"font-size: 34px; font-weight: 700; color: {theme.TEXT};")
        subtitle = QLabel(
            "Train, watch and explore Generative Adversarial Networks: live on your CPU or GPU."
        )
        subtitle.setObjectName("subtle")
        subtitle.setStyleSheet("font-size: 14px;")
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(12)

        self.cards = {
            "digits": _Card("✎", "Train on built-in digits",
                            "A DCGAN learns to write digits 0–9 in about a minute. "
                            "Watch the samples sharpen."),
            "ring": _Card("◎", "Watch a 2-D GAN learn (ring of 8)",
                          "See the generator's points chase eight modes over the "
                          "discriminator's field, live."),
            "checkpoint": _Card("⬒", "Open a checkpoint…",
                                "A StyleGAN .pkl, a BigGAN folder, a DCGAN netG.pth, a .pt2 "
                                "or a GAN Studio checkpoint."),
            "pretrained": _Card("✦", "Explore a pretrained generator",
                                "Interpolate, walk principal directions and compare samples "
                                "of a shipped model."),
        }
        grid = QGridLayout()
        grid.setSpacing(12)
        for i, card in enumerate(self.cards.values()):
            grid.addWidget(card, i // 2, i % 2)
        column.addLayout(grid)
        self.cards["digits"].clicked.connect(self.train_digits)
        self.cards["ring"].clicked.connect(self.watch_ring)
        self.cards["checkpoint"].clicked.connect(self.open_checkpoint)
        self.cards["pretrained"].clicked.connect(self.explore_pretrained)

        links = QHBoxLayout()
        self.new_button = QPushButton("New training…")
        self.new_button.setToolTip("Choose the dataset, model, loss and settings yourself")
        self.new_button.clicked.connect(self.new_training)
        self.open_run_button = QPushButton("Open run folder…")
        self.open_run_button.setToolTip(
            "Open a finished run, or watch one that `ganstudio train` is writing")
        self.open_run_button.clicked.connect(self.open_run)
        self.download_button = QPushButton("Download a pretrained generator…")
        self.download_button.setToolTip(
            "StyleGAN2-ADA, StyleGAN3 and BigGAN-deep networks from their publishers: faces, "
            "animals, portraits, ImageNet. Opened without running anything from the file.")
        self.download_button.clicked.connect(self.download_pretrained)
        links.addWidget(self.new_button)
        links.addWidget(self.open_run_button)
        links.addWidget(self.download_button)
        links.addStretch(1)
        column.addLayout(links)
        column.addSpacing(10)

        recents = QHBoxLayout()
        self.recent_runs = self._recent_list("Recent runs", recents, "runs")
        self.recent_checkpoints = self._recent_list("Recent checkpoints", recents, "checkpoints")
        column.addLayout(recents, 1)
        version = QLabel(f"GAN Studio {__version__} · drop a run folder or checkpoint anywhere "
                         "on this window to open it")
        version.setObjectName("subtle")
        column.addWidget(version)
        column.addStretch(1)

    def _recent_list(self, title: str, parent: QHBoxLayout, kind: str) -> QListWidget:
        box = QVBoxLayout()
        label = QLabel(title)
        label.setStyleSheet(f"font-weight: 600; color: {theme.TEXT};")
        box.addWidget(label)
        items = QListWidget()
        items.setMinimumHeight(120)
        items.itemActivated.connect(lambda item: self.open_recent.emit(kind, item.data(
            Qt.ItemDataRole.UserRole)))
        box.addWidget(items)
        parent.addLayout(box)
        return items

    def set_recent(self, runs: list[str], checkpoints: list[str]) -> None:
        for widget, paths, empty in (
            (self.recent_runs, runs, "Runs you train or open appear here."),
            (self.recent_checkpoints, checkpoints, "Checkpoints you open appear here."),
        ):
            widget.clear()
            for path in paths:
                p = Path(path)
                item = QListWidgetItem(f"{p.name}    {p.parent}")
                item.setData(Qt.ItemDataRole.UserRole, path)
                item.setToolTip(path)
                if not p.exists():
                    item.setForeground(Qt.GlobalColor.gray)
                    item.setToolTip(f"{path} (missing)")
                widget.addItem(item)
            if not paths:
                note = QListWidgetItem(empty)  # "No recent runs yet": a line, not a choice
                note.setFlags(Qt.ItemFlag.NoItemFlags)
                widget.addItem(note)
