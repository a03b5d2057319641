"""Charts drawn off the Tk thread, so no redraw ever freezes the window.

Drawing a matplotlib figure takes 130-650 ms on a 2-core classroom laptop, more while a
model trains beside it; drawn on the Tk thread that is a frozen window. So every chart
here is a ``Figure`` rendered with Agg by one ``ChartRenderer`` thread; the Tk thread
only pastes the finished RGB image into a ``PhotoImage`` (about 5 ms).

The rule that keeps this safe: a chart's figure and artists are changed only inside
functions passed to ``ChartCanvas.update``, which run on the renderer thread, in order.
The Tk thread may read them once ``ChartRenderer.idle()`` (tests do).
"""

from __future__ import annotations

import logging
import queue
import threading
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageTk

log = logging.getLogger(__name__)
POLL_MS = 30


class ChartRenderer:
    """One worker thread that draws every chart, and a Tk ``after`` loop that shows them.

    Create it on the Tk thread with the root window; ``close`` before destroying the root.
    """

    def __init__(self, root: tk.Misc, on_error: Callable[[Exception], None] | None = None) -> None:
        self.root = root
        self.on_error = on_error or (lambda exc: log.error("chart failed: %s", exc))
        self.requests: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0  # requests submitted and not yet drawn
        self._thread = threading.Thread(target=self._run, name="chart-renderer", daemon=True)
        self._thread.start()
        self._after_id = root.after(POLL_MS, self._poll)

    def submit(self, chart: ChartCanvas, fn: Callable[[Figure], None] | None) -> None:
        """Run ``fn(figure)`` on the renderer thread, then redraw ``chart``. Tk thread."""
        chart.requested += 1
        with self._lock:
            self._pending += 1
        self.requests.put((chart, fn, chart.requested))

    def idle(self) -> bool:
        """Nothing left to draw or show. Tk thread."""
        with self._lock:
            return self._pending == 0 and self.results.empty()

    def close(self) -> None:
        """Drop what is left to draw and end the thread (waits for a draw in progress).

        Waiting matters: a thread that outlives the window could run Python's garbage
        collector on Tk objects, which Tcl only allows on the Tk thread.
        """
        try:
            self.root.after_cancel(self._after_id)
        except tk.TclError:
            pass
        while True:
            try:
                self.requests.get_nowait()
            except queue.Empty:
                break
        self.requests.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while (item := self.requests.get()) is not None:
            chart, fn, token = item
            try:
                if fn is not None:
                    fn(chart.figure)
                # A newer request will draw anyway: skip the stale picture.
                if token == chart.requested and chart.width > 1 and chart.height > 1:
                    chart.agg.draw()
                    rgb = np.asarray(chart.agg.buffer_rgba())[:, :, :3].copy()  # (H, W, 3)
                    self.results.put((chart, rgb))
            except Exception as exc:  # a broken chart must not stop the others
                log.exception("drawing a chart failed")
                self.results.put((chart, exc))
            finally:
                with self._lock:
                    self._pending -= 1

    def _poll(self) -> None:
        try:
            while True:
                try:
                    chart, result = self.results.get_nowait()
                except queue.Empty:
                    break
                if isinstance(result, Exception):
                    self.on_error(result)
                else:
                    chart.show_image(result)
        finally:
            try:
                self._after_id = self.root.after(POLL_MS, self._poll)
            except tk.TclError:
                pass  # the window was closed meanwhile (e.g. from inside a dialog)


class ChartCanvas(ttk.Frame):
    """A ``Figure`` shown in a Tk canvas and sized to it; drawn by a ``ChartRenderer``."""

    def __init__(
        self,
        master: tk.Misc,
        renderer: ChartRenderer,
        *,
        figure: Figure | None = None,
        dpi: int = 100,
    ) -> None:
        super().__init__(master)
        self.renderer = renderer
        self.figure = figure or Figure(dpi=dpi, layout="constrained")
        self.agg = FigureCanvasAgg(self.figure)
        self.requested = 0
        self.width = self.height = 1
        self.canvas = tk.Canvas(self, highlightthickness=0, background="white", width=1, height=1)
        self.canvas.pack(fill=tk.BOTH, expand=True)
        self._item = self.canvas.create_image(0, 0, anchor="nw")
        self._photo: ImageTk.PhotoImage | None = None
        self.canvas.bind("<Configure>", self._resized)
        self.shown = 0  # pictures shown so far (tests wait on it)

    def update(self, fn: Callable[[Figure], None] | None = None) -> None:
        """Change the figure with ``fn(figure)`` (on the renderer thread), then redraw."""
        self.renderer.submit(self, fn)

    def _resized(self, event: tk.Event) -> None:
        w, h = event.width, event.height
        if (w, h) == (self.width, self.height) or w < 2 or h < 2:
            return
        self.width, self.height = w, h
        dpi = self.figure.dpi
        self.update(lambda fig: fig.set_size_inches(w / dpi, h / dpi, forward=False))

    def show_image(self, rgb: np.ndarray) -> None:
        """Put a rendered picture on screen. Tk thread."""
        image = Image.fromarray(rgb, "RGB")
        if self._photo is not None and (self._photo.width(), self._photo.height()) == image.size:
            self._photo.paste(image)
        else:
            self._photo = ImageTk.PhotoImage(image, master=self.canvas)
            self.canvas.itemconfigure(self._item, image=self._photo)
        self.shown += 1
