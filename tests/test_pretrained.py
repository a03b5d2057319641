"""The starter models in pretrained/: they ship, load, stay small, carry a full model card,
answer by default when nothing has been trained, and keep their held-out accuracy.

The accuracy checks use the real data in ../shared/data and skip without it. Their
thresholds sit a few points under the accuracy measured when the model was exported (in
each model card), so a broken loader, preprocessing change or damaged file fails them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, SHARED_DATA, needs_shared

from training.checkpoint import load_checkpoint
from training.runs import STARTER_FILES

PRETRAINED = ROOT / "pretrained"
FACE = PRETRAINED / STARTER_FILES["face"]
SPEECH = PRETRAINED / STARTER_FILES["speech"]
FUSION = PRETRAINED / STARTER_FILES["fusion"]
STARTERS = {"face": FACE, "speech": SPEECH, "fusion": FUSION}

# Measured at export (model cards) minus a margin: 500 validation faces, 180 test clips.
FACE_SLICE_MIN = 0.64  # measured 67.2% (all 2,872: 69.4%)
SPEECH_TEST_MIN = 0.50  # cross-validated 54.4% (pooled over the 18 actors)


@pytest.fixture
def with_starters(monkeypatch, tmp_path):
    """The real pretrained/ folder (the test session otherwise hides it) and no runs."""
    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(PRETRAINED))
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "no-runs"))


@pytest.mark.parametrize("kind", list(STARTERS))
def test_starter_model_ships_small_with_a_complete_card(kind):
    path = STARTERS[kind]
    assert path.is_file(), f"{path} is missing"
    assert path.stat().st_size < 10e6
    loaded = load_checkpoint(path, kind=kind)
    assert "optimizer" not in loaded.payload
    card = path.with_suffix(".md").read_text(encoding="utf-8")
    for needed in (
        "## Data and split",
        "## Recipe",
        "python workbench.py train " + kind,
        f"python workbench.py export RUN_DIR pretrained/{path.name}",
        "## Device and time",
        "## Held-out metrics",
        "| true \\ predicted |",
        "## Where it fails, and why",
        "## Licence",
    ):
        assert needed in card, f"{path.with_suffix('.md').name} lacks {needed!r}"
    assert ("research use" in card) if kind != "speech" else ("CC BY-NC-SA 4.0" in card)


def test_starters_answer_when_nothing_is_trained(with_starters, tmp_path):
    import soundfile as sf
    from conftest import tone
    from PIL import Image

    from training.predict import predict_audio, predict_image

    photo = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), np.uint8)).save(photo)
    wav = tmp_path / "voice.wav"
    sf.write(wav, tone(2.0, 16_000), 16_000)
    image = predict_image(photo, detect=False)
    audio = predict_audio(wav)
    assert image.model == str(FACE) and image.trained_on == "FER-2013 training images"
    assert audio.model == str(SPEECH) and audio.trained_on.startswith("RAVDESS speech")
    for pred in (image, audio):
        assert abs(sum(pred.probabilities.values()) - 1) < 1e-6


def test_the_window_names_a_starter_model(with_starters):
    from training.wording import model_name

    assert model_name(str(FACE)).startswith("starter model face_fer2013.pt")
    assert model_name("/somewhere/runs/x/best.pt") == "/somewhere/runs/x/best.pt"


@pytest.mark.parametrize("layout", ["csv", "folders"])
def test_cli_evaluate_all_on_any_fer_layout(layout, tmp_path, fer_csv):
    from conftest import write_fer_folders

    data = (
        fer_csv if layout == "csv" else write_fer_folders(tmp_path / "k", {"train": 2, "test": 1})
    )
    out = _cli("evaluate", str(FACE), "--data", str(data), "--split", "all", "--json")
    metrics = json.loads(out)
    assert metrics["n_items"] == (49 if layout == "csv" else 21)
    assert metrics["seen_in_training"] == 0 and metrics["held_out"] is True
    assert sum(sum(row) for row in metrics["confusion"]) == metrics["n_items"]


def test_cli_evaluate_all_on_a_ravdess_folder_says_it_holds_training_actors(ravdess_dir):
    metrics = json.loads(
        _cli("evaluate", str(SPEECH), "--data", str(ravdess_dir), "--split", "all", "--json")
    )
    assert metrics["n_items"] == 18 and metrics["held_out"] is False  # actors 1-3 trained on


def _cli(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "workbench.py"), *args], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# ----------------------------------------------------------------- real data


@needs_shared
def test_face_starter_on_a_fixed_500_image_validation_slice():
    from datasets.fer2013 import FER2013
    from training.data import TensorSet
    from training.metrics import evaluate_model

    loaded = load_checkpoint(FACE, kind="face")
    split = loaded.payload["split"]
    val = FER2013(
        SHARED_DATA / "fer2013" / "train",
        "val",
        val_fraction=split["val_fraction"],
        seed=split["seed"],
    )
    # 500 evenly spaced items of the fixed split: every emotion in its share.
    idx = np.linspace(0, len(val) - 1, 500).round().astype(int)
    images, labels = val.images[idx], val.labels[idx]
    metrics = evaluate_model(loaded.model, TensorSet(images, labels), loaded.classes)
    assert metrics["n_items"] == 500
    assert metrics["accuracy"] >= FACE_SLICE_MIN, metrics["accuracy"]


@needs_shared
def test_speech_starter_on_its_held_out_actors():
    from training.train import evaluate_checkpoint

    # The starter is six cross-validation models averaged: each is scored on the three
    # actors it never heard, which together are all 18.
    metrics = evaluate_checkpoint(SPEECH, SHARED_DATA / "ravdess_speech_16k")
    assert metrics["split"] == "cv" and metrics["held_out"] is True
    assert sorted(a for f in metrics["folds"] for a in f["test_actors"]) == list(range(1, 19))
    assert metrics["n_items"] == 1080  # 18 actors x 60 recordings
    assert metrics["accuracy"] >= SPEECH_TEST_MIN, metrics["accuracy"]


@needs_shared
def test_starters_predict_the_shared_real_samples(with_starters):
    from training.predict import predict_audio, predict_video

    wav = sorted((SHARED_DATA / "ravdess_wav48k_samples").rglob("*.wav"))[0]
    clip = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))[0]
    audio = predict_audio(wav)
    video = predict_video(clip)
    assert audio.model == str(SPEECH)
    assert video.fused.model == str(FUSION)
    assert video.face.model == str(FACE)
    for probs in (audio.probabilities, video.probabilities):
        assert abs(sum(probs.values()) - 1) < 1e-6


@needs_shared
def test_evaluate_all_of_the_shared_fer_counts_the_starters_training_images(monkeypatch):
    import models.face
    from training.train import evaluate_checkpoint

    # This test is about counting the images the model trained on, not its accuracy: one
    # view per face instead of ten keeps 28,709 faces to seconds on a CPU.
    monkeypatch.setattr(models.face, "tta_views", lambda x: x[None])

    metrics = evaluate_checkpoint(FACE, SHARED_DATA / "fer2013" / "train", split="all")
    assert metrics["n_items"] == 28_709
    assert metrics["held_out"] is False
    # Everything but the model's own validation hold-out (2,872) was trained on; the odd
    # validation image may have an exact duplicate (with another label) in training.
    assert 25_837 <= metrics["seen_in_training"] < 25_837 + 50


def test_the_window_shows_the_starters_results_until_something_is_trained(
    with_starters, display, fer_csv, ravdess_dir, tk_garbage_module, tk_garbage
):
    import tkinter as tk

    from conftest import pump

    from datasets.sources import DataSources
    from emotion_gui.app import WorkbenchApp

    root = tk.Tk()
    app = WorkbenchApp(root, DataSources(fer_csv.parent, ravdess_dir))
    try:
        pump(root, lambda: app.loaded is not None and app.renderer.idle())
        assert [r.model for r in app.runs] == [FACE, SPEECH, FUSION]
        assert [r.model for r in app.compare_view.runs] == [FACE, SPEECH, FUSION]
        face = app.runs[0]
        app.results_view.show(face)
        summary = app.results_view.summary_var.get()
        assert summary.startswith(
            "Facial CNN · starter face_fer2013.pt on FER-2013 training images"
        )
        assert f"accuracy {face.metrics['accuracy']:.1%}" in summary
        assert "face_fer2013.md in pretrained/" in summary
        app._run_chosen(app.runs[1])
        assert app.models["speech"] == SPEECH
    finally:
        app.close()
