"""Latent maths, rendering, exports and the nearest-image check (engine only, no Qt)."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from ganstudio.engine import latent
from ganstudio.engine.metrics.nearest import NearestIndex
from ganstudio.engine.rendering import save_animation, scatter, strip, upscale


def test_sample_latents_are_deterministic_per_seed():
    a, b, c = (latent.sample_latents(4, 8, s) for s in (7, 7, 8))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == (4, 8)


def test_slerp_hits_both_ends_and_keeps_the_norm_at_the_midpoint():
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    assert torch.allclose(latent.slerp(a, b, 0.0), a)
    assert torch.allclose(latent.slerp(a, b, 1.0), b)
    mid = latent.slerp(a, b, 0.5)
    assert torch.allclose(mid, torch.tensor([3 / math.sqrt(2), 3 / math.sqrt(2)]))
    assert mid.norm().item() == pytest.approx(3.0)
    # a straight line cuts the corner: its midpoint is shorter
    assert latent.lerp(a, b, 0.5).norm().item() == pytest.approx(3 / math.sqrt(2))


def test_slerp_interpolates_norms_and_handles_parallel_vectors():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])
    half = 1 / math.sqrt(2)
    assert torch.allclose(latent.slerp(a, b, 0.5), torch.tensor([half, 3 * half]))
    parallel = latent.slerp(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0]), 0.5)
    assert torch.allclose(parallel, torch.tensor([1.5, 1.5]))


def test_slerp_of_many_t_values():
    a, b = torch.randn(16), torch.randn(16)
    out = latent.slerp(a, b, torch.linspace(0, 1, 5))
    assert out.shape == (5, 16)
    assert torch.allclose(out[0], a, atol=1e-5) and torch.allclose(out[-1], b, atol=1e-5)


def test_truncation_moves_towards_the_mean():
    z, mean = torch.tensor([[2.0, -4.0]]), torch.tensor([1.0, 0.0])
    assert torch.equal(latent.truncate(z, mean, 1.0), z)
    assert torch.equal(latent.truncate(z, mean, 0.0), mean.expand(1, 2))
    assert torch.allclose(latent.truncate(z, mean, 0.5), torch.tensor([[1.5, -2.0]]))


def test_interpolation_passes_through_every_keyframe():
    keys = torch.randn(3, 6)
    path = latent.interpolate(keys, 9, "slerp")
    assert path.shape == (9, 6)
    for frame, i in ((0, 0), (4, 1), (8, 2)):
        assert torch.allclose(path[frame], keys[i], atol=1e-5)
    lerped = latent.interpolate(keys[:2], 3, "lerp")
    assert torch.allclose(lerped[1], keys[:2].mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="two keyframes"):
        latent.interpolate(keys[:1], 4)


def test_walk_and_plane():
    z, d1, d2 = torch.zeros(3), torch.tensor([1.0, 0, 0]), torch.tensor([0, 1.0, 0])
    w = latent.walk(z, d1, 5, 2.0)
    assert w[:, 0].tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    p = latent.plane(z, d1, d2, 1.0, 3).reshape(3, 3, 3)
    assert p[0, 0].tolist() == [-1.0, 1.0, 0.0]  # top-left: -d1, +d2
    assert p[2, 2].tolist() == [1.0, -1.0, 0.0]
    assert torch.equal(p[1, 1], z)


def test_pca_directions_recover_a_known_structure():
    # features: z0 varies the activations most, then z2, then z1; z3 not at all
    mix = torch.zeros(4, 6)
    mix[0, :3] = torch.tensor([6.0, 6.0, 2.0])
    mix[2, 3] = 4.0
    mix[1, 4] = 1.0
    z = latent.sample_latents(4000, 4, seed=0)
    dirs = latent.pca_directions(lambda rows: z[rows] @ mix, z, k=3)
    assert dirs.vectors.shape == (3, 4)
    for i, axis in enumerate((0, 2, 1)):
        expected = torch.zeros(4)
        expected[axis] = 1.0
        assert abs(float(dirs.vectors[i] @ expected)) > 0.99
    var = torch.tensor([76.0, 16.0, 1.0])
    assert torch.allclose(dirs.explained, var / var.sum(), atol=0.02)
    assert torch.allclose(dirs.vectors.norm(dim=1), torch.ones(3))
    assert torch.all(dirs.latent_r2 > 0.999)  # linear features: z explains them fully


def test_pca_directions_say_when_the_latents_do_not_explain_a_component():
    # the strongest feature varies with something the latents do not hold (a class)
    z = latent.sample_latents(3000, 3, seed=1)
    other = torch.randint(0, 2, (3000, 1)).float() * 10.0
    dirs = latent.pca_directions(lambda rows: torch.cat([other[rows], z[rows]], 1), z, k=2)
    assert dirs.latent_r2[0] < 0.05 and dirs.latent_r2[1] > 0.99


def test_interpolating_per_layer_latents_keeps_their_shape():
    keys = torch.stack([torch.zeros(4, 3), torch.ones(4, 3)])
    path = latent.interpolate(keys, 5, "lerp")
    assert path.shape == (5, 4, 3)
    assert torch.allclose(path[2], torch.full((4, 3), 0.5))


def test_nearest_images_finds_the_copy():
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 255, (20000, 1, 8, 8), dtype=np.uint8))
    sample = images[12345].permute(1, 2, 0).numpy().copy()
    sample[0, 0, 0] = 0  # almost a copy
    index = NearestIndex.in_memory(images)
    idx, dist = index.search(sample, k=3)
    assert idx[0] == 12345 and dist[0] < 30 and dist[1] > dist[0]
    assert len(idx) == 3
    with pytest.raises(ValueError, match="cannot be compared"):
        index.search(np.zeros((4, 4, 1), np.uint8))


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animations_decode_with_the_right_frames_and_size(tmp_path, suffix):
    frames = [np.full((20, 30, 3), 10 * i, np.uint8) for i in range(6)]
    for i, f in enumerate(frames):
        f[i, i] = 255
    path = save_animation(tmp_path / f"walk{suffix}", frames, fps=10)
    with Image.open(path) as image:
        assert image.n_frames == 6 and image.size == (30, 20)
        assert image.info.get("loop") == 0
    bounced = save_animation(tmp_path / f"bounce{suffix}", frames, bounce=True)
    with Image.open(bounced) as image:
        assert image.n_frames == 10


def test_animation_needs_a_known_format_and_two_frames(tmp_path):
    frames = [np.zeros((4, 4, 1), np.uint8)] * 2
    with pytest.raises(ValueError, match=r"gif or \.webp"):
        save_animation(tmp_path / "x.mp4", frames)
    with pytest.raises(ValueError, match="two frames"):
        save_animation(tmp_path / "x.gif", frames[:1])


def test_strip_upscale_and_scatter():
    images = np.zeros((4, 5, 5, 1), np.uint8)
    assert strip(images).shape == (9, 4 * 7 + 2, 1)
    assert upscale(np.ones((2, 3, 1), np.uint8), 4).shape == (8, 12, 1)
    picture = scatter(np.zeros((10, 2)), (-1, 1, -1, 1), marks=[(np.array([[0.5, 0.5]]),
                                                              (255, 0, 0), 4)], size=50)
    assert picture.shape == (50, 50, 3)
    y, x = np.argwhere((picture == [255, 0, 0]).all(axis=2)).mean(axis=0)
    assert x == pytest.approx(36.75, abs=1.5) and y == pytest.approx(12.25, abs=1.5)
