"""The controllers the window lays out: the training controller (the run on the training page)
and the explorer controller (the generator in the explorer), driven with the real engine on
tiny runs. Their actions, enabled state and signals; run folders read off the UI thread;
a followed run's checkpoints loaded off it, with back-off."""

from __future__ import annotations

import json
import shutil
import threading

import pytest
from app_support import tiny_points_config, visible_error_box
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from ganstudio.app.controllers import explorer_session, run_watcher
from ganstudio.app.controllers.explorer_controller import ExplorerController
from ganstudio.app.controllers.training_controller import TrainingController
from ganstudio.app.views.explorer_page import ExplorerPage
from ganstudio.app.views.setup_panel import SetupPanel
from ganstudio.app.views.training_page import TrainingPage
from ganstudio.engine import plotdata
from ganstudio.engine.runs import MetricsTail
from ganstudio.engine.trainer import Trainer


@pytest.fixture
def controllers(qtbot, app_settings, monkeypatch):
    """A training and an explorer controller over their views, in a plain parent widget."""
    parent = QWidget()
    qtbot.addWidget(parent)
    training = TrainingController(SetupPanel(), TrainingPage(), app_settings, parent)
    explorer = ExplorerController(ExplorerPage(), training, app_settings, parent)
    yield training, explorer
    monkeypatch.setattr(TrainingController, "_confirm_stop", lambda self, text: True)
    training.confirm_quit()
    explorer.close()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("controllers") / "finished"
    list(Trainer(tiny_points_config(steps=12), run_dir=run_dir).run())
    return run_dir


def long_run(tmp_path, steps: int):
    """A finished run folder whose metrics.jsonl holds ``steps`` step records."""
    run_dir = tmp_path / "long"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.json").write_text(tiny_points_config(steps).to_json())
    (run_dir / "run.json").write_text(json.dumps({"status": "finished"}))
    line = ('{{"type": "step", "step": {0}, "loss_g": 0.7, "loss_d": 1.3, "d_real": 0.6, '
            '"d_fake": 0.4, "grad_g": 2.5, "grad_d": 3.1, "lr_g": 0.001, "lr_d": 0.001, '
            '"d_steps": 1, "its": 100.0, "elapsed": {1}}}\n')
    started = {"type": "started", "step": 0, "total_steps": steps, "device": "cpu",
               "device_name": "CPU", "params_g": 1, "params_d": 1, "run_dir": None,
               "kind": "points", "classes": []}
    with open(run_dir / "metrics.jsonl", "w") as f:
        f.write(json.dumps(started) + "\n")
        f.writelines(line.format(s, s / 100) for s in range(1, steps + 1))
        f.write(json.dumps({"type": "done", "step": steps, "reason": "finished"}) + "\n")
    return run_dir


# --- the training controller -------------------------------------------------------------


def test_training_actions_follow_the_run(controllers, qtbot):
    training, _ = controllers
    steering = (training.act_pause, training.act_step, training.act_stop, training.act_save)
    assert training.act_start.isEnabled()
    assert not any(a.isEnabled() for a in steering) and not training.act_close_run.isEnabled()
    with qtbot.waitSignal(training.run_shown) as shown:
        assert training.start_training(tiny_points_config(steps=100_000))
    assert shown.args == ["ring8 · toy"]
    state = training.session.state
    qtbot.waitUntil(lambda: len(state.history) >= 2, timeout=60_000)
    assert all(a.isEnabled() for a in steering) and not training.act_start.isEnabled()
    assert training.live_lr_g.isEnabled() and training.live_lr_g.text() == "0.001"
    with qtbot.waitSignal(training.session.finished, timeout=60_000):
        training.act_stop.trigger()
    assert not any(a.isEnabled() for a in steering) and training.act_start.isEnabled()
    assert training.act_close_run.isEnabled() and not training.live_lr_g.isEnabled()


def test_an_invalid_setup_asks_for_the_setup_panel(controllers, qtbot):
    training, _ = controllers
    training.setup.lr_g.setText("-1")
    assert not training.act_start.isEnabled()
    with qtbot.waitSignal(training.setup_wanted), qtbot.waitSignal(training.message):
        training.start_from_setup()
    assert training.session is None


def test_a_run_folder_is_read_with_progress_and_then_shown(controllers, qtbot, tmp_path,
                                                             monkeypatch):
    monkeypatch.setattr(run_watcher, "READ_CHUNK_BYTES", 64 << 10)
    run_dir = long_run(tmp_path, 5000)
    training, explorer = controllers
    training.page.plot.set_smoothing(0.6)
    smoothed_on = []  # the smoothing of a long run is computed by the reader, not the UI thread
    original = plotdata.debiased_ema
    monkeypatch.setattr(plotdata, "debiased_ema", lambda *args: smoothed_on.append(
        threading.current_thread()) or original(*args))
    progress = []
    training.read_progress.connect(lambda name, fraction: progress.append((name, fraction)))
    with qtbot.waitSignal(training.run_opened, timeout=60_000) as opened:
        assert training.open_run_folder(run_dir)
    fractions = [fraction for _, fraction in progress]
    assert {name for name, _ in progress} == {"long"}
    assert len(fractions) > 10 and fractions == sorted(fractions) and fractions[-1] == 1.0
    state = opened.args[0].state
    assert state is training.page.state and state.status == "finished"
    assert len(state.history) == 5000 and state.step == 5000 and state.total_steps == 5000
    training.page.plot.refresh()
    assert smoothed_on and threading.main_thread() not in smoothed_on
    assert training.act_close_run.isEnabled() and explorer.act_explore_run.isEnabled()


def test_reading_a_run_folder_can_be_cancelled(controllers, qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(run_watcher, "READ_CHUNK_BYTES", 16 << 10)
    run_dir = long_run(tmp_path, 5000)
    training, _ = controllers
    opened, read = [], []
    training.run_opened.connect(opened.append)
    original_done = TrainingController._on_run_read
    monkeypatch.setattr(TrainingController, "_on_run_read",
                        lambda self, cancel, result: read.append(result) or
                        original_done(self, cancel, result))
    first_chunk = threading.Event()
    release = threading.Event()
    original = MetricsTail.poll

    def slow_poll(self, *args):
        first_chunk.set()
        release.wait(10)  # the reader waits here until the test has pressed Cancel
        return original(self, *args)

    monkeypatch.setattr(MetricsTail, "poll", slow_poll)
    with qtbot.waitSignal(training.read_progress):
        training.open_run_folder(run_dir)
    qtbot.waitUntil(first_chunk.is_set, timeout=60_000)  # the pool may be busy with previews
    with qtbot.waitSignal(training.read_ended):
        training.cancel_read()
    release.set()
    qtbot.waitUntil(lambda: bool(read), timeout=10_000)  # the reader stopped at the next chunk
    assert isinstance(read[0].error, run_watcher.ReadCancelled)
    assert opened == [] and training.page.state is None and training.watcher is None


def test_a_folder_that_is_not_a_run_says_why(controllers, qtbot, tmp_path):
    training, _ = controllers
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with qtbot.waitSignal(training.read_ended, timeout=10_000):
        training.open_run_folder(tmp_path / "broken")
    box = visible_error_box()
    assert "config.json" in box.text() and not box.detailedText()
    box.close()
    assert training.page.state is None


def test_opening_a_run_draws_only_its_newest_snapshot_and_evaluation(
        controllers, qtbot, finished_run, monkeypatch):
    from ganstudio.app.views.points_view import PointsView
    from ganstudio.engine import runs

    read, shown = [], []
    original = runs.load_points_sample
    monkeypatch.setattr(runs, "load_points_sample", lambda path: read.append(path) or
                        original(path))
    monkeypatch.setattr(PointsView, "set_metrics",
                        lambda self, metrics, step=None: shown.append(step))
    training, _ = controllers
    with qtbot.waitSignal(training.run_opened, timeout=60_000):
        training.open_run_folder(finished_run)
    points = training.page.points
    assert points.count() == 4 and points.current_step() == 12
    assert [path.name for path in read if path.name.startswith("step_")] == ["step_0000012.npz"]
    # evaluated at steps 10 and 12: only the latest is shown (None: the view was cleared)
    assert [step for step in shown if step is not None] == [12]


# --- the window never waits on a file ------------------------------------------------------


def test_the_ui_thread_turns_while_a_large_metrics_file_is_read(window, qtbot, tmp_path,
                                                               monkeypatch):
    """Each chunk of metrics.jsonl is read only after the UI thread's timer has ticked once
    more: read on the UI thread, the timer could never tick and every read would time out."""
    run_dir = long_run(tmp_path, 40_000)  # about 9 MB: three chunks
    ticked = threading.Event()
    timer = QTimer()
    timer.timeout.connect(ticked.set)
    timer.start(5)
    turned = []
    original = MetricsTail.poll

    def poll_after_a_tick(self, *args):
        if self._offset < self.path.stat().st_size:  # not the tail of a run already shown
            ticked.clear()
            turned.append(ticked.wait(5))
        return original(self, *args)

    monkeypatch.setattr(MetricsTail, "poll", poll_after_a_tick)
    window.open_path(run_dir)
    qtbot.waitUntil(lambda: window.training.state is not None
                    and len(window.training.state.history) == 40_000, timeout=60_000)
    timer.stop()
    assert len(turned) >= 2 and all(turned)


# --- the explorer controller and a followed run ------------------------------------------


def test_explorer_actions_wait_for_a_generator(controllers, qtbot, finished_run):
    _, explorer = controllers
    assert not explorer.act_shuffle.isEnabled() and not explorer.act_export_grid.isEnabled()
    assert explorer.act_open_checkpoint.isEnabled() and not explorer.act_explore_run.isEnabled()
    checkpoint = finished_run / "checkpoints" / "step_0000012.safetensors"
    with qtbot.waitSignal(explorer.opened, timeout=60_000) as opened:
        explorer.open_checkpoint(checkpoint)
    assert opened.args[0] is explorer.session and explorer.page.session is explorer.session
    assert all(action.isEnabled() for action in explorer.export_actions)
    assert explorer.act_shuffle.isEnabled() and explorer.act_load_latents.isEnabled()


def test_a_followed_run_loads_its_checkpoints_off_the_ui_thread(controllers, qtbot,
                                                               finished_run, tmp_path,
                                                               monkeypatch):
    from ganstudio.engine import formats

    run_dir = tmp_path / "live"
    shutil.copytree(finished_run, run_dir)
    _, explorer = controllers
    with qtbot.waitSignal(explorer.opened, timeout=60_000) as opened:
        explorer.open_checkpoint(run_dir, live=True)
    session = opened.args[0]
    assert session.following
    threads = []
    original = formats.load_generator
    monkeypatch.setattr(formats, "load_generator",
                        lambda path: threads.append(threading.current_thread()) or
                        original(path))
    with qtbot.waitSignal(session.generator_changed, timeout=60_000) as changed:
        list(Trainer(tiny_points_config(14), run_dir=run_dir, resume=run_dir).run())
    assert changed.args[0].step == 14
    assert threads and threading.main_thread() not in threads


def test_a_broken_newest_checkpoint_is_said_once_and_retried_with_back_off(
        controllers, qtbot, finished_run, tmp_path, monkeypatch):
    monkeypatch.setattr(explorer_session, "FOLLOW_MS", 20)
    run_dir = tmp_path / "live"
    shutil.copytree(finished_run, run_dir)
    _, explorer = controllers
    with qtbot.waitSignal(explorer.opened, timeout=60_000) as opened:
        explorer.open_checkpoint(run_dir)
    session = opened.args[0]
    problems = []
    session.follow_problem.connect(problems.append)
    broken = run_dir / "checkpoints" / "step_0000020.safetensors"
    broken.write_bytes(b"\x00" * 40)
    latest = run_dir / "checkpoints" / "latest.json"
    good = latest.read_text()
    latest.write_text(json.dumps({"step": 20, "generator": broken.name, "state": None}))
    session.set_following(True)
    qtbot.waitUntil(lambda: session._follow_failures >= 4, timeout=60_000)
    assert len(problems) == 1 and "step_0000020.safetensors" in problems[0]
    assert session._follow_timer.interval() == 20 * 2 ** session._follow_failures
    assert explorer.page.live_problem.isVisibleTo(explorer.page)
    assert problems[0] in explorer.page.live_problem.text()
    assert session.generator.step == 12  # the last checkpoint that loaded stays on screen
    latest.write_text(good + "\n")  # the good checkpoint is the newest again
    qtbot.waitUntil(lambda: problems[-1] == "", timeout=60_000)
    assert len(problems) == 2 and not explorer.page.live_problem.isVisibleTo(explorer.page)


@pytest.mark.parametrize("after_resume", [[7, 8], []])
def test_reading_a_resumed_run_keeps_what_the_resume_did_not_supersede(tmp_path, after_resume):
    run_dir = long_run(tmp_path, 10)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines(keepends=True)
    steps = {json.loads(line)["step"]: line for line in lines if '"type": "step"' in line}
    sample = '{{"type": "samples", "step": {0}, "file": "samples/step_{0:07d}.png"}}\n'
    text = "".join(lines[:-1]) + sample.format(10) + '{"type": "resume", "step": 6}\n'
    text += "".join(steps[s] for s in after_resume) + "".join(
        sample.format(s) for s in after_resume)
    (run_dir / "metrics.jsonl").write_text(text)
    read = run_watcher.read_run(run_dir, cancelled=lambda: False)
    kept = [*range(1, 7), *after_resume]
    assert read.history.column("step").tolist() == kept
    assert read.last_step.step == kept[-1]
    assert [e.step for e in read.events if type(e).__name__ == "SamplesEvent"] == after_resume
