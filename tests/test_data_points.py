import math

import numpy as np
import pytest
import torch

from ganstudio.engine.data import DATASETS, load_dataset
from ganstudio.engine.errors import DatasetError


def test_registry_describes_every_dataset():
    for info in DATASETS.values():
        assert info.kind in ("points", "images")
        assert info.description
    assert DATASETS["digits"].shape == (1, 28, 28)
    assert DATASETS["digits"].classes == tuple("0123456789")
    assert DATASETS["shapes"].shape == (3, 32, 32)
    assert {"circle", "square", "triangle", "star"} <= set(DATASETS["shapes"].classes)


def test_ring8_geometry():
    data = load_dataset("ring8", seed=0)
    assert data.x.shape == (50_000, 2) and data.x.dtype == torch.float32
    radii = data.modes.norm(dim=1)
    assert torch.allclose(radii, torch.full((8,), 2.0), atol=1e-6)
    angles = torch.atan2(data.modes[:, 1], data.modes[:, 0]) % (2 * math.pi)
    assert torch.allclose(angles.sort().values, torch.arange(8) * math.pi / 4, atol=1e-6)
    offsets = data.x - data.modes[data.y]
    assert offsets.std().item() == pytest.approx(0.02, rel=0.03)
    assert torch.bincount(data.y).tolist() == [6250] * 8


def test_grid25_geometry():
    data = load_dataset("grid25", seed=0)
    assert sorted({tuple(m) for m in data.modes.tolist()}) == [
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    ]
    offsets = data.x - data.modes[data.y]
    assert offsets.std().item() == pytest.approx(0.05, rel=0.03)


@pytest.mark.parametrize("name", ["ring8", "grid25", "spiral", "moons"])
def test_point_sets_are_deterministic_per_seed(name):
    a, b, c = (load_dataset(name, seed=s) for s in (3, 3, 4))
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, c.x)
    assert a.x.abs().max() < 6


def test_points_file_csv_with_header(tmp_path):
    path = tmp_path / "pts.csv"
    rows = "\n".join(f"{i * 0.1},{-i * 0.2}" for i in range(20))
    path.write_text("x,y\n" + rows + "\n")
    data = load_dataset("points", path=path)
    assert data.x.shape == (20, 2)
    assert data.x[3].tolist() == pytest.approx([0.3, -0.6])


def test_points_file_npy(tmp_path):
    path = tmp_path / "pts.npy"
    np.save(path, np.random.default_rng(0).normal(size=(100, 2)))
    assert load_dataset("points", path=path).x.shape == (100, 2)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("pts.csv", "1,2,3\n" * 20, "exactly two numbers"),
        ("pts.csv", "1,2\n" * 5, "at least 16"),
        ("pts.csv", "1,2\n" * 20 + "a,b\n", "line 21"),
        ("pts.csv", "", "no points"),
        ("pts.csv", "1,2\n" * 20 + "nan,1\n", "row 21"),
        ("pts.json", "[]", "extension"),
    ],
)
def test_bad_points_files_say_what_is_wrong(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset("points", path=path)
    assert name in str(err.value)


def test_points_npy_of_wrong_shape(tmp_path):
    path = tmp_path / "cube.npy"
    np.save(path, np.zeros((10, 3)))
    with pytest.raises(DatasetError, match=r"shape \(10, 3\).*\(N, 2\)"):
        load_dataset("points", path=path)


def test_points_npy_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}] * 20, dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="Python objects"):
        load_dataset("points", path=path)


def test_points_file_missing(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("points", path=tmp_path / "nope.csv")


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(DatasetError, match="ring8"):
        load_dataset("mnist-typo")
