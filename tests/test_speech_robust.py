"""Speech that holds up off the benchmark: level normalisation, the simulated recording
conditions of the ``robust`` augmentation, and actor-wise cross-validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import ROOT, SHARED_DATA, needs_shared, tone, write_ravdess

from datasets.audio import (
    FeatureParams,
    active_level_db,
    active_power,
    extract_features,
    feature_tensor,
    features_of,
    normalize_level,
    read_audio,
    trim_silence,
)
from training import augment_audio as A
from training.augment_audio import speech_augment

SPEECH = SHARED_DATA / "ravdess_speech_16k"


def speechlike(seconds: float = 2.5, seed: int = 0) -> np.ndarray:
    """A tone with a syllable-like loudness envelope and pauses: (n,) float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    env = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) * (t > 0.3) * (t < seconds - 0.3)
    y = 0.2 * env * np.sin(2 * np.pi * 180 * t) + 0.001 * rng.standard_normal(len(t))
    return y.astype(np.float32)


# ------------------------------------------------------------------------ level


def test_active_level_scales_with_the_signal_and_ignores_pauses():
    y = speechlike()
    assert active_level_db(y * 0.1) == pytest.approx(active_level_db(y) - 20, abs=0.01)
    padded = np.concatenate([np.zeros(48_000, np.float32), y, np.zeros(48_000, np.float32)])
    # Two seconds of silence around it lower the plain RMS by ~4 dB but not the active level.
    assert active_level_db(padded) == pytest.approx(active_level_db(y), abs=0.5)
    assert active_level_db(np.zeros(1000, np.float32)) == -120.0


def test_normalize_level_sets_the_level_and_keeps_the_dynamics():
    y = torch.from_numpy(np.stack([speechlike(), speechlike(seed=1) * 0.05]))
    out = normalize_level(y, -23.0)
    assert 10 * torch.log10(active_power(out)) == pytest.approx(torch.tensor([-23.0, -23.0]))
    # One gain per utterance: the shape of the loudness inside it is unchanged.
    ratio = out[0, 8000:40000] / y[0, 8000:40000].clamp(min=1e-6)
    nz = y[0, 8000:40000].abs() > 1e-3
    assert ratio[nz].std() / ratio[nz].mean() < 1e-4
    assert torch.equal(normalize_level(torch.zeros(1, 500), -23.0), torch.zeros(1, 500))


def test_features_do_not_depend_on_the_recording_level():
    y = speechlike()
    ref = features_of(y)
    for db in (-20, -10, 6):
        assert np.abs(features_of(y * 10 ** (db / 20)) - ref).max() < 0.01, db


def test_models_saved_before_level_normalisation_keep_absolute_levels():
    old = FeatureParams.from_dict(
        {k: v for k, v in FeatureParams().to_dict().items() if k != "level_db"}
    )
    assert old.level_db is None
    quiet, loud = features_of(tone(2.0, 16_000) * 0.1, old), features_of(tone(2.0, 16_000), old)
    assert loud.max() - quiet.max() == pytest.approx(20.0, abs=0.5)
    assert FeatureParams.from_dict(FeatureParams().to_dict()) == FeatureParams()


@needs_shared
def test_real_recordings_give_the_same_features_at_any_level():
    files = sorted(SPEECH.glob("Actor_16/*.flac"))[:6]
    params = FeatureParams()
    for f in files:
        y = read_audio(f)
        ref = features_of(y, params)
        for db in (-20, -10):
            assert np.abs(features_of(y * 10 ** (db / 20), params) - ref).max() < 0.05, f
        # +6 dB clips where the take is loud: the same utterance, slightly distorted.
        hot = np.clip(y * 2, -1, 1)
        assert np.median(np.abs(features_of(hot, params) - ref)) < 1.0, f


@needs_shared
def test_silence_is_trimmed_at_the_same_frames_at_any_level():
    # A quiet take (peak 0.04) was once cut one frame differently 20 dB quieter, which moved
    # its whole window and changed the answer: trimming must be a pure power ratio.
    for f in sorted(SPEECH.glob("Actor_16/*.flac")):
        y = read_audio(f)
        for gain in (0.1, 0.01):
            assert len(trim_silence(y * gain, 40)) == len(trim_silence(y, 40)), (f.name, gain)


@needs_shared
def test_the_speech_starter_answers_the_same_at_any_recording_level():
    """The issue's check: the same held-out recording at -20, -10, 0 and +6 dB (clipped)."""
    from training.predict import hear, load_model
    from training.runs import STARTER_FILES

    loaded = load_model(ROOT / "pretrained" / STARTER_FILES["speech"], "speech")
    params = FeatureParams.from_dict(loaded.preprocessing["features"])
    assert params.level_db is not None, "the starter model must normalise the level"
    files = [f for a in (16, 17, 18) for f in sorted(SPEECH.glob(f"Actor_{a:02d}/*.flac"))[::12]]
    assert len(files) >= 12
    differ = []
    for f in files:
        y = read_audio(f)
        tops = []
        for db in (-20, -10, 0, 6):
            probs = hear(loaded, np.clip(y * 10 ** (db / 20), -1, 1), params).probabilities
            tops.append(max(probs, key=probs.get))
        if len(set(tops)) > 1:
            differ.append((f.name, tops))
    assert not differ, differ


# ------------------------------------------------------------- recording conditions


def batch(n: int = 6, seed: int = 0) -> torch.Tensor:
    params = FeatureParams()
    return torch.from_numpy(
        np.stack([np.resize(speechlike(seed=seed + i), params.n_samples) for i in range(n)])
    )


def test_robust_augmentation_gives_features_of_the_right_shape_and_finite():
    params = FeatureParams()
    x = batch()
    out = A.augment_speech_robust(x, torch.Generator().manual_seed(0), params=params)
    assert out.shape == (6, 1, params.n_bins, params.n_frames)
    assert torch.isfinite(out).all()
    assert out.dtype == torch.float32
    aug = speech_augment("robust", params)
    assert aug(x, torch.Generator().manual_seed(0)).shape == out.shape


def test_robust_augmentation_is_reproducible_under_a_seed():
    params, x = FeatureParams(), batch()
    a = A.augment_speech_robust(x, torch.Generator().manual_seed(7), params=params)
    b = A.augment_speech_robust(x, torch.Generator().manual_seed(7), params=params)
    c = A.augment_speech_robust(x, torch.Generator().manual_seed(8), params=params)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_noise_is_added_at_the_drawn_snr():
    x = batch(8)
    c = A.Conditions(snr_db=(20.0, 20.0))
    y = A.add_noise(x, torch.Generator().manual_seed(0), c, 16_000, x)
    snr = 10 * torch.log10(active_power(x) / (y - x).pow(2).mean(1))
    assert snr == pytest.approx(torch.full((8,), 20.0), abs=0.01)


def test_telephone_band_removes_what_a_telephone_cannot_carry():
    x = batch(4) + 0.01 * torch.randn(4, 48_000, generator=torch.Generator().manual_seed(1))
    y = A.band_limit(x, torch.Generator().manual_seed(0), A.Conditions(telephone_share=1.0), 16_000)
    f = torch.fft.rfftfreq(48_000, 1 / 16_000)
    spec = torch.fft.rfft(y).abs().pow(2)
    inside = spec[:, (f > 300) & (f < 3400)].sum()
    assert spec[:, f > 3500].sum() < 1e-6 * inside
    assert spec[:, f < 250].sum() < 1e-6 * inside


def test_reverberation_leaves_a_decaying_tail_and_clipping_stays_in_full_scale():
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(4, 48_000)
    x[:, 8_000:16_000] = torch.randn(4, 8_000, generator=gen) * 0.1  # a burst, then silence
    wet = A.reverberate(x, gen, (0.4, 0.4), 16_000)
    assert wet.shape == x.shape
    assert torch.allclose(wet[:, :8_000], torch.zeros(4, 8_000), atol=1e-5)  # nothing before
    burst = wet[:, 8_000:16_000].pow(2).mean(1)
    just_after = wet[:, 16_000:17_600].pow(2).mean(1)  # the first 100 ms of the tail
    later = wet[:, 22_400:24_000].pow(2).mean(1)  # 400-500 ms after the burst
    assert (just_after > 1e-3 * burst).all()  # the room keeps ringing
    assert (later < 0.1 * just_after).all()  # and dies away
    hot = A.gain_and_clip(batch(4) * 20, gen, torch.ones(4, dtype=torch.bool), A.Conditions())
    assert hot.abs().max() <= 1.0
    assert (hot.abs() == 1.0).any()


def test_only_the_chosen_rows_change():
    x = batch(4)
    which = torch.tensor([True, False, True, False])
    out = A._on_rows(x, which, lambda r: r * 0)
    assert torch.equal(out[1], x[1]) and torch.equal(out[3], x[3])
    assert not out[0].any() and not out[2].any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_robust_augmentation_runs_on_the_gpu():
    params, x = FeatureParams(), batch().cuda()
    out = A.augment_speech_robust(x, torch.Generator("cuda").manual_seed(0), params=params)
    assert out.device.type == "cuda" and torch.isfinite(out).all()
    cpu = A.augment_speech_robust(x.cpu(), torch.Generator().manual_seed(0), params=params)
    assert cpu.shape == out.shape


def test_windows_for_robust_training_match_the_features(tmp_path):
    root = write_ravdess(tmp_path / "r", actors=(1,), emotions=(1, 3))
    paths = sorted(root.rglob("*.wav"))
    params = FeatureParams()
    win = extract_features(paths, params, windows=True, cache_dir=tmp_path / "c")
    feats = extract_features(paths, params, cache_dir=tmp_path / "c")
    assert win.x.shape == (len(paths), params.n_samples)
    again = feature_tensor(torch.from_numpy(win.x), params).numpy()
    assert np.abs(again - feats.x).max() < 1e-3


# ------------------------------------------------------------ cross-validation


def test_actor_folds_write_one_folder_with_every_fold_and_resume(tmp_path):
    from training.experiment import actor_folds
    from training.train import TrainOptions

    data = write_ravdess(tmp_path / "r", actors=(1, 2, 3, 4), emotions=(1, 3, 5, 8))
    base = TrainOptions(kind="speech", data=str(data), epochs=1, batch_size=8, augment="robust")
    out = tmp_path / "cv"
    summary = actor_folds(base, folds=4, out=out)
    assert summary["finished"] == 4
    tests = [a for r in summary["rows"] for a in r["test_actors"]]
    assert sorted(tests) == [1, 2, 3, 4]  # every actor tested exactly once
    for r in summary["rows"]:
        cfg = json.loads((out / f"fold{r['fold']:02d}" / "config.json").read_text())
        actors = cfg["data"]["actors"]
        assert not set(actors["train"]) & set(actors["test"])
        assert not set(actors["val"]) & set(actors["test"])
        assert cfg["augment"] == "robust"
    accs = np.array([r["accuracy"] for r in summary["rows"]])
    assert summary["accuracy_mean"] == pytest.approx(accs.mean())
    assert summary["accuracy_std"] == pytest.approx(accs.std(ddof=1))
    assert np.sum(summary["pooled_confusion"]) == sum(r["n_test"] for r in summary["rows"])
    for name in ("results.json", "results.md", "results.csv", "folds.png"):
        assert (out / name).is_file(), name
    assert "mean ± std" in (out / "results.md").read_text()

    # A second call keeps the finished folds (their files untouched) instead of retraining.
    stamp = (out / "fold01" / "best.pt").stat().st_mtime_ns
    again = actor_folds(base, folds=4, out=out)
    assert (out / "fold01" / "best.pt").stat().st_mtime_ns == stamp
    assert again["accuracy_mean"] == pytest.approx(summary["accuracy_mean"])


def test_actor_folds_resume_an_unfinished_fold(tmp_path):
    from training.experiment import actor_folds
    from training.train import TrainOptions

    data = write_ravdess(tmp_path / "r", actors=(1, 2, 3), emotions=(1, 3))
    base = TrainOptions(kind="speech", data=str(data), epochs=2, batch_size=4)
    out = tmp_path / "cv"
    actor_folds(base, folds=3, out=out)
    (out / "fold02" / "metrics.json").unlink()  # as if the session ended inside fold 2
    history = (out / "fold02" / "history.csv").read_text()
    again = actor_folds(replace_epochs(base, 3), folds=3, out=out)
    assert again["finished"] == 3
    assert (out / "fold02" / "history.csv").read_text().count("\n") == history.count("\n") + 1


def replace_epochs(opts, epochs):
    from dataclasses import replace

    return replace(opts, epochs=epochs)


def test_folds_are_refused_for_other_kinds_and_bad_counts(tmp_path):
    from datasets.errors import WorkbenchError
    from training.experiment import actor_folds
    from training.train import TrainOptions

    data = write_ravdess(tmp_path / "r", actors=(1, 2, 3), emotions=(1,))
    with pytest.raises(WorkbenchError, match="between 3 and the 3 actors"):
        actor_folds(TrainOptions(kind="speech", data=str(data)), folds=5, out=tmp_path / "x")
    with pytest.raises(WorkbenchError, match="speech models only"):
        actor_folds(TrainOptions(kind="face", data=str(data)), folds=3, out=tmp_path / "x")


def test_a_finished_cross_validation_exports_as_its_fold_models_averaged(tmp_path):
    from datasets.errors import WorkbenchError
    from models import Ensemble
    from training.checkpoint import load_checkpoint
    from training.experiment import actor_folds
    from training.predict import predict_file
    from training.train import TrainOptions, evaluate_checkpoint, train_model
    from workbench import main

    data = write_ravdess(tmp_path / "r", actors=(1, 2, 3), emotions=(1, 3, 5))
    base = TrainOptions(kind="speech", data=str(data), epochs=1, batch_size=4)
    out = tmp_path / "cv"
    summary = actor_folds(base, folds=3, out=out)
    assert main(["export", str(out), str(tmp_path / "s.pt")]) == 0
    loaded = load_checkpoint(tmp_path / "s.pt")
    model = loaded.model
    assert isinstance(model, Ensemble) and len(model.members) == 3
    # Its answer is the mean of the fold models' probabilities.
    wav = sorted(data.rglob("*.wav"))[0]
    got = predict_file(wav, model=tmp_path / "s.pt").probabilities
    folds = [
        predict_file(wav, model=out / f"fold{i:02d}" / "best.pt").probabilities for i in (1, 2, 3)
    ]
    for emotion, p in got.items():
        assert p == pytest.approx(np.mean([f[emotion] for f in folds]), abs=1e-4)
    # The card reports the cross-validated estimate, fold by fold, and says what it is.
    card = (tmp_path / "s.md").read_text()
    assert "this file has no held-out actors of its own" in card
    assert f"{summary['accuracy_mean']:.1%} ±" in card
    cv = loaded.payload["cv"]
    uars = np.array([r["uar"] for r in summary["rows"]])
    assert cv["uar_mean"] == pytest.approx(uars.mean())
    assert cv["uar_std"] == pytest.approx(uars.std(ddof=1))
    assert [f["test_actors"] for f in cv["folds"]] == [r["test_actors"] for r in summary["rows"]]
    assert loaded.payload["split"]["actors"] == {"train": [1, 2, 3], "val": [], "test": []}
    # Every actor was heard by some member: scored on this data, the file re-measures its
    # cross-validation (each member on its own fold's test actors), or says it is not held out.
    m = evaluate_checkpoint(tmp_path / "s.pt", data)
    assert m["split"] == "cv" and m["held_out"] is True and m["n_items"] == 18
    assert [f["test_actors"] for f in m["folds"]] == [r["test_actors"] for r in summary["rows"]]
    for f, r in zip(m["folds"], summary["rows"]):
        assert f["accuracy"] == pytest.approx(r["accuracy"])  # the fold run's own test score
    m = evaluate_checkpoint(tmp_path / "s.pt", data, split="all")
    assert m["held_out"] is False
    with pytest.raises(WorkbenchError, match="none of this model's test actors"):
        evaluate_checkpoint(tmp_path / "s.pt", data, split="test")
    # Nor can it seed a fusion branch: no fusion test actor would be unheard.
    with pytest.raises(WorkbenchError, match="cross-validation models averaged"):
        train_model(TrainOptions(kind="fusion", data="demo", speech_model=str(tmp_path / "s.pt")))


def test_an_unfinished_cross_validation_is_not_exported(tmp_path):
    from datasets.errors import WorkbenchError
    from training.experiment import actor_folds
    from training.export import export_folds
    from training.train import TrainOptions

    data = write_ravdess(tmp_path / "r", actors=(1, 2, 3), emotions=(1, 3))
    out = tmp_path / "cv"
    actor_folds(
        TrainOptions(kind="speech", data=str(data), epochs=1, batch_size=4), folds=3, out=out
    )
    summary = json.loads((out / "results.json").read_text())
    summary["finished"] = 2
    (out / "results.json").write_text(json.dumps(summary))
    with pytest.raises(WorkbenchError, match="2 of 3 folds finished"):
        export_folds(out, tmp_path / "s.pt")
