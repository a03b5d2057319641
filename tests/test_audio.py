"""Audio reading in every common format, fixed windows, features and their cache."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from conftest import tone, write_ravdess

from datasets import audio
from datasets.audio import (
    FeatureParams,
    extract_features,
    features_of,
    fix_length,
    read_audio,
    require_sound,
    trim_silence,
)
from datasets.errors import WorkbenchError
from datasets.speech import RavdessSpeech


@pytest.mark.parametrize(
    "sr, channels, subtype, ext",
    [
        (8_000, 1, "PCM_16", "wav"),
        (48_000, 2, "PCM_24", "wav"),
        (22_050, 1, "FLOAT", "wav"),
        (44_100, 2, "PCM_16", "flac"),
        (16_000, 1, "PCM_16", "flac"),
    ],
)
def test_any_format_becomes_16k_mono(tmp_path, sr, channels, subtype, ext):
    path = tmp_path / f"x.{ext}"
    sf.write(path, tone(2.0, sr, 440.0, channels), sr, subtype=subtype)
    y = read_audio(path)
    assert y.ndim == 1 and y.dtype == np.float32
    assert abs(len(y) - 32_000) <= 2
    # The 440 Hz tone survives resampling: the spectrum peaks there.
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 16_000 / len(y) - 440) < 2


def test_stereo_is_averaged_not_left_channel(tmp_path):
    left = tone(1.0, 16_000, 300.0)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 16_000)
    assert np.allclose(read_audio(tmp_path / "s.wav"), left / 2, atol=1e-4)


def test_empty_and_fake_wavs_are_clear_errors(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(WorkbenchError, match=r"empty.wav' is empty \(0 bytes\)"):
        read_audio(tmp_path / "empty.wav")
    (tmp_path / "notes.wav").write_text("this is not audio")
    with pytest.raises(WorkbenchError, match=r"notes.wav' is not a readable audio file"):
        read_audio(tmp_path / "notes.wav")
    with pytest.raises(WorkbenchError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")


def test_nan_samples_are_refused(tmp_path):
    y = tone(1.0, 16_000)
    y[100] = np.nan
    sf.write(tmp_path / "nan.wav", y, 16_000, subtype="FLOAT")
    with pytest.raises(WorkbenchError, match="invalid"):
        read_audio(tmp_path / "nan.wav")


def test_too_short_files_are_not_turned_into_padding(tmp_path):
    root = write_ravdess(tmp_path / "r", actors=(1,), emotions=(1,))
    sf.write(root / "Actor_01" / "03-01-02-01-01-01-01.wav", np.full(10, 0.5, np.float32), 48_000)
    fs = extract_features(sorted(root.rglob("*.wav")), cache_dir=tmp_path / "c", skip_bad=True)
    assert len(fs.x) == 2 and "lasts only" in fs.skipped[0]["reason"]


def test_silent_or_short_recordings_are_refused():
    with pytest.raises(WorkbenchError, match="silent"):
        require_sound(np.zeros(16_000, np.float32), 16_000, "quiet.wav")
    with pytest.raises(WorkbenchError, match="lasts only 0.10 s"):
        require_sound(np.ones(1_600, np.float32), 16_000, "blip.wav")


def test_trim_and_fix_length():
    y = tone(3.0, 16_000)  # sound between 0.2 s and 2.8 s
    trimmed = trim_silence(y, top_db=40)
    assert 2.55 * 16_000 < len(trimmed) < 2.7 * 16_000
    assert len(fix_length(y, 1000)) == 1000
    padded = fix_length(np.ones(10, np.float32), 20)
    assert padded.tolist() == [0] * 5 + [1] * 10 + [0] * 5


@pytest.mark.parametrize("kind, rows", [("logmel", 64), ("mfcc", 40)])
def test_feature_shapes(kind, rows):
    params = FeatureParams(kind=kind)
    f = features_of(tone(4.0, 16_000), params)
    assert f.shape == (rows, params.n_frames) == (rows, 301)
    assert np.isfinite(f).all()


def test_level_is_normalised_before_the_features():
    quiet = features_of(tone(2.0, 16_000) * 0.1)
    loud = features_of(tone(2.0, 16_000))
    # The microphone's gain is not an emotion: the same take 20 dB quieter looks the same
    # (absolute levels are kept only for models saved before, see test_speech_robust.py).
    # Cells at the -100 dB floor differ by float32 rounding only; the tone's cells match.
    heard = loud > -80
    assert heard.sum() > 1000
    assert np.abs(loud - quiet)[heard].max() < 0.01


def test_feature_cache_hits_and_invalidation(tmp_path, monkeypatch):
    root = write_ravdess(tmp_path / "r", actors=(1,), emotions=(1, 2))
    paths = sorted(root.rglob("*.wav"))
    first = extract_features(paths, cache_dir=tmp_path / "c")
    assert first.x.shape == (4, 64, 301)

    calls = []
    real = audio.read_audio
    monkeypatch.setattr(audio, "read_audio", lambda p, sr: calls.append(p) or real(p, sr))
    again = extract_features(paths, cache_dir=tmp_path / "c")
    assert calls == [] and np.array_equal(first.x, again.x)

    extract_features(paths, FeatureParams(n_mels=32), cache_dir=tmp_path / "c")
    assert len(calls) == 4  # other parameters: computed anew

    calls.clear()
    st = paths[0].stat()
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    extract_features(paths, cache_dir=tmp_path / "c")
    assert calls == [paths[0]]  # only the touched file


def test_bad_file_raises_or_is_skipped(tmp_path):
    root = write_ravdess(tmp_path / "r", actors=(1,), emotions=(1,))
    bad = root / "Actor_01" / "03-01-02-01-01-01-01.wav"
    bad.write_text("not audio")
    paths = sorted(root.rglob("*.wav"))
    with pytest.raises(WorkbenchError, match="03-01-02-01-01-01-01.wav"):
        extract_features(paths, cache_dir=tmp_path / "c")
    fs = extract_features(paths, cache_dir=tmp_path / "c", skip_bad=True)
    assert len(fs.x) == 2 and len(fs.skipped) == 1
    assert [paths[i] for i in fs.kept] == [p for p in paths if p != bad]


def test_speech_dataset_splits_by_actor(tmp_path):
    root = write_ravdess(tmp_path / "r", actors=range(1, 13), emotions=(1, 5))
    train = RavdessSpeech(root, "train", cache_dir=tmp_path / "c")
    test = RavdessSpeech(root, "test", cache_dir=tmp_path / "c", scan=train.scan)
    assert {c.actor for c in train.clips} == set(range(1, 9))
    assert {c.actor for c in test.clips} == {11, 12}
    assert tuple(train.features.shape) == (32, 1, 64, 301)
    assert train.class_counts()["neutral"] == 16 and train.class_counts()["angry"] == 16
    assert train.get_metadata(0)["actor"] == 1
