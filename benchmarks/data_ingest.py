"""Preparing a folder of JPEGs at 64 px, against a plain single-process Pillow loop.

The script first writes ``--count`` JPEGs (128 × 128, quality 90, varied content: gradients,
shapes and noise) to a temporary folder, then times, in one run and alternating:

- ``baseline``: a plain loop in one process, as one would write it: open, convert to RGB,
  centre-crop to a square, resize to 64 px with Lanczos, collect the pixels in an array;
- ``baseline_draft``: the same loop with Pillow's ``draft()`` (libjpeg decodes at 1/2 scale);
- ``prepare``: ``ganstudio.engine.data.prepare`` with ``jpeg_draft=False``: the very same
  decode, crop and resize as the baseline, on every core, written to its cache on disk;
- ``prepare_draft``: ``prepare`` as it runs by default, with ``draft()``.

The prepare timings include what the baseline does not do: listing and fingerprinting the
folder, writing the cache and flushing it to disk. ``identical`` checks that ``prepare``
without draft gives exactly the baseline's pixels. Target: ``prepare`` at least 1.6 times the
baseline on 2 cores.

``parallelism`` says how many cores the machine really gives this script at the moment: the
same Pillow work done by one process and then split over one process per core, as a ratio of
throughputs. On a shared machine whose other tenants keep it busy it can be near 1, and then no
pool can be faster than one process; compare the speed-up with it.

    python benchmarks/data_ingest.py [--count 20000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SOURCE_SIZE, RESOLUTION = 128, 64


def write_jpegs(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, SOURCE_SIZE)
    for k in range(count):
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = (ramp[:, None] * rng.uniform(-1, 1) + ramp[None, :] * rng.uniform(-1, 1)) % 1
        pixels = a + (b - a) * t[..., None] + rng.normal(0, 8, (SOURCE_SIZE, SOURCE_SIZE, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(2, 6))):
            x0, y0 = rng.integers(-20, SOURCE_SIZE, 2)
            w, h = rng.integers(10, 70, 2)
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            box = (int(x0), int(y0), int(x0 + w), int(y0 + h))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=fill)
        sub = folder / f"{k // 1000:03d}"
        sub.mkdir(exist_ok=True)
        image.save(sub / f"{k:06d}.jpg", quality=90)


def _pillow_work(count: int) -> float:
    """Decode and resize one in-memory JPEG ``count`` times; the seconds it took."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (SOURCE_SIZE, SOURCE_SIZE, 3),
                                                      dtype=np.uint8)).save(buffer, "JPEG")
    started = time.perf_counter()
    for _ in range(count):
        with Image.open(io.BytesIO(buffer.getvalue())) as image:
            image.convert("RGB").resize((RESOLUTION, RESOLUTION), Image.Resampling.LANCZOS)
    return time.perf_counter() - started


def parallelism(cores: int, count: int = 600) -> float:
    """Throughput of ``cores`` processes over that of one, on the same Pillow work."""
    from ganstudio.engine.data.prepare import _pool_context

    alone = _pillow_work(count)
    with ProcessPoolExecutor(cores, mp_context=_pool_context()) as pool:
        list(pool.map(_pillow_work, [1] * cores))  # started and warm
        started = time.perf_counter()
        list(pool.map(_pillow_work, [count // cores] * cores))
        together = time.perf_counter() - started
    return alone / together


def baseline(folder: Path, draft: bool) -> tuple[float, np.ndarray]:
    """The plain loop: one process, one image at a time."""
    started = time.perf_counter()
    paths = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))
    out = np.empty((len(paths), 3, RESOLUTION, RESOLUTION), np.uint8)
    for i, name in enumerate(paths):
        with Image.open(folder / name) as image:
            if draft:
                image.draft("RGB", (RESOLUTION, RESOLUTION))
            image = image.convert("RGB")
            w, h = image.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            small = image.resize((RESOLUTION, RESOLUTION), Image.Resampling.LANCZOS,
                                 box=(left, top, left + side, top + side))
            out[i] = np.asarray(small).transpose(2, 0, 1)
    return time.perf_counter() - started, out


def ours(folder: Path, draft: bool) -> tuple[float, np.ndarray]:
    from ganstudio.engine.data.prepare import PrepareOptions, clear_prepared, prepare

    clear_prepared()
    started = time.perf_counter()
    prepared = prepare(folder, PrepareOptions(resolution=RESOLUTION, grayscale=False,
                                              jpeg_draft=draft))
    seconds = time.perf_counter() - started
    return seconds, np.array(prepared.images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ganstudio-ingest-") as tmp:
        os.environ["GANSTUDIO_CACHE"] = str(Path(tmp) / "cache")
        folder = Path(tmp) / "jpegs"
        folder.mkdir()
        started = time.perf_counter()
        write_jpegs(folder, args.count)
        write_seconds = time.perf_counter() - started

        times: dict[str, list[float]] = {k: [] for k in
                                         ("baseline", "prepare", "baseline_draft", "prepare_draft")}
        identical = True
        from ganstudio.engine.data.prepare import _cores

        capacity = [parallelism(_cores())]
        for _ in range(args.repeats):
            t, reference = baseline(folder, draft=False)
            times["baseline"].append(t)
            t, prepared = ours(folder, draft=False)
            times["prepare"].append(t)
            identical = identical and np.array_equal(reference, prepared)
            times["prepare_draft"].append(ours(folder, draft=True)[0])
            times["baseline_draft"].append(baseline(folder, draft=True)[0])
        capacity.append(parallelism(_cores()))

    best = {k: round(statistics.median(v), 3) for k, v in times.items()}
    print(json.dumps({
        "images": args.count, "source": f"{SOURCE_SIZE}x{SOURCE_SIZE} JPEG q90",
        "resolution": RESOLUTION, "cores": _cores(), "load_average": os.getloadavg(),
        "parallelism": [round(c, 2) for c in capacity],
        "write_seconds": round(write_seconds, 1), "repeats": args.repeats,
        "seconds": best,
        "images_per_second": {k: round(args.count / v) for k, v in best.items()},
        "speedup_same_decode": round(best["baseline"] / best["prepare"], 2),
        "speedup_default": round(best["baseline"] / best["prepare_draft"], 2),
        "draft_speedup_one_process": round(best["baseline"] / best["baseline_draft"], 2),
        "identical": identical,
        "target": 1.6,
    }, indent=2))


if __name__ == "__main__":
    main()
