"""The gan2014 family's published recipe: its numbers, the learning-rate decay and momentum
ramp the trainer applies, and G's output bias from the pixel marginals."""

import pytest
import torch

from ganstudio.engine import events as ev
from ganstudio.engine.config import FAMILY_DEFAULTS, defaults_for, validate, with_family
from ganstudio.engine.data import Dataset, DatasetInfo
from ganstudio.engine.data.batches import InMemorySource
from ganstudio.engine.errors import ConfigError
from ganstudio.engine.trainer import Trainer


def test_the_recipe_is_mnist_yaml():
    cfg = validate(with_family(defaults_for("digits"), "gan2014", {"train.batch_size"}))
    o = cfg.optim
    assert (o.name, o.lr_g, o.beta1, o.lr_decay, o.lr_min) == ("sgd", 0.1, 0.5, 1.000004, 1e-6)
    assert (o.momentum_final, o.momentum_start, o.momentum_saturate) == (0.7, 1, 250)
    assert cfg.model.output_bias == "marginals" and cfg.loss.name == "nonsaturating"
    assert cfg.optim.updates == "simultaneous" and cfg.optim.d_steps == 1
    assert cfg.train.batch_size == defaults_for("digits").train.batch_size  # kept: fixed
    assert with_family(defaults_for("digits"), "gan2014").train.batch_size == 100
    assert FAMILY_DEFAULTS["gan2014"]["optim.lr_d"] == 0.05


@pytest.mark.parametrize("change, message", [
    ({"optim.lr_decay": 0.9}, "optim.lr_decay"),
    ({"optim.momentum_final": 0.7}, "ramps the momentum of sgd or rmsprop"),
    ({"model.output_bias": "marginals"}, "gan2014 only"),
    ({"optim.updates": "together"}, "alternating, simultaneous"),
    ({"optim.updates": "simultaneous", "optim.d_steps": 2}, "must be 1 with simultaneous"),
])
def test_the_schedule_settings_are_checked(change, message):
    with pytest.raises(ConfigError, match=message):
        validate(defaults_for("digits").replace(**change))


def test_learning_rates_decay_to_their_floor_and_momentum_ramps_over_epochs(tiny_config):
    points = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    info = DatasetInfo("blob", "points", (2,), (), "a blob", None)
    cfg = tiny_config(steps=6, optim__name="sgd", optim__lr_decay=1.5, optim__lr_min=2e-4,
                      optim__momentum_final=0.7, optim__momentum_start=1,
                      optim__momentum_saturate=5, train__eval_every=0)
    trainer = Trainer(cfg, data_source=lambda device, rng: InMemorySource(
        Dataset(info, points), device, rng))
    steps = [e for e in trainer.run() if isinstance(e, ev.StepEvent)]
    expected = [max(1e-3 / 1.5 ** k, 2e-4) for k in range(6)]
    assert [e.lr_g for e in steps] == pytest.approx(expected)
    assert [e.lr_d for e in steps] == pytest.approx(expected)
    # before the 6th update: 5 · 32 images seen of 64, epoch count 160 // 64 + 1 = 3, halfway
    # from epoch 1 to 5
    momenta = [g["momentum"] for g in (*trainer.opt_g.param_groups,
                                       *trainer.opt_d.param_groups)]
    assert momenta == pytest.approx([0.6] * len(momenta))


def test_simultaneous_updates_take_both_gradients_before_either_network_moves(tiny_config):
    import copy

    from ganstudio.engine import losses

    cfg = tiny_config(steps=3, optim__name="sgd", optim__beta1=0.0, optim__lr_g=0.05,
                      optim__lr_d=0.2, optim__updates="simultaneous", loss__r1_gamma=0.0,
                      train__diag_every=0,
                      train__eval_every=0)
    trainer = Trainer(cfg)
    events = trainer.run()
    assert isinstance(next(events), ev.StartedEvent)
    # the same networks and random streams, stepped by hand from pylearn2's rule
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    rng_state = trainer.rng.get_state()
    source_state = copy.deepcopy(trainer.source.state_dict())
    real, _ = trainer._real_batch(32)
    z = torch.randn(32, G.z_dim, generator=trainer.rng)
    trainer.rng.set_state(rng_state)
    trainer.source.load_state_dict(source_state)
    fake = G(z)
    real_logits, fake_logits = D(real), D(fake)
    loss_d = losses.d_loss("nonsaturating", real_logits, fake_logits)
    loss_g = losses.g_loss("nonsaturating", fake_logits)  # through the same D, before it moves
    grads_d = torch.autograd.grad(loss_d, list(D.parameters()), retain_graph=True)
    grads_g = torch.autograd.grad(loss_g, list(G.parameters()))
    step = next(e for e in events if isinstance(e, ev.StepEvent))
    assert step.loss_d == pytest.approx(loss_d.item()) and step.loss_g == pytest.approx(
        loss_g.item())
    with torch.no_grad():
        for p, g in zip(D.parameters(), grads_d, strict=True):
            p -= 0.2 * g
        for p, g in zip(G.parameters(), grads_g, strict=True):
            p -= 0.05 * g
    for mine, theirs in ((trainer.D, D), (trainer.G, G)):
        for a, b in zip(mine.parameters(), theirs.parameters(), strict=True):
            torch.testing.assert_close(a, b)
    events.close()


def test_a_simultaneous_run_refuses_more_d_steps_live(tiny_config):
    trainer = Trainer(tiny_config(steps=2, optim__updates="simultaneous"))
    with pytest.raises(ConfigError, match="must be 1 with simultaneous"):
        trainer.set_hyper(d_steps=2)
    trainer.set_hyper(d_steps=1, lr_g=1e-3)  # accepted


def test_g_starts_at_the_mean_image_of_its_data():
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(50, 1, 28, 28, generator=g) * 255).to(torch.uint8)
    x[:, :, :4] = 0  # a blank band: its marginal is clipped, not −∞
    info = DatasetInfo("noise28", "images", (1, 28, 28), (), "random images", 50)
    cfg = with_family(defaults_for("digits"), "gan2014")
    cfg.train.steps, cfg.train.device, cfg.train.diag_every = 1, "cpu", 0
    trainer = Trainer(cfg, data_source=lambda device, rng: InMemorySource(
        Dataset(info, x), device, rng))
    events = trainer.run()
    assert isinstance(next(events), ev.StartedEvent)  # the networks are built, not yet trained
    bias = trainer.G.main[-2].bias.detach().clone()
    events.close()
    mean = (x.double() / 255).mean(dim=0).reshape(-1).clamp(1e-7, 1 - 1e-7)
    torch.testing.assert_close(bias, torch.logit(mean).float())
    with torch.no_grad():  # with no hidden activity G draws exactly the mean image
        out = torch.sigmoid(bias)
    torch.testing.assert_close(out.double(), mean, atol=1e-6, rtol=1e-5)
