"""GAN Lab's 2-D teaching views as numbers: G's update direction at each generated point, and
G's image of a regular grid of z."""

import numpy as np
import pytest
import torch
from torch import nn

from ganstudio.engine import plane_views


class LinearD(nn.Module):
    """D(x) = w·x + b, whose gradients are known in closed form."""

    def __init__(self):
        super().__init__()
        self.line = nn.Linear(2, 1)
        with torch.no_grad():
            self.line.weight.copy_(torch.tensor([[1.5, -0.5]]))
            self.line.bias.fill_(0.25)

    def forward(self, x, labels=None):
        return self.line(x).squeeze(1)


POINTS = torch.tensor([[0.0, 0.0], [1.0, 2.0], [-2.0, 0.5], [3.0, -1.0]])


@pytest.mark.parametrize("loss", ["nonsaturating", "minimax", "lsgan", "hinge", "wgan-gp"])
def test_an_arrow_is_minus_the_gradient_of_that_points_own_loss(loss):
    D = LinearD()
    arrows = plane_views.update_directions(D, POINTS, None, loss)
    w = torch.tensor([1.5, -0.5])
    logit = POINTS @ w + 0.25
    # d loss / d logit for one point, times d logit / d x = w
    slope = {"nonsaturating": -torch.sigmoid(-logit), "minimax": -torch.sigmoid(logit),
             "lsgan": logit - 1, "hinge": -torch.ones(4), "wgan-gp": -torch.ones(4)}[loss]
    np.testing.assert_allclose(arrows, (-slope[:, None] * w).numpy(), rtol=1e-6, atol=1e-7)
    # each point's arrow is its own: the same alone as in a batch
    alone = plane_views.update_directions(D, POINTS[1:2], None, loss)
    np.testing.assert_allclose(alone[0], arrows[1], rtol=1e-6)
    assert D.line.weight.grad is None  # D is read, never given gradients


def test_arrows_point_where_d_scores_higher_under_the_nonsaturating_loss():
    arrows = plane_views.update_directions(LinearD(), POINTS, None, "nonsaturating")
    assert arrows.dtype == np.float32 and arrows.shape == (4, 2)
    assert (arrows @ np.array([1.5, -0.5]) > 0).all()  # uphill on D's logit


def test_the_manifold_of_a_linear_generator_is_the_mapped_grid():
    A, c = torch.tensor([[2.0, 0.5], [-1.0, 1.0]]), torch.tensor([0.3, -0.2])

    def generate(z, labels):
        return z @ A.T + c

    manifold = plane_views.latent_manifold(generate, 2, torch.device("cpu"))
    side = plane_views.MANIFOLD_SIDE
    assert manifold.shape == (side, side, 2) and manifold.dtype == np.float32
    axis = np.linspace(-plane_views.MANIFOLD_RANGE, plane_views.MANIFOLD_RANGE, side)
    z1, z2 = np.meshgrid(axis, axis)  # z₁ along a row, z₂ down the columns
    expected = np.stack([z1, z2], axis=-1) @ A.numpy().T + c.numpy()
    np.testing.assert_allclose(manifold, expected, rtol=1e-5, atol=1e-5)


def test_a_one_dimensional_z_gives_one_line_and_more_dimensions_none():
    def curve(z, labels):
        return torch.cat([z, z.square()], dim=1)

    line = plane_views.latent_manifold(curve, 1, torch.device("cpu"))
    assert line.shape == (1, plane_views.MANIFOLD_POINTS, 2)
    np.testing.assert_allclose(line[0, :, 1], line[0, :, 0] ** 2, rtol=1e-5)
    assert line[0, 0, 0] == -plane_views.MANIFOLD_RANGE
    assert plane_views.latent_manifold(curve, 3, torch.device("cpu")) is None


def test_a_2d_run_snapshots_carry_arrows_and_the_manifold(tiny_config):
    from ganstudio.engine import events as ev
    from ganstudio.engine.trainer import Trainer

    trainer = Trainer(tiny_config(steps=2, model__z_dim=2, train__eval_every=0))
    last = [e for e in trainer.run() if isinstance(e, ev.SamplesEvent)][-1]
    points = torch.from_numpy(last.points)
    expected = plane_views.update_directions(trainer.D, points, None, "nonsaturating")
    np.testing.assert_allclose(last.directions, expected, rtol=1e-5, atol=1e-7)
    grid = plane_views.latent_grid(2).reshape(-1, 2)
    np.testing.assert_allclose(last.manifold.reshape(-1, 2),
                               trainer.generate(grid).numpy(), rtol=1e-5, atol=1e-6)
