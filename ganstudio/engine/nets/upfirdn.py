"""Resampling with FIR filters: insert zeros to upsample, pad, filter, keep every n-th sample.

StyleGAN2 blurs with a small binomial filter around every change of resolution; StyleGAN3 wraps
every nonlinearity in windowed-sinc up- and down-sampling filters. Both apply their filters as
true convolutions (the filter flipped), with a gain of ``up**2`` when upsampling to keep the
signal's level; a 1-D filter is applied along each axis in turn (its gain split between them).
Padding is given in the upsampled grid as (left, right, top, bottom); negative values crop.

Upsampling runs as a transposed convolution with stride ``up`` (which never multiplies the
inserted zeros) and downsampling as a strided convolution (which never computes the samples
dropped), both depthwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _fir(x: torch.Tensor, kernel: torch.Tensor, up: tuple[int, int], down: tuple[int, int],
         padding: tuple[int, int, int, int]) -> torch.Tensor:
    """One depthwise pass of the (kh, kw) filter ``kernel``; ``up`` and ``down`` are (y, x)."""
    c, (kh, kw) = x.shape[1], kernel.shape
    weight = kernel[None, None].expand(c, 1, kh, kw).contiguous()
    left, right, top, bottom = padding
    if up == (1, 1):
        return F.conv2d(F.pad(x, padding), weight.flip(2, 3), stride=down, groups=c)
    # the transposed convolution is the full convolution of the zero-upsampled input; move its
    # window to the one the padding asks for
    y = F.conv_transpose2d(x, weight, stride=up, groups=c)
    y = F.pad(y, (left - kw + 1, right + up[1] - kw, top - kh + 1, bottom + up[0] - kh))
    return y[:, :, :: down[0], :: down[1]] if down != (1, 1) else y


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
    if f is None:
        f = torch.ones(1, 1, dtype=x.dtype, device=x.device)
    f = f.to(x.dtype)
    if f.ndim == 2:
        return _fir(x, f * gain, (up, up), (down, down), padding)
    k = f[None, :] * gain**0.5
    left, right, top, bottom = padding
    x = _fir(x, k, (1, up), (1, down), (left, right, 0, 0))
    return _fir(x, k.t(), (up, 1), (down, 1), (0, 0, top, bottom))


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """Upsample by ``up`` with filter ``f``, keeping the image centred: ``up`` times larger."""
    taps = f.shape[-1]
    lo, hi = (taps + up - 1) // 2, (taps - up) // 2
    return upfirdn2d(x, f, up=up, padding=(lo, hi, lo, hi), gain=up * up)
