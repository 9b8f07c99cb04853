"""DataController: the real datasets of the Setup panel, and the long work they take.

It lists what there is to train on (the catalogue, sets a system package installed, prepared
sets, the user's recent ones), inspects a set the user adds or picks, downloads catalogue sets,
prepares a set before training starts, and measures and clears the cache. Every file is read
by an engine function on a worker (``run_in_background``); one job at a time reports its
progress and can be cancelled. The panel (``DatasetPanel``) draws what the controller says.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ganstudio.app.actions import make_action
from ganstudio.app.background import JobFailed, run_in_background
from ganstudio.app.settings import AppSettings
from ganstudio.app.views.dataset_panel import DatasetEntry, Inspection, size_text
from ganstudio.app.views.setup_panel import SetupPanel
from ganstudio.engine.config import DataConfig

SAMPLE_COUNT = 16  # images in the grid of real samples
SAMPLE_SIDE = 48  # px of each
# What the window opens as a dataset: archives. Arrays (.npy) and folders may be generators
# or latents there; on the Setup panel's dataset part every drop is a dataset.
DATASET_SUFFIXES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz")


class DataController(QObject):
    """Owns the dataset actions (``act_add_folder``, ``act_add_file``, ``act_clear_cache``)
    and the one data job."""

    message = Signal(str, int)  # for the status bar
    listed = Signal(list)  # [DatasetEntry]
    inspected = Signal(object)  # Inspection
    failed = Signal(str)  # a one-line error about the data
    progress = Signal(str, int, int)  # what, done, total (0: unknown)
    job_ended = Signal()  # finished, failed or cancelled: the progress can go
    cache_measured = Signal(int, int)  # bytes of prepared sets, bytes of downloads
    prepared = Signal(object)  # DataConfig: its prepared set is in the cache

    def __init__(self, setup: SetupPanel, settings: AppSettings, window: QWidget):
        super().__init__(window)
        self.setup, self.settings, self.window = setup, settings, window
        self.entries: list[DatasetEntry] = []
        self.inspections: dict[str, Inspection] = {}
        self._cancel: threading.Event | None = None
        self._inspecting: str | None = None
        # Threads of its own: a download or a prepare takes minutes, and must not hold up
        # the previews and probes of the shared pool (nor they it).
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.act_add_folder = make_action(self, "Add dataset &folder…", self.choose_folder, None,
                                          "Train on a folder of images (subfolders: classes)")
        self.act_add_file = make_action(self, "Add dataset f&ile…", self.choose_file, None,
                                        "Train on an archive, MNIST/CIFAR files or an array")
        self.act_clear_cache = make_action(self, "Clear dataset &cache…", self.clear_cache, None,
                                           "Delete every prepared dataset from the cache")
        panel = setup.data_panel
        panel.add_button.menu().addActions([self.act_add_folder, self.act_add_file])
        panel.download_requested.connect(self.download_selected)
        panel.prepare_requested.connect(self.prepare_selected)
        panel.cancel_requested.connect(self.cancel)
        panel.clear_cache_requested.connect(self.clear_cache)
        panel.path_dropped.connect(self.add_path)
        setup.real_dataset_selected.connect(self._on_selected)
        self.listed.connect(setup.set_real_datasets)
        self.inspected.connect(self._on_inspected)
        self.failed.connect(panel.show_error)
        self.progress.connect(panel.show_progress)
        self.job_ended.connect(panel.hide_progress)
        self.cache_measured.connect(panel.show_cache_size)

    @property
    def busy(self) -> bool:
        return self._cancel is not None

    # --- the list -----------------------------------------------------------------------

    def refresh(self) -> None:
        """List the real sets and measure the cache, off the UI thread."""
        recent = self.settings.recent("datasets")
        run_in_background(list_datasets, recent, owner=self, pool=self.pool,
                          on_done=self._on_listed)

    def _on_listed(self, result) -> None:
        if isinstance(result, JobFailed):
            self.failed.emit(f"Cannot list the datasets: {result.message}")
            return
        self.entries, prepared_bytes, download_bytes = result
        self.listed.emit(self.entries)
        self.cache_measured.emit(prepared_bytes, download_bytes)

    # --- adding and inspecting ------------------------------------------------------------

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Add a folder of images",
                                                self._start_folder())
        if path:
            self.add_path(path)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Add an archive or a dataset file", self._start_folder(),
            "Datasets (*.zip *.tar *.tar.gz *.tgz *.gz *.npy *.npz *ubyte *.bin);;All files (*)")
        if path:
            self.add_path(path)

    def _start_folder(self) -> str:
        recent = self.settings.recent("datasets")
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def add_path(self, path: str | Path) -> None:
        """Inspect ``path`` on a worker; when it holds images, it joins the list and is chosen."""
        text = str(Path(path).expanduser())
        self._inspect(text, added=True)

    def _on_selected(self, entry: DatasetEntry | None) -> None:
        if entry is None or not entry.present:
            return
        known = self.inspections.get(entry.source)
        if known is not None:
            self.setup.data_panel.show_inspection(known)
        elif self._inspecting != entry.source:
            self._inspect(entry.source, added=False)

    def _inspect(self, source: str, added: bool) -> None:
        if not self._begin(f"Reading {Path(source).name}"):
            return
        self._inspecting = source
        cancel = self._cancel
        run_in_background(inspect_dataset, source, self._reporter("Reading", source),
                          cancel.is_set, owner=self, pool=self.pool,
                          on_done=lambda r: self._on_inspect_done(cancel, source, added, r))

    def _on_inspect_done(self, cancel: threading.Event, source: str, added: bool, result) -> None:
        if self._inspecting == source:
            self._inspecting = None
        if not self._end(cancel, result, "Cannot read this dataset"):
            return
        entry, inspection = result
        self.inspections[inspection.source] = inspection
        if added:
            if entry.kind == "recent":
                self.settings.add_recent("datasets", entry.source)
            self.entries = [entry] + [e for e in self.entries if e.source != entry.source]
            self.listed.emit(self.entries)
            self.setup.select_real_dataset(entry.source)
            self.message.emit(f"Added {entry.label}: {inspection.count:,} images.", 6000)
        self.inspected.emit(inspection)

    def _on_inspected(self, inspection: Inspection) -> None:
        entry = self.setup.real_entry()
        if entry is not None and entry.source == inspection.source:
            self.setup.data_panel.show_inspection(inspection)
            self.setup.set_source_facts(inspection.side, inspection.classes)

    # --- downloading ----------------------------------------------------------------------

    def download_selected(self) -> None:
        entry = self.setup.real_entry()
        if entry is not None and entry.kind == "catalogue":
            self.download(entry.source)

    def download(self, name: str) -> None:
        """Download a catalogue set (progress and Cancel in the panel); it is inspected after."""
        from ganstudio.engine.download import download_dataset

        if not self._begin(f"Downloading {name}"):
            return
        cancel = self._cancel
        fetch = partial(download_dataset, name, progress=self._reporter("Downloading", name),
                        cancel=cancel.is_set)
        run_in_background(fetch, owner=self, pool=self.pool,
                          on_done=lambda r: self._on_downloaded(cancel, name, r))

    def _on_downloaded(self, cancel: threading.Event, name: str, result) -> None:
        if not self._end(cancel, result, "Download failed",
                         cancelled="Download cancelled; it resumes where it stopped."):
            return
        self.message.emit(f"Downloaded {name} to {result}", 6000)
        self.refresh()
        self._inspect(name, added=False)

    # --- preparing ------------------------------------------------------------------------

    def prepare_selected(self) -> None:
        cfg = self.setup.config()
        if cfg.data.is_real:
            self.prepare(cfg.data)

    def prepare(self, data: DataConfig, then: Callable[[], None] | None = None) -> None:
        """Prepare (or find prepared) ``data`` on a worker, with progress and Cancel; ``then``
        runs when it is ready. A cancelled prepare leaves nothing in the cache."""
        if not self._begin(f"Preparing {data.name}"):
            return
        cancel = self._cancel
        run_in_background(prepare_dataset, data, self._reporter("Preparing", data.name),
                          cancel.is_set, owner=self, pool=self.pool,
                          on_done=lambda r: self._on_prepared(cancel, data, then, r))

    def _on_prepared(self, cancel: threading.Event, data: DataConfig,
                     then: Callable[[], None] | None, result) -> None:
        if not self._end(cancel, result, "Cannot prepare the data",
                         cancelled="Preparing was cancelled; nothing was written."):
            return
        self.message.emit(f"{data.name} is prepared: {result}", 6000)
        self.prepared.emit(data)
        self.refresh()
        if then is not None:
            then()

    # --- the cache ------------------------------------------------------------------------

    def clear_cache(self) -> None:
        """After the user confirms: delete every prepared set (downloads stay)."""
        if self.busy:
            self.message.emit("Wait for the data job to end, or cancel it, first.", 5000)
            return
        answer = QMessageBox.question(
            self.window, "Clear the dataset cache",
            "Delete every prepared dataset from the cache? Downloads and your own files stay; "
            "a set is prepared again the next time it trains.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        from ganstudio.engine.data.prepare import clear_prepared

        run_in_background(clear_prepared, owner=self, pool=self.pool, on_done=self._on_cleared)

    def _on_cleared(self, result) -> None:
        if isinstance(result, JobFailed):
            self.failed.emit(f"Cannot clear the cache: {result.message}")
            return
        self.message.emit(f"Cleared the dataset cache: {size_text(result)} freed.", 6000)
        self.refresh()

    # --- the one job ----------------------------------------------------------------------

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def close(self, msecs: int) -> None:
        """When the window closes: cancel the data job and give it ``msecs`` to end."""
        self.cancel()
        self.pool.waitForDone(msecs)

    def _begin(self, what: str) -> bool:
        if self._cancel is not None:
            self.message.emit("Another data job is running; wait for it or cancel it.", 5000)
            return False
        self._cancel = threading.Event()
        self.setup.data_panel.show_error("")
        self.progress.emit(what, 0, 0)
        return True

    def _reporter(self, verb: str, what: str) -> Callable[[int, int], None]:
        label = f"{verb} {Path(what).name}"

        def report(done: int, total: int) -> None:
            with contextlib.suppress(RuntimeError):  # the window closed mid-job
                self.progress.emit(label, int(done), int(total))

        return report

    def _end(self, cancel: threading.Event, result, failure: str,
             cancelled: str = "Cancelled.") -> bool:
        """Close the job; True when it succeeded."""
        from ganstudio.engine.errors import Cancelled

        if self._cancel is cancel:
            self._cancel = None
        self.job_ended.emit()
        if isinstance(result, JobFailed):
            if isinstance(result.error, Cancelled) or cancel.is_set():
                self.message.emit(cancelled, 6000)
                self.setup.data_panel.show_error("")
            else:
                self.failed.emit(f"{failure}: {_one_line(result.message)}")
            return False
        return True


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the work, off the UI thread -------------------------------------------------------------


def list_datasets(recent: list[str]) -> tuple[list[DatasetEntry], int, int]:
    """The real sets on offer, newest user sets first; and the cache's bytes (prepared sets,
    downloads)."""
    from ganstudio.engine.data.catalogue import (
        catalogue,
        download_folder,
        downloaded_path,
        installed_path,
    )
    from ganstudio.engine.data.prepare import list_prepared

    entries: list[DatasetEntry] = []
    for path in recent:
        if Path(path).exists():
            entries.append(_path_entry(path, "recent"))
    for entry in catalogue().values():
        installed = installed_path(entry)
        if installed is not None:
            entries.append(DatasetEntry(entry.name, entry.name, f"{entry.title} (installed)",
                                        "installed", detail=f"{entry.description}\n{installed}"))
        elif downloaded_path(entry) is not None:
            entries.append(DatasetEntry(entry.name, entry.name, entry.title, "catalogue",
                                        detail=f"{entry.description}\n"
                                               f"{download_folder(entry.name)}"))
        else:
            entries.append(DatasetEntry(
                entry.name, entry.name,
                f"{entry.title}: download… ({size_text(entry.download_bytes)})",
                "catalogue", present=False, download_bytes=entry.download_bytes,
                detail=f"{entry.description}\nFrom {entry.homepage} ({entry.licence})"))
    prepared = list_prepared()
    for p in prepared:
        if not Path(p.source).exists():
            continue
        channels, side = p.shape[0], p.shape[-1]
        base = _path_entry(p.source, "prepared")
        entries.append(DatasetEntry(
            base.source, base.name, f"{p.name} · prepared {side} px"
            f"{' grey' if channels == 1 else ''}", "prepared", resolution=side,
            grayscale=channels == 1, crop=_prepared_crop(p.folder),
            detail=f"{p.count:,} images, {size_text(p.bytes)} in {p.folder}"))
    downloads = download_folder("x").parent
    download_bytes = sum(f.stat().st_size for f in downloads.rglob("*") if f.is_file()) \
        if downloads.is_dir() else 0
    return entries, sum(p.bytes for p in prepared), download_bytes


def _prepared_crop(folder: Path) -> str:
    import json

    try:
        crop = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["options"]["crop"]
    except (OSError, ValueError, KeyError, TypeError):
        return "centre"
    return crop if crop in ("centre", "pad") else "centre"


def _path_entry(source: str, kind: str) -> DatasetEntry:
    from ganstudio.engine.data.batches import real_data

    data = real_data(source, 64)
    return DatasetEntry(data.source, data.name, data.name, kind, detail=data.source)


def inspect_dataset(source: str, progress, cancel) -> tuple[DatasetEntry, Inspection]:
    """Inspect a path or catalogue name: its list entry and what it holds, with a grid of a
    few real images (one of each class first)."""
    from ganstudio.engine.data.catalogue import catalogue, resolve_source
    from ganstudio.engine.data.sources import inspect_source

    path = resolve_source(source)
    report = inspect_source(path, progress=progress, cancel=cancel)
    if source in catalogue() and not Path(source).exists():
        entry = DatasetEntry(source, source, catalogue()[source].title, "catalogue")
    else:
        entry = _path_entry(str(path), "recent")
    side = None
    if report.sizes:
        w, h, _ = report.sizes[0]
        side = w if w == h else None
    inspection = Inspection(
        entry.source, report.count, report.channels, side, tuple(report.classes),
        tuple(report.class_counts), report_lines(report), report.skipped,
        sample_grid(path))
    return entry, inspection


def report_lines(report) -> tuple[str, ...]:
    """An inspection's SourceReport in a few short lines for the panel."""
    sizes = ", ".join(f"{w}×{h}" for w, h, _ in report.sizes[:3])
    if len(report.sizes) > 3:
        sizes += f" and {len(report.sizes) - 3} more sizes"
    colour = "grey" if report.channels == 1 else "colour"
    lines = [f"{report.count:,} images, {sizes} px, {colour}", report.description]
    if report.classes:
        shown = ", ".join(f"{c} ({n:,})" for c, n in zip(report.classes[:12],
                                                          report.class_counts))
        more = f" and {len(report.classes) - 12} more" if len(report.classes) > 12 else ""
        lines.append(f"{len(report.classes)} classes: {shown}{more}")
    else:
        lines.append("No classes")
    if report.skipped_quietly:
        lines.append(f"Skipped {report.skipped_quietly:,} hidden files and non-images")
    if report.skipped:
        lines.append(f"Skipped {report.skipped:,} unreadable or refused:")
        lines += [f"• {s.reason}" for s in report.first_skipped[:3]]
        if report.skipped > 3:
            lines.append(f"… and {report.skipped - 3:,} more")
    return tuple(lines)


def sample_grid(path: Path) -> np.ndarray | None:
    """A grid of up to SAMPLE_COUNT images of the set, one of each class first."""
    from ganstudio.engine.data.prepare import fit_square
    from ganstudio.engine.data.sources import open_source
    from ganstudio.engine.errors import DatasetError
    from ganstudio.engine.images import make_grid

    with open_source(path) as source:
        n = len(source)
        if source.labels is not None and len(source.classes):
            order = np.argsort(source.labels[:20_000], kind="stable")
            firsts = order[np.unique(source.labels[order], return_index=True)[1]]
            picks = list(firsts[:SAMPLE_COUNT])
        else:
            picks = []
        picks += [i for i in np.linspace(0, n - 1, SAMPLE_COUNT, dtype=int) if i not in picks]
        images = []
        for i in picks[:SAMPLE_COUNT * 2]:
            try:
                image = source.load(int(i))
            except DatasetError:
                continue
            square = fit_square(image.convert("RGB"), SAMPLE_SIDE, "centre")
            images.append(np.asarray(square, np.uint8))
            if len(images) == SAMPLE_COUNT:
                break
    if not images:
        return None
    return make_grid(np.stack(images), 8, pad=2)


def prepare_dataset(data: DataConfig, progress, cancel) -> Path:
    """Prepare a run's real data (or find it prepared); the prepared set's folder."""
    from ganstudio.engine.data.batches import prepare_data

    return prepare_data(data, progress=progress, cancel=cancel).folder
