"""Helpers shared by the app tests: tiny configs, widgets on screen, the error box shown."""

from __future__ import annotations

from ganstudio.engine.config import RunConfig, defaults_for


def tiny_points_config(steps: int = 30) -> RunConfig:
    cfg = defaults_for("ring8")
    cfg.model.hidden, cfg.model.depth = 16, 2
    cfg.optim.lr_g = cfg.optim.lr_d = 1e-3  # the tests read these back
    cfg.train.steps, cfg.train.batch_size = steps, 32
    cfg.train.sample_every, cfg.train.eval_every, cfg.train.checkpoint_every = 5, 10, 0
    cfg.train.grid_size, cfg.train.device = 64, "cpu"
    return cfg


def tiny_image_config(steps: int = 4) -> RunConfig:
    cfg = defaults_for("digits")
    cfg.model.width = 0.125
    cfg.loss.r1_gamma = 0.0
    cfg.train.steps, cfg.train.batch_size = steps, 16
    cfg.train.sample_every, cfg.train.checkpoint_every = 2, 0
    cfg.train.device = "cpu"
    return cfg


def shown(qtbot, widget, width: int = 800, height: int = 600):
    """``widget`` at this size, shown offscreen and closed after the test."""
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def visible_error_box():
    """The error box (views.dialogs.show_error) on screen now, or None."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == "errorDialog" \
                and widget.isVisible():
            return widget
    return None
