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

    Vectorised in blocks so that a million points smooth in well under a second: within a
    block the average is a matrix product with a decay kernel, and only the carry between
    blocks is sequential.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0 or weight <= 0:
        return values.copy()
    finite = np.isfinite(values)
    x = np.where(finite, values, 0.0)
    block = 256
    i = np.arange(block)
    # kernel[a, b] = (1 - w) w^(a - b) for b <= a: the contribution of x[b] to the EMA at a
    power = np.subtract.outer(i, i)
    kernel = np.where(power >= 0, (1 - weight) * weight ** np.maximum(power, 0), 0.0)
    decay = weight ** (i + 1)  # how the carry into a block fades across it
    pad = (-n) % block
    blocks = np.concatenate([x, np.zeros(pad)]).reshape(-1, block)
    weights = np.concatenate([finite.astype(np.float64), np.zeros(pad)]).reshape(-1, block)
    inner = blocks @ kernel.T
    inner_w = weights @ kernel.T  # the same EMA of "1 where finite": the debiasing term
    out = np.empty_like(inner)
    norm = np.empty_like(inner)
    carry = carry_w = 0.0
    for b in range(blocks.shape[0]):
        out[b] = inner[b] + carry * decay
        norm[b] = inner_w[b] + carry_w * decay
        carry, carry_w = out[b, -1], norm[b, -1]
    out, norm = out.reshape(-1)[:n], norm.reshape(-1)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = out / norm
    smoothed[~finite] = np.nan
    return smoothed
