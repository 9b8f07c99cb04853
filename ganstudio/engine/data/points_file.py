"""The user's own 2-D points, read from a .csv or .npy file of shape (N, 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganstudio.engine.errors import DatasetError
from ganstudio.engine.readers import check_regular, read_bytes, read_npy

MIN_POINTS = 16
MAX_POINTS = 50_000_000
MAX_CSV_BYTES = 2 * 2**30


def load_points_file(path: str | Path) -> torch.Tensor:
    """Read an (N, 2) array of finite numbers; raise a DatasetError that says what is wrong."""
    path = Path(path)
    check_regular(path, DatasetError)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = _read_npy(path)
    elif suffix in (".csv", ".txt"):
        array = _read_csv(path)
    else:
        raise DatasetError(
            f"Points file {path.name} has the extension {path.suffix or '(none)'!r}; "
            "use a .csv file with two numeric columns or a .npy array of shape (N, 2)."
        )
    if array.ndim != 2 or array.shape[1] != 2:
        raise DatasetError(
            f"Points file {path.name} holds an array of shape {tuple(array.shape)}; "
            "it must have shape (N, 2): one row per point, columns x and y."
        )
    if array.shape[0] < MIN_POINTS:
        raise DatasetError(
            f"Points file {path.name} has {array.shape[0]} points; at least {MIN_POINTS} are "
            "needed to train on."
        )
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise DatasetError(
            f"Points file {path.name} has a NaN or infinite value in row {row + 1}; "
            "remove or fix that row."
        )
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _read_npy(path: Path) -> np.ndarray:
    return read_npy(path, DatasetError, 2 * MAX_POINTS).astype(np.float64)


def _read_csv(path: Path) -> np.ndarray:
    try:
        lines = read_bytes(path, DatasetError, MAX_CSV_BYTES).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise DatasetError(f"Points file {path.name} is not a text CSV file.") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        cells = [c for c in text.replace(";", ",").replace("\t", ",").split(",")]
        if len(cells) == 1:
            cells = text.split()
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            if not rows and number == _first_content_line(lines):
                continue  # a header row such as "x,y"
            raise DatasetError(
                f"Points file {path.name}, line {number}: {text[:60]!r} is not two numbers."
            ) from None
        if len(rows[-1]) != 2:
            raise DatasetError(
                f"Points file {path.name}, line {number} has {len(rows[-1])} columns; "
                "each row must have exactly two numbers, x and y."
            )
    if not rows:
        raise DatasetError(f"Points file {path.name} has no points in it.")
    return np.asarray(rows, dtype=np.float64)


def _first_content_line(lines: list[str]) -> int:
    for number, line in enumerate(lines, start=1):
        if line.strip() and not line.strip().startswith("#"):
            return number
    return 0
