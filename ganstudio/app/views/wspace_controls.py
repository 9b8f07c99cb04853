"""The explorer's controls for generators edited in W (StyleGAN): style mixing switches, the
layer range of a direction edit, StyleGAN3's input transform, and the layer view.

Each widget only shows and reports choices (signals); the explorer page hands them to its
ExplorerSession.
"""

from __future__ import annotations

import math
import re
from functools import partial

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import (
    QFlowLayout,
    QLabeledDoubleSlider,
    QLabeledRangeSlider,
    QLabeledSlider,
    QLargeIntSpinBox,
    QSearchableComboBox,
)

from ganstudio.app import theme
from ganstudio.app.views.image_canvas import ImageCanvas

Groups = tuple[tuple[str, int, int], ...]  # (label, first, stop) over the style inputs
SWITCH_STYLE = f"""
QToolButton#styleSwitch {{
    min-width: 22px; max-width: 22px; min-height: 20px; padding: 0; border-radius: 4px;
    border: 1px solid {theme.BORDER}; background: {theme.PANEL}; color: {theme.MUTED};
    font-size: 11px;
}}
QToolButton#styleSwitch:checked {{
    background: {theme.ACCENT}; border-color: {theme.ACCENT}; color: white; font-weight: 600;
}}
"""
ANIMATION_MS = 40  # 25 frames a second asked for; the render worker keeps only the newest


def short_label(label: str) -> str:
    """A style group's label, short enough for a switch's caption: "64×64" → "64",
    StyleGAN3's "L3_52_512" → "52", "input" → "in"."""
    if label == "input":
        return "in"
    match = re.fullmatch(r"(\d+)×\d+", label) or re.fullmatch(r"L\d+_(\d+)_\d+", label)
    return match.group(1) if match else label[:4]


def style_ranges(groups: Groups, num_ws: int) -> dict[str, tuple[int, int]]:
    """The coarse, middle and fine thirds of a generator's style inputs, by resolution group
    (coarse styles set pose and shape, fine ones colour and texture), and all of them."""
    ranges = {"All": (0, num_ws)}
    if not groups:
        return ranges
    k = len(groups)
    cuts = [0, math.ceil(k / 3), math.ceil(2 * k / 3), k]
    for name, a, b in zip(("Coarse", "Middle", "Fine"), cuts, cuts[1:]):
        if a < b:
            ranges[name] = (groups[a][1], groups[b - 1][2] if b < k else num_ws)
    return ranges


def _merged(groups: Groups) -> Groups:
    """Neighbouring groups of the same short label as one (StyleGAN3's layers of one size)."""
    out: list[tuple[str, int, int]] = []
    for label, first, stop in groups:
        if out and short_label(out[-1][0]) == short_label(label) and out[-1][2] == first:
            out[-1] = (out[-1][0], out[-1][1], stop)
        else:
            out.append((label, first, stop))
    return tuple(out)


def describe_range(groups: Groups, first: int, stop: int) -> str:
    """Style inputs first..stop-1 and the resolutions they belong to."""
    inputs = f"styles {first}–{stop - 1}" if stop - first > 1 else f"style {first}"
    labels = [label for label, a, b in groups if a < stop and b > first]
    if not labels:
        return inputs
    where = labels[0] if len(labels) == 1 else f"{labels[0]} to {labels[-1]}"
    return f"{inputs} ({where})"


class StyleMixer(QWidget):
    """Style mixing: a second latent (a seed, or the selected sample) and one switch per style
    input, grouped by resolution; a switched input comes from the second latent."""

    seed_chosen = Signal(int)
    sample_chosen = Signal()
    inputs_changed = Signal(object)  # set of style input indices

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setStyleSheet(SWITCH_STYLE)
        self.switches: dict[int, QToolButton] = {}
        self._groups: Groups = ()
        self._num_ws = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        source = QHBoxLayout()
        source.addWidget(QLabel("Second seed"))
        self.seed = QLargeIntSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The sample whose styles are mixed in")
        self.seed.valueChanged.connect(lambda v: self.seed_chosen.emit(int(v)))
        source.addWidget(self.seed, 1)
        self.use_selected = QPushButton("Use selected")
        self.use_selected.setToolTip("Mix in the styles of the sample selected in the grid now")
        self.use_selected.clicked.connect(self.sample_chosen)
        source.addWidget(self.use_selected)
        layout.addLayout(source)
        self.source_label = QLabel("")
        self.source_label.setObjectName("subtle")
        layout.addWidget(self.source_label)
        self.presets = QHBoxLayout()
        self.presets.setSpacing(4)
        layout.addLayout(self.presets)
        self.switch_box = QWidget()
        self.switch_layout = QFlowLayout(self.switch_box)
        self.switch_layout.setContentsMargins(0, 2, 0, 0)
        layout.addWidget(self.switch_box)

    def set_groups(self, groups: Groups, num_ws: int) -> None:
        """One switch per style input, under its resolution group's label."""
        self._groups, self._num_ws = groups, num_ws
        for i in reversed(range(self.switch_layout.count())):
            item = self.switch_layout.takeAt(i)
            if item.widget() is not None:
                item.widget().deleteLater()
        while self.presets.count():
            item = self.presets.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.switches.clear()
        for label, first, stop in _merged(groups or (("styles", 0, num_ws),)):
            chip = QWidget()
            chip.setToolTip(f"{short_label(label)} px: style inputs {first}–{stop - 1}")
            column = QVBoxLayout(chip)
            column.setContentsMargins(0, 0, 4, 0)
            column.setSpacing(1)
            caption = QLabel(short_label(label))
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setStyleSheet(f"color: {theme.MUTED}; font-size: 10px;")
            column.addWidget(caption)
            row = QHBoxLayout()
            row.setSpacing(2)
            for i in range(first, stop):
                switch = QToolButton()
                switch.setObjectName("styleSwitch")
                switch.setText(str(i))
                switch.setCheckable(True)
                switch.setToolTip(f"Style input {i} ({label}) from the second latent")
                switch.toggled.connect(self._on_switch)
                row.addWidget(switch)
                self.switches[i] = switch
            column.addLayout(row)
            self.switch_layout.addWidget(chip)
        for name, span in [*style_ranges(groups, num_ws).items(), ("None", (0, 0))]:
            button = QPushButton(name)
            button.setToolTip("Switch no style input" if name == "None" else
                              f"Take {describe_range(groups, *span)} from the second latent")
            button.clicked.connect(partial(self.set_inputs, set(range(*span)), True))
            self.presets.addWidget(button)

    def set_inputs(self, inputs: set[int], emit: bool = False) -> None:
        for i, switch in self.switches.items():
            with QSignalBlocker(switch):
                switch.setChecked(i in inputs)
        if emit:
            self.inputs_changed.emit(self.inputs())

    def inputs(self) -> set[int]:
        return {i for i, switch in self.switches.items() if switch.isChecked()}

    def set_source(self, text: str) -> None:
        self.source_label.setText(text)

    def _on_switch(self, _checked: bool) -> None:
        self.inputs_changed.emit(self.inputs())


class LayerRange(QWidget):
    """The style inputs an edit along the current direction moves (GANSpace's layer-wise
    edits): a range slider over the style inputs and the coarse, middle and fine presets."""

    changed = Signal(str, object)  # direction name, (first, stop) or None for all

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._groups: Groups = ()
        self._num_ws = 1
        self.direction: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        self.label = QLabel("")
        self.label.setObjectName("subtle")
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        self.slider = QLabeledRangeSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("The first and last style input the edit moves")
        # the handles carry the numbers; edge labels would repeat them at the ends
        self.slider.setEdgeLabelMode(QLabeledRangeSlider.EdgeLabelMode.NoLabel)
        self.slider.valueChanged.connect(self._on_slider)
        layout.addWidget(self.slider)
        self.presets = QHBoxLayout()
        self.presets.setSpacing(4)
        layout.addLayout(self.presets)

    def set_groups(self, groups: Groups, num_ws: int) -> None:
        self._groups, self._num_ws = groups, num_ws
        with QSignalBlocker(self.slider):
            self.slider.setRange(0, max(0, num_ws - 1))
            self.slider.setValue((0, max(0, num_ws - 1)))
        while self.presets.count():
            item = self.presets.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for name, span in style_ranges(groups, num_ws).items():
            button = QPushButton(name)
            button.setToolTip(f"The edit moves {describe_range(groups, *span)}")
            button.clicked.connect(partial(self._choose, span))
            self.presets.addWidget(button)
        self.show_direction(None, None)

    def show_direction(self, name: str | None, layers: tuple[int, int] | None) -> None:
        """Show the range of direction ``name`` (the one last touched)."""
        self.direction = name
        self.setEnabled(name is not None)
        first, stop = layers if layers is not None else (0, self._num_ws)
        with QSignalBlocker(self.slider):
            self.slider.setValue((first, max(first, stop - 1)))
        self._describe(first, stop)

    def _describe(self, first: int, stop: int) -> str:
        if self.direction is None:
            self.label.setText("Move a direction's slider to choose the style inputs it edits.")
        else:
            self.label.setText(f"{self.direction} edits "
                               f"{describe_range(self._groups, first, stop)}")
        return self.label.text()

    def _choose(self, span: tuple[int, int]) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue((span[0], span[1] - 1))
        self._on_slider(self.slider.value())

    def _on_slider(self, value) -> None:
        first, last = (round(v) for v in value)
        self._describe(first, last + 1)
        if self.direction is not None:
            self.changed.emit(self.direction, (first, last + 1))


class InputTransform(QWidget):
    """StyleGAN3's input transform: translate and rotate sliders, and an animation that plays
    a turn or a circling shift, to show that the image moves with its input (equivariance)."""

    changed = Signal(float, float, float)  # translate x, translate y (image widths), degrees

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.x = _double_slider(-0.5, 0.5, 0.01)
        self.y = _double_slider(-0.5, 0.5, 0.01)
        self.rotate = _double_slider(-180.0, 180.0, 1.0)
        self.x.setToolTip("Shift the input right (in image widths)")
        self.y.setToolTip("Shift the input down (in image widths)")
        self.rotate.setToolTip("Turn the input counter-clockwise (degrees)")
        for slider in (self.x, self.y, self.rotate):
            slider.valueChanged.connect(self._emit)
        form.addRow("Move x", self.x)
        form.addRow("Move y", self.y)
        form.addRow("Turn", self.rotate)
        row = QHBoxLayout()
        self.play = QPushButton("▶ Animate")
        self.play.setCheckable(True)
        self.play.setToolTip("Play the motion: the image should move with its input, with no "
                             "texture sticking to the screen")
        self.play.toggled.connect(self._on_play)
        self.motion = QComboBox()
        self.motion.addItems(["Turn", "Circle", "Slide"])
        self.motion.setToolTip("Turn: a full rotation; Circle: a shift around a circle; "
                               "Slide: a shift left and right")
        reset = QPushButton("Reset")
        reset.clicked.connect(self.reset)
        row.addWidget(self.play)
        row.addWidget(self.motion, 1)
        row.addWidget(reset)
        form.addRow(row)
        self._timer = QTimer(self)
        self._timer.setInterval(ANIMATION_MS)
        self._timer.timeout.connect(self._tick)
        self._phase = 0.0
        self._frame_pending = False  # a frame of the animation is not yet shown

    def values(self) -> tuple[float, float, float]:
        return self.x.value(), self.y.value(), self.rotate.value()

    def reset(self) -> None:
        self.play.setChecked(False)
        self._set(0.0, 0.0, 0.0)

    def _tick(self) -> None:
        # Paced by the renders: the next frame only once the last one is shown. A frame asked
        # for every tick would overtake each render before it arrives on a slow CPU, and the
        # image would stand still for as long as the animation plays.
        if not self._frame_pending:
            self._frame_pending = True
            self.advance()

    def frame_shown(self) -> None:
        """The selected sample was drawn in full: the animation may move on."""
        self._frame_pending = False

    def advance(self) -> None:
        """One frame of the animation (each a 1/120 of its loop)."""
        self._phase = (self._phase + 1 / 120) % 1.0
        angle = 2 * math.pi * self._phase
        motion = self.motion.currentText()
        if motion == "Turn":
            self._set(self.x.value(), self.y.value(), -180.0 + 360.0 * self._phase)
        elif motion == "Circle":
            self._set(0.2 * math.cos(angle), 0.2 * math.sin(angle), self.rotate.value())
        else:
            self._set(0.25 * math.sin(angle), self.y.value(), self.rotate.value())

    def _set(self, x: float, y: float, degrees: float) -> None:
        for slider, value in ((self.x, x), (self.y, y), (self.rotate, degrees)):
            with QSignalBlocker(slider):
                slider.setValue(value)
        self._emit()

    def _emit(self, *_) -> None:
        self.changed.emit(*self.values())

    def _on_play(self, on: bool) -> None:
        self.play.setText("⏸ Stop" if on else "▶ Animate")
        self._frame_pending = False
        if on:
            self._timer.start()
        else:
            self._timer.stop()

    def stop(self) -> None:
        self.play.setChecked(False)


class LayerView(QWidget):
    """A layer's feature maps for the selected sample: a grid of its channels (each scaled to
    its own range) or one channel large, with the channel slider and mean / std / max."""

    changed = Signal(object, object)  # layer name, channel (None: a grid of channels)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        options = QFlowLayout()
        self.layer = QSearchableComboBox()
        self.layer.setMinimumWidth(160)
        self.layer.setToolTip("A synthesis layer, input to output")
        self.layer.currentIndexChanged.connect(self._emit)
        self.modes = QButtonGroup(self)
        self.grid_mode = QPushButton("All channels")
        self.one_mode = QPushButton("One channel")
        for i, button in enumerate((self.grid_mode, self.one_mode)):
            button.setCheckable(True)
            self.modes.addButton(button, i)
        self.grid_mode.setChecked(True)
        self.modes.idClicked.connect(self._emit)
        self.channel = QLabeledSlider(Qt.Orientation.Horizontal)
        self.channel.setMinimumWidth(160)
        self.channel.setRange(0, 0)
        self.channel.setToolTip("The channel shown large")
        self.channel.valueChanged.connect(self._emit)
        options.addWidget(field_row(QLabel("Layer"), self.layer))
        options.addWidget(field_row(self.grid_mode, self.one_mode))
        options.addWidget(field_row(QLabel("Channel"), self.channel))
        layout.addLayout(options)
        self.canvas = ImageCanvas(interactive=False)
        self.canvas.setMinimumSize(120, 80)
        self.canvas.set_message("Choose a layer.")
        layout.addWidget(self.canvas, 1)
        self.stats = QLabel("")
        self.stats.setObjectName("subtle")
        layout.addWidget(self.stats)

    def set_layers(self, layers: tuple[str, ...]) -> None:
        with QSignalBlocker(self.layer):
            self.layer.clear()
            self.layer.addItems(list(layers))
            # an early layer, never the last one (often just the image's own channels)
            self.layer.setCurrentIndex(min(2, max(0, len(layers) - 2)))
        self.canvas.set_image(None)
        self.canvas.set_message("This generator shows no layers." if not layers else None)
        self.stats.setText("")

    def choice(self) -> tuple[str | None, int | None]:
        layer = self.layer.currentText() or None
        if layer is not None and self.layer.findText(layer) < 0:  # half-typed in the search
            layer = None
        return layer, self.channel.value() if self.one_mode.isChecked() else None

    def _emit(self, *_) -> None:
        self.channel.setEnabled(self.one_mode.isChecked())
        self.changed.emit(*self.choice())

    def show_result(self, result: dict) -> None:
        channels = result["channels"]
        with QSignalBlocker(self.channel):
            self.channel.setRange(0, max(0, channels - 1))
        image = np.ascontiguousarray(result["image"])
        self.canvas.set_message(None)
        self.canvas.set_image(image, result["nrow"], result["n"], 2 if result["n"] > 1 else 0)
        h, w = result["size"]
        shown = f"channel {self.channel.value()}" if self.one_mode.isChecked() else (
            f"all {channels} channels" if result["n"] == channels else
            f"the first {result['n']} of {channels} channels")
        self.stats.setText(f"{shown} · {w}×{h} · mean {result['mean']:.3g} · std "
                           f"{result['std']:.3g} · max {result['max']:.3g}")


def _double_slider(lo: float, hi: float, step: float) -> QLabeledDoubleSlider:
    slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    slider.setRange(lo, hi)
    slider.setSingleStep(step)
    slider.setValue(0.0)
    return slider


def field_row(*widgets: QWidget) -> QWidget:
    """A label and its field (or a few buttons), kept on one line when a row of options
    wraps."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 8, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return box
