"""Resampling with FIR filters: insert zeros to upsample, pad, filter, keep every n-th sample.

StyleGAN2 blurs with a small binomial filter around every change of resolution; StyleGAN3 wraps
every nonlinearity in windowed-sinc up- and down-sampling filters. Both apply their filters as
true convolutions (the filter flipped), with a gain of ``up**2`` when upsampling to keep the
signal's level; a 1-D filter is applied along each axis in turn (its gain split between them).
Padding is given in the upsampled grid as (left, right, top, bottom); negative values crop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample ``x`` (N, C, H, W) by ``up``, pad, filter with ``f`` (1-D, 2-D or None), then
    downsample by ``down``."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1)).reshape(n, c, h * up, w * up)
    if any(padding):
        x = F.pad(x, padding)
    if f is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    f = f.to(x.dtype)
    # depthwise convolutions, strided to downsample; contiguous weights are the faster kernels
    if f.ndim == 1:
        k = (f * gain**0.5).flip(0)
        row = k.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous()
        x = F.conv2d(x, row, stride=(1, down), groups=c)
        return F.conv2d(x, row.view(c, 1, -1, 1), stride=(down, 1), groups=c)
    k = (f * gain).flip(0, 1)
    return F.conv2d(x, k[None, None].expand(c, 1, -1, -1).contiguous(), stride=down, groups=c)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample by ``up`` with filter ``f``, keeping the image centred: ``up`` times larger."""
    taps = f.shape[-1]
    lo, hi = (taps + up - 1) // 2, (taps - up) // 2
    return upfirdn2d(x, f, up=up, padding=(lo, hi, lo, hi), gain=up * up)
