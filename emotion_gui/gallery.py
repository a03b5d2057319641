"""Behind the Results tab's numbers: a confusion-matrix cell's held-out items, and the
embedding map.

Clicking a cell of the confusion matrix opens a ``GalleryWindow`` with that cell's items,
most confident first: the faces with their likeliest emotions, the recordings with a
spectrogram thumbnail and a Play button, a fusion model's pairs or takes with both. The
"Embedding map" button opens an ``EmbeddingWindow``: the held-out embeddings in 2-D
(PCA), coloured by emotion or, one click away, by actor.

Reading the held-out items means reading the data and running the model, so it is a
worker job ("gallery"); its result is a function that opens the window on the Tk
thread. One model's items are kept (``held_out_of``), so the next cell opens at once.
"""

from __future__ import annotations

import threading
import tkinter as tk
from pathlib import Path
from tkinter import ttk

import numpy as np
from PIL import Image, ImageTk

from training.embeddings import embedding_map, plot_embedding_map
from training.gallery import cell_items, item_name, spectrogram_rgb, top_probabilities
from training.held_out import HeldOut, held_out_items
from training.records import Run

from .charts import ChartCanvas
from .jobs import BackgroundJob
from .layout import ScrollPanel
from .play_button import PlayButton
from .widgets import wrap_to_width

FACE_PX = 96  # a 48x48 face shown twice its size
SPECTROGRAM_PX = (240, 64)  # a recording's thumbnail (3 s of log-mel)
COLUMNS = 5  # faces per row
_kept: dict[str, tuple[float, HeldOut]] = {}  # model file -> (its mtime, its items)
_kept_lock = threading.Lock()


def held_out_of(run: Run) -> HeldOut:
    """The held-out items of ``run`` (kept for the last model asked). Worker thread."""
    key = str(run.model)
    mtime = Path(run.model).stat().st_mtime
    with _kept_lock:
        if key in _kept and _kept[key][0] == mtime:
            return _kept[key][1]
    held = held_out_items(run)
    with _kept_lock:
        _kept.clear()
        _kept[key] = (mtime, held)
    return held


def confusion_cell(image, x: float, y: float) -> tuple[int, int] | None:
    """The (true, predicted) cell of the confusion matrix ``image`` (an ``AxesImage``) at
    figure pixel (``x``, ``y``) from the bottom left; None outside the matrix."""
    col, row = image.axes.transData.inverted().transform((x, y))
    n_rows, n_cols = image.get_array().shape[:2]
    i, j = int(round(row)), int(round(col))
    return (i, j) if 0 <= i < n_rows and 0 <= j < n_cols else None


def attach(app) -> None:
    """Make the Results tab's confusion matrix clickable and its "Embedding map" button
    work, in ``app`` (a ``WorkbenchApp``)."""
    view = app.results_view

    def clicked(event: tk.Event) -> None:
        if view.run is None or view.image is None:
            return
        if not app.renderer.idle():  # the matrix is being redrawn: ask it once drawn
            app.root.after(50, clicked, event)
            return
        cell = confusion_cell(view.image, event.x, view.chart.height - event.y)
        if cell is not None:
            classes = view.run.metrics["classes"]
            open_cell(app, view.run, classes[cell[0]], classes[cell[1]])

    view.chart.canvas.bind("<Button-1>", clicked)
    view.chart.canvas.configure(cursor="hand2")  # the cells can be clicked
    view.bind("<<EmbeddingMap>>", lambda _e: view.run is not None and open_map(app, view.run))


def open_cell(app, run: Run, true: str, predicted: str) -> None:
    """Open the gallery of ``run``'s cell (``true``, ``predicted``) once its items are read."""

    def fn(emit):
        emit(f"Reading the held-out items of {run.name}…", None)
        held = held_out_of(run)
        return lambda: GalleryWindow(app, held, true, predicted)

    job = BackgroundJob("gallery", fn, app.runner.events)
    app._start(job, f"Reading the held-out items of {run.name}…")


def open_map(app, run: Run) -> None:
    """Open ``run``'s embedding map once its items are read and laid out."""

    def fn(emit):
        emit(f"Reading the held-out items of {run.name}…", None)
        held = held_out_of(run)
        emit("Laying the embeddings out (PCA)…", None)
        result = embedding_map(held, "pca")
        return lambda: EmbeddingWindow(app, held, result)

    job = BackgroundJob("gallery", fn, app.runner.events)
    app._start(job, f"Reading the held-out items of {run.name}…")


def shown(app, window: tk.Toplevel, said: str) -> None:
    app.progress["value"] = 1.0
    app.status_var.set(said)
    window.lift()


class GalleryWindow(tk.Toplevel):
    """One confusion cell's held-out items, most confident first. ``items`` holds their
    indices into ``held``, in the order shown."""

    def __init__(self, app, held: HeldOut, true: str, predicted: str) -> None:
        super().__init__(app.root)
        self.held = held
        self.items = cell_items(held, true, predicted)
        what = "right" if true == predicted else "mistaken"
        self.title(f"True {true}, predicted {predicted}: {len(self.items)} held-out items")
        summary = ttk.Label(
            self,
            text=f"{len(self.items)} of the {len(held)} held-out items ({held.split} split) are "
            f"{true} and the model called them {predicted} ({what}); the most confident first.",
            padding=8,
            wraplength=800,
        )
        summary.pack(side=tk.TOP, fill=tk.X)
        panel = ScrollPanel(self)
        panel.pack(fill=tk.BOTH, expand=True)
        self.photos: list[ImageTk.PhotoImage] = []  # Tk shows them only while referenced
        self.cells: list[ttk.Frame] = []  # one per item, in order (tests count them)
        self.play_buttons: list[PlayButton] = []
        faces, sounds = held.faces is not None, held.spectrograms is not None
        for n, i in enumerate(self.items):
            cell = ttk.Frame(panel.interior, padding=4, relief=tk.GROOVE)
            if faces and not sounds:
                cell.grid(row=n // COLUMNS, column=n % COLUMNS, sticky="nsew")
            else:
                cell.grid(row=n, column=0, sticky="ew")
            self._fill(cell, i, faces, sounds)
            self.cells.append(cell)
        if not len(self.items):
            ttk.Label(panel.interior, text="No held-out item in this cell.").grid()
        self.geometry("840x600")  # five faces a row, or a recording's row; it scrolls
        shown(app, self, f"{len(self.items)} held-out items: true {true}, predicted {predicted}.")

    def _photo(self, master: tk.Misc, rgb: np.ndarray, size: tuple[int, int]) -> ttk.Label:
        image = Image.fromarray(rgb).resize(size, Image.Resampling.NEAREST)
        self.photos.append(ImageTk.PhotoImage(image, master=self))
        return ttk.Label(master, image=self.photos[-1])

    def _fill(self, cell: ttk.Frame, i: int, faces: bool, sounds: bool) -> None:
        held = self.held
        side = tk.TOP if not sounds else tk.LEFT
        if faces:
            self._photo(cell, held.faces[i], (FACE_PX, FACE_PX)).pack(side=side, padx=2)
        if sounds:
            rgb = spectrogram_rgb(held.spectrograms[i], SPECTROGRAM_PX[1])
            self._photo(cell, rgb, SPECTROGRAM_PX).pack(side=side, padx=2)
            ident = held.ids[i]
            path = Path((ident.get("speech") or ident)["path"])
            button = PlayButton(cell, lambda p=path: p)
            button.pack(side=tk.LEFT, padx=4)
            self.play_buttons.append(button)
        words = top_probabilities(held, i)
        name = item_name(held, i)
        ttk.Label(cell, text=f"{name}\n{words}", font=("TkDefaultFont", 8)).pack(side=side)


class EmbeddingWindow(tk.Toplevel):
    """The map of the held-out embeddings, coloured by emotion or by actor (a switch)."""

    def __init__(self, app, held: HeldOut, result: dict) -> None:
        super().__init__(app.root)
        self.held, self.result = held, result
        n = len(result["idx"])
        fold = f" (fold {result['fold']} of {len(result['folds'])})" if "fold" in result else ""
        self.title(f"Embedding map: {held.model.name}")
        self.geometry("760x640")
        top = ttk.Frame(self, padding=(8, 6))
        top.pack(side=tk.TOP, fill=tk.X)
        ttk.Label(top, text="Colour by:").pack(side=tk.LEFT)
        self.colouring = tk.StringVar(value="emotion")
        self.switches = {}
        for name in ("emotion", "actor"):
            self.switches[name] = ttk.Radiobutton(
                top, text=name, value=name, variable=self.colouring, command=self._draw
            )
            self.switches[name].pack(side=tk.LEFT, padx=4)
        if "actor" not in result["colours"]:
            self.switches["actor"].state(["disabled"])  # faces: no actors
        explain = ttk.Label(
            self,
            text=f"The model's last-layer embeddings of its {n} held-out items{fold}, laid out "
            "by PCA. Silhouette: near 1, tight separate groups; near 0, mixed.",
            padding=(8, 0),
        )
        wrap_to_width(explain).pack(side=tk.TOP, fill=tk.X)
        self.renderer = app.renderer
        self.chart = ChartCanvas(self, app.renderer)
        self.chart.pack(fill=tk.BOTH, expand=True)
        self.bind("<Destroy>", self._closed, add="+")
        self._draw()
        shown(app, self, f"Embedding map of {n} held-out items.")

    def _draw(self) -> None:
        colouring, result = self.colouring.get(), self.result
        title = f"{self.held.model.name}: {len(result['idx'])} held-out items"

        def draw(fig) -> None:
            fig.clear()
            plot_embedding_map(fig.add_subplot(), result, colouring, title)

        self.chart.update(draw)

    def _closed(self, event: tk.Event) -> None:
        if event.widget is self and self.chart in self.renderer.charts:
            self.renderer.charts.remove(self.chart)  # no more redraws at a new text size
