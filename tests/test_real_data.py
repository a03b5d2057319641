"""The loaders on real FER-2013 and RAVDESS from ../shared/data (skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED_DATA, needs_shared

from datasets.audio import extract_features, read_audio
from datasets.faces import face_from_file
from datasets.fer2013 import FER2013, load_fer2013
from datasets.info import data_info
from datasets.ravdess import default_actor_split, scan_ravdess, speech_audio
from datasets.video import clip_audio, clip_faces

pytestmark = needs_shared

FER_COUNTS = {  # from ../shared/data/README.md, in FER order
    "angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215,
    "sad": 4830, "surprise": 3171, "neutral": 4965,
}  # fmt: skip


@pytest.fixture(scope="module")
def fer_train():
    return load_fer2013(SHARED_DATA / "fer2013" / "train")


def test_fer_train_has_every_image_with_readme_counts(fer_train):
    assert fer_train.images.shape == (28_709, 48, 48)
    assert fer_train.skipped == []
    counts = dict(zip(FER_COUNTS, np.bincount(fer_train.labels, minlength=7).tolist()))
    assert counts == FER_COUNTS


def test_fer_validation_is_carved_from_train_without_overlap(fer_train):
    train = FER2013(None, "train", data=fer_train)
    val = FER2013(None, "val", data=fer_train)
    assert len(train) + len(val) == 28_709
    assert len(np.intersect1d(train.indices, val.indices)) == 0
    assert val.class_counts()["disgust"] == 44  # 10% of 436, stratified


def test_fer_sample_csv(tmp_path):
    info = data_info(SHARED_DATA / "fer2013" / "fer2013_sample.csv", cache_dir=tmp_path)
    assert info["n_items"] == 1_167 and info["layout"] == "csv"
    # All rows are Training, so validation is carved out of them.
    assert info["splits"]["train"] + info["splits"]["val"] == 1_167


def test_ravdess_speech_is_18_actors_by_60():
    scan = scan_ravdess(SHARED_DATA / "ravdess_speech_16k")
    clips = speech_audio(scan.clips)
    assert len(clips) == 1_080 and scan.skipped == []
    per_actor = np.bincount([c.actor for c in clips])[1:]
    assert per_actor.tolist() == [60] * 18
    split = default_actor_split(c.actor for c in clips)
    assert split.test == (16, 17, 18)


def test_ravdess_features_for_a_slice(tmp_path):
    clips = speech_audio(scan_ravdess(SHARED_DATA / "ravdess_speech_16k" / "Actor_01").clips)
    fs = extract_features([c.path for c in clips[:12]], cache_dir=tmp_path)
    assert fs.x.shape == (12, 64, 301) and np.isfinite(fs.x).all()
    assert fs.x.max() > 0  # real speech, not padding


def test_48k_wavs_come_out_16k_mono():
    wavs = sorted((SHARED_DATA / "ravdess_wav48k_samples").rglob("*.wav"))
    assert len(wavs) == 5
    assert sum(sf.info(w).channels == 2 for w in wavs) == 3
    for w in wavs:
        info = sf.info(w)
        y = read_audio(w)
        assert y.ndim == 1
        assert abs(len(y) - info.frames / 3) <= 2  # 48 kHz → 16 kHz


@pytest.mark.parametrize(
    "clip", sorted((SHARED_DATA / "ravdess_video").glob("*.mp4")), ids=lambda p: p.name
)
def test_real_clip_gives_faces_and_take_audio(clip):
    faces = clip_faces(clip, n_frames=8)
    assert faces.found.mean() >= 0.75
    assert faces.faces.shape[1:] == (48, 48)
    x, y, w, h = faces.boxes[int(np.argmax(faces.found))]
    assert 200 < w < 700 and 0 <= x < 1280 - w  # a face-sized box in the 1280x720 frame
    y_audio, source = clip_audio(clip)
    assert source.name == "03" + clip.name[2:-4] + ".flac"  # the same take, audio-only
    assert 2.0 < len(y_audio) / 16_000 < 6.0


def test_face_detection_on_a_real_frame(tmp_path):
    import cv2

    clip = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))[0]
    cap = cv2.VideoCapture(str(clip))
    for _ in range(40):
        ok, frame = cap.read()
    cap.release()
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    crop = face_from_file(tmp_path / "frame.png")
    assert crop.box is not None and crop.face.shape == (48, 48)
