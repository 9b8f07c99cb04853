"""Short jobs off the UI thread (dataset previews, device probing, PCA, exports).

Each job's result comes back on the UI thread to a callback, but only while the object the
callback belongs to still exists: a window closed mid-job simply drops the result. (superqt's
FunctionWorker raises "Signal source has been deleted" in that case, from the pool thread.)
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Dispatcher(QObject):
    """Lives on the UI thread for the whole session; carries results back to it."""

    delivered = Signal(object, object, object)  # callback, owner, result

    def __init__(self):
        super().__init__()
        self.delivered.connect(self._deliver)

    @staticmethod
    def _deliver(callback: Callable, owner: QObject | None, result: Any) -> None:
        if owner is None or shiboken6.isValid(owner):
            callback(result)


_dispatcher: _Dispatcher | None = None


def _get_dispatcher() -> _Dispatcher:
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = _Dispatcher()
    return _dispatcher


class JobFailed:
    """What a callback receives when the job raised: the message and the traceback."""

    def __init__(self, error: BaseException, details: str):
        self.error = error
        self.message = str(error) or type(error).__name__
        self.details = details


class _Job(QRunnable):
    def __init__(self, fn, args, callback, owner):
        super().__init__()
        self.fn, self.args, self.callback, self.owner = fn, args, callback, owner

    def run(self) -> None:
        try:
            result = self.fn(*self.args)
        except Exception as e:  # the callback decides how to show it
            result = JobFailed(e, traceback.format_exc())
        # RuntimeError: the application is shutting down, and there is no one left to tell
        with contextlib.suppress(RuntimeError):
            _get_dispatcher().delivered.emit(self.callback, self.owner, result)


def run_in_background(fn: Callable, *args, on_done: Callable[[Any], None],
                      owner: QObject | None = None, pool: QThreadPool | None = None) -> None:
    """Run ``fn(*args)`` on ``pool`` (the global thread pool by default); ``on_done(result or
    JobFailed)`` follows on the UI thread unless ``owner`` has been deleted by then."""
    _get_dispatcher()  # created on the calling (UI) thread
    (pool or QThreadPool.globalInstance()).start(_Job(fn, args, on_done, owner))


def wait_for_background(msecs: int = 30_000) -> bool:
    return QThreadPool.globalInstance().waitForDone(msecs)
