"""Screenshots of the real window, for the README: ``make screenshots``.

Starts a private Xvfb screen (1280x800, like a classroom laptop) unless a display is set,
opens the workbench on the built-in demo data and presses its buttons the way a teacher
would: train the facial CNN (a shot mid-training), train the speech CNN, train a fusion
model that starts from both, open the results and the comparison, then predict a face, a
recording and a video clip of the held-out demo actors (the clip with the fused answer),
and the face again with Explain on (saliency over it).
Each view is saved as ``screenshots/*.png`` once it is drawn. First, before anything is
trained, a real RAVDESS clip from ``../shared/data`` is predicted by the starter models
in ``pretrained/`` (and its picture alone, as a silent webcam video: the face model
answers by itself), and their held-out scores are compared (``--starter-only`` stops
there), and the Live tab shows a real take in the camera's and the microphone's places. Takes about four minutes on
a 2-core CPU, most of it training. When the real data sits beside the
project (``../shared/data``, or ``WORKBENCH_SHARED_DATA``), it also loads FER-2013 and
RAVDESS, trains a short quick run of each (about 5 more minutes) and shows the comparison
with the human baselines. Runs go to a temporary folder unless
``WORKBENCH_RUNS_DIR`` is set, so the screenshots never change your runs/. Last, the
window on a 1024x768 screen (a classroom projector), with and without larger text
(``--projector`` takes only these). Then, with the real data, a confusion cell's held-out items
and the embedding map of the starter models (``--gallery`` takes only these). ``--leakage``
takes only the leakage lesson window: Results ▸ Leakage lesson run on the demo data (about
two minutes), or with ``--leakage RESULTS_JSON`` a lesson already run (``experiment
leakage`` on the real data).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tkinter as tk
from pathlib import Path

from PIL import Image, ImageGrab

OUT = Path(__file__).resolve().parent.parent / "screenshots"


def settle(root: tk.Tk, until=lambda: True, timeout: float = 300.0, hold: int = 15) -> None:
    """Run the event loop until ``until()`` has held for a while (``hold`` checks): a label
    that re-wraps once it is shown resizes a chart, which is then drawn again."""
    end = time.monotonic() + timeout
    held = 0
    while held < hold:
        held = held + 1 if until() else 0
        if time.monotonic() > end:
            raise SystemExit("the window did not get there in time; no screenshot taken")
        root.update()
        time.sleep(0.02)


def grab(root: tk.Tk, name: str, *, screen: bool = False) -> Path:
    """Save the window's area of the screen (``screen``: the whole screen, menu bar and
    empty space included: how the window sits on it)."""
    x, y = root.winfo_rootx(), root.winfo_rooty()
    w, h = root.winfo_width(), root.winfo_height()
    bbox = None if screen else (x, y, x + w, y + h)
    path = OUT / f"{name}.png"
    ImageGrab.grab(bbox=bbox, xdisplay=root.winfo_screen()).save(path)
    print(path)
    return path


def live_shot(app, root: tk.Tk, name: str, shared: Path, **grab_args) -> Path | None:
    """The Live tab with a real RAVDESS clip in the camera's place and the same take's
    recording in the microphone's, grabbed some seconds in (None without the real data)."""
    clips = sorted((shared / "ravdess_video").glob("01-01-06-*.mp4")) or sorted(
        (shared / "ravdess_video").glob("01-*.mp4")
    )
    if not clips:
        print(f"no real clip at {shared}: skipped the {name} screenshot")
        return None
    take = clips[0].name[2:-4]
    sound = shared / "ravdess_speech_16k" / f"Actor_{take[-2:]}" / f"03{take}.flac"
    view = app.live_view
    view.camera.set(str(clips[0]))
    view.microphone.set(str(sound) if sound.is_file() else "none")
    view.start()
    # Stopped two seconds in: every strip has answers and the actor is still speaking
    # (the level meter shows it; the sentence ends at about 2.4 s).
    settle(
        root,
        lambda: view.history.newest() is not None and view.history.newest()["time"] > 1.9,
        hold=1,
    )
    view.stop()
    settle(root, lambda: "live" not in app.jobs and app.renderer.idle())
    return grab(root, name, **grab_args)


def projector() -> list[Path]:
    """The window on a 1024x768 screen (a classroom projector), a private Xvfb whatever
    the display: a held-out demo clip predicted (the fullest chart), then the Compare tab
    with View ▸ Larger text. With the runs of ``main`` (``WORKBENCH_RUNS_DIR``), the
    models it trained answer; alone (``--projector``, about a minute), the starter
    models do."""
    from datasets.sources import demo_sources, ensure_demo

    from .app import WorkbenchApp
    from .xvfb import start_xvfb

    display = os.environ.get("DISPLAY")
    xvfb = start_xvfb("1024x768x24")
    if xvfb is None:
        sys.exit("The projector screenshots need Xvfb (apt-get install xvfb).")
    screen = os.environ["DISPLAY"]
    try:
        root = tk.Tk(screenName=screen)
        # Tk made the projector the process's DISPLAY; any later window opens where it was.
        if display is None:
            os.environ.pop("DISPLAY", None)
            os.unsetenv("DISPLAY")
        else:
            os.environ["DISPLAY"] = display
        app = WorkbenchApp(root, demo_sources())
        idle = app.renderer.idle
        settle(root, lambda: app.loaded is not None and idle())
        clip = ensure_demo() / "ravdess" / "Actor_12" / "02-01-03-02-02-01-12.mp4"
        shown = app.predict_view.chart.shown
        app.predict(clip)
        settle(root, lambda: app.predict_view.chart.shown > shown and idle())
        paths = [grab(root, "projector_1024x768", screen=True)]
        shared = Path(
            os.environ.get("WORKBENCH_SHARED_DATA", OUT.parent.parent / "shared" / "data")
        )
        if live := live_shot(app, root, "projector_1024x768_live", shared, screen=True):
            paths.append(live)
        app.set_larger_text(True)
        app.show_comparison()
        settle(root, idle)
        paths.append(grab(root, "projector_1024x768_larger_text", screen=True))
        app.close()
    finally:
        # Not before Tk lets go of the screen: a server gone under it ends the process.
        xvfb.terminate()
    return paths


def leakage_shot(app, root: tk.Tk, results: Path | None = None) -> Path:
    """The leakage lesson's window once drawn: the lesson in ``results`` (a results.json),
    else Results ▸ Leakage lesson run on the data shown, with the Settings as they are."""
    app.tabs.select(app.results_view)
    if results is not None:
        app.show_lesson(json.loads(results.read_text(encoding="utf-8")))
    else:
        app.leakage_lesson()
    settle(root, lambda: app.lesson_window is not None, timeout=900)
    window = app.lesson_window
    settle(root, lambda: window.chart.shown > 0 and app.renderer.idle())
    path = grab(window, "leakage-lesson")
    window.destroy()
    return path


def explain_shot(app, root: tk.Tk, face: Path) -> Path:
    """``face`` predicted with Explain on: the saliency over the crop and the photo."""
    view = app.predict_view
    view.explain_var.set(True)
    shown = view.chart.shown
    app.predict(face)
    settle(root, lambda: view.chart.shown > shown and app.renderer.idle())
    view.explain_var.set(False)
    return grab(root, "predict-image-explain")


def gallery_shots(app, root: tk.Tk) -> list[Path]:
    """Behind the starter models' numbers, on the real data: the face model's and the
    speech model's most frequent mistake (the largest off-diagonal cell) opened from the
    Results tab, and the speech model's embedding map coloured by actor (``--gallery``
    takes only these; the face model's held-out images take a few minutes)."""
    from training.checkpoint import read_checkpoint

    from .gallery import EmbeddingWindow, GalleryWindow, open_cell

    idle = app.renderer.idle

    def opened(cls) -> list:
        return [w for w in root.winfo_children() if isinstance(w, cls)]

    paths = []
    starters = {r.kind: r for r in app.runs if r.starter}
    for kind in ("face", "speech"):
        run = starters.get(kind)
        data = run and (read_checkpoint(run.model).get("split") or {}).get("path")
        if not data or not Path(data).exists():
            print(f"no {kind} starter model or its data: skipped its gallery")
            continue
        app.results_view.show(run)
        app.tabs.select(app.results_view)
        cm = run.metrics["confusion"]
        n = len(cm)
        t, p = max(
            ((i, j) for i in range(n) for j in range(n) if i != j), key=lambda c: cm[c[0]][c[1]]
        )
        classes = run.metrics["classes"]
        open_cell(app, run, classes[t], classes[p])
        settle(root, lambda: opened(GalleryWindow) and not app.jobs and idle(), timeout=900)
        window = opened(GalleryWindow)[0]
        paths.append(grab(window, f"gallery-{kind}"))
        window.destroy()
        if kind == "speech":
            app.results_view.event_generate("<<EmbeddingMap>>")
            settle(root, lambda: opened(EmbeddingWindow) and idle(), timeout=900)
            window = opened(EmbeddingWindow)[0]
            window.switches["actor"].invoke()
            settle(root, idle)
            paths.append(grab(window, "embedding-map-actor"))
            window.destroy()
    return paths


def gallery_only() -> int:
    """Just the gallery and embedding-map shots, with the starter models (a few minutes)."""
    from datasets.sources import demo_sources

    from .app import WorkbenchApp
    from .xvfb import start_xvfb

    xvfb = None if os.environ.get("DISPLAY") else start_xvfb()
    if xvfb is None and not os.environ.get("DISPLAY"):
        sys.exit("Screenshots need a display or Xvfb (apt-get install xvfb).")
    try:
        OUT.mkdir(exist_ok=True)
        root = tk.Tk()
        app = WorkbenchApp(root, demo_sources())
        settle(root, lambda: app.loaded is not None and app.renderer.idle())
        gallery_shots(app, root)
        app.close()
    finally:
        if xvfb:
            xvfb.terminate()
    return 0


def without_sound(clip: Path, out: Path) -> Path:
    """A copy of ``clip``'s picture alone (its video stream, not re-encoded), at ``out``."""
    import av

    with av.open(str(clip)) as src, av.open(str(out), "w") as dst:
        video = src.streams.video[0]
        copy = dst.add_stream_from_template(video)
        for packet in src.demux(video):
            if packet.dts is not None:
                packet.stream = copy
                dst.mux(packet)
    return out


def main(argv: list[str] | None = None) -> int:
    """All the screenshots; ``--starter-only``: just the starter models' video prediction;
    ``--projector``: just the 1024x768 views."""
    from training.runs import starter_model

    from .xvfb import start_xvfb

    args = sys.argv[1:] if argv is None else argv
    starter_only = "--starter-only" in args
    if "--gallery" in args:
        return gallery_only()
    if "--projector" in args:
        OUT.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="workbench-screenshots-") as runs:
            os.environ.setdefault("WORKBENCH_RUNS_DIR", runs)  # not your runs/: the same shots
            projector()
        return 0

    xvfb = None
    if not os.environ.get("DISPLAY"):
        xvfb = start_xvfb()
        if xvfb is None:
            sys.exit("Screenshots need a display or Xvfb (apt-get install xvfb).")
    scratch = tempfile.TemporaryDirectory(prefix="workbench-screenshots-")
    os.environ.setdefault("WORKBENCH_RUNS_DIR", scratch.name)
    try:
        from datasets.fer2013 import PRIVATE_TEST, load_fer2013
        from datasets.sources import DataSources, demo_sources, ensure_demo

        from .app import WorkbenchApp

        demo = ensure_demo()
        OUT.mkdir(exist_ok=True)
        # Inputs from the held-out part of the demo data: a test face, a test actor's take.
        fer = load_fer2013(demo / "fer2013")
        i = int(
            next(
                j
                for j in range(len(fer.labels))
                if fer.usage[j] == PRIVATE_TEST and fer.labels[j] == 3
            )
        )  # fmt: skip  (a happy test face)
        face = Path(scratch.name) / "test-face.png"
        Image.fromarray(fer.images[i]).save(face)
        actor = demo / "ravdess" / "Actor_12"
        wav = actor / "03-01-05-02-01-01-12.wav"  # angry, strong
        clip = actor / "02-01-03-02-02-01-12.mp4"  # happy, strong

        from tkinter import messagebox

        def fail(title: str, message: str, **kw) -> None:  # a dialog would wait forever
            raise SystemExit(f"the window showed an error, so no screenshots: {message}")

        messagebox.showerror = fail
        root = tk.Tk()
        app = WorkbenchApp(root, demo_sources())
        idle = app.renderer.idle
        settle(root, lambda: app.loaded is not None and idle())
        if "--leakage" in args:
            given = args[args.index("--leakage") + 1 :][:1]
            leakage_shot(app, root, Path(given[0]) if given else None)
            app.close()
            return 0
        shared = Path(
            os.environ.get("WORKBENCH_SHARED_DATA", OUT.parent.parent / "shared" / "data")
        )
        # Nothing trained yet: a real RAVDESS clip answered by the starter models.
        real_clips = sorted((shared / "ravdess_video").glob("*.mp4"))
        if real_clips and starter_model("fusion") is not None:
            shown = app.predict_view.chart.shown
            app.predict(real_clips[0])
            settle(root, lambda: app.predict_view.chart.shown > shown and idle())
            grab(root, "predict-video-starter")
            # The same take as a webcam or phone video with no sound: the face model alone.
            silent = without_sound(real_clips[0], Path(scratch.name) / "webcam-no-sound.mp4")
            shown = app.predict_view.chart.shown
            app.predict(silent)
            settle(root, lambda: app.predict_view.chart.shown > shown and idle())
            grab(root, "predict-video-no-sound")
            # The starter models' own held-out results, shown before anything is trained.
            app.show_comparison()
            settle(root, idle)
            grab(root, "comparison-starter")
        # Live, with the starter models: a real take standing in for a student.
        live_shot(app, root, "live", shared)
        if starter_only:
            app.close()
            return 0
        app.tabs.select(app.data_view)  # the demo data as the window first shows it
        settle(root, idle)
        grab(root, "main-window-demo")

        app.train("face")
        settle(root, lambda: len(app.training_view.history) >= 4 and idle())
        grab(root, "training-in-progress")
        settle(root, lambda: len(app.trained) == 1 and idle())
        app.train("speech")
        settle(root, lambda: len(app.trained) == 2 and idle())
        # Concat fusion of the demo takes, its branches started from the two models just
        # trained: a few epochs are enough to beat both.
        app.settings.epochs_var.set("4")
        app.train("fusion")
        settle(root, lambda: len(app.trained) == 3 and idle())
        grab(root, "training-fusion")
        app.settings.epochs_var.set("auto")

        face_run = next(  # seven emotions
            r for r in app.runs if r.kind == "face" and not r.starter
        )
        app.results_view.show(face_run)
        app.results_view.normalized.set(True)
        app.results_view._draw()
        app.show_confusion()
        settle(root, idle)
        grab(root, "confusion-matrix")
        app.show_comparison()
        settle(root, idle)
        grab(root, "comparison-graph")

        for name, path in (
            ("predict-image", face),
            ("predict-audio", wav),
            ("predict-video", clip),
        ):
            shown = app.predict_view.chart.shown
            app.predict(path)
            settle(root, lambda s=shown: app.predict_view.chart.shown > s and idle())
            grab(root, name)
        explain_shot(app, root, face)

        # With the real data beside the project: the same window on FER-2013 and RAVDESS,
        # short quick-preset trainings, and the comparison with the human baselines.
        fer, ravdess = shared / "fer2013", shared / "ravdess_speech_16k"
        if fer.is_dir() and ravdess.is_dir():
            real = DataSources(fer, ravdess)
            app.use_sources(real)
            settle(root, lambda: app.sources == real and idle())
            settle(root, lambda: app.tabs.select() == str(app.data_view) and idle())
            grab(root, "main-window-real-data")
            for kind, epochs in (("face", "3"), ("speech", "auto")):
                app.settings.epochs_var.set(epochs)
                n = len(app.trained)
                app.train(kind)
                settle(root, lambda n=n: len(app.trained) > n and idle(), timeout=900)
            app.show_comparison()
            settle(root, idle)
            grab(root, "comparison-real-data")
        else:
            print(f"no real data at {shared}: skipped the real-data screenshots")
        gallery_shots(app, root)
        app.close()
        projector()  # the same runs, on a 1024x768 screen
    finally:
        if xvfb:
            xvfb.terminate()
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
