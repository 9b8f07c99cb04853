"""Training throughput from a prepared set on disk against the same images in memory.

Both runs are ``Trainer.run()`` with the same networks, batch and device (``dcgan`` at 64 px,
the PyTorch DCGAN example's settings: width 1, batch 64); only the batch source differs:

- ``memory``: the images held in a tensor, drawn by :class:`InMemorySource` as the built-in
  sets are;
- ``disk``: the real-data path of ``ganstudio train --data``: the prepared set streamed from
  its cache by :class:`StreamingSource`, read ahead on a thread.

The set is ``--count`` synthetic 64 px RGB images written as an ``.npy`` and prepared once.
Runs alternate (memory, disk, memory, ...); each reports the median time of its steps after
a warm-up, and the script prints the medians and the ratio disk / memory in it/s (target:
at least 0.95), with the load average before and after.

    python benchmarks/streaming_throughput.py [--repeats 3] [--steps 20] [--count 20000]
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

from ganstudio.engine import trainer as trainer_module
from ganstudio.engine.config import defaults_for
from ganstudio.engine.data import Dataset
from ganstudio.engine.data.batches import InMemorySource, prepare_data, real_data
from ganstudio.engine.events import StepEvent

WARMUP = 3


def write_images(path: Path, count: int) -> None:
    """Smooth random colour fields with noise: cheap to make, not constant."""
    rng = np.random.default_rng(0)
    out = np.lib.format.open_memmap(path, "w+", np.uint8, (count, 64, 64, 3))
    ramp = np.linspace(0, 1, 64, dtype=np.float32)
    for start in range(0, count, 1000):
        n = min(1000, count - start)
        a, b = rng.uniform(0, 255, (2, n, 1, 1, 3)).astype(np.float32)
        t = ramp[None, :, None, None] * rng.uniform(0, 1, (n, 1, 1, 1)).astype(np.float32)
        noise = rng.normal(0, 10, (n, 64, 64, 3)).astype(np.float32)
        out[start : start + n] = np.clip(a + (b - a) * t + noise, 0, 255).astype(np.uint8)
    out.flush()


def step_seconds(cfg, source_factory=None) -> float:
    """The median seconds per step of one run after the warm-up."""
    original = trainer_module.open_source
    if source_factory is not None:
        trainer_module.open_source = source_factory
    try:
        times, last = [], None
        for event in trainer_module.Trainer(cfg).run():
            if isinstance(event, StepEvent):
                now = time.perf_counter()
                if last is not None and event.step > WARMUP:
                    times.append(now - last)
                last = now
        return statistics.median(times)
    finally:
        trainer_module.open_source = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("GANSTUDIO_CACHE", str(Path(tmp) / "cache"))
        write_images(Path(tmp) / "images.npy", args.count)
        data = real_data(str(Path(tmp) / "images.npy"), 64)
        prepared = prepare_data(data)
        in_memory = Dataset(prepared.info, torch.from_numpy(np.array(prepared.images)))

        cfg = defaults_for(data)
        cfg.train.steps, cfg.train.device = WARMUP + args.steps, "cpu"
        cfg.train.sample_every = cfg.train.eval_every = 10**9
        cfg.train.checkpoint_every = 0

        def memory_source(data_cfg, device, rng, rank=0):
            return InMemorySource(in_memory, device, rng)

        load_before = os.getloadavg()
        memory, disk = [], []
        for _ in range(args.repeats):
            memory.append(step_seconds(cfg, memory_source))
            disk.append(step_seconds(cfg))
        load_after = os.getloadavg()

    its_memory, its_disk = 1 / statistics.median(memory), 1 / statistics.median(disk)
    print(json.dumps({
        "network": "dcgan 64 px, width 1, batch 64 (the PyTorch DCGAN example)",
        "images": args.count, "steps_per_run": args.steps, "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "memory_step_seconds": [round(t, 4) for t in memory],
        "disk_step_seconds": [round(t, 4) for t in disk],
        "memory_its": round(its_memory, 3), "disk_its": round(its_disk, 3),
        "ratio_disk_over_memory": round(its_disk / its_memory, 3),
        "load_before": load_before, "load_after": load_after,
    }, indent=1))


if __name__ == "__main__":
    main()
