"""StyleGAN2 explorer speed: 256 px and 1024 px networks at the published widths, random weights.

- time from ws to the first coarse preview (the progressive stages) and to the full image,
  batch 1, as after a slider move: p50 and p95 of wall time, and the median CPU time;
- a 16-frame interpolation strip (lerp in W, one batch);
- GANSpace: 10,000 w from the mapping network and their 10 principal directions;
- the work of one image (GFLOP) and the CPU's best rate on one plain 3×3 convolution, measured
  in the same run: their ratio is the floor under any direct-convolution implementation.

Every variant runs side by side, interleaved, in the same process, against a naive
implementation (a loop over samples building each modulated weight; upsampling by inserting
zeros, FIR-filtering and then convolving at the higher resolution), so that each optimisation's
gain is measured under the same load:

    naive          loop over samples, upsample-then-convolve, NCHW, torch.no_grad
    transposed     the same loop, upsampling convolutions transposed (stride 2) then filtered
    grouped        NVIDIA's fused form: every sample's weight in one grouped convolution
    ours-nchw      GAN Studio's network (polyphase FIR, cached weight forms, folded gains) in NCHW
    ours-no-grad   … in channels-last layout, under torch.no_grad
    ours           … in channels-last layout, under torch.inference_mode (what the app uses)
    ours-1-thread  … on one thread instead of --threads (on a shared, busy machine a second
                   thread can cost more in waiting at every operation than it gains)

    python benchmarks/explorer_stylegan.py [--runs 20] [--sizes 256 1024] [--threads 2]

The 256 px network is FFHQ-256's (channel_base 16384), the 1024 px one config F (32768); both
cap channels at 512, with an 8-layer mapping network and w of 512. Progress goes to stderr, the
JSON to stdout. CPU times are the process's: on one thread they are the work itself, however
busy the machine; on more, they include the time threads spend waiting for each other.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app sets it (app/main.py)

import numpy as np
import torch
import torch.nn.functional as F

from ganstudio.engine.nets import stylegan2
from ganstudio.engine.nets.stylegan import build_stylegan


def config(resolution: int) -> dict:
    return {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": resolution,
            "img_channels": 3, "mapping": {"num_layers": 8},
            "synthesis": {"channel_base": 16384 if resolution <= 256 else 32768,
                          "channel_max": 512, "conv_clamp": 256}}


# --- the implementations compared against ----------------------------------------------------


def naive_upfirdn2d(x, f, up=1, down=1, padding=(0, 0, 0, 0), gain=1.0):
    """Insert zeros, pad, filter with the full 2-D filter, drop samples."""
    n, c, h, w = x.shape
    if up > 1:
        z = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, padding)
    f2 = f if f.ndim == 2 else torch.outer(f, f)
    k = (f2 * gain).flip(0, 1)[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c)[:, :, ::down, ::down]


def naive_upsample2d(x, f, up=2):
    taps = f.shape[-1]
    lo, hi = (taps + up - 1) // 2, (taps - up) // 2
    return naive_upfirdn2d(x, f, up, padding=(lo, hi, lo, hi), gain=up * up)


def looped_modulated_conv2d(transposed: bool):
    def conv(x, weight, styles, out_scale=None, up=1, resample_filter=None, weight_t=None):
        k = weight.shape[-1]
        outs = []
        for i in range(x.shape[0]):
            w = weight * styles[i].reshape(1, -1, 1, 1)
            if out_scale is not None:
                w = w * out_scale[i].reshape(-1, 1, 1, 1)
            xi = x[i:i + 1]
            if up == 1:
                outs.append(F.conv2d(xi, w, padding=k // 2))
            elif transposed:
                y = F.conv_transpose2d(xi, w.transpose(0, 1), stride=up)
                outs.append(naive_upfirdn2d(y, resample_filter, padding=(1, 1, 1, 1), gain=4))
            else:
                taps = resample_filter.shape[-1]
                lo, hi = k // 2 + (taps + 1) // 2, k // 2 + (taps - 2) // 2
                y = naive_upfirdn2d(xi, resample_filter, 2, padding=(lo, hi, lo, hi), gain=4)
                outs.append(F.conv2d(y, w.flip(2, 3)))
        return torch.cat(outs)
    return conv


def grouped_modulated_conv2d(x, weight, styles, out_scale=None, up=1, resample_filter=None,
                             weight_t=None):
    n, i = styles.shape
    o, _, k, _ = weight.shape
    w = weight[None] * styles.reshape(n, 1, i, 1, 1)
    if out_scale is not None:
        w = w * out_scale.reshape(n, o, 1, 1, 1)
    x = x.reshape(1, n * i, *x.shape[2:])
    if up == 1:
        y = F.conv2d(x, w.reshape(n * o, i, k, k), padding=k // 2, groups=n)
    else:
        y = F.conv_transpose2d(x, w.transpose(1, 2).reshape(n * i, o, k, k), stride=up, groups=n)
        y = naive_upfirdn2d(y, resample_filter, padding=(1, 1, 1, 1), gain=4)
    return y.reshape(n, o, *y.shape[2:])


VARIANTS = {  # name: (modulated conv, upsample, upfirdn, channels_last, grad context, threads)
    "naive": (looped_modulated_conv2d(False), naive_upsample2d, naive_upfirdn2d, False,
              torch.no_grad, None),
    "transposed": (looped_modulated_conv2d(True), naive_upsample2d, naive_upfirdn2d, False,
                   torch.no_grad, None),
    "grouped": (grouped_modulated_conv2d, naive_upsample2d, naive_upfirdn2d, False,
                torch.no_grad, None),
    "ours-nchw": (None, None, None, False, torch.inference_mode, None),
    "ours-no-grad": (None, None, None, True, torch.no_grad, None),
    "ours": (None, None, None, True, torch.inference_mode, None),
    "ours-1-thread": (None, None, None, True, torch.inference_mode, 1),
}


@contextlib.contextmanager
def variant(name: str, net):
    conv, upsample, upfirdn, channels_last, grad, threads = VARIANTS[name]
    saved = (stylegan2.modulated_conv2d, stylegan2.upsample2d, stylegan2.upfirdn2d)
    saved_threads = torch.get_num_threads()
    if conv is not None:
        stylegan2.modulated_conv2d, stylegan2.upsample2d = conv, upsample
        stylegan2.upfirdn2d = upfirdn
    net.synthesis.channels_last = channels_last
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with grad():
            yield
    finally:
        stylegan2.modulated_conv2d, stylegan2.upsample2d, stylegan2.upfirdn2d = saved
        net.synthesis.channels_last = True
        torch.set_num_threads(saved_threads)


# --- measuring ---------------------------------------------------------------------------------


def summary(wall: list[float], cpu: list[float]) -> dict:
    a = np.asarray(wall) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1),
            "cpu_median_ms": round(statistics.median(cpu) * 1000, 1), "n": len(wall)}


def render_stages(net, ws, stages: tuple[int, ...]) -> dict[int, tuple[float, float]]:
    """Wall and CPU seconds from ws to each progressive stage in ``stages`` (and the full image)."""
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    seen = {}
    for r, _ in net.synthesis.progressive(ws):
        if r in stages:
            seen[r] = (time.perf_counter() - start_wall, time.process_time() - start_cpu)
    return seen


def image_latency(net, names: list[str], runs: int, seed: int) -> dict:
    """Each variant renders a new w per run, interleaved with the others (same load for all)."""
    res = net.img_resolution
    stages = tuple(r for r in (16, 32, 64, res) if r <= res)
    times = {n: {r: ([], []) for r in stages} for n in names}
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        ws_list = [net.mapping(torch.randn(1, 512, generator=g)) for _ in range(runs + 1)]
    for i, ws in enumerate(ws_list):
        print(f"{res} px: run {i} of {runs}", file=sys.stderr, flush=True)
        for name in names:
            with variant(name, net):
                seen = render_stages(net, ws, stages)
            if i == 0:
                continue  # warm-up: caches, allocator, lazy kernels
            for r, (wall, cpu) in seen.items():
                times[name][r][0].append(wall)
                times[name][r][1].append(cpu)
    return {name: {(f"{r}px_stage" if r != res else "full_image"): summary(*times[name][r])
                   for r in stages} for name in names}


def strip(net, names: list[str], frames: int = 16, repeats: int = 2) -> dict:
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        keys = net.mapping(torch.randn(2, 512, generator=g))
        t = torch.linspace(0, 1, frames).reshape(-1, 1, 1)
        ws = keys[:1].lerp(keys[1:], t)
    out = {}
    for name in names:
        print(f"strip: {name}", file=sys.stderr, flush=True)
        wall, cpu = [], []
        for _ in range(repeats):
            with variant(name, net):
                start_wall, start_cpu = time.perf_counter(), time.process_time()
                net.synthesis(ws)
            wall.append(time.perf_counter() - start_wall)
            cpu.append(time.process_time() - start_cpu)
        out[name] = {"median_s": round(statistics.median(wall), 2),
                     "cpu_median_s": round(statistics.median(cpu), 2), "n": repeats}
    return out


def ganspace(net, samples: int = 10_000, components: int = 10) -> dict:
    """Sample w, then their leading principal directions, as GANSpace does in W."""
    start = time.perf_counter()
    with torch.inference_mode():
        g = torch.Generator().manual_seed(3)
        w = torch.cat([net.mapping(torch.randn(1000, 512, generator=g))[:, 0]
                       for _ in range(samples // 1000)])
        mapped = time.perf_counter()
        centred = w - w.mean(dim=0)
        _, _, v = torch.pca_lowrank(centred, q=components + 10, center=False, niter=4)
        directions = v[:, :components].t()
    done = time.perf_counter()
    assert directions.shape == (components, 512)
    return {"mapping_s": round(mapped - start, 3), "pca_s": round(done - mapped, 3),
            "total_s": round(done - start, 3)}


def work_floor(net, repeats: int = 10) -> dict:
    """The network's arithmetic against this CPU's best: the floating-point operations of one
    image (PyTorch's FlopCounterMode, 2 per multiply-add), and the rate the CPU reaches on one
    plain 3×3 convolution of the network's most common shape (512 channels at 32×32, direct,
    channels-last), the fastest case measured. Their ratio is the time that image takes with
    every operation at that rate: a floor for any direct-convolution implementation."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode():
        ws = net.mapping(torch.randn(1, 512, generator=torch.Generator().manual_seed(0)))
        with FlopCounterMode(display=False) as counter:
            net.synthesis(ws)
        flops = counter.get_total_flops()
        x = torch.randn(1, 512, 32, 32).contiguous(memory_format=torch.channels_last)
        w = torch.randn(512, 512, 3, 3).contiguous(memory_format=torch.channels_last)
        times = []
        for i in range(repeats + 2):
            start = time.perf_counter()
            F.conv2d(x, w, padding=1)
            if i >= 2:
                times.append(time.perf_counter() - start)
    conv_flops = 2 * 512 * 512 * 9 * 32 * 32
    best = conv_flops / min(times)
    return {"gflop_per_image": round(flops / 1e9, 2),
            "conv_gflops_best": round(best / 1e9, 1),
            "conv_gflops_median": round(conv_flops / statistics.median(times) / 1e9, 1),
            "floor_ms": round(flops / best * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--runs-1024", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = {"benchmark": "explorer_stylegan", "torch": torch.__version__,
              "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
              "load_average_1min_start": round(os.getloadavg()[0], 2),
              "targets": {"first_preview_p95_ms": 150, "full_256px_p95_ms": 250}}
    for size in args.sizes:
        net = build_stylegan("stylegan2", config(size), seed=0).eval().requires_grad_(False)
        runs = args.runs if size <= 256 else args.runs_1024
        names = (list(VARIANTS) if size <= 256
                 else ["naive", "grouped", "ours", "ours-1-thread"])
        entry = {"parameters": sum(p.numel() for p in net.parameters()),
                 "num_ws": net.num_ws, "work": work_floor(net),
                 "batch_1": image_latency(net, names, runs, seed=size)}
        if size <= 256:
            entry["strip_16_frames"] = strip(net, ["naive", "grouped", "ours", "ours-1-thread"])
            entry["ganspace_10000_w"] = ganspace(net)
        result[f"{size}px"] = entry
    result["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
