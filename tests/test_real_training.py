"""The engine on real data slices: train, evaluate and predict on real FER-2013 faces,
real RAVDESS speech (any rate, stereo) and a face in a real 1280x720 video frame."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED_DATA, needs_shared

import workbench
from training.predict import predict_audio, predict_image
from training.train import TrainOptions, evaluate_checkpoint, train_model

pytestmark = needs_shared


@pytest.fixture(scope="module")
def face_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("real") / "face"
    csv = SHARED_DATA / "fer2013" / "fer2013_sample.csv"  # 1,167 real Training rows
    return train_model(TrainOptions(kind="face", data=str(csv), epochs=1, out=str(run)))


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("real")
    data = base / "ravdess"  # actors 1-3 as links: train 1, validation 2, test 3
    data.mkdir()
    for a in (1, 2, 3):
        (data / f"Actor_{a:02d}").symlink_to(SHARED_DATA / "ravdess_speech_16k" / f"Actor_{a:02d}")
    return train_model(TrainOptions(kind="speech", data=str(data), epochs=1, out=str(base / "s")))


def test_face_run_on_real_rows_scores_its_carved_validation_split(face_run):
    m = face_run.metrics
    # No PublicTest/PrivateTest rows: the headline is the stratified 10% held out of training.
    assert m["split"] == "val" and m["n_test"] == 0
    assert m["n_train"] + m["n_val"] == 1167 and 100 <= m["n_val"] <= 130
    again = evaluate_checkpoint(face_run.run_dir, SHARED_DATA / "fer2013" / "fer2013_sample.csv")
    assert again["split"] == "val" and again["n_items"] == m["n_val"]
    assert again["accuracy"] == pytest.approx(m["accuracy"])


def test_face_in_a_real_video_frame_is_found_and_classified(face_run, tmp_path):
    import cv2

    clip = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))[0]
    cap = cv2.VideoCapture(str(clip))
    for _ in range(40):
        ok, frame = cap.read()
    cap.release()
    assert ok
    cv2.imwrite(str(tmp_path / "frame.jpg"), frame)
    pred = predict_image(tmp_path / "frame.jpg", model=face_run.run_dir)
    x, y, w, h = pred.details["box"]
    assert 200 < w < 700 and pred.arrays["face"].shape == (48, 48)
    assert sum(pred.probabilities.values()) == pytest.approx(1.0)


def test_speech_run_splits_real_actors(speech_run):
    config = json.loads((speech_run.run_dir / "config.json").read_text())
    assert config["data"]["actors"] == {"train": [1], "val": [2], "test": [3]}
    m = speech_run.metrics
    assert (m["split"], m["n_train"], m["n_val"], m["n_test"]) == ("test", 60, 60, 60)


def test_real_48k_stereo_wav_and_16k_flac_predict(speech_run):
    wav = sorted((SHARED_DATA / "ravdess_wav48k_samples").rglob("*.wav"))[0]
    flac = sorted((SHARED_DATA / "ravdess_speech_16k" / "Actor_05").glob("*.flac"))[0]
    for path in (wav, flac):
        pred = predict_audio(path, model=speech_run.run_dir)
        assert len(pred.probabilities) == 8
        assert sum(pred.probabilities.values()) == pytest.approx(1.0)
        assert 2.5 < pred.details["seconds"] < 6.0 and np.isfinite(pred.arrays["features"]).all()


def test_cli_predict_on_a_real_flac(speech_run, capsys):
    flac = sorted((SHARED_DATA / "ravdess_speech_16k" / "Actor_18").glob("*.flac"))[0]
    assert workbench.main(["predict", str(flac), "--model", str(speech_run.run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "audio"
