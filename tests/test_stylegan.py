"""StyleGAN2-ADA and StyleGAN3 network pickles: NVIDIA's fixtures reproduce their reference
outputs, and networks of other configurations, written by the tests in the same layout, load and
agree with a plain slow reference implementation."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from stylegan_support import (
    random_generator,
    reference_mapping,
    reference_stylegan2,
    reference_stylegan3,
    shared_fixtures,
    write_snapshot,
)

from ganstudio.engine.errors import CheckpointError, ConfigError
from ganstudio.engine.formats.stylegan_pickle import open_stylegan_pickle, read_snapshot, sniff
from ganstudio.engine.nets.stylegan import build_stylegan
from ganstudio.engine.nets.stylegan3 import input_transform

FIXTURES = shared_fixtures("stylegan")
FIXTURE_NAMES = ["sg2ada_32px", "sg3t_16px", "sg3r_16px"]
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present")


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.inference_mode():
        yield


# --- NVIDIA's own files ---------------------------------------------------------------------------


@needs_fixtures
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_matches_nvidia_reference(name):
    g, info = open_stylegan_pickle(FIXTURES / f"{name}.pkl")
    ref = np.load(FIXTURES / f"{name}.reference.npz")
    z = torch.from_numpy(ref["z"])
    c = torch.from_numpy(ref["c"]) if ref["c"].size else None
    got = {
        "ws": g.mapping(z, c),
        "ws_psi05": g.mapping(z, c, psi=0.5),
        "img": g.synthesis(torch.from_numpy(ref["ws"]), noise_mode="const"),
        "img_psi05": g(z, c, psi=0.5, noise_mode="const"),  # end to end, z → image
    }
    for key, value in got.items():
        err = float((value - torch.from_numpy(ref[key])).abs().max())
        assert err < 1e-3, f"{name} {key}: max abs error {err}"
    assert info.family == ("stylegan2" if name.startswith("sg2") else "stylegan3")
    assert info.pickle_protocol == (3 if name.startswith("sg2") else 4)
    assert info.networks == ("G", "D", "G_ema", "augment_pipe")
    assert info.training_set["resolution"] == g.img_resolution


@needs_fixtures
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_attributes_agree_with_ours(name):
    """Every size, rate, gain and padding NVIDIA's code stored, ours computes the same."""
    snapshot = read_snapshot(FIXTURES / f"{name}.pkl")
    g, _ = open_stylegan_pickle(FIXTURES / f"{name}.pkl")
    compared = 0

    def walk(obj, module, path):
        nonlocal compared
        for key, value in obj.attributes.items():
            if hasattr(module, key) and not callable(getattr(module, key)):
                ours = getattr(module, key)
                if isinstance(value, float):
                    assert ours == pytest.approx(value, rel=1e-9), f"{path}.{key}"
                else:
                    assert ours == value, f"{path}.{key}"
                compared += 1
        for child_name, child in obj.children.items():
            walk(child, getattr(module, child_name), f"{path}.{child_name}")

    walk(snapshot.networks["G_ema"], g, "G_ema")
    assert compared > 50


@needs_fixtures
@pytest.mark.parametrize("name", ["sg3t_16px", "sg3r_16px"])
def test_stylegan3_filters_we_design_equal_the_files(name):
    g, info = open_stylegan_pickle(FIXTURES / f"{name}.pkl")
    fresh = build_stylegan(info.family, info.config, seed=0)
    filters = {k: v for k, v in g.state_dict().items() if k.endswith("_filter")}
    assert filters
    for key, value in filters.items():
        assert torch.allclose(fresh.state_dict()[key], value, atol=1e-7), key


@needs_fixtures
def test_sniff_recognises_the_content():
    head = (FIXTURES / "sg2ada_32px.pkl").read_bytes()[:4096]
    assert sniff(FIXTURES / "sg2ada_32px.pkl", head)
    assert not sniff(Path("x.pkl"), b"\x80\x04\x95" + b"\0" * 100)  # a pickle, not NVIDIA's
    assert not sniff(Path("x.pkl"), b"PK\x03\x04")


# --- other configurations, written by the tests ------------------------------------------------

CONFIGS = {
    "sg2-ada-16px": ("stylegan2", "stylegan2-ada-pytorch", {
        "z_dim": 12, "c_dim": 0, "w_dim": 10, "img_resolution": 16, "img_channels": 3,
        "mapping": {"num_layers": 3}, "synthesis": {"channel_base": 128, "channel_max": 16,
                                                     "conv_clamp": 256}}),
    "sg2-ada-conditional-32px": ("stylegan2", "stylegan2-ada-pytorch", {
        "z_dim": 8, "c_dim": 5, "w_dim": 12, "img_resolution": 32, "img_channels": 3,
        "mapping": {"num_layers": 2}, "synthesis": {"channel_base": 256, "channel_max": 12}}),
    "sg2-flat-grey-8px-resnet": ("stylegan2", "stylegan3", {
        "z_dim": 6, "c_dim": 0, "w_dim": 6, "img_resolution": 8, "img_channels": 1,
        "mapping": {"num_layers": 1}, "synthesis": {"channel_base": 64, "channel_max": 8,
                                                     "architecture": "resnet",
                                                     "conv_clamp": 0.5}}),
    "sg2-orig-8px": ("stylegan2", "stylegan2-ada-pytorch", {
        "z_dim": 6, "c_dim": 0, "w_dim": 6, "img_resolution": 8, "img_channels": 3,
        "mapping": {"num_layers": 2}, "synthesis": {"channel_base": 64, "channel_max": 8,
                                                     "architecture": "orig"}}),
    "sg3t-32px": ("stylegan3", "stylegan3", {
        "z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 32, "img_channels": 3,
        "mapping": {"num_layers": 2}, "synthesis": {"channel_base": 128, "channel_max": 8,
                                                     "num_layers": 6, "margin_size": 4}}),
    "sg3r-conditional-32px": ("stylegan3", "stylegan3", {
        "z_dim": 8, "c_dim": 3, "w_dim": 8, "img_resolution": 32, "img_channels": 3,
        "mapping": {"num_layers": 2}, "synthesis": {"channel_base": 256, "channel_max": 8,
                                                     "num_layers": 5, "conv_kernel": 1,
                                                     "use_radial_filters": True}}),
}


def _labels(c_dim: int, n: int) -> torch.Tensor | None:
    if not c_dim:
        return None
    c = torch.zeros(n, c_dim)
    c[torch.arange(n), torch.arange(n) % c_dim] = 1
    c[-1] = torch.full((c_dim,), 1 / c_dim)  # a mix of every class
    return c


@pytest.fixture(scope="module", params=list(CONFIGS))
def written(request, tmp_path_factory):
    """(config name, original network, path of its pickle, the network opened from it)."""
    family, codebase, config = CONFIGS[request.param]
    original = random_generator(family, config, seed=len(request.param))
    path = tmp_path_factory.mktemp("sg") / f"{request.param}.pkl"
    numpy_module = "numpy._core.multiarray" if codebase == "stylegan3" else "numpy.core.multiarray"
    write_snapshot(path, original, codebase, numpy_module)
    opened, info = open_stylegan_pickle(path)
    return request.param, original, path, opened, info


def test_written_network_opens_with_its_sizes(written):
    name, original, _, g, info = written
    family, codebase, config = CONFIGS[name]
    assert (info.family, info.codebase, info.config) == (family, codebase, config)
    assert info.pickle_protocol == (3 if codebase == "stylegan2-ada-pytorch" else 4)
    assert (g.z_dim, g.c_dim, g.w_dim) == (config["z_dim"], config["c_dim"], config["w_dim"])
    expected_ws = (2 * int(np.log2(config["img_resolution"])) - 2 if family == "stylegan2"
                   else config["synthesis"]["num_layers"] + 2)
    assert g.num_ws == expected_ws
    groups = g.layer_groups
    assert groups[0][1] == 0 and groups[-1][2] == g.num_ws
    assert all(a[2] == b[1] for a, b in itertools.pairwise(groups))
    for key, value in original.state_dict().items():
        assert torch.equal(g.state_dict()[key], value), key


def test_written_network_agrees_with_the_slow_reference(written):
    name, _, _, g, _ = written
    family, _, config = CONFIGS[name]
    state = g.state_dict()
    n = 2
    z = torch.randn(n, config["z_dim"], generator=torch.Generator().manual_seed(1))
    c = _labels(config["c_dim"], n)
    for psi, cutoff in ((1.0, None), (0.5, None), (0.7, 2)):
        ws = g.mapping(z, c, psi=psi, cutoff=cutoff)
        expected = reference_mapping(state, config, g.num_ws, z, c, psi, cutoff)
        assert torch.allclose(ws, expected, atol=1e-5, rtol=1e-5)
    ws = g.mapping(z, c, psi=0.8)
    if family == "stylegan2":
        expected, layers = reference_stylegan2(state, config, ws)
    else:
        snapshot = read_snapshot(written[2])
        expected, layers = reference_stylegan3(state, snapshot.networks["G_ema"].child(
            "synthesis"), ws)
    img = g.synthesis(ws)
    assert img.shape == (n, config["img_channels"], config["img_resolution"],
                         config["img_resolution"])
    assert float((img - expected).abs().max()) < 1e-4
    assert float(img.std()) > 1e-3  # a real image, not a constant
    names = g.synthesis.feature_layers
    for layer in (names[0], names[len(names) // 2], names[-1]):
        feats = g.synthesis.features(ws, layer)
        assert float((feats - layers[layer]).abs().max()) < 1e-4, layer


def test_stylegan2_progressive_images_are_the_skip_sums(written):
    name, _, _, g, _ = written
    family, _, config = CONFIGS[name]
    if family != "stylegan2":
        pytest.skip("StyleGAN2 only")
    z = torch.randn(2, config["z_dim"], generator=torch.Generator().manual_seed(2))
    ws = g.mapping(z, _labels(config["c_dim"], 2))
    _, layers = reference_stylegan2(g.state_dict(), config, ws)
    stages = list(g.synthesis.progressive(ws))
    if config["synthesis"].get("architecture", "skip") == "skip":
        assert [r for r, _ in stages] == g.synthesis.block_resolutions
    else:  # no image exists before the last block
        assert [r for r, _ in stages] == [config["img_resolution"]]
    for r, img in stages:
        assert float((img - layers[f"b{r}"]).abs().max()) < 1e-4
    assert torch.equal(stages[-1][1], g.synthesis(ws))
    shown = list(g.synthesis.progressive(ws, size=config["img_resolution"]))
    assert all(img.shape[-1] == config["img_resolution"] for _, img in shown)


def test_stylegan2_one_sample_and_both_layouts_agree_with_a_batch(written):
    name, _, _, g, _ = written
    if CONFIGS[name][0] != "stylegan2":
        pytest.skip("StyleGAN2 only")
    ws = g.mapping(torch.randn(3, g.z_dim), _labels(g.c_dim, 3))
    batch = g.synthesis(ws)
    for i in range(3):  # one sample at a time takes the modulated-weight path
        assert torch.allclose(g.synthesis(ws[i:i + 1]), batch[i:i + 1], atol=1e-5)
    g.synthesis.channels_last = False
    try:
        assert torch.allclose(g.synthesis(ws), batch, atol=1e-5)
        assert torch.allclose(g.synthesis(ws[:1]), batch[:1], atol=1e-5)
    finally:
        g.synthesis.channels_last = True


def test_stylegan2_noise_modes(written):
    name, _, _, g, _ = written
    if CONFIGS[name][0] != "stylegan2":
        pytest.skip("StyleGAN3 has no noise inputs")
    ws = g.mapping(torch.randn(2, g.z_dim), _labels(g.c_dim, 2))
    const = g.synthesis(ws, noise_mode="const")
    none = g.synthesis(ws, noise_mode="none")
    seeded = [g.synthesis(ws, noise_mode="random", noise_seed=s) for s in (1, 1, 2)]
    assert torch.equal(seeded[0], seeded[1])
    assert not torch.allclose(seeded[0], seeded[2])
    assert not torch.allclose(const, none)
    silent = {k: torch.zeros_like(v) if k.endswith("noise_strength") else v
              for k, v in g.state_dict().items()}
    quiet = build_stylegan(g.family, g.config, seed=None)
    quiet.load_state_dict(silent)
    assert torch.allclose(quiet.synthesis(ws, noise_mode="const"), none, atol=1e-6)
    with pytest.raises(ConfigError, match="Noise mode"):
        g.synthesis(ws, noise_mode="loud")


def test_stylegan3_user_transform(written):
    name, _, path, g, _ = written
    if CONFIGS[name][0] != "stylegan3":
        pytest.skip("StyleGAN3 only")
    ws = g.mapping(torch.randn(2, g.z_dim), _labels(g.c_dim, 2))
    assert torch.allclose(input_transform(), torch.eye(3))
    assert torch.allclose(g.synthesis(ws, transform=input_transform()), g.synthesis(ws))
    moved = input_transform(0.1, -0.05, 30)
    snapshot = read_snapshot(path)
    expected, _ = reference_stylegan3(g.state_dict(), snapshot.networks["G_ema"].child(
        "synthesis"), ws, transform=moved)
    assert float((g.synthesis(ws, transform=moved) - expected).abs().max()) < 1e-4
    # the sample grid is symmetric about the centre: a quarter turn and a one-sample shift of the
    # Fourier features are exact, and go the way the sliders say (counter-clockwise, rightwards)
    rate = g.synthesis.input.sampling_rate
    base = g.synthesis.features(ws, "input")
    turned = g.synthesis.features(ws, "input", transform=input_transform(rotate_degrees=90))
    assert torch.allclose(turned, torch.rot90(base, 1, dims=(2, 3)), atol=1e-5)
    shifted = g.synthesis.features(ws, "input", transform=input_transform(1 / rate, 0, 0))
    assert torch.allclose(shifted[..., 1:], base[..., :-1], atol=1e-5)


def test_mapping_needs_class_vectors_when_conditional(written):
    g = written[3]
    if not g.c_dim:
        pytest.skip("conditional configurations only")
    with pytest.raises(ConfigError, match="class vectors"):
        g.mapping(torch.randn(1, g.z_dim), None)


def test_wrong_ws_shape_is_refused(written):
    _, _, _, g, _ = written
    with pytest.raises(ConfigError, match="takes ws of shape"):
        g.synthesis(torch.zeros(1, g.num_ws + 1, g.w_dim))
    with pytest.raises(ConfigError, match="No synthesis layer"):
        g.synthesis.features(torch.zeros(1, g.num_ws, g.w_dim), "nope")


def test_only_generator_entries_open(written, tmp_path):
    _, _, path, _, _ = written
    with pytest.raises(CheckpointError, match="not a StyleGAN generator"):
        open_stylegan_pickle(path, which="D")
    with pytest.raises(CheckpointError, match="holds no G_old"):
        open_stylegan_pickle(path, which="G_old")


# --- files whose kwargs and tensors disagree ---------------------------------------------------


def _snapshot_with(tmp_path, change):
    family, codebase, config = CONFIGS["sg2-ada-16px"]
    config = {**config, "synthesis": dict(config["synthesis"])}
    change(config)
    g = random_generator(family, CONFIGS["sg2-ada-16px"][2])
    g.config = config
    path = tmp_path / "odd.pkl"
    write_snapshot(path, g, codebase)
    return path


def test_tensors_that_do_not_fit_the_kwargs_are_refused(tmp_path):
    path = _snapshot_with(tmp_path, lambda c: c["synthesis"].update(channel_max=32))
    with pytest.raises(CheckpointError, match="do not fit the stylegan2 network"):
        open_stylegan_pickle(path)


def test_absurd_sizes_are_refused_before_anything_is_allocated(tmp_path):
    path = _snapshot_with(tmp_path, lambda c: c["synthesis"].update(channel_base=2**24,
                                                                    channel_max=65536))
    with pytest.raises(CheckpointError, match="numbers; GAN Studio opens up to"):
        open_stylegan_pickle(path)
    path = _snapshot_with(tmp_path, lambda c: c.update(img_resolution=2**20))
    with pytest.raises(CheckpointError, match="img_resolution=1048576"):
        open_stylegan_pickle(path)


def test_unknown_options_are_named(tmp_path):
    path = _snapshot_with(tmp_path, lambda c: c["synthesis"].update(use_wavelets=True))
    with pytest.raises(CheckpointError, match="use_wavelets=True"):
        open_stylegan_pickle(path)
