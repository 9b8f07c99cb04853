"""The GAN Studio main window: menus, toolbar, docks, pages, and the runs it shows."""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from ganstudio.app import theme
from ganstudio.app.background import JobFailed, run_in_background, wait_for_background
from ganstudio.app.controllers.run_watcher import RunWatcher
from ganstudio.app.controllers.training_session import TrainingSession
from ganstudio.app.process import freeze_long_lived_objects
from ganstudio.app.settings import AppSettings
from ganstudio.app.views.dialogs import ShortcutsDialog, about_text, show_error
from ganstudio.app.views.explorer_page import ExplorerPage
from ganstudio.app.views.notifications import NotificationsPanel
from ganstudio.app.views.setup_panel import SetupPanel
from ganstudio.app.views.training_page import TrainingPage
from ganstudio.app.views.welcome_page import WelcomePage
from ganstudio.engine.config import RunConfig, defaults_for
from ganstudio.engine.errors import GanStudioError

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pt2")
CLOSE_WAIT_MS = 2000
# The loss plots redraw at most 10 times a second, and less often when a redraw costs more
# than 5% of that time (LossPlot.start_auto_refresh). Every millisecond the UI thread draws is
# taken from training on a 2-core laptop (CPU, and the GIL), for motion nobody reads faster.
PLOT_REFRESH_MS = 100


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class MainWindow(QMainWindow):
    """One window, one run at a time (trained here, or a run folder being watched), and one
    generator in the explorer."""

    explorer_opened = Signal(object)  # ExplorerSession
    exported = Signal(str)  # the path of a finished export
    export_progress = Signal(float)

    def __init__(self, settings: AppSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.session: TrainingSession | None = None
        self.watcher: RunWatcher | None = None
        self.device_name = "CPU"
        self.setWindowTitle("GAN Studio")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1440, 900)

        self.welcome = WelcomePage()
        self.training = TrainingPage()
        self.explorer_page = ExplorerPage()
        self.explorer = None  # an ExplorerSession once a generator is open
        self.pages = QStackedWidget()
        self.pages.addWidget(_scrollable(self.welcome))
        self.pages.addWidget(self.training)
        self.pages.addWidget(self.explorer_page)
        self.setCentralWidget(self.pages)
        self.pages.currentChanged.connect(self._on_page_changed)
        self._setup_was_visible = False  # set when the explorer hid the Setup panel

        self.setup = SetupPanel()
        self.setup_dock = self._dock("Setup", "setupDock", self.setup,
                                     Qt.DockWidgetArea.LeftDockWidgetArea)
        self.notifications = NotificationsPanel()
        self.notifications_dock = self._dock("Notifications", "notificationsDock",
                                             self.notifications,
                                             Qt.DockWidgetArea.BottomDockWidgetArea)
        self.notifications.count_changed.connect(
            lambda n: self.notifications_dock.setWindowTitle(
                f"Notifications ({n})" if n else "Notifications"))

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self._restore()
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(250)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start()
        self.training.plot.start_auto_refresh(PLOT_REFRESH_MS)
        self._update_actions()

    # --- construction -------------------------------------------------------------------

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcut=None, tip: str = "", checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
            name = text.replace("&", "").rstrip("…")
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{name} ({keys})" if keys else tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        # Portable strings rather than QKeySequence.StandardKey: some platforms (and the
        # offscreen one) bind nothing to Quit or FullScreen. Qt maps Ctrl to ⌘ on macOS.
        a = self._action
        self.act_new = a("&New training…", self.show_setup, "Ctrl+N",
                         "Set up a new training run")
        self.act_open_run = a("Open &run folder…", self.choose_run_folder, "Ctrl+Shift+O",
                              "Open a run folder, or watch one another process is writing")
        self.act_open_checkpoint = a("&Open checkpoint…", self.choose_checkpoint, "Ctrl+O",
                                     "Open a generator checkpoint and explore it")
        self.act_save = a("&Save checkpoint", self.save_checkpoint, "Ctrl+S",
                          "Save a checkpoint of the running training now")
        self.act_export = a("&Export samples as PNG…", self.export_samples, "Ctrl+E",
                            "Save the sample grid on screen as a PNG image")
        self.act_runs_dir = a("Choose runs &folder…", self.choose_runs_dir, None,
                              "Where new runs are written")
        self.act_close_run = a("&Close run", self.close_run, "Ctrl+W",
                               "Close the run on screen and return to the welcome page")
        self.act_quit = a("&Quit", self.close, "Ctrl+Q", "Quit GAN Studio")

        self.act_start = a("&Start training", self.start_from_setup, "Ctrl+Return",
                           "Start a run with the settings in the Setup panel")
        self.act_pause = a("&Pause", self.toggle_pause, "Space",
                           "Pause or resume training (Space)", checkable=True)
        self.act_step = a("Step &once", self.step_once, ".",
                          "While paused, train exactly one step")
        self.act_stop = a("S&top", self.stop_training, "Ctrl+.",
                          "Stop training and save a final checkpoint")
        self.act_continue = a("&Continue this run", self.continue_run, None,
                              "Resume a stopped run from its latest checkpoint")

        self.act_welcome = a("&Welcome page", self.show_welcome, "Ctrl+1",
                             "Show the welcome page")
        self.act_run_page = a("&Training page", self.show_training_page, "Ctrl+2",
                              "Show the run on screen")
        self.act_explorer_page = a("&Explorer page", self.show_explorer_page, "Ctrl+3",
                                   "Show the latent explorer")

        self.act_explore_run = a("E&xplore this run's generator", self.explore_run,
                                 "Ctrl+Shift+E", "Open the run's latest checkpoint in the "
                                 "latent explorer, live")
        self.act_shuffle = a("&Shuffle samples", lambda: self.explorer_page._shuffle(), "Ctrl+R",
                             "A new random seed for the explorer's grid")
        self.act_add_keyframe = a("&Add selected as keyframe", self._add_keyframe, "K",
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
        self.act_log = a("&Log scale", lambda on: self.training.plot.set_log_scale(on),
                         "Ctrl+L", "Log-scale y axes on the plots", checkable=True)
        self.act_follow = a("&Follow latest", lambda on: self.training.plot.set_follow_latest(on),
                            "End", "Keep the newest steps in view", checkable=True)
        self.act_reset_zoom = a("&Reset zoom", lambda: self.training.plot.reset_zoom(), "Ctrl+0",
                                "Show the whole history")
        self.act_fullscreen = a("&Full screen", self.toggle_fullscreen, "F11",
                                "Toggle full screen", checkable=True)

        self.act_shortcuts = a("&Keyboard shortcuts", self.show_shortcuts,
                               ["Ctrl+/", "F1"], "Every keyboard shortcut")
        self.act_about = a("&About GAN Studio", self.show_about, None,
                           "Versions of GAN Studio, PyTorch and Qt, and the device in use")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addActions([self.act_new, self.act_open_checkpoint, self.act_open_run])
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file.addMenu(self.recent_menu)
        file.addSeparator()
        file.addActions([self.act_save, self.act_export])
        file.addSeparator()
        file.addActions([self.act_runs_dir, self.act_close_run])
        file.addSeparator()
        file.addAction(self.act_quit)

        train = bar.addMenu("&Training")
        train.addActions([self.act_start, self.act_pause, self.act_step, self.act_stop])
        train.addSeparator()
        train.addAction(self.act_continue)

        explore = bar.addMenu("&Explore")
        explore.addActions([self.act_explore_run, self.act_shuffle, self.act_add_keyframe])
        explore.addSeparator()
        self.export_menu = QMenu("Export", self)
        self.export_menu.addActions([self.act_export_image, self.act_export_grid,
                                     self.act_export_strip, self.act_export_animation,
                                     self.act_export_walk])
        explore.addMenu(self.export_menu)
        explore.addSeparator()
        explore.addActions([self.act_save_latent, self.act_save_keyframes,
                            self.act_load_latents])
        self.explorer_page.export_button.setMenu(self.export_menu)

        view = bar.addMenu("&View")
        view.addActions([self.act_welcome, self.act_run_page, self.act_explorer_page])
        view.addSeparator()
        view.addAction(self.setup_dock.toggleViewAction())
        view.addAction(self.notifications_dock.toggleViewAction())
        view.addSeparator()
        view.addActions([self.act_log, self.act_follow, self.act_reset_zoom])
        view.addSeparator()
        view.addAction(self.act_fullscreen)

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.act_shortcuts, self.act_about])

    def _build_toolbar(self) -> None:
        bar = QToolBar("Training controls")
        bar.setObjectName("trainingToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()
        icons = {
            self.act_start: style.StandardPixmap.SP_MediaPlay,
            self.act_pause: style.StandardPixmap.SP_MediaPause,
            self.act_step: style.StandardPixmap.SP_MediaSkipForward,
            self.act_stop: style.StandardPixmap.SP_MediaStop,
            self.act_save: style.StandardPixmap.SP_DialogSaveButton,
        }
        for action, icon in icons.items():
            action.setIcon(style.standardIcon(icon))
            bar.addAction(action)
        bar.addSeparator()
        bar.addWidget(self._toolbar_label("Live:  lr G"))
        self.live_lr_g = self._lr_edit("Generator learning rate; Enter applies it at the next step")
        bar.addWidget(self.live_lr_g)
        bar.addWidget(self._toolbar_label("lr D"))
        self.live_lr_d = self._lr_edit("Discriminator learning rate; Enter applies it")
        bar.addWidget(self.live_lr_d)
        bar.addWidget(self._toolbar_label("D steps"))
        self.live_d_steps = QSpinBox()
        self.live_d_steps.setRange(1, 100)
        self.live_d_steps.setToolTip("Discriminator updates per generator update, applied live")
        self.live_d_steps.setKeyboardTracking(False)
        bar.addWidget(self.live_d_steps)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.toolbar = bar

    def _toolbar_label(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet(f"color: {theme.MUTED}; padding: 0 4px 0 8px;")
        return label

    def _lr_edit(self, tip: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setFixedWidth(78)
        edit.setToolTip(tip)
        edit.setPlaceholderText("2e-4")
        return edit

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_device = QLabel("Device: starting…")
        self.status_step = QLabel("")
        self.status_progress = QProgressBar()
        self.status_progress.setFixedWidth(180)
        self.status_progress.setTextVisible(False)
        self.status_speed = QLabel("")
        self.status_eta = QLabel("")
        self.status_elapsed = QLabel("")
        for widget in (self.status_device, self.status_step, self.status_progress,
                       self.status_speed, self.status_eta, self.status_elapsed):
            bar.addPermanentWidget(widget)

    def _connect(self) -> None:
        w = self.welcome
        w.train_digits.connect(lambda: self.start_training(defaults_for("digits")))
        w.watch_ring.connect(lambda: self.start_training(defaults_for("ring8")))
        w.open_checkpoint.connect(self.choose_checkpoint)
        w.explore_pretrained.connect(self.explore_pretrained)
        w.open_run.connect(self.choose_run_folder)
        w.new_training.connect(self.show_setup)
        w.open_recent.connect(self.open_recent)
        self.setup.start_requested.connect(self.start_from_setup)
        self.setup.problems_changed.connect(lambda _: self._update_actions())
        self.live_lr_g.editingFinished.connect(self._apply_live_lr)
        self.live_lr_d.editingFinished.connect(self._apply_live_lr)
        self.live_d_steps.valueChanged.connect(self._apply_live_d_steps)
        self.training.plot.settings_changed.connect(self._save_plot_settings)
        self.training.plot.follow_latest_changed.connect(self.act_follow.setChecked)
        self.export_progress.connect(self._on_export_progress)
        self.training.explore_button.clicked.connect(self.explore_run)

    def _restore(self) -> None:
        s = self.settings
        geometry, state = s.window_geometry(), s.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        else:  # first start: dock sizes apply once the window is laid out
            QTimer.singleShot(0, self._default_dock_sizes)
        saved = s.last_setup()
        if saved:
            with contextlib.suppress(GanStudioError):  # from another version: keep defaults
                self.setup.set_config(RunConfig.from_dict(saved))
        plot = self.training.plot
        # read all three before applying any: each change saves all three again
        smoothing = s.value("plot/smoothing", 0.6, float)
        log = s.value("plot/log", False, bool)
        x_axis = s.value("plot/x_axis", "step", str)
        plot.set_smoothing(smoothing)
        plot.set_log_scale(log)
        plot.set_x_axis(x_axis if x_axis in ("step", "time") else "step")
        self.act_log.setChecked(plot.log_scale())
        self.act_follow.setChecked(True)
        self._refresh_recent()

    def _default_dock_sizes(self) -> None:
        self.resizeDocks([self.setup_dock], [380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.notifications_dock], [120], Qt.Orientation.Vertical)

    def _save_plot_settings(self) -> None:
        plot = self.training.plot
        self.settings.set_value("plot/smoothing", plot.smoothing())
        self.settings.set_value("plot/log", plot.log_scale())
        self.settings.set_value("plot/x_axis", plot.x_axis())
        self.act_log.setChecked(plot.log_scale())

    # --- start-up work off the UI thread ------------------------------------------------

    def warm_up(self) -> None:
        """Import torch and look for GPUs in the background, after the window is up."""
        run_in_background(_probe_devices, on_done=self._on_devices, owner=self)

    def _on_devices(self, result) -> None:
        if isinstance(result, JobFailed):
            self.notify("error", f"PyTorch could not start: {result.message}")
            return
        freeze_long_lived_objects()  # torch is imported now
        names, description = result
        self.setup.set_devices(names)
        self.device_name = description
        self.status_device.setText(f"Device: {description}")

    # --- pages --------------------------------------------------------------------------

    def show_welcome(self) -> None:
        self._refresh_recent()
        self.pages.setCurrentIndex(0)

    def show_training_page(self) -> None:
        if self.training.state is not None:
            self.pages.setCurrentWidget(self.training)

    def show_setup(self) -> None:
        self.setup_dock.show()
        self.setup_dock.raise_()
        self.setup.dataset.setFocus()

    def _refresh_recent(self) -> None:
        self.welcome.set_recent(self.settings.recent("runs"), self.settings.recent("checkpoints"))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for kind in ("runs", "checkpoints"):
            for path in self.settings.recent(kind):
                action = self.recent_menu.addAction(Path(path).name)
                action.setToolTip(path)
                action.triggered.connect(lambda _=False, k=kind, p=path: self.open_recent(k, p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("No recent runs or checkpoints").setEnabled(False)

    def open_recent(self, kind: str, path: str) -> None:
        if not Path(path).exists():
            self.settings.remove_recent(kind, path)
            self._refresh_recent()
            self.notify("warning", f"{path} no longer exists; it was removed from the recent list.")
            return
        self.open_path(path)

    # --- training -----------------------------------------------------------------------

    def start_from_setup(self) -> None:
        if self.setup.problems():
            self.show_setup()
            self.statusBar().showMessage("Fix the settings marked in the Setup panel first.", 5000)
            return
        self.start_training(self.setup.config())

    def start_training(self, config: RunConfig, run_dir: Path | None = None,
                       resume: Path | None = None) -> bool:
        from ganstudio.engine.config import problems
        from ganstudio.engine.runs import new_run_dir

        if not self._release_current_run():
            return False
        found = problems(config)
        if found:
            self.setup.set_config(config)
            self.show_setup()
            show_error(self, "Cannot start training",
                       "Some settings are invalid:\n" + "\n".join(str(p) for p in found))
            return False
        if config.train.device not in self.setup._devices:
            config = config.replace(**{"train.device": "auto"})
        try:
            run_dir = run_dir or new_run_dir(self.settings.runs_dir(), config)
        except (OSError, GanStudioError) as e:
            show_error(self, "Cannot create the run folder",
                       f"{e}\n\nChoose another runs folder with File → Choose runs folder….")
            return False
        self.setup.set_config(config)
        self.settings.save_setup(config.to_dict())
        session = TrainingSession(config, run_dir, resume=resume, parent=self)
        session.failed.connect(self._on_training_failed)
        session.finished.connect(self._on_training_finished)
        self.session = session
        self._bind(session.state, f"{config.data.name} · {config.model.family}")
        self._set_live_controls(config.optim.lr_g, config.optim.lr_d, config.optim.d_steps)
        self.settings.add_recent("runs", run_dir)
        session.start()
        self.statusBar().showMessage(f"Training started; writing {run_dir}", 5000)
        self._update_actions()
        return True

    def _bind(self, state, title: str) -> None:
        self.training.bind(state, title)
        # The run's dataset and networks exist once it has started.
        state.started.connect(freeze_long_lived_objects)
        state.status_changed.connect(self._on_status)
        state.alert_raised.connect(self._on_alert)
        state.hyper_changed.connect(self._on_hyper)
        state.checkpoint_saved.connect(self._on_checkpoint)
        self.pages.setCurrentWidget(self.training)
        self.setWindowTitle(f"GAN Studio — {title}")

    def toggle_pause(self) -> None:
        if self.session is None or not self.session.is_active():
            self.act_pause.setChecked(False)
            return
        self.session.toggle_pause()

    def step_once(self) -> None:
        if self.session is not None and self.session.is_active():
            if self.session.state.status != "paused":
                self.session.pause()
            self.session.step_once()

    def stop_training(self) -> None:
        if self.session is not None and self.session.is_active():
            self.session.stop()
            self.statusBar().showMessage("Stopping: saving a final checkpoint…")
            self._update_actions()

    def save_checkpoint(self) -> None:
        if self.session is not None and self.session.is_active():
            self.session.save_now()
            self.statusBar().showMessage("Saving a checkpoint…", 3000)

    def continue_run(self) -> None:
        watcher = self.watcher
        if watcher is None or watcher.folder.latest_checkpoint() is None:
            return
        config = watcher.config
        self.start_training(config, run_dir=watcher.folder.path,
                            resume=watcher.folder.latest_checkpoint())

    def _apply_live_lr(self) -> None:
        if self.session is None or not self.session.is_active():
            return
        values = []
        for edit in (self.live_lr_g, self.live_lr_d):
            try:
                value = float(edit.text())
                if not 0 < value <= 1:
                    raise ValueError
            except ValueError:
                edit.setStyleSheet(f"border: 1px solid {theme.ERROR};")
                self.statusBar().showMessage(
                    f"Learning rate {edit.text()!r} is not a number between 0 and 1.", 6000)
                return
            edit.setStyleSheet("")
            values.append(value)
        self.session.set_hyper(lr_g=values[0], lr_d=values[1])

    def _apply_live_d_steps(self, value: int) -> None:
        if self.session is not None and self.session.is_active():
            self.session.set_hyper(d_steps=value)

    def _set_live_controls(self, lr_g: float, lr_d: float, d_steps: int) -> None:
        self.live_lr_g.setText(f"{lr_g:g}")
        self.live_lr_d.setText(f"{lr_d:g}")
        self.live_d_steps.blockSignals(True)
        self.live_d_steps.setValue(d_steps)
        self.live_d_steps.blockSignals(False)

    # --- events from the run on screen --------------------------------------------------

    def _on_status(self, status: str) -> None:
        self.act_pause.setChecked(status == "paused")
        self.act_pause.setText("&Resume" if status == "paused" else "&Pause")
        if status == "paused":
            self.statusBar().showMessage("Paused. Space resumes, . trains one step.", 5000)
        self._update_actions()

    def _on_alert(self, alert) -> None:
        self.notify(alert.level, alert.message, alert.step)
        self.notifications_dock.show()

    def _on_hyper(self, event) -> None:
        self._set_live_controls(event.lr_g, event.lr_d, event.d_steps)
        self.notify("info", f"Learning rates G {event.lr_g:g}, D {event.lr_d:g}, "
                            f"D steps {event.d_steps}: applied from step {event.step + 1:,}.",
                    event.step)

    def _on_checkpoint(self, event) -> None:
        if event.path:
            what = "Final checkpoint" if event.final else "Checkpoint"
            self.statusBar().showMessage(f"{what} saved: {event.path}", 6000)

    def _on_training_failed(self, message: str, details: str) -> None:
        run_dir = self.session.run_dir if self.session else None
        where = f"\n\nThe run folder {run_dir} keeps everything up to the failure." \
            if run_dir else ""
        self.notify("error", f"Training failed: {message}")
        show_error(self, "Training failed", f"{message}{where}", details)

    def _on_training_finished(self) -> None:
        self._update_actions()
        if self.session is not None and self.session.state.status == "finished":
            self.statusBar().showMessage("Training finished.", 8000)

    def notify(self, level: str, message: str, step: int | None = None) -> None:
        self.notifications.add(level, message, step)
        self.statusBar().showMessage(message, 10000)

    def _update_status(self) -> None:
        state = self.training.state
        if state is None or self.pages.currentWidget() is not self.training:
            for label in (self.status_step, self.status_speed, self.status_eta,
                          self.status_elapsed):
                label.setText("")
            self.status_progress.setVisible(False)
            return
        self.status_progress.setVisible(True)
        total = max(1, state.total_steps)
        step = state.step
        self.status_progress.setRange(0, total)
        self.status_progress.setValue(min(step, total))
        self.status_step.setText(f"step {step:,} / {state.total_steps:,}")
        last = state.last_step
        running = state.status == "running"
        its = last.its if last is not None and running else 0.0
        self.status_speed.setText(f"{its:,.1f} it/s" if running else state.status)
        remaining = (state.total_steps - step) / its if its > 0 else float("nan")
        self.status_eta.setText(f"ETA {_duration(remaining)}" if running else "")
        elapsed = last.elapsed if last is not None else 0.0
        self.status_elapsed.setText(f"elapsed {_duration(elapsed)}")
        if state.device_name:
            self.status_device.setText(f"Device: {state.device_name}")

    def _update_actions(self) -> None:
        active = self.session is not None and self.session.is_active()
        stopping = active and self.session.stopping
        self.act_start.setEnabled(not active and not self.setup.problems())
        self.setup.start_button.setEnabled(not active and not self.setup.problems())
        for action in (self.act_pause, self.act_step, self.act_save):
            action.setEnabled(active and not stopping)
        self.act_stop.setEnabled(active and not stopping)
        for widget in (self.live_lr_g, self.live_lr_d, self.live_d_steps):
            widget.setEnabled(active and not stopping)
        can_continue = (self.watcher is not None and not self.watcher.live
                        and self.watcher.state.status in ("stopped", "interrupted", "failed")
                        and self.watcher.folder.latest_checkpoint() is not None)
        self.act_continue.setEnabled(bool(can_continue) and not active)
        self.act_close_run.setEnabled(self.training.state is not None)
        self.act_export.setEnabled(self.training.samples.count() > 0)
        has_run = self.training.state is not None and self.training.state.run_dir is not None
        self.act_explore_run.setEnabled(has_run)
        self.training.explore_button.setEnabled(has_run)
        exploring = self.explorer is not None
        for action in (self.act_shuffle, self.act_add_keyframe, self.act_export_image,
                       self.act_export_grid, self.act_export_strip, self.act_export_animation,
                       self.act_export_walk, self.act_save_latent, self.act_save_keyframes,
                       self.act_load_latents, self.act_explorer_page):
            action.setEnabled(exploring)

    # --- opening things -----------------------------------------------------------------

    def open_path(self, path: str | Path) -> bool:
        """Open a run folder or a checkpoint file, whichever ``path`` is."""
        from ganstudio.engine.runs import RunFolder

        path = Path(path)
        if path.is_dir() and RunFolder.is_run_dir(path):
            return self.open_run_folder(path)
        if path.is_dir() and RunFolder.is_run_dir(path.parent):
            return self.open_run_folder(path.parent)
        if path.is_file() and path.suffix.lower() in CHECKPOINT_SUFFIXES:
            return self.open_checkpoint(path)
        show_error(self, "Cannot open this",
                   f"{path} is neither a GAN Studio run folder nor a checkpoint. Open a run "
                   "folder (it holds config.json and metrics.jsonl) or a checkpoint: "
                   ".safetensors, netG.pth / .pt, or a torch.export .pt2 file.")
        return False

    def choose_run_folder(self) -> None:
        start = str(self.settings.runs_dir() if self.settings.runs_dir().exists()
                    else Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open run folder", start)
        if path:
            self.open_path(path)

    def open_run_folder(self, path: str | Path) -> bool:
        if not self._release_current_run():
            return False
        try:
            watcher = RunWatcher(path, self)
        except GanStudioError as e:
            show_error(self, "Cannot open the run folder", str(e))
            return False
        self.watcher = watcher
        watcher.live_changed.connect(lambda live: self._update_actions())
        cfg = watcher.config
        self._bind(watcher.state, f"{watcher.folder.name}")
        self.setup.set_config(cfg)
        watcher.start()
        live = "watching it live" if watcher.live else watcher.state.status
        self.statusBar().showMessage(f"Opened {watcher.folder.path} ({live}).", 6000)
        self.settings.add_recent("runs", watcher.folder.path)
        self._update_actions()
        return True

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open checkpoint", str(Path.home()),
            "Generators (*.safetensors *.pth *.pt *.pt2);;All files (*)")
        if path:
            self.open_path(path)

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
        self.statusBar().showMessage(f"Opening {path.name}…")
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        run_in_background(_load_generator, path, owner=self,
                          on_done=lambda result: self._on_generator(path, follow, live, result))
        return True

    def _on_generator(self, path: Path, follow: Path | None, live: bool, result) -> None:
        from ganstudio.engine.loaders import SUPPORTED

        QApplication.restoreOverrideCursor()
        if isinstance(result, JobFailed):
            self.statusBar().clearMessage()
            reason = result.message if isinstance(result.error, GanStudioError) else \
                f"{type(result.error).__name__}: {result.message}"
            show_error(self, "Cannot open the checkpoint",
                       f"{reason}\n\nGAN Studio opens: {SUPPORTED}.",
                       None if isinstance(result.error, GanStudioError) else result.details)
            return
        from ganstudio.app.controllers.explorer_session import ExplorerSession

        if self.explorer is not None:
            self.explorer.close()
        session = ExplorerSession(result, follow=follow, parent=self)
        self.explorer = session
        self.explorer_page.bind(session)
        if live and follow is not None:
            self.explorer_page.live.setChecked(True)
        self.pages.setCurrentWidget(self.explorer_page)
        self.setWindowTitle(f"GAN Studio — {result.title}")
        if not (follow is not None and path.is_dir()):
            self.settings.add_recent("checkpoints", result.path)
        self.statusBar().showMessage(f"Opened {result.path}", 5000)
        self._update_actions()
        self.explorer_opened.emit(session)

    def explore_pretrained(self) -> None:
        """Pick one of the generators shipped with the app."""
        from PySide6.QtWidgets import QInputDialog

        from ganstudio.resources import pretrained_dir

        files = sorted(pretrained_dir().glob("*.safetensors"))
        if not files:
            show_error(self, "No pretrained generators",
                       f"{pretrained_dir()} holds no generators; reinstall GAN Studio.")
            return
        labels = [_pretrained_label(f) for f in files]
        choice, ok = QInputDialog.getItem(self, "Explore a pretrained generator",
                                          "Generator:", labels, 0, False)
        if ok:
            self.open_checkpoint(files[labels.index(choice)])

    def explore_run(self) -> None:
        state = self.training.state
        if state is None or state.run_dir is None:
            return
        from ganstudio.engine.runs import RunFolder

        if RunFolder(state.run_dir).latest_checkpoint() is None:
            if self.session is not None and self.session.is_active():
                self.session.save_now()
                self.statusBar().showMessage(
                    "Saving a first checkpoint to explore; it opens in a moment…", 5000)
                state.checkpoint_saved.connect(self._explore_saved_run,
                                               Qt.ConnectionType.SingleShotConnection)
                return
            show_error(self, "Nothing to explore yet", "This run has no checkpoint yet.")
            return
        self.open_checkpoint(state.run_dir, live=True)

    def _explore_saved_run(self, event) -> None:
        if self.training.state is not None and self.training.state.run_dir is not None:
            self.open_checkpoint(self.training.state.run_dir, live=True)

    def _on_page_changed(self, index: int) -> None:
        """The Setup panel belongs to training: the explorer gets its room."""
        exploring = self.pages.widget(index) is self.explorer_page
        if exploring and self.setup_dock.isVisible():
            self._setup_was_visible = True
            self.setup_dock.hide()
        elif not exploring and self._setup_was_visible and not self.setup_dock.isVisible():
            self._setup_was_visible = False
            self.setup_dock.show()

    def show_explorer_page(self) -> None:
        if self.explorer is not None:
            self.pages.setCurrentWidget(self.explorer_page)

    def _add_keyframe(self) -> None:
        if self.explorer is not None and self.pages.currentWidget() is self.explorer_page:
            self.explorer.add_keyframe_selected()

    # --- explorer files -----------------------------------------------------------------

    def export(self, kind: str) -> None:
        """Render and write an export off the UI thread, with a progress dialog."""
        from PySide6.QtWidgets import QProgressDialog

        session = self.explorer
        if session is None:
            return
        animated = kind in ("animation", "walk")
        filters = "Animated GIF (*.gif);;Animated WebP (*.webp)" if animated else \
            "PNG image (*.png)"
        suffix = "gif" if animated else "png"
        default = Path.home() / f"{session.generator.path.stem}-{kind}.{suffix}"
        path, _ = QFileDialog.getSaveFileName(self, "Export", str(default), filters)
        if not path:
            return
        direction = session.plane_axes[0] if kind == "walk" else None
        try:
            job = session.export_job(kind, path, fps=self.explorer_page.fps.value(),
                                     direction=direction)
        except GanStudioError as e:
            show_error(self, "Cannot export", str(e))
            return
        dialog = QProgressDialog(f"Exporting {Path(path).name}…", "Cancel", 0, 100, self)
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
        dialog = getattr(self, "export_dialog", None)
        if dialog is not None and dialog.isVisible():
            dialog.setValue(round(100 * fraction))

    def _on_exported(self, dialog, path: str, result) -> None:
        dialog.setValue(100)
        dialog.close()
        self.export_dialog = None
        if isinstance(result, JobFailed):
            if isinstance(result.error, ExportCancelled):
                self.statusBar().showMessage("Export cancelled.", 4000)
                return
            show_error(self, "Export failed", f"{path}: {result.message}", result.details)
            return
        self.statusBar().showMessage(f"Exported {path}", 6000)
        self.exported.emit(str(path))

    def save_latents(self, which: str) -> None:
        session = self.explorer
        if session is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save latents", str(Path.home() / f"{which}.json"),
            "Latents JSON (*.json);;NumPy array (*.npy)")
        if not path:
            return
        try:
            session.save_latents(path, which)
        except (GanStudioError, OSError) as e:
            show_error(self, "Cannot save latents", str(e))
            return
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def load_latents(self) -> None:
        session = self.explorer
        if session is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load latents", str(Path.home()),
                                              "Latents (*.json *.npy)")
        if not path:
            return
        try:
            count = session.load_latents(path)
        except GanStudioError as e:
            show_error(self, "Cannot load latents", str(e))
            return
        self.statusBar().showMessage(f"Loaded {count} latents as keyframes.", 5000)

    def close_run(self) -> None:
        if self._release_current_run():
            self.show_welcome()

    def _release_current_run(self) -> bool:
        """Before showing another run: stop (and save) a running training, if the user agrees."""
        if self.session is not None and self.session.is_active():
            if not self._confirm_stop("Training is running. Stop it and save a final checkpoint?"):
                return False
            self._stop_and_wait()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        return True

    def _confirm_stop(self, text: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running", text,
                          parent=self)
        stop = box.addButton("Stop and save", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(stop)
        box.exec()
        return box.clickedButton() is stop

    def _stop_and_wait(self) -> None:
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

    def choose_runs_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the runs folder",
                                                str(self.settings.runs_dir()))
        if path:
            self.settings.set_runs_dir(path)
            self.statusBar().showMessage(f"New runs go to {path}", 5000)

    def export_samples(self) -> None:
        image = self.training.samples.canvas.image()
        if image is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export samples", str(Path.home() /
                                              "samples.png"), "PNG image (*.png)")
        if path:
            from ganstudio.engine.images import save_png

            save_png(path, image)
            self.statusBar().showMessage(f"Saved {path}", 5000)

    # --- help ---------------------------------------------------------------------------

    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self.actions(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def show_about(self) -> None:
        device = self.training.state.device_name if self.training.state and \
            self.training.state.device_name else self.device_name
        QMessageBox.about(self, "About GAN Studio", about_text(device))

    def toggle_fullscreen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    # --- window events ------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_path(event)
        if path is not None:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(path))

    @staticmethod
    def _dropped_path(event) -> Path | None:
        urls = event.mimeData().urls()
        if len(urls) != 1 or not urls[0].isLocalFile():
            return None
        path = Path(urls[0].toLocalFile())
        if path.is_dir() or path.suffix.lower() in CHECKPOINT_SUFFIXES:
            return path
        return None

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.session is not None and self.session.is_active():
            if not self._confirm_stop(
                    "Training is running. Stop it, save a final checkpoint and quit?"):
                event.ignore()
                return
            started = time.monotonic()
            self._stop_and_wait()
            self.stopped_in = time.monotonic() - started
        if self.watcher is not None:
            self.watcher.stop()
        if self.explorer is not None:
            self.explorer.close()
        self.training.plot.stop_auto_refresh()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.save_setup(self.setup.config().to_dict())
        self.settings.sync()
        wait_for_background(CLOSE_WAIT_MS)
        event.accept()


class ExportCancelled(Exception):
    """Raised inside an export job when the user pressed Cancel."""


def _load_generator(path: Path):
    from ganstudio.engine.loaders import load_generator

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


def _scrollable(page: QWidget) -> QScrollArea:
    """A page that scrolls rather than forcing a window taller than a laptop screen."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def _probe_devices() -> list:
    from ganstudio.engine.devices import available_devices, describe, resolve_device

    return [available_devices(), describe(resolve_device("auto"))]
