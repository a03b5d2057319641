"""The window on a virtual screen: it loads data off the Tk thread and draws it."""

from __future__ import annotations

import pytest
from conftest import pump, write_ravdess

from datasets.labels import FER_CLASSES
from datasets.sources import DataSources

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


@pytest.fixture
def app(display, fer_csv, tmp_path, monkeypatch):
    import tkinter as tk
    from tkinter import messagebox

    from emotion_gui.app import WorkbenchApp

    errors: list[str] = []
    monkeypatch.setattr(messagebox, "showerror", lambda title, msg, **kw: errors.append(msg))
    root = tk.Tk()
    ravdess = write_ravdess(tmp_path / "ravdess", actors=(1, 2, 3))
    (ravdess / "Actor_01" / "02-01-03-01-01-01-01.mp4").write_bytes(b"")  # a clip: not speech audio
    sources = DataSources(fer_csv.parent, ravdess)
    wb = WorkbenchApp(root, sources)
    wb.errors = errors
    pump(root, lambda: wb.loaded is not None and wb.renderer.idle())
    yield wb
    if root.winfo_exists():
        wb.close()


def test_window_shows_the_data_it_loaded(app):
    assert "Emotion Workbench" in app.root.title()
    assert app.banner_var.get().startswith("Data: faces: FER-2013 at ")
    heights = [int(b.get_height()) for b in app.data_view.fer_bars]
    assert heights == [7] * len(FER_CLASSES)  # 4 train + 2 public + 1 private per class
    speech = dict(
        zip(app.loaded["speech_counts"], (int(b.get_height()) for b in app.data_view.ravdess_bars))
    )
    assert speech["neutral"] == 6 and speech["happy"] == 6 and speech["calm"] == 0  # no clip
    assert app.loaded["n_clips"] == 1 and "1 video clip)" in app.data_view.ax_ravdess.get_title()
    assert app.data_view.ax_faces.get_images()[0].get_array().shape == (7 * 48, 6 * 48)


def test_bad_folder_gives_a_dialog_and_keeps_the_data(app, tmp_path):
    before = app.loaded
    (tmp_path / "junk").mkdir()
    app.replace_data("fer", tmp_path / "junk")
    pump(app.root, lambda: app.errors)
    assert "junk' holds neither a FER-2013 CSV" in app.errors[0]
    assert app.loaded is before and app.root.winfo_exists()


def test_a_failed_first_load_can_be_mended(display, fer_csv, tmp_path, monkeypatch):
    import tkinter as tk
    from tkinter import messagebox

    from emotion_gui.app import WorkbenchApp

    errors: list[str] = []
    monkeypatch.setattr(messagebox, "showerror", lambda title, msg, **kw: errors.append(msg))
    (tmp_path / "broken").mkdir()
    ravdess = write_ravdess(tmp_path / "ravdess", actors=(1, 2, 3))
    root = tk.Tk()
    wb = WorkbenchApp(root, DataSources(tmp_path / "broken", ravdess))
    pump(root, lambda: errors)
    assert wb.loaded is None
    wb.replace_data("fer", fer_csv.parent)  # the user picks a good folder: speech stays as asked
    pump(root, lambda: wb.loaded is not None)
    assert wb.sources == DataSources(fer_csv.parent, ravdess)
    wb.close()


def test_an_error_in_a_view_does_not_stop_the_window(app, monkeypatch):
    calls = []

    def broken_once(loaded):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("chart exploded")

    monkeypatch.setattr(app.data_view, "show", broken_once)
    app.use_sources(app.sources)
    pump(app.root, lambda: app.errors)
    assert "chart exploded" in app.errors[0]
    app.use_sources(app.sources)
    pump(app.root, lambda: len(calls) == 2)  # later events are still handled


def test_demo_banner_says_synthetic(tmp_path):
    assert (
        "synthetic demo data" in DataSources(tmp_path / "f", tmp_path / "r", True, True).describe()
    )


def test_data_tab_draws_the_chosen_recording(app):
    view = app.data_view
    # Actor 01's six recordings (1 s tones), in the list by actor and file name.
    assert len(view.recording["values"]) == 18
    assert view.recording.get().startswith("Actor 01 · happy")  # shown first when there
    view.recording.current(4)
    view.show_recording()
    pump(app.root, app.renderer.idle)
    chosen = view.clips[4]
    assert view.ax_wave.get_title() == f"{chosen.path.name}: waveform"
    n_mels, n_frames = view.spectrogram.get_array().shape
    assert n_mels == view.params.n_mels and n_frames == 16_000 // view.params.hop_length + 1
    assert chosen.emotion_name in view.ax_spec.get_title()


def test_menus_show_the_keys_that_are_bound():
    from emotion_gui.commands import accelerator

    assert [accelerator(k) for k in ("<Control-o>", "<F5>", "<Escape>", None)] == [
        "Ctrl+O",
        "F5",
        "Esc",
        "",
    ]


def test_fusion_pairs_follow_the_data_and_class_pairs_say_what_they_are(app, tmp_path):
    from datasets.paired import PAIRED_NOTE
    from emotion_gui.settings import PAIRING_NAMES

    assert app.settings.pairing == "takes"  # the folder has a video clip: audio-video takes
    speech_only = write_ravdess(tmp_path / "speech-only", actors=(1, 2, 3))
    app.replace_data("ravdess", speech_only)
    pump(app.root, lambda: app.sources.ravdess == speech_only)
    # No clips: takes cannot be paired, so the window offers class pairs, and says so.
    assert app.settings.pairing_var.get() == PAIRING_NAMES["class"]
    assert (
        app.settings.pairing_note_var.get()
        == PAIRED_NOTE
        == "paired by emotion, not the same person"
    )
    options = app.training_options("fusion")
    assert options.pairing == "class" and options.fusion == "concat"
    assert options.data == [str(app.sources.fer), str(speech_only)]
    assert PAIRED_NOTE in app.state.training_title(options)

    app.settings.set_pairing("takes")  # asked for anyway: one sentence, and nothing starts
    app.train("fusion")
    assert "has no video clips" in app.errors[-1] and app.errors[-1].count(". ") == 0
    assert app.training_job is None
