"""Fusion training end to end on the demo data: every design trains and scores, late
fusion's weight search, class-paired sets, the experiment and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli_training import runs  # noqa: F401  (tiny face and speech runs)

import workbench
from datasets.labels import RAVDESS_EMOTIONS
from datasets.paired import PAIRED_CLASSES, PAIRED_NOTE
from training.checkpoint import load_checkpoint
from training.experiment import data_efficiency, results_table
from training.late import GRID, best_weight, search_weight
from training.metrics import predict_proba
from training.tasks import DataSettings, task_for
from training.train import TrainOptions, train_model

# One epoch on the three-actor demo with two frames a clip: seconds per model.
FAST = dict(kind="fusion", epochs=1, n_frames=2)


@pytest.fixture(scope="module")
def fast(small_demo):
    return {**FAST, "data": str(small_demo)}


@pytest.fixture(scope="module")
def trained(fast, tmp_path_factory):
    """Every design trained one epoch on demo takes."""
    base = tmp_path_factory.mktemp("fusion")
    out = {}
    for design in ("concat", "equalized", "probe", "late", "face", "speech"):
        out[design] = train_model(TrainOptions(**fast, fusion=design, out=str(base / design)))
    return out


@pytest.mark.parametrize("design", ["concat", "equalized", "probe", "late", "face", "speech"])
def test_every_design_trains_an_epoch_and_scores_on_held_out_takes(trained, design):
    result = trained[design]
    m = result.metrics
    assert m["epochs_run"] == 1 and m["split"] == "test"
    assert m["classes"] == list(RAVDESS_EMOTIONS)
    assert m["n_test"] == m["n_items"] > 0 and m["n_train"] > 0
    assert 0.0 <= m["accuracy"] <= 1.0 and len(m["confusion"]) == len(RAVDESS_EMOTIONS)
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["kind"] == "fusion" and config["fusion"] == design
    assert config["pairing"] == "takes"
    # Split by actor: the test actors never trained.
    actors = config["data"]["actors"]
    assert not set(actors["train"]) & (set(actors["val"]) | set(actors["test"]))
    loaded = load_checkpoint(result.run_dir, kind="fusion")
    assert loaded.classes == tuple(RAVDESS_EMOTIONS)
    assert loaded.preprocessing["pairing"] == "takes"
    assert (result.run_dir / "report.md").read_text().count("takes pairing") == 1


def test_probe_design_trains_its_auxiliary_heads(trained):
    state = load_checkpoint(trained["probe"].run_dir).model.state_dict()
    assert "face_probe.weight" in state and "speech_probe.weight" in state
    concat = load_checkpoint(trained["concat"].run_dir).model.state_dict()
    assert "face_probe.weight" not in concat
    # concat gives the face 4/5 of the joint feature, equalized half.
    assert concat["face_proj.0.weight"].shape[0] == 4 * concat["speech_proj.0.weight"].shape[0]
    eq = load_checkpoint(trained["equalized"].run_dir).model.state_dict()
    assert eq["face_proj.0.weight"].shape[0] == eq["speech_proj.0.weight"].shape[0]


def test_late_fusion_weight_is_searched_on_validation(trained, small_demo):
    run = trained["late"].run_dir
    config = json.loads((run / "config.json").read_text())
    search = config["late_weight_search"]
    assert 0.0 <= search["weight"] <= 1.0
    assert search["val_accuracy"] >= max(search["face_accuracy"], search["speech_accuracy"])
    loaded = load_checkpoint(run, kind="fusion")
    assert loaded.model.config.weight == search["weight"]
    # The saved model really scores what the search found on the same validation takes.
    fusion = task_for("fusion")
    paths, _ = fusion.resolve(str(small_demo), "takes")
    task = fusion.load(paths, DataSettings(pairing="takes", n_frames=2))
    probs, _ = predict_proba(loaded.model, task.val)
    acc = float(np.mean(probs.argmax(1) == task.val.y.numpy()))
    assert acc == pytest.approx(search["val_accuracy"])
    again = search_weight(loaded.model, task.val)
    assert again["weight"] == search["weight"]


def test_best_weight_is_never_worse_than_the_better_single_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    for _ in range(20):
        face = rng.dirichlet(np.ones(4), 200)
        speech = rng.dirichlet(np.ones(4), 200)
        # Make one side informative for half the classes, the other for the rest.
        for i, c in enumerate(y):
            (face if c < 2 else speech)[i, c] += rng.uniform(0, 1.5)
        got = best_weight(face, speech, y)
        assert got["weight"] in GRID and 0.0 <= got["weight"] <= 1.0
        assert got["val_accuracy"] >= max(got["face_accuracy"], got["speech_accuracy"])
    # Only the face is informative: the search leans on the face.
    face = np.eye(4)[y] * 0.9 + 0.025
    speech = rng.dirichlet(np.ones(4), 200)
    assert best_weight(face, speech, y)["weight"] > 0.5


def test_class_paired_data_pairs_by_emotion_and_redraws_training_pairs(small_demo):
    fusion = task_for("fusion")
    paths, is_demo = fusion.resolve(str(small_demo), "class")
    assert is_demo and [p.name for p in paths] == ["fer2013", "ravdess"]
    task = fusion.load(paths, DataSettings(pairing="class"))
    assert task.classes == PAIRED_CLASSES
    assert task.source["note"] == PAIRED_NOTE
    train = task.train
    first = (train.face_idx.clone(), train.speech_idx.clone())
    train.set_epoch(2)
    assert not torch.equal(first[0], train.face_idx)  # redrawn
    # Each pair's face and utterance show the same emotion as its label.
    faces_y = task.train.pairing.face_labels[train.face_idx.numpy()]
    assert np.array_equal(faces_y, train.y.numpy())
    speech_y = task.train.pairing.speech_paired[train.speech_idx.numpy()]
    assert np.array_equal(speech_y, train.y.numpy())
    # Validation and test pairs are fixed.
    val_pairs = task.val.face_idx.clone()
    task.val.set_epoch(5)
    assert torch.equal(val_pairs, task.val.face_idx)
    batch = next(task.val.batches(8))
    assert batch["x"]["faces"].shape == (8, 1, 1, 48, 48)
    assert batch["x"]["features"].shape[:2] == (8, 1) and batch["x"]["found"].all()
    # Validation and test pairs use every held-out face and utterance of a shared emotion.
    for split in (task.val, task.test):
        used = split.pairing.by_class.values()
        assert set(split.face_idx.tolist()) == set(np.concatenate([f for f, _ in used]).tolist())
        assert set(split.speech_idx.tolist()) == set(np.concatenate([s for _, s in used]).tolist())
    # A training epoch: per emotion as many pairs as the smaller side, nothing used twice.
    for c, (faces, speech) in train.pairing.by_class.items():
        mine = train.y.numpy() == c
        assert mine.sum() == min(len(faces), len(speech))
        for idx in (train.face_idx.numpy()[mine], train.speech_idx.numpy()[mine]):
            assert len(set(idx.tolist())) == len(idx)


def test_class_paired_run_names_the_pairing(fast, tmp_path):
    result = train_model(
        TrainOptions(
            **fast,
            pairing="class",
            fusion="equalized",
            out=str(tmp_path),
        )
    )
    assert result.metrics["classes"] == list(PAIRED_CLASSES)
    report = (tmp_path / "report.md").read_text()
    assert PAIRED_NOTE in report
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["data"]["note"] == PAIRED_NOTE


def test_branches_start_from_trained_models(fast, runs, tmp_path, capsys):  # noqa: F811
    result = train_model(
        TrainOptions(
            **fast,
            face_model=str(runs["face"]),
            speech_model=str(runs["speech"]),
            fusion="equalized",
            out=str(tmp_path / "run"),
        )
    )
    config = json.loads((result.run_dir / "config.json").read_text())
    for kind in ("face", "speech"):
        trained_cfg = json.loads((runs[kind] / "config.json").read_text())["model_config"]
        assert config["model_config"][kind] == trained_cfg  # architecture and input scaling
    # A face-only fusion is not a face model: refused before any data is read.
    face_only = tmp_path / "run"
    argv = ["train", "fusion", "--data", "demo", "--face-model", str(face_only), "--epochs", "1"]
    assert workbench.main(argv) == 2
    assert "is a fusion (video) model, but a face (image) model" in capsys.readouterr().err


def test_data_efficiency_experiment_writes_table_and_chart(fast, tmp_path):
    base = TrainOptions(**fast)
    summary = data_efficiency(
        base, fractions=(0.25, 0.5), designs=("face", "late"), out=tmp_path / "exp"
    )
    assert {(r["fraction"], r["design"]) for r in summary["rows"]} == {
        (0.25, "face"),
        (0.25, "late"),
        (0.5, "face"),
        (0.5, "late"),
    }
    n = {r["fraction"]: r["n_train"] for r in summary["rows"]}
    assert n[0.25] < n[0.5]
    assert len({r["n_test"] for r in summary["rows"]}) == 1  # one test split for all
    for name in ("results.md", "results.csv", "results.json", "data_efficiency.png"):
        assert (tmp_path / "exp" / name).stat().st_size > 0
    table = results_table(summary)
    assert "| face only |" in table and "| late fusion (Guo, Polanía & Barner 2020) |" in table


def test_cli_train_fusion_and_bad_options(small_demo, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "fusion", "--data", str(small_demo), "--fusion", "probe", "--epochs", "1"]
    assert workbench.main([*args, "--fraction", "0.5", "--frames", "2", "--out", str(out)]) == 0
    assert "held-out test accuracy" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["fusion"] == "probe"
    capsys.readouterr()
    assert workbench.main(["train", "face", "--data", "demo", "--fusion", "probe"]) == 2
    assert "fusion models only" in capsys.readouterr().err
    # Class pairing needs a face folder and a speech folder, not one clip folder.
    assert workbench.main(["train", "fusion", "--pairing", "class", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("error: ") and "a FER-2013 folder and a RAVDESS speech folder" in err


def test_evaluate_rescores_a_fusion_run_on_its_own_test_split(trained, capsys):
    run = trained["equalized"]
    assert workbench.main(["evaluate", str(run.run_dir), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["kind"] == "fusion" and got["split"] == "test" and got["held_out"] is True
    assert got["n_items"] == run.metrics["n_items"]
    assert got["accuracy"] == pytest.approx(run.metrics["accuracy"])
    # Every take of the folder it trained on: scored, and said not to be held out.
    assert workbench.main(["evaluate", str(run.run_dir), "--split", "all", "--json"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert every["split"] == "all" and every["held_out"] is False
    assert every["n_items"] > got["n_items"]


def test_a_class_paired_fusion_model_is_scored_on_folders_it_never_saw(
    fast, small_demo, tmp_path, capsys, monkeypatch
):
    """A FER-2013 file of test images only and a RAVDESS folder of an actor the model never
    heard: --split all pairs every item by emotion and scores the face-only and
    speech-only models on the same pairs beside the fusion."""
    import shutil

    import pandas as pd

    run = train_model(
        TrainOptions(**{**fast, "n_frames": 1}, pairing="class", out=str(tmp_path / "run"))
    )
    actors = json.loads((run.run_dir / "config.json").read_text())["data"]["actors"]
    rows = pd.read_csv(next((small_demo / "fer2013").glob("*.csv")))
    new_faces = tmp_path / "fer_test.csv"
    rows[rows["Usage"] == "PrivateTest"].to_csv(new_faces, index=False)
    new_voices = tmp_path / "voices"
    test_actor = actors["test"][0]
    shutil.copytree(small_demo / "ravdess" / f"Actor_{test_actor:02d}", new_voices / "Actor_99")
    for f in (new_voices / "Actor_99").iterdir():  # a speaker numbered as no one it knows
        f.rename(f.with_name(f.name[:-6] + "99" + f.suffix))
    # The face-only and speech-only answers come from the workbench's models: here the
    # shipped starters.
    monkeypatch.setenv(
        "WORKBENCH_PRETRAINED_DIR", str(Path(workbench.__file__).parent / "pretrained")
    )
    args = ["evaluate", str(run.run_dir), "--data", str(new_faces), str(new_voices)]
    assert workbench.main([*args, "--split", "all", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["split"] == "all" and got["held_out"] is True
    assert got["n_items"] >= (rows["Usage"] == "PrivateTest").sum()
    # New speakers: without --split the whole folders are scored, as for speech.
    assert workbench.main([*args, "--json"]) == 0
    auto = json.loads(capsys.readouterr().out)
    assert auto["split"] == "all" and auto["n_items"] == got["n_items"]
    members = {m["member"]: m for m in got["members"]}
    assert set(members) == {"face-only", "speech-only"}
    assert all(m["n_items"] == got["n_items"] for m in members.values())
    assert all(0.0 <= m["accuracy"] <= 1.0 for m in members.values())


def test_a_fusion_run_resumes_where_it_stopped(fast, tmp_path):
    first = train_model(TrainOptions(**fast, fusion="probe", fraction=0.5, out=str(tmp_path)))
    assert first.metrics["epochs_run"] == 1
    more = train_model(TrainOptions(kind="fusion", resume=str(tmp_path), epochs=2))
    assert more.metrics["epochs_run"] == 2 and more.run_dir == tmp_path
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1", "2"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["options"]["n_frames"] == 2 and config["options"]["fraction"] == 0.5


def test_a_late_fusion_run_exports_as_a_starter_with_its_weight_search(trained, tmp_path):
    from training.export import export_starter

    out = tmp_path / "fusion_fer_ravdess.pt"
    card = export_starter(trained["late"].run_dir, out).read_text()
    loaded = load_checkpoint(out, kind="fusion")
    assert loaded.payload["split"]["label"] == "built-in synthetic demo data"
    assert "Late-fusion face weight" in card and "for the speech member alone" in card
    assert "--fusion late" in card and "research use" in card and "CC BY-NC-SA" in card
    fresh = json.loads((trained["late"].run_dir / "metrics.json").read_text())
    assert f"Accuracy **{fresh['accuracy']:.1%}**" in card  # same code: same score
