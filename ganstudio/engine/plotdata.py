"""Plot data without Qt: the metric series of one or more runs, ready to draw.

A run's records become series over steps. Every ``step`` record adds a row to the run's step
table (``loss_g``, ``loss_d``, …); every ``eval`` record ``{"type": "eval", "step": s,
"name": NAME, ...values}`` adds a row to the table of that evaluation, whose values are the
series ``NAME/VALUE`` (records without a name are the 2-D mode coverage, ``modes``). So a new
metric or a second run is more data, not more code.

:class:`PlotData` holds runs by id and answers what a plot draws: :meth:`PlotData.view` gives
each run's points of some series in an x range at a few points per pixel. With more rows than
that, the points are a min/max envelope over buckets of 2ᵏ rows, as pyqtgraph's 'peak'
downsampling draws them; with smoothing, TensorBoard's debiased EMA. Both are extended as rows
arrive, never recomputed, so the cost of a frame does not grow with the run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganstudio.engine.events import DiagEvent, EvalEvent, StepEvent

STEP_SERIES = ("loss_g", "loss_d", "d_real", "d_fake", "grad_g", "grad_d", "lr_g", "lr_d")
X_COLUMNS = ("step", "elapsed")  # what a series can be drawn against
DEFAULT_EVALUATION = "modes"  # the name of an eval record that has none


class Table:
    """Append-only float64 columns that share their rows: one row per step, or per evaluation.

    ``version`` changes with every change; ``generation`` only when rows already there were
    removed (a truncate or a clear), which is when anything derived from them is stale.
    """

    def __init__(self, columns: Sequence[str], capacity: int = 1024):
        self.columns: tuple[str, ...] = tuple(columns)
        self._index = {name: i for i, name in enumerate(self.columns)}
        self._data = np.zeros((len(self.columns), capacity), dtype=np.float64)
        self.n = 0
        self.version = 0
        self.generation = 0
        # What plots derive from the columns (envelopes, smoothing), kept with them so that
        # every PlotData showing this table shares it; see PlotData._cache.
        self.plot_cache: _TableCache | None = None

    def __len__(self) -> int:
        return self.n

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def column(self, name: str) -> np.ndarray:
        return self._data[self._index[name], : self.n]

    def index(self, name: str) -> int:
        return self._index[name]

    def block(self, first: int, stop: int) -> np.ndarray:
        """(stop - first, n): columns first..stop as one array, a view (no copy)."""
        return self._data[first:stop, : self.n]

    def add_columns(self, names: Iterable[str]) -> None:
        """New columns, NaN in the rows already there."""
        new = [name for name in names if name not in self._index]
        if not new:
            return
        grown = np.full((len(self.columns) + len(new), self._data.shape[1]), np.nan)
        grown[: len(self.columns)] = self._data
        self._data = grown
        self.columns += tuple(new)
        self._index = {name: i for i, name in enumerate(self.columns)}
        self.version += 1

    def append_rows(self, rows: Sequence[Any]) -> None:
        """Rows as dicts (records) or objects (events); a missing or None value is NaN."""
        if not rows:
            return
        k = len(rows)
        self._reserve(self.n + k)
        block = self._data[:, self.n: self.n + k]
        dicts = isinstance(rows[0], Mapping)
        for i, name in enumerate(self.columns):
            values = [row.get(name) for row in rows] if dicts else \
                [getattr(row, name, None) for row in rows]
            try:
                block[i] = np.array(values, dtype=np.float64)  # None becomes NaN
            except (TypeError, ValueError):
                block[i] = [_number(value) for value in values]
        self.n += k
        self.version += 1

    def append_columns(self, columns: Mapping[str, Any]) -> None:
        """Many rows at once from arrays (a missing column is NaN)."""
        k = len(next(iter(columns.values())))
        self._reserve(self.n + k)
        for name, i in self._index.items():
            self._data[i, self.n: self.n + k] = columns.get(name, np.nan)
        self.n += k
        self.version += 1

    def truncate_after(self, step: float) -> None:
        """Forget the rows beyond ``step`` (a resumed run superseded them)."""
        keep = int(np.searchsorted(self.column("step"), step, side="right"))
        if keep != self.n:
            self.n = keep
            self.version += 1
            self.generation += 1

    def clear(self) -> None:
        self.n = 0
        self.version += 1
        self.generation += 1

    def _reserve(self, size: int) -> None:
        if size <= self._data.shape[1]:
            return
        grown = np.zeros((len(self.columns), max(size, 2 * self._data.shape[1])))
        grown[:, : self.n] = self._data[:, : self.n]
        self._data = grown


def _number(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


class RunData:
    """One run's series: the step table and a table per evaluation, fed with records (dicts
    from metrics.jsonl) or the trainer's events."""

    def __init__(self, capacity: int = 4096):
        self.steps = Table((*X_COLUMNS, *STEP_SERIES), capacity)
        self.evaluations: dict[str, Table] = {}
        self._changes = 0  # evaluations added or cleared

    def __len__(self) -> int:
        """The number of steps."""
        return self.steps.n

    @property
    def version(self) -> int:
        """Changes whenever any series does."""
        return self._changes + self.steps.version + sum(
            t.version for t in self.evaluations.values())

    def column(self, name: str) -> np.ndarray:
        """A column of the step table (``step``, ``elapsed``, ``loss_g``, …)."""
        return self.steps.column(name)

    def append(self, records: Iterable[Any]) -> None:
        """Take records in order: steps, evaluations and diagnostics become rows (each run of
        consecutive steps in one go), a ``resume`` record forgets what it superseded, the rest
        is not plot data."""
        steps: list[Any] = []
        for record in records:
            kind = record.get("type") if isinstance(record, Mapping) else \
                _EVENT_KINDS.get(type(record))
            if kind == "step":
                steps.append(record)
                continue
            if steps:
                self.steps.append_rows(steps)
                steps = []
            if kind in ("eval", "diag"):  # a diagnostic plots as an evaluation does
                self._append_evaluation(record)
            elif kind == "resume":
                self.truncate_after(record.get("step", 0))
        self.steps.append_rows(steps)

    def append_columns(self, columns: Mapping[str, Any]) -> None:
        """Many steps at once from arrays (a missing series is NaN)."""
        self.steps.append_columns(columns)

    def truncate_after(self, step: float) -> None:
        """Forget every row beyond ``step``, in every table."""
        for table in (self.steps, *self.evaluations.values()):
            table.truncate_after(step)

    def clear(self) -> None:
        self.steps.clear()
        self.evaluations.clear()
        self._changes += 1

    def series_names(self) -> list[str]:
        """Every series this run has: the step series, then ``NAME/VALUE`` of evaluations."""
        names = list(STEP_SERIES)
        for name, table in self.evaluations.items():
            names += [f"{name}/{value}" for value in table.columns[len(X_COLUMNS):]]
        return names

    def table_of(self, series: str) -> tuple[Table, str] | None:
        """The table that holds ``series`` and its column there, or None if it has none."""
        if series in STEP_SERIES:
            return self.steps, series
        name, _, value = series.partition("/")
        table = self.evaluations.get(name)
        if table is None or value not in table or value in X_COLUMNS:
            return None
        return table, value

    def _append_evaluation(self, record: Any) -> None:
        if isinstance(record, Mapping):
            name = record.get("name") or DEFAULT_EVALUATION
            values = {k: v for k, v in record.items() if k not in ("type", "step", "name")}
            step = record.get("step")
        else:
            name = getattr(record, "name", None) or DEFAULT_EVALUATION
            values = dict(getattr(record, "metrics", None) or getattr(record, "values", {}))
            step = record.step
        values = {k: v for k, v in values.items() if v is None or _is_number(v)}
        table = self.evaluations.get(name)
        if table is None:
            table = self.evaluations[name] = Table((*X_COLUMNS, *values), capacity=64)
            self._changes += 1
        table.add_columns(values)
        # An evaluation runs right after its step: that step's wall time is its time.
        elapsed = self.steps.column("elapsed")[-1] if self.steps.n else math.nan
        table.append_rows([{**values, "step": step, "elapsed": elapsed}])


_EVENT_KINDS = {StepEvent: "step", EvalEvent: "eval", DiagEvent: "diag"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Curve:
    """One run's series, ready to draw: the points of the main line (smoothed when asked)
    and, with smoothing, of the raw values behind it; all in plot units (log10 when asked,
    where values ≤ 0 are NaN)."""

    x: np.ndarray
    y: np.ndarray
    raw_x: np.ndarray | None
    raw_y: np.ndarray | None
    x_bounds: tuple[float, float] | None  # finite extremes of x
    y_bounds: tuple[float, float] | None  # finite extremes of y
    raw_y_bounds: tuple[float, float] | None  # finite extremes of raw_y
    minimum: float  # the smallest finite raw value of the whole series (inf when none)


@dataclass(frozen=True)
class Readout:
    """A run's values at one row: its step and wall time, and per series (raw, smoothed)."""

    x: float
    step: float
    elapsed: float
    values: dict[str, tuple[float, float | None]]


class PlotData:
    """Runs by id, and what a plot of their series draws.

    ``run(id)`` is a run's :class:`RunData` (created empty on first use) and ``add(id, data)``
    shows an existing one; ``view``, ``x_bounds``, ``readout`` and ``series`` answer for any of
    them. A plot redraws when ``version`` changed.
    """

    def __init__(self):
        self._runs: dict[str, RunData] = {}
        self._changes = 0

    def run(self, run_id: str) -> RunData:
        if run_id not in self._runs:
            self.add(run_id, RunData())
        return self._runs[run_id]

    def add(self, run_id: str, data: RunData) -> RunData:
        self.remove(run_id)
        self._runs[run_id] = data
        self._changes += 1
        return data

    def remove(self, run_id: str) -> None:
        if self._runs.pop(run_id, None) is not None:
            self._changes += 1

    def run_ids(self) -> list[str]:
        return list(self._runs)

    @property
    def version(self) -> tuple:
        return self._changes, tuple(run.version for run in self._runs.values())

    def x_bounds(self, series: Sequence[str], runs: Sequence[str],
                 x_axis: str = "step") -> tuple[float, float] | None:
        """The smallest and largest x of these series over these runs (None when empty)."""
        bounds = []
        for table in {id(t): t for t in self._tables(series, runs)}.values():
            bounds.append(_finite_bounds(table.column(x_axis)))
        bounds = [b for b in bounds if b is not None]
        if not bounds:
            return None
        return min(b[0] for b in bounds), max(b[1] for b in bounds)

    def view(self, series: Sequence[str], runs: Sequence[str], x_axis: str = "step",
             x_range: tuple[float, float] | None = None, points: int = 2048,
             smoothing: float = 0.0, log: bool = False) -> dict[tuple[str, str], Curve]:
        """Per (run, series): what to draw of the rows in ``x_range`` (all rows when None),
        with at most about 2 × ``points`` points per line (a plot asks for one or two per
        pixel). Series a run does not have are left out."""
        out: dict[tuple[str, str], Curve] = {}
        for run_id in runs:
            for table, columns, names in self._groups(run_id, series):
                cache = self._cache(table, columns)
                x = table.column(x_axis)
                first, last = _rows_in(x, x_range)
                values = cache.raw_values
                smoothed = cache.smoothed(smoothing) if smoothing > 0 else None
                for column, name in zip(columns, names):
                    i = cache.index(column)
                    raw = cache.raw.window(i, x, values[i], first, last, points)
                    if smoothed is None:
                        main, behind = raw, None
                    else:
                        main = cache.smoothed_envelopes.window(i, x, smoothed[i], first, last,
                                                               points)
                        behind = _in_units(raw, log)
                    main = _in_units(main, log)
                    out[run_id, name] = Curve(
                        main[0], main[1], *(behind or (None, None)), _finite_bounds(main[0]),
                        _value_range(main[1]),
                        None if behind is None else _value_range(behind[1]),
                        cache.raw.minimum(i))
        return out

    def readout(self, run_id: str, series: Sequence[str], x: float | None = None,
                x_axis: str = "step", smoothing: float = 0.0) -> Readout | None:
        """The values of ``series`` at the row nearest to ``x`` (the latest row when None),
        in the table of the first of them; None when that table is empty."""
        groups = self._groups(run_id, series)
        if not groups:
            return None
        table = groups[0][0]
        xs = table.column(x_axis)
        row = _nearest(xs, x) if x is not None else table.n - 1
        if row is None or row < 0:
            return None
        values = {}
        for group_table, columns, names in groups:
            if group_table is not table:
                continue
            cache = self._cache(table, columns)
            smoothed = cache.smoothed(smoothing) if smoothing > 0 else None
            for column, name in zip(columns, names):
                i = cache.index(column)
                values[name] = (float(cache.raw_values[i][row]),
                                None if smoothed is None else float(smoothed[i][row]))
        return Readout(float(xs[row]), float(table.column("step")[row]),
                       float(table.column("elapsed")[row]), values)

    def series(self, run_id: str, name: str, x_axis: str = "step",
               smoothing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of one series at full resolution, smoothed when asked."""
        found = self._runs[run_id].table_of(name)
        if found is None:
            return np.empty(0), np.empty(0)
        table, column = found
        if smoothing <= 0:
            return table.column(x_axis), table.column(column)
        cache = self._cache(table, (column,))
        return table.column(x_axis), cache.smoothed(smoothing)[cache.index(column)]

    # ------------------------------------------------------------------ internals

    def _tables(self, series: Sequence[str], runs: Sequence[str]) -> list[Table]:
        return [table for run_id in runs for table, _, _ in self._groups(run_id, series)]

    def _groups(self, run_id: str, series: Sequence[str]) -> list[tuple[Table, tuple, list]]:
        """The series a run has, grouped by table: (table, columns, series names)."""
        run = self._runs.get(run_id)
        groups: dict[int, tuple[Table, list, list]] = {}
        for name in series:
            found = run.table_of(name) if run is not None else None
            if found is None:
                continue
            table, column = found
            group = groups.setdefault(id(table), (table, [], []))
            group[1].append(column)
            group[2].append(name)
        return [(table, tuple(columns), names) for table, columns, names in groups.values()]

    @staticmethod
    def _cache(table: Table, columns: tuple) -> _TableCache:
        """The cache of a table that covers ``columns``, brought up to date. It covers one
        range of adjacent columns, widened when asked for more, so its values are a view."""
        cache = table.plot_cache
        index = [table.index(column) for column in columns]
        first, stop = min(index), max(index) + 1
        if cache is None:
            cache = table.plot_cache = _TableCache(table, first, stop)
        elif first < cache.first or stop > cache.stop:
            cache = table.plot_cache = _TableCache(table, min(first, cache.first),
                                                   max(stop, cache.stop))
        cache.update()
        return cache


def _rows_in(x: np.ndarray, x_range: tuple[float, float] | None) -> tuple[int, int]:
    """Rows first..last to draw for ``x_range``: those inside it and one either side."""
    n = len(x)
    if x_range is None:
        return 0, n
    left, right = x_range
    first = max(int(np.searchsorted(x, left, side="left")) - 1, 0)
    last = min(int(np.searchsorted(x, right, side="right")) + 1, n)
    return first, last


def _nearest(column: np.ndarray, x: float) -> int | None:
    if not len(column) or not math.isfinite(x):
        return None
    i = int(np.searchsorted(column, x))
    if i >= len(column):
        return len(column) - 1
    if i > 0 and abs(x - column[i - 1]) <= abs(column[i] - x):
        return i - 1
    return i


def _in_units(points: tuple[np.ndarray, np.ndarray], log: bool) -> tuple[np.ndarray, np.ndarray]:
    if not log:
        return points
    with np.errstate(divide="ignore", invalid="ignore"):
        return points[0], np.where(points[1] > 0, np.log10(points[1]), np.nan)


class _TableCache:
    """What is derived from columns first..stop of one table: their envelopes, and their
    smoothing at one weight with its envelopes. Cleared when rows already seen were removed."""

    def __init__(self, table: Table, first: int, stop: int):
        self.table, self.first, self.stop = table, first, stop
        self.raw = _PeakEnvelopes()
        self.smoothed_envelopes = _PeakEnvelopes()
        self._smoothing = _SmoothedSeries(self.smoothed_envelopes)
        self._generation = table.generation
        self.raw_values = table.block(first, stop)

    def index(self, column: str) -> int:
        """Where a column of the table is among this cache's series."""
        return self.table.index(column) - self.first

    def update(self) -> None:
        table = self.table
        if table.generation != self._generation:
            self.raw.clear()
            self._smoothing.clear()
            self._generation = table.generation
        self.raw_values = table.block(self.first, self.stop)
        self.raw.update(self.raw_values)

    def smoothed(self, weight: float) -> np.ndarray:
        """(columns, rows): the debiased EMA of each column; new rows are smoothed now."""
        return self._smoothing.values(self.raw_values, weight)


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


class _SmoothedSeries:
    """``debiased_ema`` of several growing columns, extended row by row, not recomputed.

    The EMA is a ratio of two running sums, a numerator (of the values) and a denominator (of
    the weights of the finite values), so new rows continue the recursion from those two
    numbers. A new weight, or more new rows than a Python loop handles quickly, recomputes it
    all with the vectorised ``debiased_ema``. ``envelopes`` follows the smoothed values.
    """

    LOOP_ROWS = 1024

    def __init__(self, envelopes: _PeakEnvelopes):
        self.envelopes = envelopes
        self.clear()

    def clear(self) -> None:
        self._weight = 0.0
        self._buffer = np.empty((0, 0))  # (series, rows), with spare room
        self._n = 0
        self._numerators: list[float] = []
        self._denominators: list[float] = []
        self.envelopes.clear()

    def values(self, columns: np.ndarray, weight: float) -> np.ndarray:
        """(series, rows): the smoothed columns; rows not seen before are smoothed now."""
        n = columns.shape[1]
        if weight != self._weight or n < self._n:
            self.clear()
            self._weight = weight
        if not n:
            return np.empty(columns.shape)
        if n - self._n > self.LOOP_ROWS or (self._n == 0 and n):
            self._recompute(columns)
        elif n > self._n:
            self._extend(columns[:, self._n:])
        smoothed = self._buffer[:, : self._n]
        self.envelopes.update(smoothed)
        return smoothed

    def _recompute(self, columns: np.ndarray) -> None:
        self._buffer = np.empty(columns.shape)
        states = []
        for i, column in enumerate(columns):
            self._buffer[i] = debiased_ema(column, self._weight)
            states.append(_ema_state(column, self._buffer[i], self._weight))
        self._numerators = [numerator for numerator, _ in states]
        self._denominators = [denominator for _, denominator in states]
        self._n = columns.shape[1]
        self.envelopes.clear()

    def _extend(self, new: np.ndarray) -> None:
        w = self._weight
        out = np.empty(new.shape)
        for i, values in enumerate(new):
            numerator, denominator = self._numerators[i], self._denominators[i]
            smoothed = []
            for value in values.tolist():
                if math.isfinite(value):
                    numerator = w * numerator + (1 - w) * value
                    denominator = w * denominator + (1 - w)
                    smoothed.append(numerator / denominator)
                else:
                    numerator *= w
                    denominator *= w
                    smoothed.append(math.nan)
            out[i] = smoothed
            self._numerators[i], self._denominators[i] = numerator, denominator
        self._buffer = _write(self._buffer, self._n, out)
        self._n += out.shape[1]


def _ema_state(values: np.ndarray, smoothed: np.ndarray, w: float) -> tuple[float, float]:
    """The running (numerator, denominator) of ``debiased_ema`` after the last of ``values``.

    The denominator is the EMA of "1 where finite": that of all ones, 1 - wⁿ, less the terms
    of the rows that were not finite. After the last finite row both sums only decay, so their
    ratio stays at the last smoothed value.
    """
    finite = np.isfinite(values)
    last = len(values) - 1
    gaps = np.flatnonzero(~finite)
    denominator = 1 - w ** (last + 1) - (1 - w) * float(np.sum(w ** (last - gaps)))
    finite_rows = np.flatnonzero(finite)
    latest = float(smoothed[finite_rows[-1]]) if len(finite_rows) else 0.0
    return latest * denominator, denominator


class _PeakEnvelopes:
    """The min and max of several growing series over buckets of 2ᵏ rows, for every k ≥ 4.

    Appending rows recomputes only the last bucket of each level, for all series at once, so
    keeping it up to date costs next to nothing; ``window`` then gives a curve of a few
    thousand points for any number of rows, drawn as pyqtgraph's 'peak' downsampling draws it.
    """

    FIRST = 4  # the finest stored level: buckets of 16 rows; finer ones are made when asked

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self._n = 0
        # level i: (series, buckets of 2**(FIRST + i) rows), with spare room
        self._low: list[np.ndarray] = []
        self._high: list[np.ndarray] = []

    def update(self, columns: np.ndarray) -> None:
        """Take in the rows of ``columns`` (series, rows) beyond those already seen (earlier
        rows must be unchanged)."""
        series, n = columns.shape
        if n == self._n:
            return
        start = self._n >> self.FIRST  # the first bucket that changes
        low = high = columns[:, start << self.FIRST: n]
        for _ in range(self.FIRST):
            low, high = _pairs(low, high)
        level = 0
        while True:
            count = -(-n >> (self.FIRST + level))  # buckets at this level
            if level == len(self._low):
                self._low.append(np.empty((series, 0)))
                self._high.append(np.empty((series, 0)))
            self._low[level] = _write(self._low[level], start, low)
            self._high[level] = _write(self._high[level], start, high)
            if count <= 1:
                break
            start >>= 1
            low, high = _pairs(self._low[level][:, 2 * start: count],
                               self._high[level][:, 2 * start: count])
            level += 1
        self._n = n

    def minimum(self, series: int) -> float:
        """The smallest finite value of one series (inf when it has none)."""
        if not self._n:
            return math.inf
        low = float(self._low[-1][series, 0])
        return low if math.isfinite(low) else math.inf

    def window(self, series: int, x: np.ndarray, y: np.ndarray, first: int, last: int,
               buckets: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to draw rows first..last of one series with: the rows themselves when there
        are at most 2 × ``buckets`` of them, else the extremes of at most ``buckets`` buckets."""
        rows = last - first
        if rows <= 2 * buckets:
            return x[first:last], y[first:last]
        k = max(1, math.ceil(math.log2(rows / buckets)))
        k = min(k, self.FIRST + len(self._low) - 1)
        j0, j1 = first >> k, -(-last >> k)
        if k < self.FIRST:
            low = high = y[j0 << k: j1 << k]
            for _ in range(k):
                low, high = _pairs(low, high)
        else:
            low = self._low[k - self.FIRST][series, j0:j1]
            high = self._high[k - self.FIRST][series, j0:j1]
        starts = x[j0 << k: j1 << k: 1 << k]
        xs = np.repeat(starts, 2)
        # Each bucket is a vertical stroke from one extreme to the other. Alternating the order
        # (high-low, low-high, ...) joins neighbours low to low and high to high, which paints
        # half the pixels of joining every low to the next high, for the same picture.
        ys = np.empty(len(xs))
        ys[0::4], ys[1::4] = high[0::2], low[0::2]
        ys[2::4], ys[3::4] = low[1::2], high[1::2]
        return xs, ys


def _pairs(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Along the last axis: the min of each pair of ``low`` and the max of each pair of
    ``high`` (NaN only where both are NaN); an odd last element stands alone."""
    size = low.shape[-1]
    even = size - size % 2
    out_low = np.empty((*low.shape[:-1], (size + 1) // 2))
    out_high = np.empty_like(out_low)
    np.fmin(low[..., 0:even:2], low[..., 1:even:2], out=out_low[..., : even // 2])
    np.fmax(high[..., 0:even:2], high[..., 1:even:2], out=out_high[..., : even // 2])
    if even < size:
        out_low[..., -1], out_high[..., -1] = low[..., -1], high[..., -1]
    return out_low, out_high


def _write(buffer: np.ndarray, at: int, values: np.ndarray) -> np.ndarray:
    """``buffer[..., at:at + n] = values`` (n along the last axis), growing ``buffer`` by
    doubling when it is too short; returns the buffer written to."""
    end = at + values.shape[-1]
    if end > buffer.shape[-1]:
        grown = np.empty((*values.shape[:-1], max(end, 2 * buffer.shape[-1], 64)))
        if at:
            grown[..., :at] = buffer[..., :at]
        buffer = grown
    buffer[..., at:end] = values
    return buffer


def _value_range(y: np.ndarray) -> tuple[float, float] | None:
    """The smallest and largest finite values of ``y`` (None when it has none)."""
    if not len(y):
        return None
    lo, hi = float(np.fmin.reduce(y)), float(np.fmax.reduce(y))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        y = y[np.isfinite(y)]
        if not len(y):
            return None
        lo, hi = float(y.min()), float(y.max())
    return lo, hi


def _finite_bounds(x: np.ndarray) -> tuple[float, float] | None:
    """First and last finite values of a sorted column (its min and max), or None."""
    if not len(x):
        return None
    lo, hi = float(x[0]), float(x[-1])
    if math.isfinite(lo) and math.isfinite(hi):
        return lo, hi
    finite = x[np.isfinite(x)]
    return (float(finite[0]), float(finite[-1])) if len(finite) else None
