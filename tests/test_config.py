import json

import pytest

from ganstudio.engine.config import (
    FORMAT_VERSION,
    RunConfig,
    check_hyper,
    defaults_for,
    problems,
    validate,
    with_loss,
)
from ganstudio.engine.errors import ConfigError


def test_round_trip_through_json_keeps_every_setting(tmp_path):
    cfg = defaults_for("digits")
    cfg.optim.lr_g = 1e-3
    path = tmp_path / "config.json"
    path.write_text(cfg.to_json())
    again = RunConfig.from_json_file(path)
    assert again == cfg
    assert json.loads(path.read_text())["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("name", ["ring8", "grid25", "spiral", "moons", "digits", "shapes"])
def test_every_builtin_default_is_valid(name):
    assert problems(defaults_for(name)) == []


def test_unknown_setting_is_named():
    with pytest.raises(ConfigError, match=r"optim\.lr_x"):
        RunConfig.from_dict({"optim": {"lr_x": 1}})
    with pytest.raises(ConfigError, match="'trainer'"):
        RunConfig.from_dict({"trainer": {}})


def test_newer_format_is_refused_with_advice():
    with pytest.raises(ConfigError, match="Upgrade GAN Studio"):
        RunConfig.from_dict({"format_version": FORMAT_VERSION + 1})


def test_bad_json_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"train": {"steps": 10,}}')
    with pytest.raises(ConfigError, match=r"broken\.json.*line 1"):
        RunConfig.from_json_file(path)
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.from_json_file(tmp_path / "missing.json")


def test_problems_point_at_each_bad_field():
    cfg = defaults_for("ring8")
    cfg.optim.lr_g = -1
    cfg.train.batch_size = 0
    cfg.model.family = "dcgan"  # image model on point data
    cfg.loss.name = "wasserstein"
    fields = {p.field for p in problems(cfg)}
    assert fields == {"optim.lr_g", "train.batch_size", "model.family", "loss.name"}
    with pytest.raises(ConfigError, match="Invalid settings"):
        validate(cfg)


def test_conditional_needs_labels_and_a_conditional_family():
    cfg = defaults_for("digits")
    cfg.model.family, cfg.model.conditional = "gan2014", True
    assert [p.field for p in problems(cfg)] == ["model.conditional"]
    cfg = defaults_for("digits")
    cfg.model.conditional = True
    assert problems(cfg) == []


def test_replace_makes_a_changed_copy():
    cfg = defaults_for("ring8")
    other = cfg.replace(**{"optim.lr_g": 0.01})
    assert other.optim.lr_g == 0.01 and cfg.optim.lr_g != 0.01


@pytest.mark.parametrize("values, bad", [
    ({"lr_g": 0}, "optim.lr_g"), ({"lr_d": float("nan")}, "optim.lr_d"),
    ({"lr_g": 5.0}, "optim.lr_g"), ({"lr_g": "fast"}, "optim.lr_g"),
    ({"d_steps": 0}, "optim.d_steps"), ({"d_steps": 101}, "optim.d_steps"),
    ({"d_steps": True}, "optim.d_steps"),
])
def test_hyper_parameter_checks_are_shared_by_config_and_live_changes(values, bad):
    assert [p.field for p in check_hyper(**values)] == [bad]
    cfg = RunConfig()
    for key, value in values.items():
        setattr(cfg.optim, key, value)
    assert bad in [p.field for p in problems(cfg)]


def test_choosing_wgan_gp_applies_its_papers_optimiser_unless_set():
    cfg = with_loss(defaults_for("digits"), "wgan-gp")
    o = cfg.optim
    assert (o.name, o.lr_g, o.lr_d, o.beta1, o.beta2, o.d_steps) == (
        "adam", 1e-4, 1e-4, 0.0, 0.9, 5)
    kept = defaults_for("digits").replace(**{"optim.lr_d": 3e-4})
    kept = with_loss(kept, "wgan-gp", {"optim.lr_d"})
    assert kept.optim.lr_d == 3e-4 and kept.optim.d_steps == 5
    assert with_loss(defaults_for("digits"), "hinge").optim.d_steps == 1


def test_unknown_evaluation_is_named():
    cfg = RunConfig()
    cfg.train.evals = ["modes", "nonsense"]
    assert any(p.field == "train.evals" and "nonsense" in p.message for p in problems(cfg))
