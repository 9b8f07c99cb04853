"""The cost of each image metric, and of each feature extractor, on this CPU for N samples.

Each metric is timed on synthetic non-negative features (like Inception's pool3 after its
ReLUs) in the two feature spaces GAN Studio uses: 2,048 dimensions (Inception) and 128 (the
bundled classifiers). Beside each, in the same run, the reference implementation on the same
arrays: torchmetrics for FID and KID, prdc for precision/recall/density/coverage (skipped when
they are not installed, or with --no-reference), with the values both give.

Extractors: the bundled classifiers on N real images; Inception-v3 on a few images at
299 × 299 (weights made up: the cost does not depend on them), scaled to N.

    python benchmarks/metrics_cost.py [--n 10000] [--dims 2048 128] [--no-reference]

Prints JSON. The load average is included: on a shared CPU a busy neighbour can double the
seconds without changing the values.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import time
import warnings

import numpy as np
import torch

from ganstudio.engine.metrics.evaluation import compute_metrics
from ganstudio.engine.metrics.real_stats import RealStats

INCEPTION_IMAGES = 8


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - started, 3)


def synthetic(n: int, d: int, seed: int, shift: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(shift, 1.0, size=(n, d))).astype(np.float32)


def metric_costs(n: int, d: int) -> dict:
    real, fake = synthetic(n, d, 0, 0.0), synthetic(n, d, 1, 0.1)
    out: dict = {}
    stats, out["real_gaussian_s"] = timed(lambda: RealStats.from_features(real))
    _, out["real_neighbours_s"] = timed(lambda: stats.radii_for((3, 5)))
    _, out["real_cov_sqrt_s"] = timed(stats.cov_sqrt)
    for name in ("fid", "kid", "pr", "dc"):
        values, seconds = timed(lambda name=name: compute_metrics(stats, fake, [name]))
        out[name] = {"seconds": seconds, "values": values}
    return out


def reference_costs(n: int, d: int) -> dict:
    real, fake = synthetic(n, d, 0, 0.0), synthetic(n, d, 1, 0.1)
    return {"fid_torchmetrics": _torchmetrics_fid(real, fake),
            "kid_torchmetrics": _torchmetrics_kid(real, fake),
            "prdc": _prdc(real, fake)}


def _torchmetrics_fid(real, fake) -> dict:
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
    except ImportError:
        return {"skipped": "torchmetrics is not installed"}
    metric = FrechetInceptionDistance(feature=_Identity(real.shape[1]))
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    value, seconds = timed(metric.compute)  # the statistics were gathered by update()
    return {"seconds": seconds, "fid": float(value)}


def _torchmetrics_kid(real, fake) -> dict:
    try:
        from torchmetrics.image.kid import KernelInceptionDistance
    except ImportError:
        return {"skipped": "torchmetrics is not installed"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metric = KernelInceptionDistance(feature=_Identity(real.shape[1]))
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    (mean, std), seconds = timed(metric.compute)
    return {"seconds": seconds, "kid": float(mean), "kid_std": float(std)}


def _prdc(real, fake) -> dict:
    try:
        from prdc import compute_prdc
    except ImportError:
        return {"skipped": "prdc is not installed"}
    out = {}
    for k in (3, 5):
        with contextlib.redirect_stdout(io.StringIO()):
            values, seconds = timed(lambda k=k: compute_prdc(real, fake, k))
        out[f"k{k}"] = {"seconds": seconds, **{key: float(v) for key, v in values.items()}}
    return out


def _max_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class _Identity(torch.nn.Module):
    def __init__(self, dims: int):
        super().__init__()
        self.num_features = dims

    def forward(self, x):
        return x


def extractor_costs(n: int) -> dict:
    from ganstudio.engine.data import DATASETS, load_dataset
    from ganstudio.engine.metrics.features import feature_extractor, shipped_classifiers
    from ganstudio.engine.metrics.inception import FIDInceptionV3

    out: dict = {}
    for name in shipped_classifiers():
        extractor = feature_extractor("classifier", name)
        if name in DATASETS:
            images = load_dataset(name).x[:n]
        else:  # a real set's classifier: the cost does not depend on what the pixels show
            images = torch.randint(0, 256, (n, *extractor.image_shape), dtype=torch.uint8)
        _, seconds = timed(lambda images=images, e=extractor: e.extract(images))
        out[f"classifier:{name}"] = {"images": len(images), "seconds": seconds,
                                     "images_per_s": round(len(images) / seconds, 1)}
    network = FIDInceptionV3().eval()
    images = torch.randint(0, 256, (INCEPTION_IMAGES, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        network.pool_features(images[:2])  # warm-up
        _, seconds = timed(lambda: network.pool_features(images))
    out["inception"] = {"images": INCEPTION_IMAGES, "seconds": seconds,
                        "images_per_s": round(INCEPTION_IMAGES / seconds, 2),
                        f"estimated_s_for_{n}": round(seconds * n / INCEPTION_IMAGES, 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[2048, 128])
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    report: dict = {"n": args.n, "threads": torch.get_num_threads()}
    report["metrics"] = {str(d): metric_costs(args.n, d) for d in args.dims}
    report["max_rss_mb_ours"] = _max_rss_mb()  # before any reference runs
    if not args.no_reference:
        report["reference"] = {str(d): reference_costs(args.n, d) for d in args.dims}
    report["extractors"] = extractor_costs(args.n)
    report["load_average"] = {"before": round(load_before[0], 2),
                              "after": round(os.getloadavg()[0], 2)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
