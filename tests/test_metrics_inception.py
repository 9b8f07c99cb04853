"""FID's Inception-v3 against the layout of pytorch-fid's weights file
(pt_inception-2015-12-05-6726825d.pth), with made-up weights: no download in tests."""

from __future__ import annotations

import pytest
import torch

from ganstudio.engine.errors import CheckpointError, WeightsMissingError
from ganstudio.engine.metrics.inception import (
    WEIGHTS_FILE,
    FIDInceptionV3,
    inception_weights_path,
    load_inception,
)


def _conv(name: str, cin: int, cout: int, kh: int, kw: int | None = None) -> dict:
    """BasicConv2d: a bias-free convolution and a batch norm."""
    return {
        f"{name}.conv.weight": (cout, cin, kh, kw or kh),
        f"{name}.bn.weight": (cout,), f"{name}.bn.bias": (cout,),
        f"{name}.bn.running_mean": (cout,), f"{name}.bn.running_var": (cout,),
    }


def _block_a(name, cin, pool):
    return {**_conv(f"{name}.branch1x1", cin, 64, 1),
            **_conv(f"{name}.branch5x5_1", cin, 48, 1),
            **_conv(f"{name}.branch5x5_2", 48, 64, 5),
            **_conv(f"{name}.branch3x3dbl_1", cin, 64, 1),
            **_conv(f"{name}.branch3x3dbl_2", 64, 96, 3),
            **_conv(f"{name}.branch3x3dbl_3", 96, 96, 3),
            **_conv(f"{name}.branch_pool", cin, pool, 1)}


def _block_b(name, cin):
    return {**_conv(f"{name}.branch3x3", cin, 384, 3),
            **_conv(f"{name}.branch3x3dbl_1", cin, 64, 1),
            **_conv(f"{name}.branch3x3dbl_2", 64, 96, 3),
            **_conv(f"{name}.branch3x3dbl_3", 96, 96, 3)}


def _block_c(name, cin, c7):
    return {**_conv(f"{name}.branch1x1", cin, 192, 1),
            **_conv(f"{name}.branch7x7_1", cin, c7, 1),
            **_conv(f"{name}.branch7x7_2", c7, c7, 1, 7),
            **_conv(f"{name}.branch7x7_3", c7, 192, 7, 1),
            **_conv(f"{name}.branch7x7dbl_1", cin, c7, 1),
            **_conv(f"{name}.branch7x7dbl_2", c7, c7, 7, 1),
            **_conv(f"{name}.branch7x7dbl_3", c7, c7, 1, 7),
            **_conv(f"{name}.branch7x7dbl_4", c7, c7, 7, 1),
            **_conv(f"{name}.branch7x7dbl_5", c7, 192, 1, 7),
            **_conv(f"{name}.branch_pool", cin, 192, 1)}


def _block_d(name, cin):
    return {**_conv(f"{name}.branch3x3_1", cin, 192, 1),
            **_conv(f"{name}.branch3x3_2", 192, 320, 3),
            **_conv(f"{name}.branch7x7x3_1", cin, 192, 1),
            **_conv(f"{name}.branch7x7x3_2", 192, 192, 1, 7),
            **_conv(f"{name}.branch7x7x3_3", 192, 192, 7, 1),
            **_conv(f"{name}.branch7x7x3_4", 192, 192, 3)}


def _block_e(name, cin):
    return {**_conv(f"{name}.branch1x1", cin, 320, 1),
            **_conv(f"{name}.branch3x3_1", cin, 384, 1),
            **_conv(f"{name}.branch3x3_2a", 384, 384, 1, 3),
            **_conv(f"{name}.branch3x3_2b", 384, 384, 3, 1),
            **_conv(f"{name}.branch3x3dbl_1", cin, 448, 1),
            **_conv(f"{name}.branch3x3dbl_2", 448, 384, 3),
            **_conv(f"{name}.branch3x3dbl_3a", 384, 384, 1, 3),
            **_conv(f"{name}.branch3x3dbl_3b", 384, 384, 3, 1),
            **_conv(f"{name}.branch_pool", cin, 192, 1)}


def expected_layout() -> dict[str, tuple[int, ...]]:
    """The tensors of pytorch-fid's file: torchvision's Inception3 names (no AuxLogits), its
    FIDInceptionA/C/E_1/E_2 blocks, and a 1,008-class fc."""
    layout = {
        **_conv("Conv2d_1a_3x3", 3, 32, 3), **_conv("Conv2d_2a_3x3", 32, 32, 3),
        **_conv("Conv2d_2b_3x3", 32, 64, 3), **_conv("Conv2d_3b_1x1", 64, 80, 1),
        **_conv("Conv2d_4a_3x3", 80, 192, 3),
        **_block_a("Mixed_5b", 192, 32), **_block_a("Mixed_5c", 256, 64),
        **_block_a("Mixed_5d", 288, 64), **_block_b("Mixed_6a", 288),
        **_block_c("Mixed_6b", 768, 128), **_block_c("Mixed_6c", 768, 160),
        **_block_c("Mixed_6d", 768, 160), **_block_c("Mixed_6e", 768, 192),
        **_block_d("Mixed_7a", 768), **_block_e("Mixed_7b", 1280), **_block_e("Mixed_7c", 2048),
        "fc.weight": (1008, 2048), "fc.bias": (1008,),
    }
    return layout


def file_weights(with_batch_counts: bool) -> dict[str, torch.Tensor]:
    """A state dict of the file's layout; each tensor holds its own value, so a tensor loaded
    under the wrong name shows."""
    state = {}
    for i, (name, shape) in enumerate(expected_layout().items()):
        state[name] = torch.full(shape, 1.0 + i / 1000)
        if with_batch_counts and name.endswith("bn.running_var"):
            state[name.replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    return state


def test_layout_has_the_published_parameter_count():
    # torchvision's inception_v3 has 27,161,264 parameters; without its auxiliary head
    # (768·128 + 2·128 + 128·768·25 + 2·768 + 768·1000 + 1000 = 3,326,696) and with 1,008
    # classes instead of 1,000 (8 · 2,049 more), FID's network has 23,850,960.
    layout = expected_layout()
    learned = [s for n, s in layout.items() if not n.endswith(("running_mean", "running_var"))]
    assert sum(torch.Size(s).numel() for s in learned) == 23_850_960
    assert sum(p.numel() for p in FIDInceptionV3().parameters()) == 23_850_960


@pytest.mark.parametrize("with_batch_counts", [True, False])
def test_the_weights_file_layout_loads_strictly_by_name(tmp_path, with_batch_counts):
    path = tmp_path / WEIGHTS_FILE
    weights = file_weights(with_batch_counts)
    torch.save(weights, path)
    network = load_inception(path)
    state = network.state_dict()
    assert not any(t.is_meta for t in state.values())
    for name, shape in expected_layout().items():
        assert tuple(state[name].shape) == shape, name
        assert torch.equal(state[name], weights[name]), name
    assert not network.training


def test_a_forward_pass_gives_2048_pool_features():
    network = FIDInceptionV3().eval()
    images = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)  # grey, small
    with torch.no_grad():
        features = network.pool_features(images)
    assert features.shape == (2, 2048)
    assert torch.isfinite(features).all() and (features >= 0).all()  # after ReLUs


def test_a_file_of_another_layout_is_refused(tmp_path):
    state = file_weights(False)
    state["AuxLogits.fc.weight"] = torch.zeros(1000, 768)  # torchvision's ImageNet network
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="not the FID Inception-v3"):
        load_inception(path)


def test_missing_weights_say_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path))
    with pytest.raises(WeightsMissingError) as e:
        inception_weights_path()
    text = str(e.value)
    assert WEIGHTS_FILE in text and str(tmp_path / "weights") in text
    assert "https://github.com/mseitzer/pytorch-fid/releases/download/" in text
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / WEIGHTS_FILE).write_bytes(b"")
    assert inception_weights_path() == tmp_path / "weights" / WEIGHTS_FILE


def _served_weights(tmp_path) -> tuple[bytes, str]:
    """A weights file of the published layout, and the prefix of its sha256."""
    import hashlib

    generator = torch.Generator().manual_seed(0)
    state = {}
    for name, shape in expected_layout().items():  # He-scaled, batch norm the identity
        if name.endswith(("running_var", "bn.weight")):
            state[name] = torch.ones(shape)
        elif name.endswith(("running_mean", "bias")):
            state[name] = torch.zeros(shape)
        else:
            fan_in = torch.Size(shape[1:]).numel()
            state[name] = torch.randn(shape, generator=generator) * (2 / fan_in) ** 0.5
    path = tmp_path / "served.pth"
    torch.save(state, path)
    body = path.read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:8]


def test_the_weights_download_once_checked_against_the_hash_in_their_name(tmp_path, monkeypatch):
    from loopback import FileServer

    from ganstudio.engine.metrics import inception

    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    body, prefix = _served_weights(tmp_path)
    seen = []
    with FileServer({WEIGHTS_FILE: body}) as server:
        monkeypatch.setattr(inception, "WEIGHTS_URL", server.url(WEIGHTS_FILE))
        monkeypatch.setattr(inception, "WEIGHTS_SHA256_PREFIX", prefix)
        path = inception.download_inception_weights(lambda have, total: seen.append(have))
        assert path == inception_weights_path() and path.read_bytes() == body
        assert seen[-1] == len(body)
        inception.download_inception_weights()  # present and intact: not fetched again
        assert server.requests == [WEIGHTS_FILE]
    network = load_inception(path)
    assert network.Conv2d_1a_3x3.conv.weight.shape == (32, 3, 3, 3)


def test_weights_that_do_not_match_their_hash_are_deleted_and_refused(tmp_path, monkeypatch):
    from loopback import FileServer

    from ganstudio.engine.metrics import inception

    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))
    body, prefix = _served_weights(tmp_path)
    wrong = format((int(prefix, 16) + 1) % 16**8, "08x")
    with FileServer({WEIGHTS_FILE: body}) as server:
        monkeypatch.setattr(inception, "WEIGHTS_URL", server.url(WEIGHTS_FILE))
        monkeypatch.setattr(inception, "WEIGHTS_SHA256_PREFIX", wrong)
        with pytest.raises(WeightsMissingError, match="wrong sha256 checksum") as e:
            inception.download_inception_weights()
    assert "--features classifier" in str(e.value)
    assert list((tmp_path / "cache" / "weights").iterdir()) == []


def test_offline_the_weights_download_says_so_and_what_to_do(tmp_path, monkeypatch):
    from loopback import refused_url

    from ganstudio.engine.metrics import inception

    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path))
    monkeypatch.setattr(inception, "WEIGHTS_URL", refused_url(WEIGHTS_FILE))
    with pytest.raises(WeightsMissingError) as e:
        inception.download_inception_weights()
    text = str(e.value)
    assert "could not be downloaded" in text and str(tmp_path / "weights") in text
    assert "--features classifier" in text
