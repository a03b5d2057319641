"""Background jobs for the window: work runs on a thread, results travel through a queue.

The Tk thread never waits on a job. A job reports by putting ``JobEvent``s on a queue
(``post``/``emit`` may be called from the worker thread); the window drains the queue with
``after()`` a bounded number of events per tick, as Thonny does (``JobRunner``). Training
is a ``TrainingJob``: the same ``train_model`` the CLI runs, with a callback that only posts
events and a stop event checked before every batch.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import tkinter as tk
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datasets.errors import WorkbenchError
from training.callbacks import Callback
from training.train import RunResult, TrainOptions, train_model

BATCH_EVENT_SECONDS = 0.1  # the window redraws at most ~10 times a second anyway
POLL_MS = 50
EVENTS_PER_TICK = 50
BUSY_WORDS = {
    "data": "Data is still loading",
    "predict": "A prediction is still running",
    "live": "The live session is still running (press Stop in the Live tab)",
    "record": "A recording is still being saved",
    "lesson": "The leakage lesson is still training",
    "gallery": "The held-out items are still being read",
}
FAILURE_WORDS = {
    "data": "Loading the data failed",
    "train": "Training stopped with an error",
    "predict": "The prediction failed",
    "live": "The live session stopped with an error",
    "record": "Saving the recording failed",
    "lesson": "The leakage lesson stopped with an error",
    "gallery": "Reading the held-out items failed",
}
log = logging.getLogger(__name__)


@dataclass
class JobEvent:
    # "progress" (text, fraction or None), "done" (result), "error" (exception, traceback);
    # training adds "fit_start" (info), "batch" (info) and "epoch" (history record).
    kind: str
    job: str
    payload: Any = None
    source: BackgroundJob | None = None  # the job that sent it (a newer one may share its name)


class BackgroundJob:
    """Run ``fn(emit)`` on a daemon thread; its return value or exception becomes an event."""

    def __init__(
        self,
        name: str,
        fn: Callable[[Callable[[str, float | None], None]], Any],
        events: queue.Queue,
    ) -> None:
        self.name = name
        self.fn = fn
        self.events = events
        self.subject: Any = None  # what the job works on (e.g. the file being predicted)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"job-{name}", daemon=True)

    def start(self) -> BackgroundJob:
        self.thread.start()
        return self

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        """Ask the job to stop (training stops after the current batch). Any thread."""
        self.stop_event.set()

    def post(self, kind: str, payload: Any = None) -> None:
        """Queue an event for the window. May be called from the worker thread."""
        self.events.put(JobEvent(kind, self.name, payload, self))

    def emit(self, text: str, fraction: float | None = None) -> None:
        """Report progress; ``fraction`` None leaves the progress bar as it is.
        May be called from the worker thread."""
        self.post("progress", (text, fraction))

    def _run(self) -> None:
        try:
            result = self.fn(self.emit)
        except Exception as exc:  # the window shows it; the app keeps running
            self.post("error", (exc, traceback.format_exc()))
        else:
            self.post("done", result)


class QueueCallback(Callback):
    """Forwards ``fit``'s reports to the window. Runs on the training thread, so it only
    posts events; batch reports are thinned to one per ``BATCH_EVENT_SECONDS``."""

    def __init__(self, job: BackgroundJob) -> None:
        self.job = job
        self._last = 0.0

    def on_fit_start(self, info: dict) -> None:
        self.job.post("fit_start", dict(info))

    def on_batch_end(self, info: dict) -> None:
        now = time.monotonic()
        if now - self._last >= BATCH_EVENT_SECONDS or info["batch"] == info["n_batches"]:
            self._last = now
            self.job.post("batch", dict(info))

    def on_epoch_end(self, record: dict) -> None:
        self.job.post("epoch", dict(record))


class TrainingJob(BackgroundJob):
    """``train_model(options)`` on a worker thread; the result is a ``RunResult``."""

    def __init__(self, options: TrainOptions, events: queue.Queue) -> None:
        super().__init__("train", self._train, events)
        self.options = options

    def _train(self, emit: Callable[[str, float | None], None]) -> RunResult:
        return train_model(
            self.options,
            callbacks=[QueueCallback(self)],
            stop_event=self.stop_event,
            status=lambda text: emit(text[:1].upper() + text[1:], None),
        )


class JobRunner:
    """The window's running jobs, at most one of each name, and the loop that hands their
    events to ``handle`` on the Tk thread. A job counts as running until its last event
    ("done" or "error") is handled; events of a job a newer one has replaced are dropped.
    An exception in ``handle`` goes to ``report`` and never stops later events."""

    def __init__(self, root: tk.Misc, handle: Callable[[JobEvent], None], report: Callable) -> None:
        self.root = root
        self.handle = handle
        self.report = report
        self.events: queue.Queue[JobEvent] = queue.Queue()
        self.jobs: dict[str, BackgroundJob] = {}
        self.closing = False
        self._after_id = root.after(POLL_MS, self._poll)

    def start(self, job: BackgroundJob) -> None:
        """Start ``job``; ``WorkbenchError`` when one of its name is still running."""
        if job.name in self.jobs:
            raise WorkbenchError(
                f"{BUSY_WORDS.get(job.name, 'That job is still running')}; "
                "wait for it to finish and try again."
            )
        self.jobs[job.name] = job.start()

    def _poll(self) -> None:
        """Handle a bounded number of job events, then reschedule (keeps the UI fluid)."""
        try:
            for _ in range(EVENTS_PER_TICK):
                try:
                    ev = self.events.get_nowait()
                except queue.Empty:
                    break
                if ev.source is not None and self.jobs.get(ev.job) is not ev.source:
                    continue  # from a job that has already finished (a newer one runs)
                if ev.kind in ("done", "error"):
                    del self.jobs[ev.job]  # its last event: the job no longer runs
                try:
                    self.handle(ev)
                except Exception as exc:  # a failing view must not stop later events
                    self.report(type(exc), exc, exc.__traceback__)
        finally:
            if not self.closing:
                self._after_id = self.root.after(POLL_MS, self._poll)

    def close(self) -> None:
        """Stop polling (the window is closing)."""
        self.closing = True
        try:
            self.root.after_cancel(self._after_id)
        except tk.TclError:
            pass


def failure_sentence(job: str, exc: Exception, tb: str) -> str:
    """What a dialog says when ``job`` failed with ``exc``: a ``WorkbenchError``'s own
    sentence; anything else is logged with its traceback ``tb`` and named by its first line."""
    if isinstance(exc, WorkbenchError):
        return str(exc)
    log.error("job %s failed:\n%s", job, tb)
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{FAILURE_WORDS.get(job, 'A background job failed')}: {first_line}"
