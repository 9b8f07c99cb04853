"""The trainer as a plain generator: its events, every command, and the NaN guard."""

import math
import threading

import numpy as np
import pytest
import torch

from ganstudio.engine import events as ev
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


def test_invalid_live_change_is_refused(tiny_config):
    trainer = Trainer(tiny_config(steps=10))
    gen = trainer.run()
    next(gen)
    trainer.set_hyper(lr_g=-1.0)
    with pytest.raises(ValueError, match="lr_g"):
        list(gen)


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


def test_nan_guard_restores_the_last_good_weights_and_pauses(tiny_config, monkeypatch):
    trainer = Trainer(tiny_config(steps=1000))
    original = Trainer._train_step

    def poisoned(self):
        original(self)
        if self.step == 6:  # the update that makes step 7 diverge
            with torch.no_grad():
                next(self.G.parameters()).fill_(float("nan"))

    monkeypatch.setattr(Trainer, "_train_step", poisoned)
    gen = trainer.run()
    good = None
    events = []
    for event in gen:
        events.append(event)
        if isinstance(event, ev.StartedEvent):
            good = [p.detach().clone() for p in trainer.G.parameters()]
        if isinstance(event, ev.StatusEvent):
            break
    alert = _of(events, ev.AlertEvent)[0]
    assert alert.kind == "nonfinite" and alert.level == "error" and alert.step == 8
    assert "step 0" in alert.message
    assert events[-1] == ev.StatusEvent(8, "paused")
    assert [s.step for s in _of(events, ev.StepEvent)] == list(range(1, 8))
    for restored, before in zip(trainer.G.parameters(), good):
        assert torch.equal(restored, before)
    trainer.stop()
    assert list(gen)[-1].reason == "stopped"


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
    steps = _of(_collect(Trainer(cfg)), ev.StepEvent)
    assert len(steps) == 3 and all(math.isfinite(s.loss_d) for s in steps)


def test_r1_and_conditional_toy(tiny_config):
    cfg = tiny_config(steps=3)
    cfg.loss.r1_gamma, cfg.model.conditional = 1.0, True
    events = _collect(Trainer(cfg))
    samples = _of(events, ev.SamplesEvent)[-1]
    assert samples.labels.tolist()[:9] == [0, 1, 2, 3, 4, 5, 6, 7, 0]


def test_sampling_uses_the_ema_copy(tiny_config):
    trainer = Trainer(tiny_config(steps=30, train__ema=True))
    _collect(trainer)
    assert trainer.sampler is trainer.G_ema
    live = next(trainer.G.parameters())
    ema = next(trainer.G_ema.parameters())
    assert not torch.equal(live, ema)


def test_gan2014_trains_on_digits(tiny_config):
    cfg = tiny_config(steps=2)
    cfg.data.name, cfg.model.family, cfg.train.eval_every = "digits", "gan2014", 0
    events = _collect(Trainer(cfg))
    grid = _of(events, ev.SamplesEvent)[-1].grid
    assert grid.shape == (8 * 30 + 2, 8 * 30 + 2, 1)


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
