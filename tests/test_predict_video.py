"""Predicting a video clip (face model per frame, speech model on the take's sound), the
plot helpers the Predict tab uses, and the tab itself on a virtual screen."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED_DATA, needs_shared, pump, tone
from matplotlib.figure import Figure
from PIL import Image
from test_cli_training import runs  # noqa: F401  (the module's tiny face and speech runs)

import workbench
from datasets import demo
from datasets.audio import FeatureParams
from datasets.demo.video import write_mp4
from datasets.errors import NoFaceError, WorkbenchError
from datasets.labels import FER_CLASSES, RAVDESS_EMOTIONS, ravdess_name
from training import predict
from training.plots import plot_probabilities, plot_spectrogram, plot_timeline, plot_waveform
from training.predict import DISPLAY_SIDE, predict_audio, predict_file, predict_image, predict_video
from training.records import Prediction
from training.train import TrainOptions, train_model

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


@pytest.fixture(scope="module")
def demo_actor(tmp_path_factory):
    """One demo actor's folder: 60 video-only clips (02-…mp4), each beside its 03-…wav."""
    root = tmp_path_factory.mktemp("demo") / "demo"
    demo.make_demo_data(root, 0, n_faces=14, n_actors=1, workers=1)
    return root / "ravdess" / "Actor_01"


@pytest.fixture(scope="module")
def clip(demo_actor):
    return demo_actor / ravdess_name(2, 1, 5, 2, 1, 1, 1, ext="mp4")  # angry, strong


@pytest.fixture
def models(runs, monkeypatch):  # noqa: F811
    # No fusion model unless a test passes one (other tests may leave fusion runs behind).
    monkeypatch.setattr(predict, "default_fusion_model", lambda: None)
    return {"face_model": runs["face"], "speech_model": runs["speech"]}


@pytest.fixture(scope="module")
def fusion_run(demo_root, tmp_path_factory):
    """A fusion model trained one epoch on a quarter of the demo takes."""
    out = tmp_path_factory.mktemp("fusion") / "concat"
    opts = TrainOptions(
        kind="fusion", data="demo", epochs=1, fraction=0.25, n_frames=2, out=str(out)
    )
    return train_model(opts).run_dir


def assert_distribution(probs: dict[str, float], classes) -> None:
    assert list(probs) == list(classes)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(0.0 <= p <= 1.0 for p in probs.values())


# ------------------------------------------------------------------ predict_video


def test_video_gives_per_frame_face_and_speech_probabilities(clip, models):
    pred = predict_video(clip, **models)
    assert pred.kind == "video" and pred.model == str(models["face_model"] / "best.pt")
    frames = pred.details["frames"]
    assert len(frames) == 8 and all(f["face_found"] for f in frames)  # 64 px demo faces
    times = [f["time"] for f in frames]
    assert times == sorted(times) and 0.0 < times[0] < times[-1] < 3.0
    for f in frames:
        assert_distribution(f["probabilities"], FER_CLASSES)
        assert f["box"] is None  # a frame this small is a face crop already, used whole

    face = asdict(pred.face)
    assert_distribution(face["mean"], FER_CLASSES)
    assert face["frames_with_face"] == face["frames_sampled"] == 8
    per_frame = np.array([list(f["probabilities"].values()) for f in frames])
    assert list(face["mean"].values()) == pytest.approx(per_frame.mean(0).tolist(), abs=1e-6)
    # No fusion model: the headline is the face mean and the speech result averaged over
    # the FER-2013 emotions, calm counted as neutral.
    fused = asdict(pred.fused)
    assert fused["model"] is None and "no fusion model" in fused["method"]
    assert pred.probabilities == fused["probabilities"] and pred.top == fused["top"]
    assert_distribution(fused["probabilities"], FER_CLASSES)
    s = pred.speech.probabilities
    assert fused["probabilities"]["neutral"] == pytest.approx(
        0.5 * face["mean"]["neutral"] + 0.5 * (s["neutral"] + s["calm"])
    )
    assert fused["probabilities"]["fear"] == pytest.approx(
        0.5 * face["mean"]["fear"] + 0.5 * s["fearful"]
    )

    speech = asdict(pred.speech)
    assert_distribution(speech["probabilities"], RAVDESS_EMOTIONS)
    assert speech["top"] == max(speech["probabilities"], key=speech["probabilities"].get)
    assert speech["audio_from"] == str(clip.with_name("03" + clip.name[2:-4] + ".wav"))
    assert speech["seconds"] == 3.0 and speech["windows"] == 1
    assert speech["model"] == str(models["speech_model"] / "best.pt")

    a = pred.arrays
    assert len(a["frames"]) == 8 and a["frames"][0].shape == (64, 64)
    assert a["faces"].shape == (8, 48, 48) and a["faces"].dtype == np.uint8
    assert a["found"].all() and a["times"].shape == (8,)
    assert a["features"].shape == (64, 301) and len(a["waveform"]) == 48_000

    d = json.loads(json.dumps(pred.to_dict()))  # JSON-safe all the way down
    assert d["kind"] == "video" and d["top"] == pred.top and d["frames"][3]["box"] is None


def test_video_with_a_fusion_model_leads_with_its_fused_answer(
    clip, models, fusion_run, monkeypatch
):
    pred = predict_video(clip, **models, fusion_model=fusion_run)
    fused = asdict(pred.fused)
    assert fused["model"] == str(fusion_run / "best.pt") == pred.model
    assert fused["method"] == "concat fusion (takes)"
    assert fused["note"] == "audio-video takes: the same person at the same moment"
    assert_distribution(fused["probabilities"], RAVDESS_EMOTIONS)
    assert pred.probabilities == fused["probabilities"] and pred.top == fused["top"]
    assert pred.top == max(fused["probabilities"], key=fused["probabilities"].get)
    # The fusion model really sees this clip: another clip gets other probabilities.
    other = clip.with_name(ravdess_name(2, 1, 3, 2, 1, 1, 1, ext="mp4"))  # happy
    assert (
        predict_video(other, **models, fusion_model=fusion_run).probabilities != pred.probabilities
    )
    # --model names the fusion model for a clip when it is one (the face model is then the
    # default one).
    monkeypatch.setattr(predict, "default_model", lambda kind: models["face_model"] / "best.pt")
    via_file = predict_file(clip, model=fusion_run, speech_model=models["speech_model"])
    assert via_file.fused.model == fused["model"]
    assert via_file.probabilities == pytest.approx(pred.probabilities)


def test_fusion_model_for_a_photo_is_refused(tmp_path, fusion_run):
    photo = tmp_path / "face.png"
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(photo)
    with pytest.raises(WorkbenchError, match=r"is a fusion \(video\) model, but a face"):
        predict_file(photo, model=fusion_run, detect=False)


def test_video_through_predict_file_uses_model_as_the_face_model(clip, models):
    pred = predict_file(clip, model=models["face_model"], speech_model=models["speech_model"])
    assert pred.kind == "video" and pred.face.model == pred.model


@pytest.mark.parametrize("content", [b"", b"this is not a video\n" * 50], ids=["0-byte", "text"])
def test_a_file_named_mp4_that_is_no_video_is_one_sentence(tmp_path, models, content):
    bad = tmp_path / "holiday.mp4"
    bad.write_bytes(content)
    with pytest.raises(WorkbenchError, match=r"'.*holiday\.mp4' is not a video") as exc:
        predict_file(bad, model=models["face_model"], speech_model=models["speech_model"])
    message = str(exc.value)
    assert message.endswith(".") and "\n" not in message


def _silent_clip(tmp_path: Path, clip: Path) -> Path:
    """The clip without the 03-…wav beside it, and no sound track. Two folders down, so the
    search one folder up stays inside this test's own folder (not other tests' files)."""
    alone = tmp_path / "lonely" / "Actor_01" / clip.name
    alone.parent.mkdir(parents=True)
    alone.write_bytes(clip.read_bytes())
    return alone


def test_clip_without_sound_is_answered_by_the_face_model_alone(tmp_path, clip, models):
    alone = _silent_clip(tmp_path, clip)
    pred = predict_video(alone, **models)
    with_sound = predict_video(clip, **models)
    assert pred.speech is None and pred.fused is None
    assert pred.probabilities == pred.face.mean == with_sound.face.mean  # the same faces
    assert pred.model == pred.face.model == str(models["face_model"] / "best.pt")
    assert "no sound to hear (it has no sound track" in pred.warnings[0]
    frames = pred.details["frames"]  # frame by frame, as with sound
    assert [f["probabilities"] for f in frames] == [
        f["probabilities"] for f in with_sound.details["frames"]
    ]
    out = json.loads(json.dumps(pred.to_dict(), allow_nan=False))
    assert "speech" not in out and "fused" not in out and out["face"]["mean"] == pred.probabilities


def test_a_silent_clip_is_explained_by_its_faces(tmp_path, clip, models):
    from training.explain import explain_prediction
    from training.saliency_plots import explanation_figure

    pred = explain_prediction(predict_video(_silent_clip(tmp_path, clip), **models), "gradcam")
    sal = pred.arrays["faces_saliency"]
    assert sal.shape == (pred.face.frames_with_face, 48, 48) and np.isfinite(sal).all()
    assert "speech_method" not in pred.details["saliency"]
    fig = explanation_figure(pred)
    assert "face model alone (no sound)" in fig.get_suptitle()
    assert any("no sound" in ax.get_title() for ax in fig.axes)


def test_clip_without_a_face_is_refused(tmp_path, models):
    blank = tmp_path / "wall.mp4"
    write_mp4(blank, np.full((12, 120, 160), 180, np.uint8))  # bigger than a face crop
    with pytest.raises(NoFaceError, match=r"No face found in any of the \d+ sampled .*wall\.mp4"):
        predict_video(blank, **models)


# ---------------------------------------------------------------------- command line


def test_cli_predict_clip_json_schema(clip, runs, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setattr(predict, "default_fusion_model", lambda: None)
    argv = ["predict", str(clip), "--model", str(runs["face"])]
    assert workbench.main([*argv, "--speech-model", str(runs["speech"]), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "video" and d["file"] == str(clip)
    assert set(d) >= {
        "model",
        "trained_on",
        "top",
        "probabilities",
        "frames",
        "face",
        "speech",
        "fused",
    }
    assert set(d["fused"]) == {"model", "trained_on", "method", "note", "probabilities", "top"}
    assert set(d["frames"][0]) == {"time", "face_found", "box", "probabilities"}
    assert set(d["face"]) == {
        "model",
        "trained_on",
        "mean",
        "frames_with_face",
        "frames_sampled",
    }
    assert set(d["speech"]) == {
        "model",
        "trained_on",
        "probabilities",
        "top",
        "audio_from",
        "seconds",
        "windows",
    }
    assert d["trained_on"].endswith("fer") and d["speech"]["trained_on"].endswith("rav")


def test_cli_predict_clip_text_names_both_models_and_every_frame(clip, runs, capsys, fusion_run):  # noqa: F811
    argv = ["predict", str(clip), "--model", str(runs["face"])]
    assert workbench.main([*argv, "--speech-model", str(runs["speech"])]) == 0
    out = capsys.readouterr().out
    assert f"face model: {runs['face'] / 'best.pt'}" in out
    assert out.splitlines()[1].startswith("fused: ")
    argv = ["predict", str(clip), "--model", str(fusion_run), "--face-model", str(runs["face"])]
    assert workbench.main([*argv, "--speech-model", str(runs["speech"])]) == 0
    fused = capsys.readouterr().out.splitlines()[1]
    assert fused.startswith("fused: ") and f"model: {fusion_run / 'best.pt'}" in fused
    assert f"speech model: {runs['speech'] / 'best.pt'}" in out
    assert sum(line.strip().startswith(tuple("0123456789")) for line in out.splitlines()) == 8


def test_cli_predict_silent_clip_answers_with_the_face_model_and_says_so(
    tmp_path,
    clip,
    runs,  # noqa: F811
    capsys,
):
    alone = _silent_clip(tmp_path, clip)
    argv = ["predict", str(alone), "--model", str(runs["face"]), "--speech-model"]
    assert workbench.main([*argv, str(runs["speech"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("face model alone: ")
    assert out[2].startswith("warning: There was no sound to hear")
    assert not any(line.startswith(("speech:", "fused:")) for line in out)
    assert sum(line.strip().startswith(tuple("0123456789")) for line in out) == 8  # per frame
    assert workbench.main([*argv, str(runs["speech"]), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert "speech" not in d and d["probabilities"] == d["face"]["mean"]


def _bad_clips(tmp_path, clip):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    blank = tmp_path / "wall.mp4"
    write_mp4(blank, np.full((12, 120, 160), 180, np.uint8))
    alone = tmp_path / "lonely" / "Actor_01" / clip.name
    alone.parent.mkdir(parents=True)
    alone.write_bytes(clip.read_bytes())
    return {
        "broken.mp4": (bad, "is not a video"),
        "wall.mp4": (blank, "No face found"),
    }


@pytest.mark.parametrize("which", ["broken.mp4", "wall.mp4"])
def test_cli_bad_clip_exits_2_with_one_sentence(tmp_path, runs, capsys, clip, fusion_run, which):  # noqa: F811
    path, words = _bad_clips(tmp_path, clip)[which]
    argv = ["predict", str(path), "--fusion-model", str(fusion_run), "--model", str(runs["face"])]
    assert workbench.main([*argv, "--speech-model", str(runs["speech"])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and path.name in err
    assert words in err


# ------------------------------------------------------------------------ real data


@needs_shared
def test_real_clips_give_face_speech_and_fused_probabilities(runs, fusion_run, capsys):  # noqa: F811
    clips = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))
    if not clips:
        pytest.skip(f"no clips in {SHARED_DATA / 'ravdess_video'}")
    argv = ["--model", str(fusion_run), "--face-model", str(runs["face"]), "--json"]
    argv += ["--speech-model", str(runs["speech"])]
    for path in clips:
        assert workbench.main(["predict", str(path), *argv]) == 0
        d = json.loads(capsys.readouterr().out)
        for probs in (d["face"]["mean"], d["speech"]["probabilities"], d["fused"]["probabilities"]):
            assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
        assert d["top"] == d["fused"]["top"] == max(d["probabilities"], key=d["probabilities"].get)
        assert d["face"]["frames_with_face"] >= 6


@needs_shared
def test_real_ravdess_clips_predict_end_to_end(models):
    clips = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))
    if not clips:
        pytest.skip(f"no clips in {SHARED_DATA / 'ravdess_video'}")
    for path in clips:
        pred = predict_video(path, **models)
        face = asdict(pred.face)
        assert face["frames_with_face"] >= 6, path.name  # a frontal actor in a studio
        for f in pred.details["frames"]:
            if f["face_found"]:
                x, y, w, h = f["box"]
                assert 200 < w < 700 and 0 <= x <= 1280 - w and 0 <= y <= 720 - h
                assert_distribution(f["probabilities"], FER_CLASSES)
        assert pred.arrays["frames"][0].shape == (720, 1280)
        speech = asdict(pred.speech)
        assert_distribution(speech["probabilities"], RAVDESS_EMOTIONS)
        # The audio-only take (03-…) when the shared data has it, else the clip's own track.
        assert speech["audio_from"].endswith(("03" + path.name[2:-4] + ".flac", path.name))
        assert 2.0 < speech["seconds"] < 6.0
        json.dumps(pred.to_dict())


# ------------------------------------------------------------------ photos for display


def test_photo_for_display_is_upright_like_the_model_input_and_not_huge(tmp_path, models):
    rgb = np.zeros((1000, 3400, 3), np.uint8)
    rgb[:, :1700] = (255, 0, 0)  # left half red: after a quarter turn it is the top half
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    path = tmp_path / "phone.jpg"
    Image.fromarray(rgb).save(path, exif=exif)
    pred = predict_image(path, model=models["face_model"], detect=False)
    assert pred.details["size"] == [1000, 3400] and pred.details["box"] is None
    image = pred.arrays["image"]
    assert image.dtype == np.uint8 and max(image.shape[:2]) == DISPLAY_SIDE
    assert image.shape[0] == DISPLAY_SIDE
    assert image.shape[1] == pytest.approx(DISPLAY_SIDE * 1000 / 3400, abs=1)
    assert image[: DISPLAY_SIDE // 2 - 20, :, 0].min() > 200  # red on top: upright
    assert image[DISPLAY_SIDE // 2 + 20 :, :, 0].max() < 50


def test_small_gray_photo_is_shown_as_it_is(tmp_path, models):
    px = np.random.default_rng(1).integers(0, 256, (48, 48), np.uint8)
    Image.fromarray(px).save(tmp_path / "fer.png")
    pred = predict_image(tmp_path / "fer.png", model=models["face_model"])
    assert np.array_equal(pred.arrays["image"][..., 1], px) and pred.arrays["face"].shape == (
        48,
        48,
    )


# ------------------------------------------------------------------------ plot helpers


def test_probability_bars_keep_the_order_and_mark_the_top():
    ax = Figure().add_subplot()
    probs = {"neutral": 0.1, "happy": 0.6, "sad": 0.3}
    bars = plot_probabilities(ax, probs, title="t")
    assert [b.get_width() for b in bars] == [0.1, 0.6, 0.3]
    ys = [b.get_y() for b in bars]
    assert ax.yaxis_inverted() and ys == sorted(ys)  # the first emotion on top
    weights = {t.get_text(): t.get_fontweight() for t in ax.get_yticklabels()}
    assert weights["happy"] == "bold" and weights["sad"] == "normal"
    assert [t.get_text() for t in ax.texts] == ["10%", "60%", "30%"]


def test_waveform_of_a_long_recording_is_an_envelope():
    ax = Figure().add_subplot()
    y = np.sin(np.arange(16_000 * 60) / 10.0).astype(np.float32)  # a minute at 16 kHz
    line = plot_waveform(ax, y, 16_000)
    t, v = line.get_data()
    assert len(t) <= 4000 and t[-1] < 60.0 <= ax.get_xlim()[1]
    assert v.max() == pytest.approx(1.0, abs=1e-3) and v.min() == pytest.approx(-1.0, abs=1e-3)


def test_spectrogram_axes_are_seconds_and_bands():
    ax = Figure().add_subplot()
    params = FeatureParams()
    image = plot_spectrogram(ax, np.zeros((64, 301), np.float32), params)
    assert image.get_extent() == [0.0, pytest.approx(3.01), 0.0, 64.0]
    assert ax.get_ylabel() == "mel band" and image.origin == "lower"
    mfcc = Figure().add_subplot()
    plot_spectrogram(mfcc, np.zeros((40, 301), np.float32), FeatureParams(kind="mfcc"))
    assert mfcc.get_ylabel() == "MFCC"


def test_timeline_leaves_gaps_where_no_face_was_found():
    ax = Figure().add_subplot()
    frames = [{"happy": 0.8, "sad": 0.2}, None, {"happy": 0.4, "sad": 0.6}]
    lines = plot_timeline(ax, np.array([0.5, 1.5, 2.5]), frames, ["happy", "sad"])
    assert set(lines) == {"happy", "sad"}
    y = lines["sad"].get_ydata()
    assert y[0] == 0.2 and np.isnan(y[1]) and y[2] == 0.6
    assert lines["happy"].get_linewidth() > lines["sad"].get_linewidth()  # top on average
    assert "no face" in [t.get_text() for t in ax.get_legend().get_texts()]


# --------------------------------------------------------------------------- the tab


def test_predict_view_draws_each_kind(display, tmp_path, clip, models):
    import tkinter as tk

    from emotion_gui.charts import ChartRenderer
    from emotion_gui.predict_view import PredictView, placeholder_text

    photo = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (48, 48), np.uint8)).save(photo)
    wav = tmp_path / "voice.wav"
    sf.write(wav, tone(2.0, 22_050), 22_050)
    preds: list[Prediction] = [
        predict_image(photo, model=models["face_model"]),
        predict_audio(wav, model=models["speech_model"]),
        predict_video(clip, **models),
        predict_video(_silent_clip(tmp_path, clip), **models),
    ]
    root = tk.Tk()
    root.geometry("960x640")
    renderer = ChartRenderer(root)
    try:
        view = PredictView(root, renderer)
        view.pack(fill=tk.BOTH, expand=True)
        pump(root, lambda: renderer.idle() and view.chart.shown > 0)
        assert view.kind is None and view.figure.axes[0].texts[0].get_text() == placeholder_text()
        for pred in preds:
            before = view.chart.shown
            view.show(pred)
            assert view.kind == pred.kind
            header = view.header_var.get()
            assert header.startswith(f"{Path(pred.file).name}: ")
            assert f"{pred.model} — trained on {pred.trained_on}" in header
            pump(root, lambda n=before: renderer.idle() and view.chart.shown > n)
            playable = pred.kind == "audio" or pred.speech is not None
            assert (view.play_button.winfo_manager() == "pack") == playable
            if pred.kind == "video" and pred.speech is None:  # the face model alone
                wanted = {"face": pred.face.mean}
                assert "by the face model alone" in header and "Speech model" not in header
                assert "There was no sound to hear" in view.warnings_var.get()
                assert any(
                    "No sound to hear" in t.get_text() for a in view.figure.axes for t in a.texts
                )
            elif pred.kind == "video":
                wanted = {
                    "face": pred.face.mean,
                    "speech": pred.speech.probabilities,
                    "fused": pred.fused.probabilities,
                }
                assert f"Speech model: {pred.speech.model}" in header
                assert f"Fused by {pred.fused.method}" in header
                assert list(view.timeline) == list(FER_CLASSES)
            if pred.kind != "video":
                wanted = {pred.kind: pred.probabilities}
                assert view.timeline == {}
            assert set(view.bars) == set(wanted)
            for name, probs in wanted.items():
                widths = [b.get_width() for b in view.bars[name]]
                assert widths == pytest.approx(list(probs.values()))
        assert view.shown == len(preds)
        # A silent video shows the eight sampled frames above the timeline, the face model's
        # bars and the note in the speech and fused charts' place.
        assert len(view.figure.axes) == 8 + 1 + 2
        view.show(preds[2])  # with sound: three bar charts, face, speech and fused
        pump(root, lambda: renderer.idle() and view.shown == len(preds) + 1)
        assert len(view.figure.axes) == 8 + 1 + 3
    finally:
        renderer.close()
        root.destroy()
