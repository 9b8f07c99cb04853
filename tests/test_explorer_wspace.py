"""The explorer in W space, with NVIDIA's StyleGAN fixtures, a conditional StyleGAN the tests
write, and the BigGAN fixture: truncation with a cutoff, style mixing, layer-range edits,
noise, the layer view, StyleGAN3's input transform, classes by name and mixed, progressive
renders, directions files, the download dialog and the conversion offer."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from loopback import FileServer
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent
from PySide6.QtWidgets import QFileDialog
from stylegan_support import random_generator, shared_fixtures, write_snapshot

from ganstudio.app.controllers import explorer_options
from ganstudio.engine import explore, latent
from ganstudio.engine.errors import GanStudioError
from ganstudio.engine.formats import load_generator
from ganstudio.engine.generator import RenderOptions

STYLEGAN = shared_fixtures("stylegan")
BIGGAN = shared_fixtures("biggan")
pytestmark = pytest.mark.skipif(not STYLEGAN.is_dir() or not BIGGAN.is_dir(),
                                reason="shared fixtures not present")
SG2, SG3 = STYLEGAN / "sg2ada_32px.pkl", STYLEGAN / "sg3t_16px.pkl"


@pytest.fixture(autouse=True)
def quick_pca(monkeypatch):
    monkeypatch.setattr(explorer_options, "PCA_SAMPLES", 400)


def _open(window, qtbot, path):
    """Open ``path`` in the explorer and wait until its grid and selected sample are drawn in
    full (no render left to come)."""
    with qtbot.waitSignal(window.explorer_controller.opened, timeout=60_000) as opened:
        window.explorer_controller.open_checkpoint(path)
    session = opened.args[0]
    page = window.explorer_page
    qtbot.waitUntil(lambda: page.grid.image() is not None and page.selected.image() is not None
                    and "refining" not in page.caption.text() and session.worker.idle(),
                    timeout=30_000)
    return session


def _full(qtbot, signal, action, timeout=20_000):
    """Do ``action`` and wait for the signal's full (not partial) result."""
    with qtbot.waitSignal(signal, timeout=timeout,
                          check_params_cb=lambda r: not r.get("partial")) as ready:
        action()
    return ready.args[0]


def _drawn(session, latents, labels=None, options=None) -> np.ndarray:
    """What the explorer must show for ``latents``: the generator's own render."""
    request = explore.frozen(session.generator, latents, labels, options or session._options())
    return explore.render_outputs(request)


@pytest.fixture(scope="module")
def conditional_pickle(tmp_path_factory):
    """A class-conditional StyleGAN2-ADA pickle (5 classes), written as NVIDIA's code does."""
    config = {"z_dim": 8, "c_dim": 5, "w_dim": 12, "img_resolution": 16, "img_channels": 3,
              "mapping": {"num_layers": 2}, "synthesis": {"channel_base": 128,
                                                           "channel_max": 12}}
    path = tmp_path_factory.mktemp("conditional") / "conditional.pkl"
    write_snapshot(path, random_generator("stylegan2", config, seed=4), "stylegan2-ada-pytorch")
    return path


@pytest.fixture(scope="module")
def small_stylegan3(tmp_path_factory):
    """A StyleGAN3 (config T) narrow enough to render a grid in about a second on a busy CPU
    (the 16 px fixture takes ten)."""
    config = {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 16, "img_channels": 3,
              "mapping": {"num_layers": 2}, "synthesis": {"channel_base": 64, "channel_max": 8,
                                                           "num_layers": 4}}
    path = tmp_path_factory.mktemp("stylegan3") / "small_sg3.pkl"
    write_snapshot(path, random_generator("stylegan3", config, seed=2), "stylegan3")
    return path


def test_w_space_generator_opens_with_its_tools(window, qtbot):
    session = _open(window, qtbot, SG2)
    page = window.explorer_page
    g = session.generator
    assert session.per_layer and session.latents.shape == (16, g.num_ws, g.latent_dim)
    assert "w 32 × 8 style inputs" in page.details.text()
    assert page.cutoff.isVisibleTo(page) and page.cutoff.maximum() == g.num_ws
    assert page.mixing_section.isVisibleTo(page) and sorted(page.mixer.switches) == list(range(8))
    assert page.noise_section.isVisibleTo(page) and not page.transform_section.isVisibleTo(page)
    assert page.convert_bar.isVisibleTo(page) and "network pickle" in page.convert_text.text()
    z = g.sample_z(16, 0)
    expected = _drawn(session, g.broadcast(g.to_latent(z)))
    assert np.array_equal(page.grid.cell_image(3), expected[3])


def test_the_ui_thread_never_runs_the_mapping_network(window, qtbot, tmp_path, monkeypatch):
    from ganstudio.engine.nets.stylegan import MappingNetwork

    on_ui_thread = []
    forward = MappingNetwork.forward

    def watched(self, *args, **kwargs):
        on_ui_thread.append(threading.current_thread() is threading.main_thread())
        return forward(self, *args, **kwargs)

    np.save(tmp_path / "z.npy", torch.randn(2, 32).numpy())
    monkeypatch.setattr(MappingNetwork, "forward", watched)
    session = _open(window, qtbot, SG2)
    with qtbot.waitSignal(session.latents_ready, timeout=10_000):
        window.explorer_page.seed.setValue(5)
    with qtbot.waitSignal(session.keyframes_changed, timeout=10_000):
        session.add_keyframe_seed(11)
        session.add_keyframe_seed(12)  # before the first is mapped: neither is lost
    qtbot.waitUntil(lambda: len(session.keyframes) == 2, timeout=10_000)
    with qtbot.waitSignal(session.keyframes_changed, timeout=10_000):
        assert session.load_latents(tmp_path / "z.npy") == 2  # z for a W-space generator
    with qtbot.waitSignal(session.selected_ready, timeout=10_000):
        window.explorer_page.mixer.seed.setValue(9)
        session.set_mix_inputs({1})
    with qtbot.waitSignal(session.selected_ready, timeout=10_000):
        session.set_single_class(None)
    assert on_ui_thread and not any(on_ui_thread)
    monkeypatch.setattr(MappingNetwork, "forward", forward)
    g = session.generator
    assert [k.name for k in session.keyframes] == ["z 0", "z 1"]
    expected = g.broadcast(g.to_latent(torch.from_numpy(np.load(tmp_path / "z.npy"))))
    assert torch.allclose(torch.stack([k.latent for k in session.keyframes]), expected,
                          atol=1e-6)


def test_keyframe_seeds_in_w_are_mapped_in_order(window, qtbot):
    session = _open(window, qtbot, SG2)
    for seed in (11, 12, 13):
        session.add_keyframe_seed(seed)
    qtbot.waitUntil(lambda: len(session.keyframes) == 3, timeout=10_000)
    assert [k.name for k in session.keyframes] == ["seed 11", "seed 12", "seed 13"]
    g = session.generator
    expected = g.broadcast(g.to_latent(g.sample_z(1, 12)))[0]
    assert torch.allclose(session.keyframes[1].latent, expected, atol=1e-6)


def test_truncation_with_a_cutoff_truncates_only_the_first_styles(window, qtbot):
    session = _open(window, qtbot, SG2)
    page = window.explorer_page
    _full(qtbot, session.selected_ready, lambda: page.truncation.setValue(0.0))
    shown = _full(qtbot, session.selected_ready, lambda: page.cutoff.setValue(3))
    assert session.cutoff == 3 and "ψ 0.00 on styles 0–2" in shown["caption"]
    g = session.generator
    ws = session.latents[session.selected]
    expected = ws.clone()
    expected[:3] = g.mean_latent()  # ψ 0 on the first three: the mean latent there
    assert torch.allclose(session.selected_latent(), expected, atol=1e-6)
    assert np.array_equal(shown["image"], _drawn(session, expected[None])[0])
    everything = _full(qtbot, session.selected_ready, lambda: page.cutoff.setValue(g.num_ws))
    assert session.cutoff is None
    assert np.array_equal(everything["image"],
                          _drawn(session, g.mean_latent().expand(1, g.num_ws, -1))[0])


def test_file_open_lists_the_formats_and_psi_noise_and_folder_are_remembered(window, qtbot,
                                                                             monkeypatch):
    asked = []

    def choose(parent, title, folder, filters):
        asked.append((folder, filters))
        return (str(SG2) if len(asked) == 1 else ""), ""  # the second time: Cancel

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(choose))
    with qtbot.waitSignal(window.explorer_controller.opened, timeout=60_000):
        window.explorer_controller.act_open_checkpoint.trigger()
        busy = window.read_progress  # the file is read off the UI thread, under a busy bar
        assert busy.isVisibleTo(window) and SG2.name in busy.label.text()
    assert not window.read_progress.isVisibleTo(window)
    for name in ("*.safetensors", "*.pkl", "config.json", "*.pt2", "*.pth", "StyleGAN3",
                 "BigGAN"):
        assert name in asked[0][1]
    page = window.explorer_page
    page.noise_mode.setCurrentText("none")
    page.truncation.setValue(0.0)
    session = _open(window, qtbot, SG2)  # a new session starts where the last one was
    assert (session.psi, session.noise_mode) == (0.0, "none")
    assert page.truncation.value() == 0.0 and page.noise_mode.currentText() == "none"
    mean = _drawn(session, session.generator.mean_latent().expand(1, 8, -1))[0]
    for cell in range(16):  # ψ 0: every sample is the mean image (batched: within 1/255)
        assert np.abs(page.grid.cell_image(cell).astype(int) - mean).max() <= 1
    window.explorer_controller.act_open_checkpoint.trigger()
    assert asked[1][0] == str(SG2.parent)


def test_a_style_mixing_switch_takes_that_style_from_the_second_seed(window, qtbot):
    session = _open(window, qtbot, SG2)
    page = window.explorer_page
    g = session.generator
    second = g.broadcast(g.to_latent(g.sample_z(1, 1)))[0]  # the default second seed: seed + 1
    before = page.selected.image().copy()
    shown = _full(qtbot, session.selected_ready,
                  lambda: qtbot.mouseClick(page.mixer.switches[6], Qt.MouseButton.LeftButton))
    assert session.mix_inputs == {6} and page.mixer.switches[6].isChecked()
    assert "styles 6 from seed 1" in shown["caption"]
    expected = session.latents[session.selected].clone()
    expected[6] = second[6]
    assert torch.allclose(session.selected_latent(), expected, atol=1e-6)
    assert np.array_equal(shown["image"], _drawn(session, expected[None])[0])
    assert not np.array_equal(shown["image"], before)
    session.select(4)  # a picked grid sample as the second latent
    coarse = _full(qtbot, session.selected_ready, lambda: page.mixer.use_selected.click())
    assert session.mix_sample == 4 and session.mix_seed is None
    preset = next(page.mixer.presets.itemAt(i).widget() for i in range(page.mixer.presets.count())
                  if page.mixer.presets.itemAt(i).widget().text() == "Coarse")
    coarse = _full(qtbot, session.selected_ready, preset.click)
    first, stop = 0, g.layer_groups[1][2]  # the coarse third: 4×4 and 8×8
    assert session.mix_inputs == set(range(first, stop))
    assert "from sample 4" in coarse["caption"]


def test_a_layer_range_edit_moves_only_those_styles(window, qtbot):
    session = _open(window, qtbot, SG2)
    page = window.explorer_page
    qtbot.waitUntil(lambda: "PC1" in page._direction_sliders, timeout=30_000)
    page._focus_direction("PC1")
    assert page.layer_range.direction == "PC1"
    _full(qtbot, session.selected_ready, lambda: page.layer_range.slider.setValue((2, 4)))
    assert session.direction_layers["PC1"] == (2, 5)
    assert "[2–4]" in page._direction_labels["PC1"].text()
    shown = _full(qtbot, session.selected_ready,
                  lambda: page._direction_sliders["PC1"].setValue(3.0))
    w, base = session.selected_latent(), session.latents[session.selected]
    moved = (w - base).norm(dim=1) > 1e-6
    assert moved.tolist() == [i in (2, 3, 4) for i in range(session.generator.num_ws)]
    assert torch.allclose(w[3], base[3] + 3.0 * session.directions["PC1"], atol=1e-6)
    assert np.array_equal(shown["image"], _drawn(session, w[None])[0])
    fine = next(page.layer_range.presets.itemAt(i).widget()
                for i in range(page.layer_range.presets.count())
                if page.layer_range.presets.itemAt(i).widget().text() == "Fine")
    _full(qtbot, session.selected_ready, fine.click)
    assert session.direction_layers["PC1"] == (session.generator.layer_groups[3][1], 8)


def test_directions_are_saved_and_loaded_by_name_with_their_layers(window, qtbot, tmp_path):
    session = _open(window, qtbot, SG2)
    qtbot.waitUntil(lambda: "PC2" in session.directions, timeout=30_000)
    session.set_direction_layers("PC2", (0, 4))
    assert session.rename_direction("PC2", "pose") == "pose"
    path = session.save_directions(tmp_path / "mine.json")
    session.remove_direction("pose")
    assert "pose" not in session.directions
    with qtbot.waitSignal(session.directions_changed, timeout=5_000):
        assert session.load_directions(path)[:2] == ["PC1", "pose"]
    assert session.direction_layers["pose"] == (0, 4)
    assert "pose" in window.explorer_page._direction_sliders
    assert not session.is_principal("pose")
    with pytest.raises(GanStudioError, match="space"):
        explore.read_directions(path, load_generator(BIGGAN))  # z, not w


def test_noise_modes_change_the_selected_sample(window, qtbot):
    session = _open(window, qtbot, SG2)
    page = window.explorer_page
    const = page.selected.image().copy()
    none = _full(qtbot, session.selected_ready, lambda: page.noise_mode.setCurrentText("none"))
    assert session.noise_mode == "none" and not np.array_equal(none["image"], const)
    _full(qtbot, session.selected_ready, lambda: page.noise_mode.setCurrentText("random"))
    one = _full(qtbot, session.selected_ready, lambda: page.noise_seed.setValue(1))
    two = _full(qtbot, session.selected_ready, lambda: page.noise_seed.setValue(2))
    assert not np.array_equal(one["image"], two["image"])
    expected = _drawn(session, session.selected_latent()[None],
                      options=RenderOptions(noise_mode="random", noise_seed=2))
    assert np.array_equal(two["image"], expected[0])


def test_the_layer_view_shows_feature_maps_with_a_channel_slider(window, qtbot):
    session = _open(window, qtbot, SG2)
    page = window.explorer_page
    view = page.layer_view
    assert page.tabs.isTabVisible(page.tabs.indexOf(view))
    assert [view.layer.itemText(i) for i in range(view.layer.count())] == \
        list(session.generator.layers)
    with qtbot.waitSignal(session.layer_ready, timeout=10_000) as ready:
        page.tabs.setCurrentWidget(view)
    layer = view.layer.currentText()
    maps = session.generator.layer_features(session.selected_latent()[None], layer)[0]
    assert ready.args[0]["channels"] == maps.shape[0] and view.canvas.image() is not None
    with qtbot.waitSignal(session.layer_ready, timeout=10_000):
        view.one_mode.click()
    with qtbot.waitSignal(session.layer_ready, timeout=10_000) as ready:
        view.channel.setValue(5)
    assert session.layer_channel == 5
    assert ready.args[0]["max"] == pytest.approx(float(maps[5].max()), abs=1e-5)
    assert f"max {float(maps[5].max()):.3g}" in view.stats.text()
    assert view.canvas.image().shape[:2] == tuple(maps.shape[1:])
    with qtbot.assertNotEmitted(session.layer_ready, wait=200):
        page.tabs.setCurrentIndex(0)  # hidden: no more layer renders
        session.set_edit("anything", 1.0)
    assert session.layer is None


def test_the_layer_view_works_for_dcgans_too(window, qtbot, tmp_path):
    session = _open(window, qtbot, _dcgan_example(tmp_path / "netG.pth"))
    page = window.explorer_page
    assert not page.mixing_section.isVisibleTo(page) and not page.cutoff.isVisibleTo(page)
    assert not page.convert_bar.isVisibleTo(page)
    with qtbot.waitSignal(session.layer_ready, timeout=10_000) as ready:
        page.tabs.setCurrentWidget(page.layer_view)
    assert ready.args[0]["channels"] > 1


def test_stylegan3_transform_sliders_and_animation_move_the_image(window, qtbot,
                                                                  small_stylegan3):
    session = _open(window, qtbot, small_stylegan3)
    page = window.explorer_page
    assert page.transform_section.isVisibleTo(page) and not page.noise_section.isVisibleTo(page)
    still = page.selected.image().copy()
    turned = _full(qtbot, session.selected_ready, lambda: page.transform.rotate.setValue(90.0))
    assert session.transform == (0.0, 0.0, 90.0) and "turned +90°" in turned["caption"]
    expected = _drawn(session, session.selected_latent()[None],
                      options=RenderOptions(transform=(0.0, 0.0, 90.0)))
    assert np.array_equal(turned["image"], expected[0])
    assert not np.array_equal(turned["image"], still)
    moved = _full(qtbot, session.selected_ready, lambda: page.transform.x.setValue(0.25))
    assert session.transform == (0.25, 0.0, 90.0) and not np.array_equal(moved["image"],
                                                                         turned["image"])
    grid = page.grid.image().copy()  # the grid stays still: the transform is the sample's
    seen = []
    session.selected_ready.connect(lambda r: seen.append(session.transform))
    page.transform.play.setChecked(True)
    qtbot.waitUntil(lambda: len(set(seen)) >= 3, timeout=10_000)
    page.transform.play.setChecked(False)
    assert len({t[2] for t in seen}) >= 3  # the animation turns the input
    assert np.array_equal(page.grid.image(), grid)
    _full(qtbot, session.selected_ready, page.transform.reset)
    assert session.transform == (0.0, 0.0, 0.0)


def test_the_selected_sample_previews_coarse_before_the_full_image(window, qtbot):
    session = _open(window, qtbot, SG2)
    page = window.explorer_page
    results = []
    page.truncation.setValue(0.5)  # older results are dropped from here on (by their stamp)
    session.selected_ready.connect(results.append)
    qtbot.waitUntil(lambda: bool(results) and not results[-1].get("partial"), timeout=20_000)
    assert [r.get("partial", False) for r in results] == [True, True, True, False]
    assert "refining" not in page.caption.text()
    g = session.generator
    stages = list(g.render_stages(session.selected_latent()[None]))
    first = explore.to_uint8(stages[0], (-1.0, 1.0))[0]  # the 4×4 stage, shown at 32 px
    assert np.array_equal(results[0]["image"], first)
    assert np.array_equal(results[-1]["image"], _drawn(session, session.selected_latent()[None])[0])


def test_a_grid_of_big_images_fills_in_as_they_arrive(window, qtbot, monkeypatch):
    monkeypatch.setattr(explore, "SMALL_IMAGE_PIXELS", 0)  # every generator counts as big
    monkeypatch.setattr(explore, "PART_SECONDS", 0.0)  # one image a part
    session = _open(window, qtbot, SG2)
    grids = []
    session.set_seed(3)
    session.grid_ready.connect(grids.append)
    qtbot.waitUntil(lambda: bool(grids) and not grids[-1].get("partial"), timeout=20_000)
    assert [g["done"] for g in grids[:-1]] == list(range(1, 16))
    last = grids[-1]
    g = session.generator
    assert np.array_equal(last["image"], explore.make_grid(_drawn(
        session, g.broadcast(g.to_latent(g.sample_z(16, 3)))), 4))
    partial = grids[0]["image"]
    assert not np.array_equal(partial, last["image"])  # cells still to come are plain grey
    assert (partial[2 + 34 : 2 + 34 + 32, 2 : 2 + 32] == explore.PENDING_SHADE).all()


def test_w_latents_interpolate_plane_export_and_save(window, qtbot, tmp_path):
    from PIL import Image

    session = _open(window, qtbot, SG2)
    qtbot.waitUntil(lambda: "PC1" in session.directions, timeout=30_000)
    g = session.generator
    session.set_direction_layers("PC1", (0, 2))
    session.set_mix_inputs({7})
    session.select(2)
    session.add_keyframe_selected()
    with qtbot.waitSignal(session.strip_ready, timeout=10_000,
                          check_params_cb=lambda r: not r.get("partial")) as strip:
        session.select(5)
        session.add_keyframe_selected()
    assert session.method == "lerp" and len(strip.args[0]["frames"]) == 16
    keys = torch.stack([k.latent for k in session.keyframes])
    assert keys.shape == (2, g.num_ws, g.latent_dim)
    assert torch.allclose(session.path()[0][-1], keys[-1], atol=1e-6)
    qtbot.waitUntil(lambda: window.explorer_page.plane.image() is not None, timeout=20_000)
    plane = latent.plane(session.selected_latent(), session.direction_vector("PC1"),
                         session.direction_vector("PC2"), session.plane_extent, 3)
    assert plane.shape == (9, g.num_ws, g.latent_dim)
    assert torch.equal(plane[4], session.selected_latent())  # the centre is the sample itself
    walk = latent.walk(session.selected_latent(), session.direction_vector("PC1"), 5, 2.0)
    assert torch.equal(walk[:, 2:], session.selected_latent()[None, 2:].expand(5, -1, -1))
    for kind, name in (("image", "one.png"), ("grid", "grid.png"), ("animation", "keys.gif"),
                       ("walk", "walk.webp")):
        session.export_job(kind, tmp_path / name, direction="PC1")(lambda f: None)
    with Image.open(tmp_path / "keys.gif") as im:
        assert im.n_frames == 16 and im.size == (256, 256)
    for suffix in (".json", ".npz"):
        path = session.save_latents(tmp_path / f"keys{suffix}", "keyframes")
        assert explore.read_latents(path, g).space == "w"
        session.clear_keyframes()
        with qtbot.waitSignal(session.keyframes_changed, timeout=5_000):
            assert session.load_latents(path) == 2
        assert torch.allclose(torch.stack([k.latent for k in session.keyframes]), keys)
    with pytest.raises(GanStudioError, match="plain z"):
        session.save_latents(tmp_path / "w.npy", "keyframes")


def test_arithmetic_in_w_survives_truncation(window, qtbot):
    session = _open(window, qtbot, SG2)
    session.set_truncation(0.6)
    session.set_cutoff(4)
    for slot, index in zip("ABC", (1, 2, 3)):
        session.select(index)
        session.set_arithmetic(slot)
    a, b, c = (session.arithmetic[k] for k in "ABC")
    shown = _full(qtbot, session.selected_ready, session.apply_arithmetic)
    assert torch.allclose(session.selected_latent(), a - b + c, atol=1e-5)
    assert np.array_equal(shown["image"], _drawn(session, (a - b + c)[None])[0])


def test_a_conditional_stylegan_maps_its_classes_and_mixes_them(window, qtbot,
                                                                conditional_pickle):
    session = _open(window, qtbot, conditional_pickle)
    page = window.explorer_page
    g = session.generator
    assert g.conditional and len(g.classes) == 5 and page.class_mode.isVisibleTo(page)
    with qtbot.waitSignal(session.latents_ready, timeout=10_000):
        page.class_mode.setCurrentIndex(page.class_mode.findData(3))
    labels = torch.full((16,), 3)
    assert torch.allclose(session.latents, g.broadcast(g.to_latent(session.z, labels)),
                          atol=1e-6)
    page.morph_target.setCurrentIndex(1)
    shown = _full(qtbot, session.selected_ready, lambda: page.morph_amount.setValue(0.5))
    vector = torch.tensor([[0.0, 0.5, 0.0, 0.5, 0.0]])
    assert torch.allclose(session.selected_labels(), vector)
    z = session.z[session.selected : session.selected + 1]
    expected = g.broadcast(g.to_latent(z, vector))  # the class mix goes through the mapping
    assert torch.allclose(session.selected_latent(), expected[0], atol=1e-6)
    assert np.array_equal(shown["image"], _drawn(session, expected)[0])


def test_biggan_classes_are_found_by_name_and_mixed(window, qtbot):
    session = _open(window, qtbot, BIGGAN)
    page = window.explorer_page
    assert not page.mixing_section.isVisibleTo(page) and "1,000 classes" in page.details.text()
    combo = page.class_mode
    assert combo.count() == 1001
    combo.lineEdit().selectAll()
    qtbot.keyClicks(combo.lineEdit(), "retriever")  # any part of a name finds it
    popup = combo.completer().popup()
    qtbot.waitUntil(popup.isVisible, timeout=5_000)
    found = [popup.model().index(i, 0).data() for i in range(popup.model().rowCount())]
    assert "All: golden retriever" in found and all("retriever" in f for f in found)
    popup.setCurrentIndex(popup.model().index(found.index("All: golden retriever"), 0))
    with qtbot.waitSignal(session.grid_ready, timeout=60_000,  # 16 BigGAN images, busy CPU
                          check_params_cb=lambda r: not r.get("partial")):
        qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert session.single_class == 207 and session.labels.tolist() == [207] * 16
    page.morph_target.setCurrentIndex(page.morph_target.findText("tabby"))
    page.morph_amount.setValue(0.3)
    shown = _full(qtbot, session.selected_ready,
                  lambda: page._add_mix_row(page.morph_target.findText("goldfish"), 0.2))
    vector = session.selected_labels()[0]
    assert vector.shape == (1000,) and (vector != 0).sum() == 3
    assert vector[207] == pytest.approx(0.5) and vector[281] == pytest.approx(0.3)
    assert vector[1] == pytest.approx(0.2)
    expected = _drawn(session, session.selected_latent()[None], vector[None])
    assert np.array_equal(shown["image"], expected[0])
    _full(qtbot, session.selected_ready, lambda: page.truncation.setValue(0.4))
    assert float(session.z.abs().max()) <= 2 * 0.4 + 1e-6  # BigGAN's truncated noise


def _catalogue(server):
    from ganstudio.engine.networks_catalogue import NetworkEntry, NetworkFile

    return {"tiny": NetworkEntry(
        "tiny", "A tiny StyleGAN2", "stylegan2", 32, "test", "http://example.invalid",
        "test licence, non-commercial",
        (NetworkFile("tiny.pkl", (server.base + "tiny.pkl",), 1000, None),), "tiny.pkl")}


def _dialog(window, qtbot):
    window.explorer_controller.act_download.trigger()
    qtbot.waitUntil(lambda: window.explorer_controller.download_dialog is not None
                    and window.explorer_controller.download_dialog.isVisible(), timeout=5_000)
    return window.explorer_controller.download_dialog


def test_the_download_dialog_downloads_with_progress_and_opens(window, qtbot, tmp_path,
                                                               monkeypatch):
    from ganstudio.engine import networks_catalogue

    monkeypatch.setattr(networks_catalogue, "network_folder", lambda name: tmp_path / name)
    gate = threading.Event()
    server = FileServer({"tiny.pkl": SG2.read_bytes()}, gate)
    try:
        monkeypatch.setattr(networks_catalogue, "networks", lambda: _catalogue(server))
        dialog = _dialog(window, qtbot)
        assert dialog.table.rowCount() == 1 and dialog.table.item(0, 0).text() == \
            "A tiny StyleGAN2"
        assert "non-commercial" in dialog.details.text() and dialog.go.text() == "Download"
        with qtbot.waitSignal(dialog.progressed, timeout=10_000):
            dialog.go.click()
        assert dialog.progress.isVisible() and dialog.cancel_button.isVisible()
        assert not dialog.go.isEnabled()
        with qtbot.waitSignal(window.explorer_controller.opened, timeout=30_000) as opened:
            gate.set()
        assert opened.args[0].generator.path == tmp_path / "tiny" / "tiny.pkl"
        assert networks_catalogue.downloaded_path("tiny") is not None
        qtbot.waitUntil(lambda: window.explorer_controller.download_dialog is None, timeout=5_000)
        again = _dialog(window, qtbot)
        assert again.go.text() == "Open" and again.table.item(0, 4).text() == "✓ downloaded"
        again.reject()
    finally:
        gate.set()
        server.close()


def test_a_download_can_be_cancelled_and_resumes_later(window, qtbot, tmp_path, monkeypatch):
    from ganstudio.engine import networks_catalogue

    monkeypatch.setattr(networks_catalogue, "network_folder", lambda name: tmp_path / name)
    gate = threading.Event()
    server = FileServer({"tiny.pkl": SG2.read_bytes()}, gate)
    try:
        monkeypatch.setattr(networks_catalogue, "networks", lambda: _catalogue(server))
        dialog = _dialog(window, qtbot)
        with qtbot.waitSignal(dialog.progressed, timeout=10_000):
            dialog.go.click()
        with qtbot.waitSignal(dialog.finished_download, timeout=20_000) as done:
            dialog.cancel_button.click()
            gate.set()
        assert "cancelled" in dialog.status.text() and dialog.go.isEnabled()
        assert done.args[0].__class__.__name__ == "JobFailed"
        assert window.explorer_controller.session is None
        dialog.reject()
    finally:
        gate.set()
        server.close()


def test_a_download_that_does_not_open_is_refused_and_deleted(window, qtbot, tmp_path,
                                                               monkeypatch):
    from ganstudio.engine import networks_catalogue

    monkeypatch.setattr(networks_catalogue, "network_folder", lambda name: tmp_path / name)
    server = FileServer({"tiny.pkl": b"<html>a login page, not a network</html>" * 25})
    try:
        monkeypatch.setattr(networks_catalogue, "networks", lambda: _catalogue(server))
        dialog = _dialog(window, qtbot)
        with qtbot.waitSignal(dialog.finished_download, timeout=20_000) as done:
            dialog.go.click()
        assert done.args[0].__class__.__name__ == "JobFailed"
        assert "failed" in dialog.status.text() and "tiny" in dialog.status.text()
        assert "\n" not in dialog.status.text() and dialog.go.isEnabled()
        assert not (tmp_path / "tiny").exists() and window.explorer_controller.session is None
        dialog.reject()
    finally:
        server.close()


def test_opening_a_pickle_offers_to_convert_it(window, qtbot, tmp_path, monkeypatch):
    session = _open(window, qtbot, SG2)
    page = window.explorer_page
    target = tmp_path / "sg2.safetensors"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    converted = []
    window.explorer_controller.converted.connect(converted.append)
    with qtbot.waitSignal(window.explorer_controller.opened, timeout=30_000) as opened:
        qtbot.mouseClick(page.convert_button, Qt.MouseButton.LeftButton)
    assert converted == [str(target)] and not page.convert_bar.isVisibleTo(page)
    assert opened.args[0].generator.path == target  # the converted file is what is shown
    assert window.settings.recent("checkpoints")[0] == str(target)
    again = load_generator(target)
    assert again.source == "ganstudio" and again.meta["converted_from"]["file"] == SG2.name
    z = session.generator.sample_z(2, 0)
    assert torch.allclose(again.render(again.to_latent(z)),
                          session.generator.render(session.generator.to_latent(z)), atol=1e-5)
    assert not page.convert_bar.isVisibleTo(page)  # a GAN Studio checkpoint needs no offer


def _dcgan_example(path):
    """A generator of the PyTorch DCGAN example's layout (8 px), saved as its netG.pth."""
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(
        nn.ConvTranspose2d(6, 4, 4, 1, 0, bias=False), nn.BatchNorm2d(4), nn.ReLU(True),
        nn.ConvTranspose2d(4, 3, 4, 2, 1, bias=False), nn.Tanh())
    torch.save({f"main.{k}": v for k, v in net.state_dict().items()}, path)
    return path


def _formats(tmp_path, stylegan3):
    """One file or folder of each format GAN Studio opens."""
    from ganstudio.engine.convert import convert
    from ganstudio.resources import pretrained_dir

    _dcgan_example(tmp_path / "netG.pth")

    class Program(torch.nn.Module):
        def forward(self, z):
            return torch.tanh(z[:, :12].reshape(-1, 3, 2, 2))

    torch.export.save(torch.export.export(Program(), (torch.randn(4, 16),)),
                      tmp_path / "tiny.pt2")
    convert(load_generator(stylegan3), tmp_path / "sg3.safetensors")
    return {"pkl": SG2, "biggan folder": BIGGAN, "biggan weights": BIGGAN / "pytorch_model.bin",
            "biggan config": BIGGAN / "config.json", "pt2": tmp_path / "tiny.pt2",
            "netG.pth": tmp_path / "netG.pth", "safetensors": tmp_path / "sg3.safetensors",
            "shipped": pretrained_dir() / "shapes.safetensors"}


def test_every_format_opens_by_drop_recent_list_and_explore(window, qtbot, tmp_path,
                                                            small_stylegan3):
    from ganstudio.app.main_window import MainWindow

    for kind, path in _formats(tmp_path, small_stylegan3).items():
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        event = QDragEnterEvent(QPointF(5, 5).toPoint(), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        assert MainWindow._dropped_path(event) == path, kind  # the drop cursor accepts it
        with qtbot.waitSignal(window.explorer_controller.opened, timeout=60_000) as opened:
            assert window.open_path(path)  # what a drop and File → Open do
        generator = opened.args[0].generator
        worker = opened.args[0].worker  # all its renders done: none left running at exit
        qtbot.waitUntil(lambda w=worker: window.explorer_page.grid.image() is not None
                        and w.idle(), timeout=90_000)
        recent = window.settings.recent("checkpoints")[0]
        assert load_generator(recent).source == generator.source, kind
    recent = window.settings.recent("checkpoints")
    assert str(BIGGAN) in recent and len(recent) == 6  # a BigGAN file is listed as its folder
    with qtbot.waitSignal(window.explorer_controller.opened, timeout=60_000) as opened:
        window.open_recent("checkpoints", str(SG2))  # the pickle, from the recent list
    assert opened.args[0].generator.path == SG2


def test_ganstudio_explore_opens_a_biggan_folder(qtbot, app_settings, monkeypatch):
    from ganstudio.app import main

    window = main.show_window(app_settings, open_path=BIGGAN, explore=True)
    try:
        with qtbot.waitSignal(window.explorer_controller.opened, timeout=60_000) as opened:
            pass
        assert opened.args[0].generator.meta["family"] == "biggan"
        assert "BigGAN folder" in window.explorer_page.convert_text.text()
    finally:
        window.close()
        window.deleteLater()
