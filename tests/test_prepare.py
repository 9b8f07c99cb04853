"""Preparing a set once: the pixels, the cache on disk, reuse, progress, cancel, the pool."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from dataset_files import image_folder, mnist_folder, tar_folder, write_image
from PIL import Image

from ganstudio.engine.data import prepare as prepare_module
from ganstudio.engine.data.prepare import (
    PrepareOptions,
    clear_prepared,
    fit_square,
    list_prepared,
    open_prepared,
    prepare,
    prepared_root,
)
from ganstudio.engine.errors import Cancelled, ConfigError, DatasetError

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSTUDIO_CACHE", str(tmp_path / "cache"))


def test_folder_prepared_to_a_memory_mapped_cache(tmp_path):
    root = image_folder(tmp_path / "pets", {"cat": 3, "dog": 2}, size=(40, 30))
    prepared = prepare(root, PrepareOptions(resolution=16), workers=1)
    assert prepared.images.shape == (5, 3, 16, 16) and prepared.images.dtype == np.uint8
    assert isinstance(prepared.images, np.memmap)
    assert prepared.classes == ("cat", "dog") and list(prepared.labels) == [0, 0, 0, 1, 1]
    assert prepared.folder.parent == prepared_root()
    meta = json.loads((prepared.folder / "meta.json").read_text())
    assert meta["count"] == 5 and meta["shape"] == [3, 16, 16]
    assert meta["class_counts"] == [3, 2] and meta["options"]["resolution"] == 16
    info = prepared.info
    assert info.kind == "images" and info.shape == (3, 16, 16) and info.size == 5
    # The pixels are the source's, centre-cropped and resized with Lanczos.
    expected = Image.open(root / "dog" / "001.png").convert("RGB").resize(
        (16, 16), Image.Resampling.LANCZOS, box=(5, 0, 35, 30))
    assert np.array_equal(prepared.images[4].transpose(1, 2, 0), np.asarray(expected))


def test_second_prepare_is_the_same_cache_without_decoding(tmp_path, monkeypatch):
    root = image_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    first = prepare(root, PrepareOptions(resolution=16), workers=1)

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(prepare_module, "prepare_image", no_decoding)
    again = prepare(root, PrepareOptions(resolution=16), workers=1)
    assert again.folder == first.folder
    # A different option is a different cache.
    monkeypatch.undo()
    other = prepare(root, PrepareOptions(resolution=32), workers=1)
    assert other.folder != first.folder and other.images.shape == (4, 3, 32, 32)


def test_idx_file_set_found_again_by_its_stamp_without_reading(tmp_path, monkeypatch):
    root = mnist_folder(tmp_path / "mnist", n_train=20)
    first = prepare(root, PrepareOptions(resolution=28))
    from ganstudio.engine.data import sources

    monkeypatch.setattr(sources, "open_source", lambda *a: pytest.fail("read again"))
    monkeypatch.setattr(prepare_module, "open_source", lambda *a: pytest.fail("read again"))
    assert prepare(root, PrepareOptions(resolution=28)).folder == first.folder


def test_centre_crop_and_pad_to_square():
    image = Image.new("RGB", (60, 30), (200, 10, 10))
    image.paste((10, 10, 200), (30, 0, 60, 30))  # left half red, right half blue
    crop = np.asarray(fit_square(image, 16, "centre"))
    assert crop.shape == (16, 16, 3)
    assert crop[:, 0, 0].min() > 150 and crop[:, -1, 2].min() > 150  # red left, blue right
    pad = np.asarray(fit_square(image, 16, "pad"))
    assert pad[:4].max() == 0 and pad[-4:].max() == 0  # black above and below
    assert pad[8, 0, 0] > 150 and pad[8, -1, 2] > 150


def test_grey_sources_prepare_to_one_channel_unless_asked(tmp_path):
    for k in range(3):
        write_image(tmp_path / "grey" / f"{k}.png", k, mode="L")
    assert prepare(tmp_path / "grey", PrepareOptions(resolution=16)).shape == (1, 16, 16)
    assert prepare(tmp_path / "grey", PrepareOptions(resolution=16, grayscale=False)).shape == (
        3, 16, 16)
    rgb = image_folder(tmp_path / "rgb", {"a": 2, "b": 2})
    prepared = prepare(rgb, PrepareOptions(resolution=16, grayscale=True))
    assert prepared.shape == (1, 16, 16)
    expected = Image.open(rgb / "a" / "000.png").convert("L").resize(
        (16, 16), Image.Resampling.LANCZOS, box=(5, 0, 35, 30))
    assert np.array_equal(prepared.images[0, 0], np.asarray(expected))


def test_mixed_modes_and_sizes_prepare_together(tmp_path):
    root = tmp_path / "mixed"
    for k, mode in enumerate(["RGB", "L", "RGBA", "P", "I;16", "LA"]):
        write_image(root / f"{k}.png", k, size=(20 + 7 * k, 30), mode=mode)
    write_image(root / "6.jpg", 6, size=(50, 20))
    prepared = prepare(root, PrepareOptions(resolution=16, crop="pad"), workers=1)
    assert prepared.images.shape == (7, 3, 16, 16) and prepared.meta["skipped"]["count"] == 0


@pytest.fixture
def small_pool(monkeypatch):
    """The pool used for a few images, in small tasks (the parent alone decides both)."""
    monkeypatch.setattr(prepare_module, "_POOL_MINIMUM", 0)
    monkeypatch.setattr(prepare_module, "_CHUNK", 8)


def test_pool_and_streamed_tar_give_the_same_pixels_as_one_process(tmp_path, small_pool):
    root = image_folder(tmp_path / "many", {"a": 30, "b": 23}, size=(24, 20), suffix=".jpg")
    (root / "b" / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    one = prepare(root, PrepareOptions(resolution=16), workers=1)
    clear_prepared()
    seen = []
    pooled = prepare(root, PrepareOptions(resolution=16), workers=2,
                     progress=lambda done, total: seen.append((done, total)))
    tarball = tar_folder(root, tmp_path / "many.tar.gz")
    streamed = prepare(tarball, PrepareOptions(resolution=16), workers=2)
    assert len(one) == len(pooled) == len(streamed) == 53
    assert np.array_equal(one.images, pooled.images)
    assert np.array_equal(one.images, streamed.images)
    assert np.array_equal(one.labels, pooled.labels) and np.array_equal(one.labels, streamed.labels)
    for p in (one, pooled, streamed):
        skipped = p.meta["skipped"]
        assert skipped["count"] == 1 and "bad.jpg" in skipped["first"][0]["name"]
    assert seen[-1] == (54, 54) and [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_leaves_nothing_behind(tmp_path, workers, small_pool):
    root = image_folder(tmp_path / "many", {"a": 20, "b": 20}, size=(16, 16))
    with pytest.raises(Cancelled):
        prepare(root, PrepareOptions(resolution=16), workers=workers, cancel=lambda: True)
    assert not prepared_root().exists() or list(prepared_root().iterdir()) == []


def test_a_cache_of_the_right_length_but_wrong_shape_is_not_trusted(tmp_path):
    root = image_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    prepared = prepare(root, PrepareOptions(resolution=16), workers=1)
    folder = prepared.folder
    del prepared
    np.save(folder / "images.npy", np.zeros((4, 3, 16, 15), np.uint8))
    with pytest.raises(DatasetError, match=r"holds uint8 \(4, 3, 16, 15\), not the uint8 "
                                           r"\(4, 3, 16, 16\) its meta\.json promises"):
        open_prepared(folder)
    again = prepare(root, PrepareOptions(resolution=16), workers=1)
    assert again.images.shape == (4, 3, 16, 16) and again.images.any()


def test_flip_is_recorded_without_preparing_again(tmp_path):
    root = image_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    plain = prepare(root, PrepareOptions(resolution=16), workers=1)
    flipped = prepare(root, PrepareOptions(resolution=16), flip=True, workers=1)
    assert flipped.folder == plain.folder and flipped.flip
    assert open_prepared(plain.folder).flip


def test_listing_and_clearing_the_cache(tmp_path):
    root = image_folder(tmp_path / "pets", {"cat": 2, "dog": 2})
    prepare(root, PrepareOptions(resolution=16), workers=1)
    prepare(root, PrepareOptions(resolution=32), workers=1)
    listed = list_prepared()
    assert sorted(p.shape for p in listed) == [(3, 16, 16), (3, 32, 32)]
    assert all(p.count == 4 and p.classes == 2 and p.bytes > 4 * 3 * 16 * 16 for p in listed)
    assert clear_prepared() == sum(p.bytes for p in listed)
    assert list_prepared() == []


@pytest.mark.parametrize(("options", "message"), [
    (PrepareOptions(resolution=8), "from 16 to 256, not 8"),
    (PrepareOptions(resolution=300), "not 300"),
    (PrepareOptions(crop="stretch"), "Unknown crop 'stretch'"),
])
def test_bad_options_are_refused(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        prepare(tmp_path, options)


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_prepares_to_its_own_pixels():
    prepared = prepare(FASHION, PrepareOptions(resolution=28))
    assert prepared.images.shape == (60_000, 1, 28, 28) and len(prepared.classes) == 10
    assert prepared.meta["class_counts"] == [6_000] * 10
    raw = gzip.decompress((FASHION / "train-images-idx3-ubyte.gz").read_bytes())
    first = np.frombuffer(raw[16 : 16 + 2 * 784], np.uint8).reshape(2, 28, 28)
    assert np.array_equal(prepared.images[:2, 0], first)
    labels = gzip.decompress((FASHION / "train-labels-idx1-ubyte.gz").read_bytes())[8:]
    assert np.array_equal(prepared.labels, np.frombuffer(labels, np.uint8))
