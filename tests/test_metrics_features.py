"""Feature spaces, the bundled classifiers, the real-statistics cache and the evaluations the
training registry runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.metrics import evaluation
from ganstudio.engine.metrics.classifier import (
    held_out_accuracy,
    load_classifier,
    recipe_for,
    save_classifier,
    shipped_classifier_path,
    train_classifier,
)
from ganstudio.engine.metrics.features import (
    FEATURE_SPACES,
    feature_extractor,
    shipped_classifiers,
)
from ganstudio.engine.metrics.real_stats import real_stats_of_images, stats_path


@pytest.fixture(scope="module")
def shapes():
    from ganstudio.engine.data import load_dataset

    return load_dataset("shapes")


@pytest.fixture(scope="module")
def digits():
    from ganstudio.engine.data import load_dataset

    return load_dataset("digits")


def test_the_registry_names_each_space():
    assert set(FEATURE_SPACES) == {"inception", "classifier", "none"}
    assert not FEATURE_SPACES["inception"].offline and FEATURE_SPACES["classifier"].offline
    assert not FEATURE_SPACES["none"].from_images
    with pytest.raises(ConfigError, match="unknown feature space"):
        feature_extractor("clip", "digits")


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_bundled_classifiers_are_small_and_right_on_images_they_never_saw(name, request):
    data = request.getfixturevalue(name)
    path = shipped_classifier_path(name)
    assert name in shipped_classifiers()
    assert path.stat().st_size < 2 * 1024 * 1024
    trained = load_classifier(path)
    meta = trained.meta
    assert meta["dataset"] == name and meta["n_train"] + meta["n_test"] == len(data)
    assert meta["accuracy"] >= 0.98
    # The held-out images are the set's last n_test; 1,000 of them, through the fp16 file.
    x, y = data.x[-1000:], data.y[-1000:]
    assert held_out_accuracy(trained.network, x, y) >= 0.98


def test_classifier_features_and_logits(shapes):
    extractor = feature_extractor("classifier", "shapes")
    out = extractor.extract(shapes.x[:300])
    assert out.features.shape == (300, 128) and out.features.dtype == np.float32
    assert out.logits.shape == (300, 6)
    assert (out.logits.argmax(1) == shapes.y[:300].numpy()).mean() > 0.95
    floats = extractor.extract(shapes.x[:300].float() / 255)  # 0..1 floats: the same input
    np.testing.assert_allclose(floats.features, out.features, rtol=1e-5, atol=1e-5)


def test_classifier_refuses_images_of_another_shape(shapes):
    extractor = feature_extractor("classifier", "digits")
    with pytest.raises(ConfigError, match="takes 1×28×28 images; these are 3×32×32"):
        extractor.extract(shapes.x[:4])


def test_no_classifier_means_an_error_not_another_network():
    with pytest.raises(ConfigError, match="no classifier for cifar10"):
        feature_extractor("classifier", "cifar10")


def test_the_recipe_needs_only_a_dataset_name(tmp_path, shapes):
    recipe = dataclasses.replace(recipe_for("shapes"), images=256, n_test=200, width=4)
    trained = train_classifier(recipe)
    assert trained.meta["n_test"] == 200 and trained.meta["n_train"] == len(shapes) - 200
    assert 0.0 <= trained.meta["accuracy"] <= 1.0
    path = save_classifier(tmp_path / "shapes.safetensors", trained)
    loaded = load_classifier(path)
    assert loaded.meta == trained.meta
    x = shapes.x[:16]
    half = trained.network.half().float()  # the file holds fp16
    torch.testing.assert_close(loaded.network(x), half(x))
    with pytest.raises(ConfigError, match="not a labelled image dataset"):
        recipe_for("ring8")


class CountingExtractor:
    """Wraps an extractor and counts the images it is asked to extract."""

    def __init__(self, inner, identity=None):
        self.inner = inner
        self.space = inner.space
        self.identity = identity or inner.identity
        self.calls = 0

    def extract(self, images, progress=None):
        self.calls += 1
        return self.inner.extract(images, progress)


def test_real_statistics_are_cached_per_images_and_extractor(shapes):
    from ganstudio.engine.metrics import real_stats

    real_stats._IN_MEMORY.clear()
    images = shapes.x[:200]
    counting = CountingExtractor(feature_extractor("classifier", "shapes"))
    first = real_stats_of_images(images, counting, "shapes")
    assert counting.calls == 1 and set(first.radii) == {3, 5}
    real_stats._IN_MEMORY.clear()  # from the file now
    again = real_stats_of_images(images, counting, "shapes")
    assert counting.calls == 1
    torch.testing.assert_close(again.cov, first.cov)
    torch.testing.assert_close(again.radii[5], first.radii[5])

    real_stats_of_images(shapes.x[1:201], counting, "shapes")  # other images
    assert counting.calls == 2
    other = CountingExtractor(counting.inner, identity="classifier:shapes:retrained")
    real_stats_of_images(images, other, "shapes")  # another network
    assert other.calls == 1


def test_a_damaged_cache_entry_is_computed_again(shapes):
    from ganstudio.engine.metrics import real_stats

    real_stats._IN_MEMORY.clear()
    images = shapes.x[300:400]
    counting = CountingExtractor(feature_extractor("classifier", "shapes"))
    real_stats_of_images(images, counting, "shapes")
    path = stats_path("shapes", "classifier", real_stats.stats_key(images, counting.identity))
    path.write_bytes(b"not safetensors")
    real_stats._IN_MEMORY.clear()
    stats = real_stats_of_images(images, counting, "shapes")
    assert counting.calls == 2 and stats.features.shape == (100, 128)


def test_compute_metrics_is_the_individual_metrics(shapes):
    from ganstudio.engine.metrics.frechet import frechet_distance_of_features
    from ganstudio.engine.metrics.kernel import kernel_distance
    from ganstudio.engine.metrics.manifold import manifold_metrics
    from ganstudio.engine.metrics.real_stats import RealStats

    extractor = feature_extractor("classifier", "shapes")
    real = extractor.extract(shapes.x[:300])
    fake = extractor.extract(shapes.x[300:500])
    stats = RealStats.from_features(real.features)
    out = evaluation.compute_metrics(stats, fake, ["fid", "kid", "pr", "dc", "classes"], seed=2)
    assert out["fid"] == pytest.approx(frechet_distance_of_features(real.features,
                                                                    fake.features), rel=1e-9)
    assert out["kid"] == kernel_distance(real.features, fake.features, seed=2)["kid"]
    assert {k: out[k] for k in ("precision", "recall", "density", "coverage")} == \
        manifold_metrics(real.features, fake.features)
    assert out["confident"] > 0.9 and out["class_coverage"] == 1.0
    with pytest.raises(ConfigError, match="classifier's predictions"):
        evaluation.compute_metrics(stats, fake.features, ["classes"])
    with pytest.raises(ConfigError, match="unknown metric is"):
        evaluation.parse_metrics("fid,is")


@dataclasses.dataclass
class Context:
    """Stands in for the registry's EvalContext."""

    step: int
    seed: int
    device: torch.device
    info: object
    data: object
    generate: object
    z_dim: int
    classes: tuple
    output_range: tuple
    progress: object = None


class RealSource:
    """The first 10,000 shapes, as a BatchSource's ``sample`` gives them."""

    def __init__(self, dataset):
        self.x, self.y = dataset.x[:10_000], dataset.y[:10_000]

    def sample(self, n, seed):
        order = torch.randperm(len(self.x), generator=torch.Generator().manual_seed(seed))
        return self.x[order[:n]], self.y[order[:n]]


def test_training_evaluations_share_one_sampling_per_context(shapes, monkeypatch):
    from ganstudio.engine.images import from_uint8

    pool_x, pool_y = shapes.x[10_000:], shapes.y[10_000:]  # images the real sample lacks
    calls = []

    def perfect(z, labels):
        """A "generator" drawing unseen real images of the classes asked for."""
        calls.append(len(z))
        picked = [torch.nonzero(pool_y == int(label))[i, 0] for i, label in enumerate(labels)]
        return from_uint8(pool_x[torch.stack(picked)], (-1.0, 1.0))

    monkeypatch.setattr(evaluation, "TRAINING_SAMPLES", 600)
    ctx = Context(10, 1, torch.device("cpu"), shapes.info, RealSource(shapes), perfect, 8,
                  shapes.info.classes, (-1.0, 1.0))
    values = {}
    for _description, applies, run in evaluation.IMAGE_EVALUATIONS.values():
        assert applies(shapes.info)
        values.update(run(ctx))
    assert sum(calls) == 600  # sampled once for all five
    assert set(values) == {"fid", "kid", "kid_std", "precision", "recall", "density",
                           "coverage", "confident", "class_coverage", "class_kl"}
    assert values["precision"] > 0.9 and values["recall"] > 0.9 and values["coverage"] > 0.8
    assert values["class_coverage"] == 1.0 and values["class_kl"] < 0.01

    ctx.step = 20  # a new step samples again
    evaluation.evaluate_fid(ctx)
    assert sum(calls) == 1200


def test_image_evaluations_do_not_apply_to_points():
    from ganstudio.engine.data import get_info

    for _description, applies, _run in evaluation.IMAGE_EVALUATIONS.values():
        assert not applies(get_info("ring8"))
