"""The explorer's nearest training images on 60,000 images: the index against a full search.

Two sets of ``--count`` images:

- ``digits``: the built-in digits (1 × 28 × 28), in memory, as the explorer holds them;
- ``prepared-64``: synthetic 3 × 64 × 64 images prepared into the cache (737 MB at 60,000),
  searched from disk as a real-data generator's explorer does.

For each: the one-time cost of the index (the 16 px copy; for a prepared set it is then kept
on disk, and ``reopen`` is the time to load it again), the median time of a search over
``--queries`` samples (k = 8), and the same search done the old way, every image compared at
full size in memory (``full_search``), with whether both found the same nearest image.
Target: a search under a second. Prints JSON with the load average.

    python benchmarks/nearest_search.py [--count 60000] [--queries 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ganstudio.engine.data import load_dataset
from ganstudio.engine.data.prepare import PrepareOptions, prepare
from ganstudio.engine.metrics.nearest import NearestIndex


def full_search(images: torch.Tensor, sample: np.ndarray, k: int = 8) -> np.ndarray:
    """Every image at full size, a block at a time (the explorer's search before the index)."""
    query = torch.from_numpy(np.ascontiguousarray(sample.transpose(2, 0, 1))).float().flatten()
    best = []
    for start in range(0, len(images), 8192):
        d = (images[start : start + 8192].flatten(1).float() - query).square().mean(dim=1)
        top = torch.topk(d, min(k, len(d)), largest=False)
        best += list(zip(top.values.tolist(), (top.indices + start).tolist()))
    return np.array([i for _, i in sorted(best)[:k]])


def measure(name: str, build, images: torch.Tensor, queries: int, reopen=None) -> dict:
    started = time.perf_counter()
    index = build()
    built = time.perf_counter() - started
    out = {"set": name, "images": len(index), "shape": list(index.shape),
           "build_seconds": round(built, 3)}
    if reopen is not None:
        started = time.perf_counter()
        index = reopen()
        out["reopen_seconds"] = round(time.perf_counter() - started, 3)
    rng = np.random.default_rng(0)
    searches, fulls, same = [], [], 0
    for target in rng.choice(len(index), queries, replace=False):
        sample = images[target].permute(1, 2, 0).numpy().copy()
        sample = np.clip(sample.astype(np.int16) + rng.integers(-20, 21, sample.shape),
                         0, 255).astype(np.uint8)
        started = time.perf_counter()
        found, _ = index.search(sample, 8)
        searches.append(time.perf_counter() - started)
        started = time.perf_counter()
        want = full_search(images, sample)
        fulls.append(time.perf_counter() - started)
        same += int(found[0] == want[0])
    out.update(search_seconds_median=round(statistics.median(searches), 4),
               search_seconds_max=round(max(searches), 4),
               full_search_seconds_median=round(statistics.median(fulls), 4),
               same_nearest=f"{same}/{queries}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=60_000)
    parser.add_argument("--queries", type=int, default=10)
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = []
    digits = load_dataset("digits").x[: args.count]
    results.append(measure("digits", lambda: NearestIndex.in_memory(digits), digits,
                           args.queries))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("GANSTUDIO_CACHE", str(Path(tmp) / "cache"))
        source = np.lib.format.open_memmap(Path(tmp) / "set.npy", "w+", np.uint8,
                                           (args.count, 64, 64, 3))
        rng = np.random.default_rng(1)
        coarse = torch.from_numpy(rng.uniform(0, 255, (args.count, 3, 8, 8)).astype(np.float32))
        for start in range(0, args.count, 4096):
            block = torch.nn.functional.interpolate(coarse[start : start + 4096], size=64,
                                                    mode="bilinear")
            source[start : start + 4096] = block.round().byte().permute(0, 2, 3, 1).numpy()
        source.flush()
        del source
        prepared = prepare(Path(tmp) / "set.npy", PrepareOptions(resolution=64))
        in_memory = torch.from_numpy(np.array(prepared.images))
        results.append(measure("prepared-64", lambda: NearestIndex.of_prepared(prepared),
                               in_memory, args.queries,
                               reopen=lambda: NearestIndex.of_prepared(prepared)))
    print(json.dumps({"results": results, "threads": torch.get_num_threads(),
                      "load_before": load_before, "load_after": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
