import math

import pytest
import torch

from ganstudio.engine import losses

ZERO = torch.zeros(4)


def test_sigmoid_losses_at_d_equals_one_half():
    # logits of 0 mean D = 1/2 everywhere: the equilibrium of the original game
    assert losses.d_loss("minimax", ZERO, ZERO).item() == pytest.approx(2 * math.log(2))
    assert losses.d_loss("nonsaturating", ZERO, ZERO).item() == pytest.approx(2 * math.log(2))
    assert losses.g_loss("minimax", ZERO).item() == pytest.approx(-math.log(2))
    assert losses.g_loss("nonsaturating", ZERO).item() == pytest.approx(math.log(2))


def test_minimax_saturates_where_nonsaturating_does_not():
    fake = torch.full((1,), -8.0, requires_grad=True)  # D confidently rejects the sample
    (g_mm,) = torch.autograd.grad(losses.g_loss("minimax", fake), fake)
    (g_ns,) = torch.autograd.grad(losses.g_loss("nonsaturating", fake), fake)
    assert abs(g_mm.item()) < 1e-3 < abs(g_ns.item())


def test_known_values():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 0.5])
    assert losses.d_loss("lsgan", real, fake).item() == pytest.approx(0.5 * (1.0 + 0.625))
    assert losses.g_loss("lsgan", fake).item() == pytest.approx(0.5 * (4 + 0.25) / 2)
    assert losses.d_loss("hinge", real, fake).item() == pytest.approx(0.5 + 0.75)
    assert losses.g_loss("hinge", fake).item() == pytest.approx(0.25)
    assert losses.d_loss("wgan-gp", real, fake).item() == pytest.approx(-0.25 - 1.0)
    assert losses.g_loss("wgan-gp", fake).item() == pytest.approx(0.25)


def test_gradient_penalty_of_a_linear_critic():
    w = torch.tensor([[0.0, 2.0]])  # ‖∇D‖ = 2 everywhere, so the penalty is (2 - 1)² = 1

    def critic(x):
        return (x @ w.T).squeeze(1)

    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert losses.gradient_penalty(critic, real, fake).item() == pytest.approx(1.0)
    assert losses.r1_penalty(critic, real).item() == pytest.approx(4.0)


def test_d_output_is_a_probability_only_for_sigmoid_losses():
    logits = torch.tensor([0.0, 3.0])
    assert losses.d_output("nonsaturating", logits).tolist() == pytest.approx([0.5, 0.952574])
    assert losses.d_output("hinge", logits).tolist() == [0.0, 3.0]


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss"):
        losses.d_loss("wgan", ZERO, ZERO)
