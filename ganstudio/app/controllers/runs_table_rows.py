"""The rows of the runs table, without Qt: what each run is, and what tells the runs apart.

A run is summarised by its config (flattened to ``section.key``), its status, its step and the
latest value of each evaluation series. :func:`runs_table` then keeps, of the hyper-parameters,
only those that differ between the runs shown: the HParams view of TensorBoard, for GANs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganstudio.engine.plotdata import X_COLUMNS, RunData

# Always shown, first: what a run is.
IDENTITY = (("name", "Run"), ("dataset", "Dataset"), ("model", "Model"), ("loss", "Loss"))
# Config keys the identity columns already show, or that never tell runs apart in a useful way.
NOT_HYPER = ("data.name", "model.family", "loss.name", "train.device", "format_version",
             "data.path", "data.source")


@dataclass
class RunSummary:
    """One run as the table shows it."""

    id: str
    name: str
    config: dict[str, Any]  # the run's config.json, as a dict
    status: str
    steps: int
    metrics: dict[str, float] = field(default_factory=dict)  # series: latest value


@dataclass(frozen=True)
class RunsTable:
    """Columns (key, heading) and one row per run: its id and a value per column key."""

    columns: list[tuple[str, str]]
    rows: list[tuple[str, dict[str, Any]]]


def latest_metrics(history: RunData) -> dict[str, float]:
    """The latest finite value of each evaluation series (``NAME/VALUE``) of a run."""
    out: dict[str, float] = {}
    for name, table in history.evaluations.items():
        for column in table.columns[len(X_COLUMNS):]:
            values = table.column(column)
            finite = values[np.isfinite(values)]
            if len(finite):
                out[f"{name}/{column}"] = float(finite[-1])
    return out


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr_g": 2e-4}}`` → ``{"optim.lr_g": 2e-4}``; lists become tuples."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = tuple(value) if isinstance(value, list) else value
    return out


def runs_table(runs: Sequence[RunSummary]) -> RunsTable:
    """The table of ``runs``: identity, the hyper-parameters whose values differ between them
    (all of them for a single run would be noise: none then), status, steps, then the latest
    value of every metric any of them has."""
    flat = [flatten(run.config) for run in runs]
    keys: list[str] = []
    for config in flat:
        keys += [key for key in config if key not in keys and key not in NOT_HYPER]
    differing = [key for key in keys
                 if len({_hashable(config.get(key)) for config in flat}) > 1]
    metrics: list[str] = []
    for run in runs:
        metrics += [name for name in run.metrics if name not in metrics]
    columns = [*IDENTITY, *((key, key) for key in differing), ("status", "Status"),
               ("steps", "Steps"), *((name, name) for name in metrics)]
    rows = []
    for run, config in zip(runs, flat):
        values = {"name": run.name, "dataset": config.get("data.name"),
                  "model": config.get("model.family"), "loss": config.get("loss.name"),
                  "status": run.status, "steps": run.steps}
        values.update({key: config.get(key) for key in differing})
        values.update({name: run.metrics.get(name) for name in metrics})
        rows.append((run.id, values))
    return RunsTable(columns, rows)


def _hashable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value

