"""The image metrics' maths against the reference implementations on fixed arrays: FID and KID
against torchmetrics, precision/recall/density/coverage against the prdc package."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.metrics.classes import class_metrics
from ganstudio.engine.metrics.frechet import frechet_distance_of_features
from ganstudio.engine.metrics.kernel import kernel_distance, polynomial_mmd2
from ganstudio.engine.metrics.manifold import knn_radii, manifold_metrics

torchmetrics_fid = pytest.importorskip("torchmetrics.image.fid")
torchmetrics_kid = pytest.importorskip("torchmetrics.image.kid")
prdc = pytest.importorskip("prdc")


class Identity(torch.nn.Module):
    """torchmetrics' custom feature extractor: features pass through unchanged."""

    def __init__(self, dims: int):
        super().__init__()
        self.num_features = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20240611)
    real = rng.normal(size=(400, 32)).astype(np.float32)
    shifted = (1.2 * rng.normal(size=(300, 32)) + 0.3).astype(np.float32)
    # mode collapse: every generated sample within 0.01 of one real sample
    collapsed = (real[7] + 0.01 * rng.normal(size=(300, 32))).astype(np.float32)
    far_collapse = (4.0 + 0.01 * rng.normal(size=(300, 32))).astype(np.float32)
    few_real = rng.normal(size=(60, 100)).astype(np.float32)  # fewer samples than dimensions
    few_fake = (rng.normal(size=(50, 100)) + 0.2).astype(np.float32)
    return {
        "shifted": (real, shifted),
        "collapsed": (real, collapsed),
        "collapsed-far": (real, far_collapse),
        "fewer-than-dims": (few_real, few_fake),
    }


CASES = _cases()


def _reference_fid(real: np.ndarray, fake: np.ndarray) -> float:
    metric = torchmetrics_fid.FrechetInceptionDistance(feature=Identity(real.shape[1]))
    metric.update(torch.from_numpy(real).double(), real=True)
    metric.update(torch.from_numpy(fake).double(), real=False)
    return float(metric.compute())


@pytest.mark.parametrize("case", CASES)
def test_fid_matches_torchmetrics(case):
    real, fake = CASES[case]
    ours = frechet_distance_of_features(real, fake)
    assert ours == pytest.approx(_reference_fid(real, fake), rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero_and_it_is_symmetric():
    real, fake = CASES["shifted"]
    assert frechet_distance_of_features(real, real) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance_of_features(real, fake) == pytest.approx(
        frechet_distance_of_features(fake, real), rel=1e-9)


def test_fid_closed_form_for_diagonal_gaussians():
    # |μ1-μ2|² + Σ (s1 + s2 - 2 √(s1 s2)) for diagonal covariances, exactly.
    from ganstudio.engine.metrics.frechet import frechet_distance

    m1, m2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    s1, s2 = torch.tensor([1.0, 4.0, 0.0]), torch.tensor([9.0, 1.0, 2.0])
    expected = 1 + 0 + 4 + float((s1 + s2 - 2 * (s1 * s2).sqrt()).sum())
    assert frechet_distance(m1, torch.diag(s1), m2, torch.diag(s2)) == pytest.approx(expected)


def _reference_kid(real, fake, subsets, subset_size, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "will save all extracted features in buffer"
        metric = torchmetrics_kid.KernelInceptionDistance(
            feature=Identity(real.shape[1]), subsets=subsets, subset_size=subset_size)
    metric.update(torch.from_numpy(real).double(), real=True)
    metric.update(torch.from_numpy(fake).double(), real=False)
    torch.manual_seed(seed)  # torchmetrics draws its subsets from the global generator
    mean, std = metric.compute()
    return float(mean), float(std)


@pytest.mark.parametrize("case", CASES)
def test_kid_matches_torchmetrics_subset_for_subset(case):
    real, fake = CASES[case]
    size = min(50, len(real), len(fake))
    mean, std = _reference_kid(real, fake, subsets=10, subset_size=size, seed=3)
    ours = kernel_distance(real, fake, subsets=10, subset_size=size, seed=3)
    assert ours["kid"] == pytest.approx(mean, rel=1e-5, abs=1e-7)
    assert ours["kid_std"] == pytest.approx(std, rel=1e-4, abs=1e-7)


def test_kid_of_one_subset_is_torchmetrics_poly_mmd():
    real, fake = CASES["shifted"]
    x, y = torch.from_numpy(real[:200]), torch.from_numpy(fake[:200])
    reference = float(torchmetrics_kid.poly_mmd(x.double(), y.double()))
    assert float(polynomial_mmd2(x, y)) == pytest.approx(reference, rel=1e-5)


def test_kid_defaults_are_torchmetrics_defaults():
    import inspect

    defaults = inspect.signature(torchmetrics_kid.KernelInceptionDistance).parameters
    ours = inspect.signature(kernel_distance).parameters
    assert ours["subsets"].default == defaults["subsets"].default == 100
    assert ours["subset_size"].default == defaults["subset_size"].default == 1000


def test_kid_shrinks_subsets_to_a_small_set():
    real, fake = CASES["fewer-than-dims"]
    ours = kernel_distance(real, fake, subsets=5, seed=1)  # 50 generated, subsets of 1,000
    mean, _ = _reference_kid(real, fake, subsets=5, subset_size=50, seed=1)
    assert ours["kid"] == pytest.approx(mean, rel=1e-5)


def _reference_prdc(real, fake, k):
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the sample counts
        return {key: float(v) for key, v in prdc.compute_prdc(real, fake, k).items()}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("k", [3, 5])
def test_precision_recall_density_coverage_match_prdc(case, k):
    real, fake = CASES[case]
    reference = _reference_prdc(real, fake, k)
    ours = manifold_metrics(real, fake, k_pr=k, k_dc=k)
    assert ours == pytest.approx(reference, abs=1e-12)


def test_a_collapsed_generator_has_precision_but_no_recall():
    real, fake = CASES["collapsed"]
    m = manifold_metrics(real, fake)
    assert m["precision"] == 1.0 and m["recall"] < 0.01 and m["coverage"] < 0.1
    far = manifold_metrics(real, CASES["collapsed-far"][1])
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_reusing_real_radii_and_choosing_metrics_give_the_same_values():
    real, fake = CASES["shifted"]
    radii = knn_radii(real, (3, 5))
    both = manifold_metrics(real, fake)
    assert manifold_metrics(real, fake, real_radii=radii) == both
    assert manifold_metrics(real, fake, density_coverage=False) == {
        "precision": both["precision"], "recall": both["recall"]}
    assert manifold_metrics(real, fake, precision_recall=False) == {
        "density": both["density"], "coverage": both["coverage"]}


def test_distances_in_small_blocks_give_the_same_values(monkeypatch):
    from ganstudio.engine.metrics import manifold

    real, fake = CASES["shifted"]
    whole = manifold_metrics(real, fake)
    monkeypatch.setattr(manifold, "BLOCK_ELEMENTS", 40_000)  # 3 or 4 blocks, the last short
    assert manifold_metrics(real, fake) == whole


def test_radii_are_the_distances_to_the_kth_neighbour():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    radii = knn_radii(x, (1, 2))
    assert radii[1].tolist() == [1.0, 1.0, 2.0, 4.0]
    assert radii[2].tolist() == [3.0, 2.0, 3.0, 6.0]


def test_class_metrics():
    logits = torch.full((6, 3), -10.0)
    logits[[0, 1, 2], [0, 0, 1]] = 10.0  # three confident samples: classes 0, 0, 1
    logits[3] = torch.tensor([1.0, 0.9, 0.8])  # unsure
    logits[4:] = torch.tensor([0.5, 0.5, 1.0])  # leaning to class 2, p ≈ 0.45: not confident
    m = class_metrics(logits)
    assert m["confident"] == pytest.approx(3 / 6)
    assert m["class_coverage"] == pytest.approx(2 / 3)
    p = np.array([2 / 3, 1 / 3, 0])
    expected_kl = float(np.sum(p[:2] * np.log(p[:2] * 3)))
    assert m["class_kl"] == pytest.approx(expected_kl)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((5,)), "2-D"),
    (np.zeros((1, 4)), "at least 2"),
    (np.full((4, 3), np.nan), "NaN"),
])
def test_bad_feature_arrays_are_refused_in_words(bad, message):
    good = np.zeros((4, 3), np.float32)
    with pytest.raises(ConfigError, match=message):
        frechet_distance_of_features(good, bad)


def test_feature_spaces_must_match():
    with pytest.raises(ConfigError, match="different feature spaces"):
        manifold_metrics(np.zeros((10, 3)), np.zeros((10, 4)))
