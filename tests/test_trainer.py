"""The trainer as a plain generator: its events, every command, and the NaN guard."""

import math
import threading

import numpy as np
import pytest
import torch

from ganstudio.engine import events as ev
from ganstudio.engine.errors import ConfigError
from ganstudio.engine.trainer import Trainer


def _collect(trainer, until=None):
    out = []
    for event in trainer.run():
        out.append(event)
        if until is not None and until(event, out):
            break
    return out


def _of(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_a_run_yields_steps_samples_evals_and_done(tiny_config):
    events = _collect(Trainer(tiny_config(steps=20)))
    assert isinstance(events[0], ev.StartedEvent)
    assert events[0].total_steps == 20 and events[0].device == "cpu"
    steps = _of(events, ev.StepEvent)
    assert [s.step for s in steps] == list(range(1, 21))
    for s in steps:
        assert all(math.isfinite(v) for v in (s.loss_g, s.loss_d, s.grad_g, s.grad_d))
        assert 0 <= s.d_real <= 1 and 0 <= s.d_fake <= 1
        assert s.lr_g == pytest.approx(1e-3) and s.d_steps == 1
    assert steps[-1].its > 0
    samples = _of(events, ev.SamplesEvent)
    assert [s.step for s in samples] == [0, 5, 10, 15, 20]
    assert samples[0].points.shape == (64, 2) and samples[0].points.dtype == np.float32
    evals = _of(events, ev.EvalEvent)
    assert [e.step for e in evals] == [10, 20]
    assert set(evals[0].metrics) == {"modes", "n_modes", "high_quality", "reverse_kl"}
    assert events[-1] == ev.DoneEvent(20, "finished", events[-1].elapsed)


def test_image_snapshots_are_uint8_grids_with_a_row_per_class(tiny_config):
    cfg = tiny_config(steps=2)
    cfg.data.name, cfg.model.family, cfg.model.width = "digits", "dcgan", 0.125
    cfg.model.conditional, cfg.train.grid_size, cfg.train.eval_every = True, 64, 0
    samples = _of(_collect(Trainer(cfg)), ev.SamplesEvent)
    grid = samples[-1].grid
    assert grid.dtype == np.uint8 and grid.flags["C_CONTIGUOUS"]
    assert samples[-1].nrow == 8
    # 10 classes × 8 columns of 28 px cells with 2 px padding
    assert grid.shape == (10 * 30 + 2, 8 * 30 + 2, 1)
    assert samples[-1].labels.tolist() == [c for c in range(10) for _ in range(8)]


def test_a_seeded_cpu_run_is_deterministic(tiny_config):
    def final_weights():
        trainer = Trainer(tiny_config(steps=15))
        _collect(trainer)
        return [p.detach().clone() for p in trainer.G.parameters()]

    for a, b in zip(final_weights(), final_weights()):
        assert torch.equal(a, b)


def test_pause_step_resume_and_stop(tiny_config):
    trainer = Trainer(tiny_config(steps=1000))
    seen = []
    gen = trainer.run()
    for event in gen:
        seen.append(event)
        if isinstance(event, ev.StepEvent) and event.step == 3:
            trainer.pause()
            break
    paused = next(e for e in gen if isinstance(e, ev.StatusEvent))
    assert paused.state == "paused" and paused.step == 3
    trainer.step_once()
    trainer.step_once()
    stepped = [next(gen), next(gen)]
    assert [e.step for e in stepped] == [4, 5]
    assert all(isinstance(e, ev.StepEvent) for e in stepped)
    trainer.resume()
    resumed = next(e for e in gen if isinstance(e, ev.StatusEvent))
    assert resumed == ev.StatusEvent(5, "running")
    trainer.stop()
    rest = list(gen)
    done = rest[-1]
    assert isinstance(done, ev.DoneEvent) and done.reason == "stopped"
    assert done.step < 1000


def test_paused_trainer_waits_for_a_command_from_another_thread(tiny_config):
    trainer = Trainer(tiny_config(steps=1000))
    gen = trainer.run()
    for event in gen:
        if isinstance(event, ev.StepEvent):
            trainer.pause()
            break
    assert next(e for e in gen if isinstance(e, ev.StatusEvent)).state == "paused"
    timer = threading.Timer(0.2, trainer.stop)
    timer.start()
    rest = list(gen)  # blocks while paused until the Stop arrives
    assert rest[-1].reason == "stopped"
    assert not _of(rest, ev.StepEvent)


def test_live_hyper_parameter_change_applies_at_the_next_step(tiny_config):
    trainer = Trainer(tiny_config(steps=10))
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, ev.StepEvent) and event.step == 4:
            trainer.set_hyper(lr_g=5e-4, lr_d=2e-3, d_steps=3)
    hyper = _of(events, ev.HyperEvent)
    assert hyper == [ev.HyperEvent(4, 5e-4, 2e-3, 3)]
    steps = {s.step: s for s in _of(events, ev.StepEvent)}
    assert steps[4].lr_g == pytest.approx(1e-3)
    assert (steps[5].lr_g, steps[5].lr_d, steps[5].d_steps) == (5e-4, 2e-3, 3)
    assert trainer.opt_d.param_groups[0]["lr"] == 2e-3


@pytest.mark.parametrize("change", [{"lr_g": -1.0}, {"lr_d": 0}, {"lr_g": float("nan")},
                                    {"lr_d": 5.0}, {"d_steps": 0}, {"d_steps": 2.5}])
def test_an_invalid_live_change_is_refused_on_the_callers_side(tiny_config, change):
    trainer = Trainer(tiny_config(steps=10))
    gen = trainer.run()
    next(gen)
    with pytest.raises(ConfigError, match=next(iter(change))):
        trainer.set_hyper(**change)
    events = list(gen)  # the run goes on, untouched
    assert events[-1].reason == "finished"
    assert all(s.lr_g == pytest.approx(1e-3) for s in _of(events, ev.StepEvent))


def test_an_invalid_command_never_ends_a_run(tiny_config):
    trainer = Trainer(tiny_config(steps=10))
    gen = trainer.run()
    next(gen)
    trainer.commands.put(ev.SetHyper(lr_g=float("nan"), d_steps=3))  # skipping set_hyper
    events = list(gen)
    alert = _of(events, ev.AlertEvent)[0]
    assert alert.kind == "hyper" and "lr_g" in alert.message
    assert events[-1].reason == "finished" and not _of(events, ev.HyperEvent)
    assert all(s.d_steps == 1 for s in _of(events, ev.StepEvent))


def test_save_now_writes_a_checkpoint(tiny_config, tmp_path):
    trainer = Trainer(tiny_config(steps=8), run_dir=tmp_path / "run")
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, ev.StepEvent) and event.step == 3:
            trainer.save_now()
    saved = _of(events, ev.CheckpointEvent)
    assert [(c.step, c.final) for c in saved] == [(3, False), (8, True)]
    assert (tmp_path / "run" / "checkpoints" / "step_0000003.safetensors").is_file()


def test_nan_guard_rolls_back_everything_that_made_the_weights(tiny_config, monkeypatch,
                                                               tmp_path):
    from ganstudio.engine import trainer as trainer_module
    from ganstudio.engine.runs import RunFolder

    monkeypatch.setattr(trainer_module, "GUARD_EVERY", 4)
    trainer = Trainer(tiny_config(steps=1000), run_dir=tmp_path / "run")
    original = Trainer._train_step
    good = {}

    def poisoned(self, *args):
        if self.step == 4:  # the last good state is the one after step 4's report
            good["G"] = [p.detach().clone() for p in self.G.parameters()]
            good["opt_g"] = self.opt_g.state_dict()["state"][0]["exp_avg"].clone()
            good["rng"] = self.rng.get_state().clone()
        original(self, *args)
        if self.step == 6:  # the update that makes step 7 diverge
            with torch.no_grad():
                next(self.G.parameters()).fill_(float("nan"))

    monkeypatch.setattr(Trainer, "_train_step", poisoned)
    gen = trainer.run()
    events = []
    for event in gen:
        events.append(event)
        if isinstance(event, ev.StatusEvent):
            break
    assert _of(events, ev.RollbackEvent) == [ev.RollbackEvent(4, 8)]
    alert = _of(events, ev.AlertEvent)[0]
    assert alert.kind == "nonfinite" and alert.level == "error" and alert.step == 8
    assert "rolled back to step 4" in alert.message
    assert events[-1] == ev.StatusEvent(4, "paused")
    assert trainer.step == 4  # the step counter goes back with the weights
    for restored, before in zip(trainer.G.parameters(), good["G"]):
        assert torch.equal(restored, before)
    assert torch.equal(trainer.opt_g.state_dict()["state"][0]["exp_avg"], good["opt_g"])
    assert torch.equal(trainer.rng.get_state(), good["rng"])
    trainer.step_once()
    stepped = next(e for e in gen if isinstance(e, ev.StepEvent))
    assert stepped.step == 5  # counting on from the good step
    trainer.stop()
    rest = list(gen)
    assert rest[-1].reason == "stopped"
    assert _of(rest, ev.CheckpointEvent)[-1].path.endswith("step_0000005.safetensors")
    history = RunFolder(tmp_path / "run").metrics()
    steps = [r["step"] for r in history if r["type"] == "step"]
    assert steps == [1, 2, 3, 4, 5]  # the history of these weights: 5 to 8 superseded
    assert any(r["type"] == "rollback" and r["from"] == 8 for r in history)


def test_divergence_warning_when_d_wins(tiny_config, monkeypatch):
    from ganstudio.engine import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "DIVERGENCE_WINDOW", 5)
    watch = trainer_module._DivergenceWatch("nonsaturating")
    messages = [watch.update(step, 0.999, 0.001) for step in range(1, 60)]
    warnings = [m for m in messages if m]
    assert len(warnings) == 1 and "discriminator is winning" in warnings[0]
    assert trainer_module._DivergenceWatch("hinge").update(100, 5.0, -5.0) is None


@pytest.mark.parametrize("loss", ["minimax", "lsgan", "hinge", "wgan-gp"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_every_loss_and_optimiser_trains(tiny_config, loss, optimizer):
    cfg = tiny_config(steps=3)
    cfg.loss.name, cfg.optim.name = loss, optimizer
    trainer = Trainer(cfg)
    gen = trainer.run()
    next(gen)
    # weights only: a bias can rightly stand still (hinge: D's output bias gets +1 − 1 at first)
    weights = [p for p in (*trainer.G.parameters(), *trainer.D.parameters()) if p.dim() > 1]
    before = [p.detach().clone() for p in weights]
    steps = _of(list(gen), ev.StepEvent)
    assert len(steps) == 3 and all(math.isfinite(s.loss_d) for s in steps)
    assert all(not torch.equal(a, b) for a, b in zip(weights, before))  # every layer learns
    expected = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD,
                "rmsprop": torch.optim.RMSprop}[optimizer]
    assert type(trainer.opt_g) is expected and type(trainer.opt_d) is expected


def test_conditional_toy_snapshots_cycle_through_the_classes(tiny_config):
    cfg = tiny_config(steps=3)
    cfg.model.conditional = True
    events = _collect(Trainer(cfg))
    samples = _of(events, ev.SamplesEvent)[-1]
    assert samples.labels.tolist()[:9] == [0, 1, 2, 3, 4, 5, 6, 7, 0]


@pytest.mark.parametrize("d_steps", [1, 3])
@pytest.mark.parametrize("r1_every", [1, 4])
def test_r1_weighs_the_same_per_d_update_for_any_d_steps(tiny_config, monkeypatch, d_steps,
                                                         r1_every):
    """γ means the same whatever d_steps: the gradient the R1 term puts into D's loss, summed
    over a run, is γ/2 per D update."""
    from ganstudio.engine import losses

    applied = []

    def spy(critic, real):
        probe = torch.ones((), requires_grad=True)  # its gradient is the weight R1 gets
        applied.append(probe)
        return probe

    monkeypatch.setattr(losses, "r1_penalty", spy)
    cfg = tiny_config(steps=8, optim__d_steps=d_steps)
    cfg.loss.r1_gamma, cfg.loss.r1_every = 2.0, r1_every
    _collect(Trainer(cfg))
    assert len(applied) == 8 // r1_every
    assert sum(float(p.grad) for p in applied) == pytest.approx(0.5 * 2.0 * 8 * d_steps)


def test_r1_off_applies_no_penalty(tiny_config, monkeypatch):
    from ganstudio.engine import losses

    calls = []
    real_penalty = losses.r1_penalty
    monkeypatch.setattr(losses, "r1_penalty",
                        lambda critic, real: calls.append(1) or real_penalty(critic, real))
    _collect(Trainer(tiny_config(steps=4)))  # r1_gamma 0.1 in the ring8 defaults
    assert len(calls) == 4
    calls.clear()
    cfg = tiny_config(steps=4)
    cfg.loss.r1_gamma = 0.0
    _collect(Trainer(cfg))
    assert not calls


def test_d_only_steps_build_no_generator_graph_and_g_step_leaves_d_alone(tiny_config,
                                                                       monkeypatch):
    trainer = Trainer(tiny_config(steps=3, optim__d_steps=3))
    gen = trainer.run()
    next(gen)  # set up
    graphs, d_grads = [], []
    g_forward, d_step = trainer.G.forward, trainer.opt_d.step

    def counting_forward(*args, **kwargs):
        graphs.append(torch.is_grad_enabled())
        return g_forward(*args, **kwargs)

    def recording_step(*args, **kwargs):
        d_grads.append([p.grad.clone() for p in trainer.D.parameters()])
        return d_step(*args, **kwargs)

    monkeypatch.setattr(trainer.G, "forward", counting_forward)
    monkeypatch.setattr(trainer.opt_d, "step", recording_step)
    trainer._pending, trainer._pending_moves = [], []
    trainer._train_step()
    assert graphs == [False, False, True]  # only the fakes that G's update uses need a graph
    for grad, at_update in zip((p.grad for p in trainer.D.parameters()), d_grads[-1]):
        assert torch.equal(grad, at_update)  # G's backward added nothing to D's gradients
    assert all(p.requires_grad for p in trainer.D.parameters())
    gen.close()


def test_ema_follows_the_published_recursion(tiny_config, monkeypatch):
    """ema ← d·ema + (1 − d)·G after every step, d = min(decay, (1 + t) / (10 + t))."""
    trainer = Trainer(tiny_config(steps=12, train__ema=True, train__ema_decay=0.9))
    snapshots = []
    original = Trainer._update_ema

    def record(self):
        snapshots.append((self.step, [p.detach().clone() for p in self.G.parameters()]))
        original(self)

    monkeypatch.setattr(Trainer, "_update_ema", record)
    gen = trainer.run()
    next(gen)
    expected = [p.detach().clone() for p in trainer.G_ema.parameters()]
    list(gen)
    for t, params in snapshots:
        d = min(0.9, (1 + t) / (10 + t))
        expected = [d * e + (1 - d) * p for e, p in zip(expected, params)]
    assert [t for t, _ in snapshots] == list(range(12))
    for got, want in zip(trainer.G_ema.parameters(), expected):
        assert torch.allclose(got, want, atol=1e-6)
    assert trainer.sampler is trainer.G_ema


def test_gan2014_trains_on_digits(tiny_config):
    cfg = tiny_config(steps=2)
    cfg.data.name, cfg.model.family, cfg.train.eval_every = "digits", "gan2014", 0
    trainer = Trainer(cfg)
    events = _collect(trainer)
    grid = _of(events, ev.SamplesEvent)[-1].grid
    assert grid.shape == (8 * 30 + 2, 8 * 30 + 2, 1)
    out = trainer.generate(torch.randn(16, trainer.G.z_dim))
    assert out.shape == (16, 1, 28, 28) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_two_d_snapshots_carry_the_discriminator_field(tiny_config):
    trainer = Trainer(tiny_config(steps=5))
    snap = _of(_collect(trainer), ev.SamplesEvent)[-1]
    x0, x1, y0, y1 = snap.extent
    assert x0 < -2 and x1 > 2 and y0 < -2 and y1 > 2  # the ring of radius 2 is inside
    assert snap.field.shape == (64, 64) and snap.field.dtype == np.float32
    assert ((snap.field >= 0) & (snap.field <= 1)).all()  # probabilities for this loss
    # the field's top-left cell is D at (x0, y1)
    with torch.no_grad():
        corner = torch.sigmoid(trainer.D(torch.tensor([[x0, y1]]))).item()
    assert snap.field[0, 0] == pytest.approx(corner, abs=1e-5)


def test_diffaugment_shows_d_augmented_real_and_fake_images(tiny_config, monkeypatch):
    cfg = tiny_config(steps=2, train__augment="cutout", train__eval_every=0)
    cfg.data.name, cfg.model.family, cfg.model.width = "digits", "dcgan", 0.125
    trainer = Trainer(cfg)
    gen = trainer.run()
    next(gen)
    seen = []
    d_forward = trainer.D.forward

    def spy(x, labels=None):
        seen.append(x.detach().clone())
        return d_forward(x, labels)

    monkeypatch.setattr(trainer.D, "forward", spy)
    list(gen)
    # cutout zeroes a square of half the side (clipped at the border: at least a quarter of
    # it) in every image D sees: real, fake and G's; no such value occurs in either otherwise
    for batch in seen[:3]:
        per_image = (batch == 0).flatten(1).sum(1)
        assert bool((per_image >= 7 * 7).all())


def test_augmentation_with_probability_zero_changes_nothing(tiny_config):
    def trained(**changes):
        cfg = tiny_config(steps=3, train__eval_every=0, **changes)
        cfg.data.name, cfg.model.family, cfg.model.width = "digits", "dcgan", 0.125
        trainer = Trainer(cfg)
        list(trainer.run())
        return list(trainer.G.parameters())

    for a, b in zip(trained(), trained(train__augment="color,translation", train__augment_p=0.0)):
        assert torch.equal(a, b)
