"""The per-dataset default recipes: every setting exists, and ring8's starts learning at once.

Whether the recipes reach full mode coverage is measured by ``benchmarks/mode_coverage.py``;
that takes tens of seconds per run, too slow for the test suite.
"""

import dataclasses

import pytest
import torch

from ganstudio.engine.config import _RECIPES, RunConfig, defaults_for, problems
from ganstudio.engine.data import DATASETS
from ganstudio.engine.data.toy2d import ring8_modes
from ganstudio.engine.trainer import Trainer


@pytest.mark.parametrize("name", sorted(_RECIPES))
def test_every_recipe_setting_names_a_real_field(name):
    # defaults_for applies a recipe with setattr, which would accept a misspelt key silently
    cfg = RunConfig()
    sections = {f.name: {g.name for g in dataclasses.fields(getattr(cfg, f.name))}
                for f in dataclasses.fields(cfg) if f.name != "format_version"}
    assert name in DATASETS
    for dotted in _RECIPES[name]:
        section, _, key = dotted.partition(".")
        assert key in sections.get(section, ()), f"{name}: {dotted} is not a setting"


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mode_recipes_are_valid_and_evaluate_often_enough_to_watch(name):
    train = defaults_for(name).train
    assert problems(defaults_for(name)) == []
    assert 10 <= train.steps // train.eval_every <= 20
    assert 25 <= train.sample_every <= 100


def _mean_distance_to_nearest_mode(points: torch.Tensor) -> float:
    return float(torch.cdist(points, ring8_modes()).min(dim=1).values.mean())


def test_a_short_ring8_run_moves_samples_towards_the_modes():
    cfg = defaults_for("ring8")
    cfg.train.steps, cfg.train.device = 150, "cpu"
    cfg.train.eval_every, cfg.train.checkpoint_every = 0, 0
    trainer = Trainer(cfg)
    events = trainer.run()
    next(events)  # StartedEvent: the networks are built, nothing is trained yet
    z = torch.randn(2500, trainer.G.z_dim, generator=torch.Generator().manual_seed(0))
    before = _mean_distance_to_nearest_mode(trainer.generate(z))
    for _ in events:
        pass
    after = _mean_distance_to_nearest_mode(trainer.generate(z))
    assert after < 0.5 * before
