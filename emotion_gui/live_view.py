"""The Live tab: a camera and a microphone, answered as they arrive.

Top: the sources (a camera number or a video file in its place; a microphone, a recording
in its place, or none), Start and Stop. Left: the picture with the face box and its top
emotion. Right: the answers over the last 10 s as strips (face, speech, fused; one row per
emotion, brighter is likelier), the level meter, the rolling spectrogram, and the current
speech and fused answers as bars. Below: Record (the last N seconds as MP4, WAV and CSV,
optionally labelled so the folder loads as RAVDESS data) and Play.

Threads: ``training.live.run_live`` runs as the window's "live" job on a worker thread and
hands each update to ``arrived``, which (still on the worker) shrinks and annotates the
picture and keeps the history. The Tk thread only pastes the newest picture every
``PAINT_MS`` and asks the chart renderer for a redraw every ``CHART_MS`` when the last one is
done: bounded work per tick, however fast the camera is.
"""

from __future__ import annotations

import threading
import time
import tkinter as tk
from collections import deque
from pathlib import Path
from tkinter import filedialog, ttk

import cv2
import numpy as np
from PIL import Image, ImageTk

from datasets.errors import WorkbenchError
from datasets.labels import FER_CLASSES, RAVDESS_EMOTIONS
from training.live import SPECTROGRAM_SECONDS, LiveUpdate
from training.recorder import LiveRecorder

from .charts import ChartCanvas, ChartRenderer
from .layout import FlowRow
from .play_button import PlayButton

VIDEO_FILES = ("Video", "*.mp4 *.avi *.mov *.mkv")
AUDIO_FILES = ("Audio", "*.wav *.flac")
PAINT_MS = 40  # the picture: up to 25 times a second
CHART_MS = 400  # the charts: about twice a second, when the renderer is free
STRIP_SECONDS = 10.0
STRIP_BINS = 100  # 0.1 s per column
HOLD_SECONDS = 1.0  # a strip keeps showing an answer this long (speech renews each 0.5 s)
LEVEL_RANGE = (-60.0, 0.0)  # dBFS shown by the meter
RECORD_SECONDS = 10  # Record's default length
RECORD_KEEP = 60  # seconds a session keeps to record from
NOT_LABELLED = "(not labelled)"
NO_MICROPHONE = "none"
DEFAULT_MICROPHONE = "default"
BOX_COLOR = (40, 200, 40)  # BGR


def _top(probabilities: dict[str, float]) -> tuple[str, float]:
    name = max(probabilities, key=probabilities.get)
    return name, probabilities[name]


def parse_camera(text: str) -> str | None:
    """The camera field: a number, a file or URL; blank for none."""
    text = text.strip()
    return text or None


def parse_microphone(text: str) -> str | None:
    """The microphone field: "none", "default", "3: USB mic" (a device) or a file."""
    text = text.strip()
    if not text or text == NO_MICROPHONE:
        return None
    head = text.split(":", 1)[0]
    return head if head.isdigit() else text


# The command line's fixes, as the Live tab's controls say them.
IN_THE_WINDOW = {
    "pass a WAV file with --microphone FILE": "choose a recording with File… beside Microphone",
    "pass a video file with --camera FILE": "choose a video with File… beside Camera",
    "a video file or a stream URL with --camera": "a video file (File…) or a stream URL",
}


def in_window_words(sentence: str) -> str:
    """A live source's error sentence with the window's controls in the fix."""
    for cli, window in IN_THE_WINDOW.items():
        sentence = sentence.replace(cli, window)
    return sentence


def annotate(bgr: np.ndarray, face: dict | None, size: tuple[int, int]) -> Image.Image:
    """The picture to show: scaled to fit ``size`` (w, h), with the face box and its top
    emotion drawn in. Runs on the worker thread."""
    h, w = bgr.shape[:2]
    scale = min(size[0] / w, size[1] / h)
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(bgr, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=shrink)
    if face is not None and face["box"] is not None:
        x, y, bw, bh = (int(v * scale) for v in face["box"])
        cv2.rectangle(small, (x, y), (x + bw, y + bh), BOX_COLOR, 2)
        name, p = _top(face["probabilities"])
        label = f"{name} {p:.0%}"
        cv2.putText(
            small,
            label,
            (x, max(18, y - 6)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.6,
            BOX_COLOR,
            2,
            cv2.LINE_AA,
        )
    return Image.fromarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))


def _strip_title(part: str, history: LiveHistory) -> str:
    """A strip's title: the part's answer now, or why there is none."""
    newest = history.newest()
    answer = newest[part] if newest else None
    if answer is None:
        return f"{part}: —"
    name, p = _top(answer["probabilities"])
    return f"{part}: {name} {p:.0%} now · last {STRIP_SECONDS:.0f} s"


class LiveHistory:
    """The last ``STRIP_SECONDS`` of answers, written by the worker and read by the
    renderer (both under one lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: deque = deque()
        self.spectrogram: np.ndarray | None = None
        self.level: float | None = None
        self.method: str | None = None
        self.classes: dict[str, tuple[str, ...]] = {}  # part → its model's emotions

    def add(self, update: LiveUpdate) -> None:
        with self.lock:
            self.items.append(update.to_dict())
            while self.items and self.items[0]["time"] < update.time - STRIP_SECONDS:
                self.items.popleft()
            if update.spectrogram is not None:
                self.spectrogram = update.spectrogram
            if update.level_db is not None:
                self.level = update.level_db
            if update.fused is not None:
                self.method = update.fused["method"]
            for part in ("face", "speech", "fused"):
                if (answer := getattr(update, part)) is not None:
                    self.classes[part] = tuple(answer["probabilities"])

    def strip(self, part: str, classes: tuple[str, ...]) -> np.ndarray:
        """(classes, STRIP_BINS) probabilities of ``part`` over the last seconds: each bin
        holds the newest answer at or before it (for up to ``HOLD_SECONDS``), 0 without."""
        with self.lock:
            items = list(self.items)
        out = np.zeros((len(classes), STRIP_BINS), np.float32)
        if not items:
            return out
        end, width = items[-1]["time"], STRIP_SECONDS / STRIP_BINS
        answers = [(i["time"], i[part]) for i in items if i[part] is not None]
        k, current, since = 0, None, -np.inf
        for col in range(STRIP_BINS):
            at = end - (STRIP_BINS - 1 - col) * width
            while k < len(answers) and answers[k][0] <= at + 1e-9:
                since, current = answers[k][0], answers[k][1]["probabilities"]
                k += 1
            if current is not None and at - since <= HOLD_SECONDS:
                out[:, col] = [current.get(c, 0.0) for c in classes]
        return out

    def newest(self) -> dict | None:
        with self.lock:
            return self.items[-1] if self.items else None


class LiveView(ttk.Frame):
    """The Live tab. ``start``/``stop`` are the window's (they run the "live" job); this
    view draws what the job hands to ``arrived``. Tk thread unless said otherwise."""

    def __init__(self, master: tk.Misc, renderer: ChartRenderer, window) -> None:
        super().__init__(master)
        self.window = window
        self.history = LiveHistory()
        self.picture: Image.Image | None = None  # the newest annotated frame (worker writes)
        self.painted = 0  # pictures pasted (tests wait on it)
        self.frames = 0  # updates arrived in this session
        self.drawn = 0  # ... when the charts were last drawn
        self.arrivals: deque = deque()  # wall times of the last 2 s of analysed frames
        self.size = (640, 360)  # the picture area, read by the worker
        self.photo: ImageTk.PhotoImage | None = None
        self.recorder: LiveRecorder | None = None  # what Record saves from (per session)
        self.record_folder: str | None = None
        self._build_sources()
        self._build_body(renderer)
        self._build_record()
        self.after_id = self.after(PAINT_MS, self._paint)
        self.chart_at = 0

    # ---------------------------------------------------------------- layout

    def _build_sources(self) -> None:
        """The camera, the microphone, Start and Stop, wrapping onto two lines when the tab
        is narrow (a projector, larger text); then the answers, wrapped to the tab's width."""
        bar = FlowRow(self)
        bar.pack(side=tk.TOP, fill=tk.X, padx=8, pady=4)
        camera = ttk.Frame(bar)
        ttk.Label(camera, text="Camera:").pack(side=tk.LEFT)
        ttk.Button(camera, text="File…", width=5, command=self._pick_video).pack(side=tk.RIGHT)
        self.camera = ttk.Combobox(camera, values=("0", "1", "2"), width=16)
        self.camera.set("0")
        self.camera.pack(side=tk.LEFT, fill=tk.X, expand=True, padx=(2, 0))
        bar.add(camera, stretch=True)
        microphone = ttk.Frame(bar)
        ttk.Label(microphone, text="Microphone:").pack(side=tk.LEFT)
        ttk.Button(microphone, text="File…", width=5, command=self._pick_recording).pack(
            side=tk.RIGHT
        )
        self.microphone = ttk.Combobox(microphone, width=16, postcommand=self._list_microphones)
        self.microphone.set(DEFAULT_MICROPHONE)
        self.microphone.pack(side=tk.LEFT, fill=tk.X, expand=True, padx=(2, 0))
        bar.add(microphone, stretch=True)
        buttons = ttk.Frame(bar)
        self.start_button = ttk.Button(buttons, text="Start", command=self.start)
        self.start_button.pack(side=tk.LEFT, padx=(0, 2))
        self.stop_button = ttk.Button(buttons, text="Stop", command=self.stop)
        self.stop_button.pack(side=tk.LEFT)
        self.stop_button.state(["disabled"])
        bar.add(buttons)
        self.info_var = tk.StringVar(value="Press Start to see and hear the models live.")
        info = ttk.Label(self, textvariable=self.info_var, anchor="w", padding=(8, 0))
        info.pack(side=tk.TOP, fill=tk.X)
        info.bind("<Configure>", lambda e: info.configure(wraplength=max(e.width - 16, 100)))

    def _build_body(self, renderer: ChartRenderer) -> None:
        body = self.body = ttk.Frame(self)
        body.pack(fill=tk.BOTH, expand=True)
        body.columnconfigure(0, weight=1, uniform="live")
        body.columnconfigure(1, weight=1, uniform="live")
        body.rowconfigure(0, weight=1)
        self.canvas = tk.Canvas(body, background="#202020", highlightthickness=0)
        self.canvas.grid(row=0, column=0, sticky="nsew", padx=(8, 4), pady=4)
        self.canvas.bind("<Configure>", self._resized)
        self._item = self.canvas.create_image(0, 0, anchor="center")
        self.chart = ChartCanvas(body, renderer)
        self.chart.grid(row=0, column=1, sticky="nsew", padx=(4, 8), pady=4)
        self.chart.update(self._layout)

    def _build_record(self) -> None:
        """Record the last seconds (labelled: RAVDESS names, so the folder loads as data)."""
        bar = FlowRow(self)
        bar.pack(side=tk.BOTTOM, fill=tk.X, before=self.body, padx=8, pady=(2, 6))
        what = ttk.Frame(bar)
        ttk.Label(what, text="Record the last").pack(side=tk.LEFT)
        self.record_seconds = ttk.Spinbox(what, from_=1, to=RECORD_KEEP, width=4)
        self.record_seconds.set(str(RECORD_SECONDS))
        self.record_seconds.pack(side=tk.LEFT, padx=2)
        ttk.Label(what, text="s,").pack(side=tk.LEFT)
        bar.add(what)
        label = ttk.Frame(bar)
        ttk.Label(label, text="acted as").pack(side=tk.LEFT, padx=(2, 0))
        self.record_emotion = ttk.Combobox(
            label, state="readonly", width=11, values=(NOT_LABELLED, *RAVDESS_EMOTIONS)
        )
        self.record_emotion.set(NOT_LABELLED)
        self.record_emotion.pack(side=tk.LEFT, padx=2)
        ttk.Label(label, text="by actor").pack(side=tk.LEFT)
        self.record_actor = ttk.Spinbox(label, from_=1, to=99, width=3)
        self.record_actor.set("1")
        self.record_actor.pack(side=tk.LEFT, padx=2)
        bar.add(label)
        buttons = ttk.Frame(bar)
        self.record_button = ttk.Button(buttons, text="Record…", command=self._record)
        self.record_button.pack(side=tk.LEFT, padx=(0, 2))
        self.play_button = PlayButton(buttons, self._recording)
        self.play_button.pack(side=tk.LEFT)
        self.play_button.state(["disabled"])
        bar.add(buttons)
        self.saved: dict | None = None  # the last recording saved

    def record_request(self) -> dict:
        """What Record saves: the seconds and, when an emotion is chosen, the labels.
        Raises ``WorkbenchError`` for a value that is not a number."""
        try:
            seconds = float(self.record_seconds.get())
        except ValueError:
            raise WorkbenchError(
                f"Record length {self.record_seconds.get()!r} is not a number of seconds; "
                f"enter 1 to {RECORD_KEEP}."
            ) from None
        emotion = self.record_emotion.get()
        if emotion == NOT_LABELLED:
            return {"seconds": seconds}
        return {"seconds": seconds, "emotion": emotion, "actor": self.record_actor.get()}

    def _record(self) -> None:
        if self.recorder is None:
            self.window.error("Nothing to record yet; press Start, then Record.")
            return
        folder = filedialog.askdirectory(
            title="Folder to save the recording in", initialdir=self.record_folder or None
        )
        if folder:
            self.record_folder = folder
            self.window.save_recording(Path(folder))

    def _recording(self) -> Path | None:
        """What Play plays: the last recording's WAV, else its MP4's sound."""
        if self.saved is None:
            return None
        return self.saved.get("wav") or self.saved.get("mp4")

    def recorded(self, saved: dict) -> None:
        """A recording was saved: Play plays it."""
        self.saved = saved
        self.play_button.state(["!disabled"])

    def _layout(self, fig) -> None:
        """The charts' axes, made once; later draws only change their data (renderer)."""
        grid = fig.add_gridspec(5, 2, height_ratios=(1, 1, 1, 0.35, 1.2), width_ratios=(1, 1))
        self.strips = {}
        for row, part in enumerate(("face", "speech", "fused")):
            ax = fig.add_subplot(grid[row, :])
            image = ax.imshow(
                np.zeros((len(FER_CLASSES), STRIP_BINS)),
                aspect="auto",
                cmap="viridis",
                vmin=0.0,
                vmax=1.0,
                interpolation="nearest",
                extent=(-STRIP_SECONDS, 0.0, len(FER_CLASSES) - 0.5, -0.5),
            )
            ax.set_yticks(range(len(FER_CLASSES)), FER_CLASSES, fontsize=7)
            ax.tick_params(axis="x", labelsize=7)
            ax.set_title(f"{part}: last {STRIP_SECONDS:.0f} s", fontsize=9, loc="left")
            self.strips[part] = (ax, image)
        self.ax_level = fig.add_subplot(grid[3, :])
        self.level_bar = self.ax_level.barh([0], [0.0], left=LEVEL_RANGE[0], color="C2")[0]
        self.ax_level.set_xlim(*LEVEL_RANGE)
        self.ax_level.set_yticks([])
        self.ax_level.tick_params(axis="x", labelsize=7)
        self.ax_level.set_title("microphone level (dBFS)", fontsize=9, loc="left")
        self.ax_spec = fig.add_subplot(grid[4, :])
        self.spec_image = self.ax_spec.imshow(
            np.full((64, 10), -100.0),
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=-100.0,
            vmax=0.0,
            extent=(-SPECTROGRAM_SECONDS, 0.0, 0.0, 64.0),
        )
        self.ax_spec.set_title("spectrogram, last 10 s (log-mel dB)", fontsize=9, loc="left")
        self.ax_spec.tick_params(labelsize=7)

    # ---------------------------------------------------------------- sources

    def _pick(self, box: ttk.Combobox, title: str, kind: tuple[str, str]) -> None:
        """A file chosen in a dialog goes into ``box``, in the device's place."""
        chosen = filedialog.askopenfilename(title=title, filetypes=[kind, ("All files", "*")])
        if chosen:
            box.set(chosen)

    def _pick_video(self) -> None:
        self._pick(self.camera, "A video file in the camera's place", VIDEO_FILES)

    def _pick_recording(self) -> None:
        self._pick(self.microphone, "A recording in the microphone's place", AUDIO_FILES)

    def _list_microphones(self) -> None:
        from training.audio_io import input_devices

        found = [f"{i}: {name}" for i, name in input_devices()]
        self.microphone.configure(values=(NO_MICROPHONE, DEFAULT_MICROPHONE, *found))

    def sources(self) -> tuple[str | None, str | None]:
        return parse_camera(self.camera.get()), parse_microphone(self.microphone.get())

    # ---------------------------------------------------------------- session

    def start(self) -> None:
        camera, microphone = self.sources()
        self.window.start_live(camera, microphone)

    def stop(self) -> None:
        self.window.stop_live()

    def new_recorder(self) -> LiveRecorder:
        """A session's recorder (the last session's stays until the next one starts)."""
        self.recorder = LiveRecorder(keep_seconds=RECORD_KEEP)
        return self.recorder

    def started(self) -> None:
        """A session began: clear the last one's history."""
        self.history = LiveHistory()
        self.picture, self.frames, self.drawn = None, 0, 0
        self.arrivals = deque()  # wall times of the last 2 s of analysed frames
        self.start_button.state(["disabled"])
        self.stop_button.state(["!disabled"])
        self.info_var.set("Starting: opening the sources and loading the models…")

    def finished(self, summary: dict | None) -> None:
        self.start_button.state(["!disabled"])
        self.stop_button.state(["disabled"])
        if self.history.newest() is not None and self.drawn != self.frames:
            self.drawn = self.frames  # the last answers drawn, then no more redraws
            self._redraw()
        if summary is not None:
            last = self._answers()
            self.info_var.set(
                f"Stopped: {summary['frames']} frames analysed in {summary['seconds']} s "
                f"({summary['fps']} frames/s)" + (f"; last {last}." if last else ".")
            )

    def arrived(self, update: LiveUpdate) -> None:
        """One update of the session. Worker thread: the picture is made here."""
        self.history.add(update)
        self.frames += 1
        if update.frame is not None:
            now = time.perf_counter()
            self.arrivals.append(now)
            while self.arrivals[0] < now - 2.0:
                self.arrivals.popleft()
        if update.frame is not None:
            self.picture = annotate(update.frame, update.face, self.size)

    # ---------------------------------------------------------------- drawing

    def _resized(self, event: tk.Event) -> None:
        self.size = (max(2, event.width), max(2, event.height))
        self.canvas.coords(self._item, event.width // 2, event.height // 2)

    def _paint(self) -> None:
        """Paste the newest picture and, now and then, redraw the charts. Tk thread."""
        try:
            picture, self.picture = self.picture, None
            if picture is not None:
                if self.photo is not None and (self.photo.width(), self.photo.height()) == (
                    picture.size
                ):
                    self.photo.paste(picture)
                else:
                    self.photo = ImageTk.PhotoImage(picture, master=self.canvas)
                    self.canvas.itemconfigure(self._item, image=self.photo)
                self.painted += 1
            self.chart_at += PAINT_MS
            # Only what changed: a finished session's last view stays without redrawing.
            if self.history.newest() is not None and self.drawn != self.frames:
                self.info_var.set(self._info())
                if self.chart_at >= CHART_MS:  # a stale request is skipped by the renderer
                    self.chart_at = 0
                    self.drawn = self.frames
                    self._redraw()
        finally:
            self.after_id = self.after(PAINT_MS, self._paint)

    def _answers(self) -> str:
        """The newest answer of each part, as "face happy 80% · speech …" ("" without)."""
        newest, parts = self.history.newest(), []
        for part in ("face", "speech", "fused"):
            if newest is not None and (answer := newest[part]) is not None:
                name, p = _top(answer["probabilities"])
                parts.append(f"{part} {name} {p:.0%}")
        return " · ".join(parts)

    def _info(self) -> str:
        newest = self.history.newest()
        answers = self._answers()
        parts = [answers] if answers else []
        if self.history.method:
            parts.append(f"fused by the {self.history.method}")
        if len(self.arrivals) > 1:
            span = self.arrivals[-1] - self.arrivals[0]
            parts.append(f"{(len(self.arrivals) - 1) / max(span, 1e-3):.0f} frames/s")
        parts.append(f"{newest['time']:.1f} s")
        return " · ".join(parts)

    def _redraw(self) -> None:
        history = self.history

        def draw(fig) -> None:
            for part, (ax, image) in self.strips.items():
                classes = history.classes.get(part, FER_CLASSES)
                if [t.get_text() for t in ax.get_yticklabels()] != list(classes):
                    ax.set_yticks(range(len(classes)), classes, fontsize=7)
                    image.set_extent((-STRIP_SECONDS, 0.0, len(classes) - 0.5, -0.5))
                image.set_data(history.strip(part, classes))
                ax.set_title(_strip_title(part, history), fontsize=9, loc="left")
            level = history.level if history.level is not None else LEVEL_RANGE[0]
            level = min(max(level, LEVEL_RANGE[0]), LEVEL_RANGE[1])
            self.level_bar.set_width(level - LEVEL_RANGE[0])
            self.level_bar.set_color("C3" if level > -3 else "C1" if level > -12 else "C2")
            if history.spectrogram is not None:
                self.spec_image.set_data(history.spectrogram)
                self.spec_image.set_extent(
                    (-SPECTROGRAM_SECONDS, 0.0, 0.0, float(history.spectrogram.shape[0]))
                )

        self.chart.update(draw)

    def close(self) -> None:
        try:
            self.after_cancel(self.after_id)
        except tk.TclError:
            pass
