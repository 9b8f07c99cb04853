"""The explorer's work as plain functions: sampling, pictures, exports and latents files.

Every render job takes a frozen :class:`Request` (the generator, the latents, the labels and
the options) and reads nothing else, so a render thread never sees state that the UI thread
is changing. ``ganstudio sample``, the explorer and its exports all sample through here.
"""

from __future__ import annotations

import io
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganstudio.engine import latent
from ganstudio.engine.atomic import atomic_write_bytes, atomic_write_json
from ganstudio.engine.config import DataConfig
from ganstudio.engine.errors import GanStudioError
from ganstudio.engine.generator import Generator, RenderOptions
from ganstudio.engine.images import make_grid, save_png, to_uint8
from ganstudio.engine.readers import read_json, read_npy, read_npz
from ganstudio.engine.rendering import (
    save_animation,
    scatter,
    strip,
    upscale,
)
from ganstudio.engine.view2d import to_pixels, view_extent

Tensor = torch.Tensor
Progress = Callable[[float], None]
RENDER_BATCH = 256
EXPORT_SIZE = 256  # exported samples are enlarged (crisply) to about this many pixels
BACKDROP_POINTS = 2000  # 2-D generators: the cloud every 2-D picture is drawn over
BACKDROP_SEED = 12345
POINT_RADIUS, SELECTED_RADIUS = 4, 7
BLUE, ORANGE, GREY, GREEN = (76, 154, 255), (255, 159, 67), (160, 174, 192), (62, 207, 142)
LATENT_FORMAT = "ganstudio.latents"
MAX_LATENT_VALUES = 2**24  # in a latents file (keyframes are a few hundred numbers each)


@dataclass(frozen=True)
class Backdrop:
    """A 2-D generator's cloud of samples and the square view around it."""

    points: np.ndarray
    extent: tuple[float, float, float, float]

    def picture(self, marks=(), lines=()) -> np.ndarray:
        return scatter(self.points, self.extent, marks=marks, lines=lines)

    def to_pixels(self, points: np.ndarray, size: int) -> np.ndarray:
        """World coordinates → pixel (x, y) in a ``size``-pixel picture of this view."""
        return to_pixels(points, self.extent, size)


@dataclass(frozen=True)
class Request:
    """One render job's whole input. Tensors in it are the job's own copies."""

    generator: Generator
    latents: Tensor  # in the generator's edited space: (n, dim) or (n, num_ws, dim)
    labels: Tensor | None = None  # class indices (n,) or class vectors (n, classes)
    options: RenderOptions = field(default_factory=RenderOptions)
    backdrop: Backdrop | None = None  # 2-D generators

    @property
    def points(self) -> bool:
        return self.generator.kind == "points"


def frozen(generator: Generator, latents: Tensor, labels: Tensor | None = None,
           options: RenderOptions | None = None, backdrop: Backdrop | None = None) -> Request:
    """A request holding its own copies of the latents and labels."""
    return Request(generator, latents.detach().clone(),
                   labels.detach().clone() if labels is not None else None,
                   options or RenderOptions(), backdrop)


# --- sampling ---------------------------------------------------------------------------------


def render_raw(generator: Generator, latents: Tensor, labels: Tensor | None = None,
               options: RenderOptions | None = None, progress: Progress | None = None,
               batch: int = RENDER_BATCH) -> Tensor:
    """The generator's float outputs for ``latents``, rendered in batches."""
    outs = []
    n = latents.shape[0]
    for start in range(0, n, batch):
        sl = slice(start, start + batch)
        outs.append(generator.render(latents[sl], labels[sl] if labels is not None else None,
                                     options).float())
        if progress is not None:
            progress(min(1.0, (start + batch) / n))
    return torch.cat(outs) if outs else torch.empty(0)


def render_outputs(request: Request, progress: Progress | None = None) -> np.ndarray:
    """Image generators: (N, H, W, C) uint8. Point generators: (N, 2) float32 coordinates."""
    generator = request.generator
    out = render_raw(generator, request.latents, request.labels, request.options, progress)
    if generator.kind == "images":
        return to_uint8(out, generator.output_range or (-1.0, 1.0))
    return out.numpy().astype(np.float32)


def latents_for(generator: Generator, z: Tensor, labels: Tensor | None = None,
                psi: float = 1.0, cutoff: int | None = None) -> Tensor:
    """z → the edited space, truncated as the generator truncates (ψ 1: untouched)."""
    return generator.truncate(generator.to_latent(z, labels), psi, cutoff)


def sample(generator: Generator, z: Tensor, labels: Tensor | None = None, psi: float = 1.0,
           progress: Progress | None = None) -> Tensor:
    """Raw samples for z, as ``ganstudio sample`` writes them (the generator's own range).

    ψ pulls the latents towards the mean of the generator's latent space, and is also handed
    to the network for what it does itself with it (BigGAN's batch-norm statistics).
    """
    latents = latents_for(generator, z, labels, psi)
    return render_raw(generator, latents, labels, RenderOptions(psi=psi), progress)


def make_backdrop(generator: Generator, psi: float = 1.0,
                  extent: tuple[float, float, float, float] | None = None) -> Backdrop:
    """The cloud of a 2-D generator's samples at truncation ψ, drawn behind every picture."""
    labels = None
    if generator.conditional:
        labels = torch.arange(BACKDROP_POINTS) % len(generator.classes)
    z = generator.sample_z(BACKDROP_POINTS, BACKDROP_SEED)
    points = render_raw(generator, latents_for(generator, z, labels, psi), labels).numpy()
    return Backdrop(points.astype(np.float32), extent or view_extent(points))


def ganspace(generator: Generator, n: int = 10_000, k: int = 10, klass: int | None = None,
             seed: int = 0, progress: Progress | None = None) -> latent.Directions:
    """GANSpace directions in the generator's edited space, for one class of a conditional
    generator (as GANSpace does for BigGAN): across classes, the leading components would
    carry what changes between classes, which the latents cannot move."""
    if generator.conditional and klass is None:
        klass = 0
    labels = None if klass is None else torch.full((n,), klass)
    z = generator.sample_z(n, seed)
    latents = torch.cat([
        generator.to_latent(z[i : i + RENDER_BATCH],
                            None if labels is None else labels[i : i + RENDER_BATCH])
        for i in range(0, n, RENDER_BATCH)])

    def features(rows: slice) -> Tensor:
        return generator.features(latents[rows], None if labels is None else labels[rows])

    return latent.pca_directions(features, latents, k, progress=progress)


# --- pictures the explorer shows ----------------------------------------------------------------


def grid_picture(request: Request, selected: int | None = None) -> dict:
    """The sample grid; for 2-D generators the samples over the cloud, the selected one marked."""
    outputs = render_outputs(request)
    n = len(outputs)
    if not request.points:
        nrow = math.ceil(math.sqrt(n))
        return {"image": make_grid(outputs, nrow), "nrow": nrow, "n": n, "outputs": None}
    marks = [(outputs, BLUE, POINT_RADIUS)]
    if selected is not None:
        marks.append((outputs[selected : selected + 1], ORANGE, SELECTED_RADIUS))
    return {"image": request.backdrop.picture(marks=marks), "nrow": 1, "n": 1, "points": True,
            "outputs": outputs}


def selected_picture(request: Request, original: Request | None = None,
                     caption: str = "") -> dict:
    """The selected sample large; for 2-D generators with an arrow from where it started."""
    out = render_outputs(request)
    if not request.points:
        return {"image": out[0], "caption": caption}
    before = render_outputs(original) if original is not None else out
    marks = [(before, GREY, SELECTED_RADIUS), (out, ORANGE, SELECTED_RADIUS)]
    lines = [(np.concatenate([before, out]), ORANGE)]
    return {"image": request.backdrop.picture(marks=marks, lines=lines), "caption": caption}


def selected_stages(request: Request, preview: Callable[[dict], bool],
                    caption: str = "") -> dict | None:
    """The selected sample, coarse to fine: ``preview`` gets each coarser picture as it is
    made and answers whether to go on (False: a newer request waits, stop here)."""
    generator = request.generator
    if request.points:
        return selected_picture(request, None, caption)
    final = None
    for image in generator.render_stages(request.latents, request.labels, request.options):
        picture = {"image": to_uint8(image.float(), generator.output_range or (-1.0, 1.0))[0],
                   "caption": caption}
        if final is not None and not preview(final):
            return None
        final = picture
    return final


LAYER_GRID_CHANNELS = 64  # the layer view's grid shows at most this many channels


def layer_picture(request: Request, layer: str, channel: int | None = None) -> dict:
    """A synthesis layer's feature maps for the first latent of ``request``: a grid of its
    channels (each scaled to its own range), or one channel large, with its statistics."""
    maps = request.generator.layer_features(request.latents[:1], layer,
                                            request.labels[:1] if request.labels is not None
                                            else None, request.options)[0]  # (C, H, W)
    channels = maps.shape[0]
    if channel is not None:
        channel = max(0, min(int(channel), channels - 1))
        shown = maps[channel : channel + 1]
    else:
        shown = maps[:LAYER_GRID_CHANNELS]
    lo = shown.flatten(1).min(dim=1).values[:, None, None]
    hi = shown.flatten(1).max(dim=1).values[:, None, None]
    scaled = ((shown - lo) / (hi - lo).clamp_min(1e-8) * 255).round().to(torch.uint8)
    images = scaled[:, :, :, None].numpy()  # (k, H, W, 1)
    picked = maps if channel is None else maps[channel]
    stats = {"mean": float(picked.mean()), "std": float(picked.std()),
             "max": float(picked.max()), "channels": channels,
             "size": (int(maps.shape[1]), int(maps.shape[2]))}
    if channel is not None:
        return {"image": np.ascontiguousarray(images[0]), "nrow": 1, "n": 1, **stats}
    nrow = math.ceil(math.sqrt(len(images)))
    return {"image": make_grid(images, nrow), "nrow": nrow, "n": len(images), **stats}


def strip_picture(request: Request) -> dict:
    """An interpolation: one row of frames (2-D: the path, one picture per frame)."""
    outputs = render_outputs(request)
    if not request.points:
        return {"image": strip(outputs), "frames": list(outputs)}
    frames = _point_frames(request.backdrop, outputs)
    return {"image": frames[-1], "frames": frames}


def plane_picture(request: Request, size: int) -> dict:
    """A ``size`` × ``size`` latent plane (2-D: the warped grid over the cloud)."""
    outputs = render_outputs(request)
    if not request.points:
        return {"image": make_grid(outputs, size), "nrow": size, "n": size * size}
    grid = outputs.reshape(size, size, 2)
    lines = [(grid[r], BLUE) for r in range(size)] + [(grid[:, c], BLUE) for c in range(size)]
    centre = grid[size // 2, size // 2][None]
    marks = [(outputs, BLUE, 3), (centre, ORANGE, SELECTED_RADIUS)]
    return {"image": request.backdrop.picture(marks=marks, lines=lines), "nrow": 1, "n": 1}


def nearest_picture(request: Request, data: TrainingData, k: int) -> dict:
    """The sample beside its ``k`` nearest training images (the memorisation check)."""
    sample_out = render_outputs(request)
    training = data.get()
    if request.points:
        d = np.sqrt(((training - sample_out[0]) ** 2).sum(axis=1))
        idx = np.argsort(d)[:k]
        image = request.backdrop.picture(marks=[(training[idx], GREEN, 5),
                                                (sample_out, ORANGE, SELECTED_RADIUS)])
        return {"image": image, "distances": d[idx].tolist(), "n": 1}
    idx, dist = training.search(sample_out[0], k)
    images = training.images(idx).transpose(0, 2, 3, 1)
    row = np.ascontiguousarray(np.concatenate([sample_out, images]))
    return {"image": strip(row), "distances": dist.tolist(), "n": len(row)}


def _point_frames(backdrop: Backdrop, outputs: np.ndarray) -> list[np.ndarray]:
    return [backdrop.picture(marks=[(outputs[i : i + 1], ORANGE, SELECTED_RADIUS)],
                             lines=[(outputs, BLUE)])
            for i in range(len(outputs))]


def real_data_of(generator: Generator) -> DataConfig | None:
    """The real data a GAN Studio generator was trained on, from its metadata; None for a
    built-in set or another program's generator."""
    from ganstudio.engine.config import section_from_dict
    from ganstudio.engine.errors import ConfigError

    config = (generator.meta or {}).get("config")
    if not isinstance(config, dict) or not isinstance(config.get("data"), dict):
        return None
    try:
        data = section_from_dict(DataConfig, "data", config["data"])
    except ConfigError:
        return None
    return data if data.is_real else None


class TrainingData:
    """A generator's training set, opened once on first use from whichever thread asks: the
    points of a 2-D set, or a :class:`~ganstudio.engine.metrics.nearest.NearestIndex` of an
    image set (a built-in one in memory; real data from its prepared set, found by ``key``)."""

    def __init__(self, dataset: str, seed: int, points: bool, real: DataConfig | None = None,
                 key: str | None = None):
        self.dataset, self.seed, self.points = dataset, seed, points
        self.real, self.key = real, key
        self._lock = threading.Lock()
        self._data: Any = None

    @classmethod
    def of(cls, generator: Generator) -> TrainingData:
        """The training data a GAN Studio generator's metadata names; a DatasetError says
        why there is none (another program's generator, a built-in set unknown here)."""
        from ganstudio.engine.data import DATASETS
        from ganstudio.engine.errors import DatasetError

        if generator.dataset is None:
            raise DatasetError("This generator does not say what it was trained on, so there "
                               "are no training images to compare with.")
        points = generator.kind == "points"
        real = real_data_of(generator)
        if real is not None:
            return cls(real.name, real.seed, points, real, generator.meta["dataset"].get(
                "prepared"))
        if generator.dataset not in DATASETS or generator.dataset == "points":
            raise DatasetError(f"The training data ({generator.dataset}) is not a built-in "
                               "dataset, and this generator does not say where it came from.")
        seed = (generator.meta or {}).get("config", {}).get("data", {}).get("seed", 0)
        return cls(generator.dataset, seed, points)

    def get(self):
        with self._lock:
            if self._data is None:
                self._data = self._open()
            return self._data

    def _open(self):
        from ganstudio.engine.metrics.nearest import NearestIndex

        if self.real is None:
            from ganstudio.engine.data import load_dataset

            x = load_dataset(self.dataset, seed=self.seed).x
            return x.numpy() if self.points else NearestIndex.in_memory(x)
        from ganstudio.engine.data.prepare import find_prepared
        from ganstudio.engine.errors import DatasetError

        prepared = find_prepared(self.key) if self.key else None
        if prepared is None:
            real = self.real
            raise DatasetError(
                f"The prepared images of {real.source} are not in the cache any more; prepare "
                f"them again with: ganstudio data prepare {real.source} --resolution "
                f"{real.resolution} --crop {real.crop}"
                + (" --grayscale" if real.grayscale else "")
                + (f" --split {real.split}" if real.split != "train" else ""))
        return NearestIndex.of_prepared(prepared)


# --- exports ----------------------------------------------------------------------------------


def enlarged(image: np.ndarray) -> np.ndarray:
    return upscale(image, max(1, EXPORT_SIZE // max(image.shape[:2])))


# Exports and latents files go where the user chose in a save dialog, which asked before
# replacing a file: they replace one (never a link, a folder or a device: see atomic).


def export_image(path: str | Path, request: Request) -> Path:
    """The first sample of ``request``, enlarged crisply (2-D: marked over the cloud)."""
    out = render_outputs(request)
    if request.points:
        return save_png(path, request.backdrop.picture(marks=[(out, ORANGE, SELECTED_RADIUS)]),
                        replace=True)
    return save_png(path, enlarged(out[0]), replace=True)


def export_grid(path: str | Path, request: Request, progress: Progress | None = None) -> Path:
    out = render_outputs(request, progress)
    if request.points:
        return save_png(path, request.backdrop.picture(marks=[(out, BLUE, POINT_RADIUS)]),
                        replace=True)
    return save_png(path, make_grid(out, math.ceil(math.sqrt(len(out)))), replace=True)


def export_strip(path: str | Path, request: Request, progress: Progress | None = None) -> Path:
    out = render_outputs(request, progress)
    if request.points:
        return save_png(path, request.backdrop.picture(lines=[(out, BLUE)]), replace=True)
    return save_png(path, strip(out), replace=True)


def export_animation(path: str | Path, request: Request, fps: float = 12.0,
                     bounce: bool = False, progress: Progress | None = None) -> Path:
    """Every latent of ``request`` as one frame of a looping GIF or WebP."""
    outputs = render_outputs(request, (lambda f: progress(0.9 * f)) if progress else None)
    if request.points:
        frames = _point_frames(request.backdrop, outputs)
    else:
        frames = [enlarged(o) for o in outputs]
    result = save_animation(path, frames, fps=fps, bounce=bounce, replace=True)
    if progress is not None:
        progress(1.0)
    return result


# --- latents files ------------------------------------------------------------------------------


@dataclass
class Latents:
    """Latents read from or written to a file, with the space they live in."""

    latents: Tensor  # (n, dim) or (n, num_ws, dim)
    space: str  # "z" or "w"
    labels: list[int | None]
    names: list[str]
    extra: dict = field(default_factory=dict)  # the interpolation's method and frame count


def save_latents(path: str | Path, latents: Latents, generator: Generator) -> Path:
    """Write latents as JSON (with labels and names), .npz, or .npy (z only, for --z)."""
    path = Path(path)
    array = latents.latents.detach().float().numpy()
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if latents.space != "z":
            raise GanStudioError(
                f"{path.name}: a .npy file holds plain z latents; these are {latents.space} "
                "latents. Save them as .json or .npz, which record their space.")
        buffer = io.BytesIO()
        np.save(buffer, array.astype(np.float32), allow_pickle=False)
        return atomic_write_bytes(path, buffer.getvalue(), replace=True)
    if suffix == ".npz":
        buffer = io.BytesIO()
        labels = np.array([-1 if v is None else int(v) for v in latents.labels], np.int64)
        np.savez(buffer, latents=array.astype(np.float32), labels=labels,
                 space=np.array(latents.space), names=np.array(latents.names, dtype=str))
        return atomic_write_bytes(path, buffer.getvalue(), replace=True)
    return atomic_write_json(path, {
        "format": LATENT_FORMAT, "format_version": 2, "space": latents.space,
        "z_dim": generator.z_dim, "latent_dim": generator.latent_dim,
        "generator": str(generator.path), "latents": array.tolist(),
        "labels": latents.labels, "names": latents.names, **latents.extra,
    }, replace=True)


def read_latents(path: str | Path, generator: Generator) -> Latents:
    """Latents from a .json, .npz or .npy file, checked against what ``generator`` takes."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            array = read_npy(path, GanStudioError, MAX_LATENT_VALUES)
            space, labels, names, extra = "z", None, None, {}
        elif suffix == ".npz":
            data = read_npz(path, GanStudioError, MAX_LATENT_VALUES, text=True)
            array = data["latents"]
            space = str(data["space"]) if "space" in data else "z"
            labels = [None if v < 0 else int(v) for v in data["labels"].tolist()] \
                if "labels" in data else None
            names = [str(v) for v in data["names"].tolist()] if "names" in data else None
            extra = {}
        else:
            data = read_json(path, GanStudioError)
            if not isinstance(data, dict) or data.get("format") != LATENT_FORMAT:
                raise GanStudioError(f"{path.name} is not a GAN Studio latents file.")
            array = np.asarray(data["latents"], dtype=np.float32)
            space = data.get("space", "z")
            labels, names = data.get("labels"), data.get("names")
            extra = {k: data[k] for k in ("method", "frames") if k in data}
    except GanStudioError:
        raise
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise GanStudioError(f"Cannot read latents from {path.name}: {e}") from None
    if space not in ("z", "w"):
        raise GanStudioError(f"{path.name} says its latents are in space {space!r}; "
                             "GAN Studio knows z and w.")
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 1:
        array = array[None]
    dim = generator.z_dim if space == "z" else generator.latent_dim
    per_layer = array.ndim == 3 and space == "w" and array.shape[1] == generator.num_ws
    if not (array.ndim == 2 or per_layer) or array.shape[-1] != dim:
        raise GanStudioError(
            f"{path.name} holds {space} latents of shape {tuple(array.shape)}, but this "
            f"generator takes {dim} numbers per {space} latent.")
    if space == "w" and generator.latent_space != "w":
        raise GanStudioError(f"{path.name} holds w latents, but {generator.path.name} has no "
                             "W space (it takes z).")
    if not np.isfinite(array).all():
        raise GanStudioError(f"{path.name} has NaN or infinite values in its latents.")
    n = array.shape[0]
    labels = _checked_labels(path, labels, n, generator)
    names = [str(v) for v in names][:n] if isinstance(names, list) else []
    names += [f"{path.stem} {i}" for i in range(len(names), n)]
    return Latents(torch.from_numpy(array.copy()), space, labels, names, extra)


def _checked_labels(path: Path, labels: Any, n: int, generator: Generator) -> list[int | None]:
    if not isinstance(labels, list):
        labels = []
    out: list[int | None] = []
    for value in labels[:n]:
        if value is None or not generator.conditional:
            out.append(None)
        elif isinstance(value, int) and not isinstance(value, bool):
            out.append(value % len(generator.classes))
        else:
            raise GanStudioError(f"{path.name} has a label {value!r}; labels are class "
                                 "numbers or null.")
    return out + [None] * (n - len(out))


def stacked(latents: Sequence[Tensor]) -> Tensor:
    """Keyframes of a mix of (dim,) and (num_ws, dim) latents as one tensor."""
    if any(t.dim() == 2 for t in latents):
        width = max(t.shape[0] for t in latents if t.dim() == 2)
        latents = [t if t.dim() == 2 else t[None].expand(width, -1) for t in latents]
    return torch.stack(list(latents))
