"""The Compare tab: every model the window knows, side by side.

Left: validation accuracy per epoch. Right: held-out accuracy and UAR per model, with the
human baselines the literature gives for the real data sets (never for the demo data).
"""

from __future__ import annotations

import dataclasses
import tkinter as tk
from tkinter import ttk

from datasets.paired import PAIRED_NOTE
from training.plots import plot_comparison
from training.records import Run
from training.report import comparison_baselines
from training.wording import run_title

from .charts import ChartCanvas, ChartRenderer
from .widgets import wrap_to_width

MAX_RUNS = 6  # more bars than this stop being readable at 1280 px


def short_label(run: Run) -> str:
    """'Facial CNN\ndemo, 10:07', 'Fusion concat\n(takes)\nreal, 10:10' or 'Speech
    CNN\nstarter model': fits under a bar, six bars side by side."""
    name = run_title(run.kind, run.config).replace(
        " (", "\n("
    )  # fusion: its pairing on a line of its own
    if run.starter:
        return f"{name}\nstarter model"
    source = "demo" if run.config.get("data", {}).get("is_demo") else "real"
    when = run.config.get("created", "")[11:16]  # HH:MM of "YYYY-mm-dd HH:MM:SS"
    return f"{name}\n{source}" + (f", {when}" if when else "")


class CompareView(ttk.Frame):
    """Tk thread only."""

    def __init__(self, master: tk.Misc, renderer: ChartRenderer) -> None:
        super().__init__(master)
        self.note_var = tk.StringVar(value="Train models to compare them here.")
        note = ttk.Label(self, textvariable=self.note_var, padding=(8, 6))
        wrap_to_width(note).pack(side=tk.TOP, fill=tk.X)
        self.chart = ChartCanvas(self, renderer)
        self.chart.pack(fill=tk.BOTH, expand=True)
        self.ax_curves = self.ax_bars = None  # renderer thread
        self.runs: list[Run] = []
        self.baselines: dict[str, float] = {}
        self._drawn_width = 0  # the chart's width in quarter inches when last drawn
        self.chart.bind("<<ChartResized>>", lambda _e: self._resized())
        self.show([])

    def _resized(self) -> None:
        """The bars' names are wrapped to the chart's width when they are drawn, so a
        chart a quarter inch wider or narrower (larger text: fewer inches) is drawn again."""
        chart = self.chart
        width = int(4 * chart.width / (chart.dpi * chart.renderer.text_scale))
        if width != self._drawn_width and self.runs:
            self.show(self.runs)

    def show(self, runs: list[Run]) -> None:
        """Draw the last ``MAX_RUNS`` of ``runs``."""
        self.runs = list(runs)[-MAX_RUNS:]
        shown = [dataclasses.replace(r, name=short_label(r)) for r in self.runs]
        baselines = self.baselines = comparison_baselines(self.runs)
        chart = self.chart
        self._drawn_width = int(4 * chart.width / (chart.dpi * chart.renderer.text_scale))

        def draw(fig) -> None:
            fig.clear()
            self.ax_curves, self.ax_bars = fig.subplots(1, 2, width_ratios=(1, 1.1))
            plot_comparison(self.ax_curves, self.ax_bars, shown, baselines=baselines)
            # The legend above the charts, not inside the bars: there, on a 1024 px
            # screen or with larger text, it is wider than the bars and squeezes both.
            handles, labels = self.ax_bars.get_legend_handles_labels()
            if self.ax_bars.get_legend() is not None:
                self.ax_bars.get_legend().remove()
                fig.legend(handles, labels, loc="outside upper right", ncol=2, fontsize=7)
                self.ax_bars.set_ylim(0, 1.1)  # no room for the legend needed any more
            self.ax_curves.set_title("Validation accuracy while training", fontsize=10)
            self.ax_bars.set_title("Held-out accuracy and UAR", fontsize=10)
            # Labels of three or four lines, side by side: smaller when there are many.
            self.ax_bars.tick_params(axis="x", labelsize=7 if len(shown) <= 4 else 6)

        self.chart.update(draw)
        if not self.runs:
            self.note_var.set("Train models to compare them here.")
        else:
            demo = any(r.config.get("data", {}).get("is_demo") for r in self.runs)
            paired = any(r.config.get("pairing") == "class" for r in self.runs)
            self.note_var.set(
                "Bars are held-out scores (each model's test split, else its validation split); "
                "UAR is the mean recall over emotions, so a rare emotion counts as much as a "
                "common one."
                + (
                    " Human baselines are drawn for real data only: they mean nothing on the "
                    "synthetic demo data."
                    if demo
                    else ""
                )
                + (
                    f" Class-paired fusion runs: {PAIRED_NOTE}; they score the seven shared "
                    "emotions."
                    if paired
                    else ""
                )
            )
