"""Behind the Results tab's numbers, in the window: a click on a confusion-matrix cell opens
that cell's held-out items, and the Embedding map button a map of all of them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import fer_rows, pump, write_fer_csv, write_ravdess

from datasets.sources import DataSources
from training.runs import load_run
from training.train import TrainOptions, train_model

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A face run (PublicTest held out) and a speech run (two test actors), one epoch each."""
    base = tmp_path_factory.mktemp("gui_gallery")
    rows = fer_rows(6) + fer_rows(4, ("PublicTest",), seed=1)
    csv = write_fer_csv(base / "fer" / "fer2013.csv", rows, "emotion,pixels,Usage")
    ravdess = write_ravdess(base / "ravdess", actors=(1, 2, 3, 4, 5, 6))
    actors = {"train": [1, 2, 3], "val": [4], "test": [5, 6]}
    train_model(TrainOptions(kind="face", data=str(csv), epochs=1, out=str(base / "face")))
    train_model(
        TrainOptions(
            kind="speech", data=str(ravdess), epochs=1, actors=actors, out=str(base / "speech")
        )
    )
    return {"face": base / "face", "speech": base / "speech", "csv": csv, "ravdess": ravdess}


@pytest.fixture
def app(display, runs, monkeypatch):
    import tkinter as tk
    from tkinter import messagebox

    from emotion_gui.app import WorkbenchApp

    errors: list[str] = []
    monkeypatch.setattr(messagebox, "showerror", lambda title, msg, **kw: errors.append(msg))
    root = tk.Tk()
    wb = WorkbenchApp(root, DataSources(runs["csv"].parent, runs["ravdess"]))
    wb.errors = errors
    pump(root, lambda: wb.loaded is not None and wb.renderer.idle())
    yield wb
    if root.winfo_exists():
        wb.close()


def windows(app, cls) -> list:
    return [w for w in app.root.winfo_children() if isinstance(w, cls)]


def click_cell(app, t: int, p: int) -> None:
    """Click the middle of confusion cell (true ``t``, predicted ``p``) as a user would."""
    view = app.results_view
    pump(app.root, lambda: app.renderer.idle() and view.image is not None)
    x, y = view.image.axes.transData.transform((p, t))
    view.chart.canvas.event_generate("<Button-1>", x=int(x), y=int(view.chart.height - y))


@pytest.mark.parametrize("kind", ["face", "speech"])
def test_a_click_on_a_cell_opens_exactly_its_items(app, runs, kind):
    from emotion_gui.gallery import GalleryWindow

    app.root.geometry("1280x800")
    run = load_run(runs[kind])
    app.results_view.set_runs([run])
    app.tabs.select(app.results_view)
    confusion = np.array(run.metrics["confusion"])
    for t, p in {np.unravel_index(confusion.argmax(), confusion.shape), (0, 1)}:
        click_cell(app, t, p)
        pump(app.root, lambda: len(windows(app, GalleryWindow)) == 1 and not app.jobs)
        window = windows(app, GalleryWindow)[0]
        assert len(window.cells) == confusion[t, p]  # the Results matrix's own count
        held = window.held
        assert all(held.true[i] == t and held.predicted[i] == p for i in window.items)
        if kind == "speech":  # each recording can be heard
            assert len(window.play_buttons) == confusion[t, p]
            names = [held.ids[i]["path"].rsplit("/", 1)[1] for i in window.items]
            assert all(name.split("-")[2] == f"{t + 1:02d}" for name in names)  # RAVDESS code
        window.destroy()
    assert app.errors == []


def test_embedding_map_has_a_point_per_held_out_item_and_an_actor_switch(app, runs):
    from emotion_gui.gallery import EmbeddingWindow

    run = load_run(runs["speech"])
    app.results_view.set_runs([run])
    app.results_view.event_generate("<<EmbeddingMap>>")
    pump(app.root, lambda: len(windows(app, EmbeddingWindow)) == 1 and app.renderer.idle())
    window = windows(app, EmbeddingWindow)[0]
    assert len(window.result["points"]) == run.metrics["n_items"]
    test_actors = json.loads((runs["speech"] / "config.json").read_text())["data"]["actors"]
    assert set(window.result["colours"]["actor"]) == {f"actor {a}" for a in test_actors["test"]}
    window.switches["actor"].invoke()
    pump(app.root, lambda: app.renderer.idle())
    legend = window.chart.figure.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["actor 5", "actor 6"]
    window.destroy()
    assert window.chart not in app.renderer.charts
    assert app.errors == []
