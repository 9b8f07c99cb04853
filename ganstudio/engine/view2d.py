"""Where a 2-D picture looks: the square view around a cloud of points, and the mapping from
its coordinates to the pixels of a square image.

Training snapshots (and D's field behind them), the app's 2-D view and the explorer's
pictures of a point generator all frame their data with these, so the same data sits in
the same place everywhere.
"""

from __future__ import annotations

import numpy as np

Extent = tuple[float, float, float, float]  # x0, x1, y0, y1
VIEW_MARGIN = 0.1  # room on every side, as a share of the data's larger span


def view_extent(points: np.ndarray, margin: float = VIEW_MARGIN) -> Extent:
    """A square (x0, x1, y0, y1) centred on ``points`` (N, 2), with ``margin`` of their larger
    span to spare on every side (and never empty, even for a single point)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    lo, hi = points.min(axis=0), points.max(axis=0)
    cx, cy = ((lo + hi) / 2).tolist()
    half = float((hi - lo).max()) * (0.5 + margin) + 1e-3
    return (cx - half, cx + half, cy - half, cy + half)


def to_pixels(points: np.ndarray, extent: Extent, size: int) -> np.ndarray:
    """(N, 2) pixel coordinates of ``points`` in a ``size`` × ``size`` image of ``extent``:
    x to the right, y downwards (the image's row 0 is the top of the view)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, x1, y0, y1 = extent
    return np.stack([(points[:, 0] - x0) / (x1 - x0) * (size - 1),
                     (y1 - points[:, 1]) / (y1 - y0) * (size - 1)], axis=1)
