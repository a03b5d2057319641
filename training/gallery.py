"""One confusion-matrix cell's held-out items as a picture: the faces (a grid) or the
recordings (spectrogram thumbnails), each with its predicted probabilities.

``cell_items(held, true, predicted)`` orders a cell's items most confident first, the
order the window's gallery and ``workbench.py examples`` show them in.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from .held_out import HeldOut

FIGURE_LIMIT = 40  # items drawn in a PNG; --json lists them all


def cell_items(held: HeldOut, true: str, predicted: str) -> np.ndarray:
    """The indices of the cell's items, the most confident in ``predicted`` first."""
    idx = held.cell(true, predicted)
    p = held.class_index(predicted)
    return idx[np.argsort(-held.probabilities[idx, p], kind="stable")]


def item_name(held: HeldOut, i: int) -> str:
    """A short name for item ``i``: a face's file name (or CSV line), a recording's file
    name, or both for a pair."""
    ident = held.ids[i]
    parts = [ident.get("face", ident), ident.get("speech", ident)]
    names = []
    for part in parts if "face" in ident else parts[:1]:
        if "source" in part:
            names.append(part["source"].rsplit("/", 1)[-1])
        elif "path" in part:
            names.append(part["path"].rsplit("/", 1)[-1])
    return " + ".join(names)


def top_probabilities(held: HeldOut, i: int, n: int = 2) -> str:
    """'happy 62% · neutral 20%': item ``i``'s ``n`` likeliest emotions."""
    probs = held.probabilities[i]
    order = np.argsort(-probs)[:n]
    return " · ".join(f"{held.classes[k]} {probs[k]:.0%}" for k in order)


def spectrogram_rgb(spectrogram: np.ndarray, height: int = 48) -> np.ndarray:
    """A (height, width) RGB uint8 thumbnail of a (n_bins, T) spectrogram, low bands at
    the bottom, scaled to its own range (``magma``, as the Data tab draws them)."""
    s = np.asarray(spectrogram, dtype=np.float32)[::-1]
    lo, hi = np.percentile(s, [2, 99.5])
    s = np.clip((s - lo) / max(hi - lo, 1e-6), 0, 1)
    rows = np.linspace(0, len(s) - 1, height).round().astype(int)
    width = max(1, round(s.shape[1] * height / len(s) * 1.5))
    cols = np.linspace(0, s.shape[1] - 1, width).round().astype(int)
    return (colormaps["magma"](s[np.ix_(rows, cols)])[..., :3] * 255).astype(np.uint8)


def _columns(held: HeldOut) -> int:
    """Items per row: eight faces, or four recordings (or pairs)."""
    return 8 if held.spectrograms is None else 4


def cell_figure_size(held: HeldOut, true: str, predicted: str) -> tuple[float, float]:
    """Inches for ``plot_cell``'s figure: rows of items 1.4 in high, 10 in wide."""
    n = min(len(held.cell(true, predicted)), FIGURE_LIMIT)
    return 10.0, 0.7 + 1.4 * max(1, -(-n // _columns(held)))


def plot_cell(fig: Figure, held: HeldOut, true: str, predicted: str) -> np.ndarray:
    """Draw the cell's items (up to ``FIGURE_LIMIT``) on ``fig``: each face and/or
    spectrogram with its name and two likeliest emotions. Returns the items' indices."""
    idx = cell_items(held, true, predicted)
    shown = idx[:FIGURE_LIMIT]
    what = "right" if true == predicted else "wrong"
    fig.suptitle(
        f"True {true}, predicted {predicted} ({what}): {len(idx)} held-out items"
        + (f", the {len(shown)} most confident shown" if len(shown) < len(idx) else ""),
        fontsize=11,
    )
    if not len(shown):
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "No held-out item in this cell.", ha="center", va="center")
        ax.set_axis_off()
        return idx
    faces, sounds = held.faces is not None, held.spectrograms is not None
    per_item = faces + sounds
    cols = _columns(held)
    rows = -(-len(shown) // cols)
    grid = fig.add_gridspec(rows, cols * per_item)
    for n, i in enumerate(shown):
        r, c = divmod(n, cols)
        pictures = []
        if faces:
            pictures.append((held.faces[i], {"cmap": "gray", "vmin": 0, "vmax": 255}))
        if sounds:
            pictures.append((spectrogram_rgb(held.spectrograms[i]), {}))
        for k, (picture, style) in enumerate(pictures):
            ax = fig.add_subplot(grid[r, c * per_item + k])
            ax.imshow(picture, aspect="auto" if k else "equal", **style)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_title(f"{item_name(held, i)}\n{top_probabilities(held, i)}", fontsize=6)
    return idx
