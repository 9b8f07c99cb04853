"""Latent explorer latency on the CPU, with the digits dcgan, offscreen.

- slider → image: the time from moving a direction slider to the selected sample's new image
  being painted (render on the worker thread, hand-back, paint); target p95 ≤ 16 ms;
- a 16-frame interpolation strip rendered and assembled; target ≤ 60 ms;
- GANSpace directions (PCA of first-layer activations) from 10,000 samples; target ≤ 3 s.

    QT_QPA_PLATFORM=offscreen python benchmarks/explorer_latency.py [--checkpoint FILE]

Uses the shipped ``resources/pretrained/digits.safetensors`` unless a checkpoint is given.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import torch
from PySide6.QtCore import QEventLoop, QTimer

from ganstudio.app import theme
from ganstudio.app.controllers.explorer_session import ExplorerSession
from ganstudio.app.main import create_app
from ganstudio.app.views.explorer_page import ExplorerPage
from ganstudio.engine import explore, latent
from ganstudio.engine.formats import load_generator
from ganstudio.resources import pretrained_dir


def wait_for(signal, timeout_ms: int = 5000) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(loop.quit)


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50": round(float(np.percentile(a, 50)), 2),
            "p95": round(float(np.percentile(a, 95)), 2),
            "max": round(float(a.max()), 2), "n": len(ms)}


def slider_latency(app, page: ExplorerPage, session: ExplorerSession, moves: int) -> dict:
    slider = page._direction_sliders["PC1"]
    times = []
    for i in range(moves + 5):
        value = 3.0 * np.sin(i / 3)
        start = time.perf_counter()
        slider.setValue(value)
        wait_for(session.selected_ready)
        page.selected.repaint()  # the new image on screen, not only handed over
        if i >= 5:  # warm-up
            times.append((time.perf_counter() - start) * 1000)
    return percentiles(times)


def strip_ms(generator, repeats: int = 20) -> dict:
    keys = latent.sample_latents(3, generator.z_dim, 1)
    times = []
    for _ in range(repeats + 3):
        start = time.perf_counter()
        z = latent.interpolate(keys, 16, "slerp")
        explore.strip_picture(explore.frozen(generator, z))
        times.append((time.perf_counter() - start) * 1000)
    return percentiles(times[3:])


def pca_seconds(generator, repeats: int = 3) -> dict:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        explore.ganspace(generator, 10_000, 10)
        times.append(time.perf_counter() - start)
    return {"median": round(statistics.median(times), 3), "runs": [round(t, 3) for t in times]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(pretrained_dir() / "digits.safetensors"))
    parser.add_argument("--moves", type=int, default=100)
    args = parser.parse_args()
    app = create_app([])
    theme.apply(app)
    generator = load_generator(args.checkpoint)
    session = ExplorerSession(generator)
    page = ExplorerPage()
    page.resize(1300, 850)
    page.show()
    page.bind(session)
    wait_for(session.directions_changed, 60_000)
    wait_for(session.selected_ready)
    result = {
        "benchmark": "explorer_latency",
        "checkpoint": os.path.basename(args.checkpoint),
        "torch_threads": torch.get_num_threads(),
        "slider_to_image_ms": {**slider_latency(app, page, session, args.moves),
                               "target": "p95 <= 16"},
        "strip_16_frames_ms": {**strip_ms(generator), "target": "<= 60"},
        "pca_10000_samples_s": {**pca_seconds(generator), "target": "<= 3"},
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    session.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
