"""Memory while training from a prepared set larger than the process should hold.

Writes a synthetic prepared set of ``--gigabytes`` (64 px RGB images, written straight into
the cache as ``ganstudio data prepare`` would leave it, beside a small placeholder source
file that finds it), then, each in a fresh process:

- ``train``: ``Trainer.run()`` on it as ``ganstudio train --data`` does (``dcgan`` at 64 px,
  a narrow width and a large batch, so that one epoch, every image of the set, passes in a
  few minutes), reporting the peak resident set (``ru_maxrss``) and the largest RSS seen
  at any step, split into anonymous and file-backed pages, and the position the stream
  reached (an epoch means every image was read);
- ``map``: for comparison, a plain scan of the same file through its memory map, which is
  what reading batches through ``np.load(mmap_mode="r")`` would cost: every page read stays
  counted in the process's RSS.

Target: the training process peaks under 1 GB. Prints JSON with the load average.

    python benchmarks/streaming_memory.py [--gigabytes 2.2] [--batch 512] [--width 0.125]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SIDE = 64


def rss() -> dict[str, int]:
    """This process's resident set now, in bytes: total, anonymous, file-backed."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KB on Linux


def write_prepared(source: Path, count: int) -> Path:
    """A prepared set of ``count`` images, written straight into the cache for ``source``."""
    from ganstudio.engine.atomic import atomic_write_json
    from ganstudio.engine.data import prepare

    np.save(source, np.zeros((1, SIDE, SIDE, 3), np.uint8))
    requested = prepare.PrepareOptions(SIDE, None, "centre", "train")
    options = dataclasses.replace(requested, grayscale=False)
    key = hashlib.sha256(f"synthetic-{count}".encode()).hexdigest()[:16]
    folder = prepare.prepared_root() / f"synthetic-{SIDE}px-rgb-centre-{key}"
    folder.mkdir(parents=True)
    images = np.lib.format.open_memmap(folder / "images.npy", "w+", np.uint8,
                                       (count, 3, SIDE, SIDE))
    block = np.random.default_rng(0).integers(0, 256, (1024, 3, SIDE, SIDE), dtype=np.uint8)
    for start in range(0, count, len(block)):
        n = min(len(block), count - start)
        images[start : start + n] = np.roll(block, start // len(block), axis=0)[:n]
    images.flush()
    del images
    atomic_write_json(folder / "meta.json", {
        "format_version": prepare.FORMAT_VERSION, "key": key, "name": "synthetic",
        "source": {"path": str(source.resolve()), "format": "numpy",
                   "description": "synthetic images", "fingerprint": key,
                   "stamp": prepare._stamp(source)},
        "options": dataclasses.asdict(options), "requested": dataclasses.asdict(requested),
        "flip": False, "count": count, "shape": [3, SIDE, SIDE], "classes": [],
        "class_counts": [], "skipped": {"count": 0, "first": []}, "quietly_skipped": 0,
        "seconds": 0,
    })
    return folder


def child_train(source: str, batch: int, width: float, steps: int) -> dict:
    from ganstudio.engine.config import defaults_for
    from ganstudio.engine.data.batches import real_data
    from ganstudio.engine.events import StepEvent
    from ganstudio.engine.trainer import Trainer

    cfg = defaults_for(real_data(source, SIDE))
    cfg.model.width, cfg.train.batch_size, cfg.train.steps = width, batch, steps
    cfg.train.device, cfg.train.checkpoint_every = "cpu", 0
    cfg.train.sample_every = cfg.train.eval_every = 10**9
    trainer = Trainer(cfg)
    most = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    seconds = 0.0
    for event in trainer.run():
        if isinstance(event, StepEvent):
            now = rss()
            most = {k: max(most[k], now[k]) for k in most}
            seconds = event.elapsed
    return {"peak_rss": peak(), "largest_at_a_step": most,
            "position": trainer.source.state_dict(), "images_per_epoch": len(trainer.source),
            "steps": steps, "batch": batch, "width": width, "seconds": round(seconds, 1)}


def child_map(folder: str) -> dict:
    images = np.load(Path(folder) / "images.npy", mmap_mode="r")
    for start in range(0, len(images), 4096):
        np.asarray(images[start : start + 4096]).sum(dtype=np.uint64)
    return {"peak_rss": peak(), "rss_at_end": rss()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=2.2)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--child", choices=("write", "train", "map"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "write":
        print(json.dumps({"folder": str(write_prepared(Path(args.target), args.count))}))
        return
    if args.child == "train":
        print(json.dumps(child_train(args.target, args.batch, args.width, args.steps)))
        return
    if args.child == "map":
        print(json.dumps(child_map(args.target)))
        return

    count = int(args.gigabytes * 1e9 / (3 * SIDE * SIDE))
    steps = math.ceil(count / args.batch) + 2  # one epoch and a little more
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GANSTUDIO_CACHE": str(Path(tmp) / "cache")}
        os.environ.update(env)
        source = Path(tmp) / "synthetic.npy"

        def child(*extra: str) -> dict:
            out = subprocess.run([sys.executable, __file__, "--batch", str(args.batch),
                                  "--width", str(args.width), *extra], env=env, check=True,
                                 capture_output=True, text=True)
            return json.loads(out.stdout)

        # Written by a child of its own: a process's peak RSS (ru_maxrss) starts from its
        # parent's RSS at the fork and survives exec, so a parent that had the set's pages
        # mapped would pass its peak on to the children measured.
        folder = Path(child("--child", "write", "--target", str(source), "--count",
                            str(count))["folder"])
        size = (folder / "images.npy").stat().st_size
        load_before = os.getloadavg()

        train = child("--child", "train", "--target", str(source), "--steps", str(steps))
        mapped = child("--child", "map", "--target", str(folder))
        load_after = os.getloadavg()
    print(json.dumps({"prepared_bytes": size, "images": count, "train": train,
                      "map_scan": mapped, "load_before": load_before,
                      "load_after": load_after}, indent=1))


if __name__ == "__main__":
    main()
