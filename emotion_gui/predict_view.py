"""The Predict tab: what a model made of one photo, recording or video clip.

Photo: the picture with the face box, the 48x48 crop the model saw and its probabilities.
Recording: waveform, log-mel spectrogram and probabilities. Video: the sampled frames,
the face model's probabilities frame by frame, the face (mean) and speech results, and the
fused answer of both (a fusion model's, else their average).

Beside the header, Play plays a recording, or a clip's sound (what the speech model heard
of it), and the Explain toggle overlays saliency — what the answer rested on — on the face
crop and the photo, on a recording's spectrogram, or on each sampled face of a clip (see
``training.explain``; the maps are computed on the prediction's worker thread). Under the
header, the prediction's warnings stand out in a yellow strip. When a model that learned
from the synthetic demo data answered a real file, the starter models' answer is drawn
beside it, with one line (in blue) on why the two differ: a lesson about training data,
not an error.
"""

from __future__ import annotations

import tkinter as tk
from pathlib import Path
from tkinter import ttk

import numpy as np
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from datasets.audio import FeatureParams
from datasets.paired import PAIRED_NOTE
from training.plots import plot_probabilities, plot_spectrogram, plot_timeline, plot_waveform
from training.records import Prediction
from training.runs import starter_model
from training.saliency_plots import (
    method_words,
    overlay_on_photo,
    overlay_on_spectrogram,
    overlay_saliency,
    plot_face_saliency,
)
from training.second_opinion import starter_lesson
from training.wording import model_line

from .charts import ChartCanvas, ChartRenderer
from .play_button import PlayButton
from .widgets import wrap_to_width

PLACEHOLDER = (
    "Choose a photo, a recording or a clip: Image…, Audio… or Video… under Predict on the "
    "left, or the Predict menu (Ctrl+I, Ctrl+U, Ctrl+E)."
)
STARTER_NOTE = "Until you train a model, the starter models in pretrained/ answer."
MAX_FRAMES = 8  # frames shown in a row for a video
FACE_COLOR, SPEECH_COLOR = "C0", "C1"  # the Data tab's colours for faces and speech
FUSED_COLOR = "C2"
STARTER_COLOR = "C4"  # the starter models' answer beside a demo-trained model's
WARNING_COLORS = {"background": "#fff3cd", "foreground": "#664d03"}  # a yellow strip
LESSON_COLORS = {"background": "#e7f1ff", "foreground": "#084298"}  # a blue strip


def _top(probabilities: dict[str, float]) -> tuple[str, float]:
    name = max(probabilities, key=probabilities.get)
    return name, probabilities[name]


def placeholder_text() -> str:
    """What the empty Predict view says (naming the starter models when they ship)."""
    if any(starter_model(kind) for kind in ("face", "speech")):
        return f"{PLACEHOLDER}\n{STARTER_NOTE}"
    return PLACEHOLDER


def header_text(pred: Prediction) -> str:
    """The lines above the chart: the file, the answer and the model(s) that gave it."""
    name = Path(pred.file).name
    top, p = _top(pred.probabilities)
    if pred.kind != "video":
        return f"{name}: {top} ({p:.0%})\n" + model_line("Model", pred.model, pred.trained_on)
    fused, face, speech = pred.fused, pred.face, pred.speech
    f_top, f_p = _top(face.mean)
    if speech is None:  # a clip with no sound: the face model alone
        return (
            f"{name}: {top} ({p:.0%}) by the face model alone, mean of "
            f"{face.frames_with_face} of {face.frames_sampled} frames · no sound to hear\n"
            + model_line("Face model", face.model, face.trained_on)
        )
    s_top, s_p = _top(speech.probabilities)
    lines = [
        f"{name}: {top} ({p:.0%}) fused · face {f_top} ({f_p:.0%}, mean of "
        f"{face.frames_with_face} of {face.frames_sampled} frames) · speech {s_top} "
        f"({s_p:.0%})",
        f"Fused by {fused.method}" + (f" — {fused.note}" if fused.note else ""),
    ]
    if fused.model:
        lines.append(model_line("Fusion model", fused.model, fused.trained_on))
    lines.append(model_line("Face model", face.model, face.trained_on))
    lines.append(model_line("Speech model", speech.model, speech.trained_on))
    return "\n".join(lines)


def warnings_text(pred: Prediction) -> str:
    """The prediction's warnings, one "Warning: …" line each ("" when there are none)."""
    return "\n".join(f"Warning: {w}" for w in pred.warnings)


def _starter_title(pred: Prediction) -> str:
    """The title over the starter models' bars: their answer and what they learned from."""
    starter = pred.starter
    top, p = _top(starter.probabilities)
    what = "Starter models, fused" if starter.kind == "video" else "Starter model"
    return f"{what}: {top} ({p:.0%})\nlearned from real data"


def _learned(pred: Prediction) -> str:
    """A second title line for a demo-trained model's bars when the starter models'
    answer stands beside them ("" otherwise)."""
    return "\nlearned from demo data" if pred.starter is not None else ""


def _around(frame: np.ndarray, box: list[int] | None, margin: float = 0.35) -> np.ndarray:
    """The part of a (H, W) frame around a face box (with ``margin`` of its size), or all."""
    if box is None:
        return frame
    x, y, w, h = box
    m = int(margin * max(w, h))
    return frame[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m]


def _method(pred: Prediction) -> str:
    """The method of ``pred``'s saliency in words."""
    return method_words(pred.details["saliency"]["method"])


def _has_sound(pred: Prediction) -> bool:
    """Whether a prediction heard sound: a recording, or a clip with sound."""
    return pred.kind == "audio" or (pred.kind == "video" and pred.speech is not None)


def _bare(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


class PredictView(ttk.Frame):
    """One prediction drawn in an embedded chart. Methods run on the Tk thread; the figure
    is changed only inside ``chart.update`` functions (the renderer thread).

    For tests and later updates it keeps ``prediction`` and its ``kind`` (None before the
    first prediction), ``bars`` (name → ``BarContainer``: ``"image"``, ``"audio"``, or
    ``"face"``, ``"speech"`` and ``"fused"`` for a video), ``timeline`` (class → line, video
    only), ``overlays`` (where saliency is drawn → its image: ``"photo"`` and ``"crop"``,
    ``"spectrogram"``, or ``"frame N"``; empty with Explain off) and ``shown`` (how many
    predictions have been drawn); the Tk thread may read those once the renderer is idle.

    ``on_explain(pred)``, set by the window, computes the saliency of the prediction shown
    when Explain is switched on and it has none yet (a job that ends in ``show``).
    """

    def __init__(self, master: tk.Misc, renderer: ChartRenderer) -> None:
        super().__init__(master)
        self.header_var = tk.StringVar(value="No prediction yet.")
        top = ttk.Frame(self)
        top.pack(side=tk.TOP, fill=tk.X)
        # Shown for a recording or a clip only (see ``show``), packed before the header so
        # a long header wraps beside it instead of pushing it out of sight.
        self.play_button = PlayButton(top, self.playable)
        self.explain_var = tk.BooleanVar(value=False)
        self.explain_toggle = ttk.Checkbutton(
            top, text="Explain", variable=self.explain_var, command=self._explain_toggled
        )
        self.explain_toggle.pack(side=tk.RIGHT, padx=8, pady=6)
        self.on_explain = None  # set by the window
        header = ttk.Label(
            top, textvariable=self.header_var, anchor="w", justify="left", padding=(8, 6)
        )
        self.header_label = wrap_to_width(header)
        self.header_label.pack(side=tk.LEFT, fill=tk.X, expand=True)
        # Shown only when there is something to say (see ``show``).
        self.warnings_var = tk.StringVar(value="")
        self.warnings_label = wrap_to_width(
            tk.Label(
                self,
                textvariable=self.warnings_var,
                anchor="w",
                justify="left",
                padx=8,
                pady=4,
                **WARNING_COLORS,
            )
        )
        self.lesson_var = tk.StringVar(value="")
        self.lesson_label = wrap_to_width(
            tk.Label(
                self,
                textvariable=self.lesson_var,
                anchor="w",
                justify="left",
                padx=8,
                pady=4,
                **LESSON_COLORS,
            )
        )
        self.chart = ChartCanvas(self, renderer)
        self.chart.pack(fill=tk.BOTH, expand=True)
        self.prediction: Prediction | None = None
        self.kind: str | None = None
        self.bars: dict[str, BarContainer] = {}  # renderer thread
        self.timeline: dict[str, Line2D] = {}  # renderer thread
        self.overlays: dict[str, AxesImage] = {}  # renderer thread
        self.shown = 0  # predictions drawn so far (renderer thread; tests wait on it)
        self.chart.update(self._placeholder)

    def playable(self) -> Path | None:
        """The file Play plays: the recording or clip predicted (None for a photo or a
        clip with no sound)."""
        pred = self.prediction
        return Path(pred.file) if pred is not None and _has_sound(pred) else None

    @property
    def figure(self) -> Figure:
        return self.chart.figure

    def explaining(self) -> bool:
        """Whether Explain is on: predictions should come with saliency."""
        return self.explain_var.get()

    def _explain_toggled(self) -> None:
        pred = self.prediction
        if pred is None:
            return
        if self.explaining() and "saliency" not in pred.details and self.on_explain:
            self.on_explain(pred)  # shown again once computed
        else:
            self.show(pred)

    def show(self, pred: Prediction) -> None:
        """Replace the chart with ``pred`` (an image, audio or video prediction)."""
        draw = {"image": self._image, "audio": self._audio, "video": self._video}[pred.kind]
        self.play_button.stop()  # Play now means the file shown
        explain = self.explaining() and "saliency" in pred.details
        self.prediction, self.kind = pred, pred.kind
        if _has_sound(pred):
            self.play_button.pack(side=tk.RIGHT, padx=8, pady=6, before=self.header_label)
        else:
            self.play_button.pack_forget()
        self.header_var.set(header_text(pred))
        self.warnings_var.set(warnings_text(pred))
        self.lesson_var.set(starter_lesson(pred))
        for label, var in (
            (self.warnings_label, self.warnings_var),
            (self.lesson_label, self.lesson_var),
        ):
            label.pack_forget()
            if var.get():
                label.pack(side=tk.TOP, fill=tk.X, padx=8, pady=(0, 4), before=self.chart)

        def redraw(fig: Figure) -> None:
            fig.clear()
            bars: dict[str, BarContainer] = {}
            timeline: dict[str, Line2D] = {}
            overlays: dict[str, AxesImage] = {} if explain else None
            draw(fig, pred, bars, timeline, overlays)
            self.bars, self.timeline, self.overlays = bars, timeline, overlays or {}
            self.shown += 1

        self.chart.update(redraw)

    # ------------------------------------------------------- renderer thread

    @staticmethod
    def _placeholder(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, placeholder_text(), ha="center", va="center", fontsize=11, color="0.3")
        ax.set_axis_off()

    def _image(
        self, fig: Figure, pred: Prediction, bars: dict, timeline: dict, overlays: dict | None
    ) -> None:
        image, box = pred.arrays["image"], pred.details.get("box")
        w, h = pred.details.get("size") or (image.shape[1], image.shape[0])
        ax_starter = None
        if pred.starter is not None and w > 1.2 * h:  # the two answers side by side
            grid = fig.add_gridspec(2, 3, width_ratios=(1.45, 0.8, 0.8), height_ratios=(1.3, 1))
            ax_photo = fig.add_subplot(grid[0, 0])
            ax_crop = fig.add_subplot(grid[1, 0])
            ax_bars = fig.add_subplot(grid[:, 1])
            ax_starter = fig.add_subplot(grid[:, 2])
        elif pred.starter is not None:  # photo | crop over the two answers side by side
            grid = fig.add_gridspec(2, 3, width_ratios=(1.3, 1, 1), height_ratios=(1, 1.2))
            ax_photo = fig.add_subplot(grid[:, 0])
            ax_crop = fig.add_subplot(grid[0, 1:])
            ax_bars = fig.add_subplot(grid[1, 1])
            ax_starter = fig.add_subplot(grid[1, 2])
        elif w > 1.2 * h:  # landscape: photo over the crop, bars down the right
            grid = fig.add_gridspec(2, 2, width_ratios=(1.45, 1), height_ratios=(1.3, 1))
            ax_photo = fig.add_subplot(grid[0, 0])
            ax_crop = fig.add_subplot(grid[1, 0])
            ax_bars = fig.add_subplot(grid[:, 1])
        else:  # portrait or square: photo full height, crop over the bars
            grid = fig.add_gridspec(2, 2, width_ratios=(1.3, 1), height_ratios=(1, 1.2))
            ax_photo = fig.add_subplot(grid[:, 0])
            ax_crop = fig.add_subplot(grid[0, 1])
            ax_bars = fig.add_subplot(grid[1, 1])
        # Drawn over the original pixel grid, so the box fits a scaled-down display copy.
        ax_photo.imshow(image, extent=(0, w, h, 0), interpolation="antialiased")
        if box is not None:
            x, y, bw, bh = box
            ax_photo.add_patch(Rectangle((x, y), bw, bh, fill=False, ec="#39ff14", lw=2))
            ax_photo.set_title("Photo: the face found", fontsize=10)
        elif max(w, h) <= 64:
            ax_photo.set_title("Photo: a face crop already, used whole", fontsize=10)
        else:
            ax_photo.set_title("Photo: no face search, whole image used", fontsize=10)
        _bare(ax_photo)

        ax_crop.imshow(pred.arrays["face"], cmap="gray", vmin=0, vmax=255)
        ax_crop.set_title("What the model saw (48×48 gray)", fontsize=10)
        _bare(ax_crop)
        if overlays is not None:  # Explain: the face's saliency over the crop and the photo
            sal = pred.arrays["face_saliency"]
            overlays["crop"] = overlay_saliency(ax_crop, sal, (-0.5, 47.5, 47.5, -0.5))
            overlays["photo"] = overlay_on_photo(ax_photo, sal, box, (w, h))
            ax_crop.set_title(f"What mattered ({_method(pred)})", fontsize=10)

        top, p = _top(pred.probabilities)
        bars["image"] = plot_probabilities(
            ax_bars,
            pred.probabilities,
            title=f"Face model: {top} ({p:.0%})" + _learned(pred),
            color=FACE_COLOR,
        )
        if ax_starter is not None:
            self._starter_bars(ax_starter, pred, bars)

    @staticmethod
    def _starter_bars(ax: Axes, pred: Prediction, bars: dict) -> None:
        """The starter models' answer (``bars["starter"]``), labelled as such."""
        probs = pred.starter.probabilities
        bars["starter"] = plot_probabilities(
            ax, probs, title=_starter_title(pred), color=STARTER_COLOR
        )

    def _face_alone(self, fig: Figure, spec, pred: Prediction, bars: dict) -> None:
        """A clip with no sound: the face model's mean answer (the headline), a note in the
        speech and fused charts' place, and the starter models' answer when shown."""
        bottom = spec.subgridspec(1, 3)
        face = pred.face
        top, p = _top(face.mean)
        ax_face = fig.add_subplot(bottom[0, 0])
        bars["face"] = plot_probabilities(
            ax_face,
            face.mean,
            title=f"Face alone: {top} ({p:.0%})\nmean of {face.frames_with_face} frames",
            color=FACE_COLOR,
        )
        ax_face.title.set_fontweight("bold")
        if pred.starter is not None:
            self._starter_bars(fig.add_subplot(bottom[0, 2]), pred, bars)
        ax_note = fig.add_subplot(bottom[0, 1] if pred.starter is not None else bottom[0, 1:])
        ax_note.text(
            0.5,
            0.5,
            "No sound to hear\n\nThe speech and fused answers need\na clip with sound, or the "
            "take's\nRAVDESS 03- recording beside it.",
            ha="center",
            va="center",
            fontsize=9,
            color="0.35",
            wrap=True,
        )
        _bare(ax_note)
        for side in ax_note.spines.values():
            side.set_visible(False)

    def _audio(
        self, fig: Figure, pred: Prediction, bars: dict, timeline: dict, overlays: dict | None
    ) -> None:
        if pred.starter is not None:  # the two answers side by side on the right
            grid = fig.add_gridspec(2, 3, width_ratios=(1.6, 0.8, 0.8))
            self._starter_bars(fig.add_subplot(grid[:, 2]), pred, bars)
        else:
            grid = fig.add_gridspec(2, 2, width_ratios=(1.6, 1))
        ax_wave = fig.add_subplot(grid[0, 0])
        ax_spec = fig.add_subplot(grid[1, 0])
        ax_bars = fig.add_subplot(grid[:, 1])
        params = pred.feature_params or FeatureParams()
        y = pred.arrays["waveform"]
        plot_waveform(
            ax_wave,
            y,
            params.sample_rate,
            title=f"Waveform: {len(y) / params.sample_rate:.1f} s at {params.sample_rate // 1000} kHz",
        )
        self._spectrogram(fig, ax_spec, pred, params)
        if overlays is not None:  # Explain: what mattered in the window the model heard
            sal = pred.arrays["features_saliency"]
            overlays["spectrogram"] = overlay_on_spectrogram(ax_spec, sal, params)
            ax_spec.set_title(
                f"{ax_spec.get_title()}: what mattered ({_method(pred)})", fontsize=10
            )
        top, p = _top(pred.probabilities)
        n = pred.details.get("windows", 1)
        bars["audio"] = plot_probabilities(
            ax_bars,
            pred.probabilities,
            title=f"Speech model: {top} ({p:.0%})"
            + (_learned(pred) or (f"\nmean of {n} windows" if n > 1 else "")),
            color=SPEECH_COLOR,
        )

    @staticmethod
    def _spectrogram(fig: Figure, ax: Axes, pred: Prediction, params: FeatureParams) -> None:
        name = "Log-mel spectrogram" if params.kind == "logmel" else "MFCCs"
        first = " of the first window" if pred.details.get("windows", 1) > 1 else ""
        image = plot_spectrogram(
            ax, pred.arrays["features"], params, title=f"{name}{first} (what the model heard)"
        )
        bar = fig.colorbar(image, ax=ax, pad=0.01, fraction=0.05)
        bar.set_label("dB" if params.kind == "logmel" else "value", fontsize=8)
        bar.ax.tick_params(labelsize=7)

    def _video(
        self, fig: Figure, pred: Prediction, bars: dict, timeline: dict, overlays: dict | None
    ) -> None:
        frames_info = pred.details["frames"]
        # Explain: each sampled face the model saw with its saliency (faces are those of
        # the frames with one found, in order).
        face_of = np.cumsum([f["face_found"] for f in frames_info]) - 1
        shown = np.unique(np.linspace(0, len(frames_info) - 1, MAX_FRAMES).round().astype(int))
        outer = fig.add_gridspec(3, 1, height_ratios=(1.0, 1.0, 1.8))
        row = outer[0].subgridspec(1, len(shown))
        for k, i in enumerate(shown):
            ax = fig.add_subplot(row[0, k])
            info = frames_info[i]
            if overlays is not None and info["face_found"]:
                j = face_of[i]
                face, sal = pred.arrays["faces"][j], pred.arrays["faces_saliency"][j]
                overlays[f"frame {i}"] = plot_face_saliency(ax, face, sal)
            else:
                frame = _around(pred.arrays["frames"][i], info["box"])
                ax.imshow(frame, cmap="gray", vmin=0, vmax=255)
            probs = info["probabilities"]
            said = _top(probs)[0] if probs else "no face"
            ax.set_title(
                f"{info['time']:.1f} s\n{said}",
                fontsize=8,
                color="black" if probs else "0.45",
            )
            _bare(ax)

        ax_time = fig.add_subplot(outer[1])
        face = pred.face
        timeline.update(
            plot_timeline(
                ax_time,
                np.array([f["time"] for f in frames_info]),
                [f["probabilities"] for f in frames_info],
                list(face.mean),
            )
        )
        ax_time.set_title(
            "Face model, frame by frame"
            + (f" (faces: what mattered, {_method(pred)})" if overlays is not None else ""),
            fontsize=10,
        )

        if pred.speech is None:
            self._face_alone(fig, outer[2], pred, bars)
            return
        # Left to right: the two models, then what fusing them gives (the headline).
        # With a demo-trained model: the starter models' fused answer as a fourth chart.
        bottom = outer[2].subgridspec(1, 4 if pred.starter is not None else 3)
        ax_face, ax_speech, ax_fused = (fig.add_subplot(bottom[0, i]) for i in range(3))
        if pred.starter is not None:
            self._starter_bars(fig.add_subplot(bottom[0, 3]), pred, bars)
        top, p = _top(face.mean)
        bars["face"] = plot_probabilities(
            ax_face,
            face.mean,
            title=f"Face: {top} ({p:.0%})\nmean of {face.frames_with_face} frames",
            color=FACE_COLOR,
        )
        speech = pred.speech
        s_top, s_p = _top(speech.probabilities)
        bars["speech"] = plot_probabilities(
            ax_speech,
            speech.probabilities,
            title=f"Speech: {s_top} ({s_p:.0%})\n{speech.seconds:.1f} s of sound",
            color=SPEECH_COLOR,
        )
        fused = pred.fused
        f_top, f_p = _top(fused.probabilities)
        bars["fused"] = plot_probabilities(
            ax_fused,
            fused.probabilities,
            title=f"Fused: {f_top} ({f_p:.0%})" + (_learned(pred) or "\nface + speech"),
            color=FUSED_COLOR,
        )
        ax_fused.title.set_fontweight("bold")
        how = fused.method if fused.model else "average of face and speech\n(no fusion model yet)"
        if fused.note == PAIRED_NOTE:  # class-paired training data: always said
            how += f"\n{PAIRED_NOTE}"
        ax_fused.set_xlabel(how, fontsize=8, color="0.3")
