"""The explorer's nearest training images: a small copy searched first, the best candidates
compared at full size; in memory for the built-in sets, from the prepared set for real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganstudio.engine.data.prepare import PrepareOptions, clear_prepared, prepare
from ganstudio.engine.errors import DatasetError
from ganstudio.engine.metrics.nearest import SMALL_FILE, SMALL_SIDE, NearestIndex


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))


def _smooth_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Random blobs (N, size, size, 3): images whose small copies differ as they do."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (n, 3, 4, 4)).astype(np.float32)
    big = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=size, mode="bilinear")
    noise = rng.normal(0, 12, (n, 3, size, size))
    return np.clip(big.numpy() + noise, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def _brute_force(images: np.ndarray, sample: np.ndarray, k: int):
    d = ((images.reshape(len(images), -1).astype(np.float64)
          - sample.transpose(2, 0, 1).reshape(-1)) ** 2).mean(axis=1)
    order = np.argsort(d, kind="stable")[:k]
    return order, np.sqrt(d[order])


def test_the_index_finds_what_a_full_size_search_finds():
    images = _smooth_images(3000, 32)  # the first pass compares 8 px copies
    tensor = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    index = NearestIndex.in_memory(tensor)
    rng = np.random.default_rng(5)
    for target in (7, 1234, 2999):
        noise = rng.normal(0, 20, images[target].shape)
        sample = np.clip(images[target] + noise, 0, 255).astype(np.uint8)
        idx, dist = index.search(sample, k=5)
        want_idx, want_dist = _brute_force(tensor.numpy(), sample, 5)
        assert idx.tolist() == want_idx.tolist() and np.allclose(dist, want_dist, atol=1e-3)
    assert np.array_equal(index.images(idx[::-1]), tensor.numpy()[idx[::-1]])


def test_a_prepared_set_is_searched_from_disk_with_its_small_copy_kept(tmp_path):
    images = _smooth_images(500, 24, seed=1)
    np.save(tmp_path / "set.npy", images)
    prepared = prepare(tmp_path / "set.npy", PrepareOptions(resolution=24))
    index = NearestIndex.of_prepared(prepared)
    small = prepared.folder / SMALL_FILE
    assert small.is_file() and np.load(small).shape == (500, 3 * SMALL_SIDE**2)
    idx, _ = index.search(images[321], k=3)
    assert idx[0] == 321

    np.save(small, np.zeros((3, 3), np.uint8))  # stale or damaged: made again
    assert NearestIndex.of_prepared(prepared).search(images[42], k=1)[0][0] == 42
    assert np.load(small).shape == (500, 3 * SMALL_SIDE**2)


def test_a_real_data_generator_finds_its_prepared_set(tmp_path):
    from ganstudio.engine.config import defaults_for
    from ganstudio.engine.data.batches import real_data
    from ganstudio.engine.explore import Request, TrainingData, nearest_picture
    from ganstudio.engine.formats import load_generator
    from ganstudio.engine.trainer import Trainer

    np.save(tmp_path / "faces.npy", _smooth_images(40, 16, seed=2))
    cfg = defaults_for(real_data(str(tmp_path / "faces.npy"), 16))
    cfg.model.width, cfg.train.steps, cfg.train.batch_size = 0.125, 2, 8
    cfg.train.device, cfg.train.grid_size = "cpu", 16
    list(Trainer(cfg, run_dir=tmp_path / "run").run())
    generator = load_generator(tmp_path / "run")

    data = TrainingData.of(generator)
    z = generator.sample_z(1, seed=0)
    picture = nearest_picture(Request(generator, generator.to_latent(z)), data, k=4)
    assert picture["n"] == 5 and len(picture["distances"]) == 4

    clear_prepared()
    with pytest.raises(DatasetError, match=r"ganstudio data prepare .*faces\.npy --resolution 16"):
        TrainingData.of(generator).get()


def test_generators_that_do_not_say_where_their_data_is_have_no_training_images():
    from ganstudio.engine.explore import TrainingData
    from ganstudio.engine.generator import Generator

    generator = Generator(module=torch.nn.Identity(), path=None, source="pytorch-dcgan",
                          kind="images", shape=(3, 64, 64), output_range=(-1.0, 1.0),
                          classes=(), z_dim=100)
    with pytest.raises(DatasetError, match="does not say what it was trained on"):
        TrainingData.of(generator)
