"""End-to-end journeys in the main window, offscreen: train, steer, stop, close."""

from __future__ import annotations

import gc
import json

import numpy as np
import pytest
from app_support import tiny_image_config, tiny_points_config, visible_error_box
from PySide6.QtCore import Qt

from ganstudio.app.controllers.training_controller import TrainingController
from ganstudio.engine.errors import ConfigError
from ganstudio.engine.trainer import Trainer

LONG = 100_000  # steps: a run that only ends when stopped


def _start(window, qtbot, config):
    window.setup.set_config(config)
    assert window.setup.start_button.isEnabled()
    qtbot.mouseClick(window.setup.start_button, Qt.MouseButton.LeftButton)
    assert window.training_controller.session is not None
    return window.training_controller.session


def _wait_steps(qtbot, state, n, timeout=60_000):
    qtbot.waitUntil(lambda: len(state.history) >= n, timeout=timeout)


def test_a_run_started_from_the_setup_panel_trains_and_draws(window, qtbot):
    session = _start(window, qtbot, tiny_points_config(steps=30))
    state = session.state
    with qtbot.waitSignal(state.done, timeout=60_000) as done:
        pass
    assert done.args[0].reason == "finished"
    assert window.pages.currentWidget() is window.training
    assert len(state.history) == 30
    assert state.history.column("step").tolist() == list(range(1, 31))
    # the plots drew the whole history
    window.training.plot.refresh()
    x, y = window.training.plot.series_data("loss_d")
    assert len(x) == 30 and np.isfinite(y).all()
    # the 2-D view shows the latest snapshot and the evaluation
    points = window.training.points
    assert window.training.views.currentWidget() is points
    assert points.count() == 7 and points.current_step() == 30
    assert state.last_eval is not None and state.last_eval.step == 30
    # the run folder is the same as a headless run's
    run_dir = session.run_dir
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
    assert (run_dir / "checkpoints" / "step_0000030.safetensors").is_file()
    assert str(run_dir.resolve()) in window.settings.recent("runs")


def test_a_started_run_freezes_its_long_lived_objects(window, qtbot):
    gc.unfreeze()
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    with qtbot.waitSignal(session.state.started, timeout=60_000):
        pass
    # The dataset, networks and modules loaded so far are out of the collector's reach, so
    # a full collection during training no longer walks them (it took ~200 ms).
    assert gc.get_freeze_count() > 10_000
    window.training_controller.session.stop()
    with qtbot.waitSignal(session.state.done, timeout=60_000):
        pass


def test_image_run_updates_the_sample_grid(window, qtbot):
    session = _start(window, qtbot, tiny_image_config(steps=4))
    with qtbot.waitSignal(session.state.done, timeout=120_000):
        pass
    grid_view = window.training.samples
    assert window.training.views.currentWidget() is grid_view
    assert grid_view.count() == 3  # steps 0, 2 and 4
    assert grid_view.current_step() == 4
    image = grid_view.canvas.image()
    assert image is not None and image.shape == (8 * 30 + 2, 8 * 30 + 2, 1)
    assert window.training_controller.act_export.isEnabled()


def test_pause_step_resume_and_stop_from_the_toolbar(window, qtbot):
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    state = session.state
    _wait_steps(qtbot, state, 3)
    with qtbot.waitSignal(state.status_changed, check_params_cb=lambda s: s == "paused",
                          timeout=30_000):
        window.training_controller.act_pause.trigger()
    pause = window.training_controller.act_pause
    assert pause.isChecked() and pause.text() == "&Resume"
    paused_at = state.step
    with qtbot.waitSignal(state.steps_added, timeout=30_000):
        window.training_controller.act_step.trigger()
    assert state.step == paused_at + 1
    assert state.status == "paused"
    with qtbot.waitSignal(state.status_changed, check_params_cb=lambda s: s == "running",
                          timeout=30_000):
        window.training_controller.act_pause.trigger()
    _wait_steps(qtbot, state, paused_at + 5)
    with qtbot.waitSignal(state.done, timeout=30_000) as done:
        window.training_controller.act_stop.trigger()
    assert done.args[0].reason == "stopped"
    assert state.last_checkpoint is not None and state.last_checkpoint.final
    qtbot.waitUntil(lambda: not session.is_active(), timeout=10_000)
    runs = window.training_controller
    assert not runs.act_pause.isEnabled() and runs.act_start.isEnabled()


def test_a_step_right_after_pausing_reaches_the_window(window, qtbot):
    """The trainer blocks while paused; the step it just made must not wait in a batch."""
    config = tiny_points_config(steps=LONG)
    # no snapshot or evaluation, whose events would carry the step along with them
    config.train.sample_every = config.train.eval_every = 10**6
    session = _start(window, qtbot, config)
    state = session.state
    _wait_steps(qtbot, state, 3)
    paused_at = []  # the step when "paused" is applied; the next batch may follow at once
    state.status_changed.connect(lambda s: paused_at.append(state.step) if s == "paused" else None)
    window.training_controller.act_pause.trigger()
    window.training_controller.act_step.trigger()  # both commands reach the trainer together
    qtbot.waitUntil(lambda: bool(paused_at) and state.step == paused_at[0] + 1, timeout=10_000)
    assert state.status == "paused"


def test_a_simultaneous_run_offers_no_live_d_steps(window, qtbot):
    cfg = tiny_points_config(steps=LONG)
    cfg.optim.updates = "simultaneous"
    session = _start(window, qtbot, cfg)
    _wait_steps(qtbot, session.state, 2)
    controller = window.training_controller
    assert controller.live_lr_g.isEnabled() and not controller.live_d_steps.isEnabled()
    assert "simultaneously" in controller.live_d_steps.toolTip()
    with pytest.raises(ConfigError, match="must be 1 with simultaneous"):
        session.set_hyper(d_steps=2)
    controller.act_stop.trigger()
    qtbot.waitUntil(lambda: not session.is_active(), timeout=30_000)
    assert controller.live_d_steps.toolTip().startswith("Discriminator updates")


def test_space_toggles_pause(window, qtbot):
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    _wait_steps(qtbot, session.state, 2)
    window.training.setFocus()
    with qtbot.waitSignal(session.state.status_changed, timeout=30_000) as changed:
        qtbot.keyClick(window, " ")
    assert changed.args[0] == "paused"


def test_live_learning_rate_change_reaches_the_trainer(window, qtbot):
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    state = session.state
    _wait_steps(qtbot, state, 2)
    window.training_controller.live_lr_g.setText("5e-4")
    window.training_controller.live_lr_d.setText("3e-3")
    with qtbot.waitSignal(state.hyper_changed, timeout=30_000) as changed:
        window.training_controller.live_lr_g.editingFinished.emit()
    hyper = changed.args[0]
    assert (hyper.lr_g, hyper.lr_d) == (5e-4, 3e-3)
    with qtbot.waitSignal(state.hyper_changed, timeout=30_000) as changed:
        window.training_controller.live_d_steps.setValue(2)
    assert changed.args[0].d_steps == 2
    _wait_steps(qtbot, state, hyper.step + 3)
    steps = state.history.column("step")
    lr_g = state.history.column("lr_g")
    assert lr_g[steps == hyper.step + 1][0] == pytest.approx(5e-4)
    assert lr_g[steps == hyper.step][0] == pytest.approx(1e-3)
    assert any("applied from step" in m for m in window.notifications.messages())
    window.training_controller.act_stop.trigger()
    qtbot.waitUntil(lambda: not session.is_active(), timeout=30_000)
    records = [json.loads(line) for line in
               (session.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"type": "hyper", "step": hyper.step, "lr_g": 5e-4, "lr_d": 3e-3,
            "d_steps": 1} in records


def test_a_bad_live_learning_rate_is_refused_in_place(window, qtbot):
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    _wait_steps(qtbot, session.state, 2)
    window.training_controller.live_lr_g.setText("fast")
    window.training_controller.live_lr_g.editingFinished.emit()
    assert "not a number" in window.statusBar().currentMessage()
    assert "border" in window.training_controller.live_lr_g.styleSheet()
    window.training_controller.live_lr_g.setText("5")  # a number, but one the trainer refuses
    window.training_controller.live_lr_g.editingFinished.emit()
    assert "at most 1" in window.statusBar().currentMessage()  # the trainer's own check
    assert session.is_active()


def test_closing_during_training_stops_saves_and_ends_the_thread(window, qtbot, monkeypatch):
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    _wait_steps(qtbot, session.state, 3)
    asked = []
    monkeypatch.setattr(TrainingController, "_confirm_stop",
                        lambda self, text: asked.append(text) or True)
    assert window.close()
    assert asked and "Stop it, save a final checkpoint" in asked[0]
    assert window.stopped_in < 2.0
    assert not session.is_active()
    assert session.state.status == "stopped"
    latest = json.loads((session.run_dir / "checkpoints" / "latest.json").read_text())
    assert latest["step"] == session.state.step
    assert json.loads((session.run_dir / "run.json").read_text())["status"] == "stopped"


def test_cancelling_the_close_keeps_training(window, qtbot, monkeypatch):
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    _wait_steps(qtbot, session.state, 2)
    monkeypatch.setattr(TrainingController, "_confirm_stop", lambda self, text: False)
    assert not window.close()
    assert window.isVisible() and session.is_active()
    before = len(session.state.history)
    _wait_steps(qtbot, session.state, before + 3)


def test_a_worker_error_shows_a_dialog_and_the_app_stays_usable(window, qtbot, monkeypatch):
    original = Trainer._train_step

    def broken(self, *args):
        if self.step == 4:
            raise RuntimeError("simulated CUDA error: device-side assert triggered")
        original(self, *args)

    monkeypatch.setattr(Trainer, "_train_step", broken)
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    with qtbot.waitSignal(session.failed, timeout=60_000) as failed:
        pass
    message, details = failed.args
    assert "device-side assert" in message and "Traceback" in details
    qtbot.waitUntil(lambda: visible_error_box() is not None, timeout=5_000)
    box = visible_error_box()
    assert "Training failed" in box.windowTitle()
    assert "device-side assert" in box.text() and str(session.run_dir) in box.text()
    assert "RuntimeError" in box.detailedText()
    assert any("Training failed" in m for m in window.notifications.messages())
    run_dir = session.run_dir
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert (run_dir / "config.json").is_file()
    box.close()
    # usable: a new run starts and finishes
    monkeypatch.setattr(Trainer, "_train_step", original)
    qtbot.waitUntil(lambda: not session.is_active(), timeout=10_000)
    second = _start(window, qtbot, tiny_points_config(steps=5))
    with qtbot.waitSignal(second.state.done, timeout=60_000):
        pass



def test_nan_alert_appears_in_notifications_and_status_bar(window, qtbot, monkeypatch):
    import torch

    original = Trainer._train_step

    def poisoned(self, *args):
        original(self, *args)
        if self.step == 5:
            with torch.no_grad():
                next(self.G.parameters()).fill_(float("nan"))

    monkeypatch.setattr(Trainer, "_train_step", poisoned)
    session = _start(window, qtbot, tiny_points_config(steps=LONG))
    with qtbot.waitSignal(session.state.alert_raised, timeout=60_000) as raised:
        pass
    alert = raised.args[0]
    assert alert.kind == "nonfinite"
    assert "NaN" in window.notifications.messages()[0]
    assert window.notifications_dock.windowTitle() == "Notifications (1)"
    qtbot.waitUntil(lambda: session.state.status == "paused", timeout=30_000)
    assert window.training_controller.act_pause.isChecked()


def test_invalid_setup_blocks_start_with_inline_reasons(window, qtbot):
    window.setup.set_config(tiny_points_config())
    window.setup.lr_g.setText("-1")
    assert not window.setup.start_button.isEnabled()
    assert not window.training_controller.act_start.isEnabled()
    row = window.setup._rows["optim.lr_g"]
    assert row.error.isVisible() and "above 0" in row.error.text()
    window.setup.lr_g.setText("2e-4")
    assert not row.error.isVisible() and window.setup.start_button.isEnabled()


def test_choosing_wgan_gp_in_the_setup_panel_applies_its_settings(window, qtbot):
    setup = window.setup
    setup.lr_d.setText("3e-4")
    setup.lr_d.textEdited.emit("3e-4")  # the user typed it
    setup.loss.setCurrentText("wgan-gp")
    cfg = setup.config()
    assert cfg.loss.name == "wgan-gp"
    assert (cfg.optim.lr_g, cfg.optim.beta1, cfg.optim.beta2, cfg.optim.d_steps) == (
        1e-4, 0.0, 0.9, 5)
    assert cfg.optim.lr_d == 3e-4  # what the user set stays
    assert setup.d_steps.value() == 5 and setup.lr_g.text() == "0.0001"
