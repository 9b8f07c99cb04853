"""TrainingController: the run on the training page, its actions and their enabled state.

The run is either trained here (a TrainingSession) or a run folder read from disk, followed
while another process writes it (a RunWatcher). The controller starts, steers, stops and
closes it, reads run folders off the UI thread, and says what happened through signals; the
window lays out its actions and live fields and shows its messages.
"""

from __future__ import annotations

import contextlib
import threading
from functools import partial
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, QSignalBlocker, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QLineEdit, QMessageBox, QSpinBox, QWidget

from ganstudio.app import theme
from ganstudio.app.actions import actions_of, make_action
from ganstudio.app.background import JobFailed, run_in_background
from ganstudio.app.controllers.run_state import RunState
from ganstudio.app.controllers.run_watcher import ReadCancelled, RunWatcher, read_run
from ganstudio.app.controllers.training_session import TrainingSession
from ganstudio.app.process import freeze_long_lived_objects
from ganstudio.app.settings import AppSettings
from ganstudio.app.views.dialogs import show_error
from ganstudio.app.views.setup_panel import SetupPanel
from ganstudio.app.views.training_page import TrainingPage
from ganstudio.engine.config import RunConfig
from ganstudio.engine.errors import GanStudioError

CLOSE_WAIT_MS = 2000


class TrainingController(QObject):
    """Owns the training actions (``actions``) and the live hyper-parameter fields."""

    message = Signal(str, int)  # for the status bar: text, milliseconds (0: until replaced)
    notified = Signal(str, str, object, bool)  # level, text, step, whether to show the panel
    run_shown = Signal(str)  # a run is on the training page now; its title
    run_opened = Signal(object)  # RunWatcher: a run folder was read and is on screen
    run_closed = Signal()  # the user closed the run on screen
    read_progress = Signal(str, float)  # the folder being read, the share read so far
    read_ended = Signal()  # read, failed or cancelled: the progress can go
    changed = Signal()  # the run or its status changed (others' actions may follow)
    setup_wanted = Signal()  # the Setup panel should be shown: a setting needs fixing

    def __init__(self, setup: SetupPanel, page: TrainingPage, settings: AppSettings,
                 window: QWidget):
        super().__init__(window)
        self.setup, self.page, self.settings, self.window = setup, page, settings, window
        self.session: TrainingSession | None = None
        self.data = None  # the DataController: real data is prepared, with progress, first
        self.watcher: RunWatcher | None = None
        self._reading: threading.Event | None = None  # set: the read in progress is dropped
        self._build_actions()
        self._build_live_fields()
        setup.start_requested.connect(self.start_from_setup)
        setup.problems_changed.connect(lambda _: self.update_actions())
        page.explore_button.setEnabled(False)
        self.update_actions()

    # --- construction -------------------------------------------------------------------

    def _build_actions(self) -> None:
        a = partial(make_action, self)
        self.act_open_run = a("Open &run folder…", self.choose_run_folder, "Ctrl+Shift+O",
                              "Open a run folder, or watch one another process is writing")
        self.act_save = a("&Save checkpoint", self.save_checkpoint, "Ctrl+S",
                          "Save a checkpoint of the running training now")
        self.act_export = a("&Export samples as PNG…", self.export_samples, "Ctrl+E",
                            "Save the sample grid on screen as a PNG image")
        self.act_runs_dir = a("Choose runs &folder…", self.choose_runs_dir, None,
                              "Where new runs are written")
        self.act_close_run = a("&Close run", self.close_run, "Ctrl+W",
                               "Close the run on screen and return to the welcome page")
        self.act_start = a("&Start training", self.start_from_setup, "Ctrl+Return",
                           "Start a run with the settings in the Setup panel")
        self.act_pause = a("&Pause", self.toggle_pause, "Space",
                           "Pause or resume training (Space)", checkable=True)
        self.act_step = a("Step &once", self.step_once, ".",
                          "While paused, train exactly one step")
        self.act_step_d = a("Step &D only", partial(self.step_network, "D"), "Shift+D",
                            "While paused, update the discriminator alone, once")
        self.act_step_g = a("Step &G only", partial(self.step_network, "G"), "Shift+G",
                            "While paused, update the generator alone, once")
        self.act_stop = a("S&top", self.stop_training, "Ctrl+.",
                          "Stop training and save a final checkpoint")
        self.act_continue = a("&Continue this run", self.continue_run, None,
                              "Resume a stopped run from its latest checkpoint")

    def _build_live_fields(self) -> None:
        self.live_lr_g = _lr_edit("Generator learning rate; Enter applies it at the next step")
        self.live_lr_d = _lr_edit("Discriminator learning rate; Enter applies it")
        self.live_d_steps = QSpinBox()
        self.live_d_steps.setRange(1, 100)
        self.live_d_steps.setToolTip("Discriminator updates per generator update, applied live")
        self.live_d_steps.setKeyboardTracking(False)
        self.live_lr_g.editingFinished.connect(self._apply_live_lr)
        self.live_lr_d.editingFinished.connect(self._apply_live_lr)
        self.live_d_steps.valueChanged.connect(self._apply_live_d_steps)

    @property
    def actions(self) -> list:
        """Its actions, for the window to lay out (and add, so that their shortcuts work)."""
        return actions_of(self)

    # --- the run on screen --------------------------------------------------------------

    @property
    def state(self) -> RunState | None:
        return self.page.state

    def has_run_folder(self) -> bool:
        return self.state is not None and self.state.run_dir is not None

    def is_training(self) -> bool:
        return self.session is not None and self.session.is_active()

    def _show(self, state: RunState, title: str) -> None:
        self.page.bind(state, title)
        # The run's dataset and networks exist once it has started.
        state.started.connect(freeze_long_lived_objects)
        state.status_changed.connect(self._on_status)
        state.alert_raised.connect(self._on_alert)
        state.hyper_changed.connect(self._on_hyper)
        state.checkpoint_saved.connect(self._on_checkpoint)
        self.run_shown.emit(title)

    def close_run(self) -> None:
        """Stop (and save) a running training if the user agrees, and close the run."""
        if self.release():
            self.update_actions()
            self.run_closed.emit()

    def release(self) -> bool:
        """Before showing another run: stop (and save) a running training, if the user agrees."""
        if self.is_training():
            if not self._confirm_stop("Training is running. Stop it and save a final checkpoint?"):
                return False
            self.stop_and_wait()
        self.cancel_read()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        return True

    def _confirm_stop(self, text: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running", text,
                          parent=self.window)
        stop = box.addButton("Stop and save", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(stop)
        box.exec()
        return box.clickedButton() is stop

    def confirm_quit(self) -> bool:
        """When the window closes: stop and save a running training if the user agrees (and
        wait for it), stop following a run folder; False if the user wants to keep training."""
        if self.is_training():
            if not self._confirm_stop(
                    "Training is running. Stop it, save a final checkpoint and quit?"):
                return False
            self.stop_and_wait()
        self.cancel_read()
        if self.watcher is not None:
            self.watcher.stop()
        return True

    def stop_and_wait(self) -> None:
        session = self.session
        if session is None:
            return
        session.stop()
        if session.is_active():
            loop = QEventLoop()
            session.finished.connect(loop.quit)
            QTimer.singleShot(CLOSE_WAIT_MS * 5, loop.quit)  # a hung step must not hang the app
            loop.exec()
        session.wait(CLOSE_WAIT_MS)

    # --- training here ------------------------------------------------------------------

    def start_from_setup(self) -> None:
        if self.setup.problems():
            self.setup_wanted.emit()
            self.message.emit("Fix the settings marked in the Setup panel first.", 5000)
            return
        config = self.setup.config()
        if config.data.is_real and self.data is not None:
            self.data.prepare(config.data, then=lambda: self.start_training(config))
            return
        self.start_training(config)

    def start_training(self, config: RunConfig, run_dir: Path | None = None,
                       resume: Path | None = None) -> bool:
        from ganstudio.engine.config import problems
        from ganstudio.engine.runs import new_run_dir

        if not self.release():
            return False
        found = problems(config)
        if found:
            self.setup.set_config(config)
            self.setup_wanted.emit()
            show_error(self.window, "Cannot start training",
                       "Some settings are invalid:\n" + "\n".join(str(p) for p in found))
            return False
        if config.train.device not in self.setup.devices():
            config = config.replace(**{"train.device": "auto"})
        try:
            run_dir = run_dir or new_run_dir(self.settings.runs_dir(), config)
        except (OSError, GanStudioError) as e:
            show_error(self.window, "Cannot create the run folder",
                       f"{e}\n\nChoose another runs folder with File → Choose runs folder….")
            return False
        self.setup.set_config(config)
        self.settings.save_setup(config.to_dict())
        session = TrainingSession(config, run_dir, resume=resume, parent=self)
        session.failed.connect(self._on_training_failed)
        session.finished.connect(self._on_training_finished)
        self.session = session
        self._show(session.state, f"{config.data.name} · {config.model.family}")
        self._set_live_fields(config.optim.lr_g, config.optim.lr_d, config.optim.d_steps)
        self.settings.add_recent("runs", run_dir)
        session.start()
        self.message.emit(f"Training started; writing {run_dir}", 5000)
        self.update_actions()
        return True

    def toggle_pause(self) -> None:
        if not self.is_training():
            self.act_pause.setChecked(False)
            return
        self.session.toggle_pause()

    def step_once(self) -> None:
        if self.is_training():
            if self.session.state.status != "paused":
                self.session.pause()
            self.session.step_once()

    def step_network(self, network: str) -> None:
        """Pause if need be, then update ``"D"`` or ``"G"`` alone, once."""
        if self.is_training():
            if self.session.state.status != "paused":
                self.session.pause()
            self.session.step_network(network)

    def stop_training(self) -> None:
        if self.is_training():
            self.session.stop()
            self.message.emit("Stopping: saving a final checkpoint…", 0)
            self.update_actions()

    def save_checkpoint(self) -> None:
        if self.is_training():
            self.session.save_now()
            self.message.emit("Saving a checkpoint…", 3000)

    def continue_run(self) -> None:
        watcher = self.watcher
        if watcher is None or watcher.folder.latest_checkpoint() is None:
            return
        self.start_training(watcher.config, run_dir=watcher.folder.path,
                            resume=watcher.folder.latest_checkpoint())

    def _apply_live_lr(self) -> None:
        """Send the live learning rates, checked as the config and the trainer check them
        (config.check_hyper); a bad one is marked in place and nothing is sent."""
        from ganstudio.engine.config import check_hyper

        if not self.is_training():
            return
        values = []
        for edit, name in ((self.live_lr_g, "lr_g"), (self.live_lr_d, "lr_d")):
            try:
                value = float(edit.text())
            except ValueError:
                value = None
            problems = ["is not a number"] if value is None else [
                p.message for p in check_hyper(**{name: value})]
            if problems:
                edit.setStyleSheet(f"border: 1px solid {theme.ERROR};")
                self.message.emit(f"Learning rate {edit.text()!r} {problems[0]}.", 6000)
                return
            edit.setStyleSheet("")
            values.append(value)
        self.session.set_hyper(lr_g=values[0], lr_d=values[1])

    def _apply_live_d_steps(self, value: int) -> None:
        if self.is_training():
            self.session.set_hyper(d_steps=value)

    def _set_live_fields(self, lr_g: float, lr_d: float, d_steps: int) -> None:
        self.live_lr_g.setText(f"{lr_g:g}")
        self.live_lr_d.setText(f"{lr_d:g}")
        with QSignalBlocker(self.live_d_steps):
            self.live_d_steps.setValue(d_steps)

    # --- run folders --------------------------------------------------------------------

    def choose_run_folder(self) -> None:
        start = str(self.settings.runs_dir() if self.settings.runs_dir().exists()
                    else Path.home())
        path = QFileDialog.getExistingDirectory(self.window, "Open run folder", start)
        if path:
            self.open_run_folder(path)

    def open_run_folder(self, path: str | Path) -> bool:
        """Read a run folder off the UI thread (``read_progress`` tells how far, and
        ``cancel_read`` stops it), then show it: ``run_opened`` follows."""
        if not self.release():
            return False
        path = Path(path)
        cancel = self._reading = threading.Event()

        def progress(fraction: float) -> None:
            with contextlib.suppress(RuntimeError):  # the window closed mid-read
                self.read_progress.emit(path.name, fraction)

        self.read_progress.emit(path.name, 0.0)
        plot = self.page.plot
        run_in_background(read_run, path, progress, cancel.is_set, plot.series(),
                          plot.smoothing(), owner=self,
                          on_done=lambda result: self._on_run_read(cancel, result))
        return True

    def cancel_read(self) -> None:
        """Stop reading a run folder: nothing of it is shown."""
        if self._reading is not None:
            self._reading.set()
            self._reading = None
            self.read_ended.emit()
            self.message.emit("Opening the run folder was cancelled.", 4000)

    def _on_run_read(self, cancel: threading.Event, result) -> None:
        if cancel.is_set():
            return  # cancelled, or another folder was opened since
        self._reading = None
        self.read_ended.emit()
        if isinstance(result, JobFailed):
            if not isinstance(result.error, ReadCancelled):
                known = isinstance(result.error, (GanStudioError, OSError))
                show_error(self.window, "Cannot open the run folder", result.message,
                           None if known else result.details)
            return
        watcher = RunWatcher(result, self)
        self.watcher = watcher
        watcher.live_changed.connect(lambda live: self.update_actions())
        self._show(watcher.state, watcher.folder.name)
        self.setup.set_config(watcher.config)
        with self.page.adding_many():
            watcher.start()
        live = "watching it live" if watcher.live else watcher.state.status
        self.message.emit(f"Opened {watcher.folder.path} ({live}).", 6000)
        self.settings.add_recent("runs", watcher.folder.path)
        self.update_actions()
        self.run_opened.emit(watcher)

    def choose_runs_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Choose the runs folder",
                                                str(self.settings.runs_dir()))
        if path:
            self.settings.set_runs_dir(path)
            self.message.emit(f"New runs go to {path}", 5000)

    def export_samples(self) -> None:
        image = self.page.samples.canvas.image()
        if image is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export samples",
                                              str(Path.home() / "samples.png"),
                                              "PNG image (*.png)")
        if path:
            from ganstudio.engine.images import save_png

            save_png(path, image, replace=True)  # the save dialog asked before replacing
            self.message.emit(f"Saved {path}", 5000)

    # --- events from the run on screen --------------------------------------------------

    def _on_status(self, status: str) -> None:
        self.act_pause.setChecked(status == "paused")
        self.act_pause.setText("&Resume" if status == "paused" else "&Pause")
        if status == "paused":
            self.message.emit("Paused. Space resumes, . trains one step.", 5000)
        self.update_actions()

    def _on_alert(self, alert) -> None:
        self.notified.emit(alert.level, alert.message, alert.step, True)

    def _on_hyper(self, event) -> None:
        self._set_live_fields(event.lr_g, event.lr_d, event.d_steps)
        self.notified.emit("info", f"Learning rates G {event.lr_g:g}, D {event.lr_d:g}, "
                                   f"D steps {event.d_steps}: applied from step "
                                   f"{event.step + 1:,}.", event.step, False)

    def _on_checkpoint(self, event) -> None:
        if event.path:
            what = "Final checkpoint" if event.final else "Checkpoint"
            self.message.emit(f"{what} saved: {event.path}", 6000)

    def _on_training_failed(self, message: str, details: str) -> None:
        run_dir = self.session.run_dir if self.session else None
        where = f"\n\nThe run folder {run_dir} keeps everything up to the failure." \
            if run_dir else ""
        self.notified.emit("error", f"Training failed: {message}", None, False)
        show_error(self.window, "Training failed", f"{message}{where}", details)

    def _on_training_finished(self) -> None:
        self.update_actions()
        if self.session is not None and self.session.state.status == "finished":
            self.message.emit("Training finished.", 8000)

    def update_actions(self) -> None:
        active = self.is_training()
        stopping = active and self.session.stopping
        can_start = not active and not self.setup.problems()
        self.act_start.setEnabled(can_start)
        self.setup.start_button.setEnabled(can_start)
        for action in (self.act_pause, self.act_step, self.act_step_d, self.act_step_g,
                       self.act_save, self.act_stop):
            action.setEnabled(active and not stopping)
        for widget in (self.live_lr_g, self.live_lr_d, self.live_d_steps):
            widget.setEnabled(active and not stopping)
        if active and self.session.config.optim.updates == "simultaneous":
            # one pass gives both gradients: there is no second D update to ask for
            self.live_d_steps.setEnabled(False)
            self.live_d_steps.setToolTip("This run updates G and D simultaneously "
                                         "(optim.updates): one D update per G update")
        else:
            self.live_d_steps.setToolTip(
                "Discriminator updates per generator update, applied live")
        watcher = self.watcher
        can_continue = (watcher is not None and not watcher.live
                        and watcher.state.status in ("stopped", "interrupted", "failed")
                        and watcher.folder.latest_checkpoint() is not None)
        self.act_continue.setEnabled(bool(can_continue) and not active)
        self.act_close_run.setEnabled(self.state is not None)
        self.act_export.setEnabled(self.page.samples.count() > 0)
        self.page.explore_button.setEnabled(self.has_run_folder())
        self.changed.emit()


def _lr_edit(tip: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setFixedWidth(78)
    edit.setToolTip(tip)
    edit.setPlaceholderText("2e-4")
    return edit

