"""The one framing of 2-D data: the square view around the points and its pixel mapping."""

from __future__ import annotations

import numpy as np
import pytest

from ganstudio.engine.view2d import VIEW_MARGIN, to_pixels, view_extent


def test_the_view_is_a_square_around_the_points_with_room_on_every_side():
    points = np.array([[-1.0, 0.0], [3.0, 1.0], [0.0, 2.0]])
    x0, x1, y0, y1 = view_extent(points)
    assert x1 - x0 == pytest.approx(y1 - y0)  # square, though the data is wider than tall
    assert (x0 + x1) / 2 == pytest.approx(1.0) and (y0 + y1) / 2 == pytest.approx(1.0)
    assert (x1 - x0) / 2 == pytest.approx(4.0 * (0.5 + VIEW_MARGIN) + 1e-3)
    assert x0 < -1 and x1 > 3 and y0 < 0 and y1 > 2


def test_a_single_point_still_gets_a_view():
    x0, x1, y0, y1 = view_extent(np.array([[2.0, -1.0]]))
    assert x0 < 2 < x1 and y0 < -1 < y1


def test_pixels_put_the_corners_of_the_view_on_the_corners_of_the_image():
    extent = (-2.0, 2.0, 10.0, 14.0)
    corners = np.array([[-2.0, 14.0], [2.0, 14.0], [-2.0, 10.0], [0.0, 12.0]])
    np.testing.assert_allclose(to_pixels(corners, extent, 101),
                               [[0, 0], [100, 0], [0, 100], [50, 50]])


def test_training_snapshots_are_framed_by_the_view_of_their_data(tiny_config):
    from ganstudio.engine.trainer import Trainer

    trainer = Trainer(tiny_config(steps=1))
    trainer._setup()
    assert trainer.view_extent == view_extent(trainer.data.x.numpy())
