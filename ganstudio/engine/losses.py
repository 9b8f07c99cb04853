"""The GAN objectives and penalties as small pure functions of discriminator logits.

``real`` and ``fake`` are D's raw outputs (logits) on real and generated batches.
For the two sigmoid losses D(x) = sigmoid(logit); the others read the output directly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganstudio.engine.config import LOSSES

Tensor = torch.Tensor


def d_loss(name: str, real: Tensor, fake: Tensor) -> Tensor:
    """The discriminator's loss, to be minimised."""
    if name in ("minimax", "nonsaturating"):
        # -[log D(x) + log(1 - D(G(z)))], written with softplus for stability
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if name == "lsgan":
        # Mao et al. (2017), targets b = 1 for real and a = 0 for fake
        return 0.5 * ((real - 1).square().mean() + fake.square().mean())
    if name == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if name == "wgan-gp":
        # the critic's Wasserstein estimate; the gradient penalty is added separately
        return fake.mean() - real.mean()
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")


def g_loss(name: str, fake: Tensor) -> Tensor:
    """The generator's loss, to be minimised."""
    if name == "minimax":
        # minimise log(1 - D(G(z))) = -softplus(logit): the original objective, which
        # saturates when D confidently rejects the samples
        return -F.softplus(fake).mean()
    if name == "nonsaturating":
        # maximise log D(G(z)) instead: the same fixed point, strong gradients early on
        return F.softplus(-fake).mean()
    if name == "lsgan":
        return 0.5 * (fake - 1).square().mean()
    if name in ("hinge", "wgan-gp"):
        return -fake.mean()
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")


def d_output(name: str, logits: Tensor) -> Tensor:
    """D's output as reported in the metrics: a probability for the sigmoid losses."""
    return torch.sigmoid(logits) if name in ("minimax", "nonsaturating") else logits


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP (Gulrajani et al., 2017): E[(‖∇D(x̂)‖₂ − 1)²] on random interpolates x̂."""
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).square().mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder et al., 2018): E[‖∇D(x)‖²] on real data; weight it by gamma / 2."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(real).sum(), real, create_graph=True)
    return grad.flatten(1).square().sum(dim=1).mean()
