"""Step D only / Step G only while paused: each moves its own network alone, counts as a
training step, is recorded as such, and a run resumed after them continues bit-exactly."""

import math

import torch

from ganstudio.engine import events as ev
from ganstudio.engine.trainer import Trainer


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _paused_at(trainer, step):
    gen = trainer.run()
    for event in gen:
        if isinstance(event, ev.StepEvent) and event.step == step:
            trainer.pause()
            break
    assert next(e for e in gen if isinstance(e, ev.StatusEvent)).state == "paused"
    return gen


def _next_step(gen):
    return next(e for e in gen if isinstance(e, ev.StepEvent))


def test_step_d_moves_d_alone_and_step_g_moves_g_alone(tiny_config):
    trainer = Trainer(tiny_config(steps=1000))
    gen = _paused_at(trainer, 3)
    g0, d0 = _params(trainer.G), _params(trainer.D)
    trainer.step_d()
    d_step = _next_step(gen)
    assert (d_step.step, d_step.moved, d_step.grad_g) == (4, "D", 0.0)
    assert math.isfinite(d_step.loss_d) and math.isfinite(d_step.loss_g)
    g1, d1 = _params(trainer.G), _params(trainer.D)
    assert _same(g0, g1) and not _same(d0, d1)
    trainer.step_g()
    g_step = _next_step(gen)
    assert (g_step.step, g_step.moved, g_step.grad_d) == (5, "G", 0.0)
    assert math.isnan(g_step.loss_d) and math.isnan(g_step.d_real)
    assert math.isfinite(g_step.loss_g) and math.isfinite(g_step.d_fake)
    g2, d2 = _params(trainer.G), _params(trainer.D)
    assert _same(d1, d2) and not _same(g1, g2)
    trainer.step_once()
    both = _next_step(gen)
    assert (both.step, both.moved) == (6, "both")
    assert not _same(g2, _params(trainer.G)) and not _same(d2, _params(trainer.D))
    trainer.stop()
    assert list(gen)[-1].reason == "stopped"
    # the record says which network moved; a usual step says nothing more
    assert ev.event_record(d_step)["moved"] == "D" and "moved" not in ev.event_record(both)
    assert ev.event_from_record(ev.event_record(g_step)).moved == "G"


def test_a_run_resumed_after_single_network_steps_continues_bit_exactly(tiny_config,
                                                                         tmp_path):
    config = tiny_config(steps=12, train__checkpoint_every=5, train__eval_every=0)
    first = Trainer(config, run_dir=tmp_path / "a")
    gen = _paused_at(first, 3)
    first.step_d()
    first.step_g()
    assert [_next_step(gen).moved, _next_step(gen).moved] == ["D", "G"]
    first.resume()
    list(gen)
    assert first.step == 12
    resumed = Trainer(config, run_dir=tmp_path / "a",
                      resume=tmp_path / "a" / "checkpoints" / "step_0000005.safetensors")
    events = list(resumed.run())
    assert [e.step for e in events if isinstance(e, ev.StepEvent)] == list(range(6, 13))
    assert _same(_params(first.G), _params(resumed.G))
    assert _same(_params(first.D), _params(resumed.D))
