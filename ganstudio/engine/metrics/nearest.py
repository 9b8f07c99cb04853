"""The memorisation check: the training images closest to a generated sample."""

from __future__ import annotations

import numpy as np
import torch

CHUNK = 8192


def nearest_images(sample: np.ndarray, images: torch.Tensor, k: int = 8
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Indices and root-mean-square pixel distances (0–255 scale) of the ``k`` images of
    ``images`` (N, C, H, W uint8) nearest to ``sample`` (H, W, C uint8), nearest first."""
    query = torch.from_numpy(np.ascontiguousarray(sample.transpose(2, 0, 1))).float().flatten()
    if query.numel() != images[0].numel():
        raise ValueError(
            f"the sample has {tuple(sample.shape)} pixels but the training images are "
            f"{tuple(images.shape[1:])}: they cannot be compared")
    best_d = torch.full((0,), float("inf"))
    best_i = torch.zeros(0, dtype=torch.long)
    for start in range(0, images.shape[0], CHUNK):
        block = images[start : start + CHUNK].flatten(1).float()
        d = (block - query).square().mean(dim=1)
        top = torch.topk(d, min(k, len(d)), largest=False)
        best_d = torch.cat([best_d, top.values])
        best_i = torch.cat([best_i, top.indices + start])
        keep = torch.topk(best_d, min(k, len(best_d)), largest=False).indices
        best_d, best_i = best_d[keep], best_i[keep]
    order = torch.argsort(best_d)
    return best_i[order].numpy(), best_d[order].sqrt().numpy()
