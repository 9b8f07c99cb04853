"""Training throughput: the engine against a minimal hand-written PyTorch loop.

Both train the same networks with the same loss, batch size, optimiser and device, drawing
batches from the same in-memory tensor. The plain loop is written in the style of the PyTorch
DCGAN example; the engine is ``Trainer.run()`` writing a run folder, exactly as
``ganstudio train`` does. Runs alternate (plain, engine, plain, ...) and the median of each
is reported, so that a noisy neighbour on the machine hits both alike.

    python benchmarks/train_throughput.py [--repeats 3] [--device auto] [--d-steps 5]

With ``--d-steps N`` (5 is WGAN-GP's setting) both make N D updates per G update; the plain
loop does it the straightforward way (every fake with a graph, D's parameters in G's
backward pass), so the ratio shows what the engine saves.

Prints JSON: it/s of each, and the ratio engine / plain (target: at least 0.95).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from ganstudio.engine.config import defaults_for
from ganstudio.engine.data import load_dataset
from ganstudio.engine.devices import describe, resolve_device
from ganstudio.engine.events import StepEvent
from ganstudio.engine.images import from_uint8
from ganstudio.engine.nets import build_networks
from ganstudio.engine.trainer import Trainer

CASES = {"dcgan-digits": ("digits", 40), "toy-ring8": ("ring8", 400)}
WARMUP = 5


def config_for(dataset: str, steps: int, device: str, d_steps: int = 1):
    cfg = defaults_for(dataset)
    cfg.optim.d_steps = d_steps
    cfg.train.steps = steps + WARMUP
    cfg.train.device = device
    cfg.train.ema = False  # the plain loop keeps no EMA copy
    cfg.loss.r1_gamma = 0.0  # nor an R1 penalty: the DCGAN example's loss, as the engine's
    cfg.train.sample_every = cfg.train.eval_every = 10**9
    cfg.train.checkpoint_every = 0
    return cfg


def plain_loop_its(cfg, steps: int) -> float:
    """The DCGAN example's loop, nothing else: D step on real and fake.detach(), G step."""
    device = resolve_device(cfg.train.device)
    torch.manual_seed(cfg.train.seed)
    data = load_dataset(cfg.data.name, cfg.data.seed)
    netG, netD = build_networks(cfg.model, data.info, cfg.loss.name)
    netG.to(device)
    netD.to(device)
    x_all = data.x.to(device)
    opt = cfg.optim
    optimizerD = torch.optim.Adam(netD.parameters(), lr=opt.lr_d, betas=(opt.beta1, opt.beta2))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=opt.lr_g, betas=(opt.beta1, opt.beta2))
    batch, nz = cfg.train.batch_size, netG.z_dim

    def step():
        for _ in range(opt.d_steps):
            real = x_all[torch.randint(len(x_all), (batch,), device=device)]
            if netG.output_range is not None:
                real = from_uint8(real, netG.output_range)
            noise = torch.randn(batch, nz, device=device)
            # (1) update D: maximise log D(x) + log(1 - D(G(z)))
            fake = netG(noise)
            errD = F.softplus(-netD(real)).mean() + F.softplus(netD(fake.detach())).mean()
            optimizerD.zero_grad()
            errD.backward()
            optimizerD.step()
        # (2) update G: maximise log D(G(z))
        errG = F.softplus(-netD(fake)).mean()
        optimizerG.zero_grad()
        errG.backward()
        optimizerG.step()

    for _ in range(WARMUP):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps / (time.perf_counter() - start)


def engine_its(cfg, steps: int) -> float:
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(cfg, run_dir=run_dir)
        start = None
        for event in trainer.run():
            if isinstance(event, StepEvent):
                if event.step == WARMUP:
                    start = time.perf_counter()
                elif event.step == WARMUP + steps:
                    return steps / (time.perf_counter() - start)
    raise RuntimeError("the engine stopped early")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--case", choices=list(CASES), action="append")
    parser.add_argument("--d-steps", type=int, default=1, help="D updates per G update")
    args = parser.parse_args()
    device = resolve_device(args.device)
    results = []
    for name in args.case or list(CASES):
        dataset, steps = CASES[name]
        if device.type == "cuda":
            steps *= 10
        cfg = config_for(dataset, steps, args.device, args.d_steps)
        plain, engine = [], []
        for _ in range(args.repeats):
            plain.append(plain_loop_its(cfg, steps))
            engine.append(engine_its(cfg, steps))
        p, e = statistics.median(plain), statistics.median(engine)
        results.append({
            "case": name, "batch_size": cfg.train.batch_size, "steps": steps,
            "d_steps": cfg.optim.d_steps,
            "plain_its": round(p, 2), "engine_its": round(e, 2), "ratio": round(e / p, 3),
            "plain_runs": [round(v, 2) for v in plain],
            "engine_runs": [round(v, 2) for v in engine],
        })
    print(json.dumps({"benchmark": "train_throughput", "device": describe(device),
                      "torch": torch.__version__, "target_ratio": 0.95, "results": results},
                     indent=2))


if __name__ == "__main__":
    main()
