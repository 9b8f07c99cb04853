"""The training setup panel: every setting of a run, with good defaults and inline checks."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QLargeIntSpinBox

from ganstudio.app import theme
from ganstudio.app.background import run_in_background
from ganstudio.app.views.dataset_panel import DatasetEntry, DatasetPanel
from ganstudio.engine.config import (
    DEVICES,
    LOSSES,
    MAX_RESOLUTION,
    MIN_RESOLUTION,
    OPTIMIZERS,
    DataConfig,
    Problem,
    RunConfig,
    defaults_for,
    problems,
    with_loss,
)
from ganstudio.engine.data import DATASETS
from ganstudio.engine.families import FAMILIES

PREVIEW_COUNT = 12
PREVIEW_DELAY_MS = 400
# Previews (or why there is none) by dataset and file, shared by every panel: real samples
# do not change, and building a dataset for one takes seconds.
_PREVIEWS: dict[str, QPixmap | str] = {}
PREVIEW_HEIGHT = 44
# Resolutions offered for a family that builds any size
ANY_RESOLUTIONS = tuple(r for r in (16, 28, 32, 48, 64, 96, 128, 256)
                        if MIN_RESOLUTION <= r <= MAX_RESOLUTION)
GRAYSCALE_CHOICES = (("as the data is", None), ("grey", True), ("RGB", False))


class _Row(QWidget):
    """A field with the reason it is invalid shown right under it."""

    def __init__(self, field: QWidget):
        super().__init__()
        self.field = field
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(field)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)

    def set_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        self.field.setProperty("invalid", bool(message))
        self.field.setStyleSheet(f"border: 1px solid {theme.ERROR};" if message else "")
        self.field.setToolTip(message or self.field.property("help") or "")


def _float_text(value: float) -> str:
    return f"{value:g}"


class SetupPanel(QWidget):
    """Edits a RunConfig. ``problems_changed`` fires with the current invalid settings."""

    config_changed = Signal()
    problems_changed = Signal(list)
    start_requested = Signal()
    real_dataset_selected = Signal(object)  # the DatasetEntry chosen, or None for a built-in

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._loading = False
        self._devices = ["auto", "cpu"]
        self._previews = _PREVIEWS
        self._problems: list[Problem] = []
        self._real_entries: list = []  # DatasetEntry, in the order the list shows them
        self._classes: dict[str, tuple[str, ...]] = {}  # by source, once inspected
        self._rows: dict[str, _Row] = {}
        self._forms: dict[str, QFormLayout] = {}
        # The preview loads a little after a change (and after start-up): building it imports
        # torch, which must not delay the window appearing.
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._refresh_preview)
        self._build()
        self.set_config(defaults_for("digits"))

    # --- construction -------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget()
        scroll.setWidget(body)
        outer.addWidget(scroll)
        self._form_layout = QVBoxLayout(body)
        self._form_layout.setContentsMargins(12, 8, 12, 8)

        # Data
        self.dataset = QComboBox()
        for info in DATASETS.values():
            self.dataset.addItem(info.name, info.name)
            self.dataset.setItemData(self.dataset.count() - 1, info.description,
                                     Qt.ItemDataRole.ToolTipRole)
        self.dataset_help = _WrappingLabel()
        self.dataset_help.setObjectName("subtle")
        self.points_path = QLineEdit()
        self.points_path.setPlaceholderText("a .csv or .npy file of shape (N, 2)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_points)
        points_box = QWidget()
        points_layout = QHBoxLayout(points_box)
        points_layout.setContentsMargins(0, 0, 0, 0)
        points_layout.addWidget(self.points_path, 1)
        points_layout.addWidget(browse)
        self.points_row_widget = points_box
        self.preview = QLabel("Loading preview…")
        self.preview.setObjectName("subtle")
        self.preview.setMinimumHeight(PREVIEW_HEIGHT)
        # a strip wider than the dock is cut at the right rather than widening the dock
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.resolution = QComboBox()
        self.resolution.setToolTip("The side of the square images the set is prepared at; "
                                   "the family builds these sizes")
        self.crop = QComboBox()
        self.crop.addItem("centre crop", "centre")
        self.crop.addItem("pad to square", "pad")
        self.crop.setToolTip("Centre-crop the largest square, or pad the whole image to one")
        self.grayscale = QComboBox()
        for text, value in GRAYSCALE_CHOICES:
            self.grayscale.addItem(text, value)
        self.flip = QCheckBox("Random left-right flips")
        self.flip.setToolTip("Augment by mirroring images at random while training")
        self.data_panel = DatasetPanel()
        data = self._section("Data")
        self._add(data, "Dataset", "data.name", self.dataset)
        data.addRow("", self.dataset_help)
        self._add(data, "Points file", "data.path", points_box)
        self._add(data, "Resolution", "data.resolution", self.resolution)
        self._add(data, "Square", "data.crop", self.crop)
        self._add(data, "Channels", "data.grayscale", self.grayscale)
        self._add(data, "", "data.flip", self.flip)
        self._add(data, "Real samples", "preview", self.preview)
        data.addRow(self.data_panel)  # the whole width: room for the grid of samples

        # Model
        self.family = QComboBox()
        for family in FAMILIES.values():
            self.family.addItem(family.name, family.name)
            self.family.setItemData(self.family.count() - 1, family.description,
                                    Qt.ItemDataRole.ToolTipRole)
        self.conditional = QCheckBox("Class-conditional")
        self.conditional.setToolTip("A label embedding in G and a projection discriminator: "
                                    "the model learns one class per label.")
        self.width = QDoubleSpinBox()
        self.width.setRange(0.0625, 8.0)
        self.width.setSingleStep(0.125)
        self.width.setDecimals(3)
        self.hidden = QSpinBox()
        self.hidden.setRange(1, 4096)
        self.depth = QSpinBox()
        self.depth.setRange(1, 16)
        self.z_dim = QSpinBox()
        self.z_dim.setRange(0, 4096)
        self.z_dim.setSpecialValueText("family default")
        model = self._section("Model")
        self._add(model, "Family", "model.family", self.family)
        self._add(model, "", "model.conditional", self.conditional)
        self._add(model, "Width ×", "model.width", self.width)
        self._add(model, "Hidden units", "model.hidden", self.hidden)
        self._add(model, "Hidden layers", "model.depth", self.depth)
        self._add(model, "Latent size z", "model.z_dim", self.z_dim)

        # Loss and optimiser
        self.loss = QComboBox()
        self.loss.addItems(LOSSES)
        self.r1 = QLineEdit()
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.lr_g = QLineEdit()
        self.lr_d = QLineEdit()
        self.d_steps = QSpinBox()
        self.d_steps.setRange(1, 100)
        optim = self._section("Loss and optimiser")
        self._add(optim, "Loss", "loss.name", self.loss)
        self._add(optim, "R1 weight γ", "loss.r1_gamma", self.r1)
        self._add(optim, "Optimiser", "optim.name", self.optimizer)
        self._add(optim, "G learning rate", "optim.lr_g", self.lr_g)
        self._add(optim, "D learning rate", "optim.lr_d", self.lr_d)
        self._add(optim, "D steps per G step", "optim.d_steps", self.d_steps)

        # Training
        self.batch_size = QSpinBox()
        self.batch_size.setRange(2, 65536)
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000_000)
        self.steps.setGroupSeparatorShown(True)
        self.ema = QCheckBox("Sample from an EMA copy of G")
        self.seed = QLargeIntSpinBox()
        self.seed.setRange(0, 2**63 - 1)
        self.device = QComboBox()
        self.device.addItems(self._devices)
        train = self._section("Training")
        self._add(train, "Batch size", "train.batch_size", self.batch_size)
        self._add(train, "Steps", "train.steps", self.steps)
        self._add(train, "", "train.ema", self.ema)
        self._add(train, "Seed", "train.seed", self.seed)
        self._add(train, "Device", "train.device", self.device)

        self._form_layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(12, 8, 12, 12)
        self.reset_button = QPushButton("Defaults")
        self.reset_button.setToolTip("Recommended settings for this dataset")
        self.reset_button.clicked.connect(self.reset_to_defaults)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.start_requested)
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        outer.addLayout(buttons)

        self.dataset.currentIndexChanged.connect(self._on_dataset_changed)
        self.family.currentIndexChanged.connect(self._on_family_changed)
        for combo in (self.optimizer, self.device, self.crop, self.grayscale):
            combo.currentIndexChanged.connect(self._on_edited)
        self.resolution.currentIndexChanged.connect(self._on_resolution_changed)
        self.flip.toggled.connect(self._on_edited)
        self.loss.currentIndexChanged.connect(self._on_loss_changed)
        for name, signal in (("optim.name", self.optimizer.currentIndexChanged),
                             ("optim.lr_g", self.lr_g.textEdited),
                             ("optim.lr_d", self.lr_d.textEdited),
                             ("optim.d_steps", self.d_steps.valueChanged)):
            signal.connect(partial(self._mark_user_set, name))
        for check in (self.conditional, self.ema):
            check.toggled.connect(self._on_edited)
        for spin in (self.width, self.hidden, self.depth, self.z_dim, self.d_steps,
                     self.batch_size, self.steps, self.seed):
            spin.valueChanged.connect(self._on_edited)
        for line in (self.points_path, self.r1, self.lr_g, self.lr_d):
            line.textChanged.connect(self._on_edited)
        self.points_path.editingFinished.connect(self._preview_timer.start)

    def _section(self, title: str) -> QFormLayout:
        heading = QLabel(title)
        heading.setStyleSheet(f"color: {theme.TEXT}; font-weight: 600; padding-top: 10px;")
        self._form_layout.addWidget(heading)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._form_layout.addLayout(form)
        return form

    def _add(self, form: QFormLayout, label: str, name: str, field: QWidget) -> None:
        row = _Row(field)
        self._rows[name] = row
        self._forms[name] = form
        form.addRow(label, row)

    def sizeHint(self) -> QSize:
        return QSize(340, 720)

    # --- config in and out --------------------------------------------------------------

    def devices(self) -> list[str]:
        """The devices offered (those this machine has, once they are known)."""
        return list(self._devices)

    def set_devices(self, names: list[str]) -> None:
        current = self.device.currentText()
        self._devices = list(names)
        self._loading = True
        self.device.clear()
        self.device.addItems(self._devices)
        self.device.setCurrentText(current if current in self._devices else "auto")
        self._loading = False

    def set_config(self, cfg: RunConfig) -> None:
        self._loading = True
        try:
            if cfg.data.is_real:
                self.dataset.setCurrentIndex(self._real_index(cfg.data))
            else:
                self.dataset.setCurrentIndex(max(0, self.dataset.findData(cfg.data.name)))
            self.points_path.setText(cfg.data.path or "")
            self.family.setCurrentIndex(max(0, self.family.findData(cfg.model.family)))
            self._fill_resolutions(cfg.data.resolution)
            self.crop.setCurrentIndex(max(0, self.crop.findData(cfg.data.crop)))
            self.grayscale.setCurrentIndex(
                [v for _, v in GRAYSCALE_CHOICES].index(cfg.data.grayscale)
                if cfg.data.grayscale in (None, True, False) else 0)
            self.flip.setChecked(bool(cfg.data.flip))
            self.conditional.setChecked(cfg.model.conditional)
            self.width.setValue(cfg.model.width)
            self.hidden.setValue(cfg.model.hidden)
            self.depth.setValue(cfg.model.depth)
            self.z_dim.setValue(cfg.model.z_dim or 0)
            self.loss.setCurrentText(cfg.loss.name)
            self.r1.setText(_float_text(cfg.loss.r1_gamma))
            self.optimizer.setCurrentText(cfg.optim.name)
            self.lr_g.setText(_float_text(cfg.optim.lr_g))
            self.lr_d.setText(_float_text(cfg.optim.lr_d))
            self.d_steps.setValue(cfg.optim.d_steps)
            self.batch_size.setValue(cfg.train.batch_size)
            self.steps.setValue(cfg.train.steps)
            self.ema.setChecked(cfg.train.ema)
            self.seed.setValue(cfg.train.seed)
            if cfg.train.device in self._devices:
                self.device.setCurrentText(cfg.train.device)
            self._hidden_settings = cfg  # everything the panel has no widget for
            self._user_set: set[str] = set()  # optimiser settings the user changed since
        finally:
            self._loading = False
        self._update_visibility()
        self._revalidate()
        self._preview_timer.start()

    def config(self) -> RunConfig:
        """The settings as shown (a value that does not parse keeps its old number)."""
        return self._read()[0]

    def _read(self) -> tuple[RunConfig, list[Problem]]:
        cfg = RunConfig.from_dict(self._hidden_settings.to_dict())
        parse: list[Problem] = []

        def number(name: str, line: QLineEdit, old: float) -> float:
            text = line.text().strip()
            try:
                value = float(text)
            except ValueError:
                parse.append(Problem(name, f"{text!r} is not a number (e.g. 2e-4)"))
                return old
            if not math.isfinite(value):
                parse.append(Problem(name, "must be a finite number"))
                return old
            return value

        entry = self.real_entry()
        if entry is not None:
            cfg.data = DataConfig(
                name=entry.name, source=entry.source, seed=cfg.data.seed,
                resolution=self.resolution.currentData(), crop=self.crop.currentData(),
                grayscale=self.grayscale.currentData(), flip=self.flip.isChecked(),
                split=cfg.data.split)
            if not entry.present:
                parse.append(Problem("data.name", f"{entry.name} is not on this machine yet: "
                                     "download it first"))
        else:
            cfg.data = DataConfig(name=self.dataset.currentData(), seed=cfg.data.seed,
                                  path=self.points_path.text().strip() or None)
        if cfg.data.name == "points" and cfg.data.path and not Path(cfg.data.path).is_file():
            parse.append(Problem("data.path", f"{cfg.data.path} does not exist"))
        cfg.model.family = self.family.currentData()
        cfg.model.conditional = self.conditional.isChecked()
        cfg.model.width = self.width.value()
        cfg.model.hidden = self.hidden.value()
        cfg.model.depth = self.depth.value()
        cfg.model.z_dim = self.z_dim.value() or None
        cfg.loss.name = self.loss.currentText()
        cfg.loss.r1_gamma = number("loss.r1_gamma", self.r1, cfg.loss.r1_gamma)
        cfg.optim.name = self.optimizer.currentText()
        cfg.optim.lr_g = number("optim.lr_g", self.lr_g, cfg.optim.lr_g)
        cfg.optim.lr_d = number("optim.lr_d", self.lr_d, cfg.optim.lr_d)
        cfg.optim.d_steps = self.d_steps.value()
        cfg.train.batch_size = self.batch_size.value()
        cfg.train.steps = self.steps.value()
        cfg.train.ema = self.ema.isChecked()
        cfg.train.seed = int(self.seed.value())
        cfg.train.device = self.device.currentText() if self.device.currentText() in DEVICES \
            else "auto"
        return cfg, parse

    def problems(self) -> list[Problem]:
        return list(self._problems)

    def reset_to_defaults(self) -> None:
        current = self.config()
        if current.data.is_real:
            family = current.model.family
            if family not in FAMILIES or "images" not in FAMILIES[family].kinds:
                family = "dcgan"
            data = current.data
            data.resolution = _fitting_resolution(family, data.resolution)
            fresh = defaults_for(data, family)
        else:
            fresh = defaults_for(current.data.name)
            fresh.data.path = current.data.path
        fresh.train.seed, fresh.train.device = current.train.seed, current.train.device
        self.set_config(fresh)
        self.config_changed.emit()

    # --- reactions ----------------------------------------------------------------------

    def _on_dataset_changed(self) -> None:
        if self._loading:
            return
        entry = self.real_entry()
        if entry is not None and entry.resolution is not None:  # a prepared set: as it was
            self._loading = True
            self._fill_resolutions(entry.resolution)
            self.crop.setCurrentIndex(max(0, self.crop.findData(entry.crop)))
            self.grayscale.setCurrentIndex([v for _, v in GRAYSCALE_CHOICES].index(
                entry.grayscale))
            self._loading = False
        self.reset_to_defaults()

    def _mark_user_set(self, name: str, *_) -> None:
        if not self._loading:
            self._user_set.add(name)

    def _on_loss_changed(self) -> None:
        """A loss comes with its paper's optimiser settings, except the ones the user set."""
        if self._loading:
            return
        keep = set(self._user_set)
        self.set_config(with_loss(self.config(), self.loss.currentText(), keep))
        self._user_set = keep
        self.config_changed.emit()

    def _on_family_changed(self) -> None:
        if self._loading:
            return
        if self.real_entry() is not None:  # real data: the family's recipe at a size it builds
            self.reset_to_defaults()
            return
        self._update_visibility()
        self._on_edited()

    def _on_resolution_changed(self) -> None:
        if not self._loading:
            self.reset_to_defaults()  # the recipe depends on the resolution
            self._user_set.add("data.resolution")  # inspecting the set no longer changes it

    def _on_edited(self) -> None:
        if self._loading:
            return
        self._update_visibility()
        self._revalidate()
        self.config_changed.emit()

    def _update_visibility(self) -> None:
        entry = self.real_entry()
        family = self.family.currentData()
        if entry is not None:
            self.dataset_help.setText(entry.detail)
            classes = self._classes.get(entry.source)
            has_classes = classes is None or bool(classes)  # unknown until inspected
        else:
            info = DATASETS[self.dataset.currentData()]
            self.dataset_help.setText(info.description)
            has_classes = bool(info.classes)
        self._set_row_visible("data.path", entry is None and self.dataset.currentData() == "points")
        for name in ("data.resolution", "data.crop", "data.grayscale", "data.flip"):
            self._set_row_visible(name, entry is not None)
        self._set_row_visible("preview", entry is None)
        self.data_panel.set_entry(entry)
        self._set_row_visible("model.width", family == "dcgan")
        self._set_row_visible("model.hidden", family == "toy")
        self._set_row_visible("model.depth", family == "toy")
        can_condition = bool(FAMILIES[family].conditional and has_classes)
        self._set_row_visible("model.conditional", can_condition or self.conditional.isChecked())

    def _set_row_visible(self, name: str, visible: bool) -> None:
        self._forms[name].setRowVisible(self._rows[name], visible)

    def _revalidate(self) -> None:
        cfg, parse = self._read()
        parsed_fields = {p.field for p in parse}
        found = parse + [p for p in problems(cfg) if p.field not in parsed_fields]
        by_field: dict[str, str] = {}
        for p in found:
            by_field.setdefault(p.field, p.message)
        for name, row in self._rows.items():
            row.set_error(by_field.get(name))
        unplaced = [p for p in found if p.field not in self._rows]
        for p in unplaced:  # a setting with no widget of its own: show it on the dataset row
            self._rows["data.name"].set_error(str(p))
        self._problems = found
        self.start_button.setEnabled(not found)
        self.start_button.setToolTip(
            "Fix the marked settings first" if found else "Start a run with these settings")
        self.problems_changed.emit(found)

    def _browse_points(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a points file", str(Path.home()), "Points (*.csv *.npy *.txt)")
        if path:
            self.points_path.setText(path)
            self._refresh_preview()

    # --- the strip of real samples ------------------------------------------------------

    def _refresh_preview(self) -> None:
        entry = self.real_entry()
        if entry is not None:  # the data controller inspects it and fills the data panel
            self.real_dataset_selected.emit(entry)
            return
        name = self.dataset.currentData()
        path = self.points_path.text().strip() if name == "points" else ""
        key = f"{name}:{path}"
        cached = self._previews.get(key)
        if isinstance(cached, QPixmap):
            self.preview.setPixmap(cached)
            return
        if isinstance(cached, str):
            self.preview.setText(cached)
            return
        if name == "points" and not path:
            self.preview.setText("Choose a file to see its points.")
            return
        self.preview.setText("Loading preview…")
        run_in_background(_preview, key, name, path or None, on_done=self._on_preview, owner=self)

    def _on_preview(self, keyed: tuple[str, np.ndarray | str]) -> None:
        key, result = keyed
        if isinstance(result, np.ndarray):
            h, w, _ = result.shape
            image = QImage(result.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
            self._previews[key] = QPixmap.fromImage(image)
        else:
            self._previews[key] = f"Cannot preview: {result}"
        name = self.dataset.currentData()
        path = self.points_path.text().strip() if name == "points" else ""
        if key == f"{name}:{path}":
            self._refresh_preview()

    # --- real datasets ------------------------------------------------------------------

    def real_entry(self):
        """The real set chosen (a DatasetEntry), or None when a built-in set is."""
        data = self.dataset.currentData()
        return None if isinstance(data, str) or data is None else data

    def set_real_datasets(self, entries: list) -> None:
        """Offer these real sets (DatasetEntry) after the built-in ones, keeping the choice."""
        current = self.config().data if self.real_entry() is not None else None
        self._real_entries = list(entries)
        self._loading = True
        try:
            while self.dataset.count() > len(DATASETS):
                self.dataset.removeItem(self.dataset.count() - 1)
            if self._real_entries:
                self.dataset.insertSeparator(self.dataset.count())
            for entry in self._real_entries:
                self.dataset.addItem(entry.label, entry)
                self.dataset.setItemData(self.dataset.count() - 1, entry.detail,
                                         Qt.ItemDataRole.ToolTipRole)
            if current is not None:
                self.dataset.setCurrentIndex(self._real_index(current))
        finally:
            self._loading = False
        self._update_visibility()
        self._revalidate()

    def select_real_dataset(self, source: str) -> None:
        """Choose the listed real set of this source, with its recommended settings."""
        for i in range(len(DATASETS), self.dataset.count()):
            entry = self.dataset.itemData(i)
            if not isinstance(entry, str) and entry is not None and entry.source == source:
                self.dataset.setCurrentIndex(i)  # _on_dataset_changed applies the defaults
                return

    def set_source_facts(self, side: int | None, classes: tuple[str, ...]) -> None:
        """What inspecting the chosen set found: its square side (the resolution to prepare
        at, unless the user chose one) and its classes."""
        entry = self.real_entry()
        if entry is None:
            return
        self._classes[entry.source] = tuple(classes)
        fits = side is not None and side in self._resolutions()
        if (fits and entry.resolution is None and "data.resolution" not in self._user_set
                and side != self.resolution.currentData()):
            self._fill_resolutions(side)
            self.reset_to_defaults()
        else:
            self._update_visibility()

    def _real_index(self, data: DataConfig) -> int:
        """The list's entry for a real config, added when the list does not have it yet."""
        best = None
        for i in range(len(DATASETS), self.dataset.count()):
            entry = self.dataset.itemData(i)
            if isinstance(entry, str) or entry is None or entry.source != data.source:
                continue
            if entry.resolution in (None, data.resolution) and best is None:
                best = i
        if best is not None:
            return best
        entry = DatasetEntry(data.source, data.name, data.name, "recent", detail=data.source)
        if self.dataset.count() == len(DATASETS):
            self.dataset.insertSeparator(self.dataset.count())
        self.dataset.addItem(entry.label, entry)
        self._real_entries.append(entry)
        return self.dataset.count() - 1

    def _resolutions(self) -> tuple[int, ...]:
        family = FAMILIES.get(self.family.currentData())
        return (family.image_sizes if family is not None and family.image_sizes
                else ANY_RESOLUTIONS)

    def _fill_resolutions(self, wanted: int | None) -> None:
        sizes = self._resolutions()
        with QSignalBlocker(self.resolution):
            self.resolution.clear()
            for r in sizes:
                self.resolution.addItem(f"{r} px", r)
            fitted = _fitting_resolution(self.family.currentData(), wanted)
            self.resolution.setCurrentIndex(max(0, self.resolution.findData(fitted)))


def _preview(key: str, name: str, path: str | None) -> tuple[str, np.ndarray | str]:
    """``(key, image)``, or ``(key, reason)`` when the data cannot be read."""
    from ganstudio.engine.errors import GanStudioError

    try:
        return key, _preview_image(name, path)
    except (GanStudioError, OSError, ValueError) as e:
        return key, str(e)


def _preview_image(name: str, path: str | None) -> np.ndarray:
    """A strip of real samples (RGB uint8), built off the UI thread."""
    from PIL import Image

    from ganstudio.engine.data import load_dataset
    from ganstudio.engine.images import make_grid, render_points

    data = load_dataset(name, seed=0, path=path)
    if data.info.is_image:
        x = data.x[:PREVIEW_COUNT].permute(0, 2, 3, 1).numpy()
        if x.shape[-1] == 1:
            x = np.repeat(x, 3, axis=-1)
        strip = make_grid(np.ascontiguousarray(x), PREVIEW_COUNT, pad=1)
        scale = PREVIEW_HEIGHT / strip.shape[0]
        size = (round(strip.shape[1] * scale), PREVIEW_HEIGHT)
        return np.asarray(Image.fromarray(strip).resize(size, Image.NEAREST))
    points = data.x[:2000].numpy()
    return render_points(points, size=PREVIEW_HEIGHT * 3)


def _fitting_resolution(family: str, wanted: int | None) -> int:
    """``wanted`` when ``family`` builds it, else the size it builds nearest to it (64 when
    nothing is wanted)."""
    info = FAMILIES.get(family)
    sizes = info.image_sizes if info is not None and info.image_sizes else ANY_RESOLUTIONS
    target = wanted if isinstance(wanted, int) else 64
    return min(sizes, key=lambda r: (abs(r - target), r))


class _WrappingLabel(QLabel):
    """A word-wrapped label that asks for the height its text needs at its current width.

    A form row sizes a wrapped label once; when the text changes to one with more lines,
    or the dock narrows, QLabel alone keeps the old height and the last line overlaps the
    next row.
    """

    def __init__(self, text: str = ""):
        super().__init__(text)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit_height()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        height = self.heightForWidth(self.width())
        if height > 0 and height != self.minimumHeight():
            self.setMinimumHeight(height)
