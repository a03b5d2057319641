"""Starter-model export: the packed file, its model card, its recipe, and the training-image
fingerprints that let ``evaluate`` tell held-out images from trained-on ones."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, fer_rows, write_fer_csv

from datasets.fer2013 import count_seen, fingerprints
from training.checkpoint import load_checkpoint
from training.export import data_label, export_starter, recipe_command
from training.train import TrainOptions, evaluate_checkpoint, train_model


@pytest.fixture(scope="module")
def fer_train_csv(tmp_path_factory):
    """A FER-2013 CSV with Training rows only: the model carves its own validation split."""
    path = tmp_path_factory.mktemp("fer") / "fer2013.csv"
    return write_fer_csv(path, fer_rows(10), "emotion,pixels,Usage")


@pytest.fixture(scope="module")
def face_starter(fer_train_csv, tmp_path_factory):
    base = tmp_path_factory.mktemp("starter")
    run = base / "run"
    train_model(TrainOptions(kind="face", data=str(fer_train_csv), epochs=1, out=str(run)))
    out = base / "pretrained" / "face_fer2013.pt"
    card = export_starter(run, out, notes="Random pixels: nothing to learn.")
    return run, out, card


def test_fingerprints_match_identical_pixels_only():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 48, 48), dtype=np.uint8)
    prints = fingerprints(images)
    assert len(prints) == 5 and prints.dtype == np.int64 and (np.diff(prints) > 0).all()
    assert count_seen(images[[0, 3]], prints) == 2
    changed = images[:1].copy()
    changed[0, 0, 0] ^= 1  # one pixel differs
    assert count_seen(changed, prints) == 0
    assert len(fingerprints(np.concatenate([images, images]))) == 5  # duplicates collapse


def test_export_keeps_weights_and_drops_training_state(face_starter):
    run, out, _ = face_starter
    starter = torch.load(out, map_location="cpu", weights_only=True)
    assert "optimizer" not in starter and starter["kind"] == "face"
    assert starter["split"]["label"] == "FER-2013 training images"
    assert starter["starter"]["recipe"].startswith("python workbench.py train face --data ")
    loaded, original = load_checkpoint(out), load_checkpoint(run)
    x = torch.rand(4, 1, 48, 48)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), original.model(x))
    assert out.stat().st_size < (run / "last.pt").stat().st_size  # no optimiser state


def test_model_card_has_split_recipe_metrics_confusion_and_licence(face_starter):
    run, out, card = face_starter
    text = card.read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    assert card == out.with_suffix(".md")
    assert "stratified 10% of training" in text
    assert f"python workbench.py export RUN_DIR pretrained/{out.name}" in text
    assert f"Accuracy **{metrics['accuracy']:.1%}**" in text
    assert "| true \\ predicted | angry | disgust |" in text
    rows = [line for line in text.splitlines() if line.startswith("| angry |")]
    assert rows and rows[0].count("|") == 7 + 3  # seven counts and the recall
    assert "research use" in text and "Random pixels: nothing to learn." in text
    assert "most often taken for" in text


def test_evaluate_counts_the_images_a_starter_model_trained_on(face_starter, fer_train_csv):
    _, out, _ = face_starter
    val = evaluate_checkpoint(out, str(fer_train_csv), split="val")
    assert val["seen_in_training"] == 0 and val["held_out"] is True
    every = evaluate_checkpoint(out, str(fer_train_csv), split="all")
    assert every["n_items"] == 70
    assert every["seen_in_training"] == 70 - val["n_items"]
    assert every["held_out"] is False


def test_recipe_parses_back_to_the_same_training_options(face_starter):
    run, _, _ = face_starter
    options = json.loads((run / "config.json").read_text())["options"]
    words = recipe_command(options).split()
    assert words[:3] == ["python", "workbench.py", "train"]
    sys.path.insert(0, str(ROOT))
    import workbench

    args = workbench.build_parser().parse_args(words[2:])
    assert args.kind == "face" and args.data == [options["data"]] and args.epochs == 1


def test_recipe_of_a_fusion_run_names_its_design_pairing_and_branches():
    options = {
        "kind": "fusion",
        "data": ["fer", "ravdess"],
        "preset": "quick",
        "fusion": "late",
        "pairing": "class",
        "calm": "drop",
        "face_model": "pretrained/face_fer2013.pt",
        "speech_model": None,
        "epochs": 5,
        "fraction": 1.0,
        "seed": 0,
    }
    assert recipe_command(options) == (
        "python workbench.py train fusion --data fer ravdess --fusion late --pairing class "
        "--face-model pretrained/face_fer2013.pt --epochs 5"
    )


def test_cli_export_refuses_a_file_name_without_pt(face_starter, tmp_path):
    run, _, _ = face_starter
    proc = subprocess.run(
        [sys.executable, str(ROOT / "workbench.py"), "export", str(run), str(tmp_path / "m.bin")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "must end in .pt" in proc.stderr and "Traceback" not in proc.stderr


def test_speech_starter_names_its_actors_and_licence(ravdess_dir, tmp_path):
    run = tmp_path / "run"
    train_model(TrainOptions(kind="speech", data=str(ravdess_dir), epochs=1, out=str(run)))
    out = tmp_path / "speech_ravdess.pt"
    text = export_starter(run, out).read_text()
    assert load_checkpoint(out).payload["split"]["label"] == "RAVDESS speech, actors 1"
    assert "CC BY-NC-SA 4.0" in text and "by actor — train 1, validation 2, test 3" in text
    every = evaluate_checkpoint(out, str(ravdess_dir), split="all")
    test = evaluate_checkpoint(out, str(ravdess_dir), split="test")
    assert every["held_out"] is False and test["held_out"] is True
    assert "seen_in_training" not in every  # actors, not fingerprints, decide for speech


def test_data_labels_say_what_a_starter_learned_from():
    actors = {"actors": {"train": [1, 2, 3, 4, 7], "val": [8], "test": [9]}, "is_demo": False}
    assert data_label("speech", actors) == "RAVDESS speech, actors 1-4, 7"
    assert data_label("fusion", {**actors, "pairing": "class"}) == (
        "FER-2013 faces + RAVDESS speech, actors 1-4, 7, paired by emotion"
    )
    assert (
        data_label("fusion", {**actors, "pairing": "takes"})
        == "RAVDESS audio-video takes, actors 1-4, 7"
    )
    assert data_label("face", {"is_demo": True}) == "built-in synthetic demo data"


def test_a_starter_model_carries_its_run_for_the_window(face_starter, monkeypatch):
    from training.runs import load_starter

    run, out, _ = face_starter
    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(out.parent))
    shown = load_starter("face")
    assert shown.starter and shown.model == out and shown.kind == "face"
    assert shown.name == "starter face_fer2013.pt"
    assert shown.config["data"]["path"] == "FER-2013 training images"  # not a local path
    fresh = evaluate_checkpoint(
        out, str(json.loads((run / "config.json").read_text())["data"]["path"]), split="val"
    )
    assert shown.metrics["accuracy"] == fresh["accuracy"]
    assert shown.metrics["confusion"] == fresh["confusion"]
    assert shown.metrics["best_epoch"] == 1 and len(shown.history) == 1
    assert load_starter("speech") is None  # none shipped in that folder
