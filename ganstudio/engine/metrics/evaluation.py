"""Image metrics of a generator against real data: the metric names, the computation from
features, sampling a generator, and the functions the evaluation registry runs in training.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np
import torch

from ganstudio.engine.errors import ConfigError
from ganstudio.engine.metrics.features import ExtractedFeatures
from ganstudio.engine.metrics.manifold import K_DENSITY_COVERAGE, K_PRECISION_RECALL
from ganstudio.engine.metrics.real_stats import RealStats

METRICS: dict[str, str] = {
    "fid": "Fréchet distance of Gaussians fitted to real and generated features "
           "(FID in the Inception space)",
    "kid": "kernel distance: unbiased MMD² with the cubic kernel, mean and standard deviation "
           "over 100 subsets of 1,000",
    "pr": f"improved precision and recall (k = {K_PRECISION_RECALL})",
    "dc": f"density and coverage (k = {K_DENSITY_COVERAGE})",
    "classes": "under the dataset's classifier: the share of confident samples (p ≥ 0.9), "
               "the share of classes they cover, and KL of their classes from uniform",
}
DEFAULT_METRICS = ("fid", "kid", "pr", "dc")
TRAINING_SAMPLES = 5000  # real and generated samples of an evaluation during training
REAL_SEED = 0  # every evaluation compares with the same real sample, in every run
BATCH = 250  # generated samples per generator call

Progress = Callable[[str, float], None]


def parse_metrics(text: str | Iterable[str]) -> tuple[str, ...]:
    names = [m.strip() for m in text.split(",")] if isinstance(text, str) else list(text)
    names = [m for m in names if m]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ConfigError(f"unknown metric {', '.join(unknown) or '(none given)'}; choose from "
                          f"{', '.join(METRICS)}")
    return tuple(dict.fromkeys(names))


def compute_metrics(real: RealStats, fake: ExtractedFeatures | np.ndarray | torch.Tensor,
                    metrics: Iterable[str], seed: int = 0,
                    progress: Progress | None = None) -> dict[str, float]:
    """The named metrics of generated features against real statistics, in one dict:
    ``fid``; ``kid``, ``kid_std``; ``precision``, ``recall``; ``density``, ``coverage``;
    ``confident``, ``class_coverage``, ``class_kl``."""
    from ganstudio.engine.metrics.classes import class_metrics
    from ganstudio.engine.metrics.frechet import frechet_distance, gaussian_stats
    from ganstudio.engine.metrics.kernel import kernel_distance
    from ganstudio.engine.metrics.manifold import manifold_metrics

    metrics = parse_metrics(metrics)
    logits = fake.logits if isinstance(fake, ExtractedFeatures) else None
    features = fake.features if isinstance(fake, ExtractedFeatures) else fake
    if "classes" in metrics and logits is None:
        raise ConfigError("the class metrics need a classifier's predictions: use "
                          "--features classifier")

    def stage(name: str):
        return None if progress is None else (lambda f: progress(name, f))

    out: dict[str, float] = {}
    if "fid" in metrics:
        if progress is not None:
            progress("fid", 0.0)
        mean, cov = gaussian_stats(features, "generated")
        if mean.shape != real.mean.shape:
            raise ConfigError(f"the real features have {real.mean.shape[0]} dimensions but the "
                              f"generated ones have {mean.shape[0]}")
        out["fid"] = frechet_distance(real.mean, real.cov, mean, cov, cov1_sqrt=real.cov_sqrt())
    if "kid" in metrics:
        out.update(kernel_distance(real.features, features, seed=seed, progress=stage("kid")))
    if "pr" in metrics or "dc" in metrics:
        radii = real.radii_for((K_PRECISION_RECALL, K_DENSITY_COVERAGE),
                               stage("real neighbours"))
        out.update(manifold_metrics(
            real.features, features, precision_recall="pr" in metrics,
            density_coverage="dc" in metrics, real_radii=radii,
            progress=stage("precision, recall, density, coverage")))
    if "classes" in metrics:
        out.update(class_metrics(logits))
    return out


def generate_images(generate: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
                    z_dim: int, n_classes: int, output_range: tuple[float, float], n: int,
                    seed: int, device: torch.device | str = "cpu",
                    progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """``n`` samples of a generator as uint8 (n, C, H, W) on the CPU, quantised as real images
    are; a conditional generator gets every class in turn."""
    from ganstudio.engine.images import to_uint8
    from ganstudio.engine.latent import sample_latents

    z = sample_latents(n, z_dim, seed)
    labels = torch.arange(n) % n_classes if n_classes else None
    chunks = []
    with torch.no_grad():
        for start in range(0, n, BATCH):
            part = labels[start : start + BATCH].to(device) if labels is not None else None
            out = generate(z[start : start + BATCH].to(device), part)
            chunks.append(torch.from_numpy(to_uint8(out, output_range)).permute(0, 3, 1, 2))
            if progress is not None:
                progress(min(1.0, (start + BATCH) / n))
    return torch.cat(chunks).contiguous()


def check_image_generator(generator) -> None:
    if generator.kind != "images":
        raise ConfigError(f"{generator.path.name} draws 2-D points; the image metrics need an "
                          "image generator (2-D runs report mode coverage in training)")


def sample_generator(generator, n: int, seed: int,
                     progress: Callable[[float], None] | None = None) -> torch.Tensor:
    """uint8 samples of a generator opened with ``ganstudio.engine.formats.load_generator``."""
    from ganstudio.engine.explore import sample

    check_image_generator(generator)
    return generate_images(lambda z, labels: sample(generator, z, labels), generator.z_dim,
                           len(generator.classes), generator.output_range or (-1.0, 1.0), n,
                           seed, progress=progress)


def real_images(dataset: str, n: int, seed: int = REAL_SEED) -> torch.Tensor:
    """A fixed selection of ``n`` images of a built-in dataset (all of them if it has fewer)."""
    from ganstudio.engine.data import get_info, load_dataset

    info = get_info(dataset)
    if not info.is_image:
        raise ConfigError(f"{dataset} is a set of 2-D points; the image metrics need images "
                          "(for 2-D sets GAN Studio measures mode coverage)")
    data = load_dataset(dataset)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    return data.x[order[: min(n, len(data))]]


def real_data_images(data, n: int, seed: int = REAL_SEED):
    """``(info, images)``: ``n`` images of a real-data config's prepared set (prepared now if
    it is not), chosen as the training evaluations choose them, so they share statistics."""
    from ganstudio.engine.data.batches import prepare_data
    from ganstudio.engine.data.streaming import StreamingSource

    source = StreamingSource(prepare_data(data), name=data.name)
    return source.info, source.sample(n, seed)[0]


# --- evaluations in training (the evaluation registry) ----------------------------------------


class EvalContextLike(Protocol):
    """What these evaluations read of the registry's EvalContext."""

    step: int
    seed: int
    device: torch.device
    info: object  # DatasetInfo: name, is_image, shape
    data: object  # BatchSource: sample(n, seed) -> (uint8 images, labels)
    generate: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]
    z_dim: int
    classes: tuple[str, ...]
    output_range: tuple[float, float]
    progress: Callable[[float], None] | None


def training_space(info) -> str | None:
    """The feature space of training evaluations on a dataset: its bundled classifier, else
    Inception when its weights are here; None when neither is."""
    from ganstudio.engine.metrics.features import shipped_classifiers

    if not info.is_image:
        return None
    if info.name in shipped_classifiers() and _classifier_shape(info.name) == tuple(info.shape):
        return "classifier"
    from ganstudio.engine.errors import WeightsMissingError
    from ganstudio.engine.metrics.inception import inception_weights_path

    try:
        inception_weights_path()
    except WeightsMissingError:
        return None
    return "inception"


def _classifier_shape(dataset: str) -> tuple[int, ...]:
    """The image shape a bundled classifier takes (a real set prepared at another size or
    colour has no classifier)."""
    from ganstudio.engine.metrics.classifier import shipped_classifier_path
    from ganstudio.engine.metrics.features import file_digest

    path = shipped_classifier_path(dataset)
    return _shape_of_classifier(str(path), file_digest(path))


@functools.cache
def _shape_of_classifier(path: str, digest: str) -> tuple[int, ...]:
    from ganstudio.engine.metrics.classifier import load_classifier

    return tuple(load_classifier(path).meta["shape"])


_last_fake: list = [None, None, None]  # [weakref to the context, key, ExtractedFeatures]


def evaluate_images(ctx: EvalContextLike, metrics: Iterable[str], n: int | None = None
                    ) -> dict[str, float]:
    """Image metrics of the sampler in ``ctx`` on ``n`` samples (``TRAINING_SAMPLES``).
    Evaluations of one context share its generated samples and their features, so fid, kid,
    pr … cost one sampling."""
    from ganstudio.engine.metrics.real_stats import real_stats_of_images

    space = training_space(ctx.info)
    if space is None:
        raise ConfigError(f"no feature space for {ctx.info.name}: it has no bundled classifier "
                          "and FID's Inception-v3 weights are not here")
    n = TRAINING_SAMPLES if n is None else n
    extractor = _extractor(space, ctx.info.name, str(ctx.device))
    real, _ = ctx.data.sample(n, REAL_SEED)
    stats = real_stats_of_images(real.cpu(), extractor, ctx.info.name)
    key = (ctx.step, ctx.seed, n, extractor.identity)
    holder, held_key, fake = _last_fake
    if holder is None or holder() is not ctx or held_key != key:
        report = ctx.progress
        images = generate_images(
            ctx.generate, ctx.z_dim, len(ctx.classes), ctx.output_range, n, ctx.seed,
            ctx.device, None if report is None else (lambda f: report(0.9 * f)))
        fake = extractor.extract(images)
        _last_fake[:] = [weakref.ref(ctx), key, fake]
    out = compute_metrics(stats, fake, metrics, seed=ctx.seed)
    if ctx.progress is not None:
        ctx.progress(1.0)
    return out


@functools.lru_cache(maxsize=4)
def _extractor(space: str, dataset: str, device: str):
    """Extractors are kept: loading and hashing Inception's weights takes about a second."""
    from ganstudio.engine.metrics.features import feature_extractor

    return feature_extractor(space, dataset, device)


def evaluate_fid(ctx: EvalContextLike) -> dict[str, float]:
    return evaluate_images(ctx, ["fid"])


def evaluate_kid(ctx: EvalContextLike) -> dict[str, float]:
    return evaluate_images(ctx, ["kid"])


def evaluate_precision_recall(ctx: EvalContextLike) -> dict[str, float]:
    return evaluate_images(ctx, ["pr"])


def evaluate_density_coverage(ctx: EvalContextLike) -> dict[str, float]:
    return evaluate_images(ctx, ["dc"])


def evaluate_classes(ctx: EvalContextLike) -> dict[str, float]:
    return evaluate_images(ctx, ["classes"])


def _applies(info) -> bool:
    return training_space(info) is not None


def _applies_classes(info) -> bool:
    return training_space(info) == "classifier"


# name → (description, applies(DatasetInfo), run(EvalContext)): Evaluation(name, *spec)
IMAGE_EVALUATIONS: dict[str, tuple[str, Callable, Callable]] = {
    "fid": (METRICS["fid"], _applies, evaluate_fid),
    "kid": (METRICS["kid"], _applies, evaluate_kid),
    "pr": (METRICS["pr"], _applies, evaluate_precision_recall),
    "dc": (METRICS["dc"], _applies, evaluate_density_coverage),
    "classes": (METRICS["classes"], _applies_classes, evaluate_classes),
}
