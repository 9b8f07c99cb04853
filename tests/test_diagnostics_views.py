"""The window's side of the stability diagnostics: diagnostic series plotted, the live table
of per-layer gradient norms with its marks, alerts in the notifications, Step D / Step G."""

from __future__ import annotations

from app_support import shown, tiny_points_config
from PySide6.QtCore import Qt

from ganstudio.app.controllers.run_state import RunState
from ganstudio.app.views.training_page import RUN, TrainingPage
from ganstudio.engine import events as ev


def test_training_page_shows_diagnostics_and_a_live_gradient_table(qtbot):
    page = shown(qtbot, TrainingPage(), 1000, 600)
    state = RunState()
    page.bind(state, "a run")
    state.apply([ev.DiagEvent(10, "overfit", {"r_t": 0.4, "heldout_gap": 0.1}),
                 ev.DiagEvent(20, "overfit", {"r_t": 0.7, "heldout_gap": 0.3})])
    page.metrics.refresh()
    assert page.metrics.available_series() == ["overfit/r_t", "overfit/heldout_gap"]
    page.metrics.set_series("overfit/heldout_gap")
    assert list(page.metrics.curve_data(RUN)[1]) == [0.1, 0.3]

    state.apply([ev.GradientsEvent(20, g={"main.0": 1.5, "main.2": 1e-9},
                                   d={"main.0": 5e4, "main.2": 0.8},
                                   exploding=("D:main.0",), vanishing=("G:main.2",))])
    assert page.gradients.marks() == {"G:main.2": "vanishing", "D:main.0": "exploding"}
    assert page.gradients.table.rowCount() == 4
    state.apply([ev.GradientsEvent(30, g={"main.0": 1.2, "main.2": 0.5},
                                   d={"main.0": 2.0, "main.2": 0.8})])
    assert page.gradients.marks() == {}  # the newest table replaces the last
    page.gradients.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    assert page.gradients.table.item(0, 2).text() == "2"


def test_an_alert_reaches_the_notifications_with_its_suggested_action(window, qtbot):
    state = RunState()
    window.training_controller._show(state, "a run")
    state.apply([ev.AlertEvent(40, "warning", "overfitting",
                               "D is overfitting (r_t 0.93). Try: turn on adaptive "
                               "augmentation (train.augment_target 0.6)")])
    assert "adaptive augmentation" in window.notifications.messages()[0]
    assert window.notifications_dock.isVisible()


def test_step_d_and_step_g_move_one_network_while_paused(window, qtbot):
    config = tiny_points_config(steps=100_000)
    config.train.sample_every = config.train.eval_every = 10**6
    window.setup.set_config(config)
    qtbot.mouseClick(window.setup.start_button, Qt.MouseButton.LeftButton)
    controller = window.training_controller
    state = controller.session.state
    qtbot.waitUntil(lambda: len(state.history) >= 2, timeout=120_000)
    with qtbot.waitSignal(state.status_changed, check_params_cb=lambda s: s == "paused",
                          timeout=30_000):
        controller.act_pause.trigger()
    for action, moved in ((controller.act_step_d, "D"), (controller.act_step_g, "G")):
        assert action.isEnabled()
        with qtbot.waitSignal(state.steps_added, timeout=30_000):
            action.trigger()
        assert state.last_step.moved == moved
    assert state.status == "paused"
    with qtbot.waitSignal(state.done, timeout=30_000):
        controller.act_stop.trigger()
    qtbot.waitUntil(lambda: not controller.session.is_active(), timeout=10_000)


def test_points_view_draws_g_gradients_and_the_manifold_and_toggles_them(qtbot):
    import numpy as np

    from ganstudio.app.views.points_view import PointsView

    view = shown(qtbot, PointsView(), 800, 600)
    points = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]], np.float32)
    directions = np.array([[1.0, 0.0], [0.0, -2.0], [0.5, 0.5]], np.float32)
    axis = np.linspace(-1, 1, 3)
    manifold = np.stack(np.meshgrid(axis, axis), axis=-1).astype(np.float32)  # (3, 3, 2)
    view.add_snapshot(10, points=points, extent=(-2, 2, -2, 2), directions=directions,
                      manifold=manifold)
    x, y = view.directions_item.getData()
    assert len(x) == 6 and np.allclose(np.c_[x[0::2], y[0::2]], points)
    ends = np.c_[x[1::2], y[1::2]] - points
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    assert np.allclose(ends / np.linalg.norm(ends, axis=1, keepdims=True), unit, atol=1e-6)
    mx, _ = view.manifold_item.getData()
    assert np.isnan(mx).sum() == 6  # three rows and three columns, each its own line
    assert view.directions_item.isVisible() and view.manifold_item.isVisible()
    view.show_directions.setChecked(False)
    view.show_manifold.setChecked(False)
    assert not view.directions_item.isVisible() and not view.manifold_item.isVisible()
    view.add_snapshot(20, points=points, extent=(-2, 2, -2, 2))  # a snapshot without them
    assert not view.show_directions.isVisibleTo(view)
