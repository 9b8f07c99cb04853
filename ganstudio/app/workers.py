"""Workers: long jobs on their own QThread, reporting back through queued signals.

Not superqt's GeneratorWorker: it turns a RuntimeError raised by the generator into a
warning and drops it, and PyTorch reports most failures as RuntimeError. A training run
that fails must say so in the window, so this small pump forwards every exception.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

# Events are forwarded in batches at most this often (a step is one event; a fast CPU run
# makes hundreds a second, which would otherwise be hundreds of cross-thread signals).
BATCH_SECONDS = 0.03


class _Pump(QObject):
    batch = Signal(list)
    failed = Signal(str, str)  # message, details (the traceback)
    done = Signal()

    def __init__(self, make_events: Callable[[], Iterable], is_urgent: Callable[[object], bool]):
        super().__init__()
        self._make_events = make_events
        self._is_urgent = is_urgent

    @Slot()
    def run(self) -> None:
        pending: list = []
        last = time.monotonic()
        try:
            for item in self._make_events():
                pending.append(item)
                now = time.monotonic()
                if self._is_urgent(item) or now - last >= BATCH_SECONDS:
                    self.batch.emit(pending)
                    pending, last = [], now
            if pending:
                self.batch.emit(pending)
        except Exception as e:  # every failure reaches the window, none is lost
            if pending:
                self.batch.emit(pending)
            self.failed.emit(_message(e), traceback.format_exc())
        finally:
            self.done.emit()


def _message(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text if len(text) < 600 else text[:600] + "…"


class EventWorker(QObject):
    """Iterates ``make_events()`` on a QThread; ``batch`` carries lists of its items.

    ``is_urgent(item)`` says which items are forwarded at once rather than batched.
    """

    batch = Signal(list)
    failed = Signal(str, str)
    finished = Signal()

    def __init__(self, make_events, is_urgent=lambda item: False, name: str = "worker",
                 parent: QObject | None = None):
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._pump = _Pump(make_events, is_urgent)
        self._pump.moveToThread(self._thread)
        self._thread.started.connect(self._pump.run)
        self._pump.batch.connect(self.batch)
        self._pump.failed.connect(self.failed)
        # Direct: the thread ends its event loop itself, even while the UI thread is blocked
        # in wait() (a queued quit would never arrive then).
        self._pump.done.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._pump.done.connect(self._on_done)  # queued: runs on this object's thread
        self._started = False
        self._running = False

    def start(self) -> None:
        self._started = self._running = True
        self._thread.start()

    def is_running(self) -> bool:
        """True until the last item has been forwarded (the thread itself ends just after)."""
        return self._running

    def _on_done(self) -> None:
        self._running = False
        self.finished.emit()

    def wait(self, msecs: int) -> bool:
        """Block until the thread has ended (True) or ``msecs`` have passed (False)."""
        return not self._started or self._thread.wait(msecs)

    def __del__(self) -> None:
        # a QThread destroyed while running aborts the process; wait for it to end
        thread = getattr(self, "_thread", None)
        try:
            if thread is not None and thread.isRunning():
                thread.wait()
        except RuntimeError:  # Qt already deleted the thread: nothing is left running
            pass
