"""The fork dialog: a run's checkpoint to start from, the settings to change, the new folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ganstudio.engine.config import LOSSES, RunConfig

# The settings a fork may change that the dialog offers, as (key, label); the rest of the
# config is the parent's (data, networks and optimiser cannot change: engine.forks).
SETTINGS = (
    ("optim.lr_g", "G learning rate"),
    ("optim.lr_d", "D learning rate"),
    ("optim.d_steps", "D steps per G step"),
    ("loss.name", "Loss"),
    ("loss.r1_gamma", "R1 weight"),
    ("train.batch_size", "Batch size"),
    ("train.steps", "Train until step"),
    ("train.seed", "Seed"),
)


class ForkDialog(QDialog):
    """Asks how to fork ``parent``: :meth:`request` gives (step, changed settings, folder)."""

    def __init__(self, parent_dir: str | Path, label: str, config: RunConfig,
                 checkpoints: list[int], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Fork {label}")
        self._parent_dir = Path(parent_dir)
        self._config = config.to_dict()
        intro = QLabel(f"A new run starts from a checkpoint of <b>{label}</b> with the settings "
                       "below; its data, networks and optimiser stay the parent's. Both runs "
                       "are compared from the fork's step on.")
        intro.setWordWrap(True)
        form = QFormLayout()
        self.step = QComboBox()
        for step in checkpoints:
            self.step.addItem(f"step {step:,}", step)
        self.step.setCurrentIndex(len(checkpoints) - 1)
        self.step.currentIndexChanged.connect(self._on_step_changed)
        form.addRow("Checkpoint", self.step)
        self.fields: dict[str, QWidget] = {}
        for key, label_text in SETTINGS:
            field = self._field(key, self._value(key))
            self.fields[key] = field
            form.addRow(label_text, field)
        self.folder = QLineEdit()
        form.addRow("New run folder", self.folder)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start fork")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._on_step_changed()

    def _value(self, key: str) -> Any:
        section, _, name = key.partition(".")
        return self._config[section][name]

    @staticmethod
    def _field(key: str, value: Any) -> QWidget:
        if key == "loss.name":
            combo = QComboBox()
            combo.addItems(list(LOSSES))
            combo.setCurrentText(str(value))
            return combo
        if isinstance(value, float):
            spin = QDoubleSpinBox()
            spin.setDecimals(7 if key.startswith("optim.lr") else 3)
            spin.setRange(0.0, 1e6)
            spin.setSingleStep(value / 2 if value > 0 else 0.1)
            spin.setValue(value)
            return spin
        spin = QSpinBox()
        spin.setRange(0 if key == "train.seed" else 1, 2**31 - 1)
        spin.setValue(int(value))
        return spin

    def field_value(self, key: str) -> Any:
        field = self.fields[key]
        if isinstance(field, QComboBox):
            return field.currentText()
        return field.value()

    def set_field(self, key: str, value: Any) -> None:
        field = self.fields[key]
        if isinstance(field, QComboBox):
            field.setCurrentText(str(value))
        else:
            field.setValue(value)

    def request(self) -> tuple[int, dict[str, Any], Path]:
        """(the checkpoint's step, the settings changed from the parent's, the new folder)."""
        changed = {key: self.field_value(key) for key, _ in SETTINGS
                   if self.field_value(key) != self._value(key)}
        return self.step.currentData(), changed, Path(self.folder.text()).expanduser()

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _on_step_changed(self) -> None:
        step = self.step.currentData()
        stem = self._parent_dir.parent / f"{self._parent_dir.name}-fork-{step}"
        folder, n = stem, 1
        while folder.exists():
            n += 1
            folder = stem.with_name(f"{stem.name}-{n}")
        self.folder.setText(str(folder))
        steps = self.fields["train.steps"]
        if steps.value() <= step:  # a fork trains on from its step
            steps.setValue(step + self._value("train.steps"))
