"""The GAN Studio main window: it lays out the pages, docks, menus, toolbar and status bar.

What happens lives in two controllers: the training controller (the run on the training
page) and the explorer controller (the generator in the explorer). They own their actions
and keep them enabled as fits; the window places them, switches pages when they show
something, opens what is dropped on it, and remembers the layout and settings.
"""

from __future__ import annotations

import contextlib
import time
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from ganstudio.app import theme
from ganstudio.app.actions import actions_of, make_action
from ganstudio.app.background import JobFailed, run_in_background, wait_for_background
from ganstudio.app.controllers.compare_controller import CompareController
from ganstudio.app.controllers.data_controller import DATASET_SUFFIXES, DataController
from ganstudio.app.controllers.explorer_controller import ExplorerController
from ganstudio.app.controllers.training_controller import CLOSE_WAIT_MS, TrainingController
from ganstudio.app.process import freeze_long_lived_objects
from ganstudio.app.settings import AppSettings
from ganstudio.app.views.compare_page import ComparePage
from ganstudio.app.views.dialogs import ShortcutsDialog, about_text, show_error
from ganstudio.app.views.explorer_page import ExplorerPage
from ganstudio.app.views.notifications import NotificationsPanel
from ganstudio.app.views.setup_panel import SetupPanel
from ganstudio.app.views.status_bar import ReadProgress, RunStatus
from ganstudio.app.views.training_page import TrainingPage
from ganstudio.app.views.welcome_page import WelcomePage
from ganstudio.engine.config import RunConfig, defaults_for
from ganstudio.engine.errors import GanStudioError

# What a drop accepts (the cursor says so); opening decides by content, not by suffix.
# config.json: a BigGAN folder's (or a run folder's, which opens the run).
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pt2", ".pkl", ".bin", ".json")
# The loss plots redraw at most 10 times a second, and less often when a redraw costs more
# than 5% of that time (LossPlot.start_auto_refresh). Every millisecond the UI thread draws is
# taken from training on a 2-core laptop (CPU, and the GIL), for motion nobody reads faster.
PLOT_REFRESH_MS = 100


class MainWindow(QMainWindow):
    """One window, one run at a time (trained here, or a run folder being watched), and one
    generator in the explorer."""

    def __init__(self, settings: AppSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings or AppSettings()
        self.device_name = "CPU"
        self.setWindowTitle("GAN Studio")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1440, 900)

        self.welcome = WelcomePage()
        self.training = TrainingPage()
        self.explorer_page = ExplorerPage()
        self.compare_page = ComparePage()
        self.pages = QStackedWidget()
        self.pages.addWidget(_scrollable(self.welcome))
        self.pages.addWidget(self.training)
        self.pages.addWidget(self.explorer_page)
        self.pages.addWidget(self.compare_page)
        self.setCentralWidget(self.pages)
        self.pages.currentChanged.connect(self._on_page_changed)
        self._setup_was_visible = False  # set when the explorer hid the Setup panel
        self._notifications_were_visible = False  # … or the empty notifications

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

        self.training_controller = TrainingController(self.setup, self.training, self.settings,
                                                      self)
        self.explorer_controller = ExplorerController(self.explorer_page,
                                                      self.training_controller, self.settings,
                                                      self)
        self.data_controller = DataController(self.setup, self.settings, self)
        self.training_controller.data = self.data_controller
        self.compare_controller = CompareController(self.compare_page, self.settings, self)
        self._build_actions()
        for owner in (self, self.training_controller, self.explorer_controller,
                      self.data_controller, self.compare_controller):
            self.addActions(actions_of(owner))
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
        self._update_page_actions()

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

    def _build_actions(self) -> None:
        # Portable strings rather than QKeySequence.StandardKey: some platforms (and the
        # offscreen one) bind nothing to Quit or FullScreen. Qt maps Ctrl to ⌘ on macOS.
        a = partial(make_action, self)
        plot = self.training.plot
        self.act_new = a("&New training…", self.show_setup, "Ctrl+N",
                         "Set up a new training run")
        self.act_quit = a("&Quit", self.close, "Ctrl+Q", "Quit GAN Studio")
        self.act_welcome = a("&Welcome page", self.show_welcome, "Ctrl+1",
                             "Show the welcome page")
        self.act_run_page = a("&Training page", self.show_training_page, "Ctrl+2",
                              "Show the run on screen")
        self.act_explorer_page = a("&Explorer page", self.show_explorer_page, "Ctrl+3",
                                   "Show the latent explorer")
        self.act_compare_page = a("&Compare page", self.show_compare_page, "Ctrl+4",
                                  "Show the runs being compared")
        self.act_log = a("&Log scale", plot.set_log_scale, "Ctrl+L",
                         "Log-scale y axes on the plots", checkable=True)
        self.act_follow = a("&Follow latest", plot.set_follow_latest, "End",
                            "Keep the newest steps in view", checkable=True)
        self.act_reset_zoom = a("&Reset zoom", plot.reset_zoom, "Ctrl+0",
                                "Show the whole history")
        self.act_fullscreen = a("&Full screen", self.toggle_fullscreen, "F11",
                                "Toggle full screen", checkable=True)
        self.act_shortcuts = a("&Keyboard shortcuts", self.show_shortcuts,
                               ["Ctrl+/", "F1"], "Every keyboard shortcut")
        self.act_about = a("&About GAN Studio", self.show_about, None,
                           "Versions of GAN Studio, PyTorch and Qt, and the device in use")

    def _build_menus(self) -> None:
        t, e = self.training_controller, self.explorer_controller
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addActions([self.act_new, e.act_open_checkpoint, e.act_download, t.act_open_run,
                         self.compare_controller.act_add_runs])
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file.addMenu(self.recent_menu)
        file.addSeparator()
        file.addActions([t.act_save, t.act_export])
        file.addSeparator()
        file.addActions([t.act_runs_dir, t.act_close_run])
        file.addSeparator()
        file.addAction(self.act_quit)

        train = bar.addMenu("&Training")
        train.addActions([t.act_start, t.act_pause, t.act_step, t.act_step_d, t.act_step_g,
                          t.act_stop])
        train.addSeparator()
        train.addAction(t.act_continue)
        train.addSeparator()
        d = self.data_controller
        train.addActions([d.act_add_folder, d.act_add_file, d.act_clear_cache])

        explore = bar.addMenu("&Explore")
        explore.addActions([e.act_explore_run, e.act_shuffle, e.act_add_keyframe])
        explore.addSeparator()
        self.export_menu = QMenu("Export", self)
        self.export_menu.addActions(e.export_actions)
        explore.addMenu(self.export_menu)
        explore.addSeparator()
        explore.addActions([e.act_save_latent, e.act_save_keyframes, e.act_load_latents])
        explore.addSeparator()
        explore.addActions([e.act_save_directions, e.act_load_directions])
        self.explorer_page.export_button.setMenu(self.export_menu)

        view = bar.addMenu("&View")
        view.addActions([self.act_welcome, self.act_run_page, self.act_explorer_page,
                         self.act_compare_page])
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
        t = self.training_controller
        bar = QToolBar("Training controls")
        bar.setObjectName("trainingToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()
        icons = {
            t.act_start: style.StandardPixmap.SP_MediaPlay,
            t.act_pause: style.StandardPixmap.SP_MediaPause,
            t.act_step: style.StandardPixmap.SP_MediaSkipForward,
            t.act_stop: style.StandardPixmap.SP_MediaStop,
            t.act_save: style.StandardPixmap.SP_DialogSaveButton,
        }
        for action, icon in icons.items():
            action.setIcon(style.standardIcon(icon))
            bar.addAction(action)
            if action is t.act_step:  # GAN Lab's one-player steps, beside Step once
                bar.addActions([t.act_step_d, t.act_step_g])
        bar.addSeparator()
        for label, field in (("Live:  lr G", t.live_lr_g), ("lr D", t.live_lr_d),
                             ("D steps", t.live_d_steps)):
            bar.addWidget(_toolbar_label(label))
            bar.addWidget(field)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.toolbar = bar

    def _build_status_bar(self) -> None:
        self.read_progress = ReadProgress()
        self.run_status = RunStatus()
        self.statusBar().addPermanentWidget(self.read_progress)
        self.statusBar().addPermanentWidget(self.run_status)

    def _connect(self) -> None:
        t, e, w = self.training_controller, self.explorer_controller, self.welcome
        w.train_digits.connect(lambda: t.start_training(defaults_for("digits")))
        w.watch_ring.connect(lambda: t.start_training(defaults_for("ring8")))
        w.open_checkpoint.connect(e.choose_checkpoint)
        w.explore_pretrained.connect(e.explore_pretrained)
        w.download_pretrained.connect(e.download_pretrained)
        w.open_run.connect(t.choose_run_folder)
        w.new_training.connect(self.show_setup)
        w.open_recent.connect(self.open_recent)
        c = self.compare_controller
        for controller in (t, e, self.data_controller, c):
            controller.message.connect(self._show_message)
        t.notified.connect(self._on_notified)
        c.notified.connect(self._on_notified)
        c.shown.connect(self.show_compare_page)
        t.setup_wanted.connect(self.show_setup)
        t.run_shown.connect(self._on_run_shown)
        t.read_progress.connect(self.read_progress.show_progress)
        t.read_ended.connect(self.read_progress.hide)
        e.loading.connect(lambda name: self.read_progress.show_busy(f"Opening {name}…") if name
                          else self.read_progress.hide())
        t.changed.connect(self._update_page_actions)
        t.run_closed.connect(self.show_welcome)
        self.read_progress.cancel_requested.connect(t.cancel_read)
        e.opened.connect(self._on_explorer_opened)
        self.training.plot.settings_changed.connect(self._save_plot_settings)
        self.training.plot.follow_latest_changed.connect(self.act_follow.setChecked)

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
        self.data_controller.refresh()

    def _on_devices(self, result) -> None:
        if isinstance(result, JobFailed):
            self.notify("error", f"PyTorch could not start: {result.message}")
            return
        freeze_long_lived_objects()  # torch is imported now
        names, description = result
        self.setup.set_devices(names)
        self.device_name = description
        self.run_status.set_device(description)

    # --- what the controllers show ------------------------------------------------------

    def _show_message(self, text: str, msecs: int) -> None:
        if text:
            self.statusBar().showMessage(text, msecs)
        else:
            self.statusBar().clearMessage()

    def _on_notified(self, level: str, text: str, step, show_panel: bool) -> None:
        self.notify(level, text, step)
        if show_panel:
            self.notifications_dock.show()

    def notify(self, level: str, message: str, step: int | None = None) -> None:
        self.notifications.add(level, message, step)
        self.statusBar().showMessage(message, 10000)

    def _on_run_shown(self, title: str) -> None:
        self.pages.setCurrentWidget(self.training)
        self.setWindowTitle(f"GAN Studio — {title}")

    def _on_explorer_opened(self, session) -> None:
        self.pages.setCurrentWidget(self.explorer_page)
        self.setWindowTitle(f"GAN Studio — {session.generator.title}")
        self._update_page_actions()

    def _update_status(self) -> None:
        state = self.training.state
        on_screen = state is not None and self.pages.currentWidget() is self.training
        self.run_status.show_run(state if on_screen else None)

    def _update_page_actions(self) -> None:
        self.act_explorer_page.setEnabled(self.explorer_controller.session is not None)

    # --- pages --------------------------------------------------------------------------

    def show_welcome(self) -> None:
        self._refresh_recent()
        self.pages.setCurrentIndex(0)

    def show_training_page(self) -> None:
        if self.training.state is not None:
            self.pages.setCurrentWidget(self.training)

    def show_explorer_page(self) -> None:
        if self.explorer_controller.session is not None:
            self.pages.setCurrentWidget(self.explorer_page)

    def show_compare_page(self) -> None:
        self.pages.setCurrentWidget(self.compare_page)

    def show_setup(self) -> None:
        self.setup_dock.show()
        self.setup_dock.raise_()
        self.setup.dataset.setFocus()

    def _on_page_changed(self, index: int) -> None:
        """The Setup panel belongs to training, and so do the notifications while there are
        none: the explorer and the compare page get their room."""
        exploring = self.pages.widget(index) in (self.explorer_page, self.compare_page)
        if exploring and self.setup_dock.isVisible():
            self._setup_was_visible = True
            self.setup_dock.hide()
        elif not exploring and self._setup_was_visible and not self.setup_dock.isVisible():
            self._setup_was_visible = False
            self.setup_dock.show()
        quiet = not self.notifications.messages()
        if exploring and quiet and self.notifications_dock.isVisible():
            self._notifications_were_visible = True
            self.notifications_dock.hide()
        elif not exploring and self._notifications_were_visible:
            self._notifications_were_visible = False
            self.notifications_dock.show()

    # --- opening things -----------------------------------------------------------------

    def open_path(self, path: str | Path) -> bool:
        """Open a run folder or a checkpoint file, whichever ``path`` is."""
        from ganstudio.engine.runs import RunFolder

        path = Path(path)
        if path.is_file() and path.name.lower().endswith(DATASET_SUFFIXES):
            self.show_setup()
            self.data_controller.add_path(path)
            return True
        if path.is_dir() and RunFolder.is_run_dir(path):
            return self.training_controller.open_run_folder(path)
        if path.is_dir() and RunFolder.is_run_dir(path.parent):
            return self.training_controller.open_run_folder(path.parent)
        if path.is_file() and path.name == "config.json" and RunFolder.is_run_dir(path.parent):
            return self.training_controller.open_run_folder(path.parent)
        if path.is_file() or path.is_dir():
            return self.explorer_controller.open_checkpoint(path)  # told apart by content
        show_error(self, "Cannot open this",
                   f"{path} is neither a GAN Studio run folder nor a generator file. Open a "
                   "run folder (it holds config.json and metrics.jsonl) or a generator: "
                   ".safetensors, netG.pth / .pt, a torch.export .pt2, a StyleGAN .pkl or a "
                   "BigGAN folder (or its config.json or pytorch_model.bin).")
        return False

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

    # --- help ---------------------------------------------------------------------------

    def show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self.actions(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def show_about(self) -> None:
        state = self.training.state
        device = state.device_name if state is not None and state.device_name else \
            self.device_name
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
        if path.is_dir() or path.suffix.lower() in CHECKPOINT_SUFFIXES \
                or path.name.lower().endswith(DATASET_SUFFIXES):
            return path
        return None

    def closeEvent(self, event: QCloseEvent) -> None:
        started = time.monotonic()
        if not self.training_controller.confirm_quit():
            event.ignore()
            return
        self.stopped_in = time.monotonic() - started
        self.explorer_controller.close()
        self.data_controller.close(CLOSE_WAIT_MS)
        self.compare_controller.close()
        self.training.plot.stop_auto_refresh()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.save_setup(self.setup.config().to_dict())
        self.settings.sync()
        wait_for_background(CLOSE_WAIT_MS)
        event.accept()


def _toolbar_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(f"color: {theme.MUTED}; padding: 0 4px 0 8px;")
    return label


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
