"""Shared fixtures. Every test session gets its own dataset cache, so tests never touch the
user's cache and the digits set is built at most once per session."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("GANSTUDIO_CACHE", tempfile.mkdtemp(prefix="ganstudio-test-cache-"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def tiny_config():
    """A toy run on ring8 that trains in well under a second."""
    from ganstudio.engine.config import defaults_for

    def make(steps: int = 20, **changes):
        cfg = defaults_for("ring8")
        cfg.model.hidden, cfg.model.depth = 16, 2
        cfg.optim.lr_g = cfg.optim.lr_d = 1e-3  # the tests read these back
        cfg.train.steps, cfg.train.batch_size = steps, 32
        cfg.train.sample_every, cfg.train.eval_every, cfg.train.checkpoint_every = 5, 10, 10
        cfg.train.grid_size = 64
        cfg.train.device = "cpu"
        for dotted, value in changes.items():
            section, _, key = dotted.partition("__")
            setattr(getattr(cfg, section), key, value)
        return cfg

    return make


@pytest.fixture
def app_settings(tmp_path):
    """App settings in an ini file of the test's own, with runs under tmp_path."""
    from PySide6.QtCore import QSettings

    from ganstudio.app.settings import AppSettings

    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_runs_dir(tmp_path / "runs")
    return settings


@pytest.fixture
def window(qtbot, app_settings, monkeypatch):
    """The main window, offscreen. At teardown any training is stopped and awaited.

    Not registered with qtbot.addWidget: pytest-qt closes those before fixtures finish,
    which would ask the user whether to stop a run still training.
    """
    from ganstudio.app import theme
    from ganstudio.app.controllers.training_controller import TrainingController
    from ganstudio.app.main_window import MainWindow

    theme.configure_pyqtgraph()
    win = MainWindow(app_settings)
    win.show()
    yield win
    monkeypatch.setattr(TrainingController, "_confirm_stop", lambda self, text: True)
    session = win.training_controller.session
    if session is not None and session.is_active():
        session.stop()
        assert session.wait(30_000), "the training thread did not end"
    win.close()
    win.deleteLater()
    qtbot.wait(1)  # let the deferred delete run inside the test's Qt session
