"""Runs side by side: overlaid curves, the runs table, linked sample grids, live folders."""

from __future__ import annotations

import numpy as np
import pytest
from app_support import shown
from PySide6.QtCore import Qt

from ganstudio.app.controllers.compare_controller import CompareController
from ganstudio.app.controllers.run_state import RunState
from ganstudio.app.views.compare_page import ComparePage
from ganstudio.app.views.compare_plot import ComparePlot
from ganstudio.app.views.runs_table import RunsTableView
from ganstudio.app.views.side_by_side import SideBySideSamples
from ganstudio.engine import events as ev
from ganstudio.engine.config import defaults_for
from ganstudio.engine.plotdata import PlotData, RunData
from ganstudio.engine.runs import RunWriter


def step_event(step: int, loss_g: float) -> ev.StepEvent:
    return ev.StepEvent(step=step, loss_g=loss_g, loss_d=1.0, d_real=0.6, d_fake=0.4,
                        grad_g=1.0, grad_d=1.0, lr_g=2e-4, lr_d=2e-4, d_steps=1, its=10.0,
                        elapsed=0.1 * step)


def history(loss_g: np.ndarray, fid: dict[int, float] | None = None) -> RunData:
    data = RunData()
    data.append([step_event(i + 1, float(v)) for i, v in enumerate(loss_g)])
    for step, value in (fid or {}).items():
        data.append([{"type": "eval", "step": step, "name": "fid", "fid": value}])
    return data


def grid(value: int) -> np.ndarray:
    return np.full((18, 34, 1), value, np.uint8)  # two 16 px samples, pad 2


def write_run(path, lr: float, steps: int, sample_every: int = 0, done: bool = True,
              fid: bool = True, dataset: str = "digits") -> RunWriter:
    """A run folder as ``ganstudio train`` writes one, with made-up values; the writer is
    returned still holding the folder's lock when not ``done``."""
    config = defaults_for("digits")
    config.optim.lr_g = lr
    writer = RunWriter(path, config, {"name": dataset})
    writer.write(ev.StartedEvent(step=0, total_steps=100, device="cpu", device_name="CPU",
                                 params_g=1, params_d=1, run_dir=str(path)))
    for step in range(1, steps + 1):
        writer.write(step_event(step, lr * 1000 + step))
        if sample_every and step % sample_every == 0:
            writer.write(ev.SamplesEvent(step=step, grid=grid(step), nrow=2, n=2))
    if fid:
        writer.write(ev.EvalEvent(step=steps, metrics={"fid": 50.0 / lr / 1e4}, name="fid"))
    if done:
        writer.write(ev.DoneEvent(step=steps, reason="finished", elapsed=1.0))
        writer.close()
    else:
        writer.flush()
    return writer


@pytest.fixture
def plot(qtbot):
    return shown(qtbot, ComparePlot(), 700, 400)


def test_two_runs_overlaid_each_with_its_data_and_a_legend_entry_hides_one(plot):
    data = PlotData()
    a, b = np.linspace(1, 2, 50), np.linspace(3, 1, 80)
    data.add("a", history(a))
    data.add("b", history(b))
    plot.set_data(data)
    plot.set_runs([("a", "run A", "#ff0000"), ("b", "run B", "#00ff00")])
    plot.set_series("loss_g")
    np.testing.assert_allclose(plot.curve_data("a")[1], a)
    np.testing.assert_allclose(plot.curve_data("b")[1], b)
    np.testing.assert_array_equal(plot.curve_data("b")[0], np.arange(1, 81))

    plot.legend_button("a").click()
    assert not plot.run_visible("a") and plot.run_visible("b")
    assert len(plot.curve_data("a")[0]) == 0
    np.testing.assert_allclose(plot.curve_data("b")[1], b)
    plot.legend_button("a").click()
    np.testing.assert_allclose(plot.curve_data("a")[1], a)


def test_smoothing_and_log_scale_apply_to_every_run(plot):
    data = PlotData()
    data.add("a", history(np.linspace(1, 10, 40)))
    data.add("b", history(np.linspace(10, 100, 40)))
    plot.set_data(data)
    plot.set_runs([("a", "A", "#ff0000"), ("b", "B", "#00ff00")])
    plot.set_log_scale(True)
    np.testing.assert_allclose(plot.curve_data("b")[1], np.log10(np.linspace(10, 100, 40)))
    plot.set_log_scale(False)
    plot.set_smoothing(0.9)
    for run in ("a", "b"):
        raw = data.run(run).column("loss_g")
        assert not np.allclose(plot.curve_data(run)[1], raw)  # smoothed, lagging behind
        assert plot.curve_data(run)[1][-1] < raw[-1]


def test_evaluation_series_are_offered_and_drawn_over_their_steps(qtbot):
    plot = shown(qtbot, ComparePlot(metrics_only=True), 700, 400)
    data = PlotData()
    data.add("a", history(np.ones(30), fid={10: 80.0, 20: 60.0, 30: 41.5}))
    plot.set_data(data)
    plot.set_runs([("a", "A", "#ff0000")])
    assert plot.available_series() == ["fid/fid"]
    assert plot.series() == "fid/fid"
    x, y = plot.curve_data("a")
    np.testing.assert_array_equal(x, [10, 20, 30])
    np.testing.assert_array_equal(y, [80.0, 60.0, 41.5])
    data.run("a").append([{"type": "eval", "step": 40, "name": "kid", "kid": 0.01}])
    plot.refresh()
    assert plot.available_series() == ["fid/fid", "kid/kid"]


def test_runs_table_shows_only_the_differing_hyper_parameters_and_sorts(qtbot, tmp_path):
    from ganstudio.engine.runs_table import runs_table

    for name, lr, steps in (("a", 2e-4, 10), ("b", 1e-3, 5), ("c", 5e-5, 40)):
        write_run(tmp_path / name, lr, steps, fid=name != "c",
                  dataset="mnist-5k" if name == "b" else "digits")
    table = runs_table([tmp_path / name for name in "abc"])
    assert table.columns == ["name", "dataset", "model", "loss", "status", "steps",
                             "optim.lr_g", "fid/fid"]
    # the data a run trained on is the one its run.json names, whatever its config's default
    assert [row["dataset"] for row in table.rows] == ["digits", "mnist-5k", "digits"]
    view = shown(qtbot, RunsTableView(), 700, 200)
    view.set_table(table, list("abc"))
    view.sortByColumn(table.columns.index("optim.lr_g"), Qt.SortOrder.AscendingOrder)
    assert view.column_values("name") == ["c", "a", "b"]
    view.sortByColumn(table.columns.index("fid/fid"), Qt.SortOrder.AscendingOrder)
    assert view.column_values("name") == ["b", "a", "c"]  # a missing value sorts last
    view.sortByColumn(table.columns.index("steps"), Qt.SortOrder.DescendingOrder)
    assert view.column_values("steps") == ["40", "10", "5"]
    view.select_runs(["a", "c"])
    assert view.selected_runs() == ["c", "a"]  # in the order shown


def test_linked_slider_shows_every_run_at_the_same_step(qtbot):
    view = shown(qtbot, SideBySideSamples(), 800, 400)
    states = []
    for steps in ((2, 4), (2, 4, 6)):
        state = RunState()
        state.apply([ev.SamplesEvent(step=s, grid=grid(s), nrow=2, n=2) for s in steps])
        states.append(state)
    view.set_runs([("a", "A", "#ff0000", states[0]), ("b", "B", "#00ff00", states[1])])
    assert view.steps() == [2, 4, 6]
    assert view.panel_steps() == {"a": 4, "b": 6}  # following: each its newest
    with qtbot.waitSignal(view.step_changed):
        view.slider.setValue(1)
    assert view.panel_steps() == {"a": 4, "b": 4}
    assert not view.following_latest()
    view.slider.setValue(0)
    assert view.panel_steps() == {"a": 2, "b": 2}
    states[0].apply([ev.SamplesEvent(step=8, grid=grid(8), nrow=2, n=2)])
    assert view.panel_steps() == {"a": 2, "b": 2}  # held where the slider is
    assert view.steps() == [2, 4, 6, 8]
    view.latest.click()
    assert view.panel_steps() == {"a": 8, "b": 6}


@pytest.fixture
def compare(qtbot, app_settings):
    from PySide6.QtWidgets import QWidget

    host = QWidget()
    page = ComparePage(host)
    controller = CompareController(page, app_settings, host)
    shown(qtbot, host, 1200, 800)
    page.resize(1200, 800)
    yield controller
    controller.close()


def test_compare_follows_a_run_another_writer_is_still_writing(qtbot, tmp_path, compare):
    write_run(tmp_path / "done", 2e-4, 20, sample_every=10)
    live = write_run(tmp_path / "live", 1e-3, 10, sample_every=10, done=False)
    try:
        with qtbot.waitSignals([compare.run_added, compare.run_added], timeout=10_000):
            compare.add_runs([tmp_path / "done", tmp_path / "live"])
        done_id, live_id = (str((tmp_path / name).resolve()) for name in ("done", "live"))
        page = compare.page
        assert page.plot.runs() == [done_id, live_id]
        assert page.table.column_values("optim.lr_g") == ["0.0002", "0.001"]
        assert len(page.plot.curve_data(live_id)[0]) == 10

        for step in range(11, 31):
            live.write(step_event(step, 1.0 + step))
        live.write(ev.SamplesEvent(step=30, grid=grid(30), nrow=2, n=2))
        live.write(ev.AlertEvent(step=30, level="warning", kind="divergence",
                                 message="D's loss collapsed; lower D's learning rate"))
        with qtbot.waitSignal(compare.notified, timeout=5000) as alert:
            live.flush()
        assert "lower D's learning rate" in alert.args[1] and "live" in alert.args[1]
        qtbot.waitUntil(lambda: len(page.plot.curve_data(live_id)[0]) == 30, timeout=5000)
        qtbot.waitUntil(lambda: page.table.column_values("steps") == ["20", "30"],
                        timeout=5000)
        assert page.samples.panel_steps() == {done_id: 20, live_id: 30}

        page.table.select_runs([live_id])
        assert page.plot.runs() == [live_id]
        assert list(page.samples.panel_steps()) == [live_id]
    finally:
        live.write(ev.DoneEvent(step=30, reason="finished", elapsed=1.0))
        live.close()


def test_training_page_plots_a_runs_evaluations_over_steps_as_they_arrive(qtbot):
    from ganstudio.app.views.training_page import RUN, TrainingPage

    page = shown(qtbot, TrainingPage(), 1000, 600)
    state = RunState()
    page.bind(state, "a run")
    state.apply([step_event(step, 1.0) for step in range(1, 21)])
    state.apply([ev.EvalEvent(step=10, metrics={"fid": 90.0}, name="fid"),
                 ev.EvalEvent(step=20, metrics={"fid": 70.0}, name="fid")])
    qtbot.waitUntil(lambda: len(page.metrics.curve_data(RUN)[0]) == 2)
    assert page.metrics.series() == "fid/fid"
    np.testing.assert_array_equal(page.metrics.curve_data(RUN)[1], [90.0, 70.0])


def test_window_compares_run_folders_on_its_compare_page(qtbot, tmp_path, window):
    write_run(tmp_path / "runs" / "a", 2e-4, 12)
    write_run(tmp_path / "runs" / "b", 1e-3, 8)
    from ganstudio.app.controllers.compare_controller import runs_in

    with qtbot.waitSignals([window.compare_controller.run_added] * 2, timeout=10_000):
        window.compare_controller.add_runs(runs_in(tmp_path / "runs"))
    assert window.pages.currentWidget() is window.compare_page
    assert window.compare_page.table.column_values("name") == ["a", "b"]
    assert window.compare_page.table.column_values("fid/fid") == ["25", "5"]


def test_fork_dialog_asks_for_changed_settings_and_the_fork_joins_the_comparison(
        qtbot, tmp_path, compare, tiny_config):
    from ganstudio.app.views.fork_dialog import ForkDialog
    from ganstudio.engine.runs import RunFolder
    from ganstudio.engine.trainer import Trainer

    parent = tmp_path / "parent"
    for _ in Trainer(tiny_config(steps=20), run_dir=parent).run():
        pass
    with qtbot.waitSignal(compare.run_added, timeout=10_000):
        compare.add_runs([parent])
    parent_id = str(parent.resolve())

    dialog = ForkDialog(parent, "parent", RunFolder(parent).config, [10, 20])
    qtbot.addWidget(dialog)
    assert dialog.step.currentData() == 20 and dialog.field_value("train.steps") == 40
    dialog.step.setCurrentIndex(0)
    dialog.set_field("optim.lr_g", 5e-4)
    step, changes, folder = dialog.request()
    assert (step, folder) == (10, tmp_path / "parent-fork-10")
    assert changes == {"optim.lr_g": 5e-4, "train.steps": 40}

    with qtbot.waitSignal(compare.run_added, timeout=30_000) as added:
        compare.start_fork(parent_id, step, changes, folder)
    assert added.args == [str(folder.resolve())]
    fork = RunFolder(folder)
    assert fork.parent() == (parent.resolve(), 10)
    assert fork.config.optim.lr_g == 5e-4
    qtbot.waitUntil(lambda: not compare._forks, timeout=30_000)  # trained to its end
    qtbot.waitUntil(lambda: compare.page.table.column_values("parent") == ["—", "parent@10"],
                    timeout=5000)
    fork_id = str(folder.resolve())

    def drawn_steps() -> tuple:
        compare.page.plot.refresh()
        x = compare.page.plot.curve_data(fork_id)[0]
        return (x[0], x[-1]) if len(x) else ()

    qtbot.waitUntil(lambda: drawn_steps() == (11, 40), timeout=5000)  # from its fork step
