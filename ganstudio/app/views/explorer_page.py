"""The latent explorer: a grid of samples, the selected one large with direction sliders,
interpolation, a latent plane and the nearest training images."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel, QFlowLayout, QLabeledDoubleSlider, QLargeIntSpinBox

from ganstudio.app import theme
from ganstudio.app.controllers import explorer_options as options
from ganstudio.app.controllers.explorer_options import GRID_SIZES
from ganstudio.app.views.image_canvas import ImageCanvas

if TYPE_CHECKING:
    from ganstudio.app.controllers.explorer_session import ExplorerSession

DIRECTION_RANGE = 5.0
SOURCE_NAMES = {"ganstudio": "GAN Studio checkpoint", "pytorch-dcgan": "PyTorch DCGAN netG",
                "torch-export": "torch.export program"}
MORPH_RANGE = 1.5


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(f"color: {theme.TEXT}; font-weight: 600; padding-top: 10px;")
    return label


def _pair(*widgets: QWidget) -> QWidget:
    """A label and its field, kept on one line when a row of options wraps."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 8, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def _slider(lo: float, hi: float, value: float, step: float = 0.05) -> QLabeledDoubleSlider:
    slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    slider.setRange(lo, hi)
    slider.setSingleStep(step)
    slider.setValue(value)
    return slider


class ExplorerPage(QWidget):
    """Draws one ExplorerSession; :meth:`bind` switches to another."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: ExplorerSession | None = None
        self._direction_sliders: dict[str, QLabeledDoubleSlider] = {}
        self._frames: list[np.ndarray] = []
        self._build()
        self._player = QTimer(self)
        self._player.timeout.connect(self._advance_frame)

    # --- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self.title = QLabel("Explorer")
        self.title.setObjectName("heading")
        self.details = QElidingLabel()
        self.details.setObjectName("subtle")
        self.live = QCheckBox("Live: follow the run's latest checkpoint")
        self.live.setToolTip("On: reload the generator whenever the run saves a checkpoint. "
                             "Off: a frozen snapshot.")
        self.live.toggled.connect(lambda on: self.session and self.session.set_following(on))
        self.live_problem = QElidingLabel()  # a line of its own under the header, when shown
        self.live_problem.setStyleSheet(f"color: {theme.WARNING}; padding: 0 14px 4px 14px;")
        self.live_problem.hide()
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        header = QHBoxLayout()
        header.setContentsMargins(14, 10, 14, 4)
        header.addWidget(self.title)
        header.addSpacing(10)
        header.addWidget(self.details, 1)
        header.addWidget(self.live)
        header.addWidget(self.export_button)

        controls = self._build_controls()
        self.grid = ImageCanvas()
        self.grid.setMinimumSize(180, 160)
        self.grid.cell_clicked.connect(self._on_cell_clicked)
        self.grid.image_clicked.connect(self._on_image_clicked)
        self.grid.set_message("Rendering…")
        self.selected = ImageCanvas(interactive=False)
        self.selected.setMinimumSize(140, 140)
        self.caption = QLabel()
        self.caption.setObjectName("subtle")
        self.caption.setWordWrap(True)
        selected_box = QWidget()
        selected_layout = QVBoxLayout(selected_box)
        selected_layout.setContentsMargins(0, 0, 0, 0)
        selected_title = _heading("Selected sample")
        selected_layout.addWidget(selected_title)
        selected_layout.addWidget(self.selected, 1)
        selected_layout.addWidget(self.caption)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.grid)
        top.addWidget(selected_box)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_interpolation(), "Interpolation")
        self.tabs.addTab(self._build_plane(), "Latent plane")
        self.tabs.addTab(self._build_nearest(), "Nearest training images")
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(top)
        centre.addWidget(self.tabs)
        centre.setStretchFactor(0, 3)
        centre.setStretchFactor(1, 2)

        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(controls)
        body.addWidget(centre)
        body.setStretchFactor(0, 0)
        body.setStretchFactor(1, 1)
        body.setSizes([380, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.live_problem)
        layout.addWidget(body, 1)

    def _build_controls(self) -> QScrollArea:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(12, 0, 12, 12)

        layout.addWidget(_heading("Samples"))
        form = QFormLayout()
        self.seed = QLargeIntSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The same seed always gives the same samples")
        self.seed.valueChanged.connect(lambda v: self.session and self.session.set_seed(int(v)))
        shuffle = QPushButton("Shuffle")
        shuffle.setToolTip("A new random seed")
        shuffle.clicked.connect(self.shuffle)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(shuffle)
        form.addRow("Seed", seed_row)
        self.grid_size = QComboBox()
        for n in GRID_SIZES:
            self.grid_size.addItem(f"{n}", n)
        self.grid_size.currentIndexChanged.connect(
            lambda i: self.session and self.session.set_grid_size(self.grid_size.itemData(i)))
        form.addRow("Samples", self.grid_size)
        self.truncation = _slider(0.0, 1.0, 1.0)
        self.truncation.setToolTip("The truncation trick: ψ below 1 pulls latents towards the "
                                   "mean, trading variety for typical, cleaner samples")
        self.truncation.valueChanged.connect(
            lambda v: self.session and self.session.set_truncation(v))
        form.addRow("Truncation ψ", self.truncation)
        self.class_mode = QComboBox()
        self.class_mode.currentIndexChanged.connect(self._on_class_mode)
        self.class_mode_label = QLabel("Class")
        form.addRow(self.class_mode_label, self.class_mode)
        self.sample_class = QComboBox()
        self.sample_class.setToolTip("The class of the selected sample (one class per sample)")
        self.sample_class.activated.connect(self._on_sample_class)
        self.sample_class_label = QLabel("This sample")
        form.addRow(self.sample_class_label, self.sample_class)
        layout.addLayout(form)

        layout.addWidget(_heading("Directions"))
        self.directions_status = QLabel("Computing principal directions…")
        self.directions_status.setObjectName("subtle")
        self.directions_status.setWordWrap(True)
        layout.addWidget(self.directions_status)
        self.directions_form = QFormLayout()
        layout.addLayout(self.directions_form)
        reset = QPushButton("Reset edits")
        reset.clicked.connect(self._reset_edits)
        layout.addWidget(reset)

        self.morph_heading = _heading("Class morph")
        layout.addWidget(self.morph_heading)
        morph_form = QFormLayout()
        self.morph_target = QComboBox()
        self.morph_target.setToolTip("Move the selected sample's class input towards this class "
                                     "(the difference of the two class means)")
        self.morph_amount = _slider(0.0, MORPH_RANGE, 0.0)
        self.morph_target.currentIndexChanged.connect(self._on_morph)
        self.morph_amount.valueChanged.connect(self._on_morph)
        morph_form.addRow("Toward", self.morph_target)
        morph_form.addRow("Amount", self.morph_amount)
        self.morph_box = QWidget()
        self.morph_box.setLayout(morph_form)
        layout.addWidget(self.morph_box)

        layout.addWidget(_heading("Vector arithmetic: A − B + C"))
        row = QHBoxLayout()
        self.arith_buttons = {}
        for slot in "ABC":
            button = QPushButton(f"Set {slot}")
            button.setToolTip(f"Use the selected sample as {slot}")
            button.clicked.connect(partial(self._set_arithmetic, slot))
            self.arith_buttons[slot] = button
            row.addWidget(button)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.arith_apply = QPushButton("Show A − B + C")
        self.arith_apply.clicked.connect(lambda: self.session and self.session.apply_arithmetic())
        self.arith_direction = QPushButton("Add A − B as direction")
        self.arith_direction.clicked.connect(self._add_difference)
        row.addWidget(self.arith_apply)
        row.addWidget(self.arith_direction)
        layout.addLayout(row)
        layout.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(300)
        return scroll

    def _build_interpolation(self) -> QWidget:
        page = QWidget()
        layout = QHBoxLayout(page)
        left = QVBoxLayout()
        self.keyframes = QListWidget()
        self.keyframes.setMaximumWidth(220)
        self.keyframes.setMinimumWidth(150)
        left.addWidget(QLabel("Keyframes"))
        left.addWidget(self.keyframes, 1)
        buttons = QHBoxLayout()
        add = QPushButton("Add selected")
        add.clicked.connect(lambda: self.session and self.session.add_keyframe_selected())
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: self.session and self.session.remove_keyframe(
            self.keyframes.currentRow()))
        buttons.addWidget(add)
        buttons.addWidget(remove)
        left.addLayout(buttons)
        by_seed = QHBoxLayout()
        self.keyframe_seed = QLargeIntSpinBox()
        self.keyframe_seed.setRange(0, 2**31 - 1)
        add_seed = QPushButton("Add seed")
        add_seed.clicked.connect(lambda: self.session and self.session.add_keyframe_seed(
            int(self.keyframe_seed.value())))
        by_seed.addWidget(self.keyframe_seed, 1)
        by_seed.addWidget(add_seed)
        left.addLayout(by_seed)
        layout.addLayout(left)

        right = QVBoxLayout()
        options = QFlowLayout()
        self.method = QComboBox()
        self.method.addItems(["slerp", "lerp"])
        self.method.setToolTip("slerp follows the sphere (keeps latents' typical norm); lerp "
                               "goes straight")
        self.method.currentTextChanged.connect(
            lambda m: self.session and self.session.set_interpolation(method=m))
        self.frame_count = QSpinBox()
        self.frame_count.setRange(2, 128)
        self.frame_count.setValue(16)
        self.frame_count.valueChanged.connect(
            lambda n: self.session and self.session.set_interpolation(frames=n))
        self.play = QPushButton("▶ Play")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._on_play)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(12)
        self.fps.setSuffix(" fps")
        self.fps.valueChanged.connect(self._on_fps)
        for pair in ((QLabel("Method"), self.method), (QLabel("Frames"), self.frame_count),
                     (self.play,), (QLabel("Speed"), self.fps)):
            options.addWidget(_pair(*pair))
        right.addLayout(options)
        self.strip = ImageCanvas(interactive=False)
        self.strip.setMinimumSize(160, 60)
        self.strip.set_message("Add two or more keyframes to interpolate.")
        right.addWidget(self.strip, 1)
        scrub = QHBoxLayout()
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setRange(0, 0)
        self.scrub.valueChanged.connect(self._show_frame)
        self.frame_label = QLabel("")
        self.frame_label.setObjectName("subtle")
        scrub.addWidget(self.scrub, 1)
        scrub.addWidget(self.frame_label)
        right.addLayout(scrub)
        layout.addLayout(right, 3)
        self.player = ImageCanvas(interactive=False)
        self.player.setMinimumSize(100, 100)
        self.player.setMaximumWidth(260)
        layout.addWidget(self.player, 1)
        return page

    def _build_plane(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        options = QFlowLayout()
        self.plane_x = QComboBox()
        self.plane_y = QComboBox()
        self.plane_extent = QDoubleSpinBox()
        self.plane_extent.setRange(0.25, 10)
        self.plane_extent.setSingleStep(0.25)
        self.plane_extent.setValue(3.0)
        self.plane_size = QComboBox()
        for n in (5, 7, 9, 11):
            self.plane_size.addItem(f"{n} × {n}", n)
        self.plane_size.setCurrentIndex(1)
        self.plane_x.activated.connect(self._on_plane)
        self.plane_y.activated.connect(self._on_plane)
        self.plane_extent.valueChanged.connect(self._on_plane)
        self.plane_size.activated.connect(self._on_plane)
        for pair in ((QLabel("Across"), self.plane_x), (QLabel("Down"), self.plane_y),
                     (QLabel("± amount"), self.plane_extent), (QLabel("Size"), self.plane_size)):
            options.addWidget(_pair(*pair))
        layout.addLayout(options)
        self.plane = ImageCanvas(interactive=False)
        self.plane.setMinimumSize(120, 100)
        layout.addWidget(self.plane, 1)
        return page

    def _build_nearest(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        options = QHBoxLayout()
        self.nearest_k = QSpinBox()
        self.nearest_k.setRange(1, 24)
        self.nearest_k.setValue(8)
        self.nearest_k.valueChanged.connect(
            lambda k: self.session and self.session.set_nearest_k(k))
        hint = QLabel("The selected sample first, then the training images closest to it in "
                      "pixel space. Near-copies mean the generator memorised its data.")
        hint.setObjectName("subtle")
        hint.setWordWrap(True)
        options.addWidget(QLabel("Nearest"))
        options.addWidget(self.nearest_k)
        options.addWidget(hint, 1)
        layout.addLayout(options)
        self.nearest = ImageCanvas(interactive=False)
        self.nearest.setMinimumSize(120, 60)
        layout.addWidget(self.nearest, 1)
        self.nearest_distances = QLabel("")
        self.nearest_distances.setObjectName("subtle")
        layout.addWidget(self.nearest_distances)
        return page

    # --- binding a session ----------------------------------------------------------------

    def bind(self, session: ExplorerSession) -> None:
        if self.session is not None:
            self.session.disconnect(self)
        self.session = session
        self._player.stop()
        self.play.setChecked(False)
        session.grid_ready.connect(self._on_grid)
        session.selected_ready.connect(self._on_selected)
        session.strip_ready.connect(self._on_strip)
        session.plane_ready.connect(self._on_plane_ready)
        session.nearest_ready.connect(self._on_nearest)
        session.render_failed.connect(self._on_failed)
        session.directions_changed.connect(self._rebuild_directions)
        session.directions_progress.connect(self._on_directions_progress)
        session.keyframes_changed.connect(self._on_keyframes)
        session.selection_changed.connect(self._on_selection)
        session.generator_changed.connect(self._describe)
        session.follow_problem.connect(self._on_follow_problem)
        self._on_follow_problem("")
        self._describe(session.generator)
        self.live.setVisible(session.can_follow())
        with QSignalBlocker(self.live):
            self.live.setChecked(session.following)
        for widget, value in ((self.seed, session.seed), (self.keyframe_seed, 1)):
            with QSignalBlocker(widget):
                widget.setValue(value)
        with QSignalBlocker(self.grid_size):
            self.grid_size.setCurrentIndex(GRID_SIZES.index(session.grid_size))
        self._set_class_controls()
        self._rebuild_directions()
        self._on_keyframes()
        self.grid.set_message("Rendering…")
        self.directions_status.setText(
            f"Computing principal directions from {options.PCA_SAMPLES:,} samples…")
        session.render_all()
        session.compute_directions()

    def _describe(self, generator) -> None:
        self.title.setText(generator.path.name)
        parts = [SOURCE_NAMES.get(generator.source, generator.source)]
        if generator.dataset:
            parts.append(f"trained on {generator.dataset}")
        if generator.step is not None:
            parts.append(f"step {generator.step:,}")
        parts.append(f"z {generator.z_dim}")
        if generator.latent_space != "z":
            parts.append(f"{generator.latent_space} {generator.latent_dim}"
                         + (f" × {generator.num_ws} layers" if generator.num_ws > 1 else ""))
        if generator.kind == "images":
            c, h, w = generator.shape
            parts.append(f"{w}×{h} {'RGB' if c == 3 else 'grey'}")
        else:
            parts.append("2-D points")
        self.details.setText(" · ".join(parts))

    def _set_class_controls(self) -> None:
        session = self.session
        conditional = session.generator.conditional
        for widget in (self.class_mode, self.class_mode_label, self.sample_class,
                       self.sample_class_label, self.morph_heading, self.morph_box):
            widget.setVisible(conditional)
        self.morph_box.setEnabled(session.generator.can_mix_classes())
        if not conditional:
            return
        for combo in (self.class_mode, self.sample_class, self.morph_target):
            combo.blockSignals(True)
            combo.clear()
        self.class_mode.addItem("One class per sample", None)
        for i, name in enumerate(session.classes):
            self.class_mode.addItem(f"All: {name}", i)
            self.sample_class.addItem(name, i)
            self.morph_target.addItem(name, i)
        index = 0 if session.single_class is None else session.single_class + 1
        self.class_mode.setCurrentIndex(index)
        self.sample_class.setEnabled(session.single_class is None)
        for combo in (self.class_mode, self.sample_class, self.morph_target):
            combo.blockSignals(False)

    # --- reactions to the user ------------------------------------------------------------

    def shuffle(self) -> None:
        """A new random seed for the grid."""
        if self.session is None:
            return
        seed = self.session.shuffle()
        with QSignalBlocker(self.seed):
            self.seed.setValue(seed)

    def _on_cell_clicked(self, index: int) -> None:
        if self.session is not None and not self.session.points:
            self.session.select(index)

    def _on_image_clicked(self, x: float, y: float) -> None:
        if self.session is not None and self.session.points:
            image = self.grid.image()
            self.session.select_nearest_point(x, y, image.shape[1])

    def _on_selection(self, index: int) -> None:
        if not self.session.points:
            self.grid.set_selected(index)
        label = self.session.selected_label()
        if label is not None:
            with QSignalBlocker(self.sample_class):
                self.sample_class.setCurrentIndex(label)
        for slider in self._direction_sliders.values():
            with QSignalBlocker(slider):
                slider.setValue(0.0)
        with QSignalBlocker(self.morph_amount):
            self.morph_amount.setValue(0.0)

    def _on_class_mode(self, index: int) -> None:
        if self.session is None or index < 0:
            return
        self.session.set_single_class(self.class_mode.itemData(index))
        self.sample_class.setEnabled(self.session.single_class is None)

    def _on_sample_class(self, index: int) -> None:
        if self.session is not None:
            self.session.set_sample_class(self.session.selected, self.sample_class.itemData(index))

    def _on_morph(self, *_) -> None:
        if self.session is not None:
            self.session.set_morph(self.morph_target.currentData(), self.morph_amount.value())

    def _reset_edits(self) -> None:
        if self.session is None:
            return
        self._on_selection(self.session.selected)
        self.session.reset_edits()

    def _set_arithmetic(self, slot: str) -> None:
        if self.session is None:
            return
        self.session.set_arithmetic(slot)
        self.arith_buttons[slot].setText(f"{slot} = #{self.session.selected} ✓")

    def _add_difference(self) -> None:
        if self.session is not None and self.session.add_difference_direction() is None:
            self.directions_status.setText("Set A and B (two different samples) first.")

    def _rebuild_directions(self) -> None:
        while self.directions_form.rowCount():
            self.directions_form.removeRow(0)
        self._direction_sliders.clear()
        session = self.session
        if session is None:
            return
        names = list(session.directions)
        for name in names:
            slider = _slider(-DIRECTION_RANGE, DIRECTION_RANGE,
                             session.edits.amounts.get(name, 0.0), 0.1)
            slider.valueChanged.connect(partial(self._on_direction, name))
            share = session.explained.get(name)
            label = f"{name}  {share:.1%}" if name.startswith("PC") and share else name
            self.directions_form.addRow(label, slider)
            self._direction_sliders[name] = slider
        if names:
            source = session.generator.feature_source
            self.directions_status.setText(
                f"Principal directions of the {source}'s activations (GANSpace), ranked by "
                "the variance they explain. Each slider edits the selected sample.")
        for combo, current in ((self.plane_x, session.plane_axes[0]),
                               (self.plane_y, session.plane_axes[1])):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
            combo.blockSignals(False)

    def _on_direction(self, name: str, value: float) -> None:
        if self.session is not None:
            self.session.set_edit(name, value)

    def _on_directions_progress(self, fraction: float) -> None:
        self.directions_status.setText(
            f"Computing principal directions from {options.PCA_SAMPLES:,} samples… {fraction:.0%}")

    def _on_plane(self, *_) -> None:
        if self.session is not None:
            self.session.set_plane(self.plane_x.currentText() or None,
                                   self.plane_y.currentText() or None,
                                   self.plane_extent.value(), self.plane_size.currentData())

    def _on_keyframes(self) -> None:
        self.keyframes.clear()
        if self.session is None:
            return
        for key in self.session.keyframes:
            label = key.name
            if key.label is not None:
                label += f" · {self.session.classes[key.label]}"
            self.keyframes.addItem(label)
        for widget, value in ((self.method, self.session.method),):
            with QSignalBlocker(widget):
                widget.setCurrentText(value)
        with QSignalBlocker(self.frame_count):
            self.frame_count.setValue(self.session.frames)

    # --- player ---------------------------------------------------------------------------

    def _on_play(self, on: bool) -> None:
        self.play.setText("⏸ Pause" if on else "▶ Play")
        if on and len(self._frames) > 1:
            self._on_fps(self.fps.value())
            self._player.start()
        else:
            self._player.stop()

    def _on_fps(self, fps: float) -> None:
        self._player.setInterval(max(1, round(1000 / fps)))

    def _advance_frame(self) -> None:
        if self._frames:
            self.scrub.setValue((self.scrub.value() + 1) % len(self._frames))

    def _show_frame(self, index: int) -> None:
        if 0 <= index < len(self._frames):
            self.player.set_image(self._frames[index])
            self.frame_label.setText(f"frame {index + 1}/{len(self._frames)}")

    # --- results from the session ---------------------------------------------------------

    def _on_grid(self, result: dict) -> None:
        self.grid.set_message(None)
        self.grid.set_image(result["image"], result["nrow"], result["n"], 2 if result["n"] > 1
                            else 0, result.get("row_labels"))
        if not self.session.points:
            self.grid.set_selected(self.session.selected)

    def _on_selected(self, result: dict) -> None:
        self.selected.set_message(None)
        self.selected.set_image(result["image"])
        self.caption.setText(result["caption"])

    def _on_strip(self, result: dict) -> None:
        self._frames = result.get("frames", [])
        if result.get("image") is None:
            self.strip.set_image(None)
            self.strip.set_message(result.get("message"))
            self.player.set_image(None)
            self.scrub.setRange(0, 0)
            self.frame_label.setText("")
            return
        self.strip.set_message(None)
        n = len(self._frames)
        self.strip.set_image(result["image"], n if not self.session.points else 1,
                             n if not self.session.points else 1,
                             2 if not self.session.points else 0)
        self.scrub.setRange(0, max(0, n - 1))
        self._show_frame(min(self.scrub.value(), n - 1))

    def _on_plane_ready(self, result: dict) -> None:
        if result.get("image") is None:
            self.plane.set_image(None)
            self.plane.set_message(result.get("message"))
            return
        self.plane.set_message(None)
        self.plane.set_image(result["image"], result["nrow"], result["n"],
                             2 if result["n"] > 1 else 0)

    def _on_nearest(self, result: dict) -> None:
        if result.get("image") is None:
            self.nearest.set_image(None)
            self.nearest.set_message(result.get("message"))
            self.nearest_distances.setText("")
            return
        self.nearest.set_message(None)
        self.nearest.set_image(result["image"], result["n"], result["n"],
                               2 if result["n"] > 1 else 0)
        distances = ", ".join(f"{d:.1f}" for d in result["distances"])
        unit = "RMS pixel distance (0–255)" if not self.session.points else "distance"
        self.nearest_distances.setText(f"{unit}: {distances}")

    def _on_follow_problem(self, text: str) -> None:
        self.live_problem.setText(f"Live: the run's newest checkpoint cannot be loaded. {text}"
                                  if text else "")
        self.live_problem.setToolTip(
            "The explorer shows the last checkpoint that could be loaded and tries the newest "
            "again, less and less often." if text else "")
        self.live_problem.setVisible(bool(text))

    def _on_failed(self, kind: str, message: str) -> None:
        canvas = {"grid": self.grid, "selected": self.selected, "strip": self.strip,
                  "plane": self.plane, "nearest": self.nearest}.get(kind)
        if canvas is None:
            self.directions_status.setText(message)
            return
        canvas.set_message(f"Could not render: {message}", error=True)

