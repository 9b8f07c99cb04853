"""Every source format on small files the tests write: what inspect reports, what load gives."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from dataset_files import (
    CIFAR10_NAMES,
    cifar10_python_folder,
    cifar_binary,
    cifar_python_batch,
    cifar_rows,
    image_folder,
    mnist_folder,
    pixels,
    stylegan_zip,
    tar_folder,
    write_idx,
    write_image,
    zip_folder,
)
from PIL import Image

from ganstudio.engine.data.sources import inspect_source, open_source
from ganstudio.engine.errors import DatasetError

FASHION = Path("/usr/share/datasets/fashion-mnist")


def _classes(report) -> dict[str, int]:
    return dict(zip(report.classes, report.class_counts))


# --- image folders -------------------------------------------------------------------------


def test_folder_with_class_subfolders(tmp_path):
    root = image_folder(tmp_path / "pets", {"cat": 3, "dog": 2})
    write_image(root / "dog" / "puppies" / "deep.jpg", 9)  # deeper still belongs to dog
    (root / "cat" / "notes.txt").write_text("not an image")
    write_image(root / "cat" / ".hidden.png", 10)
    write_image(root / ".thumbs" / "x.png", 11)
    report = inspect_source(root)
    assert report.format == "image-folder"
    assert report.count == 6
    assert _classes(report) == {"cat": 3, "dog": 3}
    assert report.sizes == [(40, 30, 6)] and report.channels == 3
    assert report.skipped_quietly == 2  # notes.txt and .hidden.png; hidden folders unlisted
    assert report.skipped == 0


def test_folder_without_subfolders_has_no_classes(tmp_path):
    for k in range(3):
        write_image(tmp_path / "flat" / f"{k}.png", k)
    report = inspect_source(tmp_path / "flat")
    assert report.count == 3 and report.classes == () and report.class_counts == ()


def test_every_image_format_and_mode_is_read(tmp_path):
    root = tmp_path / "mixed"
    write_image(root / "a.png", 0, (40, 30))
    write_image(root / "b.jpg", 1, (64, 48), quality=95)
    write_image(root / "c.webp", 2, (20, 20))
    write_image(root / "d.bmp", 3, (20, 20))
    write_image(root / "e.tiff", 4, (20, 20))
    write_image(root / "f.png", 5, (20, 20), mode="L")
    write_image(root / "g.png", 6, (20, 20), mode="RGBA")
    write_image(root / "h.png", 7, (20, 20), mode="P")
    write_image(root / "i.png", 8, (20, 20), mode="I;16")
    write_image(root / "j.png", 9, (20, 20), mode="LA")
    frames = [Image.fromarray(pixels(k, (12, 12))).convert("P") for k in range(3)]
    frames[0].save(root / "k.gif", save_all=True, append_images=frames[1:])
    report = inspect_source(root)
    assert report.count == 11 and report.skipped == 0
    assert report.modes["I;16"] == 1 and report.modes["P"] == 2  # the GIF is a palette image
    assert sorted((w, h) for w, h, _ in report.sizes) == [(12, 12), (20, 20), (40, 30), (64, 48)]
    source = open_source(root)
    for i in range(len(source)):
        assert source.load(i).mode in ("L", "RGB")
    # The GIF's first frame, the 16-bit PNG at 8 bits.
    gif = source.names.index("k.gif")
    assert np.array_equal(np.asarray(source.load(gif)), np.asarray(frames[0].convert("RGB")))
    grey16 = np.asarray(source.load(source.names.index("i.png")))
    assert np.array_equal(grey16, pixels(8, (20, 20), 1)[:, :, 0])


def test_empty_folder_and_folder_of_non_images_say_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty holds no images\.$"):
        inspect_source(tmp_path / "empty")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    (tmp_path / "docs" / "b.csv").write_text("1,2")
    with pytest.raises(DatasetError, match=r"docs holds no images \(2 hidden files or non-images"):
        inspect_source(tmp_path / "docs")


def test_missing_path_single_image_and_unknown_file(tmp_path):
    with pytest.raises(DatasetError, match="nowhere does not exist"):
        open_source(tmp_path / "nowhere")
    image = write_image(tmp_path / "one.png")
    with pytest.raises(DatasetError, match=r"one\.png is a single image"):
        open_source(image)
    (tmp_path / "x.dat").write_bytes(b"hello world" * 10)
    with pytest.raises(DatasetError, match=r"x\.dat is not a dataset GAN Studio can read"):
        open_source(tmp_path / "x.dat")


def test_folder_fingerprint_follows_changes(tmp_path):
    root = image_folder(tmp_path / "set", {"a": 2, "b": 2})
    before = open_source(root).fingerprint()
    assert open_source(root).fingerprint() == before
    write_image(root / "a" / "new.png", 50)
    assert open_source(root).fingerprint() != before


# --- archives ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz", "tar.xz"])
def test_archives_read_like_the_folder_they_hold(tmp_path, kind):
    root = image_folder(tmp_path / "pets", {"cat": 3, "dog": 2})
    (root / "readme.txt").write_text("hello")
    out = tmp_path / f"pets.{kind}"
    if kind == "zip":
        zip_folder(root, out)
    else:
        tar_folder(root, out, {"tar": "w", "tar.gz": "w:gz", "tar.xz": "w:xz"}[kind])
    report = inspect_source(out)
    assert report.count == 5 and _classes(report) == {"cat": 3, "dog": 2}
    assert report.skipped_quietly == 1
    folder, archive = open_source(root), open_source(out)
    assert archive.names == folder.names  # the archive's top folder is stripped
    for i in range(len(folder)):
        assert np.array_equal(np.asarray(archive.load(i)), np.asarray(folder.load(i)))
    assert archive.random_access == (kind in ("zip", "tar"))
    assert list(dict(archive.iter_items(range(len(archive))))) != []


def test_stylegan_dataset_tool_zip_keeps_its_labels(tmp_path):
    report = inspect_source(stylegan_zip(tmp_path / "sg.zip", [0, 2, 2, 1, 0, 2]))
    assert report.description == "StyleGAN2-ADA dataset zip"
    assert report.count == 6 and _classes(report) == {"0": 2, "1": 1, "2": 3}
    unlabelled = inspect_source(stylegan_zip(tmp_path / "plain.zip", None))
    # dataset_tool's 00000/ folders are not classes
    assert unlabelled.count == 6 and unlabelled.classes == ()


# --- IDX -----------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_style_idx_folder(tmp_path, gz):
    root = mnist_folder(tmp_path / "mnist", n_train=30, n_test=10, gz=gz)
    report = inspect_source(root)
    assert report.count == 30 and report.sizes == [(28, 28, 30)] and report.channels == 1
    assert report.classes == tuple(str(d) for d in range(10))
    assert report.class_counts == (3,) * 10
    assert len(open_source(root, split="test")) == 10
    assert len(open_source(root, split="all")) == 40
    source = open_source(root)
    raw = (root / f"train-images-idx3-ubyte{'.gz' if gz else ''}").read_bytes()
    raw = gzip.decompress(raw) if gz else raw
    first = np.frombuffer(raw[16 : 16 + 784], np.uint8).reshape(28, 28)
    assert np.array_equal(np.asarray(source.load(0)), first)


def test_single_idx_file_finds_its_labels_and_set_names(tmp_path):
    root = mnist_folder(tmp_path / "fashion", n_train=20, n_test=10)
    report = inspect_source(root / "t10k-images-idx3-ubyte.gz")
    assert report.count == 10 and report.classes[0] == "T-shirt/top" and report.classes[9] == (
        "Ankle boot")
    with pytest.raises(DatasetError, match="holds labels, not images"):
        open_source(root / "t10k-labels-idx1-ubyte.gz")


def test_emnist_is_turned_upright_and_named_by_its_mapping(tmp_path):
    images = np.zeros((3, 28, 28), np.uint8)
    images[:, 0, 5] = 255  # stored transposed: row 5, column 0 once upright
    write_idx(tmp_path / "emnist-letters-train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "emnist-letters-train-labels-idx1-ubyte.gz", np.array([1, 2, 1], np.uint8))
    (tmp_path / "emnist-letters-mapping.txt").write_text("1 65 97\n2 66 98\n")
    source = open_source(tmp_path / "emnist-letters-train-images-idx3-ubyte.gz")
    assert source.classes == ("A", "B")
    assert np.asarray(source.load(0))[5, 0] == 255


# --- CIFAR ---------------------------------------------------------------------------------


def test_cifar10_python_version_folder_and_tarball(tmp_path):
    root = cifar10_python_folder(tmp_path / "cifar-10-batches-py", per_batch=6, batches=2)
    report = inspect_source(root)
    assert report.count == 12 and report.sizes == [(32, 32, 12)] and report.channels == 3
    assert report.classes == CIFAR10_NAMES
    assert len(open_source(root, split="test")) == 4
    # The publisher's tarball is read in place, and the folder it unpacks to from its parent.
    tarball = tar_folder(root, tmp_path / "cifar-10-python.tar.gz")
    assert inspect_source(tarball).count == 12
    assert inspect_source(tmp_path).count == 12
    rows, _ = cifar_rows(6)
    image = np.asarray(open_source(tarball).load(1))
    assert np.array_equal(image, rows[1].reshape(3, 32, 32).transpose(1, 2, 0))


def test_cifar_binary_versions(tmp_path):
    ten = tmp_path / "cifar-10-batches-bin"
    ten.mkdir()
    rows, labels = cifar_rows(5)
    (ten / "data_batch_1.bin").write_bytes(cifar_binary(rows, labels))
    (ten / "data_batch_2.bin").write_bytes(cifar_binary(rows, labels))
    (ten / "test_batch.bin").write_bytes(cifar_binary(rows[:2], labels[:2]))
    (ten / "batches.meta.txt").write_text("\n".join(CIFAR10_NAMES) + "\n\n")
    report = inspect_source(ten)
    assert report.count == 10 and report.classes == CIFAR10_NAMES
    assert np.array_equal(np.asarray(open_source(ten).load(3)),
                          rows[3].reshape(3, 32, 32).transpose(1, 2, 0))

    hundred = tmp_path / "cifar-100-binary"
    hundred.mkdir()
    rows, labels = cifar_rows(7, hundred=True)
    labels[:] = [0, 99, 5, 5, 40, 41, 99]
    (hundred / "train.bin").write_bytes(cifar_binary(rows, labels, hundred=True))
    source = open_source(hundred)
    assert len(source) == 7 and len(source.classes) == 100
    assert list(source.labels) == [0, 99, 5, 5, 40, 41, 99]  # the fine labels


def test_single_cifar_python_batch(tmp_path):
    rows, labels = cifar_rows(3, hundred=True)
    (tmp_path / "train").write_bytes(cifar_python_batch(rows, labels, hundred=True))
    source = open_source(tmp_path / "train")
    assert len(source) == 3 and len(source.classes) == 100


# --- arrays --------------------------------------------------------------------------------


def test_npy_grey_with_labels_beside(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (8, 20, 20), dtype=np.uint8)
    np.save(tmp_path / "faces.npy", images)
    np.save(tmp_path / "faces_labels.npy", np.array([3, 3, 7, 7, 7, 3, 9, 9]))
    report = inspect_source(tmp_path / "faces.npy")
    assert report.count == 8 and report.channels == 1
    assert _classes(report) == {"3": 3, "7": 3, "9": 2}
    assert np.array_equal(np.asarray(open_source(tmp_path / "faces.npy").load(2)), images[2])


@pytest.mark.parametrize(("lo", "expected_range"), [(-1.0, (-1.0, 1.0)), (0.0, (0.0, 1.0))])
def test_npz_floats_map_to_bytes(tmp_path, lo, expected_range):
    x = np.linspace(lo, 1.0, 2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 3, 8, 8)  # N, C, H, W
    np.savez(tmp_path / "set.npz", images=x, labels=np.array([1, 0]),
             classes=np.array(["cats", "dogs"]))
    source = open_source(tmp_path / "set.npz")
    assert source.value_range == expected_range
    assert source.classes == ("cats", "dogs") and list(source.labels) == [1, 0]
    pixels_ = source.rows(0, 2)
    assert pixels_.shape == (2, 8, 8, 3) and pixels_.dtype == np.uint8
    assert pixels_[0, 0, 0, 0] == 0 and pixels_[1, 7, 7, 2] == 255


def test_arrays_outside_the_image_ranges_are_refused(tmp_path):
    np.save(tmp_path / "big.npy", np.full((2, 8, 8), 3.5, np.float32))
    with pytest.raises(DatasetError, match=r"big.npy holds values from 3.5 to 3.5"):
        open_source(tmp_path / "big.npy")
    np.save(tmp_path / "flat.npy", np.zeros((5, 7), np.uint8))
    with pytest.raises(DatasetError, match=r"flat.npy holds an array of shape \(5, 7\);"):
        open_source(tmp_path / "flat.npy")


# --- the installed real set ----------------------------------------------------------------


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_installed_fashion_mnist_is_found_by_name():
    from ganstudio.engine.data.catalogue import resolve_source

    assert resolve_source("fashion-mnist") == FASHION
    report = inspect_source(resolve_source("fashion-mnist"))
    assert report.count == 60_000 and report.sizes == [(28, 28, 60_000)]
    assert len(report.classes) == 10 and report.class_counts == (6_000,) * 10
    assert report.classes[0] == "T-shirt/top"
    assert json.loads(json.dumps(report.to_dict()))["count"] == 60_000


def test_a_zip_member_packed_with_a_method_zipfile_cannot_unpack_is_named(tmp_path):
    import io
    import zipfile

    png = io.BytesIO()
    Image.new("L", (8, 8), 128).save(png, "PNG")
    path = tmp_path / "ppmd.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.png", png.getvalue())
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # method: 98 (PPMd)
        at = data.index(signature)
        data[at + offset : at + offset + 2] = (98).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="compression method 98"):
        open_source(path).open_item(0)
