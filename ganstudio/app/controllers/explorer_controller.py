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


class ExplorerController(QObject):
    """Owns the explorer's actions (``actions``); ``session`` is the ExplorerSession shown."""

    opened = Signal(object)  # ExplorerSession: a generator is in the explorer now
    exported = Signal(str)  # the path of a finished export
    export_progress = Signal(float)
    message = Signal(str, int)  # for the status bar: text, milliseconds (0: until replaced)

    def __init__(self, page: ExplorerPage, training: TrainingController, settings: AppSettings,
                 window: QWidget):
        super().__init__(window)
        self.page, self.training, self.settings, self.window = page, training, settings, window
        self.session = None  # an ExplorerSession once a generator is open
        self.export_dialog = None
        self._build_actions()
        self.export_progress.connect(self._on_export_progress)
        training.page.explore_button.clicked.connect(self.explore_run)
        training.changed.connect(self.update_actions)
        self.update_actions()

    def _build_actions(self) -> None:
        a = partial(make_action, self)
        self.act_open_checkpoint = a("&Open checkpoint…", self.choose_checkpoint, "Ctrl+O",
                                     "Open a generator checkpoint and explore it")
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
            if action not in (self.act_open_checkpoint, self.act_explore_run):
                action.setEnabled(exploring)
        self.act_explore_run.setEnabled(self.training.has_run_folder())

    # --- opening generators -------------------------------------------------------------

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open checkpoint", str(Path.home()),
            "Generators (*.safetensors *.pth *.pt *.pt2 *.pkl *.bin);;All files (*)")
        if path:
            self.open_checkpoint(path)

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
        self.message.emit(f"Opening {path.name}…", 0)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        run_in_background(_load_generator, path, owner=self,
                          on_done=lambda result: self._on_generator(path, follow, live, result))
        return True

    def _on_generator(self, path: Path, follow: Path | None, live: bool, result) -> None:
        from ganstudio.engine.formats import supported

        QApplication.restoreOverrideCursor()
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
        session = ExplorerSession(result, follow=follow, parent=self)
        self.session = session
        self.page.bind(session)
        if live and follow is not None:
            self.page.live.setChecked(True)
        if not (follow is not None and path.is_dir()):
            self.settings.add_recent("checkpoints", result.path)
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
        default = Path.home() / f"{session.generator.path.stem}-{kind}.{suffix}"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export", str(default), filters)
        if not path:
            return
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
            self.window, "Save latents", str(Path.home() / f"{which}.json"),
            "Latents JSON (*.json);;NumPy latents with their space (*.npz);;"
            "NumPy array of z (*.npy)")
        if not path:
            return
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
        path, _ = QFileDialog.getOpenFileName(self.window, "Load latents", str(Path.home()),
                                              "Latents (*.json *.npz *.npy)")
        if not path:
            return
        try:
            count = session.load_latents(path)
        except GanStudioError as e:
            show_error(self.window, "Cannot load latents", str(e))
            return
        self.message.emit(f"Loaded {count} latents as keyframes.", 5000)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class ExportCancelled(Exception):
    """Raised inside an export job when the user pressed Cancel."""


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
