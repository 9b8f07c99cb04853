"""The famous pretrained networks behind the generator interface: NVIDIA's StyleGAN fixtures
and a pytorch-pretrained-BigGAN folder, each through load_generator, ``ganstudio sample --z
… --out x.npy`` and ``ganstudio convert``, against the outputs their own code computed."""

import json

import numpy as np
import pytest
import torch
from loopback import FileServer
from stylegan_support import shared_fixtures

from ganstudio.cli import main
from ganstudio.engine.explore import sample
from ganstudio.engine.formats import find_format, load_generator
from ganstudio.engine.generator import RenderOptions

STYLEGAN = shared_fixtures("stylegan")
BIGGAN = shared_fixtures("biggan")
TOLERANCE = 1e-3
pytestmark = pytest.mark.skipif(not STYLEGAN.is_dir() or not BIGGAN.is_dir(),
                                reason="shared fixtures not present")
PICKLES = ["sg2ada_32px", "sg3t_16px", "sg3r_16px"]


def _reference(name):
    return dict(np.load(STYLEGAN / f"{name}.reference.npz", allow_pickle=False))


def _max_error(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


@pytest.mark.parametrize("name", PICKLES)
def test_stylegan_pickles_sample_as_nvidias_code_did(name):
    ref = _reference(name)
    generator = load_generator(STYLEGAN / f"{name}.pkl")
    assert generator.latent_space == "w" and generator.num_ws == ref["ws"].shape[1]
    assert generator.latent_dim == ref["ws"].shape[2]
    z = torch.from_numpy(ref["z"])
    w = generator.to_latent(z)
    assert _max_error(generator.broadcast(w), ref["ws"]) < 1e-5
    assert _max_error(generator.broadcast(generator.truncate(w, 0.5)), ref["ws_psi05"]) < 1e-5
    assert _max_error(sample(generator, z), ref["img"]) < TOLERANCE
    assert _max_error(sample(generator, z, psi=0.5), ref["img_psi05"]) < TOLERANCE


@pytest.mark.parametrize("name", PICKLES)
def test_sample_and_convert_reproduce_the_stylegan_references(name, tmp_path, capsys):
    ref = _reference(name)
    np.save(tmp_path / "z.npy", ref["z"])
    pickle = STYLEGAN / f"{name}.pkl"
    converted = tmp_path / f"{name}.safetensors"
    assert main(["convert", str(pickle), str(converted)]) == 0
    assert find_format(converted).NAME == "ganstudio"
    for source in (pickle, converted):
        for psi, key in (("1", "img"), ("0.5", "img_psi05")):
            out = tmp_path / f"out-{psi}.npy"
            assert main(["sample", str(source), "--z", str(tmp_path / "z.npy"), "--truncation",
                         psi, "--out", str(out), "--force"]) == 0
            assert _max_error(np.load(out, allow_pickle=False), ref[key]) < TOLERANCE
    again = load_generator(converted)
    assert again.meta["converted_from"]["file"] == pickle.name
    assert again.num_ws == ref["ws"].shape[1] and again.family == load_generator(pickle).family


def test_biggan_samples_as_the_reference_package_did(tmp_path, capsys):
    ref = dict(np.load(BIGGAN / "reference.npz", allow_pickle=False))
    generator = load_generator(BIGGAN)
    assert len(generator.classes) == 1000 and generator.classes[207] == "golden retriever"
    assert generator.can_mix_classes()
    z, classes = torch.from_numpy(ref["z"]), torch.from_numpy(ref["class_vector"])
    for psi in (1.0, 0.4):
        # z given explicitly is used as given: ψ only picks the batch-norm statistics
        assert _max_error(sample(generator, z, classes, psi), ref[f"img_trunc{psi}"]) < TOLERANCE
    np.save(tmp_path / "z.npy", ref["z"])
    np.save(tmp_path / "classes.npy", ref["class_vector"])
    converted = tmp_path / "biggan.safetensors"
    assert main(["convert", str(BIGGAN), str(converted), "--half"]) == 0
    for source, tolerance in ((BIGGAN, TOLERANCE), (converted, 0.05)):  # fp16 weights
        out = tmp_path / "out.npy"
        assert main(["sample", str(source), "--z", str(tmp_path / "z.npy"), "--labels",
                     str(tmp_path / "classes.npy"), "--truncation", "0.4", "--out", str(out),
                     "--force"]) == 0
        assert _max_error(np.load(out, allow_pickle=False), ref["img_trunc0.4"]) < tolerance


def test_biggan_draws_truncated_noise_scaled_by_psi():
    generator = load_generator(BIGGAN)
    z = generator.sample_z(2000, seed=3, psi=0.5)
    assert float(z.abs().max()) <= 2 * 0.5 + 1e-6
    assert torch.equal(z, generator.sample_z(2000, seed=3, psi=0.5))
    assert torch.equal(generator.truncate(z, 0.3), z)  # ψ is spent on the noise and the stats


def test_stylegan_tools_truncate_with_a_cutoff_and_mix_styles():
    generator = load_generator(STYLEGAN / "sg2ada_32px.pkl")
    w = generator.to_latent(generator.sample_z(2, seed=1))
    ws = generator.broadcast(w)
    cut = generator.truncate(ws, 0.0, cutoff=3)
    mean = generator.mean_latent()
    assert torch.allclose(cut[:, :3], mean.expand(2, 3, -1))  # the first three pulled in
    assert torch.equal(cut[:, 3:], ws[:, 3:])  # the rest untouched
    mixed = ws[0].clone()
    first, stop = generator.layer_groups[-1][1:]
    mixed[first:stop] = ws[1, first:stop]  # the finest styles from the second latent
    a, b, m = (generator.render(x[None]) for x in (ws[0], ws[1], mixed))
    assert not torch.equal(m, a) and not torch.equal(m, b)
    assert float((m - a).abs().mean()) < float((b - a).abs().mean())  # fine styles: a detail


def test_stylegan2_renders_coarse_to_fine_and_shows_its_layers():
    generator = load_generator(STYLEGAN / "sg2ada_32px.pkl")
    w = generator.to_latent(generator.sample_z(1, seed=0))
    stages = list(generator.render_stages(w))
    assert len(stages) == 4  # 4, 8, 16 and 32 px blocks, each shown at 32 px
    assert all(s.shape == (1, 3, 32, 32) for s in stages)
    assert torch.allclose(stages[-1], generator.render(w), atol=1e-6)
    layer = generator.layers[2]
    maps = generator.layer_features(w, layer)
    assert maps.dim() == 4 and maps.shape[0] == 1
    for mode in ("const", "random", "none"):
        out = generator.render(w, options=RenderOptions(noise_mode=mode, noise_seed=1))
        assert out.shape == (1, 3, 32, 32)
    const = generator.render(w, options=RenderOptions(noise_mode="const"))
    none = generator.render(w, options=RenderOptions(noise_mode="none"))
    assert not torch.equal(const, none)


def test_stylegan3_input_transform_moves_the_image():
    generator = load_generator(STYLEGAN / "sg3t_16px.pkl")
    w = generator.to_latent(generator.sample_z(1, seed=0))
    still = generator.render(w, options=RenderOptions(transform=(0.0, 0.0, 0.0)))
    moved = generator.render(w, options=RenderOptions(transform=(0.25, 0.0, 0.0)))
    turned = generator.render(w, options=RenderOptions(transform=(0.0, 0.0, 90.0)))
    assert not torch.allclose(still, moved) and not torch.allclose(still, turned)


def test_converting_a_torch_export_program_is_refused_in_one_line(tmp_path, capsys):
    class Tiny(torch.nn.Module):
        def forward(self, z):
            return torch.tanh(z[:, :12].reshape(-1, 3, 2, 2))

    program = torch.export.export(Tiny(), (torch.randn(4, 16),))
    torch.export.save(program, tmp_path / "tiny.pt2")
    assert main(["convert", str(tmp_path / "tiny.pt2"), str(tmp_path / "out.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "cannot rebuild from a config" in err and len(err.strip().splitlines()) == 1


def test_info_describes_a_stylegan_pickle_and_a_biggan_folder(capsys):
    assert main(["info", str(STYLEGAN / "sg3r_16px.pkl"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["family"], info["latent_space"], info["num_ws"]) == ("stylegan3", "w", 16)
    assert main(["info", str(BIGGAN), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["family"], info["classes"], info["shape"]) == ("biggan", 1000, [3, 128, 128])


def _catalogue_of(server, family="stylegan2", resolution=32):
    from ganstudio.engine.networks_catalogue import NetworkEntry, NetworkFile

    return {"tiny": NetworkEntry(
        "tiny", "A tiny StyleGAN2", family, resolution, "test", "http://example.invalid",
        "test licence",
        (NetworkFile("tiny.pkl", (server.base + "missing.pkl", server.base + "tiny.pkl"),
                     None, None),), "tiny.pkl")}


def test_a_catalogue_network_downloads_from_the_next_mirror_and_opens(monkeypatch, capsys,
                                                                      tmp_path):
    from ganstudio.engine import networks_catalogue

    monkeypatch.setattr(networks_catalogue, "network_folder", lambda name: tmp_path / name)
    server = FileServer({"tiny.pkl": (STYLEGAN / "sg2ada_32px.pkl").read_bytes()})
    try:
        monkeypatch.setattr(networks_catalogue, "networks", lambda: _catalogue_of(server))
        assert networks_catalogue.downloaded_path("tiny") is None
        assert main(["networks", "download", "tiny"]) == 0
        path = capsys.readouterr().out.strip()
        assert path.endswith("tiny.pkl") and load_generator(path).family == "stylegan2"
        assert networks_catalogue.downloaded_path("tiny") == networks_catalogue.network_folder(
            "tiny") / "tiny.pkl"
    finally:
        server.close()


def test_a_download_that_is_not_the_network_named_is_deleted(monkeypatch, capsys, tmp_path):
    from ganstudio.engine import networks_catalogue

    monkeypatch.setattr(networks_catalogue, "network_folder", lambda name: tmp_path / name)
    server = FileServer({"tiny.pkl": (STYLEGAN / "sg3t_16px.pkl").read_bytes()})
    try:
        monkeypatch.setattr(networks_catalogue, "networks", lambda: _catalogue_of(server))
        assert main(["networks", "download", "tiny"]) == 2
        err = capsys.readouterr().err
        assert "stylegan3 network at 16 px, not the stylegan2 at 32 px" in err
        assert not networks_catalogue.network_folder("tiny").exists()
    finally:
        server.close()
