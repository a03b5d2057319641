"""The Emotion Workbench window.

Left: actions grouped by task. Right: tabs of charts. Top: a banner naming the data in use
(and saying so when it is the synthetic demo). Bottom: status text and a progress bar.
Long work runs as a ``BackgroundJob``; the Tk thread only polls its queue.
"""

from __future__ import annotations

import logging
import queue
import sys
import tkinter as tk
from pathlib import Path
from tkinter import filedialog, messagebox, ttk

from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import load_fer2013
from datasets.info import detect, fer_info, ravdess_info
from datasets.labels import RAVDESS_EMOTIONS
from datasets.ravdess import speech_audio
from datasets.sources import DataSources, default_sources, demo_sources, ensure_demo

from .data_view import DataView
from .jobs import BackgroundJob, JobEvent

log = logging.getLogger(__name__)
POLL_MS = 100
EVENTS_PER_TICK = 50


def load_data(sources: DataSources, emit) -> dict:
    """Summaries of both data sets plus the face images for the sample grid.

    Runs on a worker thread. Generates the demo data first when it is in use and missing.
    Loading is cached, so the second time it is quick.
    """
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
        "n_clips": sum(c.modality in (1, 2) for c in scan.clips),
        "images": fer.images,
        "labels": fer.labels,
    }


class WorkbenchApp:
    """The main window. Every method runs on the Tk thread unless its docstring says otherwise."""

    def __init__(self, root: tk.Tk, sources: DataSources | None = None) -> None:
        self.root = root
        self.requested: DataSources | None = None  # the data asked for last (may have failed)
        self.loaded: dict | None = None
        self.events: queue.Queue[JobEvent] = queue.Queue()
        self.jobs: dict[str, BackgroundJob] = {}

        root.title("Emotion Workbench")
        # Fits a 1280x800 screen once the title bar, menu bar and a desktop panel are counted.
        root.geometry("1240x720")
        root.minsize(960, 600)
        root.report_callback_exception = self._report_tk_error
        root.protocol("WM_DELETE_WINDOW", self.close)
        self._build()
        self._bind_keys()
        self._after_id = root.after(POLL_MS, self._poll)
        self.use_sources(sources or default_sources())

    # ------------------------------------------------------------- layout

    def _build(self) -> None:
        self.banner_var = tk.StringVar(value="Data: preparing…")
        banner = ttk.Label(
            self.root,
            textvariable=self.banner_var,
            anchor="w",
            padding=(10, 6),
            font=("TkDefaultFont", 11, "bold"),
        )
        banner.pack(side=tk.TOP, fill=tk.X)
        self.banner = banner

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
        side = ttk.Frame(body, padding=8)
        side.pack(side=tk.LEFT, fill=tk.Y)
        data_box = ttk.LabelFrame(side, text="Data", padding=6)
        data_box.pack(fill=tk.X)
        self.buttons = {
            "fer": ttk.Button(data_box, text="Load FER-2013…", command=self.ask_fer),
            "ravdess": ttk.Button(data_box, text="Load RAVDESS…", command=self.ask_ravdess),
            "demo": ttk.Button(data_box, text="Use demo data", command=self.use_demo),
        }
        for b in self.buttons.values():
            b.pack(fill=tk.X, pady=2)
        ttk.Label(
            side,
            text="Ctrl+O faces · Ctrl+R speech\nCtrl+D demo · Ctrl+Q quit",
            foreground="gray40",
            padding=(0, 12),
        ).pack()

        self.tabs = ttk.Notebook(body)
        self.tabs.pack(side=tk.RIGHT, fill=tk.BOTH, expand=True, padx=(0, 8), pady=(0, 4))
        self.data_view = DataView(self.tabs)
        self.tabs.add(self.data_view, text="Data")

        menu = tk.Menu(self.root)
        file_menu = tk.Menu(menu, tearoff=False)
        file_menu.add_command(
            label="Load FER-2013 folder…", accelerator="Ctrl+O", command=self.ask_fer
        )
        file_menu.add_command(label="Load FER-2013 CSV file…", command=self.ask_fer_csv)
        file_menu.add_command(
            label="Load RAVDESS folder…", accelerator="Ctrl+R", command=self.ask_ravdess
        )
        file_menu.add_command(label="Use demo data", accelerator="Ctrl+D", command=self.use_demo)
        file_menu.add_separator()
        file_menu.add_command(label="Quit", accelerator="Ctrl+Q", command=self.close)
        menu.add_cascade(label="File", menu=file_menu)
        self.root.config(menu=menu)

    def _bind_keys(self) -> None:
        for key, action in (
            ("o", self.ask_fer),
            ("r", self.ask_ravdess),
            ("d", self.use_demo),
            ("q", self.close),
        ):
            self.root.bind_all(f"<Control-{key}>", lambda _e, a=action: a())

    @property
    def sources(self) -> DataSources | None:
        """The data shown now (None until the first load succeeds)."""
        return self.loaded["sources"] if self.loaded else None

    # ------------------------------------------------------------ actions

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
        if self._start("data", lambda emit: load_data(sources, emit), "Loading data…"):
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

    # --------------------------------------------------------------- jobs

    def _start(self, name: str, fn, status: str) -> bool:
        """Start job ``name`` unless it is already running; True when started."""
        if (job := self.jobs.get(name)) and job.is_alive():
            self._error("Data is still loading; wait for it to finish and try again.")
            return False
        self.status_var.set(status)
        self.progress["value"] = 0
        self.jobs[name] = BackgroundJob(name, fn, self.events).start()
        return True

    def _poll(self) -> None:
        """Handle a bounded number of job events, then reschedule (keeps the UI fluid)."""
        try:
            for _ in range(EVENTS_PER_TICK):
                try:
                    ev = self.events.get_nowait()
                except queue.Empty:
                    break
                try:
                    self._handle(ev)
                except Exception as exc:  # a failing view must not stop later events
                    self._report_tk_error(type(exc), exc, exc.__traceback__)
        finally:
            self._after_id = self.root.after(POLL_MS, self._poll)

    def _handle(self, ev: JobEvent) -> None:
        if ev.kind == "progress":
            text, fraction = ev.payload
            self.status_var.set(text)
            self.progress["value"] = fraction
        elif ev.kind == "error":
            exc, tb = ev.payload
            self.progress["value"] = 0
            self.status_var.set("Ready")
            if not isinstance(exc, WorkbenchError):
                log.error("job %s failed:\n%s", ev.job, tb)
            self._error(str(exc) if isinstance(exc, WorkbenchError) else f"{ev.job} failed: {exc}")
        elif ev.kind == "done" and ev.job == "data":
            self.loaded = ev.payload
            self.banner_var.set(f"Data: {self.sources.describe()}")
            self.data_view.show(ev.payload)
            self.progress["value"] = 1.0
            n_speech = sum(ev.payload["speech_counts"].values())
            self.status_var.set(
                f"Loaded {ev.payload['fer_info']['n_items']:,} faces, {n_speech:,} speech "
                f"recordings and {ev.payload['n_clips']:,} video clips"
            )

    # ------------------------------------------------------------- errors

    def _error(self, message: str) -> None:
        messagebox.showerror("Emotion Workbench", message, parent=self.root)

    def _report_tk_error(self, exc_type, exc, tb) -> None:
        log.error("UI callback failed", exc_info=(exc_type, exc, tb))
        self._error(str(exc) if isinstance(exc, WorkbenchError) else f"Something went wrong: {exc}")

    def close(self) -> None:
        """Stop polling and close the window; data jobs are daemon threads and end with it."""
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
    WorkbenchApp(root)
    root.mainloop()
    return 0
