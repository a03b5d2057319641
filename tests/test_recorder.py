"""Record (issue 18): the last seconds of a live session saved as MP4, WAV and CSV, on
synthetic frames and a tone (no camera or sound card), and on a real RAVDESS clip."""

from __future__ import annotations

import errno
import os

import cv2
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import ROOT, SHARED_DATA, needs_shared, tone

from datasets.errors import WorkbenchError
from datasets.ravdess import scan_ravdess
from datasets.video import clip_audio, pyav, read_track_audio
from training import recording_files
from training.recorder import LiveRecorder

SR = 16_000
FACE = {"angry": 0.1, "happy": 0.6, "neutral": 0.3}
SPEECH = {"calm": 0.2, "happy": 0.5, "sad": 0.3}


def update(t: float, *, face=True, speech=True) -> dict:
    """A LiveUpdate dict as run_live makes them."""
    f = {"probabilities": FACE, "box": [10, 20, 30, 40]} if face else None
    s = {"probabilities": SPEECH, "seconds": 3.0} if speech else None
    fused = {"probabilities": {"happy": 0.55, "neutral": 0.45}, "method": "average"}
    return {"time": t, "face": f, "speech": s, "fused": fused if face and speech else None}


def session(rec: LiveRecorder, seconds: float, *, width=320, sound=True, seed=0) -> np.ndarray:
    """Feed ``seconds`` of a session: frames 25-40 ms apart, a tone in 64 ms sound-card
    chunks whose timestamps jitter by up to 20 ms, one update per frame (every third
    without a face). Returns the tone."""
    rng = np.random.default_rng(seed)
    y = tone(seconds + 1, SR)
    chunk, sent, t, i = 1024, 0, 0.0, 0
    while t < seconds:
        t += rng.uniform(0.025, 0.040)
        frame = np.full((width * 3 // 4, width, 3), (i * 7) % 256, np.uint8)
        rec.add_frame(t, frame)
        while sound and (sent + chunk) / SR <= t:
            late = rng.uniform(0, 0.02)
            rec.add_sound((sent + chunk) / SR + late, y[sent : sent + chunk], SR)
            sent += chunk
        rec.add_update(update(t, face=i % 3 != 0))
        i += 1
    return y


def frame_count_and_seconds(path) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(path))
    n, fps = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return n, n / fps


def test_a_save_writes_the_last_seconds_as_mp4_wav_and_csv(tmp_path):
    rec = LiveRecorder(keep_seconds=10)
    session(rec, 6.0)
    out = rec.save(tmp_path, 4.0)
    assert out["seconds"] == pytest.approx(4.0, abs=0.05)
    assert {p.name for p in tmp_path.iterdir()} == {out[k].name for k in ("mp4", "wav", "csv")}
    assert out["mp4"].stem == out["wav"].stem == out["csv"].stem
    assert out["mp4"].name.startswith("live-")

    n, seconds = frame_count_and_seconds(out["mp4"])
    assert n == out["frames"] and 4.0 * 25 <= n <= 4.0 * 40
    assert seconds == pytest.approx(4.0, abs=0.15)
    heard, source = clip_audio(out["mp4"], SR)  # what a video prediction hears
    assert source == out["mp4"] and len(heard) / SR == pytest.approx(4.0, abs=0.1)
    assert np.abs(heard).max() > 0.1  # the tone, not silence

    info = sf.info(str(out["wav"]))
    assert info.samplerate == SR and info.subtype == "PCM_16"
    assert info.duration == pytest.approx(4.0, abs=0.01)

    table = pd.read_csv(out["csv"])
    assert len(table) == out["updates"] and 4.0 * 25 - 2 <= len(table) <= 4.0 * 40 + 1
    assert table["time"].min() >= 0 and table["time"].max() <= 4.0
    assert list(table.columns[:4]) == ["time", "session_time", "face_top", "face_probability"]
    for part in ("face", "speech", "fused"):
        probs = table.filter(regex=f"^{part}_p_").dropna()
        assert len(probs) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    faces = table.dropna(subset=["face_top"])
    assert (faces["face_top"] == "happy").all() and (faces["face_w"] == 30).all()
    assert table["face_top"].isna().sum() > 0  # rows without a face stay empty


def test_labelled_saves_load_as_ravdess_and_never_overwrite(tmp_path):
    rec = LiveRecorder()
    session(rec, 2.0)
    first = rec.save(tmp_path, 2.0, emotion="happy", actor=7)
    before = first["mp4"].read_bytes()
    second = rec.save(tmp_path, 1.0, emotion="happy", actor=7)
    assert first["mp4"].name == "01-01-03-01-01-01-07.mp4"
    assert first["wav"].name == "03-01-03-01-01-01-07.wav"
    assert first["csv"].name == "01-01-03-01-01-01-07.csv"
    assert second["mp4"].name == "01-01-03-01-01-02-07.mp4"
    assert first["mp4"].read_bytes() == before
    third = rec.save(tmp_path, 1.0, emotion="fear", actor="7")  # a FER name, a text field
    assert third["wav"].name == "03-01-06-01-01-01-07.wav"

    clips = scan_ravdess(tmp_path).clips
    assert len(clips) == 6 and all(c.actor == 7 and c.channel == 1 for c in clips)
    assert sorted((c.modality, c.emotion_name, c.repetition) for c in clips) == [
        (1, "fearful", 1), (1, "happy", 1), (1, "happy", 2),
        (3, "fearful", 1), (3, "happy", 1), (3, "happy", 2),
    ]  # fmt: skip


def test_repetitions_go_on_past_two_and_video_or_sound_alone_get_their_names(tmp_path):
    actor = tmp_path / "Actor_12"
    actor.mkdir()
    for name in ("01-01-05-01-01-01-12.mp4", "03-01-05-01-01-02-12.wav"):
        (actor / name).write_bytes(b"taken")
    frames_only = LiveRecorder()
    session(frames_only, 1.0, sound=False)
    out = frames_only.save(tmp_path, 1.0, emotion="angry", actor=12)
    assert out["wav"] is None and out["mp4"].name == "02-01-05-01-01-03-12.mp4"  # video-only
    with pyav().open(str(out["mp4"])) as clip:
        assert not clip.streams.audio
    sound_only = LiveRecorder()
    sound_only.add_sound(1.5, tone(1.5, SR), SR)
    out = sound_only.save(tmp_path, 5.0, emotion="angry", actor=12)
    assert out["mp4"] is None and out["csv"].name == "03-01-05-01-01-04-12.csv"
    assert out["seconds"] == pytest.approx(1.5, abs=0.01)
    assert {c.repetition for c in scan_ravdess(tmp_path).clips} == {1, 2, 3, 4}


def test_memory_stays_bounded_and_wide_frames_are_held_smaller(tmp_path):
    rec = LiveRecorder(keep_seconds=1.5)
    session(rec, 5.0)
    held = rec.held()
    assert held["seconds"] <= 1.5 + 0.1 and held["sound_seconds"] <= 1.5 + 0.1  # a chunk
    assert held["frames"] <= 1.5 * 40 + 1 and held["updates"] == held["frames"]
    out = rec.save(tmp_path, 30.0)  # more than is kept: what is kept
    assert out["seconds"] <= 1.5
    rec.add_frame(0.5, np.zeros((48, 64, 3), np.uint8))  # the clock went back: a new session
    assert rec.held()["frames"] == 1 and rec.held()["updates"] == 0
    assert rec.held()["sound_seconds"] == 0

    wide = LiveRecorder(keep_seconds=2)
    for i in range(3):
        wide.add_frame(i / 25, np.zeros((1080, 1920, 3), np.uint8))
    cap = cv2.VideoCapture(str(wide.save(tmp_path / "wide", 1.0)["mp4"]))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (1280, 720)
    cap.release()


def test_sound_card_chunks_and_overlapping_windows_give_the_same_sound(tmp_path):
    """The two ways to feed sound: jittered chunks (sent whole) and the last 3 s each frame
    (only the new part kept); both hold the tone as it was, and a gap is silence."""
    y = tone(3.0, SR)
    chunks, windows = LiveRecorder(), LiveRecorder()
    rng = np.random.default_rng(1)
    for end in range(1024, len(y) + 1, 1024):
        chunks.add_sound(end / SR + rng.uniform(0, 0.05), y[end - 1024 : end], SR)
    for i in range(1, 91):
        end = i * len(y) // 90
        windows.add_sound(end / SR, y[max(0, end - 3 * SR) : end], SR, overlapping=True)
    a, _ = sf.read(chunks.save(tmp_path / "a", 10)["wav"], dtype="float32")
    b, _ = sf.read(windows.save(tmp_path / "b", 10)["wav"], dtype="float32")
    n = len(y) // 1024 * 1024
    assert len(b) == len(y) and np.allclose(b, y, atol=1e-4)
    assert len(a) == n and np.allclose(a, y[:n], atol=1e-4)  # not chopped by the jitter

    gap = LiveRecorder()
    gap.add_sound(1.0, y[:SR], SR)
    gap.add_sound(3.0, y[SR : 2 * SR], SR)  # a second of input lost
    c, _ = sf.read(gap.save(tmp_path / "c", 10)["wav"], dtype="float32")
    assert (
        len(c) == 3 * SR
        and not c[SR : 2 * SR].any()
        and np.allclose(c[2 * SR :], y[SR : 2 * SR], atol=1e-4)
    )


def test_nothing_recorded_and_bad_labels_are_one_sentence(tmp_path):
    rec = LiveRecorder()
    with pytest.raises(WorkbenchError, match="Nothing has been recorded yet"):
        rec.save(tmp_path, 5)
    rec.add_sound(1.0, tone(1.0, SR), SR)
    for kwargs, words in [
        ({"emotion": "bored", "actor": 3}, "not a RAVDESS emotion; label the recording"),
        ({"emotion": "happy", "actor": 100}, "not a number from 1 to 99"),
        ({"emotion": "happy"}, "Give both an emotion and an actor number"),
    ]:
        with pytest.raises(WorkbenchError, match=words) as err:
            rec.save(tmp_path, 5, **kwargs)
        assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")
    assert not list(tmp_path.iterdir())


def test_a_folder_that_cannot_be_written_is_one_sentence_and_no_file_is_left(tmp_path, monkeypatch):
    rec = LiveRecorder()
    session(rec, 1.0)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(WorkbenchError, match="is a file, not a folder; choose a folder"):
        rec.save(tmp_path / "a-file", 1.0)
    with pytest.raises(WorkbenchError, match="is a file, not a folder; choose a folder"):
        rec.save(tmp_path / "a-file", 1.0, emotion="calm", actor=1)

    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anyway: refuse as the file system would

        def refuse(folder, name):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(recording_files, "_reserve", refuse)
    else:
        locked.chmod(0o500)
    with pytest.raises(WorkbenchError) as err:
        rec.save(locked, 1.0)
    assert str(err.value) == (
        f"Folder '{locked}' cannot be written (permission denied); choose another folder."
    )
    locked.chmod(0o700)
    monkeypatch.undo()

    full = tmp_path / "full"

    def disk_full(path, *args, **kwargs):  # the WAV is half written when the disk fills
        with open(path, "wb") as f:
            f.write(b"RIFF" + bytes(1000))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recording_files.sf, "write", disk_full)
    with pytest.raises(WorkbenchError, match=r"\(no space left on device\); choose another"):
        rec.save(full, 1.0, emotion="sad", actor=2)
    assert [p for p in full.rglob("*") if p.is_file()] == []  # not even the finished MP4


@needs_shared
def test_a_saved_clip_is_predicted_with_its_own_sound(monkeypatch, tmp_path):
    """A real RAVDESS clip fed as run_live feeds it (frames on the file's clock, the last
    3 s of sound each frame); the starter models answer the saved MP4, hearing its track."""
    from training.predict import predict_file

    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(ROOT / "pretrained"))
    clips = sorted((SHARED_DATA / "ravdess_video").glob("01-01-03-*.mp4"))  # happy
    if not clips:
        pytest.skip(f"no happy RAVDESS clip (01-01-03-*.mp4) in {SHARED_DATA / 'ravdess_video'}")
    clip = clips[0]
    y = read_track_audio(clip, SR)
    cap = cv2.VideoCapture(str(clip))
    fps, rec, i = cap.get(cv2.CAP_PROP_FPS), LiveRecorder(keep_seconds=10), 0
    while (frame := cap.read()[1]) is not None:
        t, i = i / fps, i + 1
        rec.add_frame(t, frame)
        end = int(t * SR)
        rec.add_sound(t, y[max(0, end - 3 * SR) : end], SR, overlapping=True)
    cap.release()
    out = rec.save(tmp_path, 2.5)
    assert out["frames"] == pytest.approx(2.5 * fps, abs=2)
    answer = predict_file(out["mp4"])
    assert answer.kind == "video" and answer.face.frames_with_face > 0
    assert answer.speech.audio_from == str(out["mp4"])  # its own track, no sibling WAV
    assert answer.speech.seconds == pytest.approx(2.5, abs=0.1)
    assert sum(answer.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_feeding_threads_and_saves_run_at_once(tmp_path):
    """The capture threads keep feeding while a save encodes its snapshot."""
    import threading

    rec, stop = LiveRecorder(keep_seconds=2), threading.Event()
    session(rec, 1.0)

    def sound_card():
        t = 1.0
        while not stop.is_set():
            t += 0.064
            rec.add_sound(t, tone(0.064, SR), SR)
            rec.add_frame(t, np.zeros((60, 80, 3), np.uint8))

    feeder = threading.Thread(target=sound_card)
    feeder.start()
    try:
        saved = [rec.save(tmp_path, 1.0) for _ in range(3)]
    finally:
        stop.set()
        feeder.join()
    assert len({s["mp4"] for s in saved}) == 3  # a new name each time, none overwritten
    assert all(s["seconds"] == pytest.approx(1.0, abs=0.01) for s in saved)
