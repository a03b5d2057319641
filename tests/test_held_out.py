"""A model's held-out items one by one: the confusion-cell gallery lists exactly a cell's
items, and the embedding map has one point per held-out item."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import ROOT, fer_rows, write_fer_csv, write_ravdess

from datasets.errors import WorkbenchError
from training.held_out import held_out_items
from training.runs import load_run
from training.train import TrainOptions, train_model


@pytest.fixture(scope="module")
def face_run(tmp_path_factory):
    """A face model trained one epoch on random faces: PublicTest is its held-out split."""
    base = tmp_path_factory.mktemp("held")
    rows = fer_rows(6) + fer_rows(3, ("PublicTest",), seed=1)
    csv = write_fer_csv(base / "fer" / "fer2013.csv", rows, "emotion,pixels,Usage")
    run = base / "face"
    train_model(TrainOptions(kind="face", data=str(csv), epochs=1, out=str(run)))
    return run, csv


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory):
    """A speech model on six actors' tones: two actors held out for testing."""
    base = tmp_path_factory.mktemp("held_speech")
    data = write_ravdess(base / "ravdess", actors=(1, 2, 3, 4, 5, 6))
    run = base / "speech"
    actors = {"train": [1, 2, 3], "val": [4], "test": [5, 6]}
    train_model(TrainOptions(kind="speech", data=str(data), epochs=1, actors=actors, out=str(run)))
    return run, data


def test_cells_hold_exactly_the_items_the_results_matrix_counts(face_run):
    run, csv = face_run
    got = held_out_items(load_run(run), csv)
    metrics = json.loads((run / "metrics.json").read_text())
    assert got.split == metrics["split"] == "val"
    assert len(got) == metrics["n_items"] == 21
    assert got.confusion().tolist() == metrics["confusion"]
    seen = []
    for t, true in enumerate(got.classes):
        for p, predicted in enumerate(got.classes):
            cell = got.cell(true, predicted)
            assert len(cell) == metrics["confusion"][t][p]
            assert all(got.true[i] == t and got.predicted[i] == p for i in cell)
            seen += cell.tolist()
    assert sorted(seen) == list(range(len(got)))  # every item in exactly one cell
    rows = [i["row"] for i in got.ids]
    assert len(set(rows)) == len(rows)
    assert got.faces.shape == (21, 48, 48) and got.spectrograms is None
    assert got.embeddings.shape[0] == 21 and np.isfinite(got.embeddings).all()
    assert np.allclose(got.probabilities.sum(1), 1, atol=1e-4)
    with pytest.raises(WorkbenchError, match="does not answer 'calm'"):
        got.cell("calm", "happy")


def test_speech_items_are_the_test_actors_recordings(speech_run):
    run, data = speech_run
    got = held_out_items(run, data)
    metrics = json.loads((run / "metrics.json").read_text())
    test_actors = set(json.loads((run / "config.json").read_text())["data"]["actors"]["test"])
    assert got.confusion().tolist() == metrics["confusion"]
    assert set(got.actors()) == test_actors
    assert {i["path"] for i in got.ids} == {
        str(p) for a in test_actors for p in (data / f"Actor_{a:02d}").glob("*.wav")
    }
    assert got.spectrograms.shape[0] == len(got) and got.faces is None


def test_cli_examples_and_embeddings_match_the_held_out_items(speech_run, tmp_path):
    run, data = speech_run
    got = held_out_items(run, data)
    t, p = np.unravel_index(np.argmax(got.confusion()), got.confusion().shape)
    true, predicted = got.classes[t], got.classes[p]
    out = tmp_path / "cell.png"
    cmd = [sys.executable, "workbench.py", "examples", str(run), "--data", str(data)]
    cmd += ["--true", true, "--predicted", predicted, "--out", str(out), "--json"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    listed = [i["path"] for i in answer["items"]]  # most confident first
    assert sorted(listed) == sorted(got.ids[i]["path"] for i in got.cell(true, predicted))
    assert answer["n_items"] == got.confusion()[t, p] and out.stat().st_size > 0

    out = tmp_path / "map.png"
    cmd = [sys.executable, "workbench.py", "embeddings", str(run), "--data", str(data)]
    cmd += ["--out", str(out), "--json"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    assert [pt["path"] for pt in answer["points"]] == [i["path"] for i in got.ids]
    assert {"emotion", "actor"} <= set(answer["silhouette"]) and out.stat().st_size > 0
    for score in answer["silhouette"].values():
        assert -1 <= score["embedding"] <= 1 and -1 <= score["map"] <= 1


def test_unknown_emotion_is_one_sentence(speech_run, tmp_path):
    run, data = speech_run
    cmd = [sys.executable, "workbench.py", "examples", str(run), "--data", str(data)]
    cmd += ["--true", "bored", "--predicted", "happy", "--out", str(tmp_path / "x.png")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "does not answer 'bored'" in done.stderr


@pytest.mark.parametrize("pairing", ["takes", "class"])
def test_fusion_items_show_a_face_and_a_voice(small_demo, tmp_path, pairing):
    from training.embeddings import embedding_map

    run = tmp_path / "run"
    opts = TrainOptions(kind="fusion", data=str(small_demo), epochs=1, n_frames=2, out=str(run))
    train_model(replace(opts, pairing=pairing))
    got = held_out_items(run, small_demo)
    metrics = json.loads((run / "metrics.json").read_text())
    assert got.confusion().tolist() == metrics["confusion"]
    assert got.faces.shape == (len(got), 48, 48)
    assert got.spectrograms.shape[0] == len(got) and got.embeddings.shape[0] == len(got)
    ident = got.ids[0]
    assert set(ident) == ({"path", "actor"} if pairing == "takes" else {"face", "speech"})
    assert set(embedding_map(got)["colours"]) == {"emotion", "actor"}
    if pairing == "takes":  # late fusion averages two answers: no single embedding to map
        train_model(replace(opts, fusion="late", out=str(tmp_path / "late")))
        late = held_out_items(tmp_path / "late", small_demo)
        assert late.embeddings is None
        with pytest.raises(WorkbenchError, match="no single embedding"):
            embedding_map(late)
