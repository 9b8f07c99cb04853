"""Stability diagnostics: each one on a run built to trigger it and on one that should not,
and the pieces (lines, ADA's controller, the AUC, the collapse measures) on fixed numbers."""

import math

import numpy as np
import pytest
import torch

from ganstudio.engine import diagnostics
from ganstudio.engine import events as ev
from ganstudio.engine.config import defaults_for, problems, validate
from ganstudio.engine.data import Dataset, DatasetInfo
from ganstudio.engine.data.batches import InMemorySource
from ganstudio.engine.errors import ConfigError
from ganstudio.engine.trainer import Trainer

BLOB = DatasetInfo("blob", "points", (2,), (), "a Gaussian blob", None)


def _blob_source(n_train: int, std: float = 1.0):
    """Training points and 512 held-out points, all from one N(0, std²) blob."""
    g = torch.Generator().manual_seed(0)
    x = std * torch.randn(n_train, 2, generator=g)
    held = std * torch.randn(512, 2, generator=g)
    return lambda device, rng: InMemorySource(Dataset(BLOB, x), device, rng,
                                              Dataset(BLOB, held))


def _blob_config(steps: int, diag_every: int = 50):
    cfg = defaults_for("ring8")
    cfg.model.hidden, cfg.model.depth, cfg.model.z_dim = 64, 3, 2
    cfg.loss.r1_gamma = 0.0
    cfg.optim.lr_g, cfg.optim.lr_d = 1e-3, 4e-3
    cfg.train.steps, cfg.train.batch_size, cfg.train.diag_every = steps, 64, diag_every
    cfg.train.sample_every, cfg.train.eval_every, cfg.train.ema = 10, 0, False
    cfg.train.checkpoint_every, cfg.train.grid_size, cfg.train.device = 0, 256, "cpu"
    return cfg


def _events(trainer, during=None):
    out = []
    for event in trainer.run():
        out.append(event)
        if during is not None:
            during(trainer, event)
    return out


def _of(events, kind, name=None):
    return [e for e in events if isinstance(e, kind) and (name is None or e.name == name)]


def _alerts(events, kind):
    return [e for e in events if isinstance(e, ev.AlertEvent) and e.kind == kind]


# --- the pieces -------------------------------------------------------------------------------


def test_a_line_fires_once_after_its_patience_and_rearms_past_its_other_edge():
    line = diagnostics.Line(on=0.5, off=0.25, patience=2)
    fired = [line.update(v) for v in (0.6, 0.4, 0.6, 0.7, 0.9, 0.3, 0.8, 0.8, 0.2, 0.6, 0.6)]
    assert fired == [False, False, False, True, False, False, False, False, False, False, True]
    low = diagnostics.Line(on=0.5, off=0.75, above=False)
    assert [low.update(v) for v in (1.0, 0.4, 0.3, 0.6, 0.8, 0.5)] == [
        False, True, False, False, False, True]
    assert not low.update(math.nan)


def test_ada_moves_p_by_batch_times_interval_over_kimg_and_clamps_it():
    ada = diagnostics.AdaptiveAugment(p=0.0, target=0.6, interval=4, kimg=1, batch=50)
    step = 50 * 4 / 1000
    for value in (0.9, 0.9, 0.7, 0.9):  # r_t = 0.85 > 0.6 after the fourth
        ada.add(value)
    assert ada.p == pytest.approx(step)
    for _ in range(4):
        ada.add(0.1)  # r_t below the target: p goes back down, and not below 0
    assert ada.p == 0.0
    for _ in range(4 * 10):
        ada.add(1.0)
    assert ada.p == 1.0  # 0.2 per adjustment, clamped at 1
    ada.add(float("nan"))  # a loss without a boundary gives no term
    restored = diagnostics.AdaptiveAugment(0.5, 0.6, 4, 1, 50)
    ada.add(0.0)
    restored.load_state_dict(ada.state_dict())
    assert restored.state_dict() == ada.state_dict() == {"p": 1.0, "sum": 0.0, "count": 1}


def test_ranking_auc_is_a_probability_of_ordering_with_ties_half():
    assert diagnostics.ranking_auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0
    assert diagnostics.ranking_auc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 0.0
    assert diagnostics.ranking_auc(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 2.0])) == 0.625


def test_real_side_reads_the_loss_boundary():
    logits = torch.tensor([-1.0, 0.2, 0.7, 2.0])
    assert float(diagnostics.real_side(logits, 0.0)) == 0.5  # non-saturating: the sign of the logit
    assert float(diagnostics.real_side(logits, 0.5)) == 0.0  # lsgan: targets 0 and 1
    assert math.isnan(float(diagnostics.real_side(logits, None)))  # wgan-gp has none


def test_overfit_record_and_its_alert():
    watch = diagnostics.OverfitWatch("nonsaturating", held_out=True)
    for value in (0.5, 0.7):
        watch.add(value)
    same = torch.linspace(-1, 1, 256)
    event, alert = watch.record(100, {"d_train": same, "d_heldout": same.flip(0),
                                      "d_fake": same - 2}, augment_p=None)
    assert event == ev.DiagEvent(100, "overfit", pytest.approx({
        "r_t": 0.6, "d_train": 0.0, "d_heldout": 0.0, "d_fake": -2.0, "heldout_gap": 0.0,
        "overfit": 0.0}, abs=1e-6))
    assert alert is None
    apart = {"d_train": same + 1, "d_heldout": same, "d_fake": same - 2}
    _, first = watch.record(200, apart, augment_p=0.25)
    event, second = watch.record(300, apart, augment_p=0.25)
    assert first is None and second.kind == "overfitting"  # two records in a row
    # two uniforms of width 2, one shifted by 1: P(a > b) = 1 − (1/2)² / 2 = 0.875
    assert event.values["overfit"] == pytest.approx(2 * 0.875 - 1, abs=0.01)
    assert event.values["augment_p"] == 0.25 and "r_t" not in event.values
    assert "p = 0.25" in second.message and "train.ada" in second.message
    assert watch.record(400, apart, augment_p=0.25)[1] is None  # once


def test_collapse_measures_against_real_data():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(64, 8, generator=g)
    watch = diagnostics.CollapseWatch(lambda x: (x, None), real,
                                      torch.randn(500, 8, generator=g))
    event, alerts = watch.record(0, real)
    assert event.values == {"diversity": 1.0, "distinct": 1.0} and alerts == []
    spread = torch.randn(64, 8, generator=g)
    event, alerts = watch.record(1, spread)
    assert 0.8 < event.values["diversity"] < 1.2 and alerts == []
    collapsed = spread[:1].repeat(64, 1) + 1e-3 * torch.randn(64, 8, generator=g)
    event, alerts = watch.record(2, collapsed)
    assert event.values["diversity"] < 0.01 and event.values["distinct"] < 0.1
    assert [a.kind for a in alerts] == ["collapse"] and "step 2" in alerts[0].message
    assert watch.record(3, collapsed)[1] == []  # said once, until it recovers


def test_classes_gone_from_the_samples_are_named_once():
    classes = ("zero", "one", "two")

    def logits_of(x):  # the samples "are" the class in their first column
        return x, torch.nn.functional.one_hot(x[:, 0].long(), 3).float() * 10

    real = torch.tensor([[0.0], [1.0], [2.0]]).repeat(10, 1)
    watch = diagnostics.CollapseWatch(logits_of, real, real, classes)
    all_three, no_two = real, torch.tensor([[0.0], [1.0]]).repeat(15, 1)
    alerts = [watch.record(s, batch)[1] for s, batch in enumerate(
        [all_three, all_three, no_two, no_two, no_two, no_two, all_three, no_two, no_two,
         no_two])]
    events = [a for step in alerts for a in step if a.kind == "classes"]
    # a third of 30 confident samples a snapshot: ten expected in each one without it, so
    # the second such snapshot (twenty expected) names it, once, until it is drawn again;
    # the second time its share was a seventh (30 of 210), so it takes three snapshots
    assert [(a.step, "two" in a.message) for a in events] == [(3, True), (9, True)]
    assert watch.record(10, no_two)[0].values["classes"] == 2.0


def test_classes_are_judged_on_the_fresh_samples_when_given():
    classes = ("zero", "one", "two")

    def logits_of(x):
        return x, torch.nn.functional.one_hot(x[:, 0].long(), 3).float() * 10

    real = torch.tensor([[0.0], [1.0], [2.0]]).repeat(10, 1)
    no_two = torch.tensor([[0.0], [1.0]]).repeat(15, 1)
    watch = diagnostics.CollapseWatch(logits_of, real, real, classes)
    # the fixed batch keeps drawing "two"; the fresh samples stop: the fresh ones decide
    steps = [(real, real), (real, real), (real, no_two), (real, no_two)]
    alerts = [a for s, (fixed, fresh) in enumerate(steps)
              for a in watch.record(s, fixed, fresh)[1] if a.kind == "classes"]
    assert [(a.step, "two" in a.message) for a in alerts] == [(3, True)]
    assert watch.record(4, real, no_two)[0].values["classes"] == 2.0


def test_a_rare_class_missing_by_chance_is_not_called_gone():
    classes = ("zero", "one", "two")

    def logits_of(x):
        return x, torch.nn.functional.one_hot(x[:, 0].long(), 3).float() * 10

    # "two" is one sample in 30 when drawn: a few snapshots without it are expected
    rare = torch.tensor([[0.0]] * 15 + [[1.0]] * 14 + [[2.0]])
    watch = diagnostics.CollapseWatch(logits_of, rare, rare, classes)
    without = torch.tensor([[0.0], [1.0]]).repeat(15, 1)
    steps = [rare, rare, without, without, without, without, without, without]
    alerts = [a for s, batch in enumerate(steps) for a in watch.record(s, batch)[1]]
    assert alerts == []
    # ... but not forever: 12 expected after 360 confident samples without it
    more = [watch.record(8 + s, without)[1] for s in range(6)]
    assert [a.kind for step in more for a in step] == ["classes"]


def test_unconfident_samples_do_not_count_against_a_class():
    classes = ("zero", "one")

    def logits_of(x):  # the second column is the confidence
        return x, torch.stack([x[:, 0], 1 - x[:, 0]], dim=1) * x[:, 1:2] * 20

    drawn = torch.tensor([[1.0, 1.0], [0.0, 1.0]]).repeat(15, 1)
    watch = diagnostics.CollapseWatch(logits_of, drawn, drawn, classes)
    unsure = torch.tensor([[1.0, 1.0]] * 2 + [[0.0, 0.01]] * 28)  # "one" drawn, unsure
    alerts = [watch.record(s, b)[1] for s, b in enumerate([drawn, drawn] + [unsure] * 5)]
    assert [a for step in alerts for a in step if a.kind == "classes"] == []


def test_gradient_table_flags_explosions_against_history_and_vanishing_against_the_net():
    G, D = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)), \
        torch.nn.Linear(2, 1)
    watch = diagnostics.GradientWatch(G, D)
    assert [name for name, _ in watch.groups["G"]] == ["0", "1"]
    for step in range(4):
        event, alert = watch.record(step, [1.0, 2.0], [0.5])
        assert event.exploding == event.vanishing == () and alert is None
    event, alert = watch.record(4, [500.0, 2.0], [1e-5])
    assert event.g == {"0": 500.0, "1": 2.0} and event.exploding == ("G:0",)
    assert alert.kind == "gradients" and "exploding gradients in G:0" in alert.message
    event, alert = watch.record(5, [1.0, 2.0], [0.0])
    assert event.vanishing == ("D:(top)",) and "vanishing gradients in D:(top)" in alert.message
    _, alert = watch.record(6, [1.0, 2e-5], [0.5])
    assert "vanishing gradients in G:1" in alert.message
    assert watch.record(7, [float("nan"), 2.0], [0.5])[0].exploding == ("G:0",)


def test_ada_needs_a_policy_and_a_boundary():
    cfg = defaults_for("digits")
    cfg.train.ada = True
    assert any(p.field == "train.ada" and "train.augment" in p.message for p in problems(cfg))
    cfg.train.augment, cfg.loss.name = "translation", "wgan-gp"
    assert any(p.field == "train.ada" and "boundary" in p.message for p in problems(cfg))
    cfg.loss.name, cfg.train.ada_target = "hinge", 1.5
    assert [p.field for p in problems(cfg)] == ["train.ada_target"]
    with pytest.raises(ConfigError, match=r"train\.diag_every"):
        validate(defaults_for("digits").replace(**{"train.diag_every": -1}))


# --- in training ------------------------------------------------------------------------------


def test_a_d_that_memorises_a_tiny_set_is_caught_and_a_large_set_is_not():
    tiny = _events(Trainer(_blob_config(300), data_source=_blob_source(16)))
    large = _events(Trainer(_blob_config(300), data_source=_blob_source(20_000)))
    tiny_overfit = [e.values["overfit"] for e in _of(tiny, ev.DiagEvent, "overfit")]
    large_overfit = [e.values["overfit"] for e in _of(large, ev.DiagEvent, "overfit")]
    assert len(tiny_overfit) == len(large_overfit) == 6
    assert tiny_overfit[-1] > 0.5 and max(large_overfit) < 0.25
    assert len(_alerts(tiny, "overfitting")) == 1 and _alerts(large, "overfitting") == []
    record = _of(tiny, ev.DiagEvent, "overfit")[-1].values
    assert set(record) == {"r_t", "d_train", "d_heldout", "d_fake", "heldout_gap", "overfit"}


def test_a_generator_forced_to_collapse_is_caught_and_a_healthy_one_is_not():
    def collapse_after_40(trainer, event):
        if isinstance(event, ev.StepEvent) and event.step == 41:
            last = trainer.G.main[-1]
            with torch.no_grad():
                last.weight.zero_()  # every z now maps to the bias: one point
            last.weight.requires_grad_(False)

    forced = _events(Trainer(_blob_config(80), data_source=_blob_source(2000)),
                     collapse_after_40)
    healthy = _events(Trainer(_blob_config(80), data_source=_blob_source(2000)))
    diversity = {e.step: e.values["diversity"] for e in _of(forced, ev.DiagEvent, "collapse")}
    assert sorted(diversity) == list(range(0, 90, 10))
    assert diversity[40] > 0.5 and diversity[50] < 0.01, diversity
    alerts = _alerts(forced, "collapse")
    assert [a.step for a in alerts] == [50]
    assert _alerts(healthy, "collapse") == []


@pytest.mark.parametrize("factor, flag", [(1e4, "exploding"), (1e-7, "vanishing")])
def test_a_layer_whose_gradients_explode_or_vanish_is_flagged(factor, flag):
    def scale(module, inputs, out):
        if out.requires_grad:
            out.register_hook(lambda grad: grad * factor)

    def scale_from_50(trainer, event):
        if isinstance(event, ev.StepEvent) and event.step == 50:
            trainer.G.main[2].register_forward_hook(scale)  # what flows back through it

    events = _events(Trainer(_blob_config(80, diag_every=10), data_source=_blob_source(2000)),
                     scale_from_50)
    tables = _of(events, ev.GradientsEvent)
    assert [t.step for t in tables] == list(range(10, 90, 10))
    assert set(tables[0].g) == {"main.0", "main.2", "main.4", "main.6"}
    assert set(tables[0].d) == {"body.0", "body.2", "body.4", "head"}
    for table in tables[:4]:
        assert table.exploding == table.vanishing == ()
    flagged = getattr(tables[5], flag)
    assert set(flagged) == {"G:main.0", "G:main.2"}  # the layers below the scaled output
    alerts = _alerts(events, "gradients")
    assert len(alerts) == 1 and alerts[0].step == 60 and f"{flag} gradients" in alerts[0].message


def test_diagnostics_off_write_nothing_and_ride_along_with_no_change_to_training(tiny_config):
    on = Trainer(tiny_config(steps=20, train__diag_every=5))
    off = Trainer(tiny_config(steps=20, train__diag_every=0))
    events_on, events_off = _events(on), _events(off)
    assert _of(events_off, ev.DiagEvent) == [] and _of(events_off, ev.GradientsEvent) == []
    assert len(_of(events_on, ev.DiagEvent, "overfit")) == 4
    assert len(_of(events_on, ev.GradientsEvent)) == 4
    for a, b in zip(on.G.parameters(), off.G.parameters()):
        assert torch.equal(a, b)  # measuring never moves the trajectory


def test_the_fresh_class_samples_leave_the_training_trajectory_alone():
    def config(diag_every):
        cfg = defaults_for("digits")
        cfg.model.width, cfg.train.ema = 0.125, False
        cfg.train.steps, cfg.train.batch_size, cfg.train.device = 6, 8, "cpu"
        cfg.train.sample_every, cfg.train.checkpoint_every = 2, 0
        cfg.train.eval_every, cfg.train.diag_every = 0, diag_every
        return cfg

    on, off = Trainer(config(2)), Trainer(config(0))
    events_on, _ = _events(on), _events(off)
    collapse = _of(events_on, ev.DiagEvent, "collapse")
    assert len(collapse) == 4 and all("classes" in e.values for e in collapse)  # 0, 2, 4, 6
    assert on._class_rng is not None  # the digits classifier judged fresh samples
    for a, b in zip(on.G.parameters(), off.G.parameters()):
        assert torch.equal(a, b)


def _image_source(n: int):
    """``n`` fixed random 16 × 16 grey images."""
    g = torch.Generator().manual_seed(1)
    info = DatasetInfo("noise16", "images", (1, 16, 16), (), "random images", n)
    x = (torch.rand(n, 1, 16, 16, generator=g) * 255).to(torch.uint8)
    return lambda device, rng: InMemorySource(Dataset(info, x), device, rng)


def _ada_config(steps: int):
    cfg = defaults_for("digits")
    cfg.model.width, cfg.loss.r1_gamma, cfg.train.ema = 0.125, 0.0, False
    cfg.train.steps, cfg.train.batch_size, cfg.train.device = steps, 8, "cpu"
    cfg.train.sample_every, cfg.train.checkpoint_every, cfg.train.diag_every = 4, 4, 2
    cfg.train.augment, cfg.train.augment_p = "translation", 0.0
    cfg.train.ada, cfg.train.ada_interval, cfg.train.ada_kimg = True, 2, 1
    cfg.optim.lr_d = 2e-3
    return cfg


def test_ada_raises_p_while_d_memorises_and_resumes_exactly(tmp_path):
    one_go = Trainer(_ada_config(8), run_dir=tmp_path / "a", data_source=_image_source(16))
    events = _events(one_go)
    ps = [e.values["augment_p"] for e in _of(events, ev.DiagEvent, "overfit")]
    # p starts at 0 and stays there while r_t < 0.6; D puts every one of the 16 images on
    # its real side from step 3, and p rises by batch · interval / (kimg · 1000) each time
    step = 8 * 2 / 1000
    assert ps == pytest.approx([0.0, step, 2 * step, 3 * step])
    assert one_go.augment_p == pytest.approx(ps[-1]) and 0 < one_go.augment_p <= 1
    first = Trainer(_ada_config(4), run_dir=tmp_path / "b", data_source=_image_source(16))
    _events(first)
    second = Trainer(_ada_config(8), run_dir=tmp_path / "b", data_source=_image_source(16),
                     resume=tmp_path / "b" / "checkpoints" / "step_0000004.safetensors")
    resumed = _events(second)
    assert second.augment_p == one_go.augment_p
    assert [e.values for e in _of(resumed, ev.DiagEvent, "overfit")] == \
        [e.values for e in _of(events, ev.DiagEvent, "overfit") if e.step > 4]
    for a, b in zip(one_go.G.parameters(), second.G.parameters()):
        assert torch.equal(a, b)


def test_collapse_uses_the_bundled_classifier_and_counts_classes():
    featurise, classes = diagnostics.sample_features(
        DatasetInfo("digits", "images", (1, 28, 28), tuple("0123456789"), "", None),
        (-1.0, 1.0), torch.device("cpu"))
    assert classes == tuple("0123456789")
    features, logits = featurise(torch.zeros(5, 1, 28, 28) - 1)
    assert features.shape == (5, 128) and logits.shape == (5, 10)
    pixels, none = diagnostics.sample_features(
        DatasetInfo("noise16", "images", (1, 16, 16), (), "", None), (0.0, 1.0),
        torch.device("cpu"))
    out, logits = pixels(torch.full((2, 1, 16, 16), 0.5))
    assert none == () and logits is None and torch.equal(out, torch.zeros(2, 256))
    assert np.isfinite(features.numpy()).all()
