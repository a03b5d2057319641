"""Charts drawn off the Tk thread, so no redraw ever freezes the window.

Drawing a matplotlib figure takes 130-650 ms on a 2-core classroom laptop, more while a
model trains beside it; drawn on the Tk thread that is a frozen window. So every chart
here is a ``Figure`` rendered with Agg by one ``ChartRenderer`` thread; the Tk thread
only pastes the finished RGB image into a ``PhotoImage`` (about 5 ms).

The rule that keeps this safe: a chart's figure and artists are changed only inside
functions passed to ``ChartCanvas.update``, which run on the renderer thread, in order.
The Tk thread may read them once ``ChartRenderer.idle()`` (tests do).

Larger text (``ChartRenderer.set_text_scale``) draws every figure at a higher dpi on the
same pixels: text, lines and markers grow together and each chart keeps its layout, with
no view having to know (their font sizes are set in points, chart by chart).
"""

from __future__ import annotations

import logging
import queue
import textwrap
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


def fit_titles(figure: Figure) -> None:
    """Make every axes title (and x label) fit its axes: a smaller font, then more lines.

    Constrained layout makes room above a long title but not beside it, so on a small
    window (a 1024x768 projector) or with larger text a title would run into its
    neighbour's or off the figure. Renderer thread. A title's own text and size come
    back whenever the figure is drawn again, so it grows back with the window.
    """
    titles = [
        (ax, text)
        for ax in figure.axes
        for text in (ax.title, ax.xaxis.label)  # the x label, too, is centred under it
        if text.get_text()
    ]
    for _ax, text in titles:
        _restore_title(text)
    renderer = figure.canvas.get_renderer()
    # Most draws: every title fits, by far, where its axes were last laid out.
    if all(_width(text, renderer) <= 0.85 * _room(ax, figure) for ax, text in titles):
        return
    figure.draw_without_rendering()  # lay the axes out for this size
    for ax, text in titles:
        _fit_title(text, _room(ax, figure), renderer)


def crowded(figure: Figure, slack: float = 3.0) -> bool:
    """After laying ``figure`` out: an axes with its labels reaches out of the figure or
    into another axes by more than ``slack`` pixels, as when constrained layout found no
    room for them and gave up. Renderer thread."""
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    boxes = [ax.get_tightbbox(renderer) for ax in figure.axes if ax.get_visible()]
    boxes = [b for b in boxes if b is not None]
    for i, box in enumerate(boxes):
        if box.x0 < -slack or box.y0 < -slack:
            return True
        if box.x1 > width + slack or box.y1 > height + slack:
            return True
        for other in boxes[i + 1 :]:
            across = min(box.x1, other.x1) - max(box.x0, other.x0)
            up = min(box.y1, other.y1) - max(box.y0, other.y0)
            if across > slack and up > slack:
                return True
    return False


TITLE_SLACK = 0.05  # a title may stick out this share of its axes' width on each side
SMALLEST_TITLE = 0.8  # of its size: smaller than this, a title takes more lines instead


def _width(text, renderer) -> float:
    return text.get_window_extent(renderer).width


def _room(ax, figure: Figure) -> float:
    """Pixels a title centred over ``ax`` may take: its axes, a little more, and never
    past the figure's edges."""
    box = ax.get_position()  # in figure fractions
    left = max(0.0, box.x0 - TITLE_SLACK * box.width)
    right = min(1.0, box.x1 + TITLE_SLACK * box.width)
    centre = (box.x0 + box.x1) / 2
    return 2 * min(centre - left, right - centre) * figure.bbox.width


def _fit_title(title, room: float, renderer) -> None:
    """A slightly smaller ``title`` (down to ``SMALLEST_TITLE``) if that is enough, else
    its lines wrapped at spaces at its own size, then smaller if one word is still too
    long; remember what it was (``_restore_title``)."""
    text, size = title.get_text(), title.get_fontsize()
    width = _width(title, renderer)
    if width <= room:
        return
    shrink = 0.98 * room / width  # text does not scale exactly with its size
    title.set_fontsize(size * shrink)
    if shrink < SMALLEST_TITLE:
        title.set_fontsize(size)
        lines = text.split("\n")
        chars = max(len(line) for line in lines)
        while chars > 8 and _width(title, renderer) > room:
            chars = int(chars * 0.9)
            title.set_text("\n".join(_wrap(line, chars) for line in lines))
        width = _width(title, renderer)
        if width > room:
            title.set_fontsize(title.get_fontsize() * 0.98 * room / width)
    title._workbench_fitted = (text, size, title.get_text(), title.get_fontsize())


def _wrap(line: str, chars: int) -> str:
    """``line`` in lines of at most ``chars`` characters, broken at spaces only (a file
    name broken at its hyphens would read as another name)."""
    return textwrap.fill(line, chars, break_long_words=False, break_on_hyphens=False)


def _restore_title(title) -> None:
    """Give back a fitted title its own text and size, unless a view has changed it."""
    fitted = getattr(title, "_workbench_fitted", None)
    if fitted is None:
        return
    text, size, fitted_text, fitted_size = fitted
    if (title.get_text(), title.get_fontsize()) == (fitted_text, fitted_size):
        title.set_text(text)
        title.set_fontsize(size)
    title._workbench_fitted = None


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
        self.text_scale = 1.0  # see set_text_scale
        self.charts: list[ChartCanvas] = []  # every chart made with this renderer
        self._thread = threading.Thread(target=self._run, name="chart-renderer", daemon=True)
        self._thread.start()
        self._after_id = root.after(POLL_MS, self._poll)

    def submit(self, chart: ChartCanvas, fn: Callable[[Figure], None] | None) -> None:
        """Run ``fn(figure)`` on the renderer thread, then redraw ``chart``. Tk thread."""
        chart.requested += 1
        with self._lock:
            self._pending += 1
        self.requests.put((chart, fn, chart.requested))

    def set_text_scale(self, scale: float) -> None:
        """Draw the text of every chart ``scale`` times its size (1.0: as designed). Tk thread."""
        self.text_scale = scale
        for chart in self.charts:
            chart.fit()

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
                    chart.lay_out()
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
        self.dpi = self.figure.dpi  # at text scale 1
        renderer.charts.append(self)
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
        self.fit()

    def fit(self) -> None:
        """Size the figure to the canvas, at the renderer's text scale; then tell the view
        (``<<ChartResized>>``), for a chart laid out by its size."""
        w, h, dpi = self.width, self.height, self.dpi * self.renderer.text_scale

        def fit(fig: Figure) -> None:
            fig.set_dpi(dpi)
            fig.set_size_inches(w / dpi, h / dpi, forward=False)

        self.update(fit)
        self.event_generate("<<ChartResized>>")

    def lay_out(self) -> None:
        """Fit the titles; and when larger text leaves the axes no room (a small chart
        full of text: constrained layout gives up and the axes overlap), make the text
        smaller, down to its normal size, until it fits. Renderer thread."""
        fig, w, h = self.figure, self.width, self.height

        def at(dpi: float) -> None:
            fig.set_dpi(dpi)
            fig.set_size_inches(w / dpi, h / dpi, forward=False)

        if fig.dpi != (dpi := self.dpi * self.renderer.text_scale):
            at(dpi)  # text made smaller for an earlier picture: new text may fit
        fit_titles(fig)
        while fig.dpi > self.dpi * 1.01 and crowded(fig):
            at(max(self.dpi, fig.dpi / 1.08))
            fit_titles(fig)

    def destroy(self) -> None:
        """Forget the chart (its window closed): the renderer no longer resizes it."""
        if self in self.renderer.charts:
            self.renderer.charts.remove(self)
        super().destroy()

    def show_image(self, rgb: np.ndarray) -> None:
        """Put a rendered picture on screen (unless the chart has been closed). Tk thread."""
        if not self.winfo_exists():
            return
        image = Image.fromarray(rgb, "RGB")
        if self._photo is not None and (self._photo.width(), self._photo.height()) == image.size:
            self._photo.paste(image)
        else:
            self._photo = ImageTk.PhotoImage(image, master=self.canvas)
            self.canvas.itemconfigure(self._item, image=self._photo)
        self.shown += 1
