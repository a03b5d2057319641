"""Saliency drawn over what the model saw: a face crop, the photo it came from, a
log-mel spectrogram (see ``training.explain`` for the maps).

The helpers take the ``ax`` to draw on, so the Predict tab and ``workbench.py explain``
draw the same pictures; ``explanation_figure`` is the command's whole picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from datasets.audio import FeatureParams
from datasets.faces import default_detector

from .plots import plot_probabilities, plot_spectrogram
from .records import Prediction

SALIENCY_CMAP = "jet"
OVERLAY_ALPHA = 0.6  # of the most salient part; less salient parts fade out


def overlay_saliency(
    ax: Axes,
    sal: np.ndarray,
    extent: tuple[float, float, float, float],
    *,
    origin: str = "upper",
) -> AxesImage:
    """A (H, W) saliency map in [0, 1] over what ``ax`` shows, placed at ``extent``
    (left, right, bottom, top in the axes' data units); the opacity follows the saliency,
    so what did not matter stays visible beneath.

    Colours run up to the map's 99th percentile, not its peak: a pixel-wise map (Integrated
    Gradients) has a few sharp peaks that would leave the rest too faint to see.
    """
    sal = np.nan_to_num(np.asarray(sal, np.float64))
    sal = np.clip(sal / max(float(np.percentile(sal, 99)), 1e-12), 0.0, 1.0)
    return ax.imshow(
        sal,
        cmap=SALIENCY_CMAP,
        vmin=0.0,
        vmax=1.0,
        alpha=OVERLAY_ALPHA * sal,
        extent=extent,
        origin=origin,
        aspect=ax.get_aspect(),
        interpolation="bilinear",
    )


def face_extent(box: list[int] | None, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """Where the 48x48 crop of a face found at ``box`` lies on its (width, height) photo
    (the whole photo when the image was used whole), as an ``imshow`` extent."""
    if box is None:
        w, h = size
        return (0.0, float(w), float(h), 0.0)
    x0, y0, side = default_detector().crop_square(tuple(box))
    return (float(x0), float(x0 + side), float(y0 + side), float(y0))


def overlay_on_photo(ax: Axes, sal: np.ndarray, box: list[int] | None, size) -> AxesImage:
    """The face's saliency over the photo drawn on ``ax`` (over its (width, height)
    ``size`` pixel grid), the view kept to the photo where the crop reaches past it."""
    limits = ax.get_xlim(), ax.get_ylim()
    image = overlay_saliency(ax, sal, face_extent(box, size))
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    return image


def overlay_on_spectrogram(ax: Axes, sal: np.ndarray, params: FeatureParams) -> AxesImage:
    """The saliency of a (n_bins, n_frames) feature window over ``plot_spectrogram``'s
    picture of it on ``ax``, which turns gray so the saliency's colours stand out."""
    for image in ax.get_images():
        image.set_cmap("gray")
    n_bins, n_frames = sal.shape
    seconds = n_frames * params.hop_length / params.sample_rate
    return overlay_saliency(ax, sal, (0.0, seconds, 0.0, float(n_bins)), origin="lower")


def plot_face_saliency(
    ax: Axes, face: np.ndarray, sal: np.ndarray, *, title: str = ""
) -> AxesImage:
    """A (48, 48) uint8 face crop with its saliency over it (the overlay returned)."""
    ax.imshow(face, cmap="gray", vmin=0, vmax=255, extent=(0, 48, 48, 0))
    image = overlay_saliency(ax, sal, (0, 48, 48, 0))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return image


def method_words(method: str) -> str:
    """A saliency method's name in words, e.g. "Integrated Gradients"."""
    return {"gradcam": "Grad-CAM", "integrated-gradients": "Integrated Gradients"}.get(
        method, method.capitalize()
    )


def _spectrogram_pair(axes: list[Axes], pred: Prediction, top: str) -> None:
    params = pred.feature_params or FeatureParams()
    feats = pred.arrays["features"]
    plot_spectrogram(axes[0], feats, params, title="Log-mel spectrogram (what the model heard)")
    plot_spectrogram(axes[1], feats, params, title=f"What mattered for {top}")
    overlay_on_spectrogram(axes[1], pred.arrays["features_saliency"], params)


def explanation_figure(pred: Prediction) -> Figure:
    """The whole picture of an explained prediction (``training.explain``): a photo with
    its crop; a recording's spectrogram; a clip's sampled faces and its sound — each
    beside the saliency over it, and the probabilities."""
    fig = Figure(figsize=(11, 5.2 if pred.kind != "video" else 6.6), layout="constrained")
    said = pred.details["saliency"]
    answer = f"{Path(pred.file).name}: {pred.top} ({pred.probabilities[pred.top]:.0%})"
    if pred.kind == "video" and pred.speech is None:
        fig.suptitle(
            f"{answer} by the face model alone (no sound) — saliency by "
            f"{method_words(said['method'])}"
        )
    elif pred.kind == "video":
        fig.suptitle(
            f"{answer} fused — saliency of the faces by {method_words(said['method'])}, "
            f"of the sound by {method_words(said['speech_method'])}"
        )
    else:
        fig.suptitle(f"{answer} — saliency by {method_words(said['method'])}")
    if pred.kind == "image":
        grid = fig.add_gridspec(2, 3, width_ratios=(1.4, 1, 1.2))
        ax_photo = fig.add_subplot(grid[:, 0])
        w, h = pred.details["size"]
        ax_photo.imshow(pred.arrays["image"], extent=(0, w, h, 0))
        overlay_on_photo(ax_photo, pred.arrays["face_saliency"], pred.details["box"], (w, h))
        ax_photo.set_xticks([])
        ax_photo.set_yticks([])
        ax_photo.set_title("Photo", fontsize=10)
        face = pred.arrays["face"]
        ax_face = fig.add_subplot(grid[0, 1])
        ax_face.imshow(face, cmap="gray", vmin=0, vmax=255)
        ax_face.set_xticks([])
        ax_face.set_yticks([])
        ax_face.set_title("What the model saw (48×48)", fontsize=9)
        plot_face_saliency(
            fig.add_subplot(grid[1, 1]),
            face,
            pred.arrays["face_saliency"],
            title=f"What mattered for {pred.top}",
        )
        plot_probabilities(fig.add_subplot(grid[:, 2]), pred.probabilities, title="Face model")
    elif pred.kind == "audio":
        grid = fig.add_gridspec(2, 2, width_ratios=(1.6, 1))
        axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])]
        _spectrogram_pair(axes, pred, pred.top)
        plot_probabilities(fig.add_subplot(grid[:, 1]), pred.probabilities, title="Speech model")
    else:
        info = [f for f in pred.details["frames"] if f["face_found"]]
        faces, sal = pred.arrays["faces"], pred.arrays["faces_saliency"]
        shown = np.unique(np.linspace(0, len(info) - 1, min(8, len(info))).round().astype(int))
        grid = fig.add_gridspec(2, 1, height_ratios=(1, 2.2))
        row = grid[0].subgridspec(1, len(shown))
        for k, i in enumerate(shown):
            probs = info[i]["probabilities"]
            plot_face_saliency(
                fig.add_subplot(row[0, k]),
                faces[i],
                sal[i],
                title=f"{info[i]['time']:.1f} s\n{max(probs, key=probs.get)}",
            )
        speech = pred.speech
        if speech is None:  # a silent clip: the face model's mean answer instead
            plot_probabilities(
                fig.add_subplot(grid[1]),
                pred.face.mean,
                title="Face model, mean of the frames (the clip has no sound)",
            )
            return fig
        bottom = grid[1].subgridspec(2, 2, width_ratios=(1.6, 1))
        axes = [fig.add_subplot(bottom[0, 0]), fig.add_subplot(bottom[1, 0])]
        _spectrogram_pair(axes, pred, speech.top)
        plot_probabilities(
            fig.add_subplot(bottom[:, 1]), speech.probabilities, title="Speech model"
        )
    return fig
