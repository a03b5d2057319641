"""Background jobs for the window: work runs on a thread, results travel through a queue.

The Tk thread never waits on a job. A job's function reports through ``emit`` (which only
puts an event on the queue, so it may be called from the worker thread); the window drains
the queue with ``after()`` a bounded number of events per tick, as Thonny does.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class JobEvent:
    kind: str  # "progress", "done" or "error"
    job: str
    payload: Any = None


class BackgroundJob:
    """Run ``fn(emit)`` on a daemon thread; its return value or exception becomes an event."""

    def __init__(
        self, name: str, fn: Callable[[Callable[[str, float], None]], Any], events: queue.Queue
    ) -> None:
        self.name = name
        self.fn = fn
        self.events = events
        self.thread = threading.Thread(target=self._run, name=f"job-{name}", daemon=True)

    def start(self) -> BackgroundJob:
        self.thread.start()
        return self

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def emit(self, text: str, fraction: float) -> None:
        """Report progress. May be called from the worker thread."""
        self.events.put(JobEvent("progress", self.name, (text, fraction)))

    def _run(self) -> None:
        try:
            result = self.fn(self.emit)
        except Exception as exc:  # the window shows it; the app keeps running
            self.events.put(JobEvent("error", self.name, (exc, traceback.format_exc())))
        else:
            self.events.put(JobEvent("done", self.name, result))
