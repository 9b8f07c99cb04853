"""The explorer's render worker: one thread, and the newest request of each kind wins.

Requests carry a stamp. A request waiting in the queue is replaced by a newer one of the same
kind (a slider storm renders only the latest position); results come back with their stamp,
so the controller can drop any that a newer request has overtaken; an exception comes back
as a message to draw over the image. This is the pattern of NVIDIA's StyleGAN3 visualizer
and of ndv. A progressive job shows its work in progress, stops when a newer request of its
kind waits, and lets more urgent kinds run between its parts.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal


@dataclass
class RenderResult:
    kind: str
    stamp: int
    value: Any = None
    error: str | None = None
    details: str | None = None
    seconds: float = 0.0
    partial: bool = False  # a preview; the full result of the same stamp follows


class RenderWorker(QObject):
    finished = Signal(object)  # RenderResult, delivered on the UI thread

    def __init__(self, priority: tuple[str, ...] = (), parent: QObject | None = None):
        super().__init__(parent)
        self._priority = priority  # kinds served first when several wait
        self._pending: dict[str, tuple[int, Callable, bool]] = {}
        self._wake = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name="render", daemon=True)
        self._thread.start()

    def submit(self, kind: str, stamp: int, job: Callable[[], Any]) -> None:
        """Queue ``job``; it replaces any request of the same kind not yet started."""
        self._queue(kind, stamp, job)

    def submit_progressive(self, kind: str, stamp: int,
                           job: Callable[[Callable[[Any], bool]], Any]) -> None:
        """Queue a job that shows work in progress: it calls ``preview(value)`` with each
        coarser result as it has one (delivered as a partial result at once), and stops
        early, returning None, when ``preview`` answers False: a newer request of the
        same kind is waiting, so the rest of this one would be thrown away."""
        self._queue(kind, stamp, job, progressive=True)

    def _queue(self, kind: str, stamp: int, job, progressive: bool = False) -> None:
        with self._wake:
            self._pending[kind] = (stamp, job, progressive)
            self._wake.notify()

    def _superseded(self, kind: str) -> bool:
        with self._wake:
            return kind in self._pending or self._closing

    def idle(self) -> bool:
        with self._wake:
            return not self._pending and not self._busy

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._wake:
            self._closing = True
            self._pending.clear()
            self._wake.notify()
        self._thread.join(timeout)

    def _next(self) -> tuple[str, int, Callable, bool] | None:
        with self._wake:
            while not self._pending and not self._closing:
                self._wake.wait()
            if self._closing:
                return None
            order = [k for k in self._priority if k in self._pending] + list(self._pending)
            kind = order[0]
            stamp, job, progressive = self._pending.pop(kind)
            self._busy = True
            return kind, stamp, job, progressive

    def _urgent(self, kind: str) -> tuple[str, int, Callable, bool] | None:
        """A waiting request of a kind more urgent than ``kind``, taken from the queue."""
        with self._wake:
            if kind not in self._priority or self._closing:
                return None
            for other in self._priority[: self._priority.index(kind)]:
                if other in self._pending:
                    stamp, job, progressive = self._pending.pop(other)
                    return other, stamp, job, progressive
        return None

    def _loop(self) -> None:
        while (request := self._next()) is not None:
            result = self._run(*request)
            with self._wake:
                self._busy = False
            self._deliver(result)

    def _deliver(self, result: RenderResult) -> None:
        # RuntimeError: the explorer was closed while this ran; nobody is waiting
        with contextlib.suppress(RuntimeError):
            self.finished.emit(result)

    def _run(self, kind: str, stamp: int, job: Callable, progressive: bool) -> RenderResult:
        started = time.perf_counter()

        def preview(value) -> bool:
            self._deliver(RenderResult(kind, stamp, value=value, partial=True,
                                       seconds=time.perf_counter() - started))
            # more urgent work (the selected sample, say) runs between the parts of this job
            while (urgent := self._urgent(kind)) is not None:
                self._deliver(self._run(*urgent))
            return not self._superseded(kind)

        try:
            value = job(preview) if progressive else job()
            result = RenderResult(kind, stamp, value=value)
        except Exception as e:  # shown over the image; the explorer keeps working
            result = RenderResult(kind, stamp, error=str(e) or type(e).__name__,
                                  details=traceback.format_exc())
        result.seconds = time.perf_counter() - started
        return result
