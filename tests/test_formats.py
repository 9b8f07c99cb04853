"""Every generator loader, on real files the tests build, and the files they refuse."""

import pickle

import pytest
import torch
from torch import nn
from torch.export import Dim

from ganstudio.engine.errors import CheckpointError
from ganstudio.engine.formats import load_generator, supported


class ExampleGenerator(nn.Module):
    """The generator of the PyTorch DCGAN example (examples/dcgan/main.py), verbatim layout."""

    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


def _example(nz=20, ngf=8, nc=3):
    torch.manual_seed(0)
    net = ExampleGenerator(nz, ngf, nc)
    for m in net.modules():  # trained-looking BatchNorm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.mark.parametrize("wrap", ["plain", "dataparallel", "checkpoint-dict"])
def test_dcgan_example_netG_loads_with_its_sizes_inferred(tmp_path, wrap):
    net = _example()
    state = net.state_dict()
    if wrap == "dataparallel":
        state = {f"module.{k}": v for k, v in state.items()}
    elif wrap == "checkpoint-dict":
        state = {"netG": state, "epoch": 24}
    path = tmp_path / "netG_epoch_24.pth"
    torch.save(state, path)
    loaded = load_generator(path)
    assert loaded.source == "pytorch-dcgan"
    assert (loaded.z_dim, loaded.shape, loaded.kind) == (20, (3, 64, 64), "images")
    assert loaded.meta == {"nz": 20, "ngf": 8, "nc": 3, "image_size": 64}
    assert loaded.output_range == (-1.0, 1.0)
    z = torch.randn(5, 20)
    with torch.no_grad():
        expected = net(z[:, :, None, None])
    assert torch.allclose(loaded.render(z), expected, atol=1e-6)


def test_dcgan_example_variant_with_other_depth_and_channels(tmp_path):
    net = nn.Module()
    net.main = nn.Sequential(  # a 32 px, grayscale variant people make of the example
        nn.ConvTranspose2d(64, 128, 4, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
        nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(True),
        nn.ConvTranspose2d(32, 1, 4, 2, 1, bias=False), nn.Tanh(),
    )
    path = tmp_path / "netG.pt"
    torch.save(net.state_dict(), path)
    loaded = load_generator(path)
    assert loaded.z_dim == 64 and loaded.shape == (1, 32, 32)
    assert loaded.render(torch.randn(2, 64)).shape == (2, 1, 32, 32)


class CustomGenerator(nn.Module):
    """A generator from "another codebase": an MLP with a label embedding, in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 4)
        self.net = nn.Sequential(nn.Linear(12 + 4, 64), nn.ReLU(), nn.Linear(64, 3 * 16 * 16))

    def forward(self, z, labels):
        x = self.net(torch.cat([z, self.embed(labels)], dim=1))
        return torch.sigmoid(x).view(-1, 3, 16, 16)


def test_torch_export_program_with_labels_and_dynamic_batch(tmp_path):
    torch.manual_seed(0)
    net = CustomGenerator().eval()
    batch = Dim("batch")
    program = torch.export.export(
        net, (torch.randn(4, 12), torch.zeros(4, dtype=torch.long)),
        dynamic_shapes={"z": {0: batch}, "labels": {0: batch}})
    path = tmp_path / "custom.pt2"
    torch.export.save(program, path)
    loaded = load_generator(path)
    assert loaded.source == "torch-export" and loaded.z_dim == 12
    assert loaded.classes == tuple(str(i) for i in range(7))  # from the embedding table
    assert loaded.shape == (3, 16, 16) and loaded.output_range == (0.0, 1.0)
    z, labels = torch.randn(9, 12), torch.arange(9) % 7
    with torch.no_grad():
        expected = net(z, labels)
    assert torch.allclose(loaded.render(z, labels), expected, atol=1e-6)
    assert loaded.features(z, labels).shape == (9, 3 * 16 * 16)  # the output itself


def test_torch_export_program_with_a_fixed_batch_and_4d_latents(tmp_path):
    net = nn.Sequential(nn.Flatten(), nn.Linear(8, 28 * 28), nn.Tanh(),
                        nn.Unflatten(1, (1, 28, 28))).eval()
    program = torch.export.export(net, (torch.randn(5, 8, 1, 1),))
    path = tmp_path / "fixed.pt2"
    torch.export.save(program, path)
    loaded = load_generator(path)
    assert loaded.z_dim == 8 and loaded.meta["batch"] == 5 and not loaded.conditional
    z = torch.randn(12, 8)  # not a multiple of 5: split and padded
    out = loaded.render(z)
    with torch.no_grad():
        expected = net(z[:, :, None, None])
    assert out.shape == (12, 1, 28, 28) and torch.allclose(out, expected, atol=1e-6)
    assert loaded.output_range == (-1.0, 1.0)


def test_torch_export_of_something_that_is_not_a_generator(tmp_path):
    program = torch.export.export(nn.Linear(4, 3).eval(), (torch.randn(2, 4),))
    path = tmp_path / "classifier.pt2"
    torch.export.save(program, path)
    with pytest.raises(CheckpointError, match=r"outputs of shape \(16, 3\)"):
        load_generator(path)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "netG.pth"
    with open(path, "wb") as f:
        pickle.dump({"main.0.weight": torch.zeros(1), "x": _Exploit(str(marker))}, f)
    torch.save({"netG": _Exploit(str(marker))}, tmp_path / "zip.pth")
    for bad in (path, tmp_path / "zip.pth"):
        with pytest.raises(CheckpointError, match="refused"):
            load_generator(bad)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".pth", ".pt2", ".safetensors"])
def test_truncated_files_get_a_clear_error(tmp_path, suffix):
    if suffix == ".pth":
        torch.save(_example().state_dict(), tmp_path / "whole.pth")
    elif suffix == ".pt2":
        program = torch.export.export(nn.Linear(4, 2).eval(), (torch.randn(2, 4),))
        torch.export.save(program, tmp_path / "whole.pt2")
    else:
        from ganstudio.engine.checkpoint import save_generator

        save_generator(tmp_path / "whole.safetensors", {"w": torch.ones(1000)}, {"model": {}})
    data = (tmp_path / f"whole{suffix}").read_bytes()
    broken = tmp_path / f"broken{suffix}"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=rf"broken\{suffix}.*(damaged|truncated)"):
        load_generator(broken)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("photo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "is a PNG image"),
    ("weights.pth", None, "not a generator laid out like the PyTorch DCGAN example"),
    ("notes.pt2", b"hello, these are notes, not weights",
     "not a generator file GAN Studio can open: it is text"),
])
def test_files_of_the_wrong_kind_list_what_is_supported(tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as err:
        load_generator(path)
    if name != "weights.pth":
        assert supported() in str(err.value)


def test_the_format_is_chosen_by_content_not_by_suffix(tmp_path):
    from ganstudio.resources import pretrained_dir

    native = tmp_path / "weights.pt"  # a safetensors checkpoint under a PyTorch suffix
    native.write_bytes((pretrained_dir() / "ring8.safetensors").read_bytes())
    assert load_generator(native).source == "ganstudio"

    pickle_named = tmp_path / "netG.pkl"  # a torch.save archive under a pickle suffix
    torch.save(_example().state_dict(), pickle_named)
    assert load_generator(pickle_named).source == "pytorch-dcgan"

    program = torch.export.export(nn.Sequential(nn.Linear(4, 2)).eval(), (torch.randn(3, 4),))
    exported = tmp_path / "model.bin"
    torch.export.save(program, exported)
    assert load_generator(exported).kind == "points"


def test_a_checkpoint_under_a_name_that_is_not_utf8_opens(tmp_path, capsys):
    import os

    from ganstudio.cli import main
    from ganstudio.resources import pretrained_dir

    path = tmp_path / os.fsdecode(b"ring8-\xff\xfe.safetensors")
    try:
        path.write_bytes((pretrained_dir() / "ring8.safetensors").read_bytes())
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    assert load_generator(path).dataset == "ring8"
    assert main(["info", str(path)]) == 0
    out = tmp_path / os.fsdecode(b"samples-\xff.png")
    assert main(["sample", str(path), "--n", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and "samples-\\xff.png" in printed and "damaged" not in printed
