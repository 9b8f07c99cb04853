"""Widget tests for the sample views: the image canvas, the sample grid and the 2-D points view."""

from __future__ import annotations

import numpy as np
import pytest
from app_support import shown
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt

from ganstudio.app.views.image_canvas import ImageCanvas
from ganstudio.app.views.points_view import PointsView, field_rect
from ganstudio.app.views.sample_grid import DECODED_GRIDS, SampleGridView
from ganstudio.app.views.snapshot_scrubber import SnapshotScrubber
from ganstudio.engine.images import grid_cell, make_grid


def _point(p: QPointF) -> QPoint:
    return QPoint(int(p.x()), int(p.y()))


def _solid_cells(n: int, size: int = 12, seed: int = 0) -> np.ndarray:
    """n RGB samples, each one flat colour, so any pixel of a cell identifies it."""
    colours = np.random.default_rng(seed).integers(40, 255, (n, 1, 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.broadcast_to(colours, (n, size, size, 3)))


@pytest.fixture
def canvas(qtbot):
    return shown(qtbot, ImageCanvas(), 400, 400)


# --- ImageCanvas --------------------------------------------------------------------------


def test_clicking_a_cell_emits_its_index(canvas, qtbot):
    canvas.set_image(make_grid(_solid_cells(10), nrow=4), nrow=4, n=10, pad=2)
    for index in (0, 3, 5, 9):
        with qtbot.waitSignal(canvas.cell_clicked) as blocker:
            qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton,
                             pos=_point(canvas.cell_rect(index).center()))
        assert blocker.args == [index]


def test_clicking_padding_or_an_empty_cell_emits_nothing(canvas, qtbot):
    canvas.set_image(make_grid(_solid_cells(10), nrow=4), nrow=4, n=10, pad=2)
    image = canvas.image_rect()
    step = canvas.cell_rect(1).left() - canvas.cell_rect(0).left()
    padding = _point(image.topLeft() + QPointF(1, 1))
    missing = _point(canvas.cell_rect(9).center() + QPointF(step, 0))  # where cell 10 would be
    outside = QPoint(2, 2)
    assert canvas.cell_rect(10).isEmpty()
    with qtbot.assertNotEmitted(canvas.cell_clicked):
        for pos in (padding, missing, outside):
            qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=pos)


def test_cell_at_agrees_with_the_engine_grid_maths(canvas):
    grid = make_grid(_solid_cells(7, size=9), nrow=3)
    canvas.set_image(grid, nrow=3, n=7, pad=2)
    image, scale = canvas.image_rect(), canvas.image_rect().width() / grid.shape[1]
    for y in range(0, grid.shape[0], 2):
        for x in range(0, grid.shape[1], 2):
            pos = QPointF(image.x() + (x + 0.5) * scale, image.y() + (y + 0.5) * scale)
            assert canvas.cell_at(pos) == grid_cell(grid.shape, (y, x), 3, 7, 2)


def test_the_canvas_draws_each_cell_where_it_says(canvas):
    cells = _solid_cells(6)
    canvas.set_image(make_grid(cells, nrow=3), nrow=3, n=6, pad=2)
    shot = canvas.grab().toImage()
    for index in range(6):
        colour = shot.pixelColor(_point(canvas.cell_rect(index).center()))
        assert (colour.red(), colour.green(), colour.blue()) == tuple(cells[index, 0, 0])
    assert np.array_equal(canvas.cell_image(4), cells[4])


def test_hovering_reports_the_cell_and_minus_one_off_the_cells(canvas, qtbot):
    canvas.set_image(make_grid(_solid_cells(4), nrow=2), nrow=2, n=4, pad=2)
    with qtbot.waitSignal(canvas.cell_hovered) as blocker:
        qtbot.mouseMove(canvas, _point(canvas.cell_rect(3).center()))
    assert blocker.args == [3]
    with qtbot.waitSignal(canvas.cell_hovered) as blocker:
        qtbot.mouseMove(canvas, QPoint(1, 1))
    assert blocker.args == [-1]


def test_a_message_is_drawn_over_the_image_and_cleared(canvas):
    canvas.set_image(make_grid(_solid_cells(4), nrow=2), nrow=2, n=4, pad=2)
    plain = canvas.grab().toImage()
    canvas.set_message("The generator failed: shapes don't match")
    assert canvas.message() == "The generator failed: shapes don't match"
    assert canvas.grab().toImage() != plain
    canvas.set_message(None)
    assert canvas.message() is None
    assert canvas.grab().toImage() == plain


def test_selection_is_outlined_and_dropped_when_out_of_range(canvas):
    canvas.set_image(make_grid(_solid_cells(4), nrow=2), nrow=2, n=4, pad=2)
    plain = canvas.grab().toImage()
    canvas.set_selected(2)
    assert canvas.selected() == 2
    assert canvas.grab().toImage() != plain
    canvas.set_image(make_grid(_solid_cells(2), nrow=2), nrow=2, n=2, pad=2)
    assert canvas.selected() is None


def test_row_labels_reserve_room_at_the_left(canvas):
    grid = make_grid(_solid_cells(6), nrow=3)
    canvas.set_image(grid, nrow=3, n=6, pad=2)
    without = canvas.image_rect()
    canvas.set_image(grid, nrow=3, n=6, pad=2, row_labels=["triangle", "hexagon"])
    with_labels = canvas.image_rect()
    width = canvas.fontMetrics().horizontalAdvance("triangle")
    assert with_labels.left() > without.left()
    assert with_labels.left() >= width
    assert with_labels.right() <= canvas.width()


def test_the_canvas_keeps_its_pixels_alive(canvas):
    canvas.set_image(np.full((5, 7, 1), 200, np.uint8))
    shot = canvas.grab().toImage()
    assert shot.pixelColor(_point(canvas.image_rect().center())).red() == 200
    assert canvas.image().shape == (5, 7, 1)
    with pytest.raises(ValueError, match="uint8"):
        canvas.set_image(np.zeros((5, 7, 3), np.float32))


# --- SnapshotScrubber ---------------------------------------------------------------------


class _Step:
    def __init__(self, step):
        self.step = step


def test_a_resumed_run_replaces_the_snapshots_it_superseded(qtbot):
    scrubber = SnapshotScrubber()
    qtbot.addWidget(scrubber)
    for step in (100, 200, 300):
        scrubber.add(_Step(step))
    scrubber.add(_Step(200))
    assert [scrubber.snapshot(i).step for i in range(scrubber.count())] == [100, 200]
    assert scrubber.current().step == 200
    assert scrubber.label.text() == "step 200 (2/2)"


# --- SampleGridView -----------------------------------------------------------------------

STEPS = [100 * (i + 1) for i in range(12)]


def _grids(count: int) -> list[np.ndarray]:
    """Distinct grey grids of 8 digits-sized samples, 4 a row, as make_grid draws them."""
    rng = np.random.default_rng(1)
    return [make_grid(rng.integers(0, 256, (8, 28, 28, 1), dtype=np.uint8), nrow=4)
            for _ in range(count)]


def _save(path, grid: np.ndarray):
    Image.fromarray(grid[:, :, 0]).save(path)
    return path


@pytest.fixture
def grid_view(qtbot):
    return shown(qtbot, SampleGridView())


def _fill(view: SampleGridView, grids, tmp_path, **kwargs):
    """Every third snapshot comes only as a PNG, as when watching another process's run."""
    for i, (step, grid) in enumerate(zip(STEPS, grids)):
        if i % 3 == 1:
            view.add_snapshot(step, path=_save(tmp_path / f"step_{step:07d}.png", grid),
                              nrow=4, **kwargs)
        else:
            view.add_snapshot(step, grid=grid, nrow=4, **kwargs)


def test_the_grid_follows_the_newest_snapshot_until_scrubbed_back(grid_view, qtbot, tmp_path):
    grids = _grids(14)
    _fill(grid_view, grids, tmp_path)
    assert grid_view.count() == 12
    assert grid_view.following_latest()
    assert grid_view.current_step() == STEPS[-1]
    assert np.array_equal(grid_view.canvas.image(), grids[11])

    grid_view.scrubber.slider.setValue(3)
    assert grid_view.current_step() == STEPS[3]
    assert np.array_equal(grid_view.canvas.image(), grids[3])
    assert not grid_view.following_latest()
    assert grid_view.scrubber.label.text() == "step 400 (4/12)"

    grid_view.add_snapshot(1300, grid=grids[12], nrow=4)
    assert grid_view.count() == 13
    assert grid_view.current_step() == STEPS[3]

    qtbot.mouseClick(grid_view.scrubber.latest, Qt.MouseButton.LeftButton)
    assert grid_view.following_latest()
    assert grid_view.current_step() == 1300
    assert np.array_equal(grid_view.canvas.image(), grids[12])

    grid_view.scrubber.slider.setValue(0)
    grid_view.scrubber.slider.setValue(grid_view.count() - 1)
    assert grid_view.following_latest()
    grid_view.add_snapshot(1400, grid=grids[13], nrow=4)
    assert grid_view.current_step() == 1400


def test_only_the_recent_grids_stay_decoded_and_older_ones_read_back(grid_view, tmp_path):
    grids = _grids(12)
    _fill(grid_view, grids, tmp_path)
    assert len(grid_view.decoded_steps()) <= DECODED_GRIDS
    for index in range(12):  # the evicted in-memory ones and the PNG-only ones alike
        grid_view.scrubber.show_index(index)
        assert np.array_equal(grid_view.canvas.image(), grids[index]), index
        assert len(grid_view.decoded_steps()) <= DECODED_GRIDS
        assert grid_view.canvas.message() is None


def test_an_unreadable_png_is_a_message_not_an_exception(grid_view, tmp_path):
    broken = tmp_path / "step_0000100.png"
    broken.write_bytes(b"not a png at all")
    grid_view.add_snapshot(100, path=broken, nrow=4)
    assert grid_view.canvas.image() is None
    assert "Couldn't read the samples of step 100" in grid_view.canvas.message()
    assert str(broken) in grid_view.canvas.message()

    grid_view.add_snapshot(200, path=tmp_path / "missing.png", nrow=4)
    assert "missing.png does not exist" in grid_view.canvas.message()

    grid_view.add_snapshot(300, grid=_grids(1)[0], nrow=4)
    assert grid_view.canvas.message() is None


def test_the_placeholder_shows_when_empty(grid_view):
    assert grid_view.canvas.message().startswith("Samples from the fixed noise")
    grid_view.add_snapshot(100, grid=_grids(1)[0], nrow=4)
    assert grid_view.canvas.message() is None
    grid_view.clear()
    assert grid_view.count() == 0
    assert grid_view.current_step() is None
    assert grid_view.canvas.image() is None
    assert grid_view.canvas.message().startswith("Samples from the fixed noise")


def test_n_defaults_to_a_full_grid_of_square_samples(grid_view):
    grid_view.add_snapshot(100, grid=_grids(1)[0], nrow=4)
    assert not grid_view.canvas.cell_rect(7).isEmpty()
    assert grid_view.canvas.cell_rect(8).isEmpty()


def test_clicking_a_sample_shows_it_large_and_it_sharpens_in_place(grid_view, qtbot, tmp_path):
    grids = _grids(3)
    labels = ["circle", "square"]
    grid_view.add_snapshot(100, grid=grids[0], nrow=4, row_labels=labels)
    with qtbot.waitSignal(grid_view.sample_selected) as blocker:
        qtbot.mouseClick(grid_view.canvas, Qt.MouseButton.LeftButton,
                         pos=_point(grid_view.canvas.cell_rect(6).center()))
    assert blocker.args == [6]
    detail = grid_view.detail
    assert detail.isVisible()
    cell = grids[0][2 + 1 * 30 : 2 + 1 * 30 + 28, 2 + 2 * 30 : 2 + 2 * 30 + 28]
    assert np.array_equal(detail.canvas.image(), cell)
    assert detail.title.text() == "Sample 6"
    assert detail.label.text() == "class square"
    assert detail.step.text() == "step 100"

    grid_view.add_snapshot(200, path=_save(tmp_path / "step_0000200.png", grids[1]), nrow=4,
                           row_labels=labels)
    assert grid_view.selected_sample() == 6
    assert grid_view.canvas.selected() == 6
    assert np.array_equal(detail.canvas.image(), grids[1][32:60, 62:90])
    assert detail.step.text() == "step 200"

    with qtbot.waitSignal(grid_view.sample_selected) as blocker:
        qtbot.mouseClick(grid_view.canvas, Qt.MouseButton.LeftButton,
                         pos=_point(grid_view.canvas.cell_rect(6).center()))
    assert blocker.args == [-1]
    assert not detail.isVisible()

    grid_view.select_sample(1)
    assert detail.isVisible()
    qtbot.keyClick(grid_view.canvas, Qt.Key.Key_Escape)
    assert not detail.isVisible()
    assert grid_view.canvas.selected() is None


# --- PointsView ---------------------------------------------------------------------------

EXTENT = (-3.0, 3.0, -2.0, 4.0)


def _field(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((64, 64), dtype=np.float32)


def _points(seed: int, n: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, 2)).astype(np.float32)


@pytest.fixture
def points_view(qtbot):
    return shown(qtbot, PointsView())


def _scatter(item) -> np.ndarray:
    x, y = item.getData()
    return np.stack([x, y], axis=1)


def test_points_and_the_field_are_drawn_where_they_belong(points_view):
    real, fake, field = _points(0, 2000), _points(1), _field()
    points_view.set_real_points(real)
    points_view.add_snapshot(500, fake, field=field, extent=EXTENT)
    assert np.allclose(_scatter(points_view.real_item), real)
    assert np.allclose(_scatter(points_view.fake_item), fake)

    item = points_view.field_item
    assert item.isVisible()
    assert np.array_equal(item.image, field[::-1])
    rect = item.mapRectToParent(item.boundingRect())
    assert rect == field_rect(EXTENT, field.shape)
    # the field's row 0 is the top of the plane: its first sample sits on (x0, y1)
    x0, x1, y0, y1 = EXTENT
    for (x, y), value in (((x0, y1), field[0, 0]), ((x1, y0), field[-1, -1]),
                          ((x1, y1), field[0, -1])):
        pixel = item.mapFromParent(QPointF(x, y))
        assert item.image[int(pixel.y()), int(pixel.x())] == value
    assert "step 500" in points_view.subtitle.text()


def test_the_view_range_holds_still_as_points_move(points_view):
    points_view.set_real_points(_points(0, 2000))
    points_view.add_snapshot(100, _points(1), field=_field(), extent=EXTENT)
    before = points_view.view_box.viewRange()
    points_view.add_snapshot(200, _points(2) * 5, field=_field(1), extent=EXTENT)
    assert points_view.view_box.viewRange() == before


def test_metrics_read_as_dashes_then_values(points_view):
    values = points_view.metric_values
    assert [values[k].text() for k in ("modes", "high_quality", "reverse_kl")] == ["—"] * 3
    points_view.set_metrics({"modes": 8, "n_modes": 8, "high_quality": 93.42,
                             "reverse_kl": 0.0412}, step=2000)
    assert values["modes"].text() == "8/8"
    assert values["high_quality"].text() == "93.4%"
    assert values["reverse_kl"].text() == "0.04"
    assert "2,000" in points_view.eval_caption.text()
    points_view.set_metrics(None)
    assert values["modes"].text() == "—"


def test_show_d_toggles_the_field(points_view, qtbot):
    points_view.add_snapshot(100, _points(1), field=_field(), extent=EXTENT)
    assert points_view.field_item.isVisible()
    box = points_view.show_d
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert not box.isChecked()
    assert not points_view.field_item.isVisible()
    points_view.show_field(True)
    assert points_view.field_item.isVisible()
    points_view.add_snapshot(200, _points(2), extent=EXTENT)  # a class-aware D has no field
    assert not points_view.field_item.isVisible()
    assert not points_view.show_d.isVisible()


def test_conditional_points_are_coloured_by_class(points_view):
    points = _points(1, 6)
    points_view.add_snapshot(100, points, labels=np.array([0, 0, 1, 1, 2, 2]), extent=EXTENT)
    colours = [brush.color().name() for brush in points_view.fake_item.data["brush"]]
    assert colours[0] == colours[1] != colours[2] == colours[3] != colours[4]
    assert np.allclose(_scatter(points_view.fake_item), points)


def test_points_snapshots_scrub_back_from_npz_files(points_view, tmp_path):
    steps = [100, 200, 300, 400, 500]
    for i, step in enumerate(steps):
        arrays = {"points": _points(i), "field": _field(i),
                  "extent": np.asarray(EXTENT, np.float64)}
        if i == 2:
            arrays["labels"] = np.arange(256) % 8
        np.savez(tmp_path / f"step_{step:07d}.npz", **arrays)
        # a run folder's SamplesEvent names the PNG; the .npz beside it holds the points
        points_view.add_snapshot(step, path=tmp_path / f"step_{step:07d}.png")
    assert points_view.following_latest()
    assert points_view.current_step() == 500
    assert np.allclose(_scatter(points_view.fake_item), _points(4))

    points_view.show_step(300)
    assert not points_view.following_latest()
    assert np.allclose(_scatter(points_view.fake_item), _points(2))
    assert np.array_equal(points_view.field_item.image, _field(2)[::-1])

    points_view.add_snapshot(600, _points(5), field=_field(5), extent=EXTENT)
    assert points_view.current_step() == 300
    points_view.set_following_latest(True)
    assert points_view.current_step() == 600
    assert np.allclose(_scatter(points_view.fake_item), _points(5))

    (tmp_path / "step_0000700.npz").write_bytes(b"broken")
    points_view.add_snapshot(700, path=tmp_path / "step_0000700.npz")
    assert points_view.error.isVisible()
    assert "step_0000700.npz" in points_view.error.text()
    assert len(points_view.fake_item.getData()[0]) == 0
    points_view.show_step(600)
    assert not points_view.error.isVisible()


def test_clearing_the_points_view_forgets_everything(points_view):
    points_view.set_real_points(_points(0))
    points_view.add_snapshot(100, _points(1), field=_field(), extent=EXTENT)
    points_view.set_metrics({"modes": 3, "n_modes": 8, "high_quality": 50.0,
                             "reverse_kl": 1.0})
    points_view.clear()
    assert points_view.count() == 0
    assert len(points_view.real_item.getData()[0]) == 0
    assert len(points_view.fake_item.getData()[0]) == 0
    assert not points_view.field_item.isVisible()
    assert points_view.metric_values["modes"].text() == "—"
