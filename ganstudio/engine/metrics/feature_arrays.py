"""Checking the feature arrays every image metric takes: (N, D), finite, enough rows."""

from __future__ import annotations

import numpy as np
import torch

from ganstudio.engine.errors import ConfigError


def as_feature_matrix(x: np.ndarray | torch.Tensor, what: str, min_rows: int = 2,
                      dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
    """``x`` as a CPU tensor of ``dtype`` (None: float64 stays, anything else becomes
    float32); a ConfigError naming ``what`` when it cannot serve."""
    t = torch.as_tensor(x).detach().cpu()
    if t.dim() != 2:
        raise ConfigError(f"the {what} features must be a 2-D array (samples × dimensions), "
                          f"not of shape {tuple(t.shape)}")
    if t.shape[0] < min_rows:
        raise ConfigError(f"the {what} features have {t.shape[0]} samples; at least {min_rows} "
                          "are needed")
    if t.shape[1] < 1:
        raise ConfigError(f"the {what} features have no dimensions")
    if t.dtype == torch.bool or t.is_complex():
        raise ConfigError(f"the {what} features must be real numbers, not {t.dtype}")
    if dtype is None:
        dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
    t = t.to(dtype)
    if not bool(torch.isfinite(t).all()):
        raise ConfigError(f"the {what} features hold NaN or infinite values")
    return t


def same_width(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape[1] != b.shape[1]:
        raise ConfigError(f"the real features have {a.shape[1]} dimensions but the generated "
                          f"ones have {b.shape[1]}: they come from different feature spaces")
