"""Warnings that go with a prediction: a demo-trained model on real data, a quiet, clipped
or mostly silent recording, a tiny or blurred face.

The unit tests use small synthetic signals and images. The real-data tests use RAVDESS
recordings, FER-2013 images and a RAVDESS clip from ../shared/data (and skip without it):
a clean item must not warn, a degraded copy of it must. A "demo-trained" model is a copy of
a starter model marked as trained on the demo data, which is exactly what the check reads.
"""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import ROOT, SHARED_DATA, needs_shared
from PIL import Image

import workbench
from datasets.audio import active_level_db
from training import quality
from training.predict import predict_audio, predict_file, predict_image, predict_video
from training.runs import STARTER_FILES
from training.second_opinion import compare_with_starter, starter_lesson

PRETRAINED = ROOT / "pretrained"
SR = 16_000


def speech_like(seconds: float = 3.0, level_db: float = -25.0, seed: int = 0) -> np.ndarray:
    """A 16 kHz stand-in for speech: a voiced buzz in syllable-length bursts with short
    pauses, 0.2 s of quiet at either end, its active level at about ``level_db`` dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    buzz = np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 280 * t)
    syllables = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 0.5  # 3 bursts a second
    y = buzz * syllables * ((t > 0.2) & (t < seconds - 0.2))
    y = y + rng.normal(0, 1e-3, len(t))  # a room's noise floor
    y = y.astype(np.float32)
    return y * np.float32(10 ** ((level_db - active_level_db(y)) / 20))


def sharp_face(seed: int = 0) -> np.ndarray:
    """A (48, 48) uint8 image with plenty of fine detail."""
    return np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)


def blur(face: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    return cv2.GaussianBlur(face, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


@pytest.fixture
def starters(monkeypatch, tmp_path):
    """The real pretrained/ folder (the test session otherwise hides it) and no runs."""
    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(PRETRAINED))
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "no-runs"))


def as_demo_trained(kind: str, out) -> str:
    """A copy of the ``kind`` starter model that says it was trained on the demo data."""
    payload = torch.load(PRETRAINED / STARTER_FILES[kind], weights_only=True)
    payload["split"] = {**payload["split"], "is_demo": True}
    path = out / f"demo_{kind}.pt"
    torch.save(payload, path)
    return str(path)


def demo_folder(root):
    """An (empty) demo-data folder: the generator's ``.complete`` marker, nothing else."""
    root.mkdir(parents=True)
    (root / ".complete").write_text(json.dumps({"version": 2}), encoding="utf-8")
    return root


# ----------------------------------------------------------------- audio measures


def test_clean_synthetic_speech_gives_no_audio_warning():
    y = speech_like()
    assert quality.audio_warnings(y, SR) == []
    assert quality.silent_share(y) < quality.SILENT_SHARE


def test_quiet_recording_warns_and_names_its_level():
    y = speech_like(level_db=-25.0) * np.float32(10 ** (-45 / 20))  # -70 dBFS
    (warning,) = quality.audio_warnings(y, SR)
    assert warning.startswith("The recording is very quiet (speech at -70 dBFS")


def test_clipped_recording_warns():
    y = np.clip(speech_like(level_db=-12.0) * 10, -1.0, 1.0)
    (warning,) = quality.audio_warnings(y, SR)
    assert "is clipped (" in warning and "% of its samples at full scale" in warning


def test_mostly_silent_recording_warns_with_digital_or_room_silence():
    y = speech_like(seconds=2.0, level_db=-25.0)
    room = np.random.default_rng(1).normal(0, 10 ** (-70 / 20), 4 * len(y))  # 45 dB under
    for pad in (np.zeros(4 * len(y), np.float32), room):
        padded = np.concatenate([pad[: len(pad) // 2], y, pad[len(pad) // 2 :]])
        (warning,) = quality.audio_warnings(padded.astype(np.float32), SR)
        assert "is mostly silence (" in warning and "of its 10.0 s)" in warning


def test_digital_silence_prints_no_infinity():
    warnings = quality.audio_warnings(np.zeros(SR, np.float32), SR, what="The clip's sound")
    assert warnings and all(w.startswith("The clip's sound is") for w in warnings)
    assert not any(word in w for w in warnings for word in ("inf", "nan"))


# ------------------------------------------------------------------ face measures


def test_sharp_face_gives_no_face_warning():
    assert quality.face_warnings(sharp_face()[None], [48]) == []


def test_blurred_face_warns():
    (warning,) = quality.face_warnings(blur(sharp_face())[None], [48])
    assert warning.startswith("The face is blurred (sharpness ")


def test_blank_face_has_no_detail_and_warns_as_blurred():
    assert quality.sharpness(np.full((48, 48), 128, np.uint8)) == 0.0
    assert "blurred" in quality.face_warnings(np.zeros((1, 48, 48), np.uint8), [48])[0]


def test_tiny_face_warns_and_names_its_size():
    (warning,) = quality.face_warnings(sharp_face()[None], [quality.TINY_FACE_PX - 1])
    assert warning.startswith(f"The face is only {quality.TINY_FACE_PX - 1} px across")
    assert quality.face_warnings(sharp_face()[None], [quality.TINY_FACE_PX]) == []


def test_sharpness_does_not_depend_on_contrast():
    face = sharp_face()
    dim = (face // 8 + 100).astype(np.uint8)  # an eighth of the contrast, brighter
    assert quality.sharpness(dim) == pytest.approx(quality.sharpness(face), rel=0.1)


def test_video_frames_warn_only_when_most_are_bad():
    faces = np.stack([sharp_face(0), sharp_face(1), blur(sharp_face(2))])
    assert quality.face_warnings(faces, [200, 200, 200]) == []
    faces = np.stack([sharp_face(0), blur(sharp_face(1)), blur(sharp_face(2))])
    (warning,) = quality.face_warnings(faces, [200, 200, 200])
    assert "blurred in 2 of 3 frames" in warning


def test_face_side_is_the_box_or_the_whole_small_image():
    assert quality.face_side((10, 20, 30, 34), (480, 640)) == 34
    assert quality.face_side(None, (24, 30)) == 24


# ---------------------------------------------------------------- demo-trained models


def test_demo_files_are_told_by_their_folders_marker(tmp_path):
    demo = demo_folder(tmp_path / "demo")
    (demo / "ravdess" / "Actor_01").mkdir(parents=True)
    assert quality.is_demo_file(demo / "ravdess" / "Actor_01" / "03-01-01-01-01-01-01.wav")
    assert not quality.is_demo_file(tmp_path / "mine" / "voice.wav")


def test_demo_warning_names_the_models_and_the_starters():
    one = quality.demo_model_warning(
        ("face",), "real photos", ("face_fer2013.pt",), "real FER-2013 photos"
    )
    assert one == (
        "The face model was trained on the built-in synthetic demo data, so its answers on "
        "real photos mean little; use the starter model face_fer2013.pt in pretrained/ or "
        "train on real FER-2013 photos."
    )
    many = quality.demo_model_warning(("face", "speech"), "real clips", (), "real data")
    assert many.startswith("The face and speech models were trained") and "their answers" in many
    assert many.endswith("; train on real data.")


def test_demo_model_on_a_real_photo_warns_and_the_starter_answers_beside_it(starters, tmp_path):
    model = as_demo_trained("face", tmp_path)
    photo = tmp_path / "photo.png"
    Image.fromarray(sharp_face()).save(photo)
    pred = predict_image(photo, model=model)
    assert pred.demo_models == ("face",)
    assert pred.warnings[0].startswith("The face model was trained on the built-in synthetic")
    assert "face_fer2013.pt" in pred.warnings[0]
    compare_with_starter(pred)
    assert pred.starter is not None and pred.starter.model == str(
        PRETRAINED / STARTER_FILES["face"]
    )
    assert pred.starter.warnings == []  # the starter learned from real photos
    lesson = starter_lesson(pred)
    assert lesson.startswith("Why the answers differ: your face model learned from the built-in")
    assert "the starter model from FER-2013 training images" in lesson


def test_demo_model_on_demo_data_says_nothing_and_shows_no_starter(starters, tmp_path):
    model = as_demo_trained("speech", tmp_path)
    wav = demo_folder(tmp_path / "demo") / "03-01-01-01-01-01-01.wav"
    sf.write(wav, speech_like(), SR)
    pred = compare_with_starter(predict_audio(wav, model=model))
    assert pred.warnings == [] and pred.demo_models == () and pred.starter is None
    assert starter_lesson(pred) == ""


# ------------------------------------------------------------------ the command line


def test_cli_json_always_has_a_warnings_list(starters, tmp_path, capsys):
    model = as_demo_trained("speech", tmp_path)
    clean = demo_folder(tmp_path / "demo") / "voice.wav"
    sf.write(clean, speech_like(), SR)
    real = tmp_path / "voice.wav"
    sf.write(real, speech_like(), SR)
    photo = tmp_path / "photo.png"
    Image.fromarray(sharp_face()).save(photo)
    outputs = {}
    for name, argv in {
        "demo file": [str(clean), "--model", model],
        "real file": [str(real), "--model", model],
        "photo": [str(photo)],
    }.items():
        assert workbench.main(["predict", *argv, "--json"]) == 0
        outputs[name] = json.loads(capsys.readouterr().out)
    assert all(isinstance(out["warnings"], list) for out in outputs.values())
    assert outputs["demo file"]["warnings"] == [] and outputs["photo"]["warnings"] == []
    assert outputs["real file"]["warnings"][0].startswith("The speech model was trained on")


def test_cli_text_prints_each_warning_on_its_own_line(starters, tmp_path, capsys):
    wav = tmp_path / "quiet.wav"
    sf.write(wav, speech_like(level_db=-75.0), SR, subtype="FLOAT")
    assert workbench.main(["predict", str(wav)]) == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "very quiet (speech at -75 dBFS" in warnings[0]
    assert "nan" not in out and "inf" not in out


# ---------------------------------------------------------------------- real data

# Happy, normal intensity: spoken at a typical level, so 30 dB quieter is under the quiet
# threshold. (A loud take made 30 dB quieter is as loud as many clean quiet takes: no level
# threshold can tell those apart; bench/warnings_thresholds.py shows how many it catches.)
REAL_WAV = SHARED_DATA / "ravdess_speech_16k" / "Actor_01" / "03-01-03-01-01-01-01.flac"


@needs_shared
def test_clean_real_recordings_do_not_warn():
    """Every recording of two actors (a man and a woman) passes the checks."""
    files = sorted((SHARED_DATA / "ravdess_speech_16k").glob("Actor_0[12]/*.flac"))
    assert len(files) == 120
    warned = {f.name: quality.audio_warnings(sf.read(f, dtype="float32")[0], SR) for f in files}
    assert {name: w for name, w in warned.items() if w} == {}


@needs_shared
@pytest.mark.parametrize(
    "degrade, words",
    [
        (lambda y: y * np.float32(10 ** (-30 / 20)), "is very quiet"),
        (lambda y: np.clip(y / np.abs(y).max() * 10, -1, 1), "is clipped"),
        (lambda y: np.pad(y, (2 * len(y), 2 * len(y))), "is mostly silence"),
    ],
    ids=["30 dB quieter", "peak +20 dB, clipped", "80% silence"],
)
def test_degraded_real_recording_warns(starters, tmp_path, degrade, words):
    y, sr = sf.read(REAL_WAV, dtype="float32")
    clean = predict_audio(REAL_WAV)
    assert clean.warnings == []
    out = tmp_path / "degraded.flac"
    sf.write(out, degrade(y), sr)  # 16-bit, as the original
    pred = predict_audio(out)
    assert len(pred.warnings) == 1 and words in pred.warnings[0], pred.warnings


@needs_shared
def test_demo_model_on_a_real_recording_warns(starters, tmp_path):
    pred = predict_file(REAL_WAV, model=as_demo_trained("speech", tmp_path))
    assert pred.warnings == [
        "The speech model was trained on the built-in synthetic demo data, so its answers on "
        "real recordings mean little; use the starter model speech_ravdess.pt in pretrained/ "
        "or train on real RAVDESS recordings."
    ]


REAL_FACE = SHARED_DATA / "fer2013" / "train" / "happy"


@needs_shared
def test_real_faces_warn_rarely_and_a_clean_one_not_at_all(starters, tmp_path):
    files = sorted(REAL_FACE.glob("*.jpg"))[:300]
    faces = np.stack([np.asarray(Image.open(f).convert("L")) for f in files])
    warned = [f.name for f, face in zip(files, faces) if quality.face_warnings(face[None], [48])]
    assert len(warned) <= 3, warned  # measured 0.3% of 28,709 (bench/warnings_thresholds.py)
    clean = next(f for f in files if f.name not in warned)
    assert predict_image(clean).warnings == []


@needs_shared
@pytest.mark.parametrize("degrade", ["blurred", "tiny"])
def test_degraded_real_face_warns(starters, tmp_path, degrade):
    face = np.asarray(Image.open(sorted(REAL_FACE.glob("*.jpg"))[0]).convert("L"))
    if degrade == "blurred":
        face = blur(face, 2.0)
    else:
        face = cv2.resize(face, (16, 16), interpolation=cv2.INTER_AREA)
    photo = tmp_path / f"{degrade}.png"
    Image.fromarray(face).save(photo)
    (warning,) = predict_image(photo).warnings
    assert ("is blurred" if degrade == "blurred" else "is only 16 px across") in warning


@needs_shared
def test_real_clip_with_the_starters_gives_no_warning_and_demo_models_do(starters, tmp_path):
    clip = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))[0]
    assert predict_video(clip).warnings == []
    pred = predict_video(
        clip,
        face_model=as_demo_trained("face", tmp_path),
        speech_model=PRETRAINED / STARTER_FILES["speech"],
        fusion_model=PRETRAINED / STARTER_FILES["fusion"],
    )
    assert len(pred.warnings) == 1 and pred.warnings[0].startswith(
        "The face model was trained on the built-in synthetic demo data, so its answers on "
        "real clips mean little"
    )
    assert all(math.isfinite(p) for p in pred.probabilities.values())
