"""UI latency while the app trains dcgan on digits at full speed, offscreen.

Three figures, measured in one process:

- event-loop lag: a 5 ms precise timer runs on the UI thread during training; its lateness
  (actual interval minus 5 ms) is the lag a user would feel (target: p99 ≤ 16 ms, max ≤ 50 ms);
- training throughput inside the app against the headless engine on the same config, run
  alternately in this process (target: at least 0.95×);
- the loss plot's redraw with 1,000,000 steps of history (target: at most 16 ms), by
  ``benchmarks/plot_redraw.py``'s measurement.

With ``--compare-runs N`` it measures instead the event-loop lag (same target) while the
compare page follows N live runs overlaid, each written by a process of its own at a toy
run's pace (a history of ``--history`` steps first, then 200 steps and 2 evaluations a second).

    QT_QPA_PLATFORM=offscreen python benchmarks/ui_latency.py [--steps 150] [--repeats 2]
        [--dataset ring8] [--skip-extras] [--compare-runs 4 [--seconds 15] [--history 50000]]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app sets it (app/process.py)

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from train_throughput import WARMUP, engine_its  # a sibling script: the headless reference

from ganstudio.app.main import create_app
from ganstudio.app.main_window import MainWindow
from ganstudio.app.settings import AppSettings
from ganstudio.engine.config import defaults_for

TICK_MS = 5


def config(steps: int, dataset: str = "digits"):
    cfg = defaults_for(dataset)
    cfg.train.steps = steps + WARMUP
    if dataset == "digits":
        cfg.train.sample_every = 25  # the grid updates several times during the measurement
    cfg.train.checkpoint_every = 0
    cfg.train.device = "cpu"
    return cfg


def app_run(app, steps: int, dataset: str = "digits") -> tuple[float, list[float]]:
    """Train in the app; returns (it/s, event-loop lags in ms while training)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        settings.set_runs_dir(Path(tmp) / "runs")
        window = MainWindow(settings)
        window.resize(1440, 900)
        window.show()
        lags: list[float] = []
        marks: dict[str, float] = {}
        last = [time.perf_counter()]
        measuring = [False]

        def tick() -> None:
            now = time.perf_counter()
            if measuring[0]:
                lags.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
            last[0] = now

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(TICK_MS)
        timer.timeout.connect(tick)
        timer.start()
        training = window.training_controller
        training.start_training(config(steps, dataset))
        state = training.session.state

        def on_steps() -> None:
            step = state.step
            if "start" not in marks and step >= WARMUP:
                marks["start"], marks["start_step"] = time.perf_counter(), step
                measuring[0] = True
            if step >= WARMUP + steps and "end" not in marks:
                marks["end"], marks["end_step"] = time.perf_counter(), step
                measuring[0] = False

            if "end" in marks:
                app.quit()

        state.steps_added.connect(on_steps)
        training.session.finished.connect(app.quit)
        app.exec()  # the app's own event loop, as a user would have it
        timer.stop()
        training.session.stop()
        training.session.wait(30_000)
        window.close()
        window.deleteLater()
        app.processEvents()
        its = (marks["end_step"] - marks["start_step"]) / (marks["end"] - marks["start"])
        return its, lags


WRITER = """
import sys, time
import numpy as np
from ganstudio.engine import events as ev
from ganstudio.engine.config import defaults_for
from ganstudio.engine.runs import RunWriter
path, history, rate, seconds, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
    float(sys.argv[4]), int(sys.argv[5])
config = defaults_for("ring8")
config.optim.lr_g *= 1 + seed
writer = RunWriter(path, config, {"name": "ring8"})
writer.write(ev.StartedEvent(step=0, total_steps=10**7, device="cpu", device_name="CPU",
                             params_g=1, params_d=1, run_dir=path, kind="points"))
rng = np.random.default_rng(seed)
def write(step):
    loss = 0.7 + 0.3 * np.exp(-step / 20000) + rng.normal(0, 0.1)
    writer.write(ev.StepEvent(step=step, loss_g=loss, loss_d=1.4 - loss / 2, d_real=0.6,
                              d_fake=0.4, grad_g=1.0, grad_d=2.0, lr_g=1e-3, lr_d=1e-3,
                              d_steps=1, its=rate, elapsed=step / rate))
    if step % 100 == 0:
        writer.write(ev.EvalEvent(step=step, metrics={"modes": 8.0, "kl": 1 / step},
                                  name="modes"))
for step in range(1, history + 1):
    write(step)
writer.flush()
print("ready", flush=True)
start, step = time.monotonic(), history
while time.monotonic() - start < seconds:
    due = history + int((time.monotonic() - start) * rate)
    while step < due:
        step += 1
        write(step)
    writer.flush()
    time.sleep(0.05)
writer.write(ev.DoneEvent(step=step, reason="finished", elapsed=step / rate))
writer.close()
"""


def loop_lags(app, seconds: float) -> np.ndarray:
    """Lateness (ms) of a 5 ms timer on the UI thread over ``seconds`` of the app's loop."""
    lags: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lags.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    QTimer.singleShot(round(seconds * 1000), app.quit)
    timer.start()
    app.exec()
    timer.stop()
    return np.asarray(lags[1:])


def lag_summary(lag: np.ndarray) -> dict:
    return {"p50": round(float(np.percentile(lag, 50)), 2),
            "p99": round(float(np.percentile(lag, 99)), 2),
            "max": round(float(lag.max()), 2), "ticks": int(lag.size)}


def compare_lag(app, runs: int, seconds: float, history: int) -> dict:
    """Event-loop lag (ms) while the compare page follows ``runs`` live runs overlaid, and,
    as the reference, while the same window shows none of them (the writers still running)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        paths = [Path(tmp) / f"run{i}" for i in range(runs)]
        writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(history),
                                     "200", str(2 * seconds + 60), str(i)],
                                    stdout=subprocess.PIPE, text=True)
                   for i, path in enumerate(paths)]
        try:
            for writer in writers:
                assert writer.stdout.readline().strip() == "ready"
            window = MainWindow(settings)
            window.resize(1440, 900)
            window.show()
            compare = window.compare_controller
            window.show_compare_page()
            reference = loop_lags(app, seconds)
            added: list[str] = []
            compare.run_added.connect(added.append)
            compare.add_runs(paths)
            while len(added) < runs:
                app.processEvents()
            compare.page.plot.set_smoothing(0.6)
            loop_lags(app, 1.0)  # the runs' first catch-up is not counted
            lag = loop_lags(app, seconds)
            shown = {run: len(compare.page.plot.curve_data(run)[0]) for run in added}
            steps = [compare.runs[run].state.step for run in added]
            window.close()
            window.deleteLater()
            app.processEvents()
        finally:
            for writer in writers:
                writer.terminate()
                writer.wait()
    return {
        "case": f"compare page: {runs} live runs overlaid (loss_g, smoothing 0.6), each "
                f"written by its own process at 200 steps/s after {history:,} steps",
        "seconds": seconds,
        "steps_followed": steps,
        "points_drawn_per_run": list(shown.values()),
        "event_loop_lag_ms": {**lag_summary(lag), "target": "p99 <= 16, max <= 50"},
        "reference_lag_ms_no_runs_shown": lag_summary(reference),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


STARTUP_PROBE = """
import sys, time
from PySide6.QtCore import QSettings, QTimer
from ganstudio.app.main import create_app
from ganstudio.app.main_window import MainWindow
from ganstudio.app.settings import AppSettings
app = create_app([])
window = MainWindow(AppSettings(QSettings(sys.argv[1], QSettings.Format.IniFormat)))
window.show()
def shown():
    print("shown", "torch" in sys.modules, flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def startup_seconds(repeats: int = 3) -> dict:
    """From launching a fresh Python process to the main window's first event-loop turn."""
    import subprocess

    times, torch_loaded = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", STARTUP_PROBE, str(Path(tmp) / "s.ini")],
                                 capture_output=True, text=True, check=True).stdout
            times.append(time.perf_counter() - start)
            torch_loaded.append("True" in out)
    return {"median_s": round(statistics.median(times), 2),
            "runs_s": [round(t, 2) for t in times], "torch_imported_before_shown": any(
                torch_loaded), "target": "<= 2"}


def plot_redraw_ms() -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from plot_redraw import measure

    return measure(rows=1_000_000, frames=50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--dataset", default="digits",
                        help="train this dataset's defaults instead (ring8: the toy MLP, with "
                             "the live scatter and D field instead of the image grid)")
    parser.add_argument("--skip-extras", action="store_true",
                        help="measure only lag and throughput, not the plot redraw or start-up")
    parser.add_argument("--compare-runs", type=int, default=0,
                        help="measure only the lag with this many live runs overlaid")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--history", type=int, default=50_000)
    args = parser.parse_args()
    app = create_app([])
    if args.compare_runs:
        print(json.dumps({"benchmark": "ui_latency", **compare_lag(
            app, args.compare_runs, args.seconds, args.history)}, indent=2))
        return
    headless, in_app, all_lags = [], [], []
    for _ in range(args.repeats):
        headless.append(engine_its(config(args.steps, args.dataset), args.steps))
        its, lags = app_run(app, args.steps, args.dataset)
        in_app.append(its)
        all_lags.extend(lags)
    lag = np.asarray(all_lags)
    h, a = statistics.median(headless), statistics.median(in_app)
    extras = {} if args.skip_extras else {
        "plot_redraw_1m_points_ms": plot_redraw_ms(), "startup": startup_seconds()}
    print(json.dumps({
        "benchmark": "ui_latency",
        "case": f"{config(args.steps, args.dataset).model.family} on {args.dataset} "
                "(the app's defaults), CPU, offscreen",
        "event_loop_lag_ms": {
            "p50": round(float(np.percentile(lag, 50)), 2),
            "p99": round(float(np.percentile(lag, 99)), 2),
            "max": round(float(lag.max()), 2),
            "ticks": int(lag.size),
            "target": "p99 <= 16, max <= 50",
        },
        "throughput": {
            "headless_its": round(h, 2), "in_app_its": round(a, 2),
            "ratio": round(a / h, 3), "target_ratio": 0.95,
            "headless_runs": [round(v, 2) for v in headless],
            "in_app_runs": [round(v, 2) for v in in_app],
        },
        **extras,
    }, indent=2))


if __name__ == "__main__":
    main()
