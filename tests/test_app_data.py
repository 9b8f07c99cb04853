"""Real data in the window: adding, inspecting, downloading and preparing sets, the cache, and
training on a prepared set, offscreen."""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
# The first job of a session imports torch on its worker: slow on a busy 2-core machine.
WAIT_MS = 60_000


def _image_folder(root: Path, counts: dict[str, int], side: int = 20) -> Path:
    """Class subfolders of small PNGs, a text file beside them (skipped quietly)."""
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    (root / "notes.txt").write_text("not an image")
    return root


def _panel_text(window) -> str:
    return window.setup.data_panel.report.text()


def test_an_added_folder_is_inspected_and_shown_with_its_classes(window, qtbot, tmp_path,
                                                                  monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    folder = _image_folder(tmp_path / "pets", {"cat": 3, "dog": 2})
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(folder)))
    data = window.data_controller
    assert data.act_add_folder in window.setup.data_panel.add_button.menu().actions()
    with qtbot.waitSignal(data.inspected, timeout=WAIT_MS) as got:
        data.act_add_folder.trigger()
    inspection = got.args[0]
    assert inspection.count == 5 and inspection.classes == ("cat", "dog")
    assert inspection.class_counts == (3, 2)
    setup = window.setup
    entry = setup.real_entry()
    assert entry is not None and entry.source == str(folder.resolve())
    text = _panel_text(window)
    assert "5 images" in text and "2 classes: cat (3), dog (2)" in text
    assert "Skipped 1 hidden files and non-images" in text and "20×20 px, colour" in text
    assert setup.data_panel.report.isVisible() and setup.data_panel.grid.isVisible()
    grid = setup.data_panel.grid_pixmap()
    assert grid is not None and grid.width() > 0
    assert str(folder.resolve()) in window.settings.recent("datasets")
    # the settings follow: real data at a size dcgan builds, the recipe for it
    cfg = setup.config()
    assert cfg.data.source == str(folder.resolve()) and cfg.data.name == "pets"
    assert cfg.model.family == "dcgan" and cfg.data.resolution in (16, 28, 32, 64, 128)
    assert not setup.problems()


def test_a_bad_path_shows_a_one_line_error(window, qtbot, tmp_path):
    data = window.data_controller
    panel = window.setup.data_panel
    missing = tmp_path / "nowhere"
    data.add_path(missing)
    qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=WAIT_MS)
    assert str(missing) in panel.error.text() and "\n" not in panel.error.text()
    empty = tmp_path / "only-text"
    empty.mkdir()
    (empty / "a.txt").write_text("hello")
    qtbot.waitUntil(lambda: not data.busy, timeout=WAIT_MS)
    data.add_path(empty)
    qtbot.waitUntil(lambda: "holds no images" in panel.error.text(), timeout=WAIT_MS)
    assert str(empty) in panel.error.text()
    assert window.setup.real_entry() is None  # nothing was added


# --- downloads on loopback ---------------------------------------------------------------


def _npy_bytes() -> bytes:
    images = np.random.default_rng(1).integers(0, 256, (12, 16, 16), dtype=np.uint8)
    buffer = io.BytesIO()
    np.save(buffer, images, allow_pickle=False)
    return buffer.getvalue()


class _Server:
    """Serves ``files``; one named ``held`` stops half-way until ``release`` is set."""

    def __init__(self, files: dict[str, bytes], held: str = ""):
        self.release = threading.Event()
        release = self.release

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path == held:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    release.wait(30)
                    body = body[len(body) // 2 :]
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_port}/"

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def loopback_catalogue(monkeypatch):
    """A catalogue of three sets served on 127.0.0.1: one intact, one with a wrong checksum,
    one whose server stops half-way until the test releases it."""
    from ganstudio.engine.data import catalogue

    body = _npy_bytes()
    server = _Server({"/images.npy": body, "/slow/images.npy": body}, held="/slow/images.npy")
    good = hashlib.sha256(body).hexdigest()

    def entry(name, sha256, mirror=server.base):
        return catalogue.CatalogueEntry(
            name, name.title(), "A tiny test set", "http://127.0.0.1/", "test", (mirror,),
            (catalogue.CatalogueFile("images.npy", len(body), sha256, None),), "images.npy",
            ())

    suffix = hashlib.sha256(str(id(server)).encode()).hexdigest()[:6]
    sets = {f"tiny-{suffix}": entry(f"tiny-{suffix}", good),
            f"broken-{suffix}": entry(f"broken-{suffix}", "0" * 64),
            f"slow-{suffix}": entry(f"slow-{suffix}", good, server.base + "slow/")}
    monkeypatch.setattr(catalogue, "catalogue", lambda: sets)
    yield list(sets), server
    server.close()


def _choose(window, qtbot, source: str) -> None:
    data = window.data_controller
    with qtbot.waitSignal(data.listed, timeout=WAIT_MS):
        data.refresh()
    window.setup.select_real_dataset(source)
    assert window.setup.real_entry().source == source


def test_a_catalogue_set_downloads_with_progress_then_is_inspected(window, qtbot,
                                                                   loopback_catalogue):
    name = loopback_catalogue[0][0]
    _choose(window, qtbot, name)
    panel = window.setup.data_panel
    assert panel.download_button.isVisible() and not panel.prepare_button.isVisible()
    assert window.setup.problems()  # cannot train before it is downloaded
    progress = []
    window.data_controller.progress.connect(lambda what, done, total: progress.append(done))
    with qtbot.waitSignal(window.data_controller.inspected, timeout=WAIT_MS) as got:
        qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    assert got.args[0].count == 12 and max(progress) > 0
    assert not panel.progress_row.isVisible() and not panel.error.isVisible()
    qtbot.waitUntil(lambda: window.setup.real_entry() is not None
                    and window.setup.real_entry().present, timeout=WAIT_MS)
    assert panel.prepare_button.isVisible() and not panel.download_button.isVisible()
    assert "12 images" in _panel_text(window)


def test_a_wrong_checksum_is_shown_and_leaves_no_file(window, qtbot, loopback_catalogue):
    from ganstudio.engine.data.catalogue import download_folder

    name = loopback_catalogue[0][1]
    _choose(window, qtbot, name)
    panel = window.setup.data_panel
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=WAIT_MS)
    text = panel.error.text()
    assert text.startswith("Download failed") and "wrong sha256 checksum" in text
    assert "deleted" in text
    assert not (download_folder(name) / "images.npy").exists()
    assert not panel.progress_row.isVisible()


def test_a_download_cancelled_half_way_keeps_its_part_to_resume(window, qtbot,
                                                               loopback_catalogue):
    from ganstudio.engine.data.catalogue import download_folder

    names, server = loopback_catalogue
    name = names[2]
    _choose(window, qtbot, name)
    panel = window.setup.data_panel
    qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.progress_row.isVisible() and panel.progress_bar.value() > 0,
                    timeout=WAIT_MS)
    assert panel.cancel_button.isVisible()
    with qtbot.waitSignal(window.data_controller.job_ended, timeout=WAIT_MS):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        server.release.set()
    assert "cancelled" in window.statusBar().currentMessage()
    assert not panel.error.isVisible() and not panel.progress_row.isVisible()
    folder = download_folder(name)
    assert (folder / "images.npy.part").is_file() and not (folder / "images.npy").exists()
    assert panel.download_button.isVisible() and panel.download_button.isEnabled()


# --- preparing and training --------------------------------------------------------------


def test_a_cancelled_prepare_leaves_nothing_in_the_cache(window, qtbot, tmp_path, monkeypatch):
    from ganstudio.app.controllers import data_controller
    from ganstudio.engine.data.prepare import list_prepared, prepared_root

    folder = _image_folder(tmp_path / "cancelled", {"a": 6, "b": 6}, side=24)
    data = window.data_controller
    with qtbot.waitSignal(data.inspected, timeout=WAIT_MS):
        data.add_path(folder)
    # the worker waits at its first progress until the test has pressed Cancel
    pressed = threading.Event()
    real = data_controller.prepare_dataset

    def held(config, progress, cancel):
        def report(done, total):
            progress(done, total)
            pressed.wait(10)

        return real(config, report, cancel)

    monkeypatch.setattr(data_controller, "prepare_dataset", held)
    panel = window.setup.data_panel
    qtbot.mouseClick(panel.prepare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.progress_row.isVisible() and panel.progress_bar.value() > 0,
                    timeout=WAIT_MS)
    with qtbot.waitSignal(data.job_ended, timeout=WAIT_MS):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        pressed.set()
    assert not any(p.source == str(folder.resolve()) for p in list_prepared())
    root = prepared_root()
    assert not root.is_dir() or not [p for p in root.iterdir() if "cancelled" in p.name]
    assert "cancelled" in window.statusBar().currentMessage()
    assert not panel.error.isVisible()


def test_prepare_then_train_on_the_prepared_set(window, qtbot, tmp_path):
    from ganstudio.engine.data.prepare import list_prepared

    folder = _image_folder(tmp_path / "squares", {"x": 8, "y": 8}, side=16)
    data = window.data_controller
    with qtbot.waitSignal(data.inspected, timeout=WAIT_MS):
        data.add_path(folder)
    setup = window.setup
    assert setup.resolution.currentData() == 16  # the images' own side, which dcgan builds
    cfg = setup.config()
    cfg.model.width = 0.125
    cfg.train.steps, cfg.train.batch_size, cfg.train.sample_every = 3, 8, 1
    cfg.train.checkpoint_every, cfg.train.device, cfg.loss.r1_gamma = 0, "cpu", 0.0
    setup.set_config(cfg)
    assert setup.real_entry().source == str(folder.resolve())
    with qtbot.waitSignal(data.prepared, timeout=WAIT_MS):
        qtbot.mouseClick(setup.start_button, Qt.MouseButton.LeftButton)
    assert any(p.source == str(folder.resolve()) and p.shape == (3, 16, 16)
               for p in list_prepared())
    session = window.training_controller.session
    assert session is not None and session.config.data.source == str(folder.resolve())
    with qtbot.waitSignal(session.state.done, timeout=60_000) as done:
        pass
    assert done.args[0].reason == "finished"
    assert window.training.samples.count() > 0  # the run drew samples as it trained
    # the listed sets now include the prepared one, and the cache has a size
    qtbot.waitUntil(lambda: any(e.kind == "prepared" and e.source == str(folder.resolve())
                                for e in data.entries), timeout=WAIT_MS)
    assert "Cache: 0 B prepared" not in setup.data_panel.cache_label.text()


def test_clear_cache_asks_first_then_empties_it(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from ganstudio.engine.data.prepare import list_prepared

    folder = _image_folder(tmp_path / "to-clear", {"a": 4}, side=16)
    data = window.data_controller
    with qtbot.waitSignal(data.inspected, timeout=WAIT_MS):
        data.add_path(folder)
    with qtbot.waitSignal(data.prepared, timeout=WAIT_MS):
        data.prepare_selected()
    assert list_prepared()
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel)
    data.clear_cache()
    assert asked and list_prepared()  # declined: nothing deleted
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    label = window.setup.data_panel.cache_label
    qtbot.waitUntil(lambda: "B prepared" in label.text() and "Cache: 0 B" not in label.text(),
                    timeout=WAIT_MS)
    qtbot.mouseClick(window.setup.data_panel.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Cache: 0 B prepared" in label.text(), timeout=WAIT_MS)
    assert not list_prepared()


@pytest.mark.skipif(not FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not "
                    "installed")
def test_the_installed_fashion_mnist_is_listed_by_itself(window, qtbot):
    data = window.data_controller
    with qtbot.waitSignal(data.listed, timeout=WAIT_MS) as listed:
        data.refresh()
    entries = {e.source: e for e in listed.args[0]}
    assert entries["fashion-mnist"].kind == "installed"
    labels = [window.setup.dataset.itemText(i) for i in range(window.setup.dataset.count())]
    assert "Fashion-MNIST (installed)" in labels


def _drop(widget, path: Path) -> None:
    """Drop ``path`` on ``widget`` as a file manager does."""
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    point = QPointF(5, 5)
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dragEnterEvent(enter)
    assert enter.isAccepted()
    widget.dropEvent(QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))


def test_a_folder_or_array_dropped_on_the_setup_panel_and_an_archive_on_the_window_are_added(
        window, qtbot, tmp_path):
    import shutil

    folder = _image_folder(tmp_path / "dropped", {"only": 2})
    data = window.data_controller
    with qtbot.waitSignal(data.inspected, timeout=WAIT_MS) as got:
        _drop(window.setup.data_panel, folder)
    assert got.args[0].count == 2 and window.setup.real_entry().name == "dropped"
    array = tmp_path / "faces.npy"
    np.save(array, np.zeros((5, 8, 8, 3), np.uint8), allow_pickle=False)
    with qtbot.waitSignal(data.inspected, timeout=WAIT_MS) as got:
        _drop(window.setup.data_panel, array)
    assert got.args[0].count == 5 and window.setup.real_entry().name == "faces"
    archive = shutil.make_archive(str(tmp_path / "pets"), "zip",
                                  _image_folder(tmp_path / "pets-folder", {"cat": 2, "dog": 1}))
    with qtbot.waitSignal(data.inspected, timeout=WAIT_MS) as got:
        _drop(window, Path(archive))
    assert got.args[0].count == 3 and got.args[0].classes == ("cat", "dog")
    assert window.setup.real_entry().source == str(Path(archive).resolve())
