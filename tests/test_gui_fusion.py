"""Train Fusion Model in the window: it trains on the demo takes, joins Results and Compare,
and a video's prediction then shows the fused answer beside the face and speech results.

One window on the three-actor demo set and one fusion training (one epoch, seconds) serve
the whole module.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict

import numpy as np
import pytest
from conftest import pump
from test_cli_training import runs  # noqa: F401  (tiny face and speech runs to start from)
from test_gui_training import run_mainloop, settle

from datasets.labels import FER_CLASSES, RAVDESS_EMOTIONS
from datasets.paired import PAIRED_NOTE
from training.fusion_data import PAIRING_NOTES
from training.runs import HUMAN_BASELINES, load_run

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


@pytest.fixture(scope="module")
def window(display, small_demo, runs, tmp_path_factory):  # noqa: F811
    """The window on the small demo data set, its runs in a folder of their own (so no
    other test module meets this module's fusion model), with a face and a speech run
    opened."""
    import tkinter as tk
    from tkinter import messagebox

    from datasets.sources import DataSources
    from emotion_gui.app import WorkbenchApp

    errors: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_RUNS_DIR", str(tmp_path_factory.mktemp("fusion-runs")))
        mp.setattr(messagebox, "showerror", lambda title, msg, **kw: errors.append(msg))
        root = tk.Tk()
        app = WorkbenchApp(
            root, DataSources(small_demo / "fer2013", small_demo / "ravdess", True, True)
        )
        app.errors = errors
        pump(root, lambda: app.loaded is not None, timeout=120)
        app.open_run(runs["face"])
        app.open_run(runs["speech"])
        yield app
        if (job := app.training_job) is not None:
            job.stop()
            job.thread.join(60)
        app.close()


@pytest.fixture(scope="module")
def pressed(window):
    """Train Fusion Model pressed once (one epoch, the default design and pairing): what
    the window showed while it trained, and the run folder it made."""
    app = window
    app.settings.epochs_var.set("1")
    app.buttons["train_fusion"].invoke()
    during = {
        "tab": app.tabs.select(),
        "title": app.training_view.title_var.get(),
        "disabled": [k for k in app.buttons if app.buttons[k].instate(["disabled"])],
    }
    run_mainloop(app, lambda: app.trained, timeout=300)
    settle(app)
    return {"during": during, "run_dir": app.trained[-1]}


def test_train_fusion_model_button_trains_and_the_run_is_listed_and_compared(window, pressed):
    app, run_dir = window, pressed["run_dir"]
    during = pressed["during"]
    assert during["tab"] == str(app.training_view)
    assert sorted(during["disabled"]) == ["train_face", "train_fusion", "train_speech"]
    assert during["title"].startswith(
        "Training the Fusion model, concat 4:1 (Ristea et al. 2019), on "
    )
    assert "audio-video takes of built-in synthetic demo data" in during["title"]
    assert "starting from the Facial CNN and Speech CNN" in during["title"]
    assert not app.errors, app.errors

    # The run: concat on takes, its branches started from the two opened models.
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (config["kind"], config["fusion"], config["pairing"]) == ("fusion", "concat", "takes")
    assert config["options"]["face_model"] == str(app.models["face"])
    assert config["options"]["speech_model"] == str(app.models["speech"])
    assert metrics["epochs_run"] == 1 and metrics["classes"] == list(RAVDESS_EMOTIONS)
    assert app.buttons["train_fusion"].instate(["!disabled"])
    assert app.models["fusion"] == run_dir / "best.pt"  # videos now use it

    # Results: listed by design and pairing, with its held-out score and what its pairs are.
    results = app.results_view
    assert results.run.dir == run_dir
    label = f"Fusion concat (takes) · {run_dir.name}"
    assert results.choice.get() == label
    summary = results.summary_var.get()
    assert summary.startswith(label) and PAIRING_NOTES["takes"] in summary
    assert f"accuracy {metrics['accuracy']:.1%}" in summary and "test split" in summary
    np.testing.assert_array_equal(results.image.get_array(), metrics["confusion"])

    # Compare: its bars are the held-out accuracy and UAR. Human baselines come from the
    # face and speech runs (their tiny data is not the demo's); fusion adds none.
    app.show_comparison()
    settle(app)
    compare = app.compare_view
    assert compare.runs[-1].dir == run_dir
    assert compare.baselines == dict(HUMAN_BASELINES.values())
    ticks = [t.get_text() for t in compare.ax_bars.get_xticklabels()]
    assert " ".join(ticks[-1].split()).startswith("Fusion concat (takes) demo, ")
    accuracy, uar = (bars.datavalues[-1] for bars in compare.ax_bars.containers)
    assert (accuracy, uar) == pytest.approx((metrics["accuracy"], metrics["uar"]))


@pytest.fixture(scope="module")
def clip(small_demo):
    return small_demo / "ravdess" / "Actor_03" / "02-01-03-02-02-01-03.mp4"  # the test actor


@pytest.fixture(scope="module")
def predicted(window, pressed, clip):
    """The clip predicted in the window once the fusion model is trained."""
    window.predict(clip)
    pump(window.root, lambda: "predict" not in window.jobs, timeout=120)
    settle(window)
    return window.predict_view.prediction


def test_video_prediction_shows_the_fused_answer_beside_face_and_speech(
    window, pressed, predicted, clip
):
    app, run_dir, pred = window, pressed["run_dir"], predicted
    assert not app.errors, app.errors
    view = app.predict_view
    assert view.prediction is pred
    assert app.tabs.select() == str(view) and view.kind == "video"
    fused = asdict(pred.fused)
    assert fused["model"] == str(run_dir / "best.pt") and fused["method"] == "concat fusion (takes)"

    assert set(view.bars) == {"face", "speech", "fused"}
    assert list(view.timeline) == list(FER_CLASSES)  # the face model, frame by frame
    for name, probs in (
        ("face", pred.face.mean),
        ("speech", pred.speech.probabilities),
        ("fused", fused["probabilities"]),
    ):
        assert [b.get_width() for b in view.bars[name]] == pytest.approx(list(probs.values()))
    # A takes model answers in the eight RAVDESS emotions, the face model in FER's seven.
    assert list(fused["probabilities"]) == list(RAVDESS_EMOTIONS)
    ax_fused = view.bars["fused"].patches[0].axes
    assert [t.get_text() for t in ax_fused.get_yticklabels()] == list(RAVDESS_EMOTIONS)
    assert ax_fused.get_title().startswith(f"Fused: {pred.top} (")
    assert ax_fused.get_xlabel() == "concat fusion (takes)"

    header = view.header_var.get()
    assert header.startswith(f"{clip.name}: {pred.top} (")
    assert f"Fused by concat fusion (takes) — {PAIRING_NOTES['takes']}" in header
    assert f"Fusion model: {run_dir / 'best.pt'} — trained on " in header
    assert "needs a fusion model" not in header


def test_a_class_paired_run_says_so_in_results_compare_and_predictions(window, pressed, predicted):
    app = window
    # The same run as if trained on class pairs (the real speech data has no clips).
    takes = load_run(pressed["run_dir"])
    config = {
        **takes.config,
        "pairing": "class",
        "data": {**takes.config["data"], "note": PAIRED_NOTE},
    }
    paired = dataclasses.replace(takes, dir=takes.dir / "as-if-class", name="paired", config=config)
    app.results_view.set_runs([takes, paired])
    assert app.results_view.choice.get() == "Fusion concat (class) · paired"
    assert f"demo data — {PAIRED_NOTE}." in app.results_view.summary_var.get()
    app.compare_view.show([takes, paired])
    settle(app)
    assert PAIRED_NOTE in app.compare_view.note_var.get()

    view, pred = app.predict_view, predicted
    fused = dataclasses.replace(pred.fused, method="concat fusion (class)", note=PAIRED_NOTE)
    view.show(dataclasses.replace(pred, fused=fused))
    settle(app)
    assert f"Fused by concat fusion (class) — {PAIRED_NOTE}" in view.header_var.get()
    ax_fused = view.bars["fused"].patches[0].axes
    assert ax_fused.get_xlabel() == f"concat fusion (class)\n{PAIRED_NOTE}"
