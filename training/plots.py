"""Plot helpers shared by the GUI, the CLI reports and the tests.

Each takes the ``ax`` to draw on (``matplotlib.figure.Figure`` axes, never pyplot), so the
same function fills an embedded Tk chart or a PNG in a run folder.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from datasets.errors import WorkbenchError, describe, write_atomically

from .records import Run
from .wording import scored_on

if TYPE_CHECKING:  # only for the hint: drawing needs no torch
    from datasets.audio import FeatureParams


def plot_class_counts(
    ax: Axes, counts: dict[str, int], *, title: str = "", color: str = "C0"
) -> BarContainer:
    """Bar chart of items per class, with the count above each bar."""
    names, values = list(counts), list(counts.values())
    bars = ax.bar(names, values, color=color)
    ax.bar_label(bars, fontsize=8, padding=2)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("items")
    ax.tick_params(axis="x", labelrotation=35, labelsize=8)
    ax.margins(y=0.15)
    return bars


def face_mosaic(
    images: np.ndarray, labels: np.ndarray, n_classes: int, *, per_class: int = 8, seed: int = 0
) -> np.ndarray:
    """A (n_classes * 48, per_class * 48) uint8 grid: row c shows random faces of class c.

    ``images`` is (N, 48, 48) uint8 and ``labels`` (N,) class indices. A class with fewer
    faces than ``per_class`` leaves its remaining cells black.
    """
    rng = np.random.default_rng(seed)
    grid = np.zeros((n_classes * 48, per_class * 48), np.uint8)
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        for j, i in enumerate(rng.permutation(idx)[:per_class]):
            grid[c * 48 : (c + 1) * 48, j * 48 : (j + 1) * 48] = images[i]
    return grid


def plot_face_samples(
    ax: Axes, images: np.ndarray, labels: np.ndarray, classes: Sequence[str], *, per_class: int = 8
) -> None:
    """Sample faces per emotion as one image, class names down the side."""
    ax.imshow(
        face_mosaic(images, labels, len(classes), per_class=per_class),
        cmap="gray",
        vmin=0,
        vmax=255,
    )
    ax.set_yticks([48 * c + 24 for c in range(len(classes))], list(classes), fontsize=8)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def plot_curves(
    ax_loss: Axes, ax_acc: Axes, history: Sequence[dict], *, best_epoch: int | None = None
) -> dict[str, Line2D]:
    """Train and validation loss (left) and accuracy (right) per epoch.

    Returns the four lines by name (``train_loss``…) so a live view can ``set_data`` them.
    Train figures are running means over the epoch's batches; validation is held out.
    """
    epochs = [r["epoch"] for r in history]
    lines = {}
    for ax, metric, label in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        for split, style in (("train", "--"), ("val", "-")):
            key = f"{split}_{metric}"
            (lines[key],) = ax.plot(
                epochs,
                [r[key] for r in history],
                style,
                marker="o",
                markersize=3,
                label="train (during the epoch)" if split == "train" else "validation (held out)",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0))
    if best_epoch:
        for ax in (ax_loss, ax_acc):
            ax.axvline(best_epoch, color="0.6", lw=1, ls=":")
    return lines


def plot_confusion(
    ax: Axes,
    confusion: Sequence[Sequence[float]],
    classes: Sequence[str],
    *,
    normalized: bool = False,
    title: str = "",
) -> AxesImage:
    """Confusion matrix: rows are true classes, columns predicted; counts or row shares."""
    cm = np.asarray(confusion, dtype=float)
    if normalized:
        sums = cm.sum(1, keepdims=True)
        cm = np.divide(cm, sums, out=np.zeros_like(cm), where=sums > 0)
    im = ax.imshow(cm, cmap="Blues", vmin=0, vmax=1.0 if normalized else max(cm.max(), 1))
    n = len(classes)
    ax.set_xticks(range(n), list(classes), rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(n), list(classes), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    threshold = 0.5 * (1.0 if normalized else cm.max())
    for i in range(n):
        for j in range(n):
            text = f"{cm[i, j]:.0%}" if normalized else f"{int(cm[i, j])}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if cm[i, j] > threshold else "black",
            )
    return im


LABEL_WIDTH = 20  # characters per line of a comparison bar's label


def wrap_label(text: str, width: int = LABEL_WIDTH) -> str:
    """``text`` with each of its lines wrapped to ``width`` characters, so labels side by
    side never run into each other. A word a few characters longer stays whole
    ("validation:"); only far longer ones are broken."""

    def wrap(line: str) -> list[str]:
        long = any(len(w) > width + 3 for w in line.split())
        return textwrap.wrap(line, width, break_long_words=long, break_on_hyphens=True) or [""]

    return "\n".join("\n".join(wrap(line)) for line in text.split("\n"))


def _label_width(ax: Axes, n: int, fontsize: float) -> int:
    """Characters a line that fit under each of ``n`` bars of ``ax`` at ``fontsize``
    (a character is about 0.6 em wide), at most ``LABEL_WIDTH``."""
    fig = ax.get_figure()
    slot = ax.get_position().width * fig.get_figwidth() / max(n, 1)  # inches per run
    return max(6, min(LABEL_WIDTH, int(0.85 * slot / (0.6 * fontsize / 72))))


def plot_comparison(
    ax_curves: Axes,
    ax_bars: Axes,
    runs: Sequence[Run],
    *,
    baselines: dict[str, float] | None = None,
) -> None:
    """Validation accuracy per epoch of several runs, and their held-out accuracy and UAR.

    Each run is a ``records.Run`` (``runs.load_run``).
    ``baselines`` draws reference lines, e.g. ``{"human, FER-2013": 0.65}``. Under each bar's
    name a line says which test items it counts (``training.wording.scored_on``); both are
    wrapped to what fits under a bar (at most ``LABEL_WIDTH`` characters a line).
    """
    for i, run in enumerate(runs):
        hist = run.history
        ax_curves.plot(
            [r["epoch"] for r in hist],
            [r["val_accuracy"] for r in hist],
            marker="o",
            markersize=3,
            color=f"C{i}",
            label=wrap_label(run.name, 2 * LABEL_WIDTH),
        )
    ax_curves.set_xlabel("epoch")
    ax_curves.set_ylabel("validation accuracy")
    ax_curves.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax_curves.grid(alpha=0.3)
    if runs:
        ax_curves.legend(fontsize=8)

    x = np.arange(len(runs))
    acc = [r.metrics["accuracy"] for r in runs]
    uar = [r.metrics["uar"] for r in runs]
    b1 = ax_bars.bar(x - 0.2, acc, 0.4, label="accuracy")
    b2 = ax_bars.bar(x + 0.2, uar, 0.4, label="UAR")
    for bars in (b1, b2):
        ax_bars.bar_label(bars, labels=[f"{v:.0%}" for v in bars.datavalues], fontsize=7, padding=2)
    size = 8 if len(runs) <= 4 else 7
    width = _label_width(ax_bars, len(runs), size)
    ax_bars.set_xticks(
        x,
        [f"{wrap_label(r.name, width)}\n{wrap_label(scored_on(r), width)}" for r in runs],
        fontsize=size,
    )
    ax_bars.set_ylim(0, 1.22)  # room for the legend above the bars
    ax_bars.set_yticks(np.linspace(0, 1, 6))
    ax_bars.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax_bars.set_ylabel("held-out score")
    for j, (name, value) in enumerate((baselines or {}).items()):
        ax_bars.axhline(value, color=f"C{j + 3}", ls="--", lw=1, label=name)
    ax_bars.legend(fontsize=7, loc="upper center", ncol=2)


def plot_probabilities(
    ax: Axes, probabilities: dict[str, float], *, title: str = "", color: str = "C0"
) -> BarContainer:
    """Horizontal bars of a prediction's probabilities (0..1), one per emotion.

    Emotions keep the given order, the first at the top; each bar is labelled with its
    percentage and the most likely emotion is drawn in full colour with a bold name.
    """
    names, values = list(probabilities), [float(v) for v in probabilities.values()]
    top = int(np.argmax(values)) if values else -1
    colors = [to_rgba(color, 1.0 if i == top else 0.4) for i in range(len(values))]
    bars = ax.barh(range(len(values)), values, color=colors, height=0.7)
    ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=8, padding=3)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    if top >= 0:
        ax.get_yticklabels()[top].set_fontweight("bold")
    ax.invert_yaxis()  # first emotion at the top, as in a list
    ax.set_xlim(0, 1.16)  # room for a label after a bar near 100%
    ax.set_xticks(np.linspace(0, 1, 5))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, fontsize=10)
    return bars


def plot_waveform(
    ax: Axes, y: np.ndarray, sr: int, *, title: str = "", max_points: int = 4000
) -> Line2D:
    """Amplitude of a mono recording ``y`` (n_samples,) at ``sr`` Hz against time in seconds.

    Longer recordings are drawn as their min/max envelope over ``max_points // 2`` equal
    chunks, which looks the same as every sample but stays fast to draw.
    """
    y = np.asarray(y, dtype=np.float32)
    n_chunks = max_points // 2
    if len(y) > max_points:
        edges = np.linspace(0, len(y), n_chunks + 1).astype(int)
        lo = np.minimum.reduceat(y, edges[:-1])
        hi = np.maximum.reduceat(y, edges[:-1])
        t = np.repeat(edges[:-1] / sr, 2)  # (2 * n_chunks,) seconds
        values = np.column_stack([lo, hi]).ravel()  # min, max, min, max…
    else:
        t, values = np.arange(len(y)) / sr, y
    (line,) = ax.plot(t, values, color="C1", lw=0.6)
    ax.set_xlim(0, max(len(y) / sr, 1e-3))
    peak = float(np.abs(y).max()) if len(y) else 0.0
    ax.set_ylim(-1.05 * peak - 1e-3, 1.05 * peak + 1e-3)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("amplitude", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_title(title, fontsize=10)
    return line


def plot_spectrogram(
    ax: Axes, features: np.ndarray, params: FeatureParams, *, title: str = ""
) -> AxesImage:
    """A (n_bins, n_frames) log-mel spectrogram (dB) or MFCC matrix as an image.

    Time runs left to right in seconds (``hop_length / sample_rate`` per frame), low bands
    at the bottom. Add a colour bar with ``fig.colorbar(image, ax=ax)`` if there is room.
    """
    n_bins, n_frames = features.shape
    seconds = n_frames * params.hop_length / params.sample_rate
    image = ax.imshow(
        features,
        origin="lower",
        aspect="auto",
        cmap="magma",
        interpolation="nearest",
        extent=(0.0, seconds, 0.0, float(n_bins)),
    )
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("mel band" if params.kind == "logmel" else "MFCC", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_title(title, fontsize=10)
    return image


def plot_timeline(
    ax: Axes,
    times: np.ndarray,
    per_frame: Sequence[dict[str, float] | None],
    classes: Sequence[str],
) -> dict[str, Line2D]:
    """Each emotion's probability (0..1) in the sampled frames of a video, against seconds.

    ``per_frame[i]`` is frame i's probabilities, or None when no face was found there: the
    lines have a gap (NaN) at such frames and a grey cross marks them on the time axis.
    The emotion with the highest mean is drawn thicker. Returns the lines by class name.
    """
    times = np.asarray(times, dtype=float)
    values = np.full((len(times), len(classes)), np.nan)  # (N, C)
    for i, probs in enumerate(per_frame):
        if probs is not None:
            values[i] = [probs[c] for c in classes]
    found = ~np.isnan(values[:, 0]) if len(classes) else np.zeros(len(times), bool)
    top = int(np.nanargmax(np.nanmean(values, axis=0))) if found.any() else -1
    lines = {}
    for j, name in enumerate(classes):
        (lines[name],) = ax.plot(
            times,
            values[:, j],
            marker="o",
            markersize=3.5,
            lw=2.4 if j == top else 1.1,
            color=f"C{j}",
            label=name,
            zorder=3 if j == top else 2,
        )
    if (~found).any():
        ax.plot(
            times[~found],
            np.zeros((~found).sum()),
            "x",
            color="0.45",
            markersize=7,
            clip_on=False,
            label="no face",
        )
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if len(times):
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.5
        ax.set_xlim(max(0.0, times[0] - step / 2), times[-1] + step / 2)
    ax.set_xlabel("time in the clip (s)", fontsize=8)
    ax.set_ylabel("probability", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    ax.legend(
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        fontsize=7,
        frameon=False,
        handlelength=1.5,
        borderaxespad=0.0,
    )
    return lines


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 110) -> None:
    """Write a ``Figure`` (made without pyplot) to a picture file, PNG or any format its
    name asks for that matplotlib writes; atomically (a temporary file renamed into
    place), so a full disk or a kill never leaves a truncated picture that looks finished.
    ``WorkbenchError`` names the file for an unknown format, a full disk or a folder it
    cannot write."""
    path = Path(path)
    canvas = FigureCanvasAgg(fig)
    kind = path.suffix.lower().lstrip(".")
    if kind not in canvas.get_supported_filetypes():
        known = ", ".join(f".{k}" for k in ("png", "pdf", "svg", "jpg"))
        raise WorkbenchError(
            f"Cannot write {describe(path)}: matplotlib does not write {path.suffix or 'files without an extension'}; "
            f"name it with {known} or another picture format."
        )
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=kind))
