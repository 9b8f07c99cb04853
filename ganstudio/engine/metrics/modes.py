"""Mode coverage on 2-D mixtures, as defined by VEEGAN (Srivastava et al., 2017) and PacGAN.

A sample is *high-quality* when it lies within 3σ of the nearest mode centre; a mode is
*captured* when at least one high-quality sample is nearest to it; the *reverse KL* is
KL(histogram of the high-quality samples over the modes ‖ uniform).
"""

from __future__ import annotations

import math

import torch

N_SAMPLES = 2500


def mode_coverage(samples: torch.Tensor, modes: torch.Tensor, std: float) -> dict[str, float]:
    samples = samples.detach().float().cpu()
    modes = modes.float().cpu()
    distances = torch.cdist(samples, modes)  # (N, M)
    nearest_distance, nearest = distances.min(dim=1)
    high_quality = nearest_distance <= 3 * std
    counts = torch.bincount(nearest[high_quality], minlength=modes.shape[0]).double()
    n_high = int(high_quality.sum())
    return {
        "modes": int((counts > 0).sum()),
        "n_modes": int(modes.shape[0]),
        "high_quality": 100.0 * n_high / max(1, samples.shape[0]),
        "reverse_kl": reverse_kl(counts),
    }


def reverse_kl(counts: torch.Tensor) -> float:
    """KL(p ‖ uniform) of a histogram; 0 when every mode is equally hit, log M at worst."""
    total = float(counts.sum())
    if total == 0:
        return math.log(counts.numel())  # no high-quality samples at all: the worst case
    p = counts / total
    nonzero = p > 0
    return float((p[nonzero] * (p[nonzero] * counts.numel()).log()).sum())
