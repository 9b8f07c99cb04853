"""BigGAN-deep in the pytorch-pretrained-BigGAN format: the fixture reproduces the reference
package's outputs, classes can be mixed, truncation picks interpolated statistics, bad folders are
refused in one line."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from stylegan_support import shared_fixtures

from ganstudio.engine.errors import CheckpointError, ConfigError
from ganstudio.engine.formats.biggan_folder import imagenet_class_names, open_biggan, sniff
from ganstudio.engine.nets.biggan import BigGAN, TruncatedBatchNorm, truncated_noise

FIXTURE = shared_fixtures("biggan")
needs_fixture = pytest.mark.skipif(not FIXTURE.is_dir(), reason="shared fixtures not present")
TINY = {"output_dim": 16, "z_dim": 8, "class_embed_dim": 8, "channel_width": 8,
        "num_classes": 5,
        "layers": [[False, 16, 16], [True, 16, 8], [False, 8, 4], [True, 4, 2], [False, 2, 1]],
        "attention_layer_position": 1, "eps": 1e-4, "n_stats": 51}


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.inference_mode():
        yield


@pytest.fixture(scope="module")
def fixture_model():
    return open_biggan(FIXTURE)


@needs_fixture
@pytest.mark.parametrize("truncation", ["1.0", "0.4"])
def test_fixture_matches_the_reference_package(fixture_model, truncation):
    model, _ = fixture_model
    ref = np.load(FIXTURE / "reference.npz")
    z, classes = torch.from_numpy(ref["z"]), torch.from_numpy(ref["class_vector"])
    img = model(z, classes, float(truncation))
    err = float((img - torch.from_numpy(ref[f"img_trunc{truncation}"])).abs().max())
    assert err < 1e-3, f"truncation {truncation}: max abs error {err}"
    assert img.shape == (3, 3, 128, 128)


@needs_fixture
def test_fixture_opens_from_either_file_and_is_recognised(fixture_model, tmp_path):
    model, info = fixture_model
    assert info.classes[207] == "golden retriever" and len(info.classes) == 1000
    assert info.config["channel_width"] == 8
    for path in (FIXTURE, FIXTURE / "config.json", FIXTURE / "pytorch_model.bin"):
        assert sniff(path, path.read_bytes()[:64] if path.is_file() else b"")
    other, _ = open_biggan(FIXTURE / "pytorch_model.bin")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  other.state_dict().values()))
    assert not sniff(tmp_path, b"")


@needs_fixture
def test_labels_and_mixtures_of_classes(fixture_model):
    model, _ = fixture_model
    z = truncated_noise(2, 128, 0.5, torch.Generator().manual_seed(0))
    one_hot = torch.zeros(2, 1000)
    one_hot[0, 207], one_hot[1, 980] = 1, 1
    assert torch.allclose(model(z, torch.tensor([207, 980]), 0.5), model(z, one_hot, 0.5))
    mix = 0.5 * one_hot[0] + 0.5 * one_hot[1]
    mixed = model(z[:1], mix[None], 0.5)
    assert not torch.allclose(mixed, model(z[:1], one_hot[:1], 0.5))
    with pytest.raises(ConfigError, match="from 0 to 999"):
        model(z, torch.tensor([0, 1000]), 0.5)
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        model(z, one_hot, 1.5)


def test_statistics_between_stored_truncations_weigh_as_the_reference_does():
    bn = TruncatedBatchNorm(2, None, n_stats=51)
    bn.running_means.copy_(torch.arange(51.0)[:, None].expand(51, 2))
    assert torch.allclose(bn.statistics(0.4)[0], torch.tensor([20.0, 20.0]))
    assert torch.allclose(bn.statistics(1.0)[0], torch.tensor([50.0, 50.0]))
    # 0.405 lies a quarter of the way from the 20th to the 21st stored truncation; the package
    # gives the 20th the weight 0.25 and the 21st the weight 0.75
    assert torch.allclose(bn.statistics(0.405)[0], torch.tensor([20.75, 20.75]))


def test_truncated_noise():
    z = truncated_noise(20_000, 16, 0.7, torch.Generator().manual_seed(3))
    assert z.shape == (20_000, 16) and z.dtype == torch.float32
    assert float(z.abs().max()) <= 2 * 0.7 + 1e-6
    assert abs(float(z.mean())) < 0.01
    truncated_std = 0.8796  # a standard normal truncated to [-2, 2]
    assert float(z.std()) == pytest.approx(0.7 * truncated_std, rel=0.01)
    again = truncated_noise(20_000, 16, 0.7, torch.Generator().manual_seed(3))
    assert torch.equal(z, again)


def test_imagenet_class_names():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert len({n.lower() for n in names}) == 1000
    assert (names[0], names[1], names[207], names[980], names[999]) == (
        "tench", "goldfish", "golden retriever", "volcano", "toilet tissue")


# --- folders written by the tests ---------------------------------------------------------------


def _write_folder(path, config=TINY, state=None):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    if state is None:
        model = BigGAN(config)
        generator = torch.Generator().manual_seed(0)
        state = {k: torch.randn(v.shape, generator=generator)
                 for k, v in model.state_dict().items()}
        for key, value in state.items():
            if key.endswith("running_vars"):
                value.abs_().add_(0.5)
    torch.save(state, path / "pytorch_model.bin")
    return state


def test_a_small_biggan_of_another_layout_opens_and_runs(tmp_path):
    _write_folder(tmp_path / "tiny")
    model, info = open_biggan(tmp_path / "tiny")
    assert info.classes == tuple(f"class {i}" for i in range(5))
    img = model(truncated_noise(2, 8), torch.tensor([0, 4]), 0.3)
    assert img.shape == (2, 3, 16, 16) and float(img.abs().max()) <= 1


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path):
    state = _write_folder(tmp_path / "a")
    state["generator.extra"] = torch.zeros(1)
    del state["embeddings.weight"]
    _write_folder(tmp_path / "a", state=state)
    with pytest.raises(CheckpointError, match=r"missing: embeddings\.weight; unexpected: "
                                              r"generator\.extra") as caught:
        open_biggan(tmp_path / "a")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("change, message", [
    ({"channel_width": 10**6}, "channel_width=1000000"),
    ({"layers": "many"}, "lacks layers"),
    ({"output_dim": 32}, "upsample 4 px to 16 px"),
    ({"class_embed_dim": 7}, "needs them equal"),
    ({"layers": [[False, 16, 16], [True, 8, 8], [True, 8, 4]]}, "do not chain"),
])
def test_configs_that_cannot_work_are_refused(tmp_path, change, message):
    _write_folder(tmp_path / "b")
    (tmp_path / "b" / "config.json").write_text(json.dumps({**TINY, **change}))
    with pytest.raises(CheckpointError, match=message):
        open_biggan(tmp_path / "b")


class _Payload:
    def __reduce__(self):
        return (math.factorial, (5,))


def test_weights_with_pickled_code_are_refused(tmp_path):
    _write_folder(tmp_path / "c")
    torch.save({"embeddings.weight": _Payload()}, tmp_path / "c" / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="refused: it holds pickled Python objects"):
        open_biggan(tmp_path / "c")


def test_incomplete_folders_are_refused(tmp_path):
    _write_folder(tmp_path / "d")
    shutil.copy(tmp_path / "d" / "config.json", tmp_path / "config.json")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin does not exist"):
        open_biggan(tmp_path / "config.json")
    (tmp_path / "d" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="is not valid JSON"):
        open_biggan(tmp_path / "d")
    (tmp_path / "d" / "pytorch_model.bin").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "d" / "config.json").write_text(json.dumps(TINY))
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        open_biggan(tmp_path / "d")
