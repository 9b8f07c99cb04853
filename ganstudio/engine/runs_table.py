"""Runs side by side: one row per run folder, with the settings that differ between the runs
and the latest value of every metric; what ``ganstudio runs compare`` prints and the app's
runs table shows."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganstudio.engine.errors import RunFolderError
from ganstudio.engine.runs import LOCK, RunFolder

# The columns every table has, in order; then the differing settings, then the metrics.
FIXED_COLUMNS = ("name", "dataset", "model", "loss", "status", "steps")
# Settings shown in their own columns (or that say nothing about the training).
_NOT_SETTINGS = {"format_version", "data.name", "model.family", "loss.name", "train.device"}
# A run's status as the table says it: being written by a process (live), ended as planned
# (finished), stopped by its user, or ended without closing its folder, or failing (crashed).
STATUSES = ("live", "finished", "stopped", "crashed", "unknown")


@dataclass
class RunsTable:
    columns: list[str]  # FIXED_COLUMNS, then "parent" for forks, settings, then metrics
    rows: list[dict[str, Any]]  # one per run, keyed by column (a missing value: absent)
    settings: list[str] = field(default_factory=list)  # the dotted settings that differ
    metrics: list[str] = field(default_factory=list)  # NAME/VALUE of evaluations, diagnostics


def is_being_written(run_dir: str | Path) -> bool:
    """Whether a process holds the run folder's writer lock now (read-only: the lock file is
    opened for reading, and a shared lock tried and dropped)."""
    path = Path(run_dir) / LOCK
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        if os.name == "nt":  # no shared lock to try there: the status says whether it runs
            return RunFolder(run_dir).status() == "running"
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _dataset(run: RunFolder) -> str:
    """The data the run trained on, as its run.json named it when the folder was opened (a
    run given its own data source, as the benchmarks do, keeps a config whose data.name is
    only the default's), else as its config does."""
    return run.dataset_name or run.config.data.name


def run_status(run: RunFolder) -> str:
    """live, finished, stopped, crashed or unknown (see :data:`STATUSES`)."""
    if is_being_written(run.path):
        return "live"
    status = run.status()
    if status in ("finished", "stopped"):
        return status
    if status in ("running", "interrupted", "failed"):  # running with no writer: it died
        return "crashed"
    return "unknown"


def _flat(config_dict: dict) -> dict[str, Any]:
    out = {}
    for section, values in config_dict.items():
        if isinstance(values, dict):
            out.update({f"{section}.{k}": v for k, v in values.items()})
        else:
            out[section] = values
    return out


def _latest(records: list[dict]) -> tuple[int, dict[str, float]]:
    """The last step trained, and the latest value of each NAME/VALUE."""
    steps, latest = 0, {}
    for record in records:
        kind = record.get("type")
        if kind == "step":
            steps = max(steps, int(record["step"]))
        elif kind in ("eval", "diag"):
            name = record.get("name", "modes")
            for key, value in record.items():
                if key not in ("type", "step", "name") and isinstance(value, (int, float)) \
                        and not isinstance(value, bool) and math.isfinite(value):
                    latest[f"{name}/{key}"] = float(value)
    return steps, latest


def runs_table(paths: list[str | Path]) -> RunsTable:
    """The table of the run folders at ``paths`` (RunFolderError names one that is not)."""
    runs = [RunFolder(p) for p in paths]
    return table_of([(run, *_latest(run.metrics())) for run in runs])


def table_of(runs: list[tuple[RunFolder, int, dict[str, float]]]) -> RunsTable:
    """The table of runs whose last step and latest metric values are known already: (run,
    steps, {NAME/VALUE: latest}) each. The app follows its runs' records as they arrive, so
    it need not read their metrics.jsonl again for each new row."""
    flats = [_flat(run.config.to_dict()) for run, _, _ in runs]
    keys = sorted({k for flat in flats for k in flat} - _NOT_SETTINGS)
    settings = [k for k in keys if len({repr(flat.get(k)) for flat in flats}) > 1]
    rows, metrics = [], []
    forks = False
    for (run, steps, latest), flat in zip(runs, flats):
        row: dict[str, Any] = {
            "name": run.name, "dataset": _dataset(run),
            "model": run.config.model.family + (" conditional" if run.config.model.conditional
                                                 else ""),
            "loss": run.config.loss.name, "status": run_status(run), "steps": steps,
        }
        with contextlib.suppress(RunFolderError):  # a damaged run.json: no parent shown
            parent = run.parent()
            if parent is not None:
                row["parent"] = f"{parent[0].name}@{parent[1]}"
                forks = True
        row.update({k: flat.get(k) for k in settings})
        row.update(latest)
        metrics += [m for m in latest if m not in metrics]
        rows.append(row)
    metrics.sort()
    columns = [*FIXED_COLUMNS, *(["parent"] if forks else []), *settings, *metrics]
    return RunsTable(columns, rows, settings, metrics)


def format_table(table: RunsTable) -> str:
    """The table as aligned text, one run a line ('-' for a value a run does not have)."""
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    cells = [table.columns] + [[cell(row.get(c)) for c in table.columns] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells)
