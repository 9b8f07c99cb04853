"""Opening a long run folder in the window: how long until it is on screen, and how the UI
thread fares meanwhile.

Writes the run folder of a digits run with ``--steps`` step records (400,000 make a
metrics.jsonl of about 100 MB), an evaluation every 1,000 steps and a sample grid every
``--sample-every`` steps (hard links to one PNG), then opens it in the main window offscreen,
as dropping it on the window does, while a 5 ms timer measures how late the event loop runs.

    QT_QPA_PLATFORM=offscreen python benchmarks/open_run.py [--steps 400000]

Prints JSON: the seconds until the run is on screen with every step, the event loop's lag
meanwhile (p50, p99, max; target: max ≤ 50 ms), and the size of metrics.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PIL import Image
from PySide6.QtCore import QSettings, Qt, QTimer

from ganstudio.app.main import create_app
from ganstudio.app.main_window import MainWindow
from ganstudio.app.settings import AppSettings
from ganstudio.engine.config import defaults_for

TICK_MS = 5


def write_run(run_dir: Path, steps: int, sample_every: int) -> int:
    """A finished digits run folder; returns the size of its metrics.jsonl in bytes."""
    (run_dir / "samples").mkdir(parents=True)
    (run_dir / "checkpoints").mkdir()
    config = defaults_for("digits")
    config.train.steps = steps
    (run_dir / "config.json").write_text(config.to_json())
    (run_dir / "run.json").write_text(json.dumps({"status": "finished", "step": steps}))
    grid = np.random.default_rng(0).integers(0, 256, (242, 242), dtype=np.uint8)
    first = run_dir / "samples" / f"step_{sample_every:07d}.png"
    Image.fromarray(grid).save(first)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.1, (steps, 6))
    started = {"type": "started", "step": 0, "total_steps": steps, "device": "cpu",
               "device_name": "CPU", "params_g": 1, "params_d": 1, "run_dir": None,
               "kind": "images", "classes": []}
    with open(run_dir / "metrics.jsonl", "w") as f:
        f.write(json.dumps(started) + "\n")
        for step in range(1, steps + 1):
            n = noise[step - 1]
            f.write(f'{{"type": "step", "step": {step}, "loss_g": {0.7 + n[0]:.6f}, '
                    f'"loss_d": {1.3 + n[1]:.6f}, "d_real": {0.6 + n[2]:.6f}, '
                    f'"d_fake": {0.4 + n[3]:.6f}, "grad_g": {2.5 + n[4]:.6f}, '
                    f'"grad_d": {3.1 + n[5]:.6f}, "lr_g": 0.0002, "lr_d": 0.0002, '
                    f'"d_steps": 1, "its": 12.5, "elapsed": {step / 12.5:.3f}}}\n')
            if step % sample_every == 0:
                png = run_dir / "samples" / f"step_{step:07d}.png"
                if png != first:
                    os.link(first, png)
                f.write(json.dumps({"type": "samples", "step": step,
                                    "file": str(png.relative_to(run_dir)), "nrow": 8,
                                    "n": 64}) + "\n")
            if step % 1000 == 0:
                f.write(json.dumps({"type": "eval", "step": step, "name": "fid",
                                    "value": 50 * np.exp(-step / steps)}) + "\n")
        f.write(json.dumps({"type": "done", "step": steps, "reason": "finished"}) + "\n")
    return (run_dir / "metrics.jsonl").stat().st_size


def open_and_time(app, run_dir: Path, steps: int) -> dict:
    """Open the run in a fresh window; the seconds until every step is on screen, and the
    event loop's lag in ms meanwhile."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings)
        window.resize(1440, 900)
        window.show()
        # as at start-up: torch imported off the UI thread, then what is alive frozen out of
        # the garbage collector's reach (MainWindow._on_devices)
        window.warm_up()
        deadline = time.monotonic() + 120
        while window.device_name == "CPU" and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        lags: list[float] = []
        last = [time.perf_counter()]
        shown: list[float] = []
        start = time.perf_counter()

        def tick() -> None:
            now = time.perf_counter()
            lags.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
            last[0] = now
            state = window.training.state
            if not shown and state is not None and len(state.history) == steps:
                shown.append(now - start)
                app.quit()

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(TICK_MS)
        timer.timeout.connect(tick)
        timer.start()
        QTimer.singleShot(0, lambda: window.open_path(run_dir))
        last[0] = time.perf_counter()
        app.exec()
        timer.stop()
        window.close()
        window.deleteLater()
        app.processEvents()
    lag = np.asarray(lags)
    return {"shown_s": round(shown[0], 2),
            "event_loop_lag_ms": {"p50": round(float(np.percentile(lag, 50)), 2),
                                  "p99": round(float(np.percentile(lag, 99)), 2),
                                  "max": round(float(lag.max()), 1), "ticks": int(lag.size)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=400_000)
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    app = create_app([])
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "long-run"
        size = write_run(run_dir, args.steps, args.sample_every)
        runs = [open_and_time(app, run_dir, args.steps) for _ in range(args.repeats)]
    print(json.dumps({
        "benchmark": "open_run",
        "steps": args.steps,
        "metrics_mb": round(size / 2**20, 1),
        "snapshots": args.steps // args.sample_every,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "runs": runs,
        "target": "event loop lag max <= 50 ms",
    }, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
