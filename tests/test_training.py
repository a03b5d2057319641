"""The engine: models, fit(), checkpoints, resume, stop, metrics and prediction."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import StopAt, tone, write_ravdess
from PIL import Image

from datasets.errors import WorkbenchError
from datasets.labels import FER_CLASSES
from models import FACE_PRESETS, SPEECH_PRESETS, FaceCNN, SpeechCNN, SpeechCNNConfig
from training.checkpoint import load_checkpoint
from training.data import TensorSet
from training.fit import FitConfig, fit, lr_at
from training.metrics import classification_metrics
from training.predict import audio_windows, predict_audio, predict_image
from training.train import TrainOptions, evaluate_checkpoint, train_model

QUICK_FACE = FACE_PRESETS["quick"]


def pattern_faces(n_per_class: int, n_classes: int = 7, seed: int = 0) -> TensorSet:
    """uint8 faces where class c is a bright bar at row band c, plus noise: learnable."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 80, size=(n_per_class * n_classes, 48, 48), dtype=np.uint8)
    y = np.repeat(np.arange(n_classes), n_per_class)
    for i, c in enumerate(y):
        x[i, 6 * c : 6 * c + 6, :] = 230
    return TensorSet(torch.from_numpy(x), torch.from_numpy(y))


def face_meta() -> dict:
    return {
        "kind": "face",
        "model_config": QUICK_FACE.to_dict(),
        "classes": list(FER_CLASSES),
        "preprocessing": {"input": "face48"},
    }


# ------------------------------------------------------------------- models


def test_model_shapes_and_embeddings():
    face = FaceCNN(FACE_PRESETS["full"]).eval()
    assert face(torch.rand(2, 1, 48, 48)).shape == (2, 7)
    assert face.encode(torch.rand(2, 1, 48, 48)).shape == (2, face.embed_dim)
    for cfg in (SPEECH_PRESETS["quick"], SpeechCNNConfig(variant="gru", n_bins=40)):
        speech = SpeechCNN(cfg).eval()
        for frames in (301, 120):  # any length works
            x = torch.randn(3, 1, cfg.n_bins, frames) * 20 - 40
            assert speech(x).shape == (3, 8)
            assert speech.encode(x).shape == (3, cfg.embed_dim)


def test_starter_sized_full_presets_fit_in_10_mb():
    for model in (FaceCNN(FACE_PRESETS["full"]), SpeechCNN(SPEECH_PRESETS["full"])):
        assert sum(p.numel() for p in model.parameters()) * 4 < 10e6


# ---------------------------------------------------------------------- fit


@pytest.mark.parametrize("kind", ["face", "speech"])
def test_overfits_one_batch(kind):
    """With dropout off, the loop must drive the loss on one batch to about zero."""
    torch.manual_seed(0)
    no_dropout = {"dropout": 0.0, "block_dropout": 0.0}
    if kind == "face":
        data = pattern_faces(2)
        model = FaceCNN(replace(QUICK_FACE, **no_dropout))
    else:
        g = torch.Generator().manual_seed(0)
        data = TensorSet(torch.randn(16, 1, 64, 40, generator=g) * 10 - 40, torch.arange(16) % 8)
        cfg = replace(SPEECH_PRESETS["quick"], input_mean=-40.0, input_std=10.0, **no_dropout)
        model = SpeechCNN(cfg)
    result = fit(
        model, data, data, FitConfig(epochs=60, batch_size=len(data), lr=1e-2, weight_decay=0.0)
    )
    assert result.history[-1]["train_loss"] < 0.05
    assert result.best_val_accuracy == 1.0


def test_learns_held_out_patterns():
    torch.manual_seed(0)
    result = fit(
        FaceCNN(QUICK_FACE),
        pattern_faces(20),
        pattern_faces(5, seed=1),
        FitConfig(epochs=6, batch_size=32, lr=3e-3),
    )
    assert result.best_val_accuracy > 0.8  # chance is 1/7
    assert [r["epoch"] for r in result.history] == list(range(1, 7))


def test_lr_schedule_warms_up_then_decays():
    lrs = [lr_at(s, 100, 1.0, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.05


def test_stop_event_ends_within_one_batch_and_leaves_usable_best(tmp_path, cadence):
    stop = threading.Event()
    rec = StopAt((1, 3), event=stop)
    model = FaceCNN(QUICK_FACE)
    trained = []
    model.register_forward_hook(lambda m, i, o: trained.append(1) if m.training else None)
    result = fit(
        model,
        pattern_faces(20),  # 140 faces: 18 batches of 8
        pattern_faces(2, seed=1),
        FitConfig(epochs=5, batch_size=8),
        meta=face_meta(),
        out_dir=tmp_path,
        callbacks=[rec],
        stop_event=stop,
    )
    # Stopped at the first report at or after batch 3: batch 3, or 10 at a GPU's cadence.
    epoch, batch = rec.stopped_at
    assert (epoch, batch) == (1, max(3, cadence))
    assert rec.reports == [(1, b) for b in range(cadence, batch + 1, cadence)]
    assert len(trained) == batch  # nothing ran after the stop
    assert result.stopped and result.best_epoch == 0 and result.history == []
    loaded = load_checkpoint(tmp_path / "best.pt", kind="face")
    assert loaded.model(torch.rand(1, 1, 48, 48)).shape == (1, 7)


def test_stop_after_an_epoch_keeps_the_best_epoch(tmp_path, cadence):
    stop = threading.Event()
    rec = StopAt((2, 1), event=stop)
    result = fit(
        FaceCNN(QUICK_FACE),
        pattern_faces(10),  # 70 faces: 18 batches of 4, so both cadences stop mid-epoch
        pattern_faces(2, seed=1),
        FitConfig(epochs=5, batch_size=4),
        meta=face_meta(),
        out_dir=tmp_path,
        callbacks=[rec],
        stop_event=stop,
    )
    assert rec.epochs == [1] and rec.reports[-1] == rec.stopped_at == (2, cadence)
    assert result.stopped and result.best_epoch == 1
    assert torch.load(tmp_path / "best.pt", weights_only=True)["epoch"] == 1


def test_early_stopping_on_validation(tmp_path):
    torch.manual_seed(0)
    # Validation labels that cannot be learned from training: no gain after epoch 1-2.
    val = pattern_faces(3, seed=1)
    val = TensorSet(val.x, val.y[torch.randperm(len(val.y))])
    result = fit(FaceCNN(QUICK_FACE), pattern_faces(5), val, FitConfig(epochs=30, patience=2))
    assert result.early_stopped
    assert result.epochs_run == result.best_epoch + 2 < 30


def test_a_run_that_reaches_its_last_epoch_did_not_stop_early():
    torch.manual_seed(0)
    # A linear model that does not learn (lr 0): epoch 1 is the best, and patience 2 runs
    # out exactly at the third and last epoch, which is not an early stop.
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 48, 7))
    config = FitConfig(epochs=3, patience=2, lr=0.0, weight_decay=0.0)
    result = fit(model, pattern_faces(5), pattern_faces(3, seed=1), config)
    assert result.epochs_run == 3 and result.best_epoch == 1
    assert not result.early_stopped


class BreaksAfter(torch.nn.Module):
    """A linear face model whose training logits turn NaN (or infinite) after ``calls``
    training batches, as a too-high learning rate makes them."""

    def __init__(self, calls: int, value: float = float("nan")):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 48, 7))
        self.calls, self.value = calls, value

    def forward(self, x):
        out = self.net(x)
        if self.training:
            self.calls -= 1
            if self.calls < 0:
                return out * self.value
        return out


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_diverging_run_stops_with_a_sentence_and_keeps_its_last_good_epoch(tmp_path, value):
    rec = StopAt()
    # 70 items in batches of 16: 5 batches an epoch; the 8th batch (epoch 2) diverges.
    with pytest.raises(WorkbenchError) as err:
        fit(
            BreaksAfter(7, value),
            pattern_faces(10),
            pattern_faces(2, seed=1),
            FitConfig(epochs=5, batch_size=16, lr=0.5),
            meta=face_meta(),
            out_dir=tmp_path,
            callbacks=[rec],
        )
    message = str(err.value)
    assert message.startswith("Training diverged in epoch 2 (the loss became NaN or infinite)")
    assert "epoch 1's model is kept" in message and "--lr 0.05 (this run used 0.5)" in message
    assert rec.epochs == [1] and rec.reports[-1] == (2, 2)  # nothing non-finite reported
    assert torch.load(tmp_path / "best.pt", weights_only=True)["epoch"] == 1
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1
    assert not (tmp_path / "metrics.json").exists()


def test_a_diverged_run_is_never_a_default_model(fer_csv, tmp_path, monkeypatch):
    import training.train
    from training.runs import default_model, find_runs

    with pytest.raises(WorkbenchError, match="epoch 1 .*nothing was learned before it"):
        fit(BreaksAfter(0), pattern_faces(3), pattern_faces(1, seed=1), FitConfig(epochs=2))
    runs = tmp_path / "runs"
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(runs))
    train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1))
    good = find_runs("face")
    monkeypatch.setattr(training.train, "build_model", lambda kind, cfg: BreaksAfter(1))
    with pytest.raises(WorkbenchError, match="diverged in epoch 2 .* epoch 1.s model is kept"):
        train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=3))
    assert len(list(runs.iterdir())) == 2  # the diverged run's folder is there ...
    assert find_runs("face") == good  # ... but not a finished run
    assert default_model("face") == good[0] / "best.pt"


# --------------------------------------------------- runs, resume, checkpoints


def test_run_folder_contents_and_metrics(fer_csv):
    run = fer_csv.parent.parent / "run"
    result = train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=2, out=run))
    for name in (
        "config.json",
        "history.csv",
        "metrics.json",
        "best.pt",
        "last.pt",
        "curves.png",
        "confusion.png",
        "report.md",
    ):
        assert (run / name).is_file(), name
    m = result.metrics
    # The fixture has PublicTest (validation) and PrivateTest (test) rows: test is the headline.
    assert (m["split"], m["n_train"], m["n_val"], m["n_test"]) == ("test", 28, 14, 7)
    assert m["n_items"] == 7 and sum(map(sum, m["confusion"])) == 7
    assert m["epochs_run"] == 2 and 1 <= m["best_epoch"] <= 2
    assert "Held-out result — test split" in (run / "report.md").read_text()


def test_checkpoint_round_trip_gives_identical_predictions(fer_csv, tmp_path):
    run = tmp_path / "run"
    train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1, out=run))
    a = load_checkpoint(run, kind="face")
    b = load_checkpoint(run / "best.pt")
    x = torch.rand(5, 1, 48, 48)
    with torch.no_grad():
        assert torch.equal(a.model(x), b.model(x))
    assert a.classes == FER_CLASSES and a.preprocessing["input"] == "face48"


def test_resume_continues_the_epoch_count_and_matches_a_straight_run(fer_csv, tmp_path, cadence):
    data = str(fer_csv.parent)
    # 28 training faces: 4 batches of 8 an epoch, or at a GPU's cadence 14 batches of 2,
    # so that the stop in epoch 3 lands mid-epoch (batch 1, or batch 10).
    batch_size = 8 if cadence == 1 else 2
    opts = {"kind": "face", "data": data, "epochs": 4, "batch_size": batch_size}
    straight = train_model(TrainOptions(**opts, out=tmp_path / "a"))
    hist = straight.fit.history
    assert [r["epoch"] for r in hist] == [1, 2, 3, 4]

    # Stop a 4-epoch run early in epoch 3, then resume it from last.pt (end of epoch 2).
    stop = threading.Event()
    run = tmp_path / "b"
    rec = StopAt((3, 1), event=stop)
    stopped = train_model(TrainOptions(**opts, out=run), callbacks=[rec], stop_event=stop)
    assert rec.stopped_at == (3, cadence)
    assert stopped.metrics["stopped"] and stopped.metrics["epochs_run"] == 2
    resumed = train_model(TrainOptions(kind="face", resume=str(run)))
    assert [r["epoch"] for r in resumed.fit.history] == [1, 2, 3, 4]
    assert resumed.metrics["epochs_run"] == 4
    # Weights, optimiser and random state all carried over: the same curve as straight.
    for got, want in zip(resumed.fit.history, hist):
        assert got["val_loss"] == pytest.approx(want["val_loss"], rel=1e-4)


def test_a_resumed_run_counts_the_time_of_its_earlier_chunks(fer_csv, tmp_path):
    opts = {"kind": "face", "data": str(fer_csv.parent), "epochs": 3, "batch_size": 8}
    stop = threading.Event()
    run = tmp_path / "run"
    train_model(
        TrainOptions(**opts, out=run),
        callbacks=[StopAt((3, 1), event=stop)],
        stop_event=stop,
    )
    # Pretend the two finished epochs took an hour each (a long run cut off by a session end).
    last = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    for record in last["history"]:
        record["seconds"] = 3600.0
    torch.save(last, run / "last.pt")
    t = time.perf_counter()
    resumed = train_model(TrainOptions(kind="face", resume=str(run)))
    wall = time.perf_counter() - t
    # Rounded to 0.1 s, and a tiny epoch can take under 0.05 s: so ">=" here. Without the earlier
    # chunks the figure would be about 0.
    assert 7200.0 <= resumed.metrics["seconds"] <= 7200.0 + wall + 0.1
    assert json.loads((run / "metrics.json").read_text())["seconds"] == resumed.metrics["seconds"]


def test_resume_refuses_a_finished_run(fer_csv, tmp_path):
    run = tmp_path / "run"
    train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1, out=run))
    with pytest.raises(WorkbenchError, match="already ran 1 epochs"):
        train_model(TrainOptions(kind="face", resume=str(run)))


def test_out_folder_with_a_model_is_not_overwritten(fer_csv, tmp_path):
    run = tmp_path / "run"
    train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1, out=run))
    before = (run / "best.pt").read_bytes()
    with pytest.raises(WorkbenchError, match="already holds a trained model"):
        train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1, out=run))
    assert (run / "best.pt").read_bytes() == before


# ------------------------------------------------------------------ metrics


def test_classification_metrics_by_hand():
    m = classification_metrics(np.array([0, 0, 0, 1, 2, 2]), np.array([0, 0, 1, 1, 2, 0]), "abc")
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["uar"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert m["per_class"]["a"] == {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    assert m["confusion_normalized"][2] == [0.5, 0.0, 0.5]


# --------------------------------------------------------------- prediction


@pytest.fixture
def face_run(fer_csv, tmp_path):
    run = tmp_path / "face-run"
    train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1, out=run))
    return run


@pytest.fixture
def speech_run(tmp_path):
    data = write_ravdess(tmp_path / "rav", actors=(1, 2, 3), emotions=(1, 3, 5, 8))
    run = tmp_path / "speech-run"
    train_model(TrainOptions(kind="speech", data=str(data), epochs=1, out=run))
    return run


def test_image_probabilities_sum_to_one(face_run, tmp_path):
    small = tmp_path / "face.png"
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(small)
    pred = predict_image(small, model=face_run)
    assert set(pred.probabilities) == set(FER_CLASSES)
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-9)
    assert pred.top in FER_CLASSES and pred.to_dict()["box"] is None


def test_audio_probabilities_sum_to_one_for_any_length(speech_run, tmp_path):
    for seconds, sr, channels, windows in ((1.0, 16_000, 1, 1), (8.0, 44_100, 2, 5)):
        wav = tmp_path / f"clip{seconds}.wav"
        sf.write(wav, tone(seconds, sr, channels=channels), sr)
        pred = predict_audio(wav, model=speech_run)
        assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-9)
        assert len(pred.probabilities) == 8
        assert pred.details["windows"] == windows


def test_a_long_recording_is_heard_in_batches_with_progress_and_segments(
    speech_run, tmp_path, monkeypatch
):
    import training.predict as predict

    rng = np.random.default_rng(0)
    # 75 s of tones changing every 5 s: 49 windows, three 30 s segments.
    parts = [tone(5.0, 16_000, 150 + 60 * rng.integers(0, 6)) for _ in range(15)]
    wav = tmp_path / "lesson.wav"
    sf.write(wav, np.concatenate(parts), 16_000)
    whole = predict_audio(wav, model=speech_run)  # every window in one batch
    monkeypatch.setattr(predict, "WINDOW_BATCH", 4)
    seen: list[tuple[int, int]] = []
    batched = predict_audio(wav, model=speech_run, progress=lambda d, t: seen.append((d, t)))
    assert batched.details["windows"] == whole.details["windows"] == 49
    for name, p in whole.probabilities.items():
        assert batched.probabilities[name] == pytest.approx(p, abs=1e-6)
    assert seen[0] == (4, 49) and seen[-1] == (49, 49) and len(seen) == 13
    segments = batched.details["segments"]
    assert [(s["start"], s["end"]) for s in segments[:2]] == [(0, 30), (30, 60)]
    assert segments[2]["start"] == 60 and 70 < segments[2]["end"] <= 75  # trimmed sound
    assert all(s["emotion"] in whole.probabilities and 0 < s["probability"] <= 1 for s in segments)
    short = tmp_path / "short.wav"
    sf.write(short, np.concatenate(parts[:2]), 16_000)
    assert "segments" not in predict_audio(short, model=speech_run).details


def test_audio_windows_cover_a_long_recording():
    from datasets.audio import FeatureParams

    p = FeatureParams(trim_db=None, level_db=None)  # the samples as they are
    y = np.arange(int(7.2 * 16_000), dtype=np.float32)
    w = audio_windows(y, p)
    assert w.shape == (4, p.n_samples)
    assert w[0, 0] == 0 and w[-1, -1] == y[-1]  # first and last samples both heard
    # With level normalisation the whole recording gets one gain: the windows still join.
    scaled = audio_windows(y / y.max(), FeatureParams(trim_db=None))
    assert np.allclose(scaled[1] / scaled[0].max(), w[1] / w[0].max(), rtol=1e-4)


def test_evaluate_uses_the_models_own_actor_split(speech_run, tmp_path):
    data = tmp_path / "rav"
    m = evaluate_checkpoint(speech_run, data, split="test")
    assert m["split"] == "test" and m["n_items"] == 8 and m["held_out"]  # actor 3 x 4 x 2
    # Actors added later do not move the model's own split (a new default would make
    # actors 4-5 the test set and actor 3 a validation actor).
    write_ravdess(data, actors=(4, 5), emotions=(1, 3, 5, 8))
    again = evaluate_checkpoint(speech_run, data)
    assert again["split"] == "test" and again["n_items"] == 8
    m_all = evaluate_checkpoint(speech_run, data, split="all")
    assert m_all["n_items"] == 40 and m_all["held_out"] is False  # actor 1 trained it
    train = evaluate_checkpoint(speech_run, data, split="train")
    assert train["n_items"] == 8 and train["held_out"] is False


def test_evaluate_on_a_folder_of_unseen_actors_scores_all_of_it(speech_run, tmp_path):
    other = write_ravdess(tmp_path / "other", actors=(7, 8), emotions=(1, 3))
    m = evaluate_checkpoint(speech_run, other)
    assert m["split"] == "all" and m["n_items"] == 8 and m["held_out"] is True


def test_evaluate_uses_the_fer_hold_out_the_model_trained_with(tmp_path):
    from conftest import fer_rows, write_fer_csv

    csv = write_fer_csv(tmp_path / "fer" / "fer2013.csv", fer_rows(10), "emotion,pixels,Usage")
    run = train_model(
        TrainOptions(kind="face", data=str(csv), epochs=1, seed=3, out=tmp_path / "run")
    )
    assert run.metrics["split"] == "val" and run.metrics["n_val"] == 7
    m = evaluate_checkpoint(run.run_dir, csv)
    assert m["split"] == "val" and m["held_out"] is True
    assert m["n_items"] == 7 and m["accuracy"] == pytest.approx(run.metrics["accuracy"])
    assert m["confusion"] == run.metrics["confusion"]  # the very same images
    assert evaluate_checkpoint(run.run_dir, csv, split="all")["held_out"] is None


def test_a_last_batch_of_one_item_trains(tmp_path):
    data = pattern_faces(5)  # 35 items in batches of 17: 17 + 18, never 17 + 17 + 1
    assert [len(b["y"]) for b in data.batches(17)] == [17, 18]
    result = fit(FaceCNN(QUICK_FACE), data, data, FitConfig(epochs=1, batch_size=17))
    assert result.epochs_run == 1


def test_resume_refuses_another_kind_and_changed_settings(fer_csv, tmp_path, capsys):
    import workbench

    run = tmp_path / "run"
    train_model(TrainOptions(kind="face", data=str(fer_csv.parent), epochs=1, out=run))
    with pytest.raises(WorkbenchError, match="holds a face run"):
        train_model(TrainOptions(kind="speech", resume=str(run), epochs=3))
    assert workbench.main(["train", "face", "--resume", str(run), "--lr", "0.1"]) == 2
    assert "drop --lr" in capsys.readouterr().err


def test_default_model_skips_a_run_stopped_in_its_first_epoch(fer_csv, monkeypatch, tmp_path):
    from training.runs import default_model

    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "runs"))
    data = str(fer_csv.parent)
    good = train_model(TrainOptions(kind="face", data=data, epochs=1))
    stop = threading.Event()
    stop.set()  # stopped before the first batch
    bad = train_model(TrainOptions(kind="face", data=data, epochs=1), stop_event=stop)
    assert bad.metrics["best_epoch"] == 0 and (bad.run_dir / "best.pt").exists()
    assert default_model("face") == good.run_dir / "best.pt"


# ---------------------------------------------------------------- demo data


@pytest.mark.parametrize("kind", ["face", "speech"])
def test_two_epochs_on_demo_data_beat_chance_clearly(demo_root, kind):
    result = train_model(TrainOptions(kind=kind, data="demo", epochs=2))
    m = result.metrics
    chance = 1 / len(m["classes"])
    assert m["split"] == "test" and m["n_items"] > 100
    # UAR: a model that always answers the commonest class scores exactly chance.
    assert m["uar"] > 2 * chance, m
    assert m["accuracy"] < 1.0
    assert result.run_dir.parent.name == "runs"  # the isolated runs folder
