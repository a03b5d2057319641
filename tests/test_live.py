"""Live mode, first step (issue 18): a video file and a recording stand in for the camera
and the microphone; no camera or sound card is needed."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from conftest import ROOT, microphone_or_recording

import workbench
from training.live import run_live


@pytest.fixture
def take(small_demo, monkeypatch):
    """A demo clip and the recording of the same take; the shipped starter models answer."""
    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(ROOT / "pretrained"))
    clip = sorted((small_demo / "ravdess").glob("Actor_03/02-*.mp4"))[0]
    return clip, clip.with_name("03" + clip.name[2:-4] + ".wav")


def test_live_json_gives_one_object_per_frame_and_a_summary(take, capsys):
    clip, wav = take
    assert workbench.main(["live", "--camera", str(clip), "--microphone", str(wav), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    updates, summary = lines[:-1], lines[-1]
    assert summary["frames"] == len(updates) > 10 and summary["fps"] > 0
    times = [u["time"] for u in updates]
    assert times == sorted(times) and summary["seconds"] == pytest.approx(times[-1], abs=0.01)
    for u in updates:
        for part in ("face", "speech", "fused"):
            if u[part] is not None:
                assert sum(u[part]["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    heard = [u for u in updates if u["speech"] is not None]
    assert heard and all(u["speech"]["seconds"] <= 3.0 for u in heard)
    fused = [u["fused"] for u in updates if u["fused"] is not None]
    assert fused and all(f["method"].startswith("late fusion") for f in fused)  # the starter's
    assert all(-100 <= u["level_db"] <= 0 for u in updates)


def test_the_plain_average_is_said_when_asked_for(take):
    clip, wav = take
    got = []
    run_live(clip, wav, seconds=1.0, fusion_model="average", on_update=got.append)
    both = [u for u in got if u.face is not None and u.speech is not None]
    assert both and all(u.fused["method"].startswith("average") for u in both)


def test_live_stops_at_seconds_and_on_the_stop_event(take):
    clip, wav = take
    got = []
    summary = run_live(clip, wav, seconds=1.0, on_update=got.append)
    assert got and got[-1].time <= 1.0 and summary["seconds"] <= 1.0
    stop, seen = threading.Event(), []

    def after_three(update):
        seen.append(update)
        if len(seen) == 3:
            stop.set()

    run_live(clip, None, on_update=after_three, stop_event=stop)
    assert len(seen) == 3  # stopped at once, the capture released in run_live's finally


def test_a_recording_alone_is_heard_twice_a_second(take):
    _, wav = take
    got = []
    run_live(None, wav, on_update=got.append)
    assert [u.time for u in got[:3]] == [0.5, 1.0, 1.5]
    assert all(u.face is None and u.fused is None for u in got)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--camera", "nowhere.mp4"], "does not exist; pass a camera number"),
        (["--microphone", "99"], "Microphone 99 does not exist"),
        ([], "Pass --camera, --microphone or both"),
    ],
)
def test_live_sources_that_cannot_be_used_are_one_sentence(args, words, capsys):
    assert workbench.main(["live", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_a_camera_is_read_on_its_own_thread_and_old_frames_are_dropped(take):
    """``LatestFrame`` (what a camera is read through), driven by a file that delivers
    frames faster than a slow analysis takes them: only the newest is analysed."""
    import time

    from training.live import LatestFrame, open_camera

    clip, _ = take
    cap, _ = open_camera(clip)
    newest = LatestFrame(cap)
    taken = 0
    while newest.next() is not None:
        taken += 1
        time.sleep(0.1)  # a slow analysis: frames keep arriving meanwhile
    newest.close()
    assert newest.ended and newest.read > taken > 0
    assert newest.dropped == newest.read - taken > 0
    assert not cap.isOpened()  # released


def test_the_microphone_path_hears_speech_on_a_real_device_or_a_recording(
    take, request, record_property
):
    """A sound card when the test can make one (a PulseAudio null sink whose monitor is the
    default input, the take's recording played into it), else the recording itself."""
    _, wav = take
    device, microphone, used = microphone_or_recording(request, record_property, wav)
    got = []
    player = device.play(wav) if device is not None else None
    try:
        run_live(None, microphone, seconds=2.0, on_update=got.append, spectrogram=True)
    finally:
        if player is not None:
            player.kill()
    assert [round(u.time, 1) for u in got] == [0.5, 1.0, 1.5, 2.0], used
    heard = [u for u in got if u.speech is not None]
    assert heard, used
    for u in heard:
        assert sum(u.speech["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert max(u.level_db for u in got) > -50, used  # speech, not silence
    assert all(np.isfinite(u.spectrogram).all() for u in got)
    assert got[-1].spectrogram.shape[0] == 64
