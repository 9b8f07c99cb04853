"""Live loss-plot redraw: the cost of one frame with a million-row history.

A run's ``RunData`` is filled with 1,000,000 rows of noisy GAN-like curves and shown in a
``LossPlot`` of 1000 × 700 (offscreen is fine). Each frame appends a small batch of rows, as a
training run does between two timer ticks, then times ``refresh()`` plus the event loop's turn
that paints what it changed (the plots and the read-out), as in the app. Frames run with
follow-latest on, at smoothing 0 and 0.6.

    QT_QPA_PLATFORM=offscreen python benchmarks/plot_redraw.py [--rows 1000000] [--frames 50]

Prints JSON: median, p95 and max milliseconds per frame (target: at most 16), as wall time and
as the CPU time of the UI thread, which a busy machine inflates less; and the one-off costs of
the first draw and of changing the smoothing (a full recomputation).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from ganstudio.app import theme
from ganstudio.app.views.loss_plot import LossPlot
from ganstudio.engine.plotdata import PlotData, RunData

TARGET_MS = 16.0
SMOOTHINGS = (0.0, 0.6)


def gan_rows(start: int, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Rows start..start+n of a run whose losses settle, with noise and the odd spike."""
    t = np.arange(start, start + n, dtype=np.float64)
    s = t / 200_000
    spikes = rng.random(n) < 1e-4
    return {
        "step": t + 1,
        "elapsed": (t + 1) * 0.012,
        "loss_d": 1.38 - 0.5 * (1 - np.exp(-3 * s)) + rng.normal(0, 0.12, n) + 3 * spikes,
        "loss_g": 0.69 + 1.2 * (1 - np.exp(-4 * s)) + rng.normal(0, 0.25, n),
        "d_real": np.clip(0.5 + 0.25 * (1 - np.exp(-3 * s)) + rng.normal(0, 0.06, n), 0, 1),
        "d_fake": np.clip(0.5 - 0.22 * (1 - np.exp(-3 * s)) + rng.normal(0, 0.06, n), 0, 1),
        "grad_g": 2.0 + 1.5 * np.exp(-2 * s) + rng.gamma(2.0, 0.4, n),
        "grad_d": 1.0 + 4.0 * np.exp(-s) + rng.gamma(2.0, 0.6, n) + 20 * spikes,
        "lr_g": np.full(n, 2e-4),
        "lr_d": np.full(n, 2e-4),
    }


def frame(app: QApplication, plot: LossPlot, history: RunData, batch: int,
          rng: np.random.Generator) -> tuple[float, float]:
    """(wall ms, CPU ms) of one frame: new rows, refresh, paint."""
    history.append_columns(gan_rows(len(history), batch, rng))
    painted = []
    plot._canvas.painted.connect(painted.append)
    wall, cpu = time.perf_counter(), time.thread_time()
    plot.refresh()
    # The event loop's next turn paints what the refresh changed (the plots and the read-out;
    # the controls above them are not touched), as it does in the app right after the timer.
    app.processEvents()
    elapsed = (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3
    plot._canvas.painted.disconnect(painted.append)
    if not painted:
        raise RuntimeError("the refresh did not lead to a paint of the plots")
    return elapsed


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def timed_ms(action) -> float:
    start = time.perf_counter()
    action()
    return round((time.perf_counter() - start) * 1e3, 1)


def measure(rows: int = 1_000_000, frames: int = 50, batch: int = 20) -> dict:
    """Redraw times of a LossPlot holding ``rows`` steps, as a JSON-ready dict."""
    app = QApplication.instance() or QApplication(sys.argv)
    theme.apply(app)
    rng = np.random.default_rng(0)
    history = RunData(capacity=rows + 2 * len(SMOOTHINGS) * frames * batch)
    history.append_columns(gan_rows(0, rows, rng))
    data = PlotData()
    data.add("run", history)

    plot = LossPlot()
    plot.resize(1000, 700)
    plot.show()
    app.processEvents()
    first_draw_ms = timed_ms(lambda: (plot.set_data(data, "run"), plot.repaint()))

    results = {}
    for smoothing in SMOOTHINGS:
        change_ms = timed_ms(lambda s=smoothing: (plot.set_smoothing(s), plot.repaint()))
        for _ in range(3):  # warm up pyqtgraph's lazy paths
            frame(app, plot, history, batch, rng)
        times = [frame(app, plot, history, batch, rng) for _ in range(frames)]
        results[f"smoothing_{smoothing}"] = {
            "wall": summary([wall for wall, _ in times]),
            "cpu": summary([cpu for _, cpu in times]),
            "set_smoothing_ms": change_ms,
        }

    plot.close()
    return {
        "rows": len(history),
        "batch": batch,
        "frames": frames,
        "widget": [plot.width(), plot.height()],
        "load_average_1min": round(os.getloadavg()[0], 2),
        "first_draw_ms": first_draw_ms,
        "target_ms": TARGET_MS,
        **results,
        "median_meets_target": all(r["wall"]["median_ms"] <= TARGET_MS
                                   for r in results.values()),
        "p95_meets_target": all(r["wall"]["p95_ms"] <= TARGET_MS for r in results.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--batch", type=int, default=20, help="rows appended per frame")
    args = parser.parse_args()
    print(json.dumps(measure(args.rows, args.frames, args.batch), indent=2))


if __name__ == "__main__":
    main()
