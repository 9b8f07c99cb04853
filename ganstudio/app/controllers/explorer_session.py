"""ExplorerSession: one generator opened for latent exploration, and everything drawn of it.

The session holds the explorer's state (seed, truncation, classes, the selected sample and
its edits, style mixing, noise, keyframes, the latent plane, the layer view) and turns every
change into a frozen render request (:mod:`ganstudio.engine.explore`) for its RenderWorker.
A job reads only its request, never this object. Views connect to its signals and only draw
what they are given.

The UI thread never runs a network. Generators edited in z sample their latents directly;
those with a mapping network (StyleGAN) get their w from a "latents" job of the highest
priority, and nothing that needs them is drawn until it is back. Latents in W are kept per
layer, (n, num_ws, w_dim), so that truncation with a cutoff, style mixing and layer-range
edits are plain tensor arithmetic here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal

from ganstudio.app.controllers import explorer_options as options
from ganstudio.app.render_worker import RenderResult, RenderWorker
from ganstudio.engine import explore, latent
from ganstudio.engine.errors import GanStudioError
from ganstudio.engine.generator import NOISE_MODES, Generator, RenderOptions
from ganstudio.engine.readers import read_bytes

FOLLOW_MS = 1000
FOLLOW_RETRY_MAX_MS = 60_000  # a newest checkpoint that fails is retried ever less often
# Kinds of work, the most urgent first: latents before anything drawn of them, the selected
# sample before the batch pictures. A long batch picture runs these between its parts.
RENDER_KINDS = ("latents", "keyframes", "loaded", "mix", "class", "backdrop", "selected",
                "layer", "grid", "strip", "plane", "nearest")


@dataclass
class Keyframe:
    latent: torch.Tensor  # in the generator's edited space, truncated as shown
    label: int | None
    name: str


@dataclass
class Edits:
    """How the selected sample is changed: amounts along directions, and a class mix."""

    amounts: dict[str, float] = field(default_factory=dict)  # direction name → amount
    # class → amount: the class vector moves from the sample's own class towards each
    classes: dict[int, float] = field(default_factory=dict)

    def active(self) -> bool:
        return any(self.amounts.values()) or any(self.classes.values())


class ExplorerSession(QObject):
    generator_changed = Signal(object)  # Generator
    grid_ready = Signal(object)  # dict: image, nrow, n, row_labels; partial while filling in
    selected_ready = Signal(object)  # dict: image, caption; partial for a coarse preview
    strip_ready = Signal(object)  # dict: image, frames (list of images)
    plane_ready = Signal(object)  # dict: image, nrow, n
    nearest_ready = Signal(object)  # dict: image, distances, n
    layer_ready = Signal(object)  # dict: image, nrow, n, mean, std, max, channels, size
    render_failed = Signal(str, str)  # kind, message
    directions_changed = Signal()
    directions_progress = Signal(float)
    keyframes_changed = Signal()
    selection_changed = Signal(int)
    latents_ready = Signal()  # the grid's latents are here (at once for z; mapped for w)
    rendered = Signal(str, float)  # kind, seconds: every finished render (for benchmarks)
    follow_problem = Signal(str)  # why the run's newest checkpoint cannot be shown; "" when it can

    def __init__(self, generator: Generator, follow: Path | None = None,
                 parent: QObject | None = None, psi: float = 1.0, noise_mode: str = "const"):
        super().__init__(parent)
        self.generator = generator
        self.worker = RenderWorker(RENDER_KINDS, self)
        self.worker.finished.connect(self._on_result)
        self._stamps: dict[str, int] = {}
        self.seed = 0
        self.grid_size = 16
        self.psi = float(psi)
        self.cutoff: int | None = None  # truncate only the first k style inputs; None: all
        self.noise_mode, self.noise_seed = noise_mode, 0
        self.transform = (0.0, 0.0, 0.0)  # StyleGAN3: translate x, y and rotate (degrees)
        self.single_class: int | None = 0 if generator.conditional else None
        self.labels: torch.Tensor | None = None
        self.z = torch.empty(0)
        self.latents: torch.Tensor | None = None  # None while a mapping job runs
        self.selected = 0
        self.edits = Edits()
        self.directions: dict[str, torch.Tensor] = {}  # name → unit vector (latent_dim,)
        self.direction_layers: dict[str, tuple[int, int] | None] = {}  # style inputs moved
        self.explained: dict[str, float] = {}
        self._principal: set[str] = set()  # the names of the current principal directions
        self._class_directions: dict[int | None, tuple[dict, dict]] = {}
        self._directions_for: int | None = None  # the class the PCs belong to
        self.arithmetic: dict[str, torch.Tensor | None] = {"A": None, "B": None, "C": None}
        self.mix_seed: int | None = None  # style mixing: the second latent's seed, or
        self.mix_sample: int | None = None  # the grid sample it was taken from
        self.mix_inputs: set[int] = set()  # the style inputs taken from the second latent
        self._mix_latent: torch.Tensor | None = None  # its untruncated per-layer w
        self._class_base: tuple[tuple, torch.Tensor] | None = None  # see _selected_base
        self._class_wanted: tuple | None = None  # the key of the "class" job in flight
        self._pending_keyframes: list[tuple[torch.Tensor, int | None, str]] = []
        self.keyframes: list[Keyframe] = []
        self.method = "slerp" if generator.latent_space == "z" else "lerp"
        self.frames = 16
        self.plane_axes: tuple[str | None, str | None] = (None, None)
        self.plane_extent = 3.0
        self.plane_size = 7
        self.nearest_k = 8
        self.layer: str | None = None  # the layer view's layer; None while it is not shown
        self.layer_channel: int | None = None  # one channel large; None: a grid of channels
        self._training_data: explore.TrainingData | None = None
        self._backdrop: explore.Backdrop | None = None
        self._backdrop_psi: float | None = None
        self._grid_points: np.ndarray | None = None
        self._pca_running = False
        self._follow = follow
        self._follow_stamp: str | None = None
        self._following = False
        self._follow_checking = False  # a check runs off the UI thread
        self._follow_failures = 0  # in a row, of the checkpoint named by _failed_stamp
        self._failed_stamp: str | None = None
        self._follow_problem = ""
        self._follow_timer = QTimer(self)
        self._follow_timer.setSingleShot(True)
        self._follow_timer.timeout.connect(self._check_follow)
        self._reset_latents()
        self._directions_for = self._direction_class()
        if follow is not None:
            self._follow_stamp = _latest_stamp(follow)

    # --- the generator --------------------------------------------------------------------

    @property
    def classes(self) -> tuple[str, ...]:
        return self.generator.classes

    @property
    def points(self) -> bool:
        return self.generator.kind == "points"

    @property
    def per_layer(self) -> bool:
        """Whether latents are kept per style input (num_ws, dim): generators edited in W."""
        return self.generator.latent_space != "z"

    def set_generator(self, generator: Generator) -> None:
        """Swap in new weights of the same network (a live run's newer checkpoint)."""
        same = generator.z_dim == self.generator.z_dim and \
            generator.classes == self.generator.classes and \
            generator.latent_space == self.generator.latent_space and \
            generator.num_ws == self.generator.num_ws
        self.generator = generator
        self._backdrop, self._training_data = None, None
        if same:
            self._map_latents()
        else:
            self._clear_directions()
            self._class_directions.clear()
            self.keyframes.clear()
            self.mix_inputs.clear()
            self._mix_latent, self.mix_seed, self.mix_sample = None, None, None
            self.cutoff = None
            self._reset_latents()
            self._directions_for = self._direction_class()
        self.generator_changed.emit(generator)
        self.render_all()

    @property
    def following(self) -> bool:
        return self._following

    def can_follow(self) -> bool:
        return self._follow is not None

    def set_following(self, on: bool) -> None:
        """Live: reload whenever the run writes a newer checkpoint. Off: a frozen snapshot.

        Checks and loads run off the UI thread, one at a time. A checkpoint that fails to
        load is retried with back-off (a run may still be writing it, or it is broken), and
        ``follow_problem`` says once what is wrong with it.
        """
        self._following = on and self._follow is not None
        self._follow_timer.stop()
        if self._following:
            self._check_follow()

    def _check_follow(self) -> None:
        from ganstudio.app.background import run_in_background

        if not self._following or self._follow_checking:
            return
        self._follow_checking = True
        run_in_background(_newer_checkpoint, self._follow, self._follow_stamp, owner=self,
                          on_done=self._on_follow_checked)

    def _on_follow_checked(self, check: FollowCheck) -> None:
        self._follow_checking = False
        if not self._following:
            return
        if check.error is None:
            self._follow_failures, self._failed_stamp = 0, None
            self._report_follow_problem("")
            if check.generator is not None:
                self._follow_stamp = check.stamp
                self.set_generator(check.generator)
            delay = FOLLOW_MS
        else:
            if check.stamp != self._failed_stamp:  # a newer checkpoint: the back-off restarts
                self._follow_failures, self._failed_stamp = 0, check.stamp
            self._follow_failures += 1
            delay = min(FOLLOW_MS * 2 ** self._follow_failures, FOLLOW_RETRY_MAX_MS)
            self._report_follow_problem(check.error)
        self._follow_timer.start(delay)

    def _report_follow_problem(self, text: str) -> None:
        if text != self._follow_problem:
            self._follow_problem = text
            self.follow_problem.emit(text)

    # --- the grid's latents ---------------------------------------------------------------

    def _reset_latents(self) -> None:
        n = self.grid_size
        if self.generator.conditional:
            if self.single_class is None:
                self.labels = torch.arange(n) % len(self.classes)
            else:
                self.labels = torch.full((n,), self.single_class)
        else:
            self.labels = None
        self.z = self.generator.sample_z(n, self.seed, self.psi)
        self.selected = min(self.selected, n - 1)
        self._map_latents()

    def _map_latents(self) -> None:
        """z → the edited space: at once where that is z itself, else by a "latents" job;
        until it is back, ``latents`` is None and nothing that needs them is drawn."""
        if not self.per_layer:
            self.latents = self.generator.to_latent(self.z, self.labels)
            self.latents_ready.emit()
            return
        self.latents = None
        generator, z = self.generator, self.z.clone()
        labels = self.labels.clone() if self.labels is not None else None
        self._submit("latents", lambda: _mapped(generator, z, labels))

    def _on_latents(self, latents: torch.Tensor) -> None:
        self.latents = latents
        self.latents_ready.emit()
        self.render_all()

    def ready(self) -> bool:
        """Whether the grid's latents are here (a mapping job may still run)."""
        return self.latents is not None

    def set_seed(self, seed: int) -> None:
        self.seed = int(seed)
        self._reset_latents()
        self.render_all()

    def shuffle(self) -> int:
        self.set_seed(int(torch.randint(0, 2**31 - 1, ()).item()))
        return self.seed

    def set_grid_size(self, n: int) -> None:
        self.grid_size = int(n)
        self._reset_latents()
        self.render_all()

    def set_truncation(self, psi: float) -> None:
        self.psi = float(psi)
        if self.generator.samples_with_psi:  # BigGAN draws its noise at this ψ
            self._reset_latents()
        self.render_all()

    def set_cutoff(self, cutoff: int | None) -> None:
        """Truncate only the first ``cutoff`` style inputs (None, or num_ws: all of them)."""
        num_ws = self.generator.num_ws
        self.cutoff = None if cutoff is None or cutoff >= num_ws else max(0, int(cutoff))
        self.render_all()

    def set_noise(self, mode: str | None = None, seed: int | None = None) -> None:
        """StyleGAN2's noise inputs: ``const`` (the file's), ``random`` (from the noise seed)
        or ``none``."""
        if mode is not None:
            if mode not in NOISE_MODES:
                raise GanStudioError(f"Noise mode {mode!r} is not one of "
                                     f"{', '.join(NOISE_MODES)}.")
            self.noise_mode = mode
        if seed is not None:
            self.noise_seed = int(seed)
        self.render_all()

    def set_transform(self, translate_x: float, translate_y: float, degrees: float) -> None:
        """StyleGAN3's input transform for the selected sample (its grid stays still)."""
        self.transform = (float(translate_x), float(translate_y), float(degrees))
        self._render_selection()

    def set_single_class(self, index: int | None) -> None:
        """One class for the whole grid (an index), or a class per sample (None)."""
        self.single_class = index
        self._reset_latents()
        self._follow_selected_class()
        self.render_all()

    def set_sample_class(self, index: int, label: int) -> None:
        if self.labels is None:
            return
        self.labels[index] = label
        if self.generator.classes_in_mapping:  # the class is in w: map again
            self._map_latents()
            if index == self.selected:
                self._follow_selected_class()
            return
        self.render_grid()
        if index == self.selected:
            self._follow_selected_class()
            self._render_selection()

    def select(self, index: int) -> None:
        if not 0 <= index < self.grid_size:
            return
        self.selected = index
        self.edits = Edits()
        self.selection_changed.emit(index)
        self._follow_selected_class()
        self.render_grid()
        self._render_selection()
        self.render_plane()
        self.render_nearest()

    def select_nearest_point(self, x: float, y: float, size: int) -> None:
        """2-D generators: select the grid sample drawn nearest to pixel (x, y)."""
        if self._backdrop is None or self._grid_points is None:
            return
        pixels = self._backdrop.to_pixels(self._grid_points, size)
        self.select(int(np.argmin((pixels[:, 0] - x) ** 2 + (pixels[:, 1] - y) ** 2)))

    def _truncated(self, latents: torch.Tensor) -> torch.Tensor:
        return self.generator.truncate(latents, self.psi, self.cutoff)

    def _options(self, moved: bool = False) -> RenderOptions:
        """Render options; ``moved``: with StyleGAN3's input transform (the selected sample)."""
        transform = self.transform if moved and self.generator.takes_transform \
            and any(self.transform) else None
        return RenderOptions(psi=self.psi, noise_mode=self.noise_mode,
                             noise_seed=self.noise_seed, transform=transform)

    def _request(self, latents: torch.Tensor, labels: torch.Tensor | None,
                 moved: bool = False) -> explore.Request:
        return explore.frozen(self.generator, latents, labels, self._options(moved),
                              self._backdrop)

    # --- the selected sample and its edits ------------------------------------------------

    def set_edit(self, direction: str, amount: float) -> None:
        self.edits.amounts[direction] = float(amount)
        self._render_selection()

    def set_morph(self, target: int | None, amount: float) -> None:
        """Move the selected sample's class towards ``target`` (1: that class)."""
        self.set_class_mix({} if target is None else {target: amount})

    def set_class_mix(self, mix: dict[int, float]) -> None:
        """A class vector mixing the sample's own class with others: it moves from its own
        class towards each class of ``mix`` by that class's amount."""
        self.edits.classes = {int(k): float(v) for k, v in mix.items() if v}
        self._render_selection()

    def reset_edits(self) -> None:
        self.edits = Edits()
        self._render_selection()

    def _selected_base(self) -> torch.Tensor | None:
        """The selected sample's untruncated latent. Generators whose classes enter through
        the mapping network (StyleGAN) map its z with the class mix in a "class" job: None
        until that is back."""
        base = self.latents[self.selected]
        if not (self.generator.classes_in_mapping and self.edits.classes
                and self.labels is not None):
            return base
        key = (self.seed, self.grid_size, self.selected, self.selected_label(),
               tuple(sorted(self.edits.classes.items())))
        if self._class_base is not None and self._class_base[0] == key:
            return self._class_base[1]
        if self._class_wanted != key:
            self._class_wanted = key
            generator, z = self.generator, self.z[self.selected : self.selected + 1].clone()
            vector = self.selected_labels()
            self._submit("class", lambda: (key, _mapped(generator, z, vector)[0]))
        return None

    def _on_class_base(self, value) -> None:
        self._class_base, self._class_wanted = value, None
        self._render_selection()

    def selected_latent(self) -> torch.Tensor:
        """The selected sample's latent as drawn: truncated, its styles mixed, the direction
        edits applied (each to its range of style inputs)."""
        base = self._selected_base()
        if base is None:  # the class mix is being mapped: the sample without it meanwhile
            base = self.latents[self.selected]
        w = self._truncated(base[None])[0]
        if self.mix_inputs and self._mix_latent is not None:
            w = latent.mix_styles(w, self._truncated(self._mix_latent[None])[0], self.mix_inputs)
        for name, amount in self.edits.amounts.items():
            if amount and name in self.directions:
                w = w + amount * self.direction_vector(name)
        return w

    def direction_vector(self, name: str) -> torch.Tensor:
        """A direction as it edits a latent: per layer, over its range of style inputs."""
        vector = self.directions[name]
        if not self.per_layer:
            return vector
        return latent.layered(vector, self.generator.num_ws, self.direction_layers.get(name))

    def selected_label(self) -> int | None:
        return int(self.labels[self.selected]) if self.labels is not None else None

    def selected_labels(self) -> torch.Tensor | None:
        """The selected sample's label as the network takes it: a class vector that mixes in
        other classes, or the class index."""
        label = self.selected_label()
        if label is None:
            return None
        mix = self.edits.classes
        if not mix or not self.generator.can_mix_classes():
            return torch.tensor([label])
        targets = list(mix)
        vectors = self.generator.class_vectors(torch.tensor([label, *targets]))
        own = vectors[0]
        return (own + sum(mix[t] * (vectors[i + 1] - own) for i, t in enumerate(targets)))[None]

    # --- style mixing ---------------------------------------------------------------------

    def set_mix_seed(self, seed: int) -> None:
        """The second latent of style mixing: the sample of ``seed`` (of the selected class)."""
        self.mix_seed, self.mix_sample = int(seed), None
        label = self.selected_label()
        labels = torch.tensor([label]) if label is not None else None
        z = self.generator.sample_z(1, self.mix_seed, self.psi)
        if not self.per_layer:
            self._on_mix(self.generator.to_latent(z, labels)[0])
            return
        generator = self.generator
        self._submit("mix", lambda: _mapped(generator, z, labels)[0])

    def set_mix_sample(self, index: int | None = None) -> None:
        """The second latent of style mixing: a grid sample (the selected one by default)."""
        if not self.ready():
            return
        index = self.selected if index is None else index
        self.mix_seed, self.mix_sample = None, index
        self._on_mix(self.latents[index].clone())

    def _on_mix(self, w: torch.Tensor) -> None:
        self._mix_latent = w
        if self.mix_inputs:
            self._render_selection()

    def set_mix_inputs(self, inputs) -> None:
        """The style inputs (indices below num_ws) taken from the second latent."""
        self.mix_inputs = {int(i) for i in inputs if 0 <= int(i) < self.generator.num_ws}
        if self._mix_latent is None and self.mix_inputs:
            self.set_mix_seed(self.mix_seed if self.mix_seed is not None else self.seed + 1)
            return
        self._render_selection()

    # --- the layer view -------------------------------------------------------------------

    def set_layer(self, layer: str | None, channel: int | None = None) -> None:
        """Show ``layer``'s feature maps for the selected sample (None: the view is hidden):
        a grid of its channels, or ``channel`` large."""
        if layer is not None and layer not in self.generator.layers:
            raise GanStudioError(f"{self.generator.path.name} has no layer {layer!r}.")
        self.layer, self.layer_channel = layer, channel
        self.render_layer()

    # --- directions -----------------------------------------------------------------------

    def _direction_class(self) -> int | None:
        """Conditional generators get principal directions per class (as GANSpace does for
        BigGAN): the PCA of a mix of classes is dominated by what changes between them."""
        return self.selected_label()

    def _follow_selected_class(self) -> None:
        wanted = self._direction_class()
        if wanted == self._directions_for:
            return
        cached = self._class_directions.get(wanted)
        self._directions_for = wanted
        self._swap_principal_directions(*(cached or ({}, {})))
        if cached is None:
            self.compute_directions()

    def _swap_principal_directions(self, vectors: dict, explained: dict) -> None:
        layers = {name: self.direction_layers.get(name) for name in self._principal}
        for name in self._principal:
            self.directions.pop(name, None)
            self.explained.pop(name, None)
            self.direction_layers.pop(name, None)
        fresh = [name for name in vectors if name not in self.directions]  # a loaded one stays
        self._principal = set(fresh)
        principal = {name: vectors[name] for name in fresh}
        # principal directions first, strongest first; then the user's own
        self.directions = {**principal, **self.directions}
        for name in fresh:
            self.explained[name] = explained[name]
            self.direction_layers[name] = layers.get(name)  # a PC's range outlives its class
        self.directions_changed.emit()

    def _clear_directions(self) -> None:
        self.directions.clear()
        self.explained.clear()
        self.direction_layers.clear()
        self._principal.clear()

    def compute_directions(self) -> None:
        """GANSpace directions (of the selected class), off the UI thread."""
        from ganstudio.app.background import run_in_background

        if self._pca_running:
            return
        self._pca_running = True
        generator, klass = self.generator, self._direction_class()
        n_samples, k = options.PCA_SAMPLES, options.PCA_COMPONENTS

        def job():
            return klass, explore.ganspace(generator, n_samples, k, klass,
                                           progress=self._pca_progress)

        run_in_background(job, on_done=self._on_directions, owner=self)

    def _pca_progress(self, fraction: float) -> None:
        import contextlib

        with contextlib.suppress(RuntimeError):  # the explorer closed mid-way
            self.directions_progress.emit(fraction)

    def _on_directions(self, result) -> None:
        from ganstudio.app.background import JobFailed

        self._pca_running = False
        if isinstance(result, JobFailed):
            self.render_failed.emit("directions", f"Directions failed: {result.message}")
            return
        klass, found = result
        vectors = {f"PC{i}": v for i, v in enumerate(found.vectors, start=1)}
        explained = {f"PC{i}": float(s) for i, s in enumerate(found.explained, start=1)}
        self._class_directions[klass] = (vectors, explained)
        if klass == self._directions_for:
            self._swap_principal_directions(vectors, explained)
            if self.plane_axes == (None, None) and len(vectors) >= 2:
                self.plane_axes = ("PC1", "PC2")
            self.render_plane()
        elif self._directions_for not in self._class_directions:
            self.compute_directions()  # the selection moved to another class meanwhile

    def is_principal(self, name: str) -> bool:
        return name in self._principal

    def set_direction_layers(self, name: str, layers: tuple[int, int] | None) -> None:
        """The style inputs (first, stop) an edit along ``name`` moves; None: all of them."""
        if name not in self.directions:
            return
        num_ws = self.generator.num_ws
        if layers is not None:
            first, stop = max(0, int(layers[0])), min(num_ws, int(layers[1]))
            layers = None if (first, stop) == (0, num_ws) or first >= stop else (first, stop)
        self.direction_layers[name] = layers
        self._render_selection()
        if name in self.plane_axes:
            self.render_plane()

    def rename_direction(self, name: str, new: str) -> str:
        """Give a direction a name of its own (it is no longer a principal direction that a
        change of class replaces); the name it got."""
        new = new.strip()
        if not new or new == name or name not in self.directions:
            return name
        if new in self.directions:
            raise GanStudioError(f"There is already a direction called {new!r}.")
        for table in (self.directions, self.explained, self.direction_layers,
                      self.edits.amounts):
            renamed = {new if k == name else k: v for k, v in table.items()}  # same place
            table.clear()
            table.update(renamed)
        self._principal.discard(name)
        self.plane_axes = tuple(new if a == name else a for a in self.plane_axes)
        self.directions_changed.emit()
        return new

    def remove_direction(self, name: str) -> None:
        for table in (self.directions, self.explained, self.direction_layers,
                      self.edits.amounts):
            table.pop(name, None)
        self._principal.discard(name)
        self.directions_changed.emit()
        self._render_selection()

    def named_directions(self) -> list[explore.NamedDirection]:
        return [explore.NamedDirection(name, vector, self.direction_layers.get(name),
                                       self.explained.get(name))
                for name, vector in self.directions.items()]

    def save_directions(self, path: str | Path) -> Path:
        return explore.save_directions(path, self.named_directions(), self.generator)

    def load_directions(self, path: str | Path) -> list[str]:
        """Add the directions of a file (a name already here is replaced); their names."""
        loaded = explore.read_directions(path, self.generator)
        for d in loaded:
            self._principal.discard(d.name)
            self.directions[d.name] = d.vector
            self.direction_layers[d.name] = d.layers
            if d.explained is not None:
                self.explained[d.name] = d.explained
            else:
                self.explained.pop(d.name, None)
        self.directions_changed.emit()
        self._render_selection()
        return [d.name for d in loaded]

    def set_arithmetic(self, slot: str) -> None:
        """Put the selected (edited) latent into slot A, B or C of A − B + C."""
        if self.ready():
            self.arithmetic[slot] = self.selected_latent().clone()

    def arithmetic_ready(self) -> bool:
        return all(v is not None for v in self.arithmetic.values())

    def apply_arithmetic(self) -> None:
        """Show A − B + C as the selected sample (it replaces that grid cell's latent)."""
        a, b, c = (self.arithmetic[k] for k in "ABC")
        if a is None or b is None or c is None or not self.ready():
            return
        self._place_selected(latent.arithmetic(a, b, c))
        self.edits = Edits()
        self.render_grid()
        self._render_selection()

    def _place_selected(self, edited: torch.Tensor) -> None:
        """Make the selected cell show ``edited`` (a latent as drawn) at the current ψ."""
        if self.per_layer and edited.dim() == 1:
            edited = self.generator.broadcast(edited[None])[0]
        self.latents[self.selected] = self.generator.untruncate(edited[None], self.psi,
                                                                self.cutoff)[0]

    def add_difference_direction(self) -> str | None:
        """A − B as a named direction, usable on any sample (unit length, like the others).
        In W, per-layer latents differ per style input: their mean difference is taken."""
        a, b = self.arithmetic["A"], self.arithmetic["B"]
        if a is None or b is None:
            return None
        d = a - b
        if d.dim() == 2:
            d = d.mean(dim=0)
        if float(d.norm()) < 1e-8:
            return None
        name = f"A−B #{sum(1 for n in self.directions if n.startswith('A−B')) + 1}"
        self.directions[name] = d / d.norm()
        self.explained[name] = float(d.norm())
        self.directions_changed.emit()
        return name

    # --- interpolation --------------------------------------------------------------------

    def add_keyframe_selected(self) -> None:
        if not self.ready():
            return
        name = f"seed {self.seed} #{self.selected}"
        if self.edits.active() or self.mix_inputs:
            name += " (edited)"
        self.keyframes.append(Keyframe(self.selected_latent().clone(), self.selected_label(),
                                       name))
        self.keyframes_changed.emit()
        self.render_strip()

    def add_keyframe_seed(self, seed: int, label: int | None = None) -> None:
        """The sample of ``seed`` as a keyframe (mapped by a "keyframes" job in W)."""
        if self.generator.conditional and label is None:
            label = self.single_class if self.single_class is not None else 0
        z = self.generator.sample_z(1, seed, self.psi)
        if not self.per_layer:
            labels = torch.tensor([label]) if label is not None else None
            self._add_keyframes([(self.generator.to_latent(z, labels)[0], label,
                                  f"seed {seed}")])
            return
        # the newest job maps every seed still waiting, so none is lost to a newer one
        self._pending_keyframes.append((z, label, f"seed {seed}"))
        generator, pending = self.generator, list(self._pending_keyframes)
        self._submit("keyframes", lambda: [
            _mapped(generator, z, torch.tensor([lab]) if lab is not None else None)[0]
            for z, lab, _ in pending])

    def _on_mapped_keyframes(self, mapped: list[torch.Tensor]) -> None:
        pending, self._pending_keyframes = self._pending_keyframes, []
        self._add_keyframes([(w, label, name) for w, (_, label, name) in zip(mapped, pending)])

    def _add_keyframes(self, items) -> None:
        for w, label, name in items:
            self.keyframes.append(Keyframe(self._truncated(w[None])[0], label, name))
        self.keyframes_changed.emit()
        self.render_strip()

    def remove_keyframe(self, index: int) -> None:
        if 0 <= index < len(self.keyframes):
            del self.keyframes[index]
            self.keyframes_changed.emit()
            self.render_strip()

    def clear_keyframes(self) -> None:
        self.keyframes.clear()
        self.keyframes_changed.emit()
        self.render_strip()

    def set_interpolation(self, method: str | None = None, frames: int | None = None) -> None:
        if method is not None:
            self.method = method
        if frames is not None:
            self.frames = int(frames)
        self.render_strip()

    def path(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The interpolation's latents and labels (each frame takes its segment's start label)."""
        keys = explore.stacked([k.latent for k in self.keyframes])
        z = latent.interpolate(keys, self.frames, self.method)
        labels = None
        if self.generator.conditional:
            segments = len(self.keyframes) - 1
            position = torch.linspace(0, segments, self.frames)
            index = position.round().long().clamp(max=segments)
            labels = torch.tensor([self.keyframes[i].label or 0 for i in index.tolist()])
        return z, labels

    # --- the latent plane -----------------------------------------------------------------

    def set_plane(self, x_axis: str | None = None, y_axis: str | None = None,
                  extent: float | None = None, size: int | None = None) -> None:
        x, y = self.plane_axes
        self.plane_axes = (x_axis or x, y_axis or y)
        if extent is not None:
            self.plane_extent = float(extent)
        if size is not None:
            self.plane_size = int(size)
        self.render_plane()

    # --- nearest training images ---------------------------------------------------------

    def set_nearest_k(self, k: int) -> None:
        self.nearest_k = int(k)
        self.render_nearest()

    def nearest_available(self) -> tuple[bool, str]:
        """Whether the generator's training data can be found here, and if not, why."""
        from ganstudio.engine.data import DATASETS

        name = self.generator.dataset
        if name is None:
            return False, ("This generator does not say what it was trained on, so there are "
                           "no training images to compare with.")
        if name not in DATASETS or name == "points":
            return False, f"The training data ({name}) is not a built-in dataset."
        return True, ""

    # --- rendering ------------------------------------------------------------------------

    def render_all(self) -> None:
        if not self.ready():
            return  # everything is drawn once the latents are here
        if self.points and not self._backdrop_ready():
            return  # every 2-D picture is drawn over the cloud: that comes first
        self.render_grid()
        self._render_selection()
        self.render_strip()
        self.render_plane()
        self.render_nearest()

    def _render_selection(self) -> None:
        """What shows the selected sample itself: its large view and its layer view."""
        self.render_selected()
        self.render_layer()

    def _backdrop_ready(self) -> bool:
        """2-D generators: is the cloud of samples at this ψ drawn? If not, ask for it."""
        if self._backdrop is not None and self._backdrop_psi == self.psi:
            return True
        generator, psi = self.generator, self.psi
        extent = self._backdrop.extent if self._backdrop is not None else None
        self._submit("backdrop", lambda: (psi, explore.make_backdrop(generator, psi, extent)))
        return False

    def _drawable(self) -> bool:
        return self.ready() and (not self.points or self._backdrop is not None)

    def _submit(self, kind: str, job, progressive: bool = False) -> None:
        stamp = self._stamps.get(kind, 0) + 1
        self._stamps[kind] = stamp
        if progressive:
            self.worker.submit_progressive(kind, stamp, job)
        else:
            self.worker.submit(kind, stamp, job)

    def _on_result(self, result: RenderResult) -> None:
        if result.stamp != self._stamps.get(result.kind):
            return  # a newer request of this kind has overtaken it
        if result.error is None and result.value is None:
            return  # it stopped early for a newer request (which has not yet bumped a stamp)
        if not result.partial:
            self.rendered.emit(result.kind, result.seconds)
        if result.error is not None:
            shown = {"backdrop": "grid", "latents": "grid", "keyframes": "strip",
                     "loaded": "strip", "mix": "selected", "class": "selected"}
            self.render_failed.emit(shown.get(result.kind, result.kind), result.error)
            return
        handler = {"latents": self._on_latents, "keyframes": self._on_mapped_keyframes,
                   "loaded": self._on_loaded, "mix": self._on_mix, "class": self._on_class_base,
                   "backdrop": self._on_backdrop}.get(result.kind)
        if handler is not None:
            handler(result.value)
            return
        if result.kind == "grid":
            self._grid_points = result.value.pop("outputs", None)
        signal = {"grid": self.grid_ready, "selected": self.selected_ready,
                  "strip": self.strip_ready, "plane": self.plane_ready,
                  "nearest": self.nearest_ready, "layer": self.layer_ready}[result.kind]
        signal.emit(result.value)

    def _on_backdrop(self, value) -> None:
        self._backdrop_psi, self._backdrop = value
        self.render_all()

    def render_grid(self) -> None:
        if not self._drawable():
            return
        request = self._request(self._truncated(self.latents), self.labels)
        selected = self.selected
        self._submit("grid", lambda preview: explore.grid_picture(request, selected, preview),
                     progressive=True)

    def render_selected(self) -> None:
        if not self._drawable() or self._selected_base() is None:
            return  # its latents, or its class mix, are being mapped: drawn when back
        labels = self.selected_labels()
        request = self._request(self.selected_latent()[None], labels, moved=True)
        original = None
        if self.points:
            original = self._request(self._truncated(self.latents[self.selected])[None],
                                     labels)
        caption = self._caption(self.selected_label())
        self._submit("selected", lambda preview: explore.selected_stages(
            request, preview, caption, original), progressive=True)

    def render_layer(self) -> None:
        layer, channel = self.layer, self.layer_channel
        if layer is None or not self._drawable() or self._selected_base() is None:
            return
        request = self._request(self.selected_latent()[None], self.selected_labels(),
                                moved=True)
        self._submit("layer", lambda: explore.layer_picture(request, layer, channel))

    def _caption(self, label: int | None) -> str:
        parts = [f"seed {self.seed}", f"sample {self.selected}"]
        if label is not None:
            parts.append(f"class {self.classes[label]}")
        edits = [f"{name} {amount:+.1f}" for name, amount in self.edits.amounts.items()
                 if amount]
        for target, amount in self.edits.classes.items():
            edits.append(f"→ class {self.classes[target]} {amount:.2f}")
        if self.mix_inputs and self._mix_latent is not None:
            source = f"seed {self.mix_seed}" if self.mix_seed is not None else \
                f"sample {self.mix_sample}"
            edits.append(f"styles {_ranges(self.mix_inputs)} from {source}")
        if self.psi != 1.0:
            cut = f" on styles 0–{self.cutoff - 1}" if self.cutoff else ""
            parts.append(f"ψ {self.psi:.2f}{cut}")
        if self.generator.takes_transform and any(self.transform):
            x, y, degrees = self.transform
            parts.append(f"moved ({x:+.2f}, {y:+.2f}) turned {degrees:+.0f}°")
        return " · ".join(parts + edits)

    def render_strip(self) -> None:
        if len(self.keyframes) < 2:
            self.strip_ready.emit({"image": None, "frames": [],
                                   "message": "Add two or more keyframes to interpolate."})
            return
        if self.points and self._backdrop is None:
            return
        request = self._request(*self.path())
        self._submit("strip", lambda preview: explore.strip_picture(request, preview),
                     progressive=True)

    def render_plane(self) -> None:
        x_axis, y_axis = self.plane_axes
        if x_axis not in self.directions or y_axis not in self.directions:
            self.plane_ready.emit({"image": None, "message": "Computing directions…"
                                   if self._pca_running else
                                   "Choose two directions to span the plane."})
            return
        if not self._drawable():
            return
        size = self.plane_size
        latents = latent.plane(self.selected_latent(), self.direction_vector(x_axis),
                               self.direction_vector(y_axis), self.plane_extent, size)
        label = self.selected_label()
        labels = torch.full((size * size,), label) if label is not None else None
        request = self._request(latents, labels)
        self._submit("plane", lambda preview: explore.plane_picture(request, size, preview),
                     progressive=True)

    def render_nearest(self) -> None:
        ok, why = self.nearest_available()
        if not ok:
            self.nearest_ready.emit({"image": None, "message": why})
            return
        if not self._drawable():
            return
        if self._training_data is None:
            seed = (self.generator.meta or {}).get("config", {}).get("data", {}).get("seed", 0)
            self._training_data = explore.TrainingData(self.generator.dataset, seed,
                                                       self.points)
        request = self._request(self.selected_latent()[None], self.selected_labels())
        data, k = self._training_data, self.nearest_k
        self._submit("nearest", lambda: explore.nearest_picture(request, data, k))

    # --- saving and loading latents -------------------------------------------------------

    def _check_ready(self) -> None:
        if not self._drawable():
            raise GanStudioError("The samples are still being drawn; try again in a moment.")

    def latents_to_save(self, which: str = "selected") -> explore.Latents:
        """The selected latent or the keyframes, ready for :func:`explore.save_latents`."""
        space = self.generator.latent_space
        if which == "keyframes":
            if not self.keyframes:
                raise GanStudioError("There are no keyframes to save.")
            return explore.Latents(
                explore.stacked([k.latent for k in self.keyframes]), space,
                [k.label for k in self.keyframes], [k.name for k in self.keyframes],
                {"method": self.method, "frames": self.frames})
        self._check_ready()
        return explore.Latents(self.selected_latent()[None], space, [self.selected_label()],
                               [self._caption(self.selected_label())])

    def save_latents(self, path: str | Path, which: str = "selected") -> Path:
        return explore.save_latents(path, self.latents_to_save(which), self.generator)

    def load_latents(self, path: str | Path) -> int:
        """Read latents (JSON, .npz or .npy) as keyframes; see :meth:`apply_latents`."""
        return self.apply_latents(explore.read_latents(path, self.generator))

    def apply_latents(self, loaded: explore.Latents) -> int:
        """Latents read from a file become the keyframes; one latent also the selection.
        z read for a generator edited in W is mapped first, by a "loaded" job."""
        latents = loaded.latents
        if loaded.space != self.generator.latent_space:  # z read for a W-space generator
            generator = self.generator
            labels = self._file_labels(loaded)
            label_tensor = torch.tensor([0 if v is None else v for v in labels]) \
                if self.generator.conditional else None
            self._submit("loaded", lambda: (loaded, _mapped(generator, latents, label_tensor)))
        else:
            if self.per_layer and latents.dim() == 2:
                latents = self.generator.broadcast(latents)
            self._finish_loading(loaded, latents)
        return len(latents)

    def _file_labels(self, loaded: explore.Latents) -> list[int | None]:
        if not self.generator.conditional:
            return [None] * len(loaded.latents)
        return [0 if lab is None else lab for lab in loaded.labels]

    def _on_loaded(self, value) -> None:
        loaded, mapped = value
        self._finish_loading(loaded, self._truncated(mapped))

    def _finish_loading(self, loaded: explore.Latents, latents: torch.Tensor) -> None:
        labels = self._file_labels(loaded)
        self.keyframes = [Keyframe(latents[i], labels[i], loaded.names[i])
                          for i in range(len(latents))]
        self.method = loaded.extra.get("method", self.method)
        self.frames = int(loaded.extra.get("frames", self.frames))
        if len(latents) == 1 and self.ready():
            self._place_selected(latents[0])
            if self.labels is not None:
                self.labels[self.selected] = labels[0]
            self.edits = Edits()
        self.keyframes_changed.emit()
        self.render_all()

    # --- exports --------------------------------------------------------------------------

    def export_job(self, kind: str, path: str | Path, fps: float = 12.0,
                   direction: str | None = None):
        """A job ``job(progress) -> Path`` that renders and writes one export.

        Kinds: ``image`` (the selected sample, enlarged crisply), ``grid``, ``strip`` (the
        interpolation as one row), ``animation`` (the interpolation as GIF/WebP) and ``walk``
        (the selected sample moving along ``direction`` and back, as GIF/WebP). The job holds
        a frozen request, so the explorer may change while it runs.
        """
        path = Path(path)
        if kind in ("strip", "animation") and len(self.keyframes) < 2:
            raise GanStudioError("Add two or more keyframes to export an interpolation.")
        if kind == "walk" and direction not in self.directions:
            raise GanStudioError("Choose a direction to walk along (directions are still "
                                 "being computed, or none is selected).")
        self._check_ready()
        if kind == "image":
            request = self._request(self.selected_latent()[None], self.selected_labels(),
                                    moved=True)
            return lambda progress: explore.export_image(path, request)
        if kind == "grid":
            request = self._request(self._truncated(self.latents), self.labels)
            return lambda progress: explore.export_grid(path, request, progress)
        if kind in ("strip", "animation"):
            request = self._request(*self.path())
            if kind == "strip":
                return lambda progress: explore.export_strip(path, request, progress)
            return lambda progress: explore.export_animation(path, request, fps, False,
                                                             progress)
        walk = latent.walk(self.selected_latent(), self.direction_vector(direction),
                           options.WALK_FRAMES, options.WALK_EXTENT)
        label = self.selected_label()
        labels = torch.full((options.WALK_FRAMES,), label) if label is not None else None
        request = self._request(walk, labels)
        return lambda progress: explore.export_animation(path, request, fps, True, progress)

    def close(self) -> None:
        self._following = False
        self._follow_timer.stop()
        self.worker.shutdown()


def _mapped(generator: Generator, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Runs on the render thread: z → per-layer latents (n, num_ws, dim) through the mapping
    network."""
    return generator.broadcast(generator.to_latent(z, labels))


def _ranges(indices) -> str:
    """{0, 1, 2, 5} → "0–2, 5"."""
    out, run = [], []
    for i in sorted(indices):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(f"{run[0]}–{run[-1]}" if len(run) > 1 else f"{run[0]}")
        run = [i]
    if run:
        out.append(f"{run[0]}–{run[-1]}" if len(run) > 1 else f"{run[0]}")
    return ", ".join(out)


@dataclass(frozen=True)
class FollowCheck:
    """What a check of a followed run found: latest.json's content, and the newer generator
    it names (or why that cannot be loaded)."""

    stamp: str | None
    generator: Generator | None = None
    error: str | None = None


def _newer_checkpoint(run_dir: Path, known: str | None) -> FollowCheck:
    """Runs off the UI thread: load the run's newest checkpoint unless it is ``known``."""
    from ganstudio.engine.formats import load_generator

    stamp = _latest_stamp(run_dir)
    if stamp is None or stamp == known:
        return FollowCheck(stamp)
    try:
        return FollowCheck(stamp, load_generator(run_dir))
    except Exception as e:  # any failure is said once in the window, never a traceback a second
        reason = str(e) if isinstance(e, GanStudioError) else f"{type(e).__name__}: {e}"
        return FollowCheck(stamp, error=reason)


def _latest_stamp(path: Path | None) -> str | None:
    """What changes when a run folder gets a newer checkpoint (latest.json's content)."""
    if path is None:
        return None
    pointer = (path / "checkpoints" / "latest.json") if path.is_dir() else None
    try:
        return read_bytes(pointer, GanStudioError, 2**16).decode("utf-8", "replace") \
            if pointer is not None else None
    except GanStudioError:  # missing, or not a regular file (a FIFO would block)
        return None
