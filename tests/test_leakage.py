"""The leakage lesson: a random split by file against the split by actor (speech), and
FER-2013's duplicate images scored apart (faces), on tiny fake data; the CLI and the
window's button."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from conftest import fer_rows, pump, write_fer_csv, write_ravdess

import workbench
from datasets.fer2013 import fingerprints, seen_mask
from datasets.ravdess import random_file_split, scan_ravdess, speech_audio
from training.leakage import leakage
from training.options import TrainOptions


@pytest.fixture
def six_actors(tmp_path):
    """Six actors (the default split: test 6, validation 5), three emotions, 6 files each."""
    return write_ravdess(tmp_path / "ravdess", actors=range(1, 7), emotions=(1, 3, 5))


def test_random_file_split_is_stratified_sized_and_seeded(six_actors):
    clips = speech_audio(scan_ravdess(six_actors).clips)
    split = random_file_split(clips, 6, 6, seed=3)
    assert [len(split[s]) for s in ("train", "val", "test")] == [24, 6, 6]
    assert sorted(c.path for s in split.values() for c in s) == sorted(c.path for c in clips)
    # Two files of each of the three emotions in a split of six: stratified.
    assert Counter(c.emotion for c in split["test"]) == {1: 2, 3: 2, 5: 2}
    assert split == random_file_split(clips, 6, 6, seed=3)
    assert split != random_file_split(clips, 6, 6, seed=4)


def test_speech_lesson_random_split_shares_actors_the_actor_split_does_not(six_actors, tmp_path):
    out = tmp_path / "lesson"
    got = leakage(TrainOptions(kind="speech", data=str(six_actors), epochs=1), out=out)
    for split in ("random", "actor"):
        r = got[split]
        assert math.isfinite(r["accuracy"]) and math.isfinite(r["uar"])
        assert r["n_test"] == 6 and r["n_train"] == 24  # same sizes on both sides
    random_actors, actor_actors = got["random"]["actors"], got["actor"]["actors"]
    assert set(random_actors["train"]) & set(random_actors["test"])
    assert actor_actors["test"] == [6]
    assert not set(actor_actors["train"]) & set(actor_actors["test"])

    # The split is recorded with each run; the split by actor is the ordinary one.
    random_cfg = json.loads((out / "random" / "config.json").read_text())
    actor_cfg = json.loads((out / "actor" / "config.json").read_text())
    assert random_cfg["options"]["random_split"] is True
    assert random_cfg["data"]["random_split"]["actors"]["test"] == random_actors["test"]
    # A model that heard every actor must not pass as one that held some out.
    assert random_cfg["data"]["actors"] == {"train": [1, 2, 3, 4, 5, 6], "val": [], "test": []}
    assert actor_cfg["options"]["random_split"] is False
    assert "random_split" not in actor_cfg["data"]

    saved = json.loads((out / "results.json").read_text())
    assert set(saved) >= {"random", "actor", "gap", "explanation"}
    assert saved["random"]["n_test"] == got["random"]["n_test"]
    assert "voice" in (out / "explanation.md").read_text()
    assert (out / "leakage.png").stat().st_size > 10_000


def test_face_lesson_scores_the_duplicates_apart(tmp_path):
    rows = fer_rows(10)
    # Each class's first five images twice: copies that a random hold-out can split.
    copies = [r for i, r in enumerate(rows) if i % 10 < 5]
    csv = write_fer_csv(tmp_path / "fer.csv", rows + copies, "emotion,pixels,Usage")
    out = tmp_path / "lesson"
    got = leakage(TrainOptions(kind="face", data=str(csv), epochs=1), out=out)

    from training.tasks import task_for
    from training.tasks.base import DataSettings

    reader = task_for("face").read([csv], DataSettings(random_split=True))
    train, val = reader.split("train"), reader.split("val")
    expected = int(seen_mask(val.x.numpy(), fingerprints(train.x.numpy())).sum())
    assert got["n_duplicates"] == expected > 0
    every, rest, dup = (
        got[s] for s in ("with_duplicates", "without_duplicates", "duplicates_only")
    )
    assert every["n_test"] == len(val) == rest["n_test"] + dup["n_test"]
    assert dup["n_test"] == expected
    for subset in (every, dup):
        assert math.isfinite(subset["accuracy"]) and math.isfinite(subset["uar"])
    config = json.loads((out / "random" / "config.json").read_text())
    assert config["data"]["random_split"] is True
    assert "by position" in config["data"]["validation"]
    assert (out / "leakage.png").is_file() and "copies" in got["explanation"]


@pytest.mark.parametrize("make", ["missing", "neither"])
def test_cli_refuses_bad_data_with_exit_2(tmp_path, capsys, make):
    path = tmp_path / "nothing-here"
    if make == "neither":
        path.mkdir()
        (path / "notes.txt").write_text("not data")
    assert workbench.main(["experiment", "leakage", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nothing-here" in err and err.count("\n") == 1


def test_cli_writes_results(six_actors, tmp_path, capsys):
    out = tmp_path / "cli"
    code = workbench.main(
        ["experiment", "leakage", "--data", str(six_actors), "--epochs", "1", "--out", str(out)]
    )
    assert code == 0
    saved = json.loads((out / "results.json").read_text())
    assert {k: set(saved[k]) >= {"accuracy", "uar", "n_test"} for k in ("random", "actor")} == {
        "random": True,
        "actor": True,
    }
    assert str(out) in capsys.readouterr().out


@pytest.mark.usefixtures("tk_garbage")
def test_window_button_runs_the_lesson_and_shows_it(display, six_actors, tmp_path, monkeypatch):
    import tkinter as tk
    from tkinter import messagebox

    from datasets.sources import DataSources
    from emotion_gui.app import WorkbenchApp

    errors: list[str] = []
    monkeypatch.setattr(messagebox, "showerror", lambda t, m, **kw: errors.append(m))
    fer = write_fer_csv(tmp_path / "fer.csv", fer_rows(3), "emotion,pixels,Usage")
    root = tk.Tk()
    app = WorkbenchApp(root, DataSources(fer, six_actors))
    try:
        pump(root, lambda: app.loaded is not None)
        app.settings.epochs_var.set("1")
        app.tabs.select(app.results_view)
        app.results_view.leakage_button.invoke()
        assert "lesson" in app.jobs
        pump(root, lambda: app.lesson_window is not None or errors, timeout=180)
        assert not errors
        window = app.lesson_window
        pump(root, lambda: window.chart.shown > 0)
        summary = window.summary
        assert {"random", "actor"} <= set(summary)
        assert "voice" in window.text.cget("text")
        assert "Leakage lesson: random split" in app.status_var.get()
        assert np.asarray(window.chart.agg.buffer_rgba()).std() > 0  # drawn, not blank
        window.destroy()
        assert window.chart not in app.renderer.charts
    finally:
        app.close()
