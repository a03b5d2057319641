"""The Results tab: a run's confusion matrix (counts or row shares) and per-class table.

Every figure here is held-out: the run's test split when its data has one, else its
validation split, and the summary line says which.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable
from tkinter import ttk

from training.plots import plot_confusion
from training.records import Run
from training.report import describe_split
from training.wording import held_out_scores, run_title, trained_on

from .charts import ChartCanvas, ChartRenderer
from .textsize import BOLD, own_font
from .widgets import widen_popdown, wrap_to_width


def run_label(run: Run) -> str:
    """'Facial CNN · 20261122-101500-face' for lists and legends."""
    return f"{run_title(run.kind, run.config)} · {run.name}"


def pairs_note(run: Run) -> str:
    """What a fusion run's pairs are ("paired by emotion, not the same person" for
    class-paired data); "" for other runs."""
    return run.config.get("data", {}).get("note", "")  # only fusion data has a note


class ResultsView(ttk.Frame):
    """Shows one run at a time, chosen from the runs the window knows. Tk thread only."""

    def __init__(
        self,
        master: tk.Misc,
        renderer: ChartRenderer,
        on_choose: Callable[[dict], None] | None = None,
        on_leakage: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(master)
        self.runs: list[Run] = []
        self.run: Run | None = None
        self.on_choose = on_choose
        top = ttk.Frame(self, padding=(8, 6))
        top.pack(side=tk.TOP, fill=tk.X)
        ttk.Label(top, text="Model:").pack(side=tk.LEFT)
        self.choice = widen_popdown(ttk.Combobox(top, state="readonly", width=38))
        self.choice.bind("<<ComboboxSelected>>", lambda _e: self._chosen())
        self.normalized = tk.BooleanVar(value=False)
        # Packed right to left before the list of models, which gets what is left: in a
        # narrow window the list is cut short, never the choice of counts or shares.
        ttk.Radiobutton(
            top,
            text="share of each true emotion",
            variable=self.normalized,
            value=True,
            command=self._draw,
        ).pack(side=tk.RIGHT, padx=(4, 0))
        ttk.Radiobutton(
            top, text="counts", variable=self.normalized, value=False, command=self._draw
        ).pack(side=tk.RIGHT)
        self.choice.pack(side=tk.LEFT, fill=tk.X, expand=True, padx=(4, 12))
        self.summary_var = tk.StringVar(value="No trained model yet.")
        summary = ttk.Label(self, textvariable=self.summary_var, padding=(8, 0))
        wrap_to_width(summary).pack(side=tk.TOP, fill=tk.X)

        body = ttk.Frame(self)
        body.pack(fill=tk.BOTH, expand=True)
        self.chart = ChartCanvas(body, renderer)
        self.chart.pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
        self.image = None  # the confusion matrix's AxesImage (renderer thread)

        def placeholder(fig) -> None:
            ax = fig.add_subplot()
            ax.text(0.5, 0.5, "Train a model to see its confusion matrix.", ha="center")
            ax.set_axis_off()

        self.chart.update(placeholder)

        columns = ("precision", "recall", "f1", "support")
        side = ttk.Frame(body, padding=(4, 8, 8, 8))
        side.pack(side=tk.RIGHT, fill=tk.Y)
        ttk.Label(side, text="Per emotion (held out)", font=own_font(self, BOLD)).pack(anchor="w")
        self.table = ttk.Treeview(side, columns=columns, height=8, selectmode="none")
        self.table.heading("#0", text="emotion")
        for col, title in zip(columns, ("precision", "recall", "F1", "items")):
            self.table.heading(col, text=title)
            self.table.column(col, anchor="e")
        self._fit_columns()
        self.bind_all("<<TextSize>>", lambda _e: self._fit_columns(), add="+")
        self.table.pack(fill=tk.Y, expand=True)
        ttk.Label(
            side,
            text="Recall: of the items that are this emotion, the share found.\n"
            "Precision: of the items called this emotion, the share right.",
            foreground="gray30",
            justify=tk.LEFT,
            wraplength=320,
        ).pack(anchor="w", pady=(6, 0))
        # Behind the numbers (gallery.py): a click on a cell opens its held-out items.
        ttk.Label(side, text="Click a cell to see its items.", foreground="gray30").pack(
            anchor="w", pady=(6, 0)
        )
        ttk.Button(
            side,
            text="Embedding map",
            command=lambda: self.event_generate("<<EmbeddingMap>>"),
        ).pack(anchor="w", pady=(6, 0))
        if on_leakage is not None:  # train twice: split at random, then by actor
            self.leakage_button = ttk.Button(side, text="Leakage lesson", command=on_leakage)
            self.leakage_button.pack(anchor="w", pady=(8, 0))

    def _fit_columns(self) -> None:
        """Columns as wide as their headings or their longest entries, in the fonts that
        larger text enlarges: a list's columns are set in pixels. No wider: on a 1024 px
        screen every pixel the list takes is the confusion matrix's."""
        heading = tkfont.nametofont("TkHeadingFont", self)
        cell = tkfont.nametofont("TkDefaultFont", self)
        pad = cell.measure("0")
        indent = int(ttk.Style(self).lookup("Treeview", "indent") or 20)
        self.table.column("#0", width=cell.measure("surprised") + indent + pad)
        for col in self.table["columns"]:
            title = self.table.heading(col, "text")
            self.table.column(col, width=max(heading.measure(title), cell.measure("100%")) + pad)

    def set_runs(self, runs: list[Run], show: Run | None = None) -> None:
        """The runs to choose from; shows ``show`` (default: the last one)."""
        self.runs = list(runs)
        self.choice["values"] = [run_label(r) for r in self.runs]
        if self.runs:
            self.show(show or self.runs[-1])

    def _chosen(self) -> None:
        run = self.runs[self.choice.current()]
        self.show(run)
        if self.on_choose:
            self.on_choose(run)

    def show(self, run: Run) -> None:
        self.run = run
        if run in self.runs:
            self.choice.current(self.runs.index(run))
        m = run.metrics
        split = run.config.get("data", {})
        which = "test" if m.get("split") == "test" else "validation"
        if m.get("cv"):  # cross-validation models averaged: each fold's unheard actors
            which = "cross-validated test"
        note = pairs_note(run)
        late = run.config.get("late_weight_search")
        self.summary_var.set(
            f"{run_label(run)} on {trained_on(run.config.get('data', {}))}"
            + (f" — {note}" if note else "")
            + f". Held-out {which} split ({m['n_items']:,} items; {describe_split(split)}"
            + (f"; faces: {split['face_test']}" if split.get("face_test") else "")
            + f"): {held_out_scores(m)}, macro F1 {m['macro_f1']:.1%}. Best epoch {m['best_epoch']} of {m['epochs_run']}."
            + (f" Face weight {late['weight']:.2f}, chosen on validation." if late else "")
            + (
                f" A starter model: its card, {run.model.with_suffix('.md').name} in "
                "pretrained/, tells how it was trained."
                if run.starter
                else ""
            )
        )
        self.table.delete(*self.table.get_children())
        for name, row in m["per_class"].items():
            self.table.insert(
                "",
                tk.END,
                iid=name,
                text=name,
                values=(
                    f"{row['precision']:.0%}",
                    f"{row['recall']:.0%}",
                    f"{row['f1']:.0%}",
                    row["support"],
                ),
            )
        self._draw()

    def _draw(self) -> None:
        if self.run is None:
            return
        run, normalized = self.run, self.normalized.get()
        m = run.metrics
        which = "test" if m.get("split") == "test" else "validation"
        if m.get("cv"):  # cross-validation models averaged: each fold's unheard actors
            which = "cross-validated test"

        def draw(fig) -> None:
            fig.clear()
            self.image = plot_confusion(
                fig.add_subplot(),
                m["confusion"],
                m["classes"],
                normalized=normalized,
                title=f"held-out {which} split: {m['n_items']:,} items",
            )

        self.chart.update(draw)
