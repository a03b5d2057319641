"""The window's decisions without a window: emotion_gui.state and the command table.

Nothing here opens a display or trains: the state is given the summary a data load makes
and run records as ``load_run`` returns them.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from datasets.errors import WorkbenchError
from datasets.sources import DataSources
from emotion_gui.commands import COMMANDS, MENUS, SIDE, accelerator
from emotion_gui.state import (
    KIND,
    KINDS,
    Settings,
    WorkbenchState,
    parse_settings,
    prediction_status,
)
from training.records import Run


def state_with(tmp_path: Path, *, n_av_clips: int = 3, demo: bool = False) -> WorkbenchState:
    state = WorkbenchState()
    sources = DataSources(tmp_path / "fer2013", tmp_path / "ravdess", demo, demo)
    state.loaded = {"sources": sources, "n_av_clips": n_av_clips}
    return state


def run(tmp_path: Path, kind: str, name: str) -> Run:
    folder = tmp_path / "runs" / name
    return Run(name, folder, folder / "best.pt", kind, config={}, history=[], metrics={})


def test_every_kind_has_one_train_command_in_the_side_group_and_the_menu():
    for kind in KINDS:
        command = COMMANDS[f"train_{kind.name}"]
        assert (command.label, command.action, command.args) == (kind.button, "train", (kind.name,))
        assert f"train_{kind.name}" in SIDE["Train"] and f"train_{kind.name}" in MENUS["Train"]
    assert [k.button for k in KINDS] == [
        "Train Facial CNN",
        "Train Speech CNN",
        "Train Fusion Model",
    ]


def test_the_command_table_names_each_key_once_and_every_placed_command_exists():
    placed = {n for names in (*SIDE.values(), *MENUS.values()) for n in names if n is not None}
    assert placed == set(COMMANDS)  # nothing placed that is not a command, no command unplaced
    keys = [c.key for c in COMMANDS.values() if c.key]
    assert len(keys) == len(set(keys))
    assert (
        accelerator(COMMANDS["fer"].key) == "Ctrl+O" and COMMANDS["fer"].button == "Load FER-2013…"
    )


def test_settings_entries_become_numbers_or_one_sentence():
    assert parse_settings("auto", " 32 ", "") == {"epochs": None, "batch_size": 32, "lr": None}
    for args, words in (
        (("ten", "auto", "auto"), "Epochs must be a whole number"),
        (("auto", "1", "auto"), "Batch size must be a whole number of 2 or more"),
        (("auto", "auto", "-1"), "Learning rate must be"),
        (("auto", "auto", "10"), "Learning rate must be"),
    ):
        with pytest.raises(WorkbenchError, match=words):
            parse_settings(*args)


def test_train_buttons_train_the_data_part_of_their_kind(tmp_path):
    state = state_with(tmp_path)
    face = state.training_options("face", Settings(epochs="3", preset="full"))
    assert (face.kind, face.data, face.epochs, face.preset) == (
        "face",
        str(tmp_path / "fer2013"),
        3,
        "full",
    )
    assert state.training_options("speech", Settings()).data == str(tmp_path / "ravdess")
    title = state.training_title(face)
    assert title == f"Training the Facial CNN (full preset) on FER-2013 at {tmp_path / 'fer2013'}"


def test_fusion_trains_takes_or_class_pairs_from_the_models_in_use(tmp_path):
    state = state_with(tmp_path)
    (tmp_path / "face.pt").write_bytes(b"")
    state.models = {"face": tmp_path / "face.pt", "speech": tmp_path / "missing.pt"}
    takes = state.training_options("fusion", Settings(fusion="late"))
    assert (takes.data, takes.fusion, takes.pairing) == (str(tmp_path / "ravdess"), "late", "takes")
    assert takes.face_model == str(tmp_path / "face.pt") and takes.speech_model is None
    assert "starting from the Facial CNN)" in state.training_title(takes)
    pairs = state.training_options("fusion", Settings(pairing="class", from_models=False))
    assert pairs.data == [str(tmp_path / "fer2013"), str(tmp_path / "ravdess")]
    assert pairs.face_model is None and "class-paired" in state.training_title(pairs)

    no_clips = state_with(tmp_path, n_av_clips=0)
    with pytest.raises(WorkbenchError, match="has no video clips"):
        no_clips.training_options("fusion", Settings())
    with pytest.raises(WorkbenchError, match="No data is loaded yet"):
        WorkbenchState().training_options("face", Settings())


def test_runs_listed_once_and_the_chosen_run_is_the_model_its_kind_uses(tmp_path):
    state = WorkbenchState()
    old, new = run(tmp_path, "face", "a-face"), run(tmp_path, "face", "b-face")
    state.add_run(old, use_model=False)
    assert state.models == {} and state.runs == [old]
    state.add_run(new)
    state.add_run(old)  # listed again: moves to the end, not twice
    assert state.runs == [new, old] and state.models == {"face": old.model}
    said = state.choose(new, "Facial CNN · b-face")
    assert said == f"Predictions of {KIND['face'].predicts} now use Facial CNN · b-face"
    assert state.models["face"] == new.model
    other = run(tmp_path, "other", "c-other")
    assert state.choose(other, "c") is None and "other" not in state.models


def test_open_run_refuses_a_folder_without_a_finished_run(tmp_path):
    with pytest.raises(WorkbenchError):
        WorkbenchState().open_run(tmp_path)


def test_a_training_stopped_before_its_first_epoch_lists_nothing(tmp_path):
    state = WorkbenchState()
    result = SimpleNamespace(run_dir=tmp_path / "r", metrics={"best_epoch": 0})
    assert state.finished(result) == (
        "Stopped before the first epoch ended: nothing was learned.",
        None,
    )
    assert state.trained == [tmp_path / "r"] and state.runs == []


def test_predictions_use_the_model_of_the_files_kind_and_a_video_names_every_model(tmp_path):
    state = WorkbenchState()
    state.models = {k: tmp_path / f"{k}.pt" for k in ("face", "speech")}
    named = {"face_model": state.models["face"], "speech_model": state.models["speech"]}
    named["fusion_model"] = None
    assert state.prediction_models(Path("a.JPG")) == {"model": state.models["face"], **named}
    assert state.prediction_models(Path("a.wav")) == {"model": state.models["speech"], **named}
    assert state.prediction_models(Path("a.mp4")) == {"model": None, **named}
    with pytest.raises(WorkbenchError, match="table.xlsx' is not an image"):
        state.prediction_models(Path("table.xlsx"))


def test_data_swaps_one_part_and_the_title_names_what_is_shown(tmp_path):
    demo = state_with(tmp_path, demo=True)
    assert demo.title() == "Emotion Workbench — built-in synthetic demo data"
    mine = demo.replaced(ravdess=tmp_path / "my-ravdess")
    assert (mine.fer, mine.fer_is_demo, mine.ravdess, mine.ravdess_is_demo) == (
        tmp_path / "fer2013",
        True,
        tmp_path / "my-ravdess",
        False,
    )
    demo.loaded["sources"] = mine
    assert demo.title() == "Emotion Workbench — demo data + my-ravdess"


def test_prediction_status_says_the_answer_how_and_the_warnings():
    pred = SimpleNamespace(file="/x/clip.mp4", top="happy", kind="video", model="m.pt")
    pred.fused = SimpleNamespace(method="the fusion model")
    pred.warnings = ["a", "b"]
    assert prediction_status(pred) == (
        "clip.mp4: happy (fused by the fusion model) — 2 warnings above the chart"
    )
    photo = SimpleNamespace(file="p.png", top="sad", kind="image", model="f.pt", warnings=[])
    photo.fused = None
    assert prediction_status(photo) == "p.png: sad (model f.pt)"
