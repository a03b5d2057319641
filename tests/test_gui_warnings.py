"""The Predict tab shows a prediction's warnings with it, and a demo-trained model's answer
to a real file beside the starter model's, with a line on why they differ.

The window runs on a virtual screen (Xvfb); a "demo-trained" model is a copy of the face
starter model marked as trained on the demo data (see tests/test_warnings.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED_DATA, needs_shared, pump
from PIL import Image
from test_warnings import PRETRAINED, as_demo_trained, blur, sharp_face, speech_like

from training.runs import STARTER_FILES

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


@pytest.fixture
def app(display, fer_csv, ravdess_dir, monkeypatch, tmp_path):
    """The window with the starter models in pretrained/ and no runs of its own."""
    import tkinter as tk
    from tkinter import messagebox

    from datasets.sources import DataSources
    from emotion_gui.app import WorkbenchApp

    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(PRETRAINED))
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "no-runs"))
    errors: list[str] = []
    monkeypatch.setattr(messagebox, "showerror", lambda title, msg, **kw: errors.append(msg))
    root = tk.Tk()
    root.geometry("1280x800")
    wb = WorkbenchApp(root, DataSources(fer_csv.parent, ravdess_dir))
    wb.errors = errors
    pump(root, lambda: wb.loaded is not None and wb.renderer.idle())
    yield wb
    if root.winfo_exists():
        wb.close()


def predict_and_wait(app, path) -> None:
    view = app.predict_view
    before = view.shown
    app.predict(path)
    pump(
        app.root, lambda: "predict" not in app.jobs and app.renderer.idle() and view.shown > before
    )
    app.root.update()


def test_demo_model_on_a_real_photo_shows_the_starter_beside_it(app, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(sharp_face()).save(photo)
    app.models["face"] = as_demo_trained("face", tmp_path)
    predict_and_wait(app, photo)
    view = app.predict_view
    assert not app.errors, app.errors
    assert view.warnings_label.winfo_ismapped() and view.lesson_label.winfo_ismapped()
    assert view.warnings_var.get().startswith(
        "Warning: The face model was trained on the built-in synthetic demo data"
    )
    assert view.lesson_var.get().startswith("Why the answers differ: your face model learned")
    # The two answers side by side: the demo-trained model's and the starter model's.
    pred = view.prediction
    assert set(view.bars) == {"image", "starter"}
    assert pred.starter.model == str(PRETRAINED / STARTER_FILES["face"])
    for name, probs in (("image", pred.probabilities), ("starter", pred.starter.probabilities)):
        assert [b.get_width() for b in view.bars[name]] == pytest.approx(list(probs.values()))
    titles = [ax.get_title() for ax in view.figure.axes]
    assert any(t.startswith("Starter model: ") and "learned from real data" in t for t in titles)
    assert "1 warning above the chart" in app.status_var.get()


def test_warnings_show_with_the_prediction_and_go_when_there_are_none(app, tmp_path):
    view = app.predict_view
    blurred = tmp_path / "blurred.png"
    Image.fromarray(blur(sharp_face())).save(blurred)
    predict_and_wait(app, blurred)  # the starter model: no demo warning, a blurred face
    assert view.warnings_label.winfo_ismapped() and not view.lesson_label.winfo_ismapped()
    assert view.warnings_var.get().startswith("Warning: The face is blurred (sharpness ")
    assert set(view.bars) == {"image"} and view.prediction.starter is None

    voice = tmp_path / "voice.wav"
    sf.write(voice, speech_like(), 16_000)
    predict_and_wait(app, voice)
    assert view.kind == "audio" and view.prediction.warnings == []
    assert not view.warnings_label.winfo_ismapped() and view.warnings_var.get() == ""
    assert not app.errors, app.errors


def test_a_quiet_recording_to_a_demo_model_gives_both_warnings_and_both_answers(app, tmp_path):
    voice = tmp_path / "quiet.wav"
    sf.write(voice, speech_like(level_db=-75.0), 16_000, subtype="FLOAT")
    app.models["speech"] = as_demo_trained("speech", tmp_path)
    predict_and_wait(app, voice)
    view = app.predict_view
    lines = view.warnings_var.get().splitlines()
    assert len(lines) == 2 and "speech model was trained on" in lines[0]
    assert "is very quiet (speech at -75 dBFS" in lines[1]
    assert set(view.bars) == {"audio", "starter"}
    widths = [b.get_width() for b in view.bars["starter"]]
    assert widths == pytest.approx(list(view.prediction.starter.probabilities.values()))
    assert np.isclose(sum(widths), 1.0)


@needs_shared
def test_a_real_clip_to_a_demo_face_model_shows_the_starters_fused_answer_too(
    display, monkeypatch, tmp_path
):
    import tkinter as tk

    from emotion_gui.charts import ChartRenderer
    from emotion_gui.predict_view import PredictView
    from training.predict import predict_video
    from training.second_opinion import compare_with_starter

    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(PRETRAINED))
    clip = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))[0]
    pred = compare_with_starter(
        predict_video(
            clip,
            face_model=as_demo_trained("face", tmp_path),
            speech_model=PRETRAINED / STARTER_FILES["speech"],
            fusion_model=PRETRAINED / STARTER_FILES["fusion"],
        )
    )
    root = tk.Tk()
    root.geometry("1280x800")
    renderer = ChartRenderer(root)
    try:
        view = PredictView(root, renderer)
        view.pack(fill=tk.BOTH, expand=True)
        view.show(pred)
        pump(root, lambda: renderer.idle() and view.shown == 1)
        root.update()
        assert set(view.bars) == {"face", "speech", "fused", "starter"}
        widths = [b.get_width() for b in view.bars["starter"]]
        assert widths == pytest.approx(list(pred.starter.probabilities.values()))
        assert view.lesson_var.get().startswith("Why the answers differ: your face model")
        assert view.warnings_label.winfo_ismapped() and view.lesson_label.winfo_ismapped()
        assert len(view.figure.axes) == 8 + 1 + 4  # frames, timeline, four bar charts
    finally:
        renderer.close()
        root.destroy()
