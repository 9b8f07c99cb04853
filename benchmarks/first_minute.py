"""A first minute that teaches: the default recipe for 28 px grey data, judged by a classifier.

Trains ``defaults_for(real_data(DATA, 28))`` headless on the CPU (``--set`` changes settings,
to tune it), keeps a copy of the sampler (the EMA generator) once ``--seconds`` of training
have passed and again at ``--steps``, and judges each on ``--n`` samples with the data's
classifier (trained on the real training split by ``ganstudio classifiers train``, never on
generated images):

Each judgement is labelled ``time`` (the first step past ``--seconds``) or ``step`` (``--at``
and ``--steps``).

- ``confident``: the share of samples it classifies with probability ≥ 0.9;
- ``class_shares`` of the confident samples, their ``class_kl`` from uniform (0: balanced)
  and ``class_coverage``;
- ``frechet``: the Fréchet distance of the classifier's 128 features, generated against
  ``--n`` real training images; ``real_test`` gives the same figures for ``--n`` images of
  the official test split, the floor a perfect generator would reach.

It writes the first 100 samples of each (a 10 × 10 grid) as PNGs into ``--out`` to look at,
and prints JSON. The training time is the trainer's own (``elapsed``); copying and judging
are not counted.

    python benchmarks/first_minute.py --data fashion-mnist
    python benchmarks/first_minute.py --classifier other.safetensors --set train.batch_size=32
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from ganstudio.engine.config import defaults_for, validate
from ganstudio.engine.data.batches import prepare_data, real_data
from ganstudio.engine.events import StepEvent
from ganstudio.engine.images import make_grid, save_png
from ganstudio.engine.metrics.classes import class_metrics
from ganstudio.engine.metrics.classifier import load_classifier, shipped_classifier_path
from ganstudio.engine.metrics.evaluation import generate_images
from ganstudio.engine.metrics.frechet import frechet_distance_of_features
from ganstudio.engine.nets.layers import eval_mode
from ganstudio.engine.trainer import Trainer


def judge(network, images: torch.Tensor) -> dict:
    with torch.no_grad():
        features, logits = [], []
        for start in range(0, len(images), 500):
            f, z = network.features_and_logits(images[start : start + 500])
            features.append(f.double())
            logits.append(z.double())
    features, logits = torch.cat(features), torch.cat(logits)
    out = class_metrics(logits)
    probabilities = logits.softmax(dim=1)
    top, predicted = probabilities.max(dim=1)
    counts = torch.bincount(predicted[top >= 0.9], minlength=logits.shape[1])
    out["class_shares"] = [round(float(c) / max(1, int(counts.sum())), 4) for c in counts]
    return out, features


def frechet(real: torch.Tensor, fake: torch.Tensor) -> float:
    return round(float(frechet_distance_of_features(real, fake)), 3)


def sample(sampler, cfg, info, n: int, seed: int) -> torch.Tensor:
    classes = len(info.classes) if cfg.model.conditional else 0

    def generate(z, labels):
        with eval_mode(sampler) as g:
            return g(z, labels).float()

    return generate_images(generate, sampler.z_dim, classes, sampler.output_range, n, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="fashion-mnist", help="catalogue name or path")
    parser.add_argument("--classifier", help="the data's classifier file (default: bundled)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--steps", type=int, default=3000, help="train this long (the last "
                        "judgement)")
    parser.add_argument("--at", type=int, action="append", default=[], metavar="STEP",
                        help="also judge at this step (a figure that does not depend on the "
                        "machine's load)")
    parser.add_argument("--n", type=int, default=10_000, help="samples judged")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=JSON",
                        help="change a setting of the recipe, e.g. train.batch_size=32")
    parser.add_argument("--out", default="first_minute", help="folder for the sample grids")
    args = parser.parse_args()

    data = real_data(args.data, 28)
    cfg = defaults_for(data)
    for change in args.set:
        dotted, _, value = change.partition("=")
        cfg = cfg.replace(**{dotted: json.loads(value)})
    cfg.train.steps, cfg.train.seed, cfg.train.device = args.steps, args.seed, "cpu"
    cfg.train.checkpoint_every = 0
    cfg.train.sample_every = args.steps + 1
    validate(cfg)

    path = Path(args.classifier) if args.classifier else shipped_classifier_path(data.name)
    network = load_classifier(path).network
    train_set = prepare_data(data)
    test_set = prepare_data(real_data(args.data, 28, split="test"))
    rng = np.random.default_rng(0)
    real_train = torch.from_numpy(train_set.read(np.sort(rng.choice(len(train_set), args.n,
                                                                    replace=False))))
    real_test = torch.from_numpy(test_set.read(np.arange(min(args.n, len(test_set)))))
    _, real_features = judge(network, real_train)
    test_scores, test_features = judge(network, real_test)
    test_scores["frechet"] = frechet(real_features, test_features)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"data": args.data, "config": cfg.to_dict(), "load_before": os.getloadavg(),
              "real_test": test_scores, "checkpoints": []}
    snapshots = []
    trainer = Trainer(cfg)
    wall = time.perf_counter()
    for event in trainer.run():
        if not isinstance(event, StepEvent):
            continue
        timed = not any(label == "time" for label, *_ in snapshots)
        if timed and event.elapsed >= args.seconds:
            snapshots.append(("time", event.step, event.elapsed, copy.deepcopy(trainer.sampler)))
        if event.step in args.at or event.step == args.steps:
            snapshots.append(("step", event.step, event.elapsed, copy.deepcopy(trainer.sampler)))
    report["wall_seconds"] = round(time.perf_counter() - wall, 1)
    report["load_after"] = os.getloadavg()

    for label, step, elapsed, sampler in snapshots:
        images = sample(sampler, cfg, trainer.info, args.n, args.seed + 1)
        scores, features = judge(network, images)
        scores["frechet"] = frechet(real_features, features)
        grid = make_grid(images[:100].permute(0, 2, 3, 1).numpy(), 10)
        picture = out_dir / f"{label}_{step:05d}.png"
        save_png(picture, grid, replace=True)
        report["checkpoints"].append({"at": label, "step": step, "seconds": round(elapsed, 1),
                                      "its": round(step / elapsed, 2), **scores,
                                      "grid": str(picture)})
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
