"""The Data tab: class distributions of both data sets, sample faces per emotion, and the
waveform and log-mel spectrogram of a recording chosen from the speech data, which the
Play button beside the chooser plays."""

from __future__ import annotations

import tkinter as tk
from tkinter import ttk

from datasets.audio import FeatureParams, compute_features, read_audio
from datasets.labels import FER_CLASSES
from training.plots import plot_class_counts, plot_face_samples, plot_spectrogram, plot_waveform

from .charts import ChartCanvas, ChartRenderer
from .play_button import PlayButton

INTENSITY = {1: "normal", 2: "strong"}


def recording_label(clip) -> str:
    """'Actor 01 · happy (strong) · 03-01-03-02-01-01-01.wav' for the chooser."""
    return (
        f"Actor {clip.actor:02d} · {clip.emotion_name} ({INTENSITY.get(clip.intensity, '?')}) "
        f"· {clip.path.name}"
    )


class DataView(ttk.Frame):
    """Charts of the loaded data. Methods run on the Tk thread; the figure is changed only
    inside ``chart.update`` functions (the renderer thread)."""

    def __init__(self, master: tk.Misc, renderer: ChartRenderer) -> None:
        super().__init__(master)
        bar = ttk.Frame(self, padding=(8, 4))
        bar.pack(side=tk.TOP, fill=tk.X)
        ttk.Label(bar, text="Recording:").pack(side=tk.LEFT)
        self.recording = ttk.Combobox(bar, state="readonly", width=64)
        self.recording.pack(side=tk.LEFT, padx=4)
        self.recording.bind("<<ComboboxSelected>>", lambda _e: self.show_recording())
        self.play_button = PlayButton(bar, self.chosen_path)
        self.play_button.pack(side=tk.LEFT, padx=4)
        self.clips: list = []
        self.params = FeatureParams()

        self.chart = ChartCanvas(self, renderer)
        self.chart.pack(fill=tk.BOTH, expand=True)
        self.fer_bars = self.ravdess_bars = self.spectrogram = None
        self.chart.update(self._layout)

    def _layout(self, fig) -> None:
        grid = fig.add_gridspec(3, 2, width_ratios=(1.25, 1), height_ratios=(1, 1, 0.8))
        self.ax_fer = fig.add_subplot(grid[0, 0])
        self.ax_ravdess = fig.add_subplot(grid[1, 0])
        self.ax_faces = fig.add_subplot(grid[:2, 1])
        self.ax_wave = fig.add_subplot(grid[2, 0])
        self.ax_spec = fig.add_subplot(grid[2, 1])
        for ax, text in (
            (self.ax_fer, "faces"),
            (self.ax_ravdess, "speech"),
            (self.ax_faces, "sample faces"),
            (self.ax_wave, "a recording"),
        ):
            ax.text(0.5, 0.5, f"loading {text}…", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        self.ax_spec.set_axis_off()

    def show(self, loaded: dict) -> None:
        """Draw the summary made by ``state.load_data`` (info dicts and sample faces)."""
        self.clips = sorted(loaded.get("speech_files", []), key=lambda c: (c.actor, c.path.name))
        self.recording["values"] = [recording_label(c) for c in self.clips]
        self.play_button.state(["!disabled" if self.clips else "disabled"])
        self.chart.update(lambda fig: self._draw_summary(loaded))
        if self.clips:
            first = next((i for i, c in enumerate(self.clips) if c.emotion_name == "happy"), 0)
            self.recording.current(first)
            self.show_recording()
        else:
            self.play_button.stop()
            self.recording.set("")
            self.chart.update(self._no_recording)

    def _draw_summary(self, loaded: dict) -> None:
        """Renderer thread."""
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
        for ax in (self.ax_fer, self.ax_ravdess):
            ax.set_ylabel("items", fontsize=8)
            ax.tick_params(axis="y", labelsize=8)
        plot_face_samples(
            self.ax_faces, loaded["images"], loaded["labels"], FER_CLASSES, per_class=6
        )
        self.ax_faces.set_title("Sample faces per emotion", fontsize=10)

    def _no_recording(self, fig) -> None:
        for ax in (self.ax_wave, self.ax_spec):
            ax.clear()
            ax.set_axis_off()
        self.ax_wave.text(0.5, 0.5, "no speech recordings", ha="center", va="center")

    def chosen_path(self):
        """The recording chosen in the list (what Play plays), or None."""
        i = self.recording.current()
        return self.clips[i].path if 0 <= i < len(self.clips) else None

    def show_recording(self) -> None:
        """Waveform and log-mel spectrogram of the recording chosen in the list.

        The file is read on the renderer thread too; a broken one raises
        ``WorkbenchError``, which the window shows as a dialog. The one playing before, if
        any, stops: Play now means the recording shown.
        """
        self.play_button.stop()
        clip = self.clips[self.recording.current()]
        params = self.params

        def draw(fig) -> None:
            for ax in (self.ax_wave, self.ax_spec):
                ax.clear()
                ax.set_axis_on()
            y = read_audio(clip.path, params.sample_rate)
            plot_waveform(self.ax_wave, y, params.sample_rate, title=f"{clip.path.name}: waveform")
            features = compute_features(y[None], params)[0]  # (n_mels, n_frames)
            self.spectrogram = plot_spectrogram(
                self.ax_spec,
                features,
                params,
                title=f"log-mel spectrogram ({clip.emotion_name}): the speech CNN's input",
            )

        self.chart.update(draw)
