"""The live loss plot: what it draws of a run's plot data, and how its controls change that."""

from __future__ import annotations

import math

import numpy as np
import pytest
from app_support import shown
from PySide6.QtCore import QPointF

from ganstudio.app.views import loss_plot
from ganstudio.app.views.loss_plot import METRICS, LossPlot
from ganstudio.engine import plotdata
from ganstudio.engine.plotdata import PlotData, RunData, debiased_ema


def rows(start: int, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Steps start+1..start+n of a noisy GAN-like run (some losses go negative)."""
    rng = np.random.default_rng(seed + start)
    step = np.arange(start + 1, start + n + 1, dtype=np.float64)
    return {
        "step": step,
        "elapsed": step * 0.5,
        "loss_g": 0.7 + 0.3 * np.sin(step / 50) + rng.normal(0, 0.2, n),
        "loss_d": 1.3 - step / (step + 500) + rng.normal(0, 0.1, n),
        "d_real": 0.6 + rng.normal(0, 0.05, n),
        "d_fake": 0.4 + rng.normal(0, 0.05, n),
        "grad_g": 2.0 + rng.gamma(2.0, 0.3, n),
        "grad_d": 3.0 + rng.gamma(2.0, 0.5, n),
    }


def history_of(n: int, seed: int = 0) -> RunData:
    history = RunData()
    if n:
        history.append_columns(rows(0, n, seed))
    return history


def show(view: LossPlot, history: RunData) -> None:
    data = PlotData()
    data.add("run", history)
    view.set_data(data, "run")


@pytest.fixture
def plot(qtbot):
    return shown(qtbot, LossPlot(), 900, 600)


def drawn(view: LossPlot, name: str) -> tuple[np.ndarray, np.ndarray]:
    """What the main curve of a series was last fed (before any log scale)."""
    return view._curves[name].values


def x_range(view: LossPlot) -> list[float]:
    return view._plots[-1].vb.viewRange()[0]


def test_an_empty_history_draws_nothing(plot):
    show(plot, RunData())
    assert plot.refresh() is False  # drawn by set_history already; nothing changed since
    for name in METRICS:
        x, y = plot.series_data(name)
        assert len(x) == len(y) == 0
        assert len(drawn(plot, name)[0]) == 0
    assert plot.readout_text() == ""


def test_data_appears_after_refresh(plot):
    history = RunData()
    show(plot, history)
    history.append_columns(rows(0, 300))
    assert plot.refresh() is True
    for name in METRICS:
        x, y = plot.series_data(name)
        np.testing.assert_array_equal(x, history.column("step"))
        np.testing.assert_array_equal(y, history.column(name))
        np.testing.assert_array_equal(drawn(plot, name)[1], history.column(name))
    assert not plot._raw_curves["loss_g"].isVisible()  # no faint copy without smoothing


def test_refresh_is_a_no_op_when_nothing_changed(plot):
    history = history_of(200)
    show(plot, history)
    calls = []
    for curve in (*plot._curves.values(), *plot._raw_curves.values()):
        original = curve.setData
        curve.setData = lambda *a, _original=original, **k: (calls.append(1), _original(*a, **k))
    assert plot.refresh() is False
    assert plot.refresh() is False
    assert calls == []
    history.append_columns(rows(200, 5))
    assert plot.refresh() is True
    assert len(calls) == len(METRICS)


def test_smoothing_draws_the_debiased_ema_over_the_faint_raw_series(plot, qtbot):
    history = history_of(400)
    show(plot, history)
    with qtbot.waitSignal(plot.settings_changed):
        plot.set_smoothing(0.6)
    assert plot.smoothing() == 0.6
    for name in METRICS:
        y = plot.series_data(name)[1]
        np.testing.assert_allclose(y, debiased_ema(history.column(name), 0.6), rtol=1e-12)
        np.testing.assert_allclose(drawn(plot, name)[1], y, rtol=1e-12)
        assert plot._raw_curves[name].isVisible()
        np.testing.assert_array_equal(plot._raw_curves[name].values[1],
                                      history.column(name))
    plot.set_smoothing(0)
    np.testing.assert_array_equal(plot.series_data("loss_d")[1], history.column("loss_d"))
    assert not plot._raw_curves["loss_d"].isVisible()


def test_smoothing_extends_incrementally_and_matches_a_full_recomputation(plot, monkeypatch):
    history = history_of(1000)
    show(plot, history)
    plot.set_smoothing(0.9)
    full_passes = []
    monkeypatch.setattr(plotdata, "debiased_ema",
                        lambda *args: full_passes.append(1) or debiased_ema(*args))
    start = 1000
    for batch in (1, 7, 20, 3):
        block = rows(start, batch, seed=3)
        if batch == 7:
            block["loss_g"][2:5] = np.nan  # a diverged step, then recovery
            block["grad_d"][-1] = np.inf
        history.append_columns(block)
        start += batch
        assert plot.refresh()
    assert full_passes == []  # every batch continued the running average
    for name in METRICS:
        expected = debiased_ema(history.column(name), 0.9)
        np.testing.assert_allclose(plot.series_data(name)[1], expected, rtol=1e-9,
                                   equal_nan=True)


def test_smoothing_continues_correctly_after_a_nan_tail(plot):
    history = history_of(50)
    tail = rows(50, 10)
    tail["d_fake"][:] = np.nan
    history.append_columns(tail)
    show(plot, history)
    plot.set_smoothing(0.8)  # the full pass ends on NaN rows
    history.append_columns(rows(60, 5))
    plot.refresh()
    np.testing.assert_allclose(plot.series_data("d_fake")[1],
                               debiased_ema(history.column("d_fake"), 0.8), rtol=1e-9,
                               equal_nan=True)


def test_smoothing_is_recomputed_when_rows_are_rewritten(plot):
    history = history_of(600)
    show(plot, history)
    plot.set_smoothing(0.7)
    history.truncate_after(400)
    history.append_columns(rows(400, 250, seed=9))  # a resumed run writes steps 401.. again
    plot.refresh()
    for name in METRICS:
        np.testing.assert_allclose(plot.series_data(name)[1],
                                   debiased_ema(history.column(name), 0.7), rtol=1e-9)


def test_the_slider_applies_smoothing(plot, qtbot):
    show(plot, history_of(100))
    with qtbot.waitSignal(plot.settings_changed):
        plot._smoothing_slider.setValue(0.45)
    assert plot.smoothing() == pytest.approx(0.45)
    np.testing.assert_allclose(plot.series_data("loss_g")[1],
                               debiased_ema(plot._data.run("run").column("loss_g"),
                                            plot.smoothing()))


def test_log_scale_toggles_the_view_boxes_log_mode(plot, qtbot):
    history = history_of(300)
    history.column("loss_g")[10] = -0.5  # some GAN losses go negative
    show(plot, history)
    with qtbot.waitSignal(plot.settings_changed):
        plot.set_log_scale(True)
    assert plot.log_scale() and plot._log_check.isChecked()
    assert all(p.vb.state["logMode"][1] for p in plot._plots)
    assert plot._log_note.isVisibleTo(plot)
    assert "G loss" in plot._log_note.toolTip()
    for p in plot._plots:  # the y range is in log10 units and finite
        low, high = p.vb.viewRange()[1]
        assert math.isfinite(low) and math.isfinite(high)
    low, high = plot._plots[1].vb.viewRange()[1]
    assert low < math.log10(0.4) < high
    plot.set_log_scale(False)
    assert not any(p.vb.state["logMode"][1] for p in plot._plots)
    assert not plot._log_note.isVisibleTo(plot)


def test_x_axis_switches_to_wall_time(plot, qtbot):
    history = history_of(200)
    show(plot, history)
    with qtbot.waitSignal(plot.settings_changed):
        plot.set_x_axis("time")
    assert plot.x_axis() == "time"
    assert plot._x_combo.currentData() == "time"
    np.testing.assert_array_equal(plot.series_data("loss_d")[0], history.column("elapsed"))
    np.testing.assert_array_equal(drawn(plot, "loss_d")[0], history.column("elapsed"))
    assert plot._plots[-1].getAxis("bottom").labelText == "Wall time"
    assert x_range(plot)[1] >= history.column("elapsed")[-1]
    with pytest.raises(ValueError, match="'epoch'"):
        plot.set_x_axis("epoch")
    plot.set_x_axis("step")
    np.testing.assert_array_equal(plot.series_data("loss_d")[0], history.column("step"))


def test_follow_latest_keeps_new_steps_in_view(plot):
    history = history_of(100)
    show(plot, history)
    assert plot.follow_latest()
    history.append_columns(rows(100, 900))
    plot.refresh()
    low, high = x_range(plot)
    assert low <= 1 and high >= 1000


def test_a_manual_zoom_turns_follow_latest_off_and_the_range_stays(plot, qtbot):
    history = history_of(1000)
    show(plot, history)
    vb = plot._plots[0].vb
    vb.setXRange(200, 400, padding=0)  # what a mouse zoom does, then announces:
    with qtbot.waitSignal(plot.follow_latest_changed) as changed:
        vb.sigRangeChangedManually.emit([True, True])
    assert changed.args == [False]
    assert not plot.follow_latest()
    assert not plot._follow_button.isChecked()
    before = x_range(plot)
    history.append_columns(rows(1000, 500))
    plot.refresh()
    assert x_range(plot) == pytest.approx(before)
    x, _ = drawn(plot, "loss_g")  # only the rows in view (and one either side) are fed
    assert x[0] >= 198 and x[-1] <= 402
    plot.set_follow_latest(True)
    assert plot._follow_button.isChecked()
    assert x_range(plot)[1] >= 1500


def test_reset_zoom_shows_everything_and_follows_again(plot):
    show(plot, history_of(500))
    plot._plots[-1].vb.setXRange(10, 20, padding=0)
    plot._plots[-1].vb.sigRangeChangedManually.emit([True, True])
    plot.reset_zoom()
    assert plot.follow_latest()
    low, high = x_range(plot)
    assert low <= 1 and high >= 500


def test_a_y_only_zoom_keeps_that_plot_s_y_range_and_following(plot):
    history = history_of(300)
    show(plot, history)
    vb = plot._plots[2].vb
    vb.setYRange(0, 100, padding=0)
    vb.sigRangeChangedManually.emit([False, True])
    assert plot.follow_latest()
    history.append_columns(rows(300, 200))
    plot.refresh()
    assert vb.viewRange()[1] == pytest.approx([0, 100])


def test_hover_reads_out_the_values_at_the_nearest_step(plot):
    history = history_of(300)
    show(plot, history)
    plot.hover_at(41.7)  # nearest step: 42, row 41
    text = plot.readout_text()
    assert text.startswith("step 42 · 0:21")
    for name in METRICS:
        label = loss_plot.theme.SERIES_NAMES[name]
        assert f"{label} {history.column(name)[41]:.4g}" in text
    assert all(line.isVisible() and line.value() == 42 for line in plot._hover_lines)
    plot.set_smoothing(0.5)
    smoothed = debiased_ema(history.column("grad_g"), 0.5)[41]
    assert f"‖∇G‖ {smoothed:.4g} (raw {history.column('grad_g')[41]:.4g})" in plot.readout_text()
    plot.hover_at(1e9)
    assert plot.readout_text().startswith("step 300")
    plot._clear_hover()
    assert not plot._hover_lines[0].isVisible()
    assert plot.readout_text().startswith("step 300")  # the latest row when not hovering


def test_moving_the_mouse_over_a_plot_places_the_hover_line(plot, qtbot):
    show(plot, history_of(300))
    vb = plot._plots[1].vb
    scene_pos = vb.mapViewToScene(QPointF(120.2, 0.5))
    plot._canvas.scene().sigMouseMoved.emit(scene_pos)
    qtbot.waitUntil(lambda: plot.readout_text().startswith("step 120 "))
    assert plot._hover_lines[0].value() == 120
    plot._canvas.scene().sigMouseMoved.emit(QPointF(-50, -50))  # off the plots
    qtbot.waitUntil(lambda: not plot._hover_lines[0].isVisible())
    assert plot.readout_text().startswith("step 300 ")


def test_nan_rows_are_skipped_without_breaking_the_drawing(plot):
    history = history_of(200)
    block = rows(200, 10)
    for name in METRICS:
        block[name][3:6] = np.nan  # a diverged run logs NaN
    history.append_columns(block)
    show(plot, history)
    for name in METRICS:
        curve = plot._curves[name]
        assert curve.opts["connect"] == "finite"
        y = drawn(plot, name)[1]
        assert np.isnan(y).sum() == 3
        # the path has no NaN in it and starts afresh at step 207, after the NaN steps
        path = curve.getPath()
        elements = [path.elementAt(i) for i in range(path.elementCount())]
        assert all(math.isfinite(e.x) and math.isfinite(e.y) for e in elements)
        assert [e.x for e in elements if e.isMoveTo()] == [1, 207]
    for p in plot._plots:
        assert all(math.isfinite(v) for v in p.vb.viewRange()[1])
    plot.hover_at(205)
    assert "G loss —" in plot.readout_text()


def test_truncate_and_clear_reset_the_curves(plot):
    history = history_of(500)
    show(plot, history)
    plot.set_smoothing(0.6)
    history.truncate_after(120)
    plot.refresh()
    for name in METRICS:
        assert len(plot.series_data(name)[1]) == 120
        assert len(drawn(plot, name)[1]) == 120
    np.testing.assert_allclose(plot.series_data("loss_g")[1],
                               debiased_ema(history.column("loss_g"), 0.6))
    plot.hover_at(110)
    history.clear()
    plot.refresh()
    for name in METRICS:
        assert len(plot.series_data(name)[1]) == 0
        assert len(drawn(plot, name)[1]) == 0
    assert plot.readout_text() == ""
    assert not plot._hover_lines[0].isVisible()


def test_a_long_history_is_fed_as_a_min_max_envelope(plot):
    history = history_of(200_000, seed=5)
    show(plot, history)
    for name in METRICS:
        x, y = drawn(plot, name)
        column = history.column(name)
        assert len(y) <= 4 * plot._plots[-1].vb.width()
        assert y.max() == column.max() and y.min() == column.min()  # peaks survive
        assert x[0] == 1 and x[-1] <= 200_000


def test_incremental_envelopes_match_a_fresh_drawing(qtbot, plot):
    history = history_of(70_000, seed=1)
    show(plot, history)
    plot.set_smoothing(0.6)
    for start, n in ((70_000, 33), (70_033, 1), (70_034, 5000)):
        history.append_columns(rows(start, n, seed=2))
        plot.refresh()
    fresh = shown(qtbot, LossPlot(), plot.width(), plot.height())
    fresh.set_smoothing(0.6)
    show(fresh, history)
    for name in METRICS:
        for curves in ("_curves", "_raw_curves"):
            ours = getattr(plot, curves)[name].values
            theirs = getattr(fresh, curves)[name].values
            np.testing.assert_array_equal(ours[0], theirs[0])
            np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-9)


def test_auto_refresh_redraws_from_a_timer(plot, qtbot):
    history = history_of(10)
    show(plot, history)
    plot.start_auto_refresh(5)
    history.append_columns(rows(10, 10))
    qtbot.waitUntil(lambda: len(drawn(plot, "loss_g")[1]) == 20)
    plot.stop_auto_refresh()
    assert not plot._pacer.timer.isActive()


def test_auto_refresh_comes_less_often_when_frames_are_expensive(plot, qtbot):
    history = history_of(10)
    show(plot, history)
    plot.start_auto_refresh(50)

    def paints(seconds: float, times: int = 40) -> None:
        for _ in range(times):  # the cost is smoothed over recent frames
            plot._canvas.painted.emit(seconds)

    paints(0.0005)
    assert plot.refresh_interval_ms() == 50
    paints(0.020)  # 20 ms paints: 5% of the time means a frame every 0.4 s
    assert plot.refresh_interval_ms() == round(20 / loss_plot.REFRESH_BUDGET)
    plot._canvas.painted.emit(5.0)  # however slow, the plot still redraws every second
    assert plot.refresh_interval_ms() == loss_plot.MAX_REFRESH_INTERVAL_MS
    paints(0.0005)  # cheap frames again: back to the fastest rate
    assert plot.refresh_interval_ms() == 50
    history.append_columns(rows(10, 5))  # the re-armed timer still draws new rows
    qtbot.waitUntil(lambda: len(drawn(plot, "loss_g")[1]) == 15)
    plot.stop_auto_refresh()


def test_a_real_paint_is_timed(plot, qtbot):
    show(plot, history_of(50))
    with qtbot.waitSignal(plot._canvas.painted) as painted:
        plot._canvas.viewport().repaint()
    assert 0 < painted.args[0] < 5


def test_following_a_growing_run_moves_x_at_round_numbers(plot):
    history = RunData()
    show(plot, history)
    ranges = []
    for start in range(0, 3000, 7):
        history.append_columns(rows(start, 7))
        plot.refresh()
        low, high = x_range(plot)
        assert low < 1 and high >= start + 7  # every step in view
        ranges.append((low, high))
    ends = sorted({high for _, high in ranges})
    mantissas = {round(end / 10 ** math.floor(math.log10(end)), 6) for end in ends}
    assert mantissas <= set(loss_plot.ROUND_MANTISSAS)
    # about ten moves per decade of steps (here 7 to 3,000), not one per refresh
    assert len(set(ranges)) <= 30
    last = history.column("step")[-1]
    assert ends[-1] <= 1.4 * last  # never much empty room: 3,003 steps end at 4,000


@pytest.mark.parametrize("value, expected", [
    (0.7, 0.8), (1.0, 1.0), (1.01, 1.2), (103, 120), (2400, 2500), (8001, 10_000), (0, 0),
])
def test_round_up(value, expected):
    assert loss_plot._round_up(value) == pytest.approx(expected)


def test_series_data_names_the_known_series(plot):
    with pytest.raises(KeyError, match="loss_g"):
        plot.series_data("lr_g")
