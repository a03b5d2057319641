"""Saliency (``training.explain``): maps of exactly the model input, finite, repeatable,
leaving the shared model as it was; the deletion test on a small trained demo model; and
the ``explain`` command's JSON, picture and errors.

A quick face model is trained on a small demo set (700 synthetic faces, about half a
minute in all); a quick CNN speech model on the fake tone recordings of conftest.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, needs_shared
from PIL import Image

import workbench
from datasets import demo
from datasets.errors import WorkbenchError
from training.data import as_float
from training.explain import (
    DEFAULT_METHODS,
    METHODS,
    deletion_drops,
    method_for,
    saliency,
)
from training.predict import load_model
from training.tasks import task_for
from training.train import TrainOptions, train_model

ROOT = Path(__file__).resolve().parent.parent
SPEECH_STARTER = ROOT / "pretrained" / "speech_ravdess.pt"  # an ensemble: no Grad-CAM


@pytest.fixture(scope="module")
def face_run(tmp_path_factory):
    """A quick face model trained on 700 demo faces, and the data it was trained on."""
    tmp = tmp_path_factory.mktemp("explain")
    data = tmp / "demo"
    demo.make_demo_data(data, 0, n_faces=700, n_actors=1, with_video=False, workers=1)
    run = tmp / "face-run"
    train_model(TrainOptions(kind="face", data=str(data / "fer2013"), epochs=4, out=str(run)))
    return run, data / "fer2013"


@pytest.fixture(scope="module")
def held_out(face_run):
    """The model and 60 of the validation faces it never trained on, (60, 1, 48, 48)."""
    run, data = face_run
    loaded = load_model(run, "face")
    items = task_for("face").eval_items(loaded, [data], "val").items
    return loaded, as_float(items.x[:60])


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory):
    """A quick CNN speech model (one epoch on conftest's tone recordings)."""
    from conftest import write_ravdess

    tmp = tmp_path_factory.mktemp("speech")
    data = write_ravdess(tmp / "ravdess")
    run = tmp / "speech-run"
    train_model(TrainOptions(kind="speech", data=str(data), epochs=1, out=str(run)))
    return run, data


@pytest.mark.parametrize("method", METHODS)
def test_face_saliency_is_a_finite_repeatable_map_and_leaves_the_model_alone(held_out, method):
    loaded, x = held_out
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    sal = saliency(loaded, x[:3], method=method)
    assert sal.shape == (3, 48, 48) and sal.dtype == np.float32
    assert np.isfinite(sal).all() and sal.min() >= 0 and sal.max() == pytest.approx(1.0)
    assert np.array_equal(sal, saliency(loaded, x[:3], method=method))  # deterministic
    assert not loaded.model.training and loaded.model.test_views  # still as prediction uses it
    assert all(p.grad is None for p in loaded.model.parameters())
    after = loaded.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # batch norm stats too


@pytest.mark.parametrize("method", METHODS)
def test_speech_saliency_covers_the_bands_and_frames_the_model_heard(speech_run, method):
    from datasets.audio import FeatureParams

    run, _ = speech_run
    loaded = load_model(run, "speech")
    params = FeatureParams.from_dict(loaded.preprocessing["features"])
    x = torch.randn(1, 1, params.n_bins, params.n_frames) * 10 - 40  # dB-like
    sal = saliency(loaded, x, method=method)
    assert sal.shape == (1, params.n_bins, params.n_frames) and np.isfinite(sal).all()


def test_grad_cam_needs_a_feature_map_and_the_speech_default_needs_none():
    starter = load_model(SPEECH_STARTER, "speech")
    x = torch.zeros(1, 1, 64, 50)  # (B, 1, mel bands, frames)
    with pytest.raises(WorkbenchError, match="integrated-gradients or occlusion"):
        saliency(starter, x, method="gradcam")
    sal = saliency(starter, x)  # the speech default
    assert method_for(starter, None) != "gradcam" and np.isfinite(sal).all()


def test_hiding_the_most_salient_pixels_costs_more_than_the_least_salient(held_out):
    """The deletion test (bench/saliency_deletion.py) on held-out demo faces: a faithful map
    must beat its own reverse, which this check would catch (see the last assertion)."""
    loaded, x = held_out
    sal = saliency(loaded, x)  # the face default
    drops = deletion_drops(loaded, x, sal)
    most, least, rand = (drops[k].mean() for k in ("most", "least", "random"))
    gap = drops["most"] - drops["least"]  # per face
    se = gap.std(ddof=1) / np.sqrt(len(gap))
    # A confident demo model loses little to any 20%, so the bar is a clear, significant gap.
    assert gap.mean() > max(0.02, 2 * se), (most, least, rand, se)
    assert most > rand
    reversed_map = deletion_drops(loaded, x, 1.0 - sal)  # the same test, fooled
    assert reversed_map["most"].mean() < reversed_map["least"].mean()


def write_face(tmp_path: Path, face: np.ndarray) -> Path:
    path = tmp_path / "face.png"
    Image.fromarray(face).save(path)
    return path


def test_explain_json_gives_the_answer_and_a_48x48_map(face_run, held_out, tmp_path, capsys):
    run, _ = face_run
    loaded, x = held_out
    photo = write_face(tmp_path, (x[0, 0].numpy() * 255).round().astype(np.uint8))
    png = tmp_path / "explained.png"
    args = ["explain", str(photo), "--model", str(run), "--json", "--out", str(png)]
    assert workbench.main(args) == 0
    out = json.loads(capsys.readouterr().out)
    sal = np.array(out["saliency"])
    assert sal.shape == (48, 48) and np.isfinite(sal).all()
    assert set(out["probabilities"]) == set(loaded.classes)
    assert out["top"] == max(out["probabilities"], key=out["probabilities"].get)
    assert out["method"] == DEFAULT_METHODS["face"]
    assert png.stat().st_size > 10_000


def test_explain_json_for_a_recording_is_bands_by_frames(speech_run, capsys):
    run, data = speech_run
    wav = next(data.rglob("*.wav"))
    args = ["explain", str(wav), "--model", str(run), "--method", "occlusion", "--json"]
    assert workbench.main(args) == 0
    out = json.loads(capsys.readouterr().out)
    loaded = load_model(run, "speech")
    n_bins = loaded.model.config.n_bins
    sal = np.array(out["saliency"])
    assert sal.shape[0] == n_bins and sal.shape[1] > 10 and np.isfinite(sal).all()
    assert out["method"] == "occlusion"


def exit_code(args: list[str]) -> int:
    try:
        return workbench.main(args)
    except SystemExit as exc:  # argparse's usage errors (exit status 2 as well)
        return exc.code


def gray_face(tmp_path: Path) -> Path:
    return write_face(tmp_path, np.full((48, 48), 128, np.uint8))


@pytest.mark.parametrize(
    "make, extra",
    [
        (lambda tmp: tmp / "missing.png", []),
        (lambda tmp: (tmp / "notes.txt").write_text("hi") and tmp / "notes.txt", []),
        (gray_face, ["--model", "no-model.pt"]),
        (gray_face, ["--method", "magic"]),
        (gray_face, ["--model", str(SPEECH_STARTER)]),
    ],
    ids=[
        "missing file",
        "neither picture nor sound",
        "missing model",
        "unknown method",
        "speech model for a face",
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(tmp_path, capsys, monkeypatch, make, extra):
    monkeypatch.chdir(tmp_path)
    assert exit_code(["explain", str(make(tmp_path)), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "error:" in err[-1] and not any("Traceback" in line for line in err)
    if "--method" not in extra:  # ours, not argparse's usage message: one sentence
        assert len(err) == 1


def test_a_fusion_model_is_explained_through_its_face_and_speech_models_only(tmp_path, capsys):
    photo = gray_face(tmp_path)
    fusion = ROOT / "pretrained" / "fusion_fer_ravdess.pt"
    assert workbench.main(["explain", str(photo), "--model", str(fusion)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fusion" in err[0]


@needs_shared
def test_a_real_clip_is_explained_face_by_face_and_by_its_sound(monkeypatch, tmp_path, capsys):
    """The starter models on a real RAVDESS take: a 48x48 map per face found, the sound's
    over the speech model's bands x frames."""
    monkeypatch.setenv("WORKBENCH_PRETRAINED_DIR", str(ROOT / "pretrained"))
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "no-runs"))
    monkeypatch.setitem(DEFAULT_METHODS, "face", "gradcam")  # the shapes, in a second
    clip = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))[0]
    assert workbench.main(["explain", str(clip), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["top"] in out["probabilities"] and out["frames"]
    for frame in out["frames"]:
        sal = np.array(frame["saliency"])
        assert sal.shape == (48, 48) and np.isfinite(sal).all()
    sound = np.array(out["speech"]["saliency"])
    assert sound.shape[0] == 64 and np.isfinite(sound).all()
    assert (out["method"], out["speech_method"]) == (
        DEFAULT_METHODS["face"],
        DEFAULT_METHODS["speech"],
    )
