"""Helpers shared by the app tests: a window with its own settings, tiny configs."""

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
