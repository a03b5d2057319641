"""The Emotion Workbench window.

Left: actions grouped by task (Data, Train, Results, Predict) and the training settings.
Right: tabs of charts. Top: a banner naming the data in use (and saying so when it is the
synthetic demo). Bottom: status text and a progress bar.

The window is wired from parts: the buttons, menus and shortcuts come from one command
table (commands.py), the settings from settings.py, and what the window knows and decides
(the data in use, the runs, the model used per kind, the status sentences) from the Tk-free
state.py. Long work (loading data, training, predicting) runs as a job on a worker thread;
the ``JobRunner`` (jobs.py) hands its events to the window on the Tk thread. The window adds
no logic of its own: it calls the same ``training`` functions as the command line.
"""

from __future__ import annotations

import gc
import logging
import sys
import tkinter as tk
from pathlib import Path
from tkinter import messagebox, ttk

from datasets.errors import NoFaceError, WorkbenchError
from datasets.sources import DataSources, default_sources, demo_sources
from training.explain import explain_prediction
from training.live import run_live
from training.predict import IMAGE_SUFFIXES, predict_file
from training.records import Run
from training.second_opinion import compare_with_starter

from . import gallery
from . import state as st
from .charts import ChartRenderer
from .commands import TRAIN, build_menus, build_side
from .compare_view import CompareView
from .data_view import DataView
from .jobs import BackgroundJob, JobEvent, JobRunner, TrainingJob, failure_sentence
from .layout import ScrollPanel, fit_to_screen
from .leakage_view import LessonJob, LessonWindow
from .live_view import LiveView, in_window_words
from .predict_view import PredictView
from .results_view import ResultsView, run_label
from .settings import SettingsPanel
from .textsize import LARGER, TextSize
from .training_view import TrainingView
from .widgets import banner_and_status_bar

log = logging.getLogger(__name__)


class WorkbenchApp:
    """The main window. Every method runs on the Tk thread unless its docstring says otherwise."""

    def __init__(self, root: tk.Tk, sources: DataSources | None = None) -> None:
        self.root = root
        self.state = st.WorkbenchState()
        self.frozen = False  # gc.freeze done (after the first data load)
        self.closing = False
        self.lesson_window: LessonWindow | None = None  # the last leakage lesson shown

        root.title("Emotion Workbench")
        # As large as the screen allows (a 1024x768 projector too); the side panel scrolls.
        fit_to_screen(root)
        self.text_size = TextSize(root)
        self.larger_text = tk.BooleanVar(value=False)  # View ▸ Larger text
        root.report_callback_exception = self._report_tk_error
        root.protocol("WM_DELETE_WINDOW", self.close)
        self._build()
        self.runner = JobRunner(root, self._handle, self._report_tk_error)
        self.state.load_known_runs()
        if self.state.runs:
            self._show_runs(self.state.runs[-1])
        self.use_sources(sources or default_sources())

    def _build(self) -> None:
        self.banner_var, self.status_var, self.progress = banner_and_status_bar(self.root)
        body = ttk.Frame(self.root)
        body.pack(fill=tk.BOTH, expand=True)
        # Buttons and settings scroll when the window is shorter than they are.
        self.side_panel = ScrollPanel(body)
        self.side_panel.pack(side=tk.LEFT, fill=tk.Y)

        def settings(box: ttk.Frame) -> None:
            self.settings = SettingsPanel(box)

        self.buttons = build_side(self.side_panel.interior, self, below={"Train": settings})
        self.buttons["stop"].state(["disabled"])

        self.tabs = ttk.Notebook(body)
        self.tabs.pack(side=tk.RIGHT, fill=tk.BOTH, expand=True, padx=(0, 8), pady=(0, 4))
        # Charts are drawn on their own thread (charts.py): a redraw never freezes the window.
        self.renderer = ChartRenderer(self.root, on_error=self._chart_failed)
        views = (
            DataView(self.tabs, self.renderer),
            TrainingView(self.tabs, self.renderer),
            ResultsView(
                self.tabs,
                self.renderer,
                on_choose=self._run_chosen,
                on_leakage=self.leakage_lesson,
            ),
            CompareView(self.tabs, self.renderer),
            PredictView(self.tabs, self.renderer),
            LiveView(self.tabs, self.renderer, self),
        )
        names = ("Data", "Training", "Results", "Compare", "Predict", "Live")
        for view, text in zip(views, names):
            self.tabs.add(view, text=text)
        self.data_view, self.training_view, self.results_view = views[:3]
        self.compare_view, self.predict_view, self.live_view = views[3:]
        self.predict_view.on_explain = self.explain_shown
        build_menus(self.root, self)
        gallery.attach(self)  # confusion cells and the embedding map open their windows

    # What tests, screenshots and ``main`` read: the state's and the runner's.
    loaded = property(lambda self: self.state.loaded)
    sources = property(lambda self: self.state.sources)
    runs = property(lambda self: self.state.runs)
    models = property(lambda self: self.state.models)
    trained = property(lambda self: self.state.trained)
    jobs = property(lambda self: self.runner.jobs)

    def set_larger_text(self, on: bool) -> None:
        """Larger text in the whole window, charts included (for the back row), or back."""
        self.larger_text.set(on)
        scale = LARGER if on else 1.0
        if scale != self.text_size.scale:
            self.text_size.set(scale)
            self.renderer.set_text_scale(scale)

    # --------------------------------------------------------------- data

    def use_demo(self) -> None:
        self.use_sources(demo_sources())

    def use_sources(self, sources: DataSources) -> None:
        """Load ``sources`` in the background; the current data stays until they are valid."""
        if self.training_job is not None:
            self._error("A model is training on the data shown; stop it before changing data.")
            return
        job = BackgroundJob("data", lambda emit: st.load_data(sources, emit), self.runner.events)
        if self._start(job, "Loading data…"):
            self.state.requested = sources

    def replace_data(self, part: str, path: Path) -> None:
        """Use ``path`` for one data set (``part`` "fer" or "ravdess"); the other stays what
        was shown (or last asked for)."""
        self.use_sources(self.state.replaced(**{part: path}))

    def _data_loaded(self, loaded: dict) -> None:
        self.state.loaded = loaded
        if not self.frozen:
            # torch, matplotlib and the data make millions of long-lived objects; a full
            # garbage collection over them holds every thread for 0.1-0.4 s (measured).
            # Freezing them once keeps later collections short: the window stays fluid.
            gc.freeze()
            self.frozen = True
        self.banner_var.set(f"Data: {self.sources.describe()}")
        self.root.title(self.state.title())
        self.data_view.show(loaded)
        self.settings.follow_data(loaded["n_av_clips"])
        self.tabs.select(self.data_view)  # new data: show what it holds
        self.progress["value"] = 1.0
        self.status_var.set(self.state.loaded_status())

    # ----------------------------------------------------------- training

    def training_options(self, kind: str):
        """What the Train button of ``kind`` trains: the data shown, with the Settings.
        Raises ``WorkbenchError`` for a bad setting."""
        return self.state.training_options(kind, self.settings.settings())

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
        job = TrainingJob(options, self.runner.events)
        if not self._start(job, f"Training the {st.KIND[kind].title}…"):
            return
        self.training_view.start(self.state.training_title(options))
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
        for key in TRAIN:
            self.buttons[key].state(["disabled" if training else "!disabled"])
        self.buttons["stop"].state(["!disabled" if training else "disabled"])

    def _training_event(self, ev: JobEvent) -> None:
        view = self.training_view
        if ev.kind == "fit_start":
            view.fit_started(ev.payload)
        elif ev.kind == "batch":
            view.batch(ev.payload)
            self.progress["value"] = view.overall_bar["value"]
        elif ev.kind == "epoch":
            view.epoch(ev.payload)
            self.status_var.set(st.epoch_status(ev.payload))
        elif ev.kind == "done":
            self._set_training_buttons(False)
            view.finished(ev.payload.metrics, stopped=ev.payload.metrics["stopped"])
            self.progress["value"] = 1.0
            said, run = self.state.finished(ev.payload)
            if run is not None:
                self._show_runs(run)
            self.status_var.set(said)

    # ------------------------------------------------------------ results

    def _show_runs(self, show: dict) -> None:
        self.results_view.set_runs(self.runs, show=show)
        self.compare_view.show(self.runs)

    def _run_chosen(self, run: Run) -> None:
        """A run picked in the Results list becomes the model its kind predicts with."""
        if said := self.state.choose(run, run_label(run)):
            self.status_var.set(said)

    def leakage_lesson(self) -> None:
        """Train the speech recipe of the Settings on the RAVDESS data shown twice, split
        at random by file and by actor, then show both side by side (a job)."""
        if self.training_job is not None:
            self._error("A model is training; wait for it to finish, then start the lesson.")
            return
        try:
            options = self.training_options("speech")
        except WorkbenchError as exc:
            self._error(str(exc))
            return
        job = LessonJob(options, self.runner.events)
        self._start(
            job,
            f"Leakage lesson: training the speech model twice ({job.options.epochs} epochs "
            "each), split at random by file and by actor…",
        )

    def show_lesson(self, summary: dict) -> None:
        """A finished leakage lesson (``results.json``) in a window of its own."""
        self.progress["value"] = 1.0
        gap = summary["gap"]["accuracy"]
        self.status_var.set(
            f"Leakage lesson: random split {summary['random']['accuracy']:.1%}, split by "
            f"actor {summary['actor']['accuracy']:.1%} ({100 * gap:+.0f} points)."
        )
        self.lesson_window = LessonWindow(self.root, self.renderer, summary)

    def show_confusion(self) -> None:
        self.tabs.select(self.results_view)
        if not self.runs:
            self.status_var.set(st.NO_RUNS)

    def show_comparison(self) -> None:
        self.tabs.select(self.compare_view)
        if not self.runs:
            self.status_var.set(st.NO_RUNS)

    def open_run(self, folder: Path) -> None:
        """Show an earlier run's charts and predict with its model."""
        try:
            run, said = self.state.open_run(folder)
        except WorkbenchError as exc:
            self._error(str(exc))
            return
        self._show_runs(run)
        if self.training_job is None:
            self.training_view.show_history(run_label(run), run.history, run.metrics)
        self.tabs.select(self.results_view)
        self.status_var.set(said)

    # ------------------------------------------------------------ predict

    def predict(self, path: Path, *, detect: bool = True) -> None:
        """Predict ``path`` on a worker thread with the models in use (``predict_file``
        picks by its type); when a model learned from demo data and the file is not demo
        data, the starter models answer too, to be shown beside it. With Explain on, the
        answer comes with its saliency (``explain_prediction``)."""
        try:
            models = self.state.prediction_models(path)
        except WorkbenchError as exc:
            self._error(str(exc))
            return

        explain = self.predict_view.explaining()

        def fn(emit):
            def heard(done: int, total: int) -> None:
                emit(f"Listening to {path.name}: {done:,} of {total:,} windows…", done / total)

            pred = predict_file(path, detect=detect, progress=heard, **models)
            if explain:
                pred = explain_prediction(pred, clip_sound=False)
            return compare_with_starter(pred, detect=detect)

        job = BackgroundJob("predict", fn, self.runner.events)
        job.subject = path
        self._start(job, f"Predicting {path.name}…")

    def explain_shown(self, pred) -> None:
        """Add saliency to the prediction shown (Explain switched on), on a worker thread."""
        job = BackgroundJob(
            "predict", lambda emit: explain_prediction(pred, clip_sound=False), self.runner.events
        )
        job.subject = Path(pred.file)
        self._start(job, f"Explaining {Path(pred.file).name}…")

    def _predicted(self, pred) -> None:
        self.predict_view.show(pred)
        self.tabs.select(self.predict_view)
        self.progress["value"] = 1.0
        self.status_var.set(st.prediction_status(pred))

    # --------------------------------------------------------------- live

    def start_live(self, camera: str | None, microphone: str | None) -> None:
        """Analyse the camera and/or microphone on a worker thread until Stop; the models
        are those in use (else the defaults), the fused answer the fusion model's in use."""
        if camera is None and microphone is None:
            self._error("Choose a camera or a microphone (or a file in its place), then Start.")
            return
        models, view = dict(self.models), self.live_view
        recorder = view.new_recorder()
        job = BackgroundJob("live", None, self.runner.events)
        job.fn = lambda emit: run_live(
            camera,
            microphone,
            face_model=models.get("face"),
            speech_model=models.get("speech"),
            fusion_model=models.get("fusion"),
            on_update=view.arrived,
            stop_event=job.stop_event,
            realtime=True,
            spectrogram=True,
            recorder=recorder,
        )
        if self._start(job, "Going live…"):
            view.started()
            self.tabs.select(view)

    def stop_live(self, wait: float = 0.0) -> None:
        """Stop the live session; its camera and microphone are released as it ends
        (within ``wait`` s when asked to wait, as on closing the window)."""
        if (job := self.jobs.get("live")) is not None:
            job.stop()
            if wait:
                job.thread.join(timeout=wait)

    def save_recording(self, folder: Path) -> None:
        """Save the live session's last seconds into ``folder`` on a worker thread (an
        H.264 MP4 takes seconds to encode); the session goes on meanwhile."""
        view = self.live_view
        try:
            request = view.record_request()
        except WorkbenchError as exc:
            self._error(str(exc))
            return
        recorder = view.recorder
        job = BackgroundJob(
            "record", lambda emit: recorder.save(folder, **request), self.runner.events
        )
        self._start(job, f"Saving the last {request['seconds']:g} s into {folder}…")

    def _recorded(self, saved: dict) -> None:
        self.live_view.recorded(saved)
        self.progress["value"] = 1.0
        names = ", ".join(Path(saved[k]).name for k in ("mp4", "wav", "csv") if saved.get(k))
        where = Path(next(saved[k] for k in ("csv", "mp4", "wav") if saved.get(k))).parent
        self.status_var.set(f"Saved {saved['seconds']:.1f} s as {names} in {where}.")

    def error(self, message: str) -> None:
        """A one-sentence dialog, for the views."""
        self._error(message)

    def _live_done(self, summary: dict) -> None:
        self.live_view.finished(summary)
        self.progress["value"] = 1.0
        self.status_var.set(f"Live session ended: {summary['frames']} frames analysed.")

    # --------------------------------------------------------------- jobs

    def _start(self, job: BackgroundJob, status: str) -> bool:
        """Start ``job`` unless one of its name is running; True when started."""
        try:
            self.runner.start(job)
        except WorkbenchError as exc:
            self._error(str(exc))
            return False
        self.status_var.set(status)
        self.progress["value"] = 0
        return True

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
        elif ev.kind == "done":
            handlers = {"data": self._data_loaded, "predict": self._predicted}
            handlers.update(live=self._live_done, record=self._recorded)
            handlers.update(lesson=self.show_lesson)
            handlers.update(gallery=lambda show: show())  # opens its window (gallery.py)
            handlers[ev.job](ev.payload)

    def _job_failed(self, ev: JobEvent) -> None:
        exc, tb = ev.payload
        self.progress["value"] = 0
        self.status_var.set("Ready")
        if ev.job == "train":
            self._set_training_buttons(False)
            self.training_view.finished(None)
        if ev.job == "live":
            self.live_view.finished(None)
            if isinstance(exc, WorkbenchError):
                self._error(in_window_words(str(exc)))
                return
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
        self._error(failure_sentence(ev.job, exc, tb))

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
        if (lesson := self.jobs.get("lesson")) is not None:
            lesson.stop()  # nothing of it is worth waiting for
        self.stop_live(wait=2.0)  # the camera and the microphone are released now
        self.live_view.close()
        self.renderer.close()
        self.runner.close()
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
