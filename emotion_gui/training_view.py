"""The Training tab: live loss and accuracy curves, batch progress with ETA, the device.

Every method runs on the Tk thread. The window calls them as training events arrive; the
curves are drawn once (``plot_curves``) and then get ``set_data`` once per finished epoch;
the renderer thread draws them (charts.py), so a redraw never holds the event loop.
"""

from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk

from training.plots import plot_curves
from training.wording import held_out_sentence, skipped_sentence

from .charts import ChartCanvas, ChartRenderer
from .textsize import BOLD, own_font
from .widgets import wrap_to_width


def format_seconds(seconds: float) -> str:
    """'0:42' or '1:05:09'."""
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainingView(ttk.Frame):
    """Curves and progress of the training that runs now (or ran last)."""

    def __init__(self, master: tk.Misc, renderer: ChartRenderer) -> None:
        super().__init__(master)
        top = ttk.Frame(self, padding=(8, 6, 8, 0))
        top.pack(side=tk.TOP, fill=tk.X)
        self.title_var = tk.StringVar(
            value="Nothing trained yet: press Train Facial CNN, Train Speech CNN or Train "
            "Fusion Model."
        )
        title = ttk.Label(top, textvariable=self.title_var, font=own_font(self, BOLD))
        wrap_to_width(title, margin=4).grid(row=0, column=0, columnspan=3, sticky="ew")
        self.device_var = tk.StringVar(value="")
        ttk.Label(top, textvariable=self.device_var).grid(
            row=1, column=0, columnspan=3, sticky="w", pady=(0, 4)
        )
        self.epoch_var = tk.StringVar(value="Epoch –")
        self.overall_var = tk.StringVar(value="Overall –")
        ttk.Label(top, textvariable=self.epoch_var, width=42).grid(row=2, column=0, sticky="w")
        self.batch_bar = ttk.Progressbar(top, maximum=1.0)
        self.batch_bar.grid(row=2, column=1, sticky="ew", padx=6)
        ttk.Label(top, textvariable=self.overall_var, width=42).grid(row=3, column=0, sticky="w")
        self.overall_bar = ttk.Progressbar(top, maximum=1.0)
        self.overall_bar.grid(row=3, column=1, sticky="ew", padx=6)
        self.eta_var = tk.StringVar(value="")
        # Under the bars, not beside them: on a 1024 px screen with larger text the bars
        # would have no room left.
        ttk.Label(top, textvariable=self.eta_var, anchor="e").grid(
            row=4, column=0, columnspan=2, sticky="e", padx=6
        )
        top.columnconfigure(1, weight=1)

        self.chart = ChartCanvas(self, renderer)
        self.chart.pack(fill=tk.BOTH, expand=True)
        self.note_var = tk.StringVar(value="")
        note = ttk.Label(self, textvariable=self.note_var, foreground="gray30", padding=(8, 2))
        wrap_to_width(note).pack(side=tk.BOTTOM, fill=tk.X)
        self.history: list[dict] = []
        self._info: dict | None = None
        self._t0 = 0.0
        # Artists: made and changed on the renderer thread only (see charts.py).
        self.lines: dict = {}
        self._best_marks: list = []
        self._reset_axes()

    # ------------------------------------------------------------ drawing

    def _total_epochs(self) -> int:
        n = max((r["epoch"] for r in self.history), default=1)
        return max(self._info["epochs"] if self._info else n, n)

    def _reset_axes(self, best_epoch: int | None = None) -> None:
        history, total = list(self.history), self._total_epochs()

        def draw(fig) -> None:
            fig.clear()
            self.ax_loss, self.ax_acc = fig.subplots(1, 2)
            self.lines = plot_curves(self.ax_loss, self.ax_acc, history, best_epoch=best_epoch)
            self._best_marks = []
            self.ax_loss.set_title("loss (lower is better)", fontsize=10)
            self.ax_acc.set_title("accuracy", fontsize=10)
            self._rescale(total)

        self.chart.update(draw)

    def _rescale(self, total_epochs: int) -> None:
        """Renderer thread."""
        for ax in (self.ax_loss, self.ax_acc):
            ax.relim()
            ax.autoscale_view()
            ax.set_xlim(0.5, total_epochs + 0.5)
        self.ax_acc.set_ylim(0, 1.02)

    # ------------------------------------------------------------ events

    def start(self, title: str) -> None:
        """A new training begins: clear the curves."""
        self.title_var.set(title)
        self.device_var.set("Loading the data…")
        self.note_var.set("")
        self.history = []
        self._info = None
        self.batch_bar["value"] = self.overall_bar["value"] = 0
        self.epoch_var.set("Epoch –")
        self.overall_var.set("Overall –")
        self.eta_var.set("")
        self._reset_axes()

    def fit_started(self, info: dict) -> None:
        self._info = info
        self._t0 = time.monotonic()
        self._done_at_start = (info["start_epoch"] - 1) * info["n_batches"]
        self.device_var.set(
            f"Device: {info['device']} · {info['n_train']:,} training and "
            f"{info['n_val']:,} validation items · {info['n_batches']} batches per epoch"
        )
        total = self._total_epochs()
        self.chart.update(lambda fig: self._rescale(total))

    def batch(self, info: dict) -> None:
        if self._info is None:
            return
        total_epochs = self._info["epochs"]
        n = info["n_batches"]
        self.epoch_var.set(
            f"Epoch {info['epoch']} of {total_epochs} · batch {info['batch']}/{n} · "
            f"loss {info['loss']:.3f}"
        )
        self.batch_bar["value"] = info["batch"] / n
        done = (info["epoch"] - 1) * n + info["batch"]
        total = total_epochs * n
        self.overall_bar["value"] = done / total
        self.overall_var.set(f"Overall {done / total:.0%}")
        elapsed = time.monotonic() - self._t0
        done_here = done - self._done_at_start
        if done_here > 0:
            eta = elapsed / done_here * (total - done)
            self.eta_var.set(f"elapsed {format_seconds(elapsed)} · ETA {format_seconds(eta)}")

    def epoch(self, record: dict) -> None:
        self.history.append(record)
        history, total = list(self.history), self._total_epochs()
        best = record["best_epoch"]

        def draw(fig) -> None:
            epochs = [r["epoch"] for r in history]
            for key, line in self.lines.items():
                line.set_data(epochs, [r[key] for r in history])
            for mark in self._best_marks:
                mark.remove()
            self._best_marks = [
                ax.axvline(best, color="0.6", lw=1, ls=":") for ax in (self.ax_loss, self.ax_acc)
            ]
            self._rescale(total)

        self.chart.update(draw)
        best_row = next((r for r in self.history if r["epoch"] == best), None)
        if best_row:
            self.note_var.set(
                f"Best so far: epoch {best}, validation accuracy {best_row['val_accuracy']:.1%} "
                f"(UAR {best_row['val_uar']:.1%}). Train figures are running means during the "
                "epoch; validation is held out."
            )

    def finished(self, metrics: dict | None, *, stopped: bool = False) -> None:
        """Training ended: with held-out ``metrics``, or None when it failed."""
        self.batch_bar["value"] = 0 if metrics is None else 1.0
        if metrics is None:
            self.eta_var.set("failed")
            return
        how = "Stopped" if stopped else "Finished"
        if metrics["best_epoch"] < 1:
            self.eta_var.set("stopped")
            self.note_var.set(
                "Stopped before the first epoch ended: nothing was learned, so there is "
                "nothing to score or keep."
            )
            return
        self.eta_var.set(f"{how} in {format_seconds(metrics.get('seconds', 0))}")
        cv = metrics.get("cv")
        if cv:  # a starter that is the models of a cross-validation averaged
            self.note_var.set(
                f"{len(cv['folds'])} cross-validation models averaged (curves: fold 1). Each "
                f"scored on actors it never heard: accuracy {cv['accuracy_mean']:.1%} ± "
                f"{cv['accuracy_std']:.1%} over the folds; pooled {metrics['accuracy']:.1%}, "
                f"UAR {metrics['uar']:.1%} ({metrics['n_items']:,} recordings)."
            )
            return
        left_out = skipped_sentence(metrics.get("skipped") or [], metrics.get("n_skipped"))
        self.note_var.set(
            f"{how}. Best epoch {metrics['best_epoch']}: {held_out_sentence(metrics)}, "
            "none of them used for training." + (f" {left_out}" if left_out else "")
        )

    def show_history(self, title: str, history: list[dict], metrics: dict) -> None:
        """Draw a finished run's curves (for Open run…)."""
        self.title_var.set(title)
        self.device_var.set(f"Trained on {metrics.get('device', '?')}")
        self.history = list(history)
        self._info = None
        self.epoch_var.set(f"{len(history)} epochs")
        self.overall_var.set("")
        self.batch_bar["value"] = self.overall_bar["value"] = 1.0
        self._reset_axes(best_epoch=metrics.get("best_epoch"))
        self.finished(metrics, stopped=bool(metrics.get("stopped")))
