"""The window's other journeys: welcome actions, run folders (live too), drops, settings, help."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from app_support import tiny_points_config, visible_error_box
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from ganstudio.app.main_window import MainWindow
from ganstudio.engine.trainer import Trainer


@pytest.fixture
def finished_run(tmp_path):
    run_dir = tmp_path / "finished"
    list(Trainer(tiny_points_config(steps=12), run_dir=run_dir).run())
    return run_dir


def test_welcome_page_is_shown_with_its_actions(window):
    assert window.pages.currentIndex() == 0  # the welcome page
    titles = [card.title for card in window.welcome.cards.values()]
    assert titles[:3] == ["Train on built-in digits", "Watch a 2-D GAN learn (ring of 8)",
                          "Open a checkpoint…"]


@pytest.mark.parametrize(("card", "dataset", "family"),
                         [("digits", "digits", "dcgan"), ("ring", "ring8", "toy")])
def test_welcome_cards_start_training_in_one_click(window, qtbot, card, dataset, family):
    qtbot.mouseClick(window.welcome.cards[card], Qt.MouseButton.LeftButton)
    session = window.training_controller.session
    assert session is not None and session.config.data.name == dataset
    assert session.config.model.family == family
    assert window.pages.currentWidget() is window.training
    qtbot.waitUntil(lambda: session.state.status == "running", timeout=60_000)
    window.training_controller.act_stop.trigger()
    qtbot.waitUntil(lambda: not session.is_active(), timeout=60_000)


def test_welcome_open_run_folder_and_recent_list(window, qtbot, monkeypatch, finished_run):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(finished_run)))
    runs = window.training_controller
    with qtbot.waitSignal(runs.run_opened, timeout=30_000):
        qtbot.mouseClick(window.welcome.open_run_button, Qt.MouseButton.LeftButton)
    state = window.training.state
    assert runs.watcher is not None and not runs.watcher.live
    assert state.status == "finished" and len(state.history) == 12
    assert window.training.points.count() == 4  # steps 0, 5, 10 and the final 12
    window.show_welcome()
    recent = window.welcome.recent_runs
    assert recent.item(0).data(Qt.ItemDataRole.UserRole) == str(finished_run.resolve())
    runs.close_run()
    assert window.pages.currentIndex() == 0  # the welcome page
    with qtbot.waitSignal(runs.run_opened, timeout=30_000):
        window.welcome.open_recent.emit("runs", str(finished_run.resolve()))
    assert window.training.state is not state and len(window.training.state.history) == 12


def test_welcome_open_checkpoint_action_uses_a_file_dialog(window, qtbot, monkeypatch,
                                                          finished_run):
    checkpoint = finished_run / "checkpoints" / "step_0000012.safetensors"
    asked = []

    def fake_dialog(*args, **kwargs):
        asked.append(args)
        return str(checkpoint), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_dialog))
    with qtbot.waitSignal(window.explorer_controller.opened, timeout=30_000):
        qtbot.mouseClick(window.welcome.cards["checkpoint"], Qt.MouseButton.LeftButton)
    assert asked
    assert window.pages.currentWidget() is window.explorer_page
    assert str(checkpoint.resolve()) in window.settings.recent("checkpoints")


def test_opening_something_else_explains_what_can_be_opened(window, qtbot, tmp_path):
    stray = tmp_path / "notes.txt"
    stray.write_text("My notes on this run: lower the learning rate next time.")
    window.open_path(stray)  # read off the UI thread: the loader tells files apart by content
    qtbot.waitUntil(lambda: visible_error_box() is not None, timeout=10_000)
    box = visible_error_box()
    assert "notes.txt is not a generator file GAN Studio can open: it is text" in box.text()
    assert "GAN Studio checkpoints (.safetensors)" in box.text()
    box.close()
    assert not window.open_path(tmp_path / "missing.safetensors")
    box = visible_error_box()
    assert box is not None and "neither a GAN Studio run folder nor a generator" in box.text()
    box.close()


def test_a_run_folder_being_written_by_another_process_is_followed_live(window, qtbot,
                                                                       tmp_path):
    run_dir = tmp_path / "live"
    config = tmp_path / "tiny.json"
    config.write_text(tiny_points_config(steps=1_000_000).to_json())
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganstudio", "train", "--config", str(config),
         "--out", str(run_dir), "--quiet"],
        stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        metrics = run_dir / "metrics.jsonl"
        qtbot.waitUntil(lambda: metrics.exists() and b'"step"' in metrics.read_bytes(),
                        timeout=120_000)
        with qtbot.waitSignal(window.training_controller.run_opened, timeout=30_000):
            assert window.open_path(run_dir)
        state = window.training.state
        assert window.training_controller.watcher.live
        seen = len(state.history)
        qtbot.waitUntil(lambda: len(state.history) > seen + 20, timeout=60_000)
        qtbot.waitUntil(lambda: window.training.points.count() >= 2, timeout=60_000)
        assert state.status == "running"
        proc.send_signal(signal.SIGINT)  # the other process stops with a final checkpoint
        with qtbot.waitSignal(state.done, timeout=60_000) as done:
            pass
        assert done.args[0].reason == "stopped"
        qtbot.waitUntil(lambda: not window.training_controller.watcher.live, timeout=10_000)
        steps = state.history.column("step")
        assert steps[-1] == done.args[0].step and (steps[1:] > steps[:-1]).all()
    finally:
        proc.kill()
        proc.wait()


def test_dropping_a_run_folder_opens_it(window, qtbot, finished_run):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(finished_run))])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert event.isAccepted()
    qtbot.waitUntil(lambda: window.training_controller.watcher is not None, timeout=30_000)
    assert window.training.state.status == "finished"


def test_drops_of_other_files_are_not_accepted(window, tmp_path):
    stray = tmp_path / "photo.jpg"
    stray.write_bytes(b"\xff\xd8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(stray))])
    assert MainWindow._dropped_path(_FakeDrag(mime)) is None


class _FakeDrag:
    def __init__(self, mime):
        self._mime = mime

    def mimeData(self):
        return self._mime


def test_settings_are_remembered_between_sessions(qtbot, app_settings, tmp_path,
                                                  finished_run):
    first = MainWindow(app_settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(1000, 720)
    qtbot.waitUntil(lambda: first.size().height() == 720)
    first.notifications_dock.hide()
    with qtbot.waitSignal(first.training_controller.run_opened, timeout=30_000):
        first.open_path(finished_run)
    cfg = tiny_points_config()
    cfg.optim.lr_g = 0.0042
    first.setup.set_config(cfg)
    first.training.plot.set_log_scale(True)
    first.close()

    second = MainWindow(app_settings)
    qtbot.addWidget(second)
    second.show()
    # (the offscreen screen is 800 px wide, so only the height survives unclamped)
    assert second.size().height() == 720
    assert not second.notifications_dock.isVisible() and second.setup_dock.isVisible()
    assert second.setup.config().optim.lr_g == 0.0042
    assert second.training.plot.log_scale() and second.act_log.isChecked()
    assert app_settings.recent("runs")[0] == str(finished_run.resolve())
    assert app_settings.runs_dir() == tmp_path / "runs"


def test_runs_folder_can_be_changed(window, monkeypatch, tmp_path, qtbot):
    target = tmp_path / "elsewhere"
    target.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(target)))
    window.training_controller.act_runs_dir.trigger()
    assert window.settings.runs_dir() == target
    session_ok = window.training_controller.start_training(tiny_points_config(steps=3))
    assert session_ok and window.training_controller.session.run_dir.parent == target
    qtbot.waitUntil(lambda: not window.training_controller.session.is_active(), timeout=60_000)


def test_keyboard_shortcuts_dialog_lists_the_actions(window, qtbot):
    window.act_shortcuts.trigger()
    dialog = next(w for w in QApplication.topLevelWidgets()
                  if isinstance(w, QDialog) and w.windowTitle() == "Keyboard shortcuts")
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text()
            for r in range(dialog.table.rowCount())}
    assert rows["Pause"] == "Space"
    assert rows["Save checkpoint"] == "Ctrl+S"
    assert rows["Open checkpoint"] == "Ctrl+O"
    dialog.close()


def test_about_names_the_versions_and_device(window, monkeypatch):
    import PySide6
    import torch

    shown = []
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda *a: shown.append(a)))
    window.act_about.trigger()
    text = shown[0][2]
    assert torch.__version__ in text and PySide6.__version__ in text
    assert "GAN Studio 0.1.0" in text and "Device" in text


def test_menus_use_standard_shortcuts(window):
    assert window.explorer_controller.act_open_checkpoint.shortcut().toString() == "Ctrl+O"
    assert window.act_quit.shortcut().toString() == "Ctrl+Q"
    assert window.act_new.shortcut().toString() == "Ctrl+N"
    assert window.training_controller.act_save.shortcut().toString() == "Ctrl+S"
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Training", "&Explore", "&View", "&Help"]


def test_new_training_shows_the_setup_panel(window, qtbot):
    window.setup_dock.hide()
    qtbot.mouseClick(window.welcome.new_button, Qt.MouseButton.LeftButton)
    assert window.setup_dock.isVisible()



@pytest.mark.parametrize("explore", [False, True])
def test_the_command_line_opens_a_run_or_explores_it(qtbot, app_settings, finished_run,
                                                     explore):
    from ganstudio.app.main import show_window

    window = show_window(app_settings, open_path=finished_run, explore=explore)
    qtbot.addWidget(window)
    if explore:  # ganstudio explore RUN_DIR: the explorer, following the run
        with qtbot.waitSignal(window.explorer_controller.opened, timeout=60_000) as opened:
            pass
        assert opened.args[0].following and window.pages.currentWidget() is window.explorer_page
    else:  # ganstudio RUN_DIR
        with qtbot.waitSignal(window.training_controller.run_opened, timeout=60_000):
            pass
        assert window.pages.currentWidget() is window.training
