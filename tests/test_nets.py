import pytest
import torch

from ganstudio.engine.config import ModelConfig
from ganstudio.engine.data import DATASETS, DatasetInfo
from ganstudio.engine.nets import build_networks


def _params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("family", "dataset", "conditional"),
    [
        ("toy", "ring8", False), ("toy", "moons", True),
        ("gan2014", "digits", False),
        ("dcgan", "digits", False), ("dcgan", "digits", True),
        ("dcgan", "shapes", False), ("dcgan", "shapes", True),
    ],
)
def test_output_shapes(family, dataset, conditional):
    info = DATASETS[dataset]
    G, D = build_networks(ModelConfig(family=family, conditional=conditional, width=0.25), info)
    z = torch.randn(5, G.z_dim)
    labels = torch.arange(5) % len(info.classes) if conditional else None
    x = G(z, labels)
    assert x.shape == (5, *info.shape)
    assert D(x, labels).shape == (5,)


def test_dcgan_builds_64px():
    info = DatasetInfo("faces", "images", (3, 64, 64), (), "")
    G, D = build_networks(ModelConfig(family="dcgan"), info)
    x = G(torch.randn(2, 100))
    assert x.shape == (2, 3, 64, 64) and D(x).shape == (2,)
    # the PyTorch DCGAN example's netG: 64·8 → 64·4 → 64·2 → 64 channels
    assert [m.out_channels for m in G.main if isinstance(m, torch.nn.ConvTranspose2d)] == [
        512, 256, 128, 64, 3,
    ]


def test_gan2014_parameter_counts_match_the_paper_architecture():
    G, D = build_networks(ModelConfig(family="gan2014"), DATASETS["digits"])
    # G: 100 → 1200 → 1200 → 784
    assert _params(G) == (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    # D: maxout 784 → 240×5, maxout 240 → 240×5, 240 → 1
    assert _params(D) == (784 * 1200 + 1200) + (240 * 1200 + 1200) + (240 + 1)
    dropouts = [m.p for m in D.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [pytest.approx(0.2), 0.5, 0.5]


def test_output_ranges_match_the_data_normalisation():
    G, _ = build_networks(ModelConfig(family="gan2014"), DATASETS["digits"])
    x = G(torch.randn(16, 100) * 10)
    assert G.output_range == (0.0, 1.0) and x.min() >= 0 and x.max() <= 1
    G, _ = build_networks(ModelConfig(family="dcgan", width=0.25), DATASETS["digits"])
    x = G(torch.randn(16, 100) * 10)
    assert G.output_range == (-1.0, 1.0) and x.min() >= -1 and x.max() <= 1
    G, _ = build_networks(ModelConfig(family="toy"), DATASETS["ring8"])
    assert G.output_range is None


def test_dcgan_initialisation_is_normal_002():
    torch.manual_seed(0)
    G, _ = build_networks(ModelConfig(family="dcgan"), DATASETS["shapes"])
    conv = G.main[3].weight
    assert conv.mean().abs() < 1e-3 and conv.std().item() == pytest.approx(0.02, rel=0.05)
    bn = G.main[1].weight
    assert bn.mean().item() == pytest.approx(1.0, abs=0.01)


def test_wgan_gp_discriminator_has_no_batchnorm():
    _, D = build_networks(ModelConfig(family="dcgan"), DATASETS["shapes"], loss="wgan-gp")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    _, D = build_networks(ModelConfig(family="dcgan"), DATASETS["shapes"], loss="hinge")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())


def test_conditional_generator_depends_on_the_label():
    G, _ = build_networks(ModelConfig(family="dcgan", conditional=True, width=0.25),
                          DATASETS["digits"])
    G.eval()
    z = torch.randn(1, 100).repeat(2, 1)
    x = G(z, torch.tensor([0, 7]))
    assert not torch.allclose(x[0], x[1])
    with pytest.raises(ValueError, match="class label"):
        G(z)


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_switches_for_a_while_and_restores_the_mode(training):
    from ganstudio.engine.nets.layers import eval_mode

    G, _ = build_networks(ModelConfig(family="dcgan", width=0.25), DATASETS["digits"])
    G.train(training)
    with eval_mode(G) as inside:
        assert inside is G and not any(m.training for m in G.modules())
    assert all(m.training == training for m in G.modules())
    with pytest.raises(RuntimeError), eval_mode(G):
        raise RuntimeError("a failed sample")
    assert all(m.training == training for m in G.modules())


def test_the_trainer_samples_in_eval_mode_and_trains_on(tiny_config):
    from ganstudio.engine.trainer import Trainer

    trainer = Trainer(tiny_config(steps=1, train__ema=False))
    trainer._setup()
    modes = []
    trainer.G.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    trainer.D.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    trainer.generate(trainer.fixed_z)
    trainer._discriminator_field()
    assert modes == [False, False]
    assert trainer.G.training and trainer.D.training
