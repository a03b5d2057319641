"""Play buttons in the window (issue 18): the Data tab's chosen recording and the Predict
tab's recording or clip, on a real audio device (the ``sound_device`` null sink), and a
one-sentence dialog when sound cannot be played."""

from __future__ import annotations

import pytest
from conftest import ROOT, pump, tone, write_ravdess
from test_audio_io import no_portaudio

from datasets.sources import DataSources
from training.audio_io import SoundCard, level_db

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


@pytest.fixture
def app(display, fer_csv, tmp_path, monkeypatch):
    """The window on 1 s tones in the RAVDESS layout; dialogs are collected in ``errors``."""
    import tkinter as tk
    from tkinter import messagebox

    from emotion_gui.app import WorkbenchApp

    errors: list[str] = []
    monkeypatch.setattr(messagebox, "showerror", lambda title, msg, **kw: errors.append(msg))
    root = tk.Tk()
    wb = WorkbenchApp(root, DataSources(fer_csv.parent, write_ravdess(tmp_path / "ravdess")))
    wb.errors = errors
    pump(root, lambda: wb.loaded is not None and wb.renderer.idle())
    yield wb
    if not wb.closing:  # a test may close the window itself
        wb.close()


def test_data_tab_play_is_heard_stops_when_pressed_and_says_play_when_it_ends(app, sound_device):
    button = app.data_view.play_button
    assert button.cget("text") == "Play" and app.data_view.chosen_path().suffix == ".wav"
    with SoundCard() as mic:
        button.invoke()
        assert button.cget("text") == "Stop" and button.playback.active
        pump(app.root, lambda: level_db(mic.latest(5.0)) > -40, timeout=5)  # heard
        button.invoke()  # Stop
        assert button.cget("text") == "Play" and not button.playback.active
    button.invoke()  # the 1 s recording again, to its end
    pump(app.root, lambda: button.cget("text") == "Play", timeout=5)
    assert not button.playback.active and button.playback.position == pytest.approx(1.0)
    assert not app.errors


def test_choosing_another_recording_or_closing_the_window_stops_the_sound(app, sound_device):
    view = app.data_view
    view.play_button.invoke()
    playing = view.play_button.playback
    view.recording.current(3)
    view.recording.event_generate("<<ComboboxSelected>>")
    assert not playing.active and view.play_button.cget("text") == "Play"
    view.play_button.invoke()
    playing = view.play_button.playback
    assert playing.active
    app.close()
    assert not playing.active and playing.wait(1.0)  # the device released too


def test_without_portaudio_play_is_a_one_sentence_dialog(app, monkeypatch):
    no_portaudio(monkeypatch)
    app.data_view.play_button.invoke()
    assert app.errors == [
        "Recordings cannot be played because the PortAudio library is missing; install it "
        "(Debian/Ubuntu: sudo apt install libportaudio2)."
    ]
    assert app.data_view.play_button.cget("text") == "Play"


def test_predict_tab_plays_a_recording_but_offers_no_play_for_a_photo(
    app, sound_device, tmp_path, monkeypatch
):
    import soundfile as sf
    from PIL import Image

    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(ROOT / "pretrained"))  # starter models
    view = app.predict_view
    assert not view.play_button.winfo_ismapped()  # nothing predicted yet
    wav = tmp_path / "voice.wav"
    sf.write(wav, tone(1.0, 16_000), 16_000)
    photo = tmp_path / "photo.png"
    Image.new("L", (48, 48), 128).save(photo)
    for path, playable in ((wav, True), (photo, False)):
        before = view.shown
        app.predict(path)
        pump(app.root, lambda b=before: "predict" not in app.jobs and view.shown > b)
        app.root.update()
        assert not app.errors, app.errors
        assert view.play_button.winfo_ismapped() == playable, path.name
        if playable:
            view.play_button.invoke()
            assert view.play_button.cget("text") == "Stop"
            assert view.play_button.playback.name == f"'{wav}'"
            view.play_button.invoke()
            assert view.play_button.cget("text") == "Play"
