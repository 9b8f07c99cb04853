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
        cfg.train.steps, cfg.train.batch_size = steps, 32
        cfg.train.sample_every, cfg.train.eval_every, cfg.train.checkpoint_every = 5, 10, 10
        cfg.train.grid_size = 64
        cfg.train.device = "cpu"
        for dotted, value in changes.items():
            section, _, key = dotted.partition("__")
            setattr(getattr(cfg, section), key, value)
        return cfg

    return make
