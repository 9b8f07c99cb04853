"""ExplorerController: which generator the explorer shows, its actions and their enabled state.

It opens checkpoints (off the UI thread) into an ExplorerSession bound to the explorer page,
and runs the explorer's exports and latent files. The window lays out its actions and shows
its messages.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from ganstudio.app.actions import actions_of, make_action
from ganstudio.app.background import JobFailed, run_in_background
from ganstudio.app.controllers.training_controller import TrainingController
from ganstudio.app.settings import AppSettings
from ganstudio.app.views.dialogs import show_error
from ganstudio.app.views.explorer_page import ExplorerPage
from ganstudio.engine.errors import GanStudioError

# File → Open's filter: every format GAN Studio opens, then one entry per format (the file's
# content decides how it is read; the suffixes only help people find their files).
OPEN_FILTERS = ";;".join((
    "Generators (*.safetensors *.pkl *.pth *.pt *.pt2 *.bin config.json)",
    "GAN Studio checkpoints (*.safetensors)",
    "NVIDIA StyleGAN2-ADA / StyleGAN3 network pickles (*.pkl)",
    "BigGAN-deep, pytorch-pretrained-BigGAN (config.json pytorch_model.bin)",
    "PyTorch DCGAN-example generators (*.pth *.pt)",
    "torch.export programs (*.pt2)",
    "All files (*)",
))


class ExplorerController(QObject):
    """Owns the explorer's actions (``actions``); ``session`` is the ExplorerSession shown."""

    opened = Signal(object)  # ExplorerSession: a generator is in the explorer now
    exported = Signal(str)  # the path of a finished export
    converted = Signal(str)  # the path of a GAN Studio checkpoint converted from the one shown
    export_progress = Signal(float)
    message = Signal(str, int)  # for the status bar: text, milliseconds (0: until replaced)
    loading = Signal(str)  # the name of a generator being opened off the UI thread; "": done

    def __init__(self, page: ExplorerPage, training: TrainingController, settings: AppSettings,
                 window: QWidget):
        super().__init__(window)
        self.page, self.training, self.settings, self.window = page, training, settings, window
        self.session = None  # an ExplorerSession once a generator is open
        self.export_dialog = None
        self.download_dialog = None
        self._build_actions()
        page.convert_requested.connect(self.convert_current)
        page.save_directions_button.clicked.connect(self.save_directions)
        page.load_directions_button.clicked.connect(self.load_directions)
        self.export_progress.connect(self._on_export_progress)
        page.truncation.valueChanged.connect(self._remember_view)
        page.noise_mode.currentTextChanged.connect(self._remember_view)
        training.page.explore_button.clicked.connect(self.explore_run)
        training.changed.connect(self.update_actions)
        self.update_actions()

    def _build_actions(self) -> None:
        a = partial(make_action, self)
        self.act_open_checkpoint = a("&Open checkpoint…", self.choose_checkpoint, "Ctrl+O",
                                     "Open a generator checkpoint and explore it")
        self.act_download = a("&Download a pretrained generator…", self.download_pretrained,
                              None, "StyleGAN2-ADA, StyleGAN3 and BigGAN-deep networks from "
                              "their publishers, opened in the explorer")
        self.act_explore_run = a("E&xplore this run's generator", self.explore_run,
                                 "Ctrl+Shift+E", "Open the run's latest checkpoint in the "
                                 "latent explorer, live")
        self.act_shuffle = a("&Shuffle samples", self.page.shuffle, "Ctrl+R",
                             "A new random seed for the explorer's grid")
        self.act_add_keyframe = a("&Add selected as keyframe", self.add_keyframe, "K",
                                  "Add the selected sample to the interpolation")
        self.act_export_image = a("Export selected &image…", lambda: self.export("image"),
                                  "Ctrl+Shift+I", "Save the selected sample as a PNG")
        self.act_export_grid = a("Export &grid…", lambda: self.export("grid"), None,
                                 "Save the grid of samples as a PNG")
        self.act_export_strip = a("Export interpolation &strip…", lambda: self.export("strip"),
                                  None, "Save the interpolation as one PNG row")
        self.act_export_animation = a("Export interpolation &animation…",
                                      lambda: self.export("animation"), "Ctrl+Shift+A",
                                      "Save the interpolation as an animated GIF or WebP")
        self.act_export_walk = a("Export direction &walk…", lambda: self.export("walk"), None,
                                 "Save the selected sample walking along a direction "
                                 "(the plane's first) as an animated GIF or WebP")
        self.act_save_latent = a("Save selected &latent…",
                                 lambda: self.save_latents("selected"), None,
                                 "Save the selected (edited) latent as JSON or .npy")
        self.act_save_keyframes = a("Save &keyframes…", lambda: self.save_latents("keyframes"),
                                    None, "Save the interpolation keyframes as JSON or .npy")
        self.act_load_latents = a("Load latents…", self.load_latents, None,
                                  "Load latents (JSON or .npy) as keyframes")
        self.act_save_directions = a("Save &directions…", self.save_directions, None,
                                     "Save the directions, their names and layer ranges")
        self.act_load_directions = a("Load d&irections…", self.load_directions, None,
                                     "Add directions saved before")
        self.export_actions = [self.act_export_image, self.act_export_grid,
                               self.act_export_strip, self.act_export_animation,
                               self.act_export_walk]

    @property
    def actions(self) -> list:
        """Its actions, for the window to lay out (and add, so that their shortcuts work)."""
        return actions_of(self)

    def update_actions(self) -> None:
        exploring = self.session is not None
        for action in self.actions:
            if action not in (self.act_open_checkpoint, self.act_explore_run,
                              self.act_download):
                action.setEnabled(exploring)
        self.act_explore_run.setEnabled(self.training.has_run_folder())

    # --- opening generators -------------------------------------------------------------

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a generator",
                                              str(self._folder("open")), OPEN_FILTERS)
        if path:
            self._remember_folder("open", path)
            self.open_checkpoint(path)

    def _folder(self, kind: str) -> Path:
        """The folder the last ``open`` or ``save`` dialog ended in (home at first)."""
        value = self.settings.value(f"explorer/{kind}_dir", "", str)
        return Path(value) if value and Path(value).is_dir() else Path.home()

    def _remember_folder(self, kind: str, path: str | Path) -> None:
        self.settings.set_value(f"explorer/{kind}_dir", str(Path(path).parent))

    def _remember_view(self) -> None:
        """ψ and the noise mode carry over to the next generator and the next session."""
        self.settings.set_value("explorer/psi", self.page.truncation.value())
        self.settings.set_value("explorer/noise_mode", self.page.noise_mode.currentText())

    def _remembered_view(self) -> dict:
        from ganstudio.engine.generator import NOISE_MODES

        psi = self.settings.value("explorer/psi", 1.0, float)
        mode = self.settings.value("explorer/noise_mode", "const", str)
        return {"psi": min(1.0, max(0.0, psi)),
                "noise_mode": mode if mode in NOISE_MODES else "const"}

    def open_checkpoint(self, path: str | Path, live: bool = False) -> bool:
        """Load a generator off the UI thread, then show it in the explorer.

        A checkpoint inside a run folder (or the run folder itself) can follow that run's
        newer checkpoints; ``live`` turns following on from the start.
        """
        from ganstudio.engine.runs import RunFolder

        path = Path(path)
        follow = None
        if path.is_dir() and RunFolder.is_run_dir(path):
            follow = path
        elif path.parent.name == "checkpoints" and RunFolder.is_run_dir(path.parent.parent):
            follow = path.parent.parent
        self.loading.emit(path.name)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        run_in_background(_load_generator, path, owner=self,
                          on_done=lambda result: self._on_generator(path, follow, live, result))
        return True

    def _on_generator(self, path: Path, follow: Path | None, live: bool, result) -> None:
        from ganstudio.engine.formats import supported

        QApplication.restoreOverrideCursor()
        self.loading.emit("")
        if isinstance(result, JobFailed):
            self.message.emit("", 0)
            reason = result.message if isinstance(result.error, GanStudioError) else \
                f"{type(result.error).__name__}: {result.message}"
            show_error(self.window, "Cannot open the checkpoint",
                       f"{reason}\n\nGAN Studio opens: {supported()}.",
                       None if isinstance(result.error, GanStudioError) else result.details)
            return
        from ganstudio.app.controllers.explorer_session import ExplorerSession

        if self.session is not None:
            self.session.close()
        session = ExplorerSession(result, follow=follow, parent=self, **self._remembered_view())
        self.session = session
        self.page.bind(session)
        if live and follow is not None:
            self.page.live.setChecked(True)
        if not (follow is not None and path.is_dir()):
            self.settings.add_recent("checkpoints", result.path)
        self.page.offer_conversion(_conversion_offer(result))
        self.message.emit(f"Opened {result.path}", 5000)
        self.update_actions()
        self.opened.emit(session)

    def explore_pretrained(self) -> None:
        """Pick one of the generators shipped with the app."""
        from PySide6.QtWidgets import QInputDialog

        from ganstudio.resources import pretrained_dir

        files = sorted(pretrained_dir().glob("*.safetensors"))
        if not files:
            show_error(self.window, "No pretrained generators",
                       f"{pretrained_dir()} holds no generators; reinstall GAN Studio.")
            return
        labels = [_pretrained_label(f) for f in files]
        choice, ok = QInputDialog.getItem(self.window, "Explore a pretrained generator",
                                          "Generator:", labels, 0, False)
        if ok:
            self.open_checkpoint(files[labels.index(choice)])

    def download_pretrained(self) -> None:
        """The catalogue of well-known networks; the one downloaded (or already here) opens."""
        from ganstudio.app.views.download_dialog import DownloadDialog

        if self.download_dialog is not None:
            self.download_dialog.raise_()
            return
        dialog = DownloadDialog(self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(self.open_checkpoint)
        dialog.destroyed.connect(lambda: setattr(self, "download_dialog", None))
        self.download_dialog = dialog
        dialog.open()

    def convert_current(self) -> None:
        """Save the generator shown as a GAN Studio checkpoint, off the UI thread."""
        from ganstudio.engine.convert import convert

        session = self.session
        if session is None:
            return
        generator = session.generator
        folder = generator.path if generator.path.is_dir() else generator.path.parent
        default = folder / f"{generator.path.stem}.safetensors"
        path, _ = QFileDialog.getSaveFileName(self.window, "Convert to a GAN Studio checkpoint",
                                              str(default), "GAN Studio checkpoint "
                                              "(*.safetensors)")
        if not path:
            return
        if not path.endswith(".safetensors"):
            path += ".safetensors"
        self.page.convert_button.setEnabled(False)
        self.page.convert_text.setText(f"Converting {generator.path.name} to {path}…")
        # the save dialog asked before replacing a file
        run_in_background(convert, generator, path, False, True, owner=self,
                          on_done=lambda result: self._on_converted(generator, result))

    def _on_converted(self, generator, result) -> None:
        if isinstance(result, JobFailed):
            self.page.offer_conversion(_conversion_offer(generator))
            show_error(self.window, "Cannot convert", result.message,
                       None if isinstance(result.error, GanStudioError) else result.details)
            return
        self.page.offer_conversion(None)
        self.message.emit(f"Converted to {result}; opening it…", 0)
        self.converted.emit(str(result))
        self.open_checkpoint(result)  # what is shown from now on is the fast, safe copy

    def explore_run(self) -> None:
        """Open the training page's run in the explorer, following its newer checkpoints; a
        run training here with no checkpoint yet saves one first."""
        state = self.training.state
        if state is None or state.run_dir is None:
            return
        from ganstudio.engine.runs import RunFolder

        if RunFolder(state.run_dir).latest_checkpoint() is None:
            if self.training.is_training():
                self.training.session.save_now()
                self.message.emit("Saving a first checkpoint to explore; it opens in a moment…",
                                  5000)
                state.checkpoint_saved.connect(self._explore_saved_run,
                                               Qt.ConnectionType.SingleShotConnection)
                return
            show_error(self.window, "Nothing to explore yet", "This run has no checkpoint yet.")
            return
        self.open_checkpoint(state.run_dir, live=True)

    def _explore_saved_run(self, event) -> None:
        if self.training.has_run_folder():
            self.open_checkpoint(self.training.state.run_dir, live=True)

    def add_keyframe(self) -> None:
        # K is a plain letter: it only acts while the explorer is on screen
        if self.session is not None and self.page.isVisible():
            self.session.add_keyframe_selected()

    # --- files --------------------------------------------------------------------------

    def export(self, kind: str) -> None:
        """Render and write an export off the UI thread, with a progress dialog."""
        from PySide6.QtWidgets import QProgressDialog

        session = self.session
        if session is None:
            return
        animated = kind in ("animation", "walk")
        filters = "Animated GIF (*.gif);;Animated WebP (*.webp)" if animated else \
            "PNG image (*.png)"
        suffix = "gif" if animated else "png"
        default = self._folder("save") / f"{session.generator.path.stem}-{kind}.{suffix}"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export", str(default), filters)
        if not path:
            return
        self._remember_folder("save", path)
        direction = session.plane_axes[0] if kind == "walk" else None
        try:
            job = session.export_job(kind, path, fps=self.page.fps.value(), direction=direction)
        except GanStudioError as e:
            show_error(self.window, "Cannot export", str(e))
            return
        dialog = QProgressDialog(f"Exporting {Path(path).name}…", "Cancel", 0, 100, self.window)
        dialog.setWindowTitle("Export")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setValue(0)
        self.export_dialog = dialog
        cancelled = []
        dialog.canceled.connect(lambda: cancelled.append(True))

        def progress(fraction: float) -> None:
            if cancelled:
                raise ExportCancelled
            self.export_progress.emit(fraction)

        run_in_background(job, progress, owner=self,
                          on_done=lambda result: self._on_exported(dialog, path, result))

    def _on_export_progress(self, fraction: float) -> None:
        dialog = self.export_dialog
        if dialog is not None and dialog.isVisible():
            dialog.setValue(round(100 * fraction))

    def _on_exported(self, dialog, path: str, result) -> None:
        dialog.setValue(100)
        dialog.close()
        self.export_dialog = None
        if isinstance(result, JobFailed):
            if isinstance(result.error, ExportCancelled):
                self.message.emit("Export cancelled.", 4000)
                return
            show_error(self.window, "Export failed", f"{path}: {result.message}",
                       result.details)
            return
        self.message.emit(f"Exported {path}", 6000)
        self.exported.emit(str(path))

    def save_latents(self, which: str) -> None:
        session = self.session
        if session is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save latents", str(self._folder("save") / f"{which}.json"),
            "Latents JSON (*.json);;NumPy latents with their space (*.npz);;"
            "NumPy array of z (*.npy)")
        if not path:
            return
        self._remember_folder("save", path)
        try:
            session.save_latents(path, which)
        except (GanStudioError, OSError) as e:
            show_error(self.window, "Cannot save latents", str(e))
            return
        self.message.emit(f"Saved {path}", 5000)

    def load_latents(self) -> None:
        session = self.session
        if session is None:
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Load latents",
                                              str(self._folder("open")),
                                              "Latents (*.json *.npz *.npy)")
        if not path:
            return
        self._remember_folder("open", path)
        try:
            count = session.load_latents(path)
        except GanStudioError as e:
            show_error(self.window, "Cannot load latents", str(e))
            return
        self.message.emit(f"Loaded {count} latents as keyframes.", 5000)

    def save_directions(self) -> None:
        session = self.session
        if session is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save directions",
            str(self._folder("save") / f"{session.generator.path.stem}-directions.json"),
            "Directions (*.json)")
        if not path:
            return
        self._remember_folder("save", path)
        try:
            session.save_directions(path)
        except (GanStudioError, OSError) as e:
            show_error(self.window, "Cannot save directions", str(e))
            return
        self.message.emit(f"Saved {len(session.directions)} directions to {path}", 5000)

    def load_directions(self) -> None:
        session = self.session
        if session is None:
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Load directions",
                                              str(self._folder("open")), "Directions (*.json)")
        if not path:
            return
        self._remember_folder("open", path)
        try:
            names = session.load_directions(path)
        except GanStudioError as e:
            show_error(self.window, "Cannot load directions", str(e))
            return
        self.message.emit(f"Loaded {len(names)} directions: {', '.join(names)}", 5000)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class ExportCancelled(Exception):
    """Raised inside an export job when the user pressed Cancel."""


def _conversion_offer(generator) -> str | None:
    """What the bar above the explorer says to offer converting ``generator``: for files that
    are parsed slowly every time (a StyleGAN pickle, a BigGAN folder); None for the others."""
    from ganstudio.engine.generators import PRETRAINED_FAMILIES

    if generator.source == "ganstudio" or generator.meta.get("family") not in PRETRAINED_FAMILIES:
        return None
    what = "a BigGAN folder" if generator.meta["family"] == "biggan" else \
        "an NVIDIA network pickle"
    return (f"{generator.path.name} is {what}, read with care (and slowly) every time it "
            "opens. Convert it to a GAN Studio checkpoint to open it at once next time.")


def _load_generator(path: Path):
    from ganstudio.engine.formats import load_generator

    return load_generator(path)


def _pretrained_label(path: Path) -> str:
    from ganstudio.engine.checkpoint import read_generator_info

    try:
        meta = read_generator_info(path).meta
    except GanStudioError:
        return path.stem
    dataset = meta.get("dataset", {}).get("name", "?")
    conditional = " (class-conditional)" if meta.get("model", {}).get("conditional") else ""
    return f"{path.stem}: {meta.get('family', '?')} on {dataset}{conditional}"
