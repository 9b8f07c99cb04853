"""The metric history of one run, as growable numpy columns (no Qt: views read it)."""

from __future__ import annotations

import numpy as np

FIELDS = ("step", "elapsed", "loss_g", "loss_d", "d_real", "d_fake", "grad_g", "grad_d",
          "lr_g", "lr_d")


class MetricHistory:
    """Append-only columns of step metrics. ``version`` changes whenever the data does."""

    def __init__(self, capacity: int = 4096):
        self._data = np.zeros((len(FIELDS), capacity), dtype=np.float64)
        self._index = {name: i for i, name in enumerate(FIELDS)}
        self.n = 0
        self.version = 0

    def __len__(self) -> int:
        return self.n

    def append(self, rows: list[dict] | list) -> None:
        """Append step records: dicts (from metrics.jsonl) or StepEvents."""
        if not rows:
            return
        k = len(rows)
        self._reserve(self.n + k)
        block = self._data[:, self.n : self.n + k]
        for j, row in enumerate(rows):
            get = row.get if isinstance(row, dict) else row.__dict__.get
            for i, name in enumerate(FIELDS):
                value = get(name)
                block[i, j] = np.nan if value is None else value
        self.n += k
        self.version += 1

    def append_columns(self, columns: dict[str, np.ndarray]) -> None:
        """Append many rows at once from arrays (missing fields become NaN)."""
        k = len(next(iter(columns.values())))
        self._reserve(self.n + k)
        for name, i in self._index.items():
            self._data[i, self.n : self.n + k] = columns.get(name, np.nan)
        self.n += k
        self.version += 1

    def truncate_after(self, step: float) -> None:
        """Forget rows beyond ``step`` (a resumed run superseded them)."""
        steps = self.column("step")
        keep = int(np.searchsorted(steps, step, side="right"))
        if keep != self.n:
            self.n = keep
            self.version += 1

    def column(self, name: str) -> np.ndarray:
        return self._data[self._index[name], : self.n]

    def last(self, name: str) -> float | None:
        return float(self._data[self._index[name], self.n - 1]) if self.n else None

    def clear(self) -> None:
        self.n = 0
        self.version += 1

    def _reserve(self, size: int) -> None:
        if size <= self._data.shape[1]:
            return
        capacity = max(size, 2 * self._data.shape[1])
        grown = np.zeros((len(FIELDS), capacity), dtype=np.float64)
        grown[:, : self.n] = self._data[:, : self.n]
        self._data = grown


def debiased_ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average divided by (1 - weightᵗ).

    Non-finite values are skipped (they get NaN, and the average carries over them), as
    TensorBoard does. Vectorised: a million points smooth in a few tenths of a second.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0 or weight <= 0:
        return values.copy()
    finite = np.isfinite(values)
    # The EMA is (1 - w) Σ w^(t-s) x[s] and its debiasing term the same sum over "1 where
    # finite"; the (1 - w) factors cancel in the ratio.
    sums = _decayed_sums(np.stack([np.where(finite, values, 0.0), finite.astype(np.float64)]),
                         weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = sums[0] / sums[1]
    smoothed[~finite] = np.nan
    return smoothed


_BLOCK = 32


def _decayed_sums(x: np.ndarray, w: float) -> np.ndarray:
    """``y[..., t] = Σ_{s ≤ t} w^(t-s) · x[..., s]`` along the last axis, without a Python loop
    over t.

    Within blocks of _BLOCK points the sums are one matrix product with a decay kernel. What
    each block carries into the next is the same kind of sum over the blocks' last values,
    with weight w^_BLOCK, so it is found by the same function, on 1/_BLOCK as many points.
    """
    n = x.shape[-1]
    size = min(n, _BLOCK)
    i = np.arange(size)
    power = np.subtract.outer(i, i)
    kernel = np.where(power >= 0, w ** np.maximum(power, 0), 0.0)  # [a, b]: x[b]'s part in y[a]
    if n <= _BLOCK:
        return x @ kernel.T
    pad = (-n) % _BLOCK
    blocks = np.concatenate([x, np.zeros((*x.shape[:-1], pad))], axis=-1)
    blocks = blocks.reshape(*x.shape[:-1], -1, _BLOCK)
    inner = blocks @ kernel.T  # the sums within each block
    ends = _decayed_sums(inner[..., -1], w**_BLOCK)  # the full sums at each block's end
    carry = np.concatenate([np.zeros((*x.shape[:-1], 1)), ends[..., :-1]], axis=-1)
    inner += carry[..., None] * w ** (i + 1)
    return inner.reshape(*x.shape[:-1], -1)[..., :n]
