"""ExplorerSession: one generator opened for latent exploration, and everything drawn of it.

The session holds the explorer's state (seed, truncation, classes, the selected sample and
its edits, keyframes, the latent plane) and turns every change into a render request for its
RenderWorker. Views connect to its signals and only draw what they are given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal

from ganstudio.app.controllers import explorer_options as options
from ganstudio.app.render_worker import RenderResult, RenderWorker
from ganstudio.engine import latent
from ganstudio.engine.checkpoint import LoadedGenerator
from ganstudio.engine.errors import GanStudioError
from ganstudio.engine.images import make_grid
from ganstudio.engine.rendering import render_samples, scatter, strip
from ganstudio.engine.view2d import to_pixels, view_extent

BACKGROUND_POINTS = 2000  # 2-D generators: the cloud every 2-D picture is drawn over
POINT_RADIUS, SELECTED_RADIUS = 4, 7
LATENT_FORMAT = "ganstudio.latents"
EXPORT_SIZE = 256  # exported samples are enlarged (crisply) to about this many pixels
FOLLOW_MS = 1000
FOLLOW_RETRY_MAX_MS = 60_000  # a newest checkpoint that fails is retried ever less often


@dataclass
class Keyframe:
    z: torch.Tensor
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
    generator_changed = Signal(object)  # LoadedGenerator
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

    def __init__(self, generator: LoadedGenerator, follow: Path | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.generator = generator
        self.worker = RenderWorker(("selected", "grid", "strip", "plane", "nearest"), self)
        self.worker.finished.connect(self._on_result)
        self._stamps: dict[str, int] = {}
        self.seed = 0
        self.grid_size = 16
        self.psi = 1.0
        self.single_class: int | None = 0 if generator.conditional else None
        self.labels: torch.Tensor | None = None
        self.selected = 0
        self.edits = Edits()
        self.directions: dict[str, torch.Tensor] = {}  # name → unit vector in z
        self.explained: dict[str, float] = {}
        self.arithmetic: dict[str, torch.Tensor | None] = {"A": None, "B": None, "C": None}
        self.keyframes: list[Keyframe] = []
        self.method = "slerp"
        self.frames = 16
        self.plane_axes: tuple[str | None, str | None] = (None, None)
        self.plane_extent = 3.0
        self.plane_size = 7
        self.nearest_k = 8
        self._training_images: torch.Tensor | None = None
        self._dataset_note = ""
        self._background: np.ndarray | None = None
        self._extent: tuple[float, float, float, float] | None = None
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
        if follow is not None:
            self._follow_stamp = _latest_stamp(follow)

    # --- the generator --------------------------------------------------------------------

    @property
    def classes(self) -> tuple[str, ...]:
        return self.generator.classes

    @property
    def points(self) -> bool:
        return self.generator.kind == "points"

    def set_generator(self, generator: LoadedGenerator) -> None:
        """Swap in new weights of the same network (a live run's newer checkpoint)."""
        same = generator.z_dim == self.generator.z_dim and \
            generator.classes == self.generator.classes
        self.generator = generator
        self._background = None
        if not same:
            self.directions.clear()
            self.keyframes.clear()
            self._reset_latents()
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
        self.latents = latent.sample_latents(self.grid_size, self.generator.z_dim, self.seed)
        if self.generator.conditional:
            if self.single_class is None:
                self.labels = torch.arange(self.grid_size) % len(self.classes)
            else:
                self.labels = torch.full((self.grid_size,), self.single_class)
        else:
            self.labels = None
        self.selected = min(self.selected, self.grid_size - 1)

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
        self._background = None
        self.render_all()

    def set_single_class(self, index: int | None) -> None:
        """One class for the whole grid (an index), or a class per sample (None)."""
        self.single_class = index
        self._reset_latents()
        self.render_all()

    def set_sample_class(self, index: int, label: int) -> None:
        if self.labels is None:
            return
        self.labels[index] = label
        self.render_grid()
        if index == self.selected:
            self.render_selected()

    def select(self, index: int) -> None:
        if not 0 <= index < self.grid_size:
            return
        self.selected = index
        self.edits = Edits()
        self.selection_changed.emit(index)
        self.render_grid()
        self.render_selected()
        self.render_plane()
        self.render_nearest()

    def select_nearest_point(self, x: float, y: float, size: int) -> None:
        """2-D generators: select the grid sample drawn nearest to pixel (x, y)."""
        if self._extent is None:
            return
        outputs = render_samples(self.generator, self._truncated(self.latents), self.labels)
        pixels = to_pixels(outputs, self._extent, size)
        self.select(int(np.argmin(((pixels - (x, y)) ** 2).sum(axis=1))))

    def _truncated(self, z: torch.Tensor) -> torch.Tensor:
        return latent.truncate(z, torch.zeros(z.shape[-1]), self.psi)

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
        z = self._truncated(self.latents[self.selected])
        for name, amount in self.edits.amounts.items():
            if amount and name in self.directions:
                z = z + amount * self.directions[name]
        return z

    def selected_label(self) -> int | None:
        return int(self.labels[self.selected]) if self.labels is not None else None

    def _selected_embedding(self) -> torch.Tensor | None:
        table = self.generator.class_embeddings()
        e = self.edits
        if table is None or e.morph_target is None or not e.morph_amount:
            return None
        source = self.selected_label()
        step = latent.class_directions(table, source)[e.morph_target]
        return (table[source] + e.morph_amount * step)[None]

    # --- directions -----------------------------------------------------------------------

    def compute_directions(self) -> None:
        """GANSpace directions, off the UI thread; ``directions_changed`` follows."""
        from ganstudio.app.background import run_in_background

        n_samples, k = options.PCA_SAMPLES, options.PCA_COMPONENTS
        if self._pca_running:
            return
        self._pca_running = True
        generator = self.generator
        labels_for = None
        if generator.conditional:
            classes = len(self.classes)

            def labels_for(z):
                return torch.arange(z.shape[0]) % classes

        def features(z):
            return generator.features(z, labels_for(z) if labels_for else None)

        def job():
            return latent.pca_directions(features, generator.z_dim, n_samples, k,
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
        for name in [n for n in self.directions if n.startswith("PC")]:
            del self.directions[name]
        for i, (vector, share) in enumerate(zip(result.vectors, result.explained), start=1):
            self.directions[f"PC{i}"] = vector
            self.explained[f"PC{i}"] = float(share)
        if self.plane_axes == (None, None) and len(result.vectors) >= 2:
            self.plane_axes = ("PC1", "PC2")
        self.directions_changed.emit()
        self.render_plane()

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
        self.latents[self.selected] = latent.arithmetic(a, b, c) / max(self.psi, 1e-6)
        self.edits = Edits()
        self.render_grid()
        self.render_selected()

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
        z = self._truncated(latent.sample_latents(1, self.generator.z_dim, seed)[0])
        if self.generator.conditional and label is None:
            label = self.single_class if self.single_class is not None else 0
        self.keyframes.append(Keyframe(z, label, f"seed {seed}"))
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
        keys = torch.stack([k.z for k in self.keyframes])
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
        self.render_grid()
        self.render_selected()
        self.render_strip()
        self.render_plane()
        self.render_nearest()

    def _submit(self, kind: str, job) -> None:
        stamp = self._stamps.get(kind, 0) + 1
        self._stamps[kind] = stamp
        self.worker.submit(kind, stamp, job)

    def _on_result(self, result: RenderResult) -> None:
        if result.stamp != self._stamps.get(result.kind):
            return  # a newer request of this kind has overtaken it
        self.rendered.emit(result.kind, result.seconds)
        if result.error is not None:
            self.render_failed.emit(result.kind, result.error)
            return
        signal = {"grid": self.grid_ready, "selected": self.selected_ready,
                  "strip": self.strip_ready, "plane": self.plane_ready,
                  "nearest": self.nearest_ready}[result.kind]
        signal.emit(result.value)

    def render_grid(self) -> None:
        z, labels, selected = self._truncated(self.latents), self._label_copy(), self.selected
        n = self.grid_size
        nrow = math.ceil(math.sqrt(n))
        row_labels = None

        def job():
            outputs = render_samples(self.generator, z, labels)
            if not self.points:
                return {"image": make_grid(outputs, nrow), "nrow": nrow, "n": n,
                        "row_labels": row_labels}
            marks = [(outputs, (76, 154, 255), POINT_RADIUS),
                     (outputs[selected : selected + 1], (255, 159, 67), SELECTED_RADIUS)]
            return {"image": self._scatter(marks=marks), "nrow": 1, "n": 1, "points": True}

        self._submit("grid", job)

    def _label_copy(self) -> torch.Tensor | None:
        return self.labels.clone() if self.labels is not None else None

    def render_selected(self) -> None:
        z = self.selected_latent()[None]
        label = self.selected_label()
        labels = torch.tensor([label]) if label is not None else None
        embedding = self._selected_embedding()
        caption = self._caption(label)
        original = self._truncated(self.latents[self.selected])[None]

        def job():
            out = render_samples(self.generator, z, labels, embedding)
            if not self.points:
                return {"image": out[0], "caption": caption}
            before = render_samples(self.generator, original, labels)
            marks = [(before, (160, 174, 192), SELECTED_RADIUS), (out, (255, 159, 67),
                                                                  SELECTED_RADIUS)]
            return {"image": self._scatter(marks=marks,
                                           lines=[(np.concatenate([before, out]),
                                                   (255, 159, 67))]),
                    "caption": caption}

        self._submit("selected", job)

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
        z, labels = self.path()

        def job():
            outputs = render_samples(self.generator, z, labels)
            if not self.points:
                return {"image": strip(outputs), "frames": list(outputs)}
            frames = [self._scatter(marks=[(outputs[i : i + 1], (255, 159, 67),
                                            SELECTED_RADIUS)],
                                    lines=[(outputs, (76, 154, 255))])
                      for i in range(len(outputs))]
            return {"image": frames[-1], "frames": frames}

        self._submit("strip", job)

    def render_plane(self) -> None:
        x_axis, y_axis = self.plane_axes
        if x_axis not in self.directions or y_axis not in self.directions:
            self.plane_ready.emit({"image": None, "message": "Computing directions…"
                                   if self._pca_running else
                                   "Choose two directions to span the plane."})
            return
        size, extent = self.plane_size, self.plane_extent
        z = latent.plane(self.selected_latent(), self.directions[x_axis],
                         self.directions[y_axis], extent, size)
        label = self.selected_label()
        labels = torch.full((size * size,), label) if label is not None else None

        def job():
            outputs = render_samples(self.generator, z, labels)
            if not self.points:
                return {"image": make_grid(outputs, size), "nrow": size, "n": size * size}
            grid = outputs.reshape(size, size, 2)
            lines = [(grid[r], (76, 154, 255)) for r in range(size)]
            lines += [(grid[:, c], (76, 154, 255)) for c in range(size)]
            centre = grid[size // 2, size // 2][None]
            return {"image": self._scatter(marks=[(outputs, (76, 154, 255), 3),
                                                  (centre, (255, 159, 67), SELECTED_RADIUS)],
                                           lines=lines), "nrow": 1, "n": 1}

        self._submit("plane", job)

    def render_nearest(self) -> None:
        ok, why = self.nearest_available()
        if not ok:
            self.nearest_ready.emit({"image": None, "message": why})
            return
        z = self.selected_latent()[None]
        label = self.selected_label()
        labels = torch.tensor([label]) if label is not None else None
        embedding = self._selected_embedding()
        k = self.nearest_k

        def job():
            from ganstudio.engine.metrics.nearest import nearest_images

            sample = render_samples(self.generator, z, labels, embedding)
            data = self._training_data()
            if self.points:
                d = np.sqrt(((data - sample[0]) ** 2).sum(axis=1))
                idx = np.argsort(d)[:k]
                image = self._scatter(marks=[(data[idx], (62, 207, 142), 5),
                                             (sample, (255, 159, 67), SELECTED_RADIUS)])
                return {"image": image, "distances": d[idx].tolist(), "n": 1}
            idx, dist = nearest_images(sample[0], data, k)
            images = data[torch.from_numpy(idx)].permute(0, 2, 3, 1).numpy()
            row = np.concatenate([sample, images])
            return {"image": strip(np.ascontiguousarray(row)), "distances": dist.tolist(),
                    "n": len(row)}

        self._submit("nearest", job)

    def _training_data(self):
        """The generator's training set (built or read from the cache on first use)."""
        if self._training_images is None:
            from ganstudio.engine.data import load_dataset

            seed = (self.generator.meta or {}).get("config", {}).get("data", {}).get("seed", 0)
            data = load_dataset(self.generator.dataset, seed=seed)
            self._training_images = data.x.numpy() if self.points else data.x
        return self._training_images

    def _scatter(self, marks=(), lines=()) -> np.ndarray:
        """A 2-D picture over this generator's cloud of samples (made once per truncation)."""
        if self._background is None:
            z = self._truncated(latent.sample_latents(BACKGROUND_POINTS, self.generator.z_dim,
                                                      12345))
            labels = None
            if self.generator.conditional:
                labels = torch.arange(BACKGROUND_POINTS) % len(self.classes)
            self._background = render_samples(self.generator, z, labels)
            if self._extent is None:
                self._extent = view_extent(self._background)
        return scatter(self._background, self._extent, marks=marks, lines=lines)

    # --- saving and loading latents -------------------------------------------------------

    def save_latents(self, path: str | Path, which: str = "selected") -> Path:
        """Save the selected latent or the keyframes as JSON (with labels) or .npy."""
        path = Path(path)
        if which == "keyframes":
            if not self.keyframes:
                raise GanStudioError("There are no keyframes to save.")
            z = torch.stack([k.z for k in self.keyframes])
            labels = [k.label for k in self.keyframes]
            names = [k.name for k in self.keyframes]
        else:
            z = self.selected_latent()[None]
            labels, names = [self.selected_label()], [self._caption(self.selected_label())]
        from ganstudio.engine.atomic import atomic_write_bytes, atomic_write_json

        if path.suffix.lower() == ".npy":
            import io

            buffer = io.BytesIO()
            np.save(buffer, z.numpy().astype(np.float32), allow_pickle=False)
            return atomic_write_bytes(path, buffer.getvalue())
        return atomic_write_json(path, {
            "format": LATENT_FORMAT, "format_version": 1, "kind": which,
            "z_dim": self.generator.z_dim, "generator": str(self.generator.path),
            "latents": z.tolist(), "labels": labels, "names": names,
            "method": self.method, "frames": self.frames,
        })

    def load_latents(self, path: str | Path) -> int:
        """Read latents (JSON or .npy) as keyframes; one latent also becomes the selection."""
        z, labels, names, extra = read_latents(path, self.generator.z_dim)
        if self.generator.conditional:
            labels = [0 if lab is None else int(lab) % len(self.classes) for lab in labels]
        else:
            labels = [None] * len(z)
        self.keyframes = [Keyframe(z[i], labels[i], names[i]) for i in range(len(z))]
        self.method = extra.get("method", self.method)
        self.frames = int(extra.get("frames", self.frames))
        if len(z) == 1:
            self.latents[self.selected] = z[0] / max(self.psi, 1e-6)
            if self.labels is not None:
                self.labels[self.selected] = labels[0]
            self.edits = Edits()
        self.keyframes_changed.emit()
        self.render_all()
        return len(z)

    # --- exports --------------------------------------------------------------------------

    def export_job(self, kind: str, path: str | Path, fps: float = 12.0,
                   direction: str | None = None):
        """A job ``job(progress) -> Path`` that renders and writes one export.

        Kinds: ``image`` (the selected sample, enlarged crisply), ``grid``, ``strip`` (the
        interpolation as one row), ``animation`` (the interpolation as GIF/WebP) and ``walk``
        (the selected sample moving along ``direction`` and back, as GIF/WebP).
        """
        from ganstudio.engine.images import save_png
        from ganstudio.engine.rendering import save_animation, upscale

        path = Path(path)
        if kind in ("strip", "animation") and len(self.keyframes) < 2:
            raise GanStudioError("Add two or more keyframes to export an interpolation.")
        if kind == "walk" and direction not in self.directions:
            raise GanStudioError("Choose a direction to walk along (directions are still "
                                 "being computed, or none is selected).")
        z_sel, label = self.selected_latent(), self.selected_label()
        embedding = self._selected_embedding()
        grid_z, grid_labels = self._truncated(self.latents), self._label_copy()
        path_z, path_labels = self.path() if len(self.keyframes) >= 2 else (None, None)
        walk_z = None
        if kind == "walk":
            walk_z = latent.walk(z_sel, self.directions[direction], options.WALK_FRAMES,
                                 options.WALK_EXTENT)

        def frames_of(z, labels, progress):
            outputs = render_samples(self.generator, z, labels, progress=progress)
            if not self.points:
                return [upscale(o, _enlargement(o)) for o in outputs]
            return [self._scatter(marks=[(outputs[i : i + 1], (255, 159, 67),
                                          SELECTED_RADIUS)],
                                  lines=[(outputs, (76, 154, 255))])
                    for i in range(len(outputs))]

        def job(progress):
            if kind == "image":
                labels = torch.tensor([label]) if label is not None else None
                out = render_samples(self.generator, z_sel[None], labels, embedding)
                if self.points:
                    image = self._scatter(marks=[(out, (255, 159, 67), SELECTED_RADIUS)])
                else:
                    image = upscale(out[0], _enlargement(out[0]))
                return save_png(path, image)
            if kind == "grid":
                out = render_samples(self.generator, grid_z, grid_labels, progress=progress)
                if self.points:
                    return save_png(path, self._scatter(marks=[(out, (76, 154, 255),
                                                                POINT_RADIUS)]))
                return save_png(path, make_grid(out, math.ceil(math.sqrt(len(out)))))
            if kind == "strip":
                out = render_samples(self.generator, path_z, path_labels, progress=progress)
                if self.points:
                    return save_png(path, self._scatter(lines=[(out, (76, 154, 255))]))
                return save_png(path, strip(out))
            labels = path_labels if kind == "animation" else (
                torch.full((options.WALK_FRAMES,), label) if label is not None else None)
            z = path_z if kind == "animation" else walk_z
            frames = frames_of(z, labels, lambda f: progress(0.9 * f))
            result = save_animation(path, frames, fps=fps, bounce=kind == "walk")
            progress(1.0)
            return result

        return job

    def close(self) -> None:
        self._following = False
        self._follow_timer.stop()
        self.worker.shutdown()


def _enlargement(image: np.ndarray) -> int:
    return max(1, EXPORT_SIZE // max(image.shape[:2]))


def read_latents(path: str | Path, z_dim: int):
    """(latents (n, z_dim), labels, names, extra settings) from a .json or .npy file."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, allow_pickle=False)
            labels, names, extra = [None] * len(np.atleast_2d(array)), None, {}
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != LATENT_FORMAT:
                raise GanStudioError(f"{path.name} is not a GAN Studio latents file.")
            array = np.asarray(data["latents"], dtype=np.float32)
            labels = data.get("labels") or [None] * len(array)
            names = data.get("names")
            extra = {k: data[k] for k in ("method", "frames") if k in data}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise GanStudioError(f"Cannot read latents from {path.name}: {e}") from None
    array = np.atleast_2d(np.asarray(array, dtype=np.float32))
    if array.ndim != 2 or array.shape[1] != z_dim:
        raise GanStudioError(
            f"{path.name} holds latents of shape {tuple(array.shape)}, but this generator "
            f"takes {z_dim} numbers per latent.")
    if not np.isfinite(array).all():
        raise GanStudioError(f"{path.name} has NaN or infinite values in its latents.")
    z = torch.from_numpy(array.copy())
    names = names or [f"{path.stem} {i}" for i in range(len(z))]
    return z, list(labels)[: len(z)], list(names)[: len(z)], extra


@dataclass(frozen=True)
class FollowCheck:
    """What a check of a followed run found: latest.json's content, and the newer generator
    it names (or why that cannot be loaded)."""

    stamp: str | None
    generator: LoadedGenerator | None = None
    error: str | None = None


def _newer_checkpoint(run_dir: Path, known: str | None) -> FollowCheck:
    """Runs off the UI thread: load the run's newest checkpoint unless it is ``known``."""
    from ganstudio.engine.loaders import load_generator

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
        return pointer.read_text(encoding="utf-8") if pointer is not None else None
    except OSError:
        return None
