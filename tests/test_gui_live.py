"""The Live tab under Xvfb, with files in the camera's and the microphone's places (CI has
neither): frames are analysed and painted with their face box, the answers are
distributions, Stop ends the session within a second and releases the sources, and a
camera that is not there is a one-sentence dialog."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import ROOT, SHARED_DATA, microphone_or_recording, needs_shared, pump

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


@pytest.fixture(scope="module")
def take(small_demo):
    clip = sorted((small_demo / "ravdess").glob("Actor_03/02-*.mp4"))[0]
    return clip, clip.with_name("03" + clip.name[2:-4] + ".wav")


@pytest.fixture
def window(display, small_demo, monkeypatch):
    """The window on the small demo set; the shipped starter models answer live."""
    import tkinter as tk
    from tkinter import messagebox

    from datasets.sources import DataSources
    from emotion_gui.app import WorkbenchApp

    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(ROOT / "pretrained"))
    errors: list[str] = []
    monkeypatch.setattr(messagebox, "showerror", lambda title, msg, **kw: errors.append(msg))
    root = tk.Tk()
    app = WorkbenchApp(root, DataSources(small_demo / "fer2013", small_demo / "ravdess"))
    app.errors = errors
    pump(root, lambda: app.loaded is not None)
    yield app
    if not app.closing:
        app.close()


def go_live(window, camera: str, microphone: str = "none"):
    """Set the Live tab's sources and press Start; the view."""
    view = window.live_view
    view.camera.set(camera)
    view.microphone.set(microphone)
    view.start()
    return view


@pytest.fixture
def cameras(monkeypatch):
    """Every camera the session opens, to check it was released."""
    import training.live as live

    opened = []

    class Watched(live.Camera):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(live, "Camera", Watched)
    return opened


def test_live_tab_paints_a_file_camera_and_a_recording_and_stop_releases_them(
    window, take, cameras
):
    clip, wav = take
    seen, view = [], window.live_view
    arrived = view.arrived
    view.arrived = lambda u: (seen.append(u), arrived(u))
    go_live(window, str(clip), str(wav))
    assert window.tabs.select() == str(view)
    # On a loaded machine the clip (about 3 s, paced to the wall clock) may end first.
    ended = lambda: "live" not in window.jobs  # noqa: E731
    pump(
        window.root,
        lambda: (
            ended()
            or (view.painted >= 3 and "/s" in (said := view.info_var.get()) and "speech " in said)
        ),
        timeout=90,
    )
    assert view.painted >= 2 and view.photo is not None and view.photo.width() > 100
    faces = [u.face for u in seen if u.face is not None]
    assert faces  # the demo clips' 64 px frames are faces whole: no box (a box: below)
    for u in seen:
        for part in (u.face, u.speech, u.fused):
            if part is not None:
                assert sum(part["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert any(u.fused is not None for u in seen)
    assert "frames/s" in view.info_var.get() and "speech " in view.info_var.get()
    if not ended():
        stopped_at = time.monotonic()
        view.stop()
        pump(window.root, ended, timeout=5)
        assert time.monotonic() - stopped_at < 1.5
    assert cameras and not cameras[0].cap.isOpened()  # released
    assert view.start_button.instate(["!disabled"]) and view.stop_button.instate(["disabled"])
    assert window.errors == []


def test_a_camera_that_is_not_there_is_a_dialog_and_the_window_goes_on(window):
    view = go_live(window, "7", "none")
    pump(window.root, lambda: window.errors, timeout=30)
    assert window.errors[0] == (
        "Camera 7 could not be opened; connect a camera, close other programs using it and "
        "allow camera access, or choose a video with File… beside Camera."
    )
    assert "live" not in window.jobs and view.start_button.instate(["!disabled"])


def test_a_microphone_that_is_not_there_is_a_dialog_naming_the_window_s_fix(window):
    view = go_live(window, "", "57: a microphone unplugged")
    pump(window.root, lambda: window.errors, timeout=30)
    said = window.errors[0]
    assert said.startswith("Microphone 57 ") and "File… beside Microphone" in said, said
    assert "--" not in said and said.count(".") >= 1 and "\n" not in said
    assert "live" not in window.jobs and view.start_button.instate(["!disabled"])


def test_closing_the_window_while_live_releases_the_camera(window, take, cameras):
    clip, _ = take
    view = go_live(window, str(clip), "none")
    pump(window.root, lambda: view.frames >= 2, timeout=60)
    window.close()
    assert cameras and not cameras[0].cap.isOpened()


def test_record_saves_the_last_seconds_as_ravdess_data_the_workbench_loads(
    window, take, tmp_path, monkeypatch
):
    from tkinter import filedialog

    from datasets.ravdess import scan_ravdess

    clip, wav = take
    view = go_live(window, str(clip), str(wav))
    pump(window.root, lambda: "live" not in window.jobs, timeout=90)  # the clip ended
    view.record_seconds.set("2")
    view.record_emotion.set("happy")
    view.record_actor.set("5")
    monkeypatch.setattr(filedialog, "askdirectory", lambda **kw: str(tmp_path))
    view._record()
    pump(window.root, lambda: view.saved is not None or window.errors, timeout=60)
    assert window.errors == []
    assert view.saved["seconds"] == pytest.approx(2.0, abs=0.2)
    clips = scan_ravdess(tmp_path).clips
    assert {(c.modality, c.emotion_name, c.actor) for c in clips} == {
        (1, "happy", 5),
        (3, "happy", 5),
    }
    assert "Saved 2.0 s as 01-01-03-01-01-01-05.mp4" in window.status_var.get()
    assert view.play_button.instate(["!disabled"])


def test_annotate_draws_the_face_box_and_its_top_emotion():
    import numpy as np

    from emotion_gui.live_view import BOX_COLOR, annotate

    frame = np.zeros((720, 1280, 3), np.uint8)
    face = {"probabilities": {"happy": 0.9, "sad": 0.1}, "box": [400, 200, 300, 300]}
    picture = np.asarray(annotate(frame, face, (640, 480)))
    assert picture.shape == (360, 640, 3)  # scaled to fit, the shape kept
    green = np.all(picture == BOX_COLOR[::-1], axis=2)  # RGB now
    assert green[100:250, 200].any() and green[100, 200:350].any()  # the box's edges, halved
    assert green[:95, 200:300].any()  # the label above it
    assert not green[300:, :].any()


@needs_shared
def test_a_real_clip_gets_face_boxes_in_the_window(window, cameras):
    clip = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))[0]
    seen, view = [], window.live_view
    arrived = view.arrived
    view.arrived = lambda u: (seen.append(u), arrived(u))
    go_live(window, str(clip), "none")
    pump(window.root, lambda: view.painted >= 3, timeout=90)
    view.stop()
    pump(window.root, lambda: "live" not in window.jobs, timeout=5)
    boxes = [u.face["box"] for u in seen if u.face is not None]
    assert boxes and all(b is not None and b[2] > 50 for b in boxes)
    assert view.photo.width() > 300 and not cameras[0].cap.isOpened()


def test_the_live_tab_hears_a_real_microphone_or_a_recording(
    window, take, request, record_property
):
    """The microphone alone: a sound card when the test can make one (a PulseAudio null
    sink's monitor, the take's recording played into it), else the recording; the level
    meter, the spectrogram and the speech strip fill in."""
    _, wav = take
    device, microphone, used = microphone_or_recording(request, record_property, wav)
    view = go_live(window, "", microphone)
    pump(window.root, lambda: view.frames >= 1)  # the microphone is open: now speak
    player = device.play(wav) if device is not None else None
    try:
        pump(window.root, lambda: view.history.spectrogram is not None and view.frames >= 6)
        pump(window.root, lambda: window.renderer.idle())
    finally:
        if player is not None:
            player.kill()
    view.stop()
    pump(window.root, lambda: "live" not in window.jobs, timeout=5)
    assert max(i["level_db"] for i in view.history.items) > -50, used  # speech was heard
    speech = view.history.strip("speech", view.history.classes["speech"])
    assert speech.max() > 0 and np.allclose(speech.sum(0)[speech.sum(0) > 0], 1.0, atol=1e-4)
    assert view.strips["speech"][0].get_title(loc="left").startswith("speech: ")
    assert window.errors == [], used


def test_file_buttons_put_the_chosen_file_in_the_device_s_place(window, monkeypatch):
    from tkinter import filedialog, ttk

    view = window.live_view
    asked: list[str] = []

    def chosen(title, filetypes):
        asked.append(filetypes[0][0])
        return f"/class/{filetypes[0][0].lower()}"

    monkeypatch.setattr(filedialog, "askopenfilename", chosen)
    for box in (view.camera, view.microphone):
        button = next(w for w in box.master.winfo_children() if isinstance(w, ttk.Button))
        button.invoke()
    assert asked == ["Video", "Audio"]
    assert (view.camera.get(), view.microphone.get()) == ("/class/video", "/class/audio")
    monkeypatch.setattr(filedialog, "askopenfilename", lambda **kw: "")  # cancelled
    button.invoke()
    assert view.microphone.get() == "/class/audio"
