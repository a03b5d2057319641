"""Plot helpers shared by the GUI, the CLI reports and the tests.

Each takes the ``ax`` to draw on (``matplotlib.figure.Figure`` axes, never pyplot), so the
same function fills an embedded Tk chart or a PNG in a run folder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.container import BarContainer


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
