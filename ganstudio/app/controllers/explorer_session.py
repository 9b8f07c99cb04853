"""ExplorerSession: one generator opened for latent exploration, and everything drawn of it.

The session holds the explorer's state (seed, truncation, classes, the selected sample and
its edits, keyframes, the latent plane) and turns every change into a frozen render request
(:mod:`ganstudio.engine.explore`) for its RenderWorker. A job reads only its request, never
this object. Views connect to its signals and only draw what they are given.
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
from ganstudio.engine.generator import Generator, RenderOptions
from ganstudio.engine.readers import read_bytes

FOLLOW_MS = 1000
FOLLOW_RETRY_MAX_MS = 60_000  # a newest checkpoint that fails is retried ever less often


@dataclass
class Keyframe:
    latent: torch.Tensor  # in the generator's edited space
    label: int | None
    name: str


@dataclass
class Edits:
    """How the selected sample is changed: amounts along directions, and a class morph."""

    amounts: dict[str, float] = field(default_factory=dict)  # direction name → amount
    morph_target: int | None = None
    morph_amount: float = 0.0

    def active(self) -> bool:
        return any(self.amounts.values()) or bool(self.morph_amount)


class ExplorerSession(QObject):
    generator_changed = Signal(object)  # Generator
    grid_ready = Signal(object)  # dict: image, nrow, n, row_labels
    selected_ready = Signal(object)  # dict: image, caption
    strip_ready = Signal(object)  # dict: image, frames (list of images)
    plane_ready = Signal(object)  # dict: image, nrow, n
    nearest_ready = Signal(object)  # dict: image, distances, n
    render_failed = Signal(str, str)  # kind, message
    directions_changed = Signal()
    directions_progress = Signal(float)
    keyframes_changed = Signal()
    selection_changed = Signal(int)
    rendered = Signal(str, float)  # kind, seconds: every finished render (for benchmarks)
    follow_problem = Signal(str)  # why the run's newest checkpoint cannot be shown; "" when it can

    def __init__(self, generator: Generator, follow: Path | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.generator = generator
        self.worker = RenderWorker(
            ("backdrop", "selected", "grid", "strip", "plane", "nearest"), self)
        self.worker.finished.connect(self._on_result)
        self._stamps: dict[str, int] = {}
        self.seed = 0
        self.grid_size = 16
        self.psi = 1.0
        self.single_class: int | None = 0 if generator.conditional else None
        self.labels: torch.Tensor | None = None
        self.selected = 0
        self.edits = Edits()
        self.directions: dict[str, torch.Tensor] = {}  # name → unit vector in latent space
        self.explained: dict[str, float] = {}
        self._class_directions: dict[int | None, tuple[dict, dict]] = {}
        self._directions_for: int | None = None  # the class the PCs belong to
        self.arithmetic: dict[str, torch.Tensor | None] = {"A": None, "B": None, "C": None}
        self.keyframes: list[Keyframe] = []
        self.method = "slerp" if generator.latent_space == "z" else "lerp"
        self.frames = 16
        self.plane_axes: tuple[str | None, str | None] = (None, None)
        self.plane_extent = 3.0
        self.plane_size = 7
        self.nearest_k = 8
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

    def set_generator(self, generator: Generator) -> None:
        """Swap in new weights of the same network (a live run's newer checkpoint)."""
        same = generator.z_dim == self.generator.z_dim and \
            generator.classes == self.generator.classes
        self.generator = generator
        self._backdrop, self._training_data = None, None
        if same:
            self.latents = generator.to_latent(self.z, self.labels)
        else:
            self.directions.clear()
            self._class_directions.clear()
            self.keyframes.clear()
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

    # --- the grid -------------------------------------------------------------------------

    def _reset_latents(self) -> None:
        n = self.grid_size
        if self.generator.conditional:
            if self.single_class is None:
                self.labels = torch.arange(n) % len(self.classes)
            else:
                self.labels = torch.full((n,), self.single_class)
        else:
            self.labels = None
        self.z = self.generator.sample_z(n, self.seed)
        self.latents = self.generator.to_latent(self.z, self.labels)
        self.selected = min(self.selected, n - 1)

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
        self.render_all()

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
        self.render_grid()
        if index == self.selected:
            self._follow_selected_class()
            self.render_selected()

    def select(self, index: int) -> None:
        if not 0 <= index < self.grid_size:
            return
        self.selected = index
        self.edits = Edits()
        self.selection_changed.emit(index)
        self._follow_selected_class()
        self.render_grid()
        self.render_selected()
        self.render_plane()
        self.render_nearest()

    def select_nearest_point(self, x: float, y: float, size: int) -> None:
        """2-D generators: select the grid sample drawn nearest to pixel (x, y)."""
        if self._backdrop is None or self._grid_points is None:
            return
        pixels = self._backdrop.to_pixels(self._grid_points, size)
        self.select(int(np.argmin((pixels[:, 0] - x) ** 2 + (pixels[:, 1] - y) ** 2)))

    def _truncated(self, latents: torch.Tensor) -> torch.Tensor:
        return self.generator.truncate(latents, self.psi)

    def _request(self, latents: torch.Tensor, labels: torch.Tensor | None) -> explore.Request:
        return explore.frozen(self.generator, latents, labels, RenderOptions(psi=self.psi),
                              self._backdrop)

    # --- the selected sample and its edits ------------------------------------------------

    def set_edit(self, direction: str, amount: float) -> None:
        self.edits.amounts[direction] = float(amount)
        self.render_selected()

    def set_morph(self, target: int | None, amount: float) -> None:
        self.edits.morph_target, self.edits.morph_amount = target, float(amount)
        self.render_selected()

    def reset_edits(self) -> None:
        self.edits = Edits()
        self.render_selected()

    def selected_latent(self) -> torch.Tensor:
        """The selected sample's latent with the direction edits applied."""
        w = self._truncated(self.latents[self.selected])
        for name, amount in self.edits.amounts.items():
            if amount and name in self.directions:
                w = w + amount * self.directions[name]
        return w

    def selected_label(self) -> int | None:
        return int(self.labels[self.selected]) if self.labels is not None else None

    def selected_labels(self) -> torch.Tensor | None:
        """The selected sample's label as the network takes it: a class vector that mixes in
        the morph target, or the class index."""
        label = self.selected_label()
        if label is None:
            return None
        e = self.edits
        if e.morph_target is None or not e.morph_amount or not self.generator.can_mix_classes():
            return torch.tensor([label])
        vectors = self.generator.class_vectors(torch.tensor([label, e.morph_target]))
        return latent.lerp(vectors[0], vectors[1], e.morph_amount)[None]

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
        for name in [n for n in self.directions if n.startswith("PC")]:
            del self.directions[name]
            self.explained.pop(name, None)
        self.directions.update(vectors)
        self.explained.update(explained)
        self.directions_changed.emit()

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

    def set_arithmetic(self, slot: str) -> None:
        """Put the selected (edited) latent into slot A, B or C of A − B + C."""
        self.arithmetic[slot] = self.selected_latent().clone()

    def arithmetic_ready(self) -> bool:
        return all(v is not None for v in self.arithmetic.values())

    def apply_arithmetic(self) -> None:
        """Show A − B + C as the selected sample (it replaces that grid cell's latent)."""
        a, b, c = (self.arithmetic[k] for k in "ABC")
        if a is None or b is None or c is None:
            return
        self._place_selected(latent.arithmetic(a, b, c))
        self.edits = Edits()
        self.render_grid()
        self.render_selected()

    def _place_selected(self, edited: torch.Tensor) -> None:
        """Make the selected cell show ``edited`` (a truncated latent) at the current ψ."""
        mean = self.generator.mean_latent()
        self.latents[self.selected] = mean + (edited - mean) / max(self.psi, 1e-6)

    def add_difference_direction(self) -> str | None:
        """A − B as a named direction, usable on any sample (unit length, like the others)."""
        a, b = self.arithmetic["A"], self.arithmetic["B"]
        if a is None or b is None:
            return None
        d = a - b
        if float(d.norm()) < 1e-8:
            return None
        name = f"A−B #{sum(1 for n in self.directions if n.startswith('A−B')) + 1}"
        self.directions[name] = d / d.norm()
        self.explained[name] = float(d.norm())
        self.directions_changed.emit()
        return name

    # --- interpolation --------------------------------------------------------------------

    def add_keyframe_selected(self) -> None:
        name = f"seed {self.seed} #{self.selected}"
        if self.edits.active():
            name += " (edited)"
        self.keyframes.append(Keyframe(self.selected_latent().clone(), self.selected_label(),
                                       name))
        self.keyframes_changed.emit()
        self.render_strip()

    def add_keyframe_seed(self, seed: int, label: int | None = None) -> None:
        if self.generator.conditional and label is None:
            label = self.single_class if self.single_class is not None else 0
        labels = torch.tensor([label]) if label is not None else None
        z = self.generator.sample_z(1, seed)
        w = self._truncated(self.generator.to_latent(z, labels))[0]
        self.keyframes.append(Keyframe(w, label, f"seed {seed}"))
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
        if self.points and not self._backdrop_ready():
            return  # every 2-D picture is drawn over the cloud: that comes first
        self.render_grid()
        self.render_selected()
        self.render_strip()
        self.render_plane()
        self.render_nearest()

    def _backdrop_ready(self) -> bool:
        """2-D generators: is the cloud of samples at this ψ drawn? If not, ask for it."""
        if self._backdrop is not None and self._backdrop_psi == self.psi:
            return True
        generator, psi = self.generator, self.psi
        extent = self._backdrop.extent if self._backdrop is not None else None
        self._submit("backdrop", lambda: (psi, explore.make_backdrop(generator, psi, extent)))
        return False

    def _submit(self, kind: str, job) -> None:
        stamp = self._stamps.get(kind, 0) + 1
        self._stamps[kind] = stamp
        self.worker.submit(kind, stamp, job)

    def _on_result(self, result: RenderResult) -> None:
        if result.stamp != self._stamps.get(result.kind):
            return  # a newer request of this kind has overtaken it
        self.rendered.emit(result.kind, result.seconds)
        if result.error is not None:
            self.render_failed.emit("grid" if result.kind == "backdrop" else result.kind,
                                    result.error)
            return
        if result.kind == "backdrop":
            self._backdrop_psi, self._backdrop = result.value
            self.render_all()
            return
        if result.kind == "grid":
            self._grid_points = result.value.pop("outputs", None)
        signal = {"grid": self.grid_ready, "selected": self.selected_ready,
                  "strip": self.strip_ready, "plane": self.plane_ready,
                  "nearest": self.nearest_ready}[result.kind]
        signal.emit(result.value)

    def render_grid(self) -> None:
        request = self._request(self._truncated(self.latents), self.labels)
        selected = self.selected
        self._submit("grid", lambda: explore.grid_picture(request, selected))

    def render_selected(self) -> None:
        labels = self.selected_labels()
        request = self._request(self.selected_latent()[None], labels)
        original = None
        if self.points:
            original = self._request(self._truncated(self.latents[self.selected])[None],
                                     labels)
        caption = self._caption(self.selected_label())
        self._submit("selected", lambda: explore.selected_picture(request, original, caption))

    def _caption(self, label: int | None) -> str:
        parts = [f"seed {self.seed}", f"sample {self.selected}"]
        if label is not None:
            parts.append(f"class {self.classes[label]}")
        edits = [f"{name} {amount:+.1f}" for name, amount in self.edits.amounts.items()
                 if amount]
        if self.edits.morph_amount and self.edits.morph_target is not None:
            edits.append(f"→ class {self.classes[self.edits.morph_target]} "
                         f"{self.edits.morph_amount:.2f}")
        if self.psi != 1.0:
            parts.append(f"ψ {self.psi:.2f}")
        return " · ".join(parts + edits)

    def render_strip(self) -> None:
        if len(self.keyframes) < 2:
            self.strip_ready.emit({"image": None, "frames": [],
                                   "message": "Add two or more keyframes to interpolate."})
            return
        request = self._request(*self.path())
        self._submit("strip", lambda: explore.strip_picture(request))

    def render_plane(self) -> None:
        x_axis, y_axis = self.plane_axes
        if x_axis not in self.directions or y_axis not in self.directions:
            self.plane_ready.emit({"image": None, "message": "Computing directions…"
                                   if self._pca_running else
                                   "Choose two directions to span the plane."})
            return
        size = self.plane_size
        latents = latent.plane(self.selected_latent(), self.directions[x_axis],
                               self.directions[y_axis], self.plane_extent, size)
        label = self.selected_label()
        labels = torch.full((size * size,), label) if label is not None else None
        request = self._request(latents, labels)
        self._submit("plane", lambda: explore.plane_picture(request, size))

    def render_nearest(self) -> None:
        ok, why = self.nearest_available()
        if not ok:
            self.nearest_ready.emit({"image": None, "message": why})
            return
        if self._training_data is None:
            seed = (self.generator.meta or {}).get("config", {}).get("data", {}).get("seed", 0)
            self._training_data = explore.TrainingData(self.generator.dataset, seed,
                                                       self.points)
        request = self._request(self.selected_latent()[None], self.selected_labels())
        data, k = self._training_data, self.nearest_k
        self._submit("nearest", lambda: explore.nearest_picture(request, data, k))

    # --- saving and loading latents -------------------------------------------------------

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
        return explore.Latents(self.selected_latent()[None], space, [self.selected_label()],
                               [self._caption(self.selected_label())])

    def save_latents(self, path: str | Path, which: str = "selected") -> Path:
        return explore.save_latents(path, self.latents_to_save(which), self.generator)

    def load_latents(self, path: str | Path) -> int:
        """Read latents (JSON, .npz or .npy) as keyframes; see :meth:`apply_latents`."""
        return self.apply_latents(explore.read_latents(path, self.generator))

    def apply_latents(self, loaded: explore.Latents) -> int:
        """Latents read from a file become the keyframes; one latent also the selection."""
        latents = loaded.latents
        if loaded.space != self.generator.latent_space:  # z read for a W-space generator
            latents = self._truncated(self.generator.to_latent(latents))
        labels = [0 if lab is None else lab for lab in loaded.labels] \
            if self.generator.conditional else [None] * len(latents)
        self.keyframes = [Keyframe(latents[i], labels[i], loaded.names[i])
                          for i in range(len(latents))]
        self.method = loaded.extra.get("method", self.method)
        self.frames = int(loaded.extra.get("frames", self.frames))
        if len(latents) == 1 and latents.dim() == 2:
            self._place_selected(latents[0])
            if self.labels is not None:
                self.labels[self.selected] = labels[0]
            self.edits = Edits()
        self.keyframes_changed.emit()
        self.render_all()
        return len(latents)

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
        if self.points and self._backdrop is None:
            raise GanStudioError("The samples are still being drawn; export in a moment.")
        if kind == "image":
            request = self._request(self.selected_latent()[None], self.selected_labels())
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
        walk = latent.walk(self.selected_latent(), self.directions[direction],
                           options.WALK_FRAMES, options.WALK_EXTENT)
        label = self.selected_label()
        labels = torch.full((options.WALK_FRAMES,), label) if label is not None else None
        request = self._request(walk, labels)
        return lambda progress: explore.export_animation(path, request, fps, True, progress)

    def close(self) -> None:
        self._following = False
        self._follow_timer.stop()
        self.worker.shutdown()


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
