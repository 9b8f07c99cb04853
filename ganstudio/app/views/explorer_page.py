"""The latent explorer: a grid of samples, the selected one large with direction sliders,
interpolation, a latent plane, the layer view and the nearest training images; for StyleGAN
also truncation with a cutoff, style mixing, layer-range edits, noise and StyleGAN3's input
transform."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
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
from superqt import (
    QCollapsible,
    QElidingLabel,
    QFlowLayout,
    QLabeledDoubleSlider,
    QLabeledSlider,
    QLargeIntSpinBox,
    QSearchableComboBox,
)

from ganstudio.app import theme
from ganstudio.app.controllers import explorer_options as options
from ganstudio.app.controllers.explorer_options import GRID_SIZES
from ganstudio.app.views.image_canvas import ImageCanvas
from ganstudio.app.views.wspace_controls import (
    InputTransform,
    LayerRange,
    LayerView,
    StyleMixer,
    field_row,
)
from ganstudio.engine.errors import GanStudioError

if TYPE_CHECKING:
    from ganstudio.app.controllers.explorer_session import ExplorerSession

DIRECTION_RANGE = 5.0
SOURCE_NAMES = {"ganstudio": "GAN Studio checkpoint", "pytorch-dcgan": "PyTorch DCGAN netG",
                "torch-export": "torch.export program", "stylegan2": "StyleGAN2 pickle",
                "stylegan3": "StyleGAN3 pickle", "biggan": "BigGAN-deep folder"}
MORPH_RANGE = 1.5
NOISE_MODES = ("const", "random", "none")
DIRECTION_NAME_STYLE = f"""
QPushButton#directionName {{ border: none; background: transparent; text-align: left;
                             padding: 2px 4px; color: {theme.TEXT}; }}
QPushButton#directionName:checked {{ color: {theme.ACCENT}; }}
QPushButton#directionName:hover {{ color: {theme.ACCENT}; }}
"""
CONVERT_BAR_STYLE = f"""
QFrame#convertBar {{ background: {theme.RAISED}; border: 1px solid {theme.BORDER};
                     border-radius: 6px; }}
"""


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(f"color: {theme.TEXT}; font-weight: 600; padding-top: 10px;")
    return label


def _section(title: str, content: QWidget, expanded: bool = True) -> QCollapsible:
    """A foldable section of the controls panel."""
    section = QCollapsible(title)
    section.toggleButton().setStyleSheet(
        f"text-align: left; border: none; outline: none; color: {theme.TEXT}; "
        "font-weight: 600; padding-top: 8px;")
    section.setDuration(120)
    section.layout().setContentsMargins(0, 0, 0, 0)
    section.content().layout().setContentsMargins(2, 0, 0, 0)
    section.addWidget(content)
    if expanded:
        section.expand(animate=False)
    return section


def _slider(lo: float, hi: float, value: float, step: float = 0.05) -> QLabeledDoubleSlider:
    slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    slider.setRange(lo, hi)
    slider.setSingleStep(step)
    slider.setValue(value)
    return slider


class ExplorerPage(QWidget):
    """Draws one ExplorerSession; :meth:`bind` switches to another."""

    convert_requested = Signal()  # the user asked to convert the generator shown

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: ExplorerSession | None = None
        self._direction_sliders: dict[str, QLabeledDoubleSlider] = {}
        self._direction_labels: dict[str, QPushButton] = {}
        self._frames: list[np.ndarray] = []
        self._mix_rows: list[tuple[QComboBox, QLabeledDoubleSlider, QWidget]] = []
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
        self.convert_bar = self._build_convert_bar()

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
        self.layer_view = LayerView()
        self.layer_view.changed.connect(self._on_layer_choice)
        self.tabs.addTab(self.layer_view, "Layers")
        self.tabs.addTab(self._build_nearest(), "Nearest training images")
        self.tabs.currentChanged.connect(self._on_layer_choice)
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
        body.setSizes([400, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.live_problem)
        layout.addWidget(self.convert_bar)
        layout.addWidget(body, 1)

    def _build_convert_bar(self) -> QFrame:
        """The offer to convert a pickle or folder into a GAN Studio checkpoint."""
        bar = QFrame()
        bar.setObjectName("convertBar")
        bar.setStyleSheet(CONVERT_BAR_STYLE)
        row = QHBoxLayout(bar)
        row.setContentsMargins(12, 6, 8, 6)
        self.convert_text = QElidingLabel()
        self.convert_button = QPushButton("Convert…")
        self.convert_button.setToolTip("Save it as a GAN Studio checkpoint (.safetensors): "
                                       "it then opens at once, memory-mapped, with no parsing")
        self.convert_button.clicked.connect(self.convert_requested)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Not now")
        close.setAutoRaise(True)
        close.clicked.connect(bar.hide)
        row.addWidget(self.convert_text, 1)
        row.addWidget(self.convert_button)
        row.addWidget(close)
        wrapper = QFrame()
        outer = QVBoxLayout(wrapper)
        outer.setContentsMargins(14, 0, 14, 6)
        outer.addWidget(bar)
        wrapper.hide()
        return wrapper

    def offer_conversion(self, text: str | None) -> None:
        """Show the conversion offer with ``text``, or hide it (None)."""
        self.convert_text.setText(text or "")
        self.convert_button.setEnabled(True)
        self.convert_bar.setVisible(bool(text))

    def _build_controls(self) -> QScrollArea:
        panel = QWidget()
        panel.setStyleSheet(DIRECTION_NAME_STYLE)
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(12, 0, 12, 12)
        layout.setSpacing(2)

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
        self.cutoff = QLabeledSlider(Qt.Orientation.Horizontal)
        self.cutoff.setToolTip("Truncate only the first k style inputs (the coarse ones): the "
                               "finer styles keep their variety. All of them at the right end.")
        self.cutoff.valueChanged.connect(self._on_cutoff)
        self.cutoff_label = QLabel("ψ cutoff")
        form.addRow(self.cutoff_label, self.cutoff)
        self.class_mode = QSearchableComboBox()
        self.class_mode.setToolTip("One class for the whole grid, or one per sample; type to "
                                   "search the classes")
        self.class_mode.currentIndexChanged.connect(self._on_class_mode)
        self.class_mode_label = QLabel("Class")
        form.addRow(self.class_mode_label, self.class_mode)
        self.sample_class = QSearchableComboBox()
        self.sample_class.setToolTip("The class of the selected sample (one class per sample)")
        self.sample_class.currentIndexChanged.connect(self._on_sample_class)
        self.sample_class_label = QLabel("This sample")
        form.addRow(self.sample_class_label, self.sample_class)
        layout.addLayout(form)

        self.mixer = StyleMixer()
        self.mixer.seed_chosen.connect(lambda s: self.session and self.session.set_mix_seed(s))
        self.mixer.sample_chosen.connect(self._on_mix_sample)
        self.mixer.inputs_changed.connect(
            lambda inputs: self.session and self.session.set_mix_inputs(inputs))
        self.mixing_section = _section("Style mixing", self.mixer)
        layout.addWidget(self.mixing_section)

        noise = QWidget()
        noise_form = QFormLayout(noise)
        noise_form.setContentsMargins(0, 0, 0, 0)
        self.noise_mode = QComboBox()
        self.noise_mode.addItems(NOISE_MODES)
        self.noise_mode.setToolTip("const: the file's fixed noise; random: fresh noise from the "
                                   "noise seed; none: no noise (smoother, less detail)")
        self.noise_mode.currentTextChanged.connect(
            lambda m: self.session and self.session.set_noise(mode=m))
        self.noise_seed = QLargeIntSpinBox()
        self.noise_seed.setRange(0, 2**31 - 1)
        self.noise_seed.valueChanged.connect(
            lambda v: self.session and self.session.set_noise(seed=int(v)))
        noise_form.addRow("Mode", self.noise_mode)
        noise_form.addRow("Noise seed", self.noise_seed)
        self.noise_section = _section("Noise", noise, expanded=False)
        layout.addWidget(self.noise_section)

        self.transform = InputTransform()
        self.transform.changed.connect(
            lambda x, y, r: self.session and self.session.set_transform(x, y, r))
        self.transform_section = _section("Input transform", self.transform)
        layout.addWidget(self.transform_section)

        layout.addWidget(_heading("Directions"))
        self.directions_status = QLabel("Computing principal directions…")
        self.directions_status.setObjectName("subtle")
        self.directions_status.setWordWrap(True)
        layout.addWidget(self.directions_status)
        self.directions_form = QFormLayout()
        self.directions_form.setVerticalSpacing(2)
        layout.addLayout(self.directions_form)
        self.layer_range = LayerRange()
        self.layer_range.changed.connect(self._on_layer_range)
        layout.addWidget(self.layer_range)
        row = QHBoxLayout()
        reset = QPushButton("Reset edits")
        reset.clicked.connect(self._reset_edits)
        self.save_directions_button = QPushButton("Save…")
        self.save_directions_button.setToolTip("Save the directions, their names and layer "
                                               "ranges to a file")
        self.load_directions_button = QPushButton("Load…")
        self.load_directions_button.setToolTip("Add directions saved before")
        row.addWidget(reset, 1)
        row.addWidget(self.save_directions_button)
        row.addWidget(self.load_directions_button)
        layout.addLayout(row)

        morph = QWidget()
        morph_layout = QVBoxLayout(morph)
        morph_layout.setContentsMargins(0, 0, 0, 0)
        morph_form = QFormLayout()
        self.morph_target = QSearchableComboBox()
        self.morph_target.setToolTip("Move the selected sample's class input towards this class "
                                     "(the difference of the two class vectors)")
        self.morph_amount = _slider(0.0, MORPH_RANGE, 0.0)
        self.morph_target.currentIndexChanged.connect(self._on_morph)
        self.morph_amount.valueChanged.connect(self._on_morph)
        morph_form.addRow("Toward", self.morph_target)
        morph_form.addRow("Amount", self.morph_amount)
        morph_layout.addLayout(morph_form)
        self.mix_rows_layout = QVBoxLayout()
        morph_layout.addLayout(self.mix_rows_layout)
        self.add_class_button = QPushButton("Add a class to the mix")
        self.add_class_button.setToolTip("A class vector of three or more classes")
        self.add_class_button.clicked.connect(lambda: self._add_mix_row())
        morph_layout.addWidget(self.add_class_button)
        self.morph_box = morph
        self.morph_heading = _section("Class mix", morph)
        layout.addWidget(self.morph_heading)

        arithmetic = QWidget()
        arithmetic_layout = QVBoxLayout(arithmetic)
        arithmetic_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.arith_buttons = {}
        for slot in "ABC":
            button = QPushButton(f"Set {slot}")
            button.setToolTip(f"Use the selected sample as {slot}")
            button.clicked.connect(partial(self._set_arithmetic, slot))
            self.arith_buttons[slot] = button
            row.addWidget(button)
        arithmetic_layout.addLayout(row)
        row = QHBoxLayout()
        self.arith_apply = QPushButton("Show A − B + C")
        self.arith_apply.clicked.connect(lambda: self.session and self.session.apply_arithmetic())
        self.arith_direction = QPushButton("Add A − B as direction")
        self.arith_direction.clicked.connect(self._add_difference)
        row.addWidget(self.arith_apply)
        row.addWidget(self.arith_direction)
        arithmetic_layout.addLayout(row)
        layout.addWidget(_section("Vector arithmetic: A − B + C", arithmetic, expanded=False))
        layout.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(330)
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
            options.addWidget(field_row(*pair))
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
            options.addWidget(field_row(*pair))
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
        self.transform.stop()
        session.grid_ready.connect(self._on_grid)
        session.selected_ready.connect(self._on_selected)
        session.strip_ready.connect(self._on_strip)
        session.plane_ready.connect(self._on_plane_ready)
        session.nearest_ready.connect(self._on_nearest)
        session.layer_ready.connect(self.layer_view.show_result)
        session.render_failed.connect(self._on_failed)
        session.directions_changed.connect(self._rebuild_directions)
        session.directions_progress.connect(self._on_directions_progress)
        session.keyframes_changed.connect(self._on_keyframes)
        session.selection_changed.connect(self._on_selection)
        session.generator_changed.connect(self._on_generator)
        session.follow_problem.connect(self._on_follow_problem)
        self._on_follow_problem("")
        self.live.setVisible(session.can_follow())
        with QSignalBlocker(self.live):
            self.live.setChecked(session.following)
        for widget, value in ((self.seed, session.seed), (self.keyframe_seed, 1)):
            with QSignalBlocker(widget):
                widget.setValue(value)
        with QSignalBlocker(self.grid_size):
            self.grid_size.setCurrentIndex(GRID_SIZES.index(session.grid_size))
        with QSignalBlocker(self.truncation):
            self.truncation.setValue(session.psi)
        self._on_generator(session.generator)
        self._on_keyframes()
        self.grid.set_message("Rendering…")
        self.selected.set_image(None)
        self.directions_status.setText(
            f"Computing principal directions from {options.PCA_SAMPLES:,} samples…")
        session.render_all()
        session.compute_directions()

    def _on_generator(self, generator) -> None:
        """Show what this generator offers: W-space tools, noise, transform, classes, layers."""
        self._describe(generator)
        session = self.session
        num_ws = generator.num_ws
        w_space = session.per_layer
        for widget in (self.cutoff, self.cutoff_label):
            widget.setVisible(w_space and num_ws > 1)
        with QSignalBlocker(self.cutoff):
            self.cutoff.setRange(1, max(1, num_ws))
            self.cutoff.setValue(session.cutoff or num_ws)
        self.mixing_section.setVisible(w_space and num_ws > 1)
        self.mixer.set_groups(generator.layer_groups, num_ws)
        self.mixer.set_inputs(session.mix_inputs)
        with QSignalBlocker(self.mixer.seed):
            self.mixer.seed.setValue(session.mix_seed if session.mix_seed is not None
                                     else session.seed + 1)
        self._describe_mix_source()
        self.noise_section.setVisible(generator.noise_inputs)
        with QSignalBlocker(self.noise_mode), QSignalBlocker(self.noise_seed):
            self.noise_mode.setCurrentText(session.noise_mode)
            self.noise_seed.setValue(session.noise_seed)
        self.transform_section.setVisible(generator.takes_transform)
        self.layer_range.setVisible(w_space and num_ws > 1)
        self.layer_range.set_groups(generator.layer_groups, num_ws)
        self.layer_view.set_layers(generator.layers)
        self.tabs.setTabVisible(self.tabs.indexOf(self.layer_view), bool(generator.layers))
        self._set_class_controls()
        self._rebuild_directions()

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
                         + (f" × {generator.num_ws} style inputs" if generator.num_ws > 1
                            else ""))
        if generator.conditional:
            parts.append(f"{len(generator.classes):,} classes")
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
                       self.sample_class_label, self.morph_heading):
            widget.setVisible(conditional)
        self.morph_box.setEnabled(session.generator.can_mix_classes())
        self._clear_mix_rows()
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
        label = session.selected_label()
        if label is not None:
            self.sample_class.setCurrentIndex(label)
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
        self._clear_mix_rows()

    def _on_class_mode(self, index: int) -> None:
        if self.session is None or index < 0:
            return
        self.session.set_single_class(self.class_mode.itemData(index))
        self.sample_class.setEnabled(self.session.single_class is None)

    def _on_sample_class(self, index: int) -> None:
        if self.session is not None and index >= 0:
            self.session.set_sample_class(self.session.selected, self.sample_class.itemData(index))

    def _on_cutoff(self, value: int) -> None:
        if self.session is not None:
            self.session.set_cutoff(int(value))

    def _on_mix_sample(self) -> None:
        if self.session is not None:
            self.session.set_mix_sample()
            self._describe_mix_source()

    def _describe_mix_source(self) -> None:
        session = self.session
        if session.mix_sample is not None:
            text = f"Mixing in sample {session.mix_sample} of seed {session.seed}."
        else:
            text = "Checked style inputs come from the second latent."
        self.mixer.set_source(text)

    # --- class mix ------------------------------------------------------------------------

    def _add_mix_row(self, klass: int = 0, amount: float = 0.5) -> None:
        """Another class in the selected sample's class vector."""
        combo = QSearchableComboBox()
        for i, name in enumerate(self.session.classes):
            combo.addItem(name, i)
        combo.setCurrentIndex(klass)
        slider = _slider(0.0, MORPH_RANGE, amount)
        remove = QToolButton()
        remove.setText("✕")
        remove.setAutoRaise(True)
        remove.setToolTip("Take this class out of the mix")
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(combo, 3)
        line.addWidget(slider, 2)
        line.addWidget(remove)
        entry = (combo, slider, row)
        combo.currentIndexChanged.connect(self._on_morph)
        slider.valueChanged.connect(self._on_morph)
        remove.clicked.connect(partial(self._remove_mix_row, entry))
        self._mix_rows.append(entry)
        self.mix_rows_layout.addWidget(row)
        self._on_morph()

    def _remove_mix_row(self, entry) -> None:
        self._mix_rows.remove(entry)
        entry[2].deleteLater()
        self._on_morph()

    def _clear_mix_rows(self) -> None:
        for _, _, row in self._mix_rows:
            row.deleteLater()
        self._mix_rows.clear()

    def _on_morph(self, *_) -> None:
        if self.session is None:
            return
        mix: dict[int, float] = {}
        rows = [(self.morph_target, self.morph_amount)] + [(c, s) for c, s, _ in self._mix_rows]
        for combo, slider in rows:
            if combo.currentData() is not None and slider.value():
                mix[combo.currentData()] = mix.get(combo.currentData(), 0.0) + slider.value()
        self.session.set_class_mix(mix)

    # --- edits and directions -------------------------------------------------------------

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
        self._direction_labels.clear()
        session = self.session
        if session is None:
            return
        names = list(session.directions)
        for name in names:
            slider = _slider(-DIRECTION_RANGE, DIRECTION_RANGE,
                             session.edits.amounts.get(name, 0.0), 0.1)
            slider.valueChanged.connect(partial(self._on_direction, name))
            label = QPushButton()
            label.setObjectName("directionName")
            label.setCheckable(True)
            label.setText(self._direction_title(name))
            label.setToolTip("Click: choose the style inputs it edits. Right-click: rename or "
                             "remove it.")
            label.clicked.connect(partial(self._focus_direction, name))
            label.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
            rename = QAction("Rename…", label)
            rename.triggered.connect(partial(self._rename_direction, name))
            remove = QAction("Remove", label)
            remove.triggered.connect(partial(session.remove_direction, name))
            label.addActions([rename, remove])
            self.directions_form.addRow(label, slider)
            self._direction_sliders[name] = slider
            self._direction_labels[name] = label
        if names:
            source = session.generator.feature_source
            self.directions_status.setText(
                f"Principal directions of the {source}'s activations (GANSpace), ranked by "
                "the variance they explain. Each slider edits the selected sample.")
        current = self.layer_range.direction
        self._focus_direction(current if current in names else (names[0] if names else None))
        self.save_directions_button.setEnabled(bool(names))
        for combo, current in ((self.plane_x, session.plane_axes[0]),
                               (self.plane_y, session.plane_axes[1])):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
            combo.blockSignals(False)

    def _direction_title(self, name: str) -> str:
        session = self.session
        share = session.explained.get(name)
        title = f"{name}  {share:.1%}" if session.is_principal(name) and share else name
        layers = session.direction_layers.get(name)
        if layers is not None:
            title += f"  [{layers[0]}–{layers[1] - 1}]"
        return title

    def _focus_direction(self, name: str | None) -> None:
        """Make ``name`` the direction whose layer range is shown."""
        for other, label in self._direction_labels.items():
            label.setChecked(other == name)
        if self.session is not None:
            self.layer_range.show_direction(
                name, self.session.direction_layers.get(name) if name else None)

    def _rename_direction(self, name: str) -> None:
        new, ok = QInputDialog.getText(self, "Rename direction", f"A name for {name}:",
                                       text=name)
        if ok and self.session is not None:
            try:
                self.session.rename_direction(name, new)
            except GanStudioError as e:
                self.directions_status.setText(str(e))

    def _on_direction(self, name: str, value: float) -> None:
        if self.session is not None:
            if self.layer_range.direction != name:
                self._focus_direction(name)
            self.session.set_edit(name, value)

    def _on_layer_range(self, name: str, span) -> None:
        if self.session is not None:
            self.session.set_direction_layers(name, span)
            label = self._direction_labels.get(name)
            if label is not None:
                label.setText(self._direction_title(name))

    def _on_layer_choice(self, *_) -> None:
        """The layer view renders only while its tab is shown."""
        if self.session is None:
            return
        if self.tabs.currentWidget() is not self.layer_view:
            self.session.set_layer(None)
            return
        layer, channel = self.layer_view.choice()
        self.session.set_layer(layer, channel)

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
        partial_ = result.get("partial")
        self.caption.setText(result["caption"] + (" · refining…" if partial_ else ""))
        if not partial_:
            self.transform.frame_shown()

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
        n = result.get("n") or len(self._frames)
        self.strip.set_image(result["image"], n if not self.session.points else 1,
                             n if not self.session.points else 1,
                             2 if not self.session.points else 0)
        self.scrub.setRange(0, max(0, len(self._frames) - 1))
        self._show_frame(min(self.scrub.value(), len(self._frames) - 1))

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
                  "plane": self.plane, "nearest": self.nearest,
                  "layer": self.layer_view.canvas}.get(kind)
        if canvas is None:
            self.directions_status.setText(message)
            return
        canvas.set_message(f"Could not render: {message}", error=True)
        if kind == "selected":
            self.transform.frame_shown()  # a failed frame does not hold the animation up

