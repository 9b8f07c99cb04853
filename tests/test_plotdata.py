"""Plot data without Qt: runs' series from records, and what a plot of them draws (min/max
envelopes, TensorBoard's debiased EMA, log units), for one run or several."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganstudio.engine.events import DiagEvent, EvalEvent, StepEvent
from ganstudio.engine.plotdata import STEP_SERIES, PlotData, RunData, debiased_ema


def reference(values, weight):
    """TensorBoard's own loop: skip non-finite values, debias by the weights seen."""
    last, debias, out = 0.0, 0.0, []
    for value in values:
        if not math.isfinite(value):
            out.append(math.nan)
            last *= weight
            debias *= weight
            continue
        last = weight * last + (1 - weight) * value
        debias = weight * debias + (1 - weight)
        out.append(last / debias)
    return np.array(out)


@pytest.mark.parametrize("n", [1, 31, 32, 33, 1000, 40_000])
@pytest.mark.parametrize("weight", [0.3, 0.6, 0.9, 0.99])
def test_matches_tensorboards_loop(n, weight):
    rng = np.random.default_rng(n)
    values = rng.normal(1.0, 0.5, n) + np.linspace(0, 3, n)
    values[rng.random(n) < 0.01] = np.nan
    values[rng.random(n) < 0.005] = np.inf
    np.testing.assert_allclose(debiased_ema(values, weight), reference(values, weight),
                               rtol=1e-9, atol=1e-12, equal_nan=True)


def test_weight_zero_is_no_smoothing():
    values = np.array([1.0, np.nan, 3.0])
    np.testing.assert_array_equal(debiased_ema(values, 0.0), values)


def test_leading_gaps_and_an_empty_series():
    values = np.array([np.nan, np.nan, 2.0, 4.0])
    smoothed = debiased_ema(values, 0.5)
    assert np.isnan(smoothed[:2]).all()
    assert smoothed[2] == 2.0  # debiased: the first finite value is itself
    assert smoothed[3] == pytest.approx((0.25 * 2 + 0.5 * 4) / 0.75)
    assert len(debiased_ema(np.array([]), 0.6)) == 0


def step_record(step: int, **values) -> dict:
    record = {"type": "step", "step": step, "elapsed": step / 10}
    record.update({name: 0.001 * step + i for i, name in enumerate(STEP_SERIES)})
    record.update(values)
    return record


def noisy_run(n: int, seed: int = 0, start: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + start)
    step = np.arange(start + 1, start + n + 1, dtype=np.float64)
    columns = {"step": step, "elapsed": step * 0.5}
    for i, name in enumerate(STEP_SERIES):
        columns[name] = np.sin(step / (30 + 10 * i)) + rng.normal(0, 0.3, n) + i
    return columns


def test_step_records_and_step_events_make_the_same_rows():
    records = [step_record(s) for s in range(1, 6)]
    records[2]["loss_g"] = None  # a non-finite value is written as null
    from_records = RunData()
    from_records.append(records)
    events = [StepEvent(**{k: (math.nan if v is None else v) for k, v in r.items()
                           if k != "type"}, d_steps=1, its=1.0) for r in records]
    from_events = RunData()
    from_events.append(events)
    for data in (from_records, from_events):
        assert len(data) == 5
        np.testing.assert_array_equal(data.column("step"), [1, 2, 3, 4, 5])
        assert math.isnan(data.column("loss_g")[2])
        assert data.column("grad_d")[4] == pytest.approx(0.005 + 5)


def test_a_resume_record_forgets_what_it_superseded():
    data = RunData()
    data.append([step_record(s) for s in range(1, 11)])
    data.append([{"type": "eval", "step": 8, "modes": 5.0}])
    data.append([{"type": "resume", "step": 6}, step_record(7, loss_g=-1.0)])
    np.testing.assert_array_equal(data.column("step"), [1, 2, 3, 4, 5, 6, 7])
    assert data.column("loss_g")[-1] == -1.0
    assert len(data.evaluations["modes"]) == 0


def test_diagnostics_become_series_as_evaluations_do():
    data = RunData()
    data.append([step_record(100), {"type": "diag", "step": 100, "name": "overfit",
                                     "r_t": 0.5, "augment_p": 0.1},
                 {"type": "gradients", "step": 100, "g": {"main.0": 1.0}, "d": {}},
                 step_record(200), DiagEvent(200, "overfit", {"r_t": 0.7, "augment_p": 0.2})])
    assert data.series_names() == [*STEP_SERIES, "overfit/r_t", "overfit/augment_p"]
    plot = PlotData()
    plot.add("a", data)
    x, p = plot.series("a", "overfit/augment_p")
    np.testing.assert_array_equal(x, [100, 200])
    np.testing.assert_array_equal(p, [0.1, 0.2])


def test_evaluations_become_series_named_by_their_evaluation():
    data = RunData()
    data.append([step_record(100), {"type": "eval", "step": 100, "modes": 6, "high_quality": 0.8},
                 step_record(200), {"type": "eval", "step": 200, "name": "fid", "value": 41.5},
                 {"type": "eval", "step": 200, "modes": 8, "high_quality": 0.9, "note": "x",
                  "reverse_kl": 0.1}])
    data.append([EvalEvent(300, {"modes": 7.0, "high_quality": 0.95})])
    assert data.series_names() == [*STEP_SERIES, "modes/modes", "modes/high_quality",
                                   "modes/reverse_kl", "fid/value"]
    plot = PlotData()
    plot.add("a", data)
    x, y = plot.series("a", "modes/modes")
    np.testing.assert_array_equal(x, [100, 200, 300])
    np.testing.assert_array_equal(y, [6, 8, 7])
    _, kl = plot.series("a", "modes/reverse_kl")  # a value that came later: NaN before
    assert math.isnan(kl[0]) and kl[1] == 0.1 and math.isnan(kl[2])
    t, _ = plot.series("a", "fid/value", x_axis="elapsed")
    np.testing.assert_array_equal(t, [20.0])  # the wall time of the step it ran after
    assert plot.series("a", "fid/missing")[0].size == 0


def plot_of(**runs: RunData) -> PlotData:
    plot = PlotData()
    for run_id, data in runs.items():
        plot.add(run_id, data)
    return plot


def test_a_short_series_is_drawn_row_by_row_and_a_long_one_as_its_envelope():
    short, long = RunData(), RunData()
    short.append_columns(noisy_run(300))
    long.append_columns(noisy_run(200_000, seed=1))
    plot = plot_of(short=short, long=long)
    view = plot.view(["loss_g", "d_fake"], ["short", "long"], points=500)
    assert set(view) == {("short", "loss_g"), ("short", "d_fake"), ("long", "loss_g"),
                         ("long", "d_fake")}
    curve = view["short", "loss_g"]
    np.testing.assert_array_equal(curve.x, short.column("step"))
    np.testing.assert_array_equal(curve.y, short.column("loss_g"))
    assert curve.raw_y is None
    column = long.column("d_fake")
    curve = view["long", "d_fake"]
    assert len(curve.y) <= 2 * 500 + 4
    assert curve.y.max() == column.max() and curve.y.min() == column.min()  # peaks survive
    assert curve.y_bounds == (column.min(), column.max())
    assert curve.x_bounds[0] == 1 and curve.minimum == column.min()


def test_an_x_range_draws_the_rows_in_it_and_one_either_side():
    data = RunData()
    data.append_columns(noisy_run(1000))
    curve = plot_of(a=data).view(["loss_d"], ["a"], x_range=(200.5, 300.5))["a", "loss_d"]
    np.testing.assert_array_equal(curve.x, np.arange(200, 302))


def test_log_units_leave_out_values_at_or_below_zero():
    data = RunData()
    data.append([step_record(s, loss_d=v) for s, v in enumerate([10.0, 0.0, -1.0, 100.0], 1)])
    curve = plot_of(a=data).view(["loss_d"], ["a"], log=True)["a", "loss_d"]
    np.testing.assert_array_equal(curve.y, [1.0, np.nan, np.nan, 2.0])
    assert curve.y_bounds == (1.0, 2.0) and curve.minimum == -1.0


def test_smoothing_is_extended_as_rows_arrive_and_matches_a_fresh_computation():
    data = RunData()
    data.append_columns(noisy_run(70_000, seed=1))
    plot = plot_of(a=data)
    series = list(STEP_SERIES[:6])
    plot.view(series, ["a"], smoothing=0.6)
    start = 70_000
    for n in (33, 1, 5000):
        data.append_columns(noisy_run(n, seed=2, start=start))
        start += n
        ours = plot.view(series, ["a"], smoothing=0.6, points=700)
    fresh = plot_of(a=data).view(series, ["a"], smoothing=0.6, points=700)
    for name in series:
        for field in ("x", "y", "raw_x", "raw_y"):
            np.testing.assert_allclose(getattr(ours["a", name], field),
                                       getattr(fresh["a", name], field), rtol=1e-9)
        np.testing.assert_allclose(plot.series("a", name, smoothing=0.6)[1],
                                   debiased_ema(data.column(name), 0.6), rtol=1e-9)


def test_rows_rewritten_after_a_resume_are_drawn_afresh():
    data = RunData()
    data.append_columns(noisy_run(600))
    plot = plot_of(a=data)
    plot.view(["grad_g"], ["a"], smoothing=0.7)
    data.truncate_after(400)
    data.append_columns(noisy_run(250, seed=9, start=400))
    curve = plot.view(["grad_g"], ["a"], smoothing=0.7, points=10_000)["a", "grad_g"]
    np.testing.assert_allclose(curve.y, debiased_ema(data.column("grad_g"), 0.7), rtol=1e-9)
    np.testing.assert_array_equal(curve.raw_y, data.column("grad_g"))


def test_runs_are_overlaid_by_id_and_a_series_a_run_lacks_is_left_out():
    first, second = RunData(), RunData()
    first.append_columns(noisy_run(100))
    second.append_columns(noisy_run(250, start=50))
    second.append([{"type": "eval", "step": 300, "name": "fid", "value": 12.0}])
    plot = plot_of(first=first, second=second)
    assert plot.x_bounds(["loss_g"], ["first", "second"]) == (1, 300)
    view = plot.view(["loss_g", "fid/value"], ["first", "second"])
    assert set(view) == {("first", "loss_g"), ("second", "loss_g"), ("second", "fid/value")}
    version = plot.version
    plot.remove("first")
    assert plot.version != version and plot.run_ids() == ["second"]
    version = plot.version
    second.append_columns(noisy_run(1, start=300))
    assert plot.version != version
    assert plot.run("new") is plot.run("new") and len(plot.run("new")) == 0


def test_the_readout_gives_the_values_at_the_nearest_row():
    data = RunData()
    data.append_columns(noisy_run(300))
    plot = plot_of(a=data)
    readout = plot.readout("a", ["loss_g", "grad_d"], 41.7, smoothing=0.5)
    assert (readout.x, readout.step, readout.elapsed) == (42, 42, 21.0)
    raw, smoothed = readout.values["grad_d"]
    assert raw == data.column("grad_d")[41]
    assert smoothed == pytest.approx(debiased_ema(data.column("grad_d"), 0.5)[41])
    assert plot.readout("a", ["loss_g"]).step == 300  # no x: the latest row
    assert plot.readout("a", ["loss_g"], 1e9).step == 300
    assert plot.readout("a", ["fid/value"]) is None


def test_plots_of_the_same_run_share_what_they_derive(monkeypatch):
    from ganstudio.engine import plotdata

    data = RunData()
    data.append_columns(noisy_run(5000))
    series = list(STEP_SERIES[:6])
    calls = []
    original = plotdata.debiased_ema
    monkeypatch.setattr(plotdata, "debiased_ema", lambda *a: calls.append(1) or original(*a))
    first = plot_of(a=data).view(series, ["a"], smoothing=0.6, points=300)
    assert len(calls) == len(series)
    second = plot_of(b=data).view(series, ["b"], smoothing=0.6, points=300)
    assert len(calls) == len(series)  # made ready by the first plot (a reader, off the UI)
    for name in series:
        np.testing.assert_array_equal(first["a", name].y, second["b", name].y)
