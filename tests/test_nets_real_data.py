"""Networks for real data: dcgan at every power of two from 16 to 128 px, and the ResNets."""

from __future__ import annotations

import pytest
import torch

from ganstudio.engine.config import ModelConfig, RunConfig, problems
from ganstudio.engine.data import DatasetInfo
from ganstudio.engine.nets import build_networks
from ganstudio.engine.nets.resnet import ConditionalBatchNorm


def _info(size: int, channels: int = 3, classes: int = 4) -> DatasetInfo:
    return DatasetInfo("real", "images", (channels, size, size),
                       tuple(f"c{k}" for k in range(classes)), "")


@pytest.mark.parametrize("size", [16, 28, 32, 64, 128])
def test_dcgan_builds_every_size(size):
    G, D = build_networks(ModelConfig(family="dcgan", width=0.125), _info(size, 1))
    x = G(torch.randn(2, 100))
    assert x.shape == (2, 1, size, size) and D(x).shape == (2,)


@pytest.mark.parametrize(("size", "conditional"), [(32, False), (32, True), (64, True),
                                                    (128, False)])
def test_resnet_shapes_and_gradients(size, conditional):
    info = _info(size)
    G, D = build_networks(ModelConfig(family="resnet", conditional=conditional, width=0.125),
                          info)
    labels = torch.tensor([0, 3]) if conditional else None
    z = torch.randn(2, G.z_dim)
    x = G(z, labels)
    assert x.shape == (2, 3, size, size) and G.output_range == (-1.0, 1.0)
    assert x.abs().max() <= 1
    logits = D(x, labels)
    assert logits.shape == (2,)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)
    assert G.features(z, labels).shape[0] == 2


def test_resnet_32_is_the_sngan_cifar_network():
    G, D = build_networks(ModelConfig(family="resnet"), _info(32, classes=0))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    # SNGAN (Miyato et al. 2018, Table 4): G with 256-channel blocks, D with 128: about 4.3M
    # and 1.1M parameters.
    assert 4.2e6 < count(G) < 4.4e6 and 1.0e6 < count(D) < 1.1e6
    assert G.dense.out_features == 256 * 16 and len(G.blocks) == 3 and len(D.blocks) == 4
    assert G.z_dim == 128


def test_resnet_discriminator_is_spectrally_normalised():
    _, D = build_networks(ModelConfig(family="resnet", width=0.25), _info(32))
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    D.train()
    for _ in range(5):  # power iterations (15 at the start) settle on the top singular value
        D(torch.randn(2, 3, 32, 32))
    weight = convs[1].weight.flatten(1)
    assert torch.linalg.matrix_norm(weight, ord=2).item() == pytest.approx(1.0, abs=0.05)


def test_conditional_batch_norm_starts_as_plain_batch_norm_and_then_depends_on_the_class():
    G, _ = build_networks(ModelConfig(family="resnet", conditional=True, width=0.125), _info(32))
    norms = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm)]
    assert norms and all(m.gain.weight.abs().max() == 0 for m in norms)
    G.eval()
    z = torch.randn(1, G.z_dim).repeat(2, 1)
    same = G(z, torch.tensor([0, 1]))
    assert torch.equal(same[0], same[1])  # no class effect before training
    with torch.no_grad():
        for m in norms:
            m.bias.weight.normal_()
    differ = G(z, torch.tensor([0, 1]))
    assert not torch.allclose(differ[0], differ[1])
    # class vectors stand in for the labels, and mix classes for a morph
    vectors = torch.eye(4)[[0, 1]]
    assert torch.allclose(G(z, vectors), differ, atol=1e-6)
    halfway = G(z[:1], torch.tensor([[0.5, 0.5, 0.0, 0.0]]))
    assert not torch.allclose(halfway, differ[:1]) and not torch.allclose(halfway, differ[1:])


def test_config_validation_knows_the_sizes():
    cfg = RunConfig()
    cfg.data.name, cfg.model.family = "digits", "resnet"
    assert any("builds 32, 64, 128 px images, not 28 px" in p.message for p in problems(cfg))
    cfg.data.name = "shapes"
    assert not [p for p in problems(cfg) if p.field == "model.family"]
