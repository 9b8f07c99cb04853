"""The procedural image datasets: handwriting-like digits and coloured shapes."""

from __future__ import annotations

import os

import pytest
import torch

from ganstudio.engine.data.digits import CLASSES as DIGIT_CLASSES
from ganstudio.engine.data.digits import build_digits
from ganstudio.engine.data.shapes import CLASSES as SHAPE_CLASSES
from ganstudio.engine.data.shapes import build_shapes
from ganstudio.engine.errors import ConfigError

LUMA = torch.tensor([0.299, 0.587, 0.114])


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    return build_digits(2000, seed=0)


@pytest.fixture(scope="module")
def shapes() -> tuple[torch.Tensor, torch.Tensor]:
    return build_shapes(2000, seed=0)


def nearest_class_mean_accuracy(
    train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor
) -> float:
    """Fit one mean per class on `train` features and score the nearest-mean rule on `test`."""
    classes = int(train_labels.max()) + 1
    means = torch.stack([train[train_labels == c].mean(dim=0) for c in range(classes)])
    predicted = torch.cdist(test, means).argmin(dim=1)
    return (predicted == test_labels).float().mean().item()


def pixel_grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    index = torch.arange(size, dtype=torch.float32)
    return torch.meshgrid(index, index, indexing="ij")


def radius_histogram(images: torch.Tensor) -> torch.Tensor:
    """A shape descriptor that ignores position, size, rotation and colour.

    The background is taken to be the plane through the luma of the outer two pixels; the
    shape is what stands out from it. The descriptor is the share of the shape at each distance
    from its centre of mass, measured in units of the square root of its area.
    """
    luma = torch.einsum("bchw,c->bhw", images.float() / 255, LUMA)
    size = luma.shape[-1]
    rows, cols = pixel_grid(size)
    border = torch.ones(size, size, dtype=torch.bool)
    border[2:-2, 2:-2] = False
    design = torch.stack([rows[border], cols[border], torch.ones(int(border.sum()))], dim=1)
    plane = luma[:, border] @ torch.linalg.pinv(design).T
    background = (
        plane[:, 0, None, None] * rows + plane[:, 1, None, None] * cols + plane[:, 2, None, None]
    )
    stand_out = (luma - background).abs()
    weight = (2 * stand_out / stand_out.amax(dim=(1, 2), keepdim=True) - 0.5).clamp(0, 1)

    area = weight.sum(dim=(1, 2))
    centre_row = (weight * rows).sum(dim=(1, 2)) / area
    centre_col = (weight * cols).sum(dim=(1, 2)) / area
    radius = torch.hypot(rows - centre_row[:, None, None], cols - centre_col[:, None, None])
    radius = radius / area.sqrt()[:, None, None]
    bins = 24
    index = (radius / 1.2 * bins).long().clamp(max=bins - 1).flatten(1)
    histogram = torch.zeros(len(images), bins).scatter_add_(1, index, weight.flatten(1))
    return histogram / area[:, None]


# Digits


def test_digits_are_mnist_shaped_uint8_with_balanced_labels(digits):
    images, labels = digits
    assert images.shape == (2000, 1, 28, 28)
    assert images.dtype == torch.uint8
    assert labels.shape == (2000,)
    assert labels.dtype == torch.int64
    assert tuple(str(d) for d in range(10)) == DIGIT_CLASSES
    assert torch.bincount(labels, minlength=10).tolist() == [200] * 10


def test_digits_are_white_antialiased_strokes_on_black(digits):
    images, _ = digits
    ink = images.float()
    assert (images == 0).float().mean() > 0.7  # mostly background
    assert images.flatten(1).amax(dim=1).min() >= 250  # every digit has a solid stroke core
    lit = images > 0
    grey = lit & (images < 255)
    assert 0.2 < grey.sum() / lit.sum() < 0.8  # soft edges, as MNIST has
    # Like MNIST, the digit sits inside the central 20 x 20 box, with nothing near the border.
    border_ink = ink.sum() - ink[..., 2:-2, 2:-2].sum()
    assert border_ink / ink.sum() < 1e-3


def test_digit_strokes_are_centred_by_their_centre_of_mass(digits):
    images, _ = digits
    ink = images[:, 0].float()
    rows, cols = pixel_grid(28)
    mass = ink.sum(dim=(1, 2))
    centre_row = (ink * rows).sum(dim=(1, 2)) / mass
    centre_col = (ink * cols).sum(dim=(1, 2)) / mass
    assert (centre_row - 13.5).abs().max() < 2.5
    assert (centre_col - 13.5).abs().max() < 2.5
    assert abs(centre_row.mean() - 13.5) < 0.3
    assert abs(centre_col.mean() - 13.5) < 0.3


@pytest.mark.parametrize("build", [build_digits, build_shapes], ids=["digits", "shapes"])
def test_builders_are_deterministic_per_seed(build):
    first, first_labels = build(300, seed=7)
    again, again_labels = build(300, seed=7)
    other, _ = build(300, seed=8)
    assert torch.equal(first, again)
    assert torch.equal(first_labels, again_labels)
    assert not torch.equal(first, other)


def test_no_two_digits_are_alike(digits):
    images, _ = digits
    assert len(torch.unique(images.flatten(1), dim=0)) == len(images)


def test_each_digit_class_has_its_own_mean_image(digits):
    images, labels = digits
    flat = images.flatten(1).float() / 255
    means = torch.stack([flat[labels == c].mean(dim=0) for c in range(10)])
    distance = torch.cdist(means, means) + torch.eye(10) * 1e9
    assert distance.min() > 1.5  # in units of a pixel going fully from black to white


def test_digits_are_told_apart_by_a_nearest_class_mean_rule(digits):
    images, labels = digits
    test_images, test_labels = build_digits(1000, seed=1)
    accuracy = nearest_class_mean_accuracy(
        images.flatten(1).float(), labels, test_images.flatten(1).float(), test_labels
    )
    assert accuracy > 0.7  # chance is 0.1


# Shapes


def test_shapes_are_rgb_uint8_with_balanced_labels(shapes):
    images, labels = shapes
    assert images.shape == (2000, 3, 32, 32)
    assert images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    assert SHAPE_CLASSES[:4] == ("circle", "square", "triangle", "star")
    counts = torch.bincount(labels, minlength=len(SHAPE_CLASSES))
    assert len(counts) == len(SHAPE_CLASSES)
    assert counts.max() - counts.min() <= 1


def test_shapes_use_the_colour_range_and_stand_out(shapes):
    images, _ = shapes
    for channel in images.transpose(0, 1):
        assert channel.min() <= 5
        assert channel.max() >= 250
    assert images.float().std() > 40
    # Each image's brightness spans at least most of the guaranteed shape/background contrast.
    luma = torch.einsum("bchw,c->bhw", images.float() / 255, LUMA).flatten(1)
    assert (luma.amax(dim=1) - luma.amin(dim=1)).min() > 0.2


def test_no_two_shape_images_are_alike(shapes):
    images, _ = shapes
    assert len(torch.unique(images.flatten(1), dim=0)) == len(images)


def test_each_shape_class_has_its_own_mean_outline(shapes):
    images, labels = shapes
    features = radius_histogram(images)
    means = torch.stack([features[labels == c].mean(dim=0) for c in range(len(SHAPE_CLASSES))])
    distance = torch.cdist(means, means) + torch.eye(len(SHAPE_CLASSES)) * 1e9
    # Circles and hexagons are alike at 32 px, so ask for means apart by far more than their
    # sampling error rather than for classes that never overlap.
    spread = (features - means[labels]).norm(dim=1).mean()
    standard_error = spread / (len(images) / len(SHAPE_CLASSES)) ** 0.5
    assert distance.min() > 4 * standard_error


def test_shapes_are_told_apart_by_a_nearest_class_mean_rule(shapes):
    images, labels = shapes
    test_images, test_labels = build_shapes(1000, seed=1)
    accuracy = nearest_class_mean_accuracy(
        radius_histogram(images), labels, radius_histogram(test_images), test_labels
    )
    assert accuracy > 0.6  # chance is 1 / 6


def test_the_dataset_registry_names_the_classes_the_builders_draw():
    from ganstudio.engine.data import DIGIT_CLASSES as REGISTERED_DIGITS
    from ganstudio.engine.data import SHAPE_CLASSES as REGISTERED_SHAPES

    assert REGISTERED_DIGITS == DIGIT_CLASSES
    assert REGISTERED_SHAPES == SHAPE_CLASSES


@pytest.mark.parametrize("build", [build_digits, build_shapes])
def test_an_empty_dataset_is_allowed_and_a_negative_size_is_refused(build):
    images, labels = build(0, seed=0)
    assert len(images) == len(labels) == 0
    with pytest.raises(ConfigError, match="-3"):
        build(-3, seed=0)


def test_a_cache_of_the_right_length_but_the_wrong_form_is_rebuilt(tmp_path, monkeypatch):
    from safetensors.torch import save

    from ganstudio.engine.data import cache

    monkeypatch.setattr(cache, "cache_dir", lambda: tmp_path)
    built = []

    def builder(n, seed):
        built.append(n)
        return torch.full((n, 1, 2, 2), 7, dtype=torch.uint8), torch.arange(n) % 3

    x, y = cache.cached_images("test", 4, 0, builder, (1, 2, 2), 3)
    assert built == [4] and x.shape == (4, 1, 2, 2)
    assert cache.cached_images("test", 4, 0, builder, (1, 2, 2), 3)[0].equal(x)
    assert built == [4]  # read back from the cache
    path = next((tmp_path / "datasets").glob("test-*.safetensors"))
    for images, labels in ((torch.zeros(4, 3, 2, 2, dtype=torch.uint8), y),  # wrong shape
                           (torch.zeros(4, 1, 2, 2), y),  # wrong type
                           (x, torch.full((4,), 9))):  # labels out of range
        path.write_bytes(save({"images": images.contiguous(), "labels": labels.contiguous()}))
        again, labels_again = cache.cached_images("test", 4, 0, builder, (1, 2, 2), 3)
        assert again.equal(x) and labels_again.equal(y)
    assert built == [4, 4, 4, 4]
    orphan = tmp_path / "datasets" / ".test.safetensors.0123456789ab.tmp"
    orphan.write_bytes(b"half")
    os.utime(orphan, (0, 0))  # left by a process killed long ago
    cache.cached_images("test", 4, 0, builder, (1, 2, 2), 3)
    assert not orphan.exists()
