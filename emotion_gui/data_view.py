"""The Data tab: class distributions of both data sets and sample faces per emotion."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from matplotlib.backends.backend_tkagg import FigureCanvasTkAgg
from matplotlib.figure import Figure

from datasets.labels import FER_CLASSES
from training.plots import plot_class_counts, plot_face_samples


class DataView(ttk.Frame):
    """Charts of the loaded data. ``show`` must be called on the Tk thread."""

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master)
        self.figure = Figure(figsize=(9, 6), dpi=100, layout="constrained")
        grid = self.figure.add_gridspec(2, 2, width_ratios=(1.1, 1))
        self.ax_fer = self.figure.add_subplot(grid[0, 0])
        self.ax_ravdess = self.figure.add_subplot(grid[1, 0])
        self.ax_faces = self.figure.add_subplot(grid[:, 1])
        self.canvas = FigureCanvasTkAgg(self.figure, master=self)
        self.canvas.get_tk_widget().pack(fill=tk.BOTH, expand=True)
        self.fer_bars = self.ravdess_bars = None
        for ax, text in (
            (self.ax_fer, "faces"),
            (self.ax_ravdess, "speech"),
            (self.ax_faces, "sample faces"),
        ):
            ax.text(0.5, 0.5, f"loading {text}…", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        self.canvas.draw_idle()

    def show(self, loaded: dict) -> None:
        """Draw the summary made by ``app.load_data`` (info dicts and sample faces)."""
        fer, rav = loaded["fer_info"], loaded["ravdess_info"]
        for ax in (self.ax_fer, self.ax_ravdess, self.ax_faces):
            ax.clear()
            ax.set_axis_on()
        self.fer_bars = plot_class_counts(
            self.ax_fer, fer["classes"], title=f"Faces: {fer['n_items']:,} images by emotion"
        )
        speech = loaded["speech_counts"]
        n = loaded["n_clips"]
        clips = f", {n:,} video clip{'s' if n != 1 else ''}" if n else ""
        self.ravdess_bars = plot_class_counts(
            self.ax_ravdess,
            speech,
            title=f"Speech: {sum(speech.values()):,} recordings by emotion ({len(rav['actors'])} actors{clips})",
            color="C1",
        )
        plot_face_samples(
            self.ax_faces, loaded["images"], loaded["labels"], FER_CLASSES, per_class=6
        )
        self.ax_faces.set_title("Sample faces per emotion", fontsize=10)
        self.canvas.draw_idle()
