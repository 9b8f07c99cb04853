"""Dataset files made to hurt: each gets a clear message naming it, none crashes the set or
fills the memory, and none runs code."""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
import tracemalloc
import zipfile

import numpy as np
import pytest
from dataset_files import (
    cifar_binary,
    cifar_python_batch,
    cifar_rows,
    image_folder,
    png_claiming,
    tar_folder,
    write_image,
)

from ganstudio.engine.data.prepare import PrepareOptions, prepare
from ganstudio.engine.data.sources import inspect_source, open_source
from ganstudio.engine.errors import DatasetError


def _reasons(report) -> str:
    return " | ".join(s.reason for s in report.first_skipped)


# --- images --------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (10_000, 10_000)])
def test_decompression_bomb_is_refused_by_name(tmp_path, width, height):
    # 900 MP is over twice Pillow's limit (its own error); 100 MP is between the limit and
    # twice it, where Pillow only warns: both are refused.
    root = image_folder(tmp_path / "set", {"a": 2, "b": 2})
    (root / "a" / "bomb.png").write_bytes(png_claiming(width, height))
    report = inspect_source(root)
    assert report.count == 4 and report.skipped == 1
    assert "set/a/bomb.png was refused" in _reasons(report)
    assert "decompression bomb" in _reasons(report)
    prepared = prepare(root, PrepareOptions(resolution=16), workers=1)
    assert len(prepared) == 4
    assert "bomb.png" in prepared.meta["skipped"]["first"][0]["reason"]


def test_truncated_jpeg_is_reported_by_inspect_and_skipped_by_prepare(tmp_path):
    root = image_folder(tmp_path / "set", {"a": 3, "b": 3}, size=(64, 64), suffix=".jpg")
    whole = (root / "b" / "001.jpg").read_bytes()
    (root / "b" / "001.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    report = inspect_source(root)
    assert report.count == 5 and report.class_counts == (3, 2)
    assert "set/b/001.jpg is cut short" in _reasons(report)
    prepared = prepare(root, PrepareOptions(resolution=16), workers=1)
    assert len(prepared) == 5 and prepared.meta["class_counts"] == [3, 2]
    assert list(prepared.labels) == [0, 0, 0, 1, 1]
    assert "001.jpg is damaged or cut short" in prepared.meta["skipped"]["first"][0]["reason"]


def test_files_that_only_pretend_to_be_images_are_skipped(tmp_path):
    root = image_folder(tmp_path / "set", {"a": 2, "b": 2})
    (root / "a" / "fake.png").write_bytes(b"this is not a png at all")
    (root / "b" / "empty.jpg").write_bytes(b"")
    report = inspect_source(root)
    assert report.count == 4 and report.skipped == 2
    assert "fake.png is not an image file Pillow can read" in _reasons(report)


# --- archives ------------------------------------------------------------------------------


def test_zip_members_that_escape_the_folder_are_refused(tmp_path):
    out = tmp_path / "evil.zip"
    png = write_image(tmp_path / "ok.png").read_bytes()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("set/a.png", png)
        z.writestr("set/b.png", png)
        z.writestr("../escaped.png", png)
        z.writestr("/etc/absolute.png", png)
        z.writestr("set/../../up.png", png)
    report = inspect_source(out)
    assert report.count == 2 and report.skipped == 3
    reasons = _reasons(report)
    assert "evil.zip/../escaped.png was refused: a path that climbs out" in reasons
    assert "evil.zip//etc/absolute.png was refused: an absolute path" in reasons
    assert not (tmp_path.parent / "escaped.png").exists()


def test_tar_members_that_escape_or_link_are_left_out(tmp_path):
    write_image(tmp_path / "ok.png")
    out = tmp_path / "evil.tar"
    with tarfile.open(out, "w") as tar:
        tar.add(tmp_path / "ok.png", "set/a.png")
        tar.add(tmp_path / "ok.png", "../escaped.png")
        link = tarfile.TarInfo("set/link.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    report = inspect_source(out)
    assert report.count == 1 and report.skipped == 1
    assert "escaped.png was refused" in _reasons(report)


def test_zip_member_claiming_a_huge_size_is_not_read(tmp_path, monkeypatch):
    from ganstudio.engine.data import archive

    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 1000)
    write_image(tmp_path / "ok.png", size=(64, 64))
    out = tmp_path / "big.zip"
    with zipfile.ZipFile(out, "w") as z:
        z.write(tmp_path / "ok.png", "big.png")
    with pytest.raises(DatasetError, match=r"big\.zip/big\.png was refused: .* bytes is more"):
        inspect_source(out)


# --- IDX -----------------------------------------------------------------------------------


def _idx_header(n: int) -> bytes:
    return bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28)


def test_raw_idx_whose_header_lies_is_refused_before_any_allocation(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    # Claims 4 billion images (3 TB) in a file of 784 bytes of pixels.
    path.write_bytes(_idx_header(4_000_000_000) + bytes(784))
    tracemalloc.start()
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte is damaged: its header "
                                           r"promises 4,000,000,000 × 28 × 28"):
        open_source(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10 << 20


def test_gzipped_idx_whose_header_lies_is_read_only_as_far_as_it_goes(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_header(1_000_000) + bytes(784 * 10)))
    tracemalloc.start()
    with pytest.raises(DatasetError, match=r"holds only 7,840"):
        open_source(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 << 20  # not the 784 MB the header asks for


def test_idx_cut_short_inside_its_header(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + b"\0\0")
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte"):
        open_source(path)


# --- CIFAR ---------------------------------------------------------------------------------


def test_cifar_binary_batch_cut_short(tmp_path):
    rows, labels = cifar_rows(4)
    data = cifar_binary(rows, labels)
    (tmp_path / "data_batch_1.bin").write_bytes(data[:-1000])
    with pytest.raises(DatasetError, match=r"data_batch_1\.bin is cut short: 11,292 bytes is not "
                                           r"a whole number of 3,073-byte CIFAR records"):
        open_source(tmp_path)
    with pytest.raises(DatasetError, match=r"data_batch_1\.bin is cut short"):
        open_source(tmp_path / "data_batch_1.bin")


def test_cifar_python_batch_cut_short(tmp_path):
    data = cifar_python_batch(*cifar_rows(4))
    (tmp_path / "data_batch_1").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"data_batch_1 is cut short"):
        open_source(tmp_path)


class _RunsCode:
    """Pickles as a call of ``function(*args)``: what a hostile file does."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _hostile_pickles(marker) -> dict[str, bytes]:
    import builtins
    import os
    import subprocess

    touch = f"open({str(marker)!r}, 'w').write('ran')"
    return {
        "os.system": pickle.dumps(_RunsCode(os.system, f"touch {marker}"), protocol=2),
        "builtins.exec": pickle.dumps(_RunsCode(builtins.exec, touch), protocol=2),
        "builtins.eval": pickle.dumps({"data": _RunsCode(builtins.eval, touch)}, protocol=4),
        "subprocess.Popen": pickle.dumps(_RunsCode(subprocess.Popen, ["touch", str(marker)])),
    }


@pytest.mark.parametrize("attack", ["os.system", "builtins.exec", "builtins.eval",
                                    "subprocess.Popen"])
def test_hostile_cifar_python_batch_runs_no_code(tmp_path, attack):
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_1").write_bytes(_hostile_pickles(marker)[attack])
    with pytest.raises(DatasetError, match=r"data_batch_1 was refused: it asks for .* which "
                                           r"could run code"):
        open_source(tmp_path)
    assert not marker.exists()


def test_hostile_global_hidden_in_a_real_looking_batch_runs_no_code(tmp_path):
    # A genuine batch whose dtype reconstruction is swapped for os.system.
    marker = tmp_path / "pwned"
    data = cifar_python_batch(*cifar_rows(2))
    evil = data.replace(b"cnumpy\ndtype\n", b"cos\nsystem\n", 1)
    evil = evil.replace(b"T\x02\x00\x00\x00u1", b"T" + struct.pack("<I", len(f"touch {marker}"))
                        + f"touch {marker}".encode(), 1)
    (tmp_path / "data_batch_1").write_bytes(evil)
    with pytest.raises(DatasetError, match=r"data_batch_1 was refused: it asks for os\.system"):
        open_source(tmp_path)
    assert not marker.exists()


def test_hostile_batch_inside_a_tarball_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(_hostile_pickles(marker)["os.system"])
    tarball = tar_folder(folder, tmp_path / "cifar-10-python.tar.gz")
    with pytest.raises(DatasetError, match=r"cifar-10-python\.tar\.gz/data_batch_1 was refused"):
        open_source(tarball)
    assert not marker.exists()


def test_cifar_array_of_objects_is_refused(tmp_path):
    data = cifar_python_batch(*cifar_rows(2)).replace(b"T\x02\x00\x00\x00u1",
                                                      b"T\x02\x00\x00\x00O8", 1)
    (tmp_path / "data_batch_1").write_bytes(data)
    with pytest.raises(DatasetError, match=r"data_batch_1 holds an array of type 'O8'"):
        open_source(tmp_path)


# --- arrays --------------------------------------------------------------------------------


def test_npy_of_pickled_objects_is_refused_and_runs_no_code(tmp_path):
    import os

    marker = tmp_path / "pwned"
    array = np.empty((2, 4, 4), dtype=object)
    array[0, 0, 0] = _RunsCode(os.system, f"touch {marker}")
    np.save(tmp_path / "evil.npy", array, allow_pickle=True)
    with pytest.raises(DatasetError, match=r"evil\.npy was refused"):
        open_source(tmp_path / "evil.npy")
    np.savez(tmp_path / "evil.npz", images=array)
    with pytest.raises(DatasetError, match=r"evil\.npz was refused"):
        open_source(tmp_path / "evil.npz")
    assert not marker.exists()
