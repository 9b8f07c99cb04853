"""DiffAugment: shapes, reproducibility, p = 0 is the identity, gradients flow."""

from __future__ import annotations

import pytest
import torch

from ganstudio.engine.augment import color, cutout, diff_augment, parse_policy, translation
from ganstudio.engine.errors import ConfigError


def _images(n: int = 8, c: int = 3, size: int = 16) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_shapes_and_reproducibility():
    x = _images()
    a = diff_augment(x, generator=torch.Generator().manual_seed(5))
    b = diff_augment(x, generator=torch.Generator().manual_seed(5))
    c = diff_augment(x, generator=torch.Generator().manual_seed(6))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_p_zero_is_the_identity_and_p_one_changes_every_image():
    x = _images()
    assert diff_augment(x, p=0.0) is x
    changed = (diff_augment(x, p=1.0, generator=torch.Generator().manual_seed(1)) != x)
    assert changed.flatten(1).any(dim=1).all()


def test_p_applies_each_transform_to_about_that_share_of_images():
    x = _images(n=400, size=8)
    out = diff_augment(x, "color", p=0.25, generator=torch.Generator().manual_seed(0))
    share = (out != x).flatten(1).any(dim=1).float().mean().item()
    assert 0.17 < share < 0.33


def test_gradients_flow_through_every_transform():
    x = _images().requires_grad_()
    out = diff_augment(x, generator=torch.Generator().manual_seed(2))
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_pixels_and_fills_with_zeros():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(20, 1, 1, 1) + 1
    out = translation(x, torch.Generator().manual_seed(0))
    for image in out[:, 0]:
        kept = image[image != 0]
        # every non-zero pixel is a pixel of the original, and a shifted image is cut at a side
        assert set(kept.tolist()) <= set(range(1, 17))
    assert (out == 0).any() and (out == x).flatten(1).all(dim=1).any()


def test_cutout_zeroes_a_square_of_half_the_size():
    x = torch.ones(50, 1, 8, 8)
    out = cutout(x, torch.Generator().manual_seed(0))
    holes = (out == 0).flatten(1).sum(dim=1)
    assert holes.max() == 16 and holes.min() >= 4  # 4 × 4, less where it hangs over an edge


def test_colour_works_on_grey_images():
    x = _images(c=1)
    out = color(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)


def test_unknown_policies_and_probabilities_are_refused():
    assert parse_policy(" color , cutout ") == ("color", "cutout")
    with pytest.raises(ConfigError, match="Unknown DiffAugment transform 'flip'"):
        diff_augment(_images(), "color,flip")
    with pytest.raises(ConfigError, match=r"from 0 to 1, not 1\.5"):
        diff_augment(_images(), p=1.5)
