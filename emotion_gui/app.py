"""The Emotion Workbench window.

Left: actions grouped by task (Data, Train, Results, Predict) and the training settings.
Right: tabs of charts. Top: a banner naming the data in use (and saying so when it is the
synthetic demo). Bottom: status text and a progress bar.

Long work (loading data, training, predicting) runs as a job on a worker thread; the Tk
thread only drains the jobs' event queue with ``after()``. The window adds no logic of its
own: it calls the same ``training`` functions as the command line.
"""

from __future__ import annotations

import gc
import logging
import queue
import sys
import tkinter as tk
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from datasets import paths
from datasets.av import av_clips
from datasets.errors import NoFaceError, WorkbenchError, describe
from datasets.fer2013 import load_fer2013
from datasets.info import detect, fer_info, ravdess_info
from datasets.labels import RAVDESS_EMOTIONS
from datasets.ravdess import speech_audio
from datasets.sources import DataSources, default_sources, demo_sources, ensure_demo
from training.device import DEVICE_CHOICES, available_devices
from training.fit import warm_up
from training.fusion_data import PAIRING_NOTES
from training.predict import (
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    compare_with_starter,
    predict_audio,
    predict_image,
    predict_video,
)
from training.runs import find_runs, load_run, load_starter
from training.train import TrainOptions

from .charts import ChartRenderer
from .compare_view import CompareView
from .data_view import DataView
from .jobs import BackgroundJob, JobEvent, TrainingJob
from .predict_view import PredictView
from .results_view import ResultsView, run_label
from .training_view import FUSION_DESIGNS, KIND_NAMES, PAIRING_NAMES, TrainingView

log = logging.getLogger(__name__)
POLL_MS = 50
EVENTS_PER_TICK = 50
JOB_WORDS = {"data": "Data is still loading", "predict": "A prediction is still running"}
FAILURE_WORDS = {
    "data": "Loading the data failed",
    "train": "Training stopped with an error",
    "predict": "The prediction failed",
}
# Tk's entry fields use these Ctrl keys for editing; there they stay editing keys.
EDITING_KEYS = {"<Control-d>", "<Control-e>", "<Control-i>", "<Control-u>"}
PREDICT_KINDS = ("face", "speech", "fusion")  # the model kinds predictions use
# What each kind's model predicts, for the status line when a run becomes the one in use.
PREDICTS = {
    "face": "photos and video frames",
    "speech": "recordings and a video's sound",
    "fusion": "videos (the fused answer)",
}
# Under the pairing choice: what the pairs are (class pairs must always say so).
PAIRING_SHORT = {"takes": "the same person at the same moment", "class": PAIRING_NOTES["class"]}


def load_data(sources: DataSources, emit) -> dict:
    """Summaries of both data sets plus the face images for the sample grid.

    Runs on a worker thread. Generates the demo data first when it is in use and missing.
    Loading is cached, so the second time it is quick.
    """
    warm_up()  # once: the first training would otherwise spend a second importing
    if sources.fer_is_demo or sources.ravdess_is_demo:
        emit("Checking the built-in demo data…", 0.0)
        # The first time, generating it takes about 20 s: show its own progress.
        ensure_demo(progress=emit)
    fer = load_fer2013(  # refuses a folder that is not FER-2013, naming it
        sources.fer,
        progress=lambda done, total: emit(
            f"Reading faces: {done:,} of {total:,}", 0.05 + 0.8 * done / total
        ),
    )
    emit("Scanning speech recordings…", 0.9)
    kind, scan = detect(sources.ravdess)
    if kind != "ravdess":
        raise WorkbenchError(
            f"{describe(sources.ravdess)} holds FER-2013 faces, not RAVDESS recordings; "
            "choose the RAVDESS folder."
        )
    speech = speech_audio(scan.clips)
    return {
        "sources": sources,
        "fer_info": fer_info(fer),
        "ravdess_info": ravdess_info(scan),
        # The speech model hears audio-only speech files; clips are counted apart.
        "speech_counts": {e: sum(c.emotion_name == e for c in speech) for e in RAVDESS_EMOTIONS},
        "speech_files": speech,
        "n_clips": sum(c.modality in (1, 2) for c in scan.clips),
        # Speech video clips: fusion can pair them with their take's sound.
        "n_av_clips": len(av_clips(scan)),
        "images": fer.images,
        "labels": fer.labels,
    }


def parse_settings(epochs: str, batch_size: str, lr: str) -> dict:
    """The Settings entries as ``TrainOptions`` fields; "auto" (or blank) keeps the preset's
    value. Raises ``WorkbenchError`` with one sentence for a bad entry."""

    def number(text: str, cast, name: str, example: str, low: float):
        text = text.strip().lower()
        if text in ("", "auto"):
            return None
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not value >= low or (cast is float and value >= 10):
            raise WorkbenchError(
                f"{name} must be {example}, or auto for the preset's value; got {text!r}."
            )
        return value

    return {
        "epochs": number(epochs, int, "Epochs", "a whole number such as 10", 1),
        "batch_size": number(batch_size, int, "Batch size", "a whole number of 2 or more", 2),
        "lr": number(lr, float, "Learning rate", "a small positive number such as 0.001", 1e-7),
    }


def accelerator(key: str | None) -> str:
    """What a menu shows for a Tk key sequence: "<Control-o>" → "Ctrl+O", "<F5>" → "F5"."""
    if not key:
        return ""
    name = key.strip("<>").replace("Control-", "Ctrl+").replace("Escape", "Esc")
    return name[:-1] + name[-1].upper() if name.startswith("Ctrl+") else name


class WorkbenchApp:
    """The main window. Every method runs on the Tk thread unless its docstring says otherwise."""

    def __init__(self, root: tk.Tk, sources: DataSources | None = None) -> None:
        self.root = root
        self.requested: DataSources | None = None  # the data asked for last (may have failed)
        self.loaded: dict | None = None
        self.events: queue.Queue[JobEvent] = queue.Queue()
        self.jobs: dict[str, BackgroundJob] = {}  # running: until their last event is handled
        self.frozen = False  # gc.freeze done (after the first data load)
        self.runs: list[dict] = []  # finished runs shown in Results and Compare, oldest first
        self.models: dict[str, Path] = {}  # model per kind chosen by training or Open run…
        self.trained: list[Path] = []  # run folders trained in this window, oldest first
        self.closing = False

        root.title("Emotion Workbench")
        # Fits a 1280x800 screen once the title bar, menu bar and a desktop panel are counted.
        root.geometry("1240x720")
        root.minsize(1000, 700)  # below 700 px the Predict buttons would be cut off
        root.report_callback_exception = self._report_tk_error
        root.protocol("WM_DELETE_WINDOW", self.close)
        self._build()
        self._after_id = root.after(POLL_MS, self._poll)
        self._load_known_runs()
        self.use_sources(sources or default_sources())

    # ------------------------------------------------------------- layout

    def _build(self) -> None:
        self.banner_var = tk.StringVar(value="Data: preparing…")
        banner = ttk.Label(
            self.root,
            textvariable=self.banner_var,
            anchor="w",
            padding=(10, 5),
            font=("TkDefaultFont", 11, "bold"),
        )
        banner.pack(side=tk.TOP, fill=tk.X)

        status = ttk.Frame(self.root, padding=(8, 3))
        status.pack(side=tk.BOTTOM, fill=tk.X)
        self.status_var = tk.StringVar(value="Ready")
        ttk.Label(status, textvariable=self.status_var, anchor="w").pack(
            side=tk.LEFT, fill=tk.X, expand=True
        )
        self.progress = ttk.Progressbar(status, length=240, maximum=1.0)
        self.progress.pack(side=tk.RIGHT)

        body = ttk.Frame(self.root)
        body.pack(fill=tk.BOTH, expand=True)
        side = ttk.Frame(body, padding=(8, 0, 6, 4))
        side.pack(side=tk.LEFT, fill=tk.Y)
        self.buttons: dict[str, ttk.Button] = {}

        # Slim buttons: all four groups and the settings fit a 700 px tall window.
        ttk.Style(self.root).configure("Side.TButton", padding=(4, 0))

        def group(title: str, items) -> ttk.LabelFrame:
            box = ttk.LabelFrame(side, text=title, padding=(6, 0, 6, 3))
            box.pack(fill=tk.X, pady=(0, 3))
            for key, text, command in items:
                self.buttons[key] = ttk.Button(
                    box, text=text, command=command, style="Side.TButton"
                )
                self.buttons[key].pack(fill=tk.X, pady=1)
            return box

        group(
            "Data",
            (
                ("fer", "Load FER-2013…", self.ask_fer),
                ("ravdess", "Load RAVDESS…", self.ask_ravdess),
                ("demo", "Use demo data", self.use_demo),
            ),
        )
        train_box = group(
            "Train",
            (
                ("train_face", "Train Facial CNN", lambda: self.train("face")),
                ("train_speech", "Train Speech CNN", lambda: self.train("speech")),
                ("train_fusion", "Train Fusion Model", lambda: self.train("fusion")),
                ("stop", "Stop", self.stop_training),
            ),
        )
        self.buttons["stop"].state(["disabled"])
        self._build_settings(train_box)
        group(
            "Results",
            (
                ("confusion", "Confusion Matrices", self.show_confusion),
                ("compare", "Accuracy Comparison Graph", self.show_comparison),
                ("open_run", "Open run…", self.ask_run),
            ),
        )
        group(
            "Predict",
            (
                ("predict_image", "Predict Image…", self.ask_image),
                ("predict_audio", "Predict Audio…", self.ask_audio),
                ("predict_video", "Predict Video…", self.ask_video),
            ),
        )

        self.tabs = ttk.Notebook(body)
        self.tabs.pack(side=tk.RIGHT, fill=tk.BOTH, expand=True, padx=(0, 8), pady=(0, 4))
        # Charts are drawn on their own thread (charts.py): a redraw never freezes the window.
        self.renderer = ChartRenderer(self.root, on_error=self._chart_failed)
        self.data_view = DataView(self.tabs, self.renderer)
        self.training_view = TrainingView(self.tabs, self.renderer)
        self.results_view = ResultsView(self.tabs, self.renderer, on_choose=self._run_chosen)
        self.compare_view = CompareView(self.tabs, self.renderer)
        self.predict_view = PredictView(self.tabs, self.renderer)
        for view, text in (
            (self.data_view, "Data"),
            (self.training_view, "Training"),
            (self.results_view, "Results"),
            (self.compare_view, "Compare"),
            (self.predict_view, "Predict"),
        ):
            self.tabs.add(view, text=text)
        self._build_menu()

    def _build_settings(self, box: ttk.Frame) -> None:
        grid = ttk.Frame(box)
        grid.pack(fill=tk.X, pady=(4, 0))
        self.preset_var = tk.StringVar(value="quick")
        self.epochs_var = tk.StringVar(value="auto")
        self.batch_var = tk.StringVar(value="auto")
        self.lr_var = tk.StringVar(value="auto")
        self.device_var = tk.StringVar(value="auto")
        rows = (
            ("Preset", ttk.Combobox(grid, textvariable=self.preset_var, values=("quick", "full"),
                                    state="readonly", width=9)),
            ("Epochs", ttk.Spinbox(grid, textvariable=self.epochs_var, width=9,
                                   values=("auto", *range(1, 201)))),
            ("Batch size", ttk.Combobox(grid, textvariable=self.batch_var, width=9,
                                        values=("auto", 8, 16, 32, 64, 128, 256))),
            ("Learning rate", ttk.Combobox(grid, textvariable=self.lr_var, width=9,
                                           values=("auto", "0.0003", "0.001", "0.002", "0.003", "0.01"))),
        )  # fmt: skip
        for r, (label, widget) in enumerate(rows):
            ttk.Label(grid, text=label).grid(row=r, column=0, sticky="w", pady=1)
            widget.grid(row=r, column=1, sticky="e", pady=1)
        grid.columnconfigure(1, weight=1)
        devices = ttk.Frame(box)
        devices.pack(fill=tk.X, pady=(2, 0))
        ttk.Label(devices, text="Device").grid(row=0, column=0, sticky="w")
        have = available_devices()
        self.device_buttons = {}
        for i, name in enumerate(DEVICE_CHOICES):
            b = ttk.Radiobutton(devices, text=name, value=name, variable=self.device_var)
            b.grid(row=0, column=1 + i, sticky="e", padx=(4, 0))
            if not have[name]:
                b.state(["disabled"])  # this machine has no such device
            self.device_buttons[name] = b
        self._build_fusion_settings(box)

    def _build_fusion_settings(self, box: ttk.Frame) -> None:
        """What Train Fusion Model trains: the design, the pairs and the starting branches."""
        grid = ttk.Frame(box)
        grid.pack(fill=tk.X, pady=(3, 0))
        self.fusion_var = tk.StringVar(value=FUSION_DESIGNS["concat"])
        self.pairing_var = tk.StringVar(value=PAIRING_NAMES["takes"])
        self.pairing_chosen = False  # the user picked a pairing: a new data load keeps it
        self.pairing_note_var = tk.StringVar(value=PAIRING_SHORT["takes"])
        self.from_models_var = tk.BooleanVar(value=True)
        design = ttk.Combobox(
            grid,
            textvariable=self.fusion_var,
            state="readonly",
            width=21,
            values=list(FUSION_DESIGNS.values()),
        )
        pairing = ttk.Combobox(
            grid,
            textvariable=self.pairing_var,
            state="readonly",
            width=21,
            values=list(PAIRING_NAMES.values()),
        )
        pairing.bind("<<ComboboxSelected>>", lambda _e: self._pairing_picked())
        for r, (label, widget) in enumerate((("Fusion", design), ("Pairs", pairing))):
            ttk.Label(grid, text=label).grid(row=r, column=0, sticky="w", pady=1)
            widget.grid(row=r, column=1, sticky="ew", padx=(6, 0), pady=1)
        grid.columnconfigure(1, weight=1)
        ttk.Label(
            box,
            textvariable=self.pairing_note_var,
            foreground="gray30",
            font=("TkDefaultFont", 8),
            anchor="e",
        ).pack(fill=tk.X)
        ttk.Checkbutton(
            box, text="Start from the face and speech models", variable=self.from_models_var
        ).pack(anchor="w")

    def _build_menu(self) -> None:
        """The menus and their keyboard shortcuts, from one table: a key shown in a menu
        is always the key bound."""
        table = {
            "File": (
                ("Load FER-2013 folder…", "<Control-o>", self.ask_fer),
                ("Load FER-2013 CSV file…", None, self.ask_fer_csv),
                ("Load RAVDESS folder…", "<Control-r>", self.ask_ravdess),
                ("Use demo data", "<Control-d>", self.use_demo),
                None,
                ("Open run…", "<Control-l>", self.ask_run),
                None,
                ("Quit", "<Control-q>", self.close),
            ),
            "Train": (
                ("Train Facial CNN", "<F5>", lambda: self.train("face")),
                ("Train Speech CNN", "<F6>", lambda: self.train("speech")),
                ("Train Fusion Model", "<F7>", lambda: self.train("fusion")),
                ("Stop", "<Escape>", self.stop_training),
            ),
            "Results": (
                ("Confusion Matrices", "<Control-m>", self.show_confusion),
                ("Accuracy Comparison Graph", "<Control-g>", self.show_comparison),
            ),
            "Predict": (
                ("Predict Image…", "<Control-i>", self.ask_image),
                ("Predict Audio…", "<Control-u>", self.ask_audio),
                ("Predict Video…", "<Control-e>", self.ask_video),
            ),
        }
        menu = tk.Menu(self.root)
        for title, items in table.items():
            sub = tk.Menu(menu, tearoff=False)
            for item in items:
                if item is None:
                    sub.add_separator()
                    continue
                text, key, command = item
                sub.add_command(label=text, accelerator=accelerator(key), command=command)
                if key:
                    # Bound to the main window only: never fires inside a dialog or a drop-down.
                    self.root.bind(key, lambda e, a=command, k=key: self._shortcut(e, a, k))
            menu.add_cascade(label=title, menu=sub)
        self.root.config(menu=menu)

    def _shortcut(self, event: tk.Event, action, key: str) -> str | None:
        if key in EDITING_KEYS and isinstance(event.widget, (tk.Entry, ttk.Entry, tk.Spinbox)):
            return None  # the entry field's own editing key
        action()
        return "break"

    @property
    def sources(self) -> DataSources | None:
        """The data shown now (None until the first load succeeds)."""
        return self.loaded["sources"] if self.loaded else None

    # --------------------------------------------------------------- data

    def ask_fer(self) -> None:
        folder = filedialog.askdirectory(
            title="FER-2013 folder (fer2013.csv, or train/ and test/)", mustexist=True
        )
        if folder:
            self._replace(fer=Path(folder))

    def ask_fer_csv(self) -> None:
        f = filedialog.askopenfilename(
            title="FER-2013 CSV", filetypes=[("CSV files", "*.csv"), ("All files", "*")]
        )
        if f:
            self._replace(fer=Path(f))

    def ask_ravdess(self) -> None:
        folder = filedialog.askdirectory(
            title="RAVDESS folder (Actor_01 … Actor_24)", mustexist=True
        )
        if folder:
            self._replace(ravdess=Path(folder))

    def use_demo(self) -> None:
        self.use_sources(demo_sources())

    def use_sources(self, sources: DataSources) -> None:
        """Load ``sources`` in the background; the current data stays until they are valid."""
        if self.training_job is not None:
            self._error("A model is training on the data shown; stop it before changing data.")
            return
        job = BackgroundJob("data", lambda emit: load_data(sources, emit), self.events)
        if self._start(job, "Loading data…"):
            self.requested = sources

    def _replace(self, *, fer: Path | None = None, ravdess: Path | None = None) -> None:
        """Swap one data set; the other stays what was shown (or last asked for)."""
        cur = self.sources or self.requested
        self.use_sources(
            DataSources(
                fer or cur.fer,
                ravdess or cur.ravdess,
                cur.fer_is_demo and fer is None,
                cur.ravdess_is_demo and ravdess is None,
            )
        )

    # ----------------------------------------------------------- training

    def training_options(self, kind: str) -> TrainOptions:
        """What the Train buttons train: the data shown, with the Settings. Raises
        ``WorkbenchError`` for a bad setting."""
        if self.sources is None:
            raise WorkbenchError("No data is loaded yet; wait for it, or press Use demo data.")
        numbers = parse_settings(self.epochs_var.get(), self.batch_var.get(), self.lr_var.get())
        common = dict(kind=kind, preset=self.preset_var.get(), device=self.device_var.get())
        if kind != "fusion":
            data = self.sources.fer if kind == "face" else self.sources.ravdess
            return TrainOptions(data=str(data), **common, **numbers)
        pairing = self.pairing
        if pairing == "takes" and not self.loaded["n_av_clips"]:
            raise WorkbenchError(
                f"{describe(self.sources.ravdess)} has no video clips (02-… .mp4), so there are "
                "no audio-video takes to train on; choose class-paired pairs, or load a RAVDESS "
                "folder with its video clips."
            )
        src = self.sources
        data = str(src.ravdess) if pairing == "takes" else [str(src.fer), str(src.ravdess)]
        branches = {}
        if self.from_models_var.get():
            branches = {
                f"{k}_model": str(path)
                for k in ("face", "speech")
                if (path := self.models.get(k)) is not None and path.is_file()
            }
        return TrainOptions(
            data=data,
            fusion=next(k for k, v in FUSION_DESIGNS.items() if v == self.fusion_var.get()),
            pairing=pairing,
            **branches,
            **common,
            **numbers,
        )

    @property
    def pairing(self) -> str:
        """The fusion pairing chosen: "takes" or "class"."""
        return next(k for k, v in PAIRING_NAMES.items() if v == self.pairing_var.get())

    def set_pairing(self, pairing: str) -> None:
        self.pairing_var.set(PAIRING_NAMES[pairing])
        self.pairing_note_var.set(PAIRING_SHORT[pairing])

    def _pairing_picked(self) -> None:
        self.pairing_chosen = True
        self.set_pairing(self.pairing)

    def training_title(self, options: TrainOptions) -> str:
        """The Training tab's heading for ``options``: the model and its data; for fusion
        also the design, what the pairs are, and the models its branches start from."""
        name = KIND_NAMES[options.kind]
        if options.kind != "fusion":
            data = self.sources.describe_part("faces" if options.kind == "face" else "speech")
            return f"Training the {name} ({options.preset} preset) on {data}"
        if options.pairing == "takes":
            data = f"audio-video takes of {self.sources.describe_part('speech')}"
        else:
            faces, speech = (self.sources.describe_part(p) for p in ("faces", "speech"))
            data = f"class-paired {faces if faces == speech else f'{faces} + {speech}'}"
        start = [KIND_NAMES[k] for k in ("face", "speech") if getattr(options, f"{k}_model")]
        return (
            f"Training the {name}, {FUSION_DESIGNS[options.fusion]}, on {data} — "
            f"{PAIRING_SHORT[options.pairing]} ({options.preset} preset"
            + (f"; starting from the {' and '.join(start)}" if start else "")
            + ")"
        )

    def train(self, kind: str) -> None:
        """Start training ``kind`` on a worker thread (one training at a time)."""
        if self.training_job is not None:
            self._error(
                "A model is already training; press Stop (Esc) first or wait for it to finish."
            )
            return
        try:
            options = self.training_options(kind)
        except WorkbenchError as exc:
            self._error(str(exc))
            return
        job = TrainingJob(options, self.events)
        if not self._start(job, f"Training the {KIND_NAMES[kind]}…"):
            return
        self.training_view.start(self.training_title(options))
        self.tabs.select(self.training_view)
        self._set_training_buttons(True)

    @property
    def training_job(self) -> TrainingJob | None:
        """The training running now (until its last event has been handled)."""
        return self.jobs.get("train")

    def stop_training(self) -> None:
        """Stop after the current batch; the best epoch so far is kept and scored."""
        job = self.training_job
        if job is None:
            return
        job.stop()
        self.buttons["stop"].state(["disabled"])
        self.status_var.set("Stopping after this batch; the best epoch so far is kept…")

    def _set_training_buttons(self, training: bool) -> None:
        for key in ("train_face", "train_speech", "train_fusion"):
            self.buttons[key].state(["disabled" if training else "!disabled"])
        self.buttons["stop"].state(["!disabled" if training else "disabled"])

    # ------------------------------------------------------------ results

    def _load_known_runs(self) -> None:
        """Start with the latest finished run of each kind, so a restarted window shows them.
        A damaged run folder is skipped (and logged): it must never stop the window."""
        seen: set[str] = set()
        for folder in reversed(find_runs()):  # newest first; one scan for every kind
            try:
                run = load_run(folder)
            except Exception as exc:
                log.warning("skipping run %s: %s", folder, exc)
                continue
            if run["kind"] not in seen:
                seen.add(run["kind"])
                self._add_run(run, use_model=False)
        # Kinds the user has trained nothing of show the starter model that answers for them.
        for kind in PREDICT_KINDS:
            if kind in seen:
                continue
            try:
                run = load_starter(kind)
            except Exception as exc:
                log.warning("skipping the %s starter model: %s", kind, exc)
                continue
            if run is not None:
                self._add_run(run, use_model=False)

    def _add_run(self, run: dict, *, use_model: bool = True) -> None:
        self.runs = [r for r in self.runs if r["model"] != run["model"]] + [run]
        if use_model and run["kind"] in PREDICT_KINDS:
            self.models[run["kind"]] = run["model"]
        self.results_view.set_runs(self.runs, show=run)
        self.compare_view.show(self.runs)

    def _run_chosen(self, run: dict) -> None:
        """A run picked in the Results list becomes the model its kind predicts with."""
        if run["kind"] in PREDICT_KINDS:
            self.models[run["kind"]] = run["model"]
            self.status_var.set(f"Predictions of {PREDICTS[run['kind']]} now use {run_label(run)}")

    def show_confusion(self) -> None:
        self.tabs.select(self.results_view)
        if not self.runs:
            self.status_var.set("No trained model yet: train one, or open an earlier run.")

    def show_comparison(self) -> None:
        self.tabs.select(self.compare_view)
        if not self.runs:
            self.status_var.set("No trained model yet: train one, or open an earlier run.")

    def ask_run(self) -> None:
        folder = filedialog.askdirectory(
            title="Open a run folder (runs/…)", initialdir=paths.runs_dir(), mustexist=True
        )
        if folder:
            self.open_run(Path(folder))

    def open_run(self, folder: Path) -> None:
        """Show an earlier run's charts and predict with its model."""
        try:
            run = load_run(folder)
            if run["metrics"]["best_epoch"] < 1 or not (run["dir"] / "best.pt").is_file():
                raise WorkbenchError(
                    f"{describe(run['dir'])} holds no trained model (it stopped before its "
                    "first epoch ended); open a run that finished at least one epoch."
                )
        except WorkbenchError as exc:
            self._error(str(exc))
            return
        self._add_run(run)
        if self.training_job is None:
            self.training_view.show_history(run_label(run), run["history"], run["metrics"])
        self.tabs.select(self.results_view)
        use = (
            f"predictions of {PREDICTS[run['kind']]} use its model"
            if run["kind"] in PREDICT_KINDS
            else "shown for comparison"
        )
        self.status_var.set(f"Opened {run['dir']}; {use}")

    # ------------------------------------------------------------ predict

    def ask_image(self) -> None:
        self._ask_and_predict("Photo with a face", "Images", IMAGE_SUFFIXES)

    def ask_audio(self) -> None:
        self._ask_and_predict("Speech recording", "Audio", AUDIO_SUFFIXES)

    def ask_video(self) -> None:
        self._ask_and_predict("Video clip with a face and speech", "Video", VIDEO_SUFFIXES)

    def _ask_and_predict(self, title: str, kind: str, suffixes: tuple[str, ...]) -> None:
        f = filedialog.askopenfilename(
            title=title,
            filetypes=[(kind, " ".join(f"*{s}" for s in suffixes)), ("All files", "*")],
        )
        if f:
            self.predict(Path(f))

    def predict(self, path: Path, *, detect: bool = True) -> None:
        """Predict ``path`` on a worker thread with the model of its kind; when that model
        learned from demo data and the file is not demo data, the starter models answer
        too, to be shown beside it."""
        suffix = path.suffix.lower()
        face, speech, fusion = (self.models.get(k) for k in ("face", "speech", "fusion"))
        if suffix in IMAGE_SUFFIXES:
            predict = lambda: predict_image(path, model=face, detect=detect)  # noqa: E731
        elif suffix in AUDIO_SUFFIXES:
            predict = lambda: predict_audio(path, model=speech)  # noqa: E731
        elif suffix in VIDEO_SUFFIXES:
            predict = lambda: predict_video(  # noqa: E731
                path, face_model=face, speech_model=speech, fusion_model=fusion
            )
        else:
            self._error(
                f"{describe(path)} is not an image, a recording or a video clip the workbench "
                "reads; choose a .png/.jpg photo, a .wav/.flac recording or an .mp4 clip."
            )
            return

        def fn(emit):
            return compare_with_starter(predict(), detect=detect)

        job = BackgroundJob("predict", fn, self.events)
        job.subject = path
        self._start(job, f"Predicting {path.name}…")

    # --------------------------------------------------------------- jobs

    def _start(self, job: BackgroundJob, status: str) -> bool:
        """Start ``job`` unless one of its name is running; True when started."""
        if job.name in self.jobs:
            self._error(
                f"{JOB_WORDS.get(job.name, 'That job is still running')}; "
                "wait for it to finish and try again."
            )
            return False
        self.status_var.set(status)
        self.progress["value"] = 0
        self.jobs[job.name] = job.start()
        return True

    def _poll(self) -> None:
        """Handle a bounded number of job events, then reschedule (keeps the UI fluid)."""
        try:
            for _ in range(EVENTS_PER_TICK):
                try:
                    ev = self.events.get_nowait()
                except queue.Empty:
                    break
                if ev.source is not None and self.jobs.get(ev.job) is not ev.source:
                    continue  # from a job that has already finished (a newer one runs)
                if ev.kind in ("done", "error"):
                    del self.jobs[ev.job]  # its last event: the job no longer runs
                try:
                    self._handle(ev)
                except Exception as exc:  # a failing view must not stop later events
                    self._report_tk_error(type(exc), exc, exc.__traceback__)
        finally:
            if not self.closing:
                self._after_id = self.root.after(POLL_MS, self._poll)

    def _handle(self, ev: JobEvent) -> None:
        if ev.kind == "progress":
            text, fraction = ev.payload
            self.status_var.set(text)
            if fraction is not None:
                self.progress["value"] = fraction
        elif ev.kind == "error":
            self._job_failed(ev)
        elif ev.job == "train":
            self._training_event(ev)
        elif ev.kind == "done" and ev.job == "data":
            self.loaded = ev.payload
            if not self.frozen:
                # torch, matplotlib and the data make millions of long-lived objects; a full
                # garbage collection over them holds every thread for 0.1-0.4 s (measured).
                # Freezing them once keeps later collections short: the window stays fluid.
                gc.freeze()
                self.frozen = True
            self.banner_var.set(f"Data: {self.sources.describe()}")
            src = self.sources
            self.root.title(
                "Emotion Workbench — "
                + (
                    "built-in synthetic demo data"
                    if src.fer_is_demo and src.ravdess_is_demo
                    else " + ".join(
                        "demo data" if demo else path.name
                        for path, demo in (
                            (src.fer, src.fer_is_demo),
                            (src.ravdess, src.ravdess_is_demo),
                        )
                    )
                )
            )
            self.data_view.show(ev.payload)
            if not ev.payload["n_av_clips"]:
                self.set_pairing("class")  # no video clips: no takes to pair
            elif not self.pairing_chosen:
                self.set_pairing("takes")
            self.tabs.select(self.data_view)  # new data: show what it holds
            self.progress["value"] = 1.0
            n_speech = sum(ev.payload["speech_counts"].values())
            self.status_var.set(
                f"Loaded {ev.payload['fer_info']['n_items']:,} faces, {n_speech:,} speech "
                f"recordings and {ev.payload['n_clips']:,} video clips"
            )
        elif ev.kind == "done" and ev.job == "predict":
            pred = ev.payload
            self.predict_view.show(pred)
            self.tabs.select(self.predict_view)
            self.progress["value"] = 1.0
            how = (
                f"fused by {pred.details['fused']['method']}"
                if pred.kind == "video"
                else f"model {pred.model}"
            )
            n = len(pred.warnings)
            warned = f" — {n} warning{'s' if n > 1 else ''} above the chart" if n else ""
            self.status_var.set(f"{Path(pred.file).name}: {pred.top} ({how}){warned}")

    def _training_event(self, ev: JobEvent) -> None:
        view = self.training_view
        if ev.kind == "fit_start":
            view.fit_started(ev.payload)
        elif ev.kind == "batch":
            view.batch(ev.payload)
            self.progress["value"] = view.overall_bar["value"]
        elif ev.kind == "epoch":
            view.epoch(ev.payload)
            r = ev.payload
            self.status_var.set(
                f"Epoch {r['epoch']}: validation accuracy {r['val_accuracy']:.1%} "
                f"(train {r['train_accuracy']:.1%})"
            )
        elif ev.kind == "done":
            result = ev.payload
            self.trained.append(result.run_dir)
            self._set_training_buttons(False)
            view.finished(result.metrics, stopped=result.metrics["stopped"])
            self.progress["value"] = 1.0
            m = result.metrics
            if m["best_epoch"] < 1:
                self.status_var.set("Stopped before the first epoch ended: nothing was learned.")
                return
            self._add_run(load_run(result.run_dir))
            which = "test" if m["split"] == "test" else "validation"
            self.status_var.set(
                f"{'Stopped' if m['stopped'] else 'Finished'}: held-out {which} accuracy "
                f"{m['accuracy']:.1%}, UAR {m['uar']:.1%} — saved in {result.run_dir}"
            )

    def _job_failed(self, ev: JobEvent) -> None:
        exc, tb = ev.payload
        self.progress["value"] = 0
        self.status_var.set("Ready")
        if ev.job == "train":
            self._set_training_buttons(False)
            self.training_view.finished(None)
        if isinstance(exc, NoFaceError) and ev.job == "predict":
            path = ev.source.subject
            if path.suffix.lower() in IMAGE_SUFFIXES and messagebox.askyesno(
                "Emotion Workbench",
                f"{exc}\n\nUse the whole image as the face instead?",
                parent=self.root,
            ):
                self.predict(path, detect=False)
            elif path.suffix.lower() not in IMAGE_SUFFIXES:
                self._error(str(exc))
            return
        if isinstance(exc, WorkbenchError):
            self._error(str(exc))
            return
        log.error("job %s failed:\n%s", ev.job, tb)
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        self._error(f"{FAILURE_WORDS.get(ev.job, 'A background job failed')}: {first_line}")

    # ------------------------------------------------------------- errors

    def _error(self, message: str) -> None:
        """A modal one-sentence dialog; only logged once the window is closing."""
        if self.closing:
            log.error("%s", message)
            return
        messagebox.showerror("Emotion Workbench", message, parent=self.root)

    def _chart_failed(self, exc: Exception) -> None:
        self._error(str(exc) if isinstance(exc, WorkbenchError) else f"A chart failed: {exc}")

    def _report_tk_error(self, exc_type, exc, tb) -> None:
        log.error("UI callback failed", exc_info=(exc_type, exc, tb))
        self._error(str(exc) if isinstance(exc, WorkbenchError) else f"Something went wrong: {exc}")

    def close(self) -> None:
        """Close the window. A running training is told to stop after its batch; ``main``
        then waits for it to write its run folder, so nothing trained is lost."""
        self.closing = True
        if (job := self.training_job) is not None:
            job.stop()
        self.renderer.close()
        try:
            self.root.after_cancel(self._after_id)
        except tk.TclError:
            pass
        self.root.destroy()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        root = tk.Tk()
    except tk.TclError as exc:
        print(
            f"The window cannot open ({exc}); run 'python workbench.py demo' in the terminal instead.",
            file=sys.stderr,
        )
        return 2
    app = WorkbenchApp(root)
    try:
        root.mainloop()
    finally:
        job = app.jobs.get("train")
        if job is not None and job.is_alive():
            job.stop()
            print("Finishing the stopped training run (scoring the best epoch)…", file=sys.stderr)
            job.thread.join(timeout=300)
    return 0
