"""The per-kind tasks: each kind answers everything the engine asks, the folders any kind
reads are found one way, and a fourth kind needs only the files the README names."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_ravdess

from datasets.errors import WorkbenchError
from models import MODELS, PRESETS
from training import options
from training.data import find_data
from training.evaluate import evaluate_checkpoint
from training.tasks import TASKS, Task, task_for
from training.tasks.face import FaceReader, FaceTask
from training.train import TrainOptions, train_model
from training.wording import run_title, scored_on

ASKED = ("folders", "read", "augment", "eval_items", "items_words", "data_label")


@pytest.mark.parametrize("kind", list(TASKS))
def test_every_kind_answers_what_the_engine_asks(kind):
    task = task_for(kind)
    assert task.kind == kind and task.title and task.predicts and task.licence
    for name in ASKED:  # its own answer, not the base class's NotImplementedError
        assert getattr(type(task), name) is not getattr(Task, name), (kind, name)
    assert (kind, "quick") in options.FIT_PRESETS and (kind, "full") in options.AUGMENT_PRESETS


def test_an_unknown_kind_is_one_sentence():
    with pytest.raises(
        WorkbenchError, match="Unknown model kind 'voice'; use one of face, speech, fusion"
    ):
        task_for("voice")


def test_find_data_puts_swapped_folders_right_and_counts_them(tmp_path, fer_csv):
    rav = write_ravdess(tmp_path / "rav", actors=(1, 2, 3), emotions=(1, 3))
    fer = fer_csv.parent
    paths, is_demo = find_data(("fer2013", "ravdess"), [str(rav), str(fer)])
    assert paths == [fer.resolve(), rav.resolve()] and not is_demo
    with pytest.raises(
        WorkbenchError, match="reads a FER-2013 folder and a RAVDESS speech folder, but 1 path"
    ):
        find_data(("fer2013", "ravdess"), [str(rav)])
    with pytest.raises(WorkbenchError, match="does not exist"):
        find_data(("ravdess",), str(tmp_path / "nowhere"))
    # A root holding the wanted sub-folders gives them.
    root = tmp_path / "root"
    (root / "fer2013").mkdir(parents=True)
    (root / "ravdess").mkdir()
    assert find_data(("fer2013",), str(root))[0] == [(root / "fer2013").resolve()]


class MirroredReader(FaceReader):
    """Faces seen in a mirror: the same FER-2013 splits, each image flipped."""

    def split(self, name):
        items = super().split(name)
        if items is not None:
            items.x = items.x.flip(-1).contiguous()
        return items


class MirrorTask(FaceTask):
    kind = "mirror"
    title = "Mirror CNN"
    predicts = "photos in a mirror"

    def read(self, paths, settings):
        return MirroredReader(paths[0], settings)


def test_a_fourth_kind_needs_only_the_files_the_readme_names(monkeypatch, tmp_path, fer_csv):
    """The README's walk-through, steps 1, 3 and 4: register a network, a task and its
    loop settings; train, resume's checks, evaluate and the words then work unchanged."""
    monkeypatch.setitem(MODELS, "mirror", MODELS["face"])  # step 1: models/
    monkeypatch.setitem(PRESETS, "mirror", PRESETS["face"])
    monkeypatch.setitem(TASKS, "mirror", MirrorTask())  # step 3: training/tasks/
    for preset in ("quick", "full"):  # step 4: training/options.py
        monkeypatch.setitem(
            options.FIT_PRESETS, ("mirror", preset), options.FIT_PRESETS[("face", preset)]
        )
        monkeypatch.setitem(options.AUGMENT_PRESETS, ("mirror", preset), "none")
    run = train_model(
        TrainOptions(kind="mirror", data=str(fer_csv.parent), epochs=1, out=str(tmp_path / "run"))
    )
    assert run.metrics["split"] == "test" and run.metrics["n_items"] == 7
    again = evaluate_checkpoint(run.run_dir, str(fer_csv.parent))
    assert again["kind"] == "mirror" and again["held_out"] is True
    assert again["accuracy"] == pytest.approx(run.metrics["accuracy"])
    from training.runs import load_run

    record = load_run(run.run_dir)
    assert run_title("mirror", record.config) == "Mirror CNN"
    assert scored_on(record) == "FER test: 7 faces"
    assert Path(record.dir).name == "run"
    # Step 5: the window's table gives it a Train button (the command table builds the
    # side button and the menu entry from it).
    from emotion_gui.state import kinds_table

    mirror = {k.name: k for k in kinds_table()}["mirror"]
    assert mirror.button == "Train Mirror CNN" and mirror.predicts == "photos in a mirror"
