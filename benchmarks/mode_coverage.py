"""Mode coverage of the default 2-D recipes, next to the published vanilla-GAN numbers.

For each dataset and seed this trains ``defaults_for(dataset)`` headless (no run folder) and
records the final metrics, the training time and the first evaluation on target: every mode
captured and at least 90% high-quality samples. The training time is the trainer's own
``DoneEvent.elapsed``: the steps with their snapshots and evaluations, but not the imports, the
dataset build or any pause.

    python benchmarks/mode_coverage.py [--seeds 0 1 2] [--dataset ring8 --dataset grid25]

Prints JSON. The reference is the vanilla GAN of PacGAN's Table 1 (Lin et al., 2018), which
trains a larger MLP for much longer; the load average is included because on a shared CPU a
busy neighbour can double the seconds without changing the metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

import torch

from ganstudio.engine.config import defaults_for
from ganstudio.engine.devices import describe, resolve_device
from ganstudio.engine.events import DoneEvent, EvalEvent, StepEvent
from ganstudio.engine.trainer import Trainer

DATASETS = ("ring8", "grid25")
TARGET_HIGH_QUALITY = 90.0  # percent, with every mode captured
PUBLISHED = {
    "ring8": {"source": "PacGAN Table 1, GAN", "modes": 6.3, "high_quality": 98.2},
    "grid25": {"source": "PacGAN Table 1, GAN", "modes": 17.3, "high_quality": 94.8},
}


def on_target(metrics: dict) -> bool:
    return metrics["modes"] == metrics["n_modes"] and metrics["high_quality"] >= TARGET_HIGH_QUALITY


def train_once(dataset: str, seed: int) -> dict:
    """One headless run: its final metrics, training seconds and first evaluation on target."""
    cfg = defaults_for(dataset)
    cfg.train.seed = seed
    elapsed, first, final, done = 0.0, None, None, None
    for event in Trainer(cfg).run():
        if isinstance(event, StepEvent):
            elapsed = event.elapsed
        elif isinstance(event, EvalEvent):
            final = event.metrics
            if first is None and on_target(final):
                first = {"step": event.step, "seconds": round(elapsed, 2)}
        elif isinstance(event, DoneEvent):
            done = event
    return {
        "seed": seed,
        "steps": done.step,
        "seconds": round(done.elapsed, 2),
        "its": round(done.step / done.elapsed, 1),
        "modes": final["modes"],
        "n_modes": final["n_modes"],
        "high_quality": round(final["high_quality"], 2),
        "reverse_kl": round(final["reverse_kl"], 4),
        "on_target": on_target(final),
        "first_on_target": first,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dataset", choices=DATASETS, action="append")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = []
    for dataset in args.dataset or DATASETS:
        runs = [train_once(dataset, seed) for seed in args.seeds]
        recipe = defaults_for(dataset).to_dict()
        del recipe["train"]["seed"]  # the seeds are listed with the runs
        results.append({
            "dataset": dataset,
            "seeds_on_target": f"{sum(r['on_target'] for r in runs)}/{len(runs)}",
            "median_seconds": round(statistics.median(r["seconds"] for r in runs), 2),
            "published": PUBLISHED[dataset],
            "recipe": recipe,
            "runs": runs,
        })
    device = resolve_device(defaults_for(DATASETS[0]).train.device)
    print(json.dumps({
        "benchmark": "mode_coverage", "device": describe(device), "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average": {"before": [round(v, 2) for v in load_before],
                         "after": [round(v, 2) for v in os.getloadavg()]},
        "target": {"modes": "all", "high_quality": TARGET_HIGH_QUALITY},
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
