"""The leakage lesson in the window: ``training.leakage`` run as a job with one progress
bar over both trainings, then its chart and explanation in a window of their own."""

from __future__ import annotations

import queue
import time
import tkinter as tk
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from tkinter import ttk

from training.callbacks import Callback
from training.leakage import leakage, plot_leakage
from training.options import TrainOptions
from training.runs import new_run_dir

from .charts import ChartCanvas, ChartRenderer
from .jobs import BATCH_EVENT_SECONDS, BackgroundJob
from .widgets import wrap_to_width

N_MODELS = 2  # the random split, then the split by actor
# With the Settings' epochs on "auto" the lesson trains each model this many epochs: both
# models of the quick preset then train on the demo data in about two minutes on a
# 2-core CPU (the lesson is the gap between them, not a model to keep).
LESSON_EPOCHS = 6


class LessonProgress(Callback):
    """Both trainings as one progress fraction. Runs on the job's thread: it only emits,
    at most once per ``BATCH_EVENT_SECONDS``."""

    def __init__(self, emit: Callable[[str, float | None], None]) -> None:
        self.emit = emit
        self.model = -1  # index of the model training now
        self.epochs = 1
        self._last = 0.0

    def on_fit_start(self, info: dict) -> None:
        self.model += 1
        self.epochs = info["epochs"]

    def on_batch_end(self, info: dict) -> None:
        now = time.monotonic()
        if now - self._last < BATCH_EVENT_SECONDS:
            return
        self._last = now
        within = (info["epoch"] - 1 + info["batch"] / info["n_batches"]) / self.epochs
        which = ("random split by file", "split by actor")[min(self.model, N_MODELS - 1)]
        self.emit(
            f"Leakage lesson: model {self.model + 1} of {N_MODELS} ({which}), epoch "
            f"{info['epoch']}/{self.epochs}…",
            (self.model + within) / N_MODELS,
        )


class LessonJob(BackgroundJob):
    """``leakage(options)`` on a worker thread into ``runs/<time>-leakage``; the result is
    the lesson's summary (``results.json``)."""

    def __init__(self, options: TrainOptions, events: queue.Queue) -> None:
        super().__init__("lesson", self._run_lesson, events)
        self.options = replace(options, kind="speech", epochs=options.epochs or LESSON_EPOCHS)

    def _run_lesson(self, emit: Callable[[str, float | None], None]) -> dict:
        return leakage(
            self.options,
            out=new_run_dir("leakage"),
            callbacks=[LessonProgress(emit)],
            stop_event=self.stop_event,
            status=lambda text: emit(f"Leakage lesson: {text}", None),
        )


class LessonWindow(tk.Toplevel):
    """The lesson's chart (drawn by the renderer) above its explanation. Tk thread only."""

    def __init__(self, master: tk.Misc, renderer: ChartRenderer, summary: dict) -> None:
        super().__init__(master)
        self.title("The leakage lesson")
        self.summary = summary
        width = min(1100, self.winfo_screenwidth() - 40)
        height = min(680, self.winfo_screenheight() - 80)
        self.geometry(f"{width}x{height}")
        bottom = ttk.Frame(self, padding=(10, 6))
        bottom.pack(side=tk.BOTTOM, fill=tk.X)
        ttk.Button(bottom, text="Close", command=self.destroy).pack(side=tk.RIGHT)
        where = f"Results, explanation and runs: {Path(summary['folder'])}"
        ttk.Label(bottom, text=where, foreground="gray30").pack(side=tk.LEFT)
        self.text = wrap_to_width(
            ttk.Label(self, text=summary["explanation"], justify=tk.LEFT, padding=(10, 6)),
            margin=28,  # the padding and a little room
        )
        self.text.pack(side=tk.BOTTOM, fill=tk.X)
        self.chart = ChartCanvas(self, renderer)
        self.chart.pack(side=tk.TOP, fill=tk.BOTH, expand=True)

        def draw(fig) -> None:
            fig.clear()
            plot_leakage(summary, fig)

        self.chart.update(draw)
