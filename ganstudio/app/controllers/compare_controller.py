"""CompareController: several run folders followed at once, for the compare page.

Each run folder is read off the UI thread (:func:`read_run`) and then followed by its own
:class:`RunWatcher` while another process writes it, exactly as the training page follows one.
Their histories share one ``PlotData``; the runs table is rebuilt from their states on a timer
(never per step); the rows selected in it are the runs the plot and the samples show.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from ganstudio.app import theme
from ganstudio.app.actions import make_action
from ganstudio.app.background import JobFailed, run_in_background
from ganstudio.app.controllers.run_state import RunState
from ganstudio.app.controllers.run_watcher import RunWatcher, read_run
from ganstudio.app.settings import AppSettings
from ganstudio.app.views.compare_page import ComparePage
from ganstudio.app.views.dialogs import show_error
from ganstudio.engine.errors import GanStudioError
from ganstudio.engine.plotdata import X_COLUMNS, PlotData, RunData
from ganstudio.engine.runs_table import table_of

TABLE_REFRESH_MS = 1000  # a live run's row is at most a second behind
PLOT_REFRESH_MS = 100
FORK_WAIT_MS = 100  # how often a starting fork's folder is looked for


@dataclass
class ComparedRun:
    id: str  # the folder's path, as text
    label: str
    colour: str
    watcher: RunWatcher

    @property
    def state(self) -> RunState:
        return self.watcher.state


class CompareController(QObject):
    """Owns the compared runs and the compare page's actions."""

    message = Signal(str, int)  # for the status bar
    notified = Signal(str, str, object, bool)  # level, text, step, whether to show the panel
    run_added = Signal(str)  # a run's id: it is read and in the table
    fork_started = Signal(str)  # the new run's folder: it trains in this process
    shown = Signal()  # the compare page should be on screen
    runs_changed = Signal(list)  # the ids of the runs the plot shows

    def __init__(self, page: ComparePage, settings: AppSettings, window: QWidget):
        super().__init__(window)
        self.page, self.settings, self.window = page, settings, window
        self.plot_data = PlotData()
        self.runs: dict[str, ComparedRun] = {}  # in the order they were asked for
        self._requested: list[str] = []  # ids asked for, read or being read, in order
        self._colours: dict[str, str] = {}  # given when asked for: the same in every session
        self._table_dirty = False
        self.act_add_runs = make_action(
            self, "&Compare runs…", self.choose_runs, "Ctrl+Shift+M",
            "Add run folders (finished, or being written) to the comparison")
        page.add_button.clicked.connect(self.choose_runs)
        page.plot.set_data(self.plot_data)
        page.table.selection_changed.connect(self._on_table_selection_changed)
        page.table.remove_requested.connect(self.remove_runs)
        page.table.fork_requested.connect(self.fork_run)
        page.fork_button.clicked.connect(self._on_fork_button_clicked)
        self._forks: list[threading.Event] = []  # set: that fork's training stops
        self._table_timer = QTimer(self)
        self._table_timer.setInterval(TABLE_REFRESH_MS)
        self._table_timer.timeout.connect(self._on_table_timer)

    # --- adding and removing runs -------------------------------------------------------

    def choose_runs(self) -> None:
        """Ask for a folder: a run folder, or a folder of run folders (each is added)."""
        start = str(self.settings.runs_dir() if self.settings.runs_dir().exists()
                    else Path.home())
        path = QFileDialog.getExistingDirectory(self.window, "Add runs to the comparison",
                                                start)
        if path:
            self.add_runs(runs_in(path) or [Path(path)])

    def add_runs(self, paths: list[str | Path]) -> None:
        """Read each run folder off the UI thread, then follow it; ``run_added`` follows for
        each, and the runs keep the order asked for, whichever is read first. A run already
        compared is left as it is."""
        self.shown.emit()
        for path in paths:
            run_id = str(Path(path).resolve())
            if run_id in self._requested:
                continue
            self._requested.append(run_id)
            self._colours.setdefault(run_id, theme.run_colour(len(self._colours)))
            run_in_background(read_run, path, owner=self,
                              on_done=partial(self._on_run_read, run_id))

    def remove_runs(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            if run_id in self._requested:
                self._requested.remove(run_id)
            run = self.runs.pop(run_id, None)
            if run is None:
                continue
            run.watcher.stop()
            run.watcher.deleteLater()
            self.plot_data.remove(run_id)
        self._rebuild_table()
        self._show_selected()

    def close(self) -> None:
        """Stop following every run and stop the forks training here (the window is
        closing: each saves a final checkpoint)."""
        for stop in self._forks:
            stop.set()
        self._table_timer.stop()
        self.page.plot.stop_auto_refresh()
        for run in self.runs.values():
            run.watcher.stop()

    def _on_run_read(self, run_id: str, result) -> None:
        if run_id not in self._requested:
            return  # removed while it was being read
        if isinstance(result, JobFailed):
            self._requested.remove(run_id)
            show_error(self.window, "Cannot add the run to the comparison", result.message)
            return
        watcher = RunWatcher(result, self)
        label = self._unique_label(watcher.folder.name)
        run = ComparedRun(run_id, label, self._colours[run_id], watcher)
        self.runs[run_id] = run
        self.runs = {i: self.runs[i] for i in self._requested if i in self.runs}
        self.plot_data.add(run_id, watcher.state.history)
        state = watcher.state
        for signal in (state.steps_added, state.eval_added, state.status_changed):
            signal.connect(self._on_run_changed)
        state.alert_raised.connect(partial(self._on_alert, run_id))
        watcher.start()
        selected = self.page.table.selected_runs()
        self._rebuild_table()
        self.page.table.select_runs([*selected, run_id])
        self._table_timer.start()
        self.page.plot.start_auto_refresh(PLOT_REFRESH_MS)
        live = "followed live" if watcher.live else state.status
        self.message.emit(f"Comparing {watcher.folder.path} ({live}).", 5000)
        self.run_added.emit(run_id)

    def _unique_label(self, name: str) -> str:
        labels = {run.label for run in self.runs.values()}
        label, n = name, 1
        while label in labels:
            n += 1
            label = f"{name} ({n})"
        return label

    # --- forks --------------------------------------------------------------------------

    def fork_run(self, run_id: str) -> None:
        """Ask how to fork a compared run (its checkpoint, the settings to change, the new
        folder) and start the fork."""
        from ganstudio.app.views.fork_dialog import ForkDialog

        run = self.runs.get(run_id)
        if run is None:
            return
        checkpoints = list(run.watcher.folder.checkpoints())
        if not checkpoints:
            show_error(self.window, "Cannot fork this run",
                       f"{run.watcher.folder.path} has no checkpoints yet. A fork starts "
                       "from a checkpoint: wait for one (train.checkpoint_every), or save one.")
            return
        dialog = ForkDialog(run.watcher.folder.path, run.label, run.watcher.config, checkpoints,
                            self.window)
        while dialog.exec():
            step, changes, folder = dialog.request()
            try:
                self.start_fork(run_id, step, changes, folder)
                return
            except (GanStudioError, OSError) as error:
                dialog.show_error(str(error))

    def start_fork(self, run_id: str, step: int, changes: dict, folder: str | Path) -> Path:
        """Fork a compared run at ``step`` with ``changes`` into the new ``folder`` and train
        it here, off the UI thread; it joins the comparison as soon as its folder exists.
        The fork is checked first: ConfigError or RunFolderError says what is wrong."""
        from ganstudio.engine import forks

        plan = forks.plan_fork(run_id, step, changes)
        folder = forks.check_new_dir(plan, folder)
        stop = threading.Event()
        self._forks.append(stop)
        run_in_background(_train_fork, run_id, step, changes, folder, stop, owner=self,
                          on_done=partial(self._on_fork_done, folder, stop))
        self._wait_for_fork(folder, 0)
        self.fork_started.emit(str(folder))
        changed = ", ".join(f"{k} = {v}" for k, v in plan.changed.items()) or "nothing"
        self.message.emit(f"Forking {Path(run_id).name} at step {step:,} ({changed} "
                          f"changed) into {folder}.", 6000)
        return folder

    def _wait_for_fork(self, folder: Path, waited_ms: int) -> None:
        from ganstudio.engine.runs import RunFolder

        if RunFolder.is_run_dir(folder):
            self.add_runs([folder])
        elif waited_ms < 120_000:  # the trainer builds its networks first
            QTimer.singleShot(FORK_WAIT_MS,
                              partial(self._wait_for_fork, folder, waited_ms + FORK_WAIT_MS))

    def _on_fork_done(self, folder: Path, stop: threading.Event, result) -> None:
        self._forks.remove(stop)
        if isinstance(result, JobFailed):
            self.notified.emit("error", f"The fork {folder.name} failed: {result.message}",
                               None, True)

    def _on_fork_button_clicked(self) -> None:
        selected = self.page.table.selected_runs()
        if len(selected) != 1:
            self.message.emit("Select the one run to fork in the table.", 5000)
            return
        self.fork_run(selected[0])

    # --- what the page shows ------------------------------------------------------------

    def shown_runs(self) -> list[str]:
        """The runs plotted: those selected in the table, or every run when none is."""
        return self.page.table.selected_runs() or list(self.runs)

    def _rebuild_table(self) -> None:
        """From what the watchers have read: no metrics.jsonl is read again."""
        self._table_dirty = False
        runs = list(self.runs.values())
        table = table_of([(run.watcher.folder, run.state.step,
                           latest_metrics(run.state.history)) for run in runs])
        for run, row in zip(runs, table.rows):
            row["name"] = run.label  # told apart when two folders share a name
        self.page.table.set_table(table, [run.id for run in runs],
                                  {run.id: run.colour for run in runs})

    def _show_selected(self) -> None:
        runs = [self.runs[run_id] for run_id in self.shown_runs() if run_id in self.runs]
        self.page.plot.set_runs([(run.id, run.label, run.colour) for run in runs])
        self.page.samples.set_runs([(run.id, run.label, run.colour, run.state) for run in runs])
        self.runs_changed.emit([run.id for run in runs])

    def _on_table_selection_changed(self, _ids: list) -> None:
        self._show_selected()

    def _on_run_changed(self, *_args) -> None:
        self._table_dirty = True

    def _on_table_timer(self) -> None:
        if self._table_dirty:
            self._rebuild_table()

    def _on_alert(self, run_id: str, alert) -> None:
        run = self.runs.get(run_id)
        label = run.label if run is not None else Path(run_id).name
        self.notified.emit(alert.level, f"{label}: {alert.message}", alert.step, True)


def latest_metrics(history: RunData) -> dict[str, float]:
    """The latest finite value of each evaluation or diagnostic series (``NAME/VALUE``)."""
    out: dict[str, float] = {}
    for name, table in history.evaluations.items():
        for column in table.columns[len(X_COLUMNS):]:
            values = table.column(column)
            finite = values[np.isfinite(values)]
            if len(finite):
                out[f"{name}/{column}"] = float(finite[-1])
    return out


def _train_fork(parent: str, step: int, changes: dict, folder: Path,
                stop: threading.Event) -> None:
    """Runs off the UI thread: the fork's trainer, to its last step or until ``stop``."""
    from ganstudio.engine import forks

    trainer = forks.fork(parent, step, changes, folder)
    for _event in trainer.run():
        if stop.is_set():
            trainer.stop()  # a final checkpoint, then the run ends


def runs_in(path: str | Path) -> list[Path]:
    """The run folders directly inside ``path`` (none when ``path`` is itself a run)."""
    from ganstudio.engine.runs import RunFolder

    path = Path(path)
    if RunFolder.is_run_dir(path):
        return []
    return sorted(child for child in path.iterdir()
                  if child.is_dir() and RunFolder.is_run_dir(child))
