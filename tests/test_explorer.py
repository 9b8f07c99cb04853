"""The latent explorer in the window: open, select, slide, interpolate, classes, exports."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import torch
from app_support import tiny_image_config, tiny_points_config, visible_error_box
from PIL import Image
from PySide6.QtCore import Qt

from ganstudio.app.controllers import explorer_options
from ganstudio.app.render_worker import RenderWorker
from ganstudio.engine import explore
from ganstudio.engine.errors import GanStudioError
from ganstudio.engine.trainer import Trainer
from ganstudio.engine.view2d import to_pixels


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny trained runs: digits (plain and conditional) and ring8."""
    base = tmp_path_factory.mktemp("explorer-runs")
    made = {}
    for name, cfg in (("digits", tiny_image_config(2)), ("points", tiny_points_config(10))):
        list(Trainer(cfg, run_dir=base / name).run())
        made[name] = base / name
    cfg = tiny_image_config(2)
    cfg.model.conditional = True
    list(Trainer(cfg, run_dir=base / "conditional").run())
    made["conditional"] = base / "conditional"
    return made


@pytest.fixture(autouse=True)
def quick_pca(monkeypatch):
    monkeypatch.setattr(explorer_options, "PCA_SAMPLES", 400)


def _open(window, qtbot, path, live=False):
    with qtbot.waitSignal(window.explorer_controller.opened, timeout=30_000) as opened:
        window.explorer_controller.open_checkpoint(path, live=live)
    session = opened.args[0]
    qtbot.waitUntil(lambda: window.explorer_page.grid.image() is not None, timeout=30_000)
    return session


def _checkpoint(run_dir):
    return sorted((run_dir / "checkpoints").glob("step_*[0-9].safetensors"))[-1]


def test_opening_a_checkpoint_shows_samples_at_once(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    page = window.explorer_page
    assert window.pages.currentWidget() is page
    assert page.grid.image().shape == (4 * 30 + 2, 4 * 30 + 2, 1)  # 16 samples, 4 per row
    assert "trained on digits" in page.details.text()
    assert str(_checkpoint(runs["digits"]).resolve()) in window.settings.recent("checkpoints")
    qtbot.waitUntil(lambda: page.selected.image() is not None, timeout=10_000)
    assert page.selected.image().shape == (28, 28, 1)
    assert not window.setup_dock.isVisible()
    assert session.generator.step == 2


def test_clicking_a_sample_selects_it(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    page = window.explorer_page
    page.grid.resize(400, 400)
    with qtbot.waitSignal(session.selected_ready, timeout=10_000) as ready:
        qtbot.mouseClick(page.grid, Qt.MouseButton.LeftButton,
                         pos=page.grid.cell_rect(6).center().toPoint())
    assert session.selected == 6 and page.grid.selected() == 6
    assert "sample 6" in ready.args[0]["caption"]
    expected = page.grid.image()
    cell = expected[2 + 1 * 30 : 2 + 1 * 30 + 28, 2 + 2 * 30 : 2 + 2 * 30 + 28]
    assert np.array_equal(ready.args[0]["image"], cell)


def test_seed_shuffle_and_grid_size(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    page = window.explorer_page
    first = page.grid.image().copy()
    with qtbot.waitSignal(session.grid_ready, timeout=10_000):
        page.seed.setValue(7)
    assert session.seed == 7 and not np.array_equal(page.grid.image(), first)
    with qtbot.waitSignal(session.grid_ready, timeout=10_000) as ready:
        page.grid_size.setCurrentIndex(page.grid_size.findData(36))
    assert ready.args[0]["n"] == 36 and ready.args[0]["nrow"] == 6
    with qtbot.waitSignal(session.grid_ready, timeout=10_000):
        window.explorer_controller.act_shuffle.trigger()
    assert page.seed.value() == session.seed


def test_moving_a_direction_slider_edits_the_selected_sample(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    page = window.explorer_page
    qtbot.waitUntil(lambda: "PC1" in page._direction_sliders, timeout=30_000)
    assert len(session.directions) == explorer_options.PCA_COMPONENTS
    qtbot.waitUntil(lambda: page.selected.image() is not None, timeout=10_000)
    before = page.selected.image().copy()
    with qtbot.waitSignal(session.selected_ready, timeout=10_000) as ready:
        page._direction_sliders["PC1"].setValue(4.0)
    assert session.edits.amounts["PC1"] == 4.0
    assert "PC1 +4.0" in ready.args[0]["caption"]
    assert not np.array_equal(ready.args[0]["image"], before)
    expected = session.latents[session.selected] + 4.0 * session.directions["PC1"]
    assert torch.allclose(session.selected_latent(), expected)
    with qtbot.waitSignal(session.selected_ready, timeout=10_000) as ready:
        page._reset_edits()
    assert np.array_equal(ready.args[0]["image"], before)


def test_interpolation_strip_player_and_method(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    page = window.explorer_page
    session.select(1)
    window.explorer_controller.act_add_keyframe.trigger()
    session.select(2)
    with qtbot.waitSignal(session.strip_ready, timeout=10_000) as ready:
        window.explorer_controller.act_add_keyframe.trigger()
    assert page.keyframes.count() == 2
    assert len(ready.args[0]["frames"]) == 16
    assert page.strip.image().shape == (30 + 2, 16 * 30 + 2, 1)
    with qtbot.waitSignal(session.strip_ready, timeout=10_000) as ready:
        page.frame_count.setValue(5)
    assert len(ready.args[0]["frames"]) == 5
    with qtbot.waitSignal(session.strip_ready, timeout=10_000):
        page.method.setCurrentText("lerp")
    assert session.method == "lerp"
    page.scrub.setValue(4)
    assert np.array_equal(page.player.image(), page._frames[4])
    page.fps.setValue(60)
    page.play.setChecked(True)
    qtbot.waitUntil(lambda: page.scrub.value() != 4, timeout=5_000)
    page.play.setChecked(False)
    with qtbot.waitSignal(session.strip_ready, timeout=10_000):
        session.add_keyframe_seed(99)
    assert session.keyframes[-1].name == "seed 99"
    session.remove_keyframe(0)
    assert page.keyframes.count() == 2


def test_class_selector_and_class_morph(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["conditional"]))
    page = window.explorer_page
    assert page.class_mode.isVisibleTo(page) and session.generator.conditional
    with qtbot.waitSignal(session.grid_ready, timeout=10_000):
        page.class_mode.setCurrentIndex(page.class_mode.findData(3))
    assert session.labels.tolist() == [3] * 16
    with qtbot.waitSignal(session.grid_ready, timeout=10_000):
        page.class_mode.setCurrentIndex(0)  # one class per sample
    assert session.labels.tolist() == [i % 10 for i in range(16)]
    session.select(4)
    with qtbot.waitSignal(session.grid_ready, timeout=10_000):
        page.sample_class.setCurrentIndex(9)
        page._on_sample_class(9)
    assert session.labels[4].item() == 9 and session.selected_label() == 9
    qtbot.waitUntil(lambda: page.selected.image() is not None, timeout=10_000)
    qtbot.wait(50)
    plain = explore.render_outputs(explore.frozen(
        session.generator, session.selected_latent()[None], torch.tensor([9])))
    page.morph_target.setCurrentIndex(2)
    with qtbot.waitSignal(session.selected_ready, timeout=10_000) as ready:
        page.morph_amount.setValue(1.0)
    assert "→ class 2" in ready.args[0]["caption"]
    # a full morph is the other class: the selected sample drawn as class 2
    as_two = explore.render_outputs(explore.frozen(
        session.generator, session.selected_latent()[None], torch.tensor([2])))
    assert np.array_equal(ready.args[0]["image"], as_two[0])
    assert not np.array_equal(ready.args[0]["image"], plain[0])
    with qtbot.waitSignal(session.selected_ready, timeout=10_000) as ready:
        page.morph_amount.setValue(0.5)
    halfway = session.selected_labels()
    assert halfway.shape == (1, 10) and halfway[0, 9] == 0.5 and halfway[0, 2] == 0.5
    assert not np.array_equal(ready.args[0]["image"], as_two[0])


def test_latent_plane_and_nearest_training_images(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    page = window.explorer_page
    qtbot.waitUntil(lambda: page.plane.image() is not None, timeout=30_000)
    assert page.plane.image().shape == (7 * 30 + 2, 7 * 30 + 2, 1)
    with qtbot.waitSignal(session.plane_ready, timeout=10_000) as ready:
        page.plane_size.setCurrentIndex(page.plane_size.findData(5))
        page._on_plane()
    assert ready.args[0]["n"] == 25
    qtbot.waitUntil(lambda: page.nearest.image() is not None, timeout=60_000)
    assert page.nearest.image().shape == (32, 9 * 30 + 2, 1)  # the sample and 8 neighbours
    distances = [float(d) for d in page.nearest_distances.text().split(": ")[1].split(", ")]
    assert len(distances) == 8 and distances == sorted(distances)


def test_a_failed_render_shows_its_message_over_the_image(window, qtbot, runs, monkeypatch):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory while rendering")

    monkeypatch.setattr(session.generator, "render", broken)
    with qtbot.waitSignal(session.render_failed, timeout=10_000) as failed:
        session.render_grid()
    assert failed.args == ["grid", "out of memory while rendering"]
    assert "out of memory" in window.explorer_page.grid.message()
    assert window.isVisible()


def test_render_worker_drops_stale_requests():
    worker = RenderWorker(("a",))
    gate = threading.Event()
    started = threading.Event()
    done = []

    def slow():
        started.set()
        gate.wait(5)
        return "slow"

    results = []
    worker.finished.connect(results.append)
    worker.submit("a", 1, slow)
    assert started.wait(5)
    for stamp in (2, 3, 4):  # while the first runs, only the newest waiting one survives
        worker.submit("a", stamp, lambda s=stamp: done.append(s) or s)
    gate.set()
    deadline = time.monotonic() + 5
    while not worker.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert done == [4]
    worker.shutdown()


def test_exports_decode_with_the_right_frames_and_sizes(window, qtbot, runs, tmp_path):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    qtbot.waitUntil(lambda: "PC1" in session.directions, timeout=30_000)
    session.select(0)
    session.add_keyframe_selected()
    session.select(3)
    session.add_keyframe_selected()
    session.set_interpolation(frames=10)
    progress = []
    outputs = {
        "image": tmp_path / "one.png", "grid": tmp_path / "grid.png",
        "strip": tmp_path / "strip.png", "animation": tmp_path / "interp.gif",
        "walk": tmp_path / "walk.webp",
    }
    for kind, path in outputs.items():
        session.export_job(kind, path, fps=8, direction="PC1")(progress.append)
    with Image.open(outputs["image"]) as im:
        assert im.size == (252, 252)  # 28 px enlarged 9× (to about 256)
    with Image.open(outputs["grid"]) as im:
        assert im.size == (4 * 30 + 2, 4 * 30 + 2)
    with Image.open(outputs["strip"]) as im:
        assert im.size == (10 * 30 + 2, 32)
    with Image.open(outputs["animation"]) as im:
        assert im.n_frames == 10 and im.size == (252, 252)
        assert im.info["duration"] in (120, 130)  # GIF keeps centiseconds of 1000 / 8
    with Image.open(outputs["walk"]) as im:
        assert im.n_frames == 2 * explorer_options.WALK_FRAMES - 2  # there and back
    assert progress and progress[-1] == 1.0


def test_export_from_the_menu_runs_with_a_progress_dialog(window, qtbot, runs, tmp_path,
                                                          monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    _open(window, qtbot, _checkpoint(runs["digits"]))
    target = tmp_path / "grid.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    with qtbot.waitSignal(window.explorer_controller.exported, timeout=30_000) as exported:
        window.explorer_controller.act_export_grid.trigger()
        assert window.explorer_controller.export_dialog is not None
    assert exported.args[0] == str(target) and target.is_file()


def test_export_of_an_interpolation_needs_keyframes(window, qtbot, runs, tmp_path):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    with pytest.raises(GanStudioError, match="two or more keyframes"):
        session.export_job("animation", tmp_path / "x.gif")


@pytest.mark.parametrize("suffix", [".json", ".npz", ".npy"])
def test_latents_save_and_load(window, qtbot, runs, tmp_path, suffix):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    session.select(2)
    session.add_keyframe_selected()
    session.select(5)
    session.add_keyframe_selected()
    path = session.save_latents(tmp_path / f"keys{suffix}", "keyframes")
    expected = torch.stack([k.latent for k in session.keyframes])
    session.clear_keyframes()
    assert session.load_latents(path) == 2
    assert torch.allclose(torch.stack([k.latent for k in session.keyframes]), expected)
    if suffix == ".json":
        data = json.loads(path.read_text())
        assert data["format"] == "ganstudio.latents" and data["z_dim"] == 100
        assert data["space"] == "z"
    one = session.save_latents(tmp_path / f"one{suffix}", "selected")
    assert session.load_latents(one) == 1
    assert torch.allclose(session.selected_latent(), expected[1], atol=1e-6)


def test_vector_arithmetic_shows_a_minus_b_plus_c(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    session.set_truncation(0.7)  # the sum must survive the truncation round trip
    for slot, index in zip("ABC", (1, 2, 3)):
        session.select(index)
        session.set_arithmetic(slot)
    a, b, c = (session.arithmetic[k] for k in "ABC")
    with qtbot.waitSignal(session.selected_ready, timeout=10_000) as ready:
        session.apply_arithmetic()
    assert torch.allclose(session.selected_latent(), a - b + c, atol=1e-5)
    expected = explore.render_outputs(explore.frozen(session.generator, (a - b + c)[None]))
    assert np.array_equal(ready.args[0]["image"], expected[0])
    assert not np.array_equal(expected[0], explore.render_outputs(
        explore.frozen(session.generator, c[None]))[0])


def test_latents_of_the_wrong_size_are_refused(window, qtbot, runs, tmp_path):
    session = _open(window, qtbot, _checkpoint(runs["digits"]))
    np.save(tmp_path / "small.npy", np.zeros((2, 5), np.float32))
    with pytest.raises(GanStudioError, match=r"shape \(2, 5\).*takes 100"):
        session.load_latents(tmp_path / "small.npy")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(GanStudioError, match="not a GAN Studio latents file"):
        session.load_latents(tmp_path / "other.json")


def test_two_d_generator_explorer_selects_the_nearest_point(window, qtbot, runs):
    session = _open(window, qtbot, _checkpoint(runs["points"]))
    page = window.explorer_page
    assert session.points and page.grid.image().shape == (420, 420, 3)
    outputs = session.generator.render(session._truncated(session.latents)).numpy()
    target = 5
    px, py = to_pixels(outputs[target], session._backdrop.extent, 420)[0]
    with qtbot.waitSignal(session.selection_changed, timeout=10_000) as changed:
        page._on_image_clicked(px, py)
    nearest = int(np.argmin((outputs[:, 0] - outputs[target, 0]) ** 2
                            + (outputs[:, 1] - outputs[target, 1]) ** 2))
    assert changed.args[0] == nearest


def test_explorer_follows_a_live_run(window, qtbot, runs, tmp_path):
    import shutil

    run_dir = tmp_path / "live"
    shutil.copytree(runs["points"], run_dir)
    session = _open(window, qtbot, run_dir, live=True)
    assert window.explorer_page.live.isChecked() and session.following
    assert session.generator.step == 10
    cfg = tiny_points_config(14)
    with qtbot.waitSignal(session.generator_changed, timeout=30_000) as changed:
        list(Trainer(cfg, run_dir=run_dir, resume=run_dir).run())
    assert changed.args[0].step == 14
    window.explorer_page.live.setChecked(False)
    assert not session.following


def test_explore_button_on_the_training_page(window, qtbot, runs):
    with qtbot.waitSignal(window.training_controller.run_opened, timeout=30_000):
        window.open_path(runs["points"])
    with qtbot.waitSignal(window.explorer_controller.opened, timeout=30_000) as opened:
        qtbot.mouseClick(window.training.explore_button, Qt.MouseButton.LeftButton)
    assert opened.args[0].following


def test_a_file_that_cannot_be_loaded_says_why_and_lists_formats(window, qtbot, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 40)
    window.explorer_controller.open_checkpoint(bad)
    qtbot.waitUntil(lambda: visible_error_box() is not None, timeout=10_000)
    box = visible_error_box()
    assert "broken.safetensors" in box.text() and "torch.export" in box.text()
    box.close()
    assert window.explorer_controller.session is None


def test_render_worker_delivers_previews_and_stops_a_superseded_job(qtbot):
    worker = RenderWorker(("a",))
    results, answers = [], []
    previewed, gate = threading.Event(), threading.Event()
    worker.finished.connect(results.append)

    def staged(preview):
        for stage in range(3):
            answers.append(preview(stage))
            previewed.set()
            if not answers[-1]:
                return "stopped early"
            gate.wait(5)
        return "full"

    worker.submit_progressive("a", 1, staged)
    assert previewed.wait(5)
    worker.submit("a", 2, lambda: "newer")  # arrives while stage 0 is on screen
    gate.set()
    qtbot.waitUntil(lambda: any(r.stamp == 2 for r in results), timeout=5_000)
    worker.shutdown()
    assert answers == [True, False]  # it saw the newer request and stopped at stage 1
    assert [(r.stamp, r.partial, r.value) for r in results] == [
        (1, True, 0), (1, True, 1), (1, False, "stopped early"), (2, False, "newer")]


def test_the_layer_view_shows_a_layers_channels_and_their_statistics(runs):
    from ganstudio.engine.formats import load_generator

    generator = load_generator(_checkpoint(runs["digits"]))
    assert generator.layers == ("main.0", "main.3", "main.6")
    z = generator.sample_z(1, 0)
    request = explore.frozen(generator, z)
    maps = generator.layer_features(z, "main.3")
    grid = explore.layer_picture(request, "main.3")
    assert grid["channels"] == maps.shape[1] and grid["n"] == min(64, maps.shape[1])
    assert grid["size"] == (14, 14)
    one = explore.layer_picture(request, "main.3", channel=2)
    assert one["image"].shape == (14, 14, 1)
    assert one["max"] == pytest.approx(float(maps[0, 2].max()))
    assert one["mean"] == pytest.approx(float(maps[0, 2].mean()))
    assert one["image"].max() == 255 and one["image"].min() == 0  # scaled to its own range
