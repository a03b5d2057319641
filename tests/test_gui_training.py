"""The window trains, stops, compares and predicts on the demo data, and never freezes.

Everything runs the real window on a virtual screen (Xvfb). Training runs on a worker
thread; these tests drive the buttons' methods and read back what the charts hold.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from conftest import ROOT, pump

from training.runs import read_history

MAX_TICK_GAP = 0.150  # seconds: the limit for the Tk event loop while training


pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


@pytest.fixture
def dialogs(monkeypatch):
    """Capture message boxes instead of showing them; ``askyesno`` answers ``answer``."""
    from tkinter import messagebox

    seen = {"errors": [], "questions": [], "answer": False}
    monkeypatch.setattr(messagebox, "showerror", lambda t, m, **kw: seen["errors"].append(m))

    def ask(title, message, **kw):
        seen["questions"].append(message)
        return seen["answer"]

    monkeypatch.setattr(messagebox, "askyesno", ask)
    return seen


@pytest.fixture
def app(display, demo_root, dialogs):
    import tkinter as tk

    from datasets.sources import demo_sources
    from emotion_gui.app import WorkbenchApp

    root = tk.Tk()
    wb = WorkbenchApp(root, demo_sources())
    wb.dialogs = dialogs
    pump(root, lambda: wb.loaded is not None)
    yield wb
    if (job := wb.training_job) is not None:
        job.stop()
        job.thread.join(60)
    try:
        wb.close()
    except Exception:
        pass  # the test closed it already


def run_mainloop(app, until, timeout: float = 120.0) -> list[float]:
    """Run the real Tk main loop until ``until()``; return the gaps between its ticks (s).

    A tick is an ``after(5)`` callback, so a gap is how long the event loop could not
    react: the time a user's click would wait.
    """
    ticks: list[float] = []
    end = time.monotonic() + timeout

    def tick():
        ticks.append(time.monotonic())
        if until() or ticks[-1] > end:
            app.root.quit()
        else:
            app.root.after(5, tick)

    app.root.after(5, tick)
    app.root.mainloop()
    assert until(), "the window did not get there in time"
    return list(np.diff(ticks))


def train_with_button(app, kind: str, epochs: int) -> float:
    """Press Train; return the longest event-loop gap (s) until the run is saved."""
    n = len(app.trained)
    app.settings.epochs_var.set(str(epochs))
    app.buttons[f"train_{kind}"].invoke()
    assert app.tabs.select() == str(app.training_view)
    assert app.buttons[f"train_{kind}"].instate(["disabled"])
    assert app.buttons["stop"].instate(["!disabled"])
    gaps = run_mainloop(app, lambda: len(app.trained) > n)
    settle(app)
    print(f"longest Tk event-loop gap while training: {max(gaps) * 1000:.0f} ms")
    return max(gaps)


def test_training_shows_live_curves_results_and_comparison_without_freezing(app):
    longest = train_with_button(app, "face", 3)
    if longest > MAX_TICK_GAP:
        # These machines are shared; one busy moment elsewhere is not the window's fault.
        # A second training must stay inside the limit (bench/gui_responsiveness.py has
        # the full distribution).
        longest = train_with_button(app, "face", 3)
    assert longest <= MAX_TICK_GAP

    run_dir = app.trained[-1]
    history = read_history(run_dir / "history.csv")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 3]
    lines = app.training_view.lines
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        assert list(lines[key].get_xdata()) == [1, 2, 3]
        np.testing.assert_allclose(lines[key].get_ydata(), [r[key] for r in history], rtol=1e-5)
    assert app.training_view.note_var.get().startswith("Finished. Best epoch")
    assert app.buttons["train_face"].instate(["!disabled"]) and app.buttons["stop"].instate(
        ["disabled"]
    )

    # Results: the run's held-out confusion matrix and its per-class table.
    results = app.results_view
    assert results.run.dir == run_dir
    np.testing.assert_array_equal(results.image.get_array(), metrics["confusion"])
    rows = {iid: results.table.item(iid, "values") for iid in results.table.get_children()}
    assert list(rows) == metrics["classes"]
    for name, row in metrics["per_class"].items():
        assert rows[name][1] == f"{row['recall']:.0%}" and int(rows[name][3]) == row["support"]
    results.normalized.set(True)
    results._draw()
    settle(app)
    shares = np.asarray(metrics["confusion"], float)
    shares /= np.maximum(shares.sum(1, keepdims=True), 1)
    np.testing.assert_allclose(results.image.get_array(), shares)
    assert "held-out test split" in results.summary_var.get().lower()

    # Compare: its curve is the validation history; demo runs get no human baseline.
    app.buttons["compare"].invoke()
    settle(app)
    assert app.tabs.select() == str(app.compare_view)
    curves = app.compare_view.ax_curves.get_lines()
    np.testing.assert_allclose(curves[-1].get_ydata(), [r["val_accuracy"] for r in history])
    assert app.compare_view.baselines == {}
    assert not app.dialogs["errors"]


def test_stop_ends_training_and_keeps_the_best_epoch(app):
    app.settings.epochs_var.set("40")
    app.buttons["train_speech"].invoke()
    run_mainloop(app, lambda: app.training_view.history)  # one epoch finished
    # While it trains: a second training and a change of data are refused.
    app.buttons["train_face"].invoke()  # disabled: does nothing
    app.train("face")
    assert "already training" in app.dialogs["errors"][-1]
    app.use_demo()
    assert "stop it before changing data" in app.dialogs["errors"][-1]
    assert list(app.jobs) == ["train"]

    app.buttons["stop"].invoke()
    assert app.buttons["stop"].instate(["disabled"])
    t0 = time.monotonic()
    run_mainloop(app, lambda: app.trained, timeout=60)
    metrics = json.loads((app.trained[-1] / "metrics.json").read_text())
    assert metrics["stopped"] and 1 <= metrics["epochs_run"] < 40
    assert time.monotonic() - t0 < 60  # one batch, then scoring the best epoch
    assert app.training_view.note_var.get().startswith("Stopped. Best epoch")
    assert app.buttons["train_speech"].instate(["!disabled"])
    assert len(app.dialogs["errors"]) == 2


@pytest.fixture(scope="module")
def trained_runs(demo_root):
    """One quick epoch of each model, trained the way the CLI does."""
    from training.train import TrainOptions, train_model

    return {
        kind: train_model(TrainOptions(kind=kind, data="demo", epochs=1)).run_dir
        for kind in ("face", "speech")
    }


@pytest.fixture(scope="module")
def demo_files(demo_root, tmp_path_factory):
    from PIL import Image

    from datasets.fer2013 import load_fer2013

    folder = tmp_path_factory.mktemp("inputs")
    fer = load_fer2013(demo_root / "fer2013")
    Image.fromarray(fer.images[0]).save(folder / "face.png")
    Image.new("L", (240, 240), 128).save(folder / "wall.png")  # no face anywhere
    (folder / "notes.png").write_text("this is not an image")
    (folder / "silent.wav").write_bytes(b"")
    clip = sorted((demo_root / "ravdess").glob("Actor_01/02-01-*.mp4"))[0]
    return {
        "image": folder / "face.png",
        "wall": folder / "wall.png",
        "notes": folder / "notes.png",
        "empty_wav": folder / "silent.wav",
        "audio": sorted((demo_root / "ravdess").glob("Actor_01/03-01-*.wav"))[0],
        "video": clip,
    }


def settle(app) -> None:
    """Let pending job events and chart drawing finish."""
    pump(app.root, lambda: app.runner.events.empty() and app.renderer.idle())


def predict_and_wait(app, path: Path, **kw) -> None:
    app.predict(path, **kw)
    pump(app.root, lambda: "predict" not in app.jobs)
    settle(app)


def test_open_run_then_predict_image_audio_and_video(app, trained_runs, demo_files):
    for kind in ("face", "speech"):
        app.open_run(trained_runs[kind])
    settle(app)
    assert app.models == {k: trained_runs[k] / "best.pt" for k in ("face", "speech")}
    history = read_history(trained_runs["speech"] / "history.csv")
    assert list(app.training_view.lines["val_loss"].get_ydata()) == pytest.approx(
        [r["val_loss"] for r in history]
    )

    view = app.predict_view
    for kind in ("image", "audio", "video"):
        # The Predict buttons ask for a file, then predict it on a worker thread.
        with patch("tkinter.filedialog.askopenfilename", return_value=str(demo_files[kind])):
            app.buttons[f"predict_{kind}"].invoke()
        pump(app.root, lambda: "predict" not in app.jobs)
        settle(app)
        assert not app.dialogs["errors"], app.dialogs["errors"]
        assert app.tabs.select() == str(view) and view.kind == kind
        assert set(view.bars) == ({"face", "speech", "fused"} if kind == "video" else {kind})
        for bars in view.bars.values():
            assert sum(b.get_width() for b in bars) == pytest.approx(1.0, abs=1e-4)
        model = trained_runs["speech" if kind == "audio" else "face"] / "best.pt"
        assert str(model) in view.header_var.get()
    assert set(view.bars) == {"face", "speech", "fused"}  # both models, and both fused


def test_bad_input_gives_one_sentence_dialogs_and_the_window_goes_on(
    app, trained_runs, demo_files, tmp_path
):
    app.open_run(trained_runs["face"])
    app.open_run(trained_runs["speech"])
    errors = app.dialogs["errors"]
    predict_and_wait(app, demo_files["notes"])
    assert "notes.png" in errors[-1]
    predict_and_wait(app, demo_files["empty_wav"])
    assert "silent.wav" in errors[-1]
    app.predict(tmp_path / "table.xlsx")
    assert "table.xlsx" in errors[-1] and "not an image" in errors[-1]
    app.open_run(tmp_path)
    assert "not a finished run folder" in errors[-1]
    app.settings.epochs_var.set("ten")
    app.train("face")
    assert "Epochs must be a whole number" in errors[-1] and app.training_job is None
    app.settings.epochs_var.set("auto")
    app.settings.lr_var.set("-1")
    app.train("speech")
    assert "Learning rate must be" in errors[-1] and app.training_job is None
    assert len(errors) == 6 and all(e.count(". ") == 0 and e.endswith(".") for e in errors)

    # No face: the window offers the whole image; "no" leaves it, "yes" predicts it.
    predict_and_wait(app, demo_files["wall"])
    assert "wall.png" in app.dialogs["questions"][-1] and app.predict_view.kind is None
    app.dialogs["answer"] = True
    predict_and_wait(app, demo_files["wall"])
    pump(app.root, lambda: "predict" not in app.jobs and app.predict_view.kind == "image")
    assert len(app.dialogs["questions"]) == 2
    assert app.root.winfo_exists() and len(errors) == 6


def test_a_damaged_run_folder_neither_stops_the_window_nor_opens(
    display, demo_root, dialogs, trained_runs, tmp_path, monkeypatch
):
    import shutil as sh
    import tkinter as tk

    from datasets.sources import demo_sources
    from emotion_gui.app import WorkbenchApp

    runs = tmp_path / "runs"
    good = sh.copytree(trained_runs["face"], runs / "20200101-000000-face")
    bad = sh.copytree(trained_runs["face"], runs / "20990101-000000-face")  # the newest
    (bad / "metrics.json").write_text('{"best_epoch": 1, "accuracy": 0.5}')
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(runs))
    root = tk.Tk()
    app = WorkbenchApp(root, demo_sources())
    try:
        assert [r.dir for r in app.runs] == [good]  # the damaged one is skipped
        app.open_run(bad)
        assert (
            "metrics.json' is damaged (it lacks uar" in dialogs["errors"][-1] and len(app.runs) == 1
        )
        assert "face" not in app.models
    finally:
        app.close()


def test_a_chart_that_fails_becomes_a_dialog(app, demo_root, tmp_path):
    view = app.data_view
    clip = view.clips[3]
    broken = tmp_path / clip.path.name
    broken.write_bytes(b"RIFF....WAVEfmt garbage")
    view.clips[3] = dataclasses.replace(clip, path=broken)
    view.recording.current(3)
    view.show_recording()
    settle(app)
    assert len(app.dialogs["errors"]) == 1 and broken.name in app.dialogs["errors"][0]
    view.recording.current(4)  # the next recording still draws
    view.show_recording()
    settle(app)
    assert view.ax_wave.get_title().startswith(view.clips[4].path.name)


def test_devices_this_machine_lacks_are_disabled(app):
    from training.device import available_devices

    for name, present in available_devices().items():
        assert app.settings.device_buttons[name].instate(["!disabled"]) == present


def test_keyboard_shortcuts_switch_views(app):
    app.root.focus_force()
    pump(app.root, lambda: True)
    app.root.event_generate("<Control-g>", when="tail")
    pump(app.root, lambda: app.tabs.select() == str(app.compare_view), timeout=5)
    app.root.event_generate("<Control-m>", when="tail")
    pump(app.root, lambda: app.tabs.select() == str(app.results_view), timeout=5)


@pytest.mark.skipif(not shutil.which("xdotool"), reason="xdotool is not installed")
def test_closing_the_window_mid_training_exits_cleanly(display, demo_root, tmp_path):
    """The real program: F5 starts training, Ctrl+Q closes the window in epoch 2."""
    runs = tmp_path / "runs"
    env = {**os.environ, "WORKBENCH_RUNS_DIR": str(runs)}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "workbench.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The title names the data once it is loaded.
        window = subprocess.run(
            ["xdotool", "search", "--sync", "--name", "Emotion Workbench.*built-in synthetic"],
            capture_output=True,
            text=True,
            timeout=90,
        ).stdout.split()[0]

        def key(name: str) -> None:
            subprocess.run(["xdotool", "windowfocus", "--sync", window], timeout=10, check=True)
            subprocess.run(["xdotool", "key", name], timeout=10, check=True)

        key("F5")
        end = time.monotonic() + 90
        while not list(runs.glob("*/history.csv")):  # the first epoch has finished
            assert proc.poll() is None and time.monotonic() < end, proc.stderr.read()
            time.sleep(0.2)
        key("ctrl+q")
        t0 = time.monotonic()
        proc.wait(timeout=60)
        seconds = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert proc.returncode == 0 and "Traceback" not in err, err
    (run_dir,) = runs.iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["stopped"] and metrics["best_epoch"] >= 1  # the trained epoch was kept
    assert seconds < 60


def test_comparison_draws_human_baselines_for_real_data_runs_only(app, trained_runs):
    from training.runs import HUMAN_BASELINES, load_run

    demo_face = load_run(trained_runs["face"])
    real_face = dataclasses.replace(
        demo_face,
        dir=demo_face.dir / "as-if-real",
        config={**demo_face.config, "data": {"path": "/data/fer2013"}},
    )
    app.compare_view.show([demo_face])
    settle(app)
    assert app.compare_view.baselines == {}
    app.compare_view.show([demo_face, real_face])
    settle(app)
    name, value = HUMAN_BASELINES["face"]
    assert app.compare_view.baselines == {name: value}
    drawn = [line for line in app.compare_view.ax_bars.get_lines() if line.get_label() == name]
    assert len(drawn) == 1 and list(drawn[0].get_ydata()) == [value, value]
