"""Tests for the synthetic demo data generator (the datasets/demo package).

Generation runs at a small size (few faces, two actors) so the whole file stays well under a
minute; the full-size class balance and split are checked through the pure helpers.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from datasets import demo
from datasets.demo import build, config, drawing, faces, fer, marker, video, voices
from datasets.errors import WorkbenchError
from datasets.labels import FER_CLASSES, RAVDESS_EMOTIONS, ravdess_name

N_FACES = 60
N_ACTORS = 2
TAKES_PER_ACTOR = 60


def _generate(out_dir: Path, seed: int = 0, **kw) -> dict:
    kw.setdefault("n_faces", N_FACES)
    kw.setdefault("n_actors", N_ACTORS)
    kw.setdefault("workers", 1)
    return demo.make_demo_data(out_dir, seed, **kw)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list]:
    """A small demo set, its summary and the progress calls made while generating it."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    calls: list[tuple[str, float]] = []
    summary = _generate(out, progress=lambda msg, frac: calls.append((msg, frac)))
    return out, summary, calls


def _fields(path: Path) -> tuple[int, ...]:
    parts = path.stem.split("-")
    assert len(parts) == 7, path.name
    assert all(len(p) == 2 and p.isdigit() for p in parts), path.name
    return tuple(int(p) for p in parts)


def _read_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


# ---------------------------------------------------------------------------------------------
# Layout and formats


def test_layout_and_ravdess_names(small):
    out, _, _ = small
    assert (out / "fer2013" / "fer2013.csv").is_file()
    actors = sorted(p.name for p in (out / "ravdess").iterdir())
    assert actors == [f"Actor_{a:02d}" for a in range(1, N_ACTORS + 1)]
    for actor in range(1, N_ACTORS + 1):
        folder = out / "ravdess" / f"Actor_{actor:02d}"
        wavs = sorted(folder.glob("*.wav"))
        mp4s = sorted(folder.glob("*.mp4"))
        assert len(wavs) == len(mp4s) == TAKES_PER_ACTOR
        takes = set()
        for wav in wavs:
            mod, chan, emo, inten, stmt, rep, act = _fields(wav)
            assert (mod, chan, act) == (3, 1, actor)
            assert 1 <= emo <= 8 and stmt in (1, 2) and rep in (1, 2)
            assert inten == 1 if emo == 1 else inten in (1, 2)  # neutral: normal intensity only
            assert wav.name == ravdess_name(3, 1, emo, inten, stmt, rep, act, "wav")
            takes.add((emo, inten, stmt, rep))
        assert len(takes) == TAKES_PER_ACTOR
        for mp4 in mp4s:
            mod, chan, *rest = _fields(mp4)
            assert (mod, chan) == (2, 1)
            # Every video-only clip has the audio-only take with the same other six fields.
            assert (folder / ravdess_name(3, 1, *rest, "wav")).is_file()


def test_fer_csv_format(small):
    out, _, _ = small
    with open(out / "fer2013" / "fer2013.csv", newline="") as f:
        header = f.readline().rstrip("\n")
        rows = list(csv.reader(f))
    assert header == "emotion,pixels,Usage"
    assert len(rows) == N_FACES
    for emotion, pixels, usage in rows:
        assert 0 <= int(emotion) < len(FER_CLASSES)
        assert usage in ("Training", "PublicTest", "PrivateTest")
        values = np.array(pixels.split(" "), dtype=int)
        assert values.shape == (48 * 48,)
        assert values.min() >= 0 and values.max() <= 255
        assert values.std() > 10  # a picture, not a flat fill
    counts = np.bincount([int(r[0]) for r in rows], minlength=7)
    assert tuple(counts) == fer.face_class_counts(N_FACES)


def test_wav_format(small):
    out, _, _ = small
    wavs = sorted((out / "ravdess").glob("Actor_*/*.wav"))
    for wav in wavs[::7]:
        info = sf.info(wav)
        assert info.samplerate == 16_000
        assert info.channels == 1
        assert info.subtype == "PCM_16"
        assert 2.5 <= info.duration <= 3.5
        audio, _ = sf.read(wav)
        assert 0.02 < np.abs(audio).max() < 0.999  # audible, not clipped
        assert np.sqrt(np.mean(audio[:1600] ** 2)) < 0.01  # starts with (near) silence


def test_mp4_frames(small):
    out, _, _ = small
    mp4 = out / "ravdess" / "Actor_02" / ravdess_name(2, 1, 3, 2, 1, 1, 2, "mp4")
    cap = cv2.VideoCapture(str(mp4))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(config.VIDEO_FPS)
    cap.release()
    frames = _read_frames(mp4)
    assert len(frames) == config.N_VIDEO_FRAMES  # 3.0 s at 15 fps, same as the WAV
    assert all(f.shape == (64, 64, 3) for f in frames)
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]).astype(float)
    assert gray.std(axis=0).max() > 10  # something moves


def test_mouth_follows_audio_envelope(small):
    out, _, _ = small
    folder = out / "ravdess" / "Actor_01"
    wav = folder / ravdess_name(3, 1, 1, 1, 1, 1, 1, "wav")
    frames = _read_frames(folder / ravdess_name(2, 1, 1, 1, 1, 1, 1, "mp4"))
    audio, _ = sf.read(wav)
    envelope = video.frame_envelope(audio)
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]).astype(float)
    # The open mouth is dark: brightness of the lower-middle face falls as the voice gets loud.
    mouth = gray[:, 36:58, 16:48].mean(axis=(1, 2))
    r = np.corrcoef(mouth, envelope)[0, 1]
    assert r < -0.5, r


def test_summary_and_progress(small):
    out, summary, calls = small
    files = [p for p in out.rglob("*") if p.is_file() and p.name != demo.MARKER_NAME]
    assert summary["n_wav"] == summary["n_mp4"] == N_ACTORS * TAKES_PER_ACTOR
    assert summary["bytes"] == sum(p.stat().st_size for p in files)
    assert summary["seconds"] > 0
    assert summary["face_counts"] == dict(zip(FER_CLASSES, fer.face_class_counts(N_FACES)))
    fractions = [frac for _, frac in calls]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(msg, str) and msg for msg, _ in calls)


def test_without_video(tmp_path):
    summary = _generate(tmp_path / "demo", n_faces=10, n_actors=1, with_video=False)
    assert summary["n_mp4"] == 0 and summary["n_wav"] == TAKES_PER_ACTOR
    assert not list((tmp_path / "demo").rglob("*.mp4"))


# ---------------------------------------------------------------------------------------------
# Determinism


def _digest(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != demo.MARKER_NAME
    }


def test_same_seed_gives_identical_bytes(small, tmp_path):
    out, _, _ = small
    again = tmp_path / "again"
    _generate(again)
    first, second = _digest(out), _digest(again)
    assert first.keys() == second.keys()
    for kind in (".csv", ".wav", ".mp4"):
        names = [n for n in first if n.endswith(kind)]
        assert names, kind
        assert all(first[n] == second[n] for n in names), kind


def test_worker_count_does_not_change_bytes(tmp_path):
    one = tmp_path / "one"
    two = tmp_path / "two"
    _generate(one, n_faces=210, n_actors=1, workers=1)  # > 1 face chunk
    _generate(two, n_faces=210, n_actors=1, workers=2)
    assert _digest(one) == _digest(two)


def test_other_seed_gives_other_data(small, tmp_path):
    out, _, _ = small
    other = tmp_path / "other"
    _generate(other, seed=1, n_actors=1)
    rel_csv = "fer2013/fer2013.csv"
    rel_wav = "ravdess/Actor_01/" + ravdess_name(3, 1, 5, 2, 1, 1, 1, "wav")
    rel_mp4 = "ravdess/Actor_01/" + ravdess_name(2, 1, 5, 2, 1, 1, 1, "mp4")
    for rel in (rel_csv, rel_wav, rel_mp4):
        assert (out / rel).read_bytes() != (other / rel).read_bytes(), rel


# ---------------------------------------------------------------------------------------------
# Marker, regeneration, interrupted runs


def test_marker_written(small):
    out, _, _ = small
    written = json.loads((out / demo.MARKER_NAME).read_text())
    assert written["version"] == demo.DEMO_VERSION
    assert written["seed"] == 0
    assert demo.read_marker(out) == written
    # A small set is not the default one, so ensure_demo_data would regenerate it.
    assert not demo.is_complete(out, 0)
    leftovers = [p for p in out.parent.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]
    assert not leftovers  # no temp folders


def test_reading_the_marker_does_not_load_the_generator():
    # The loaders ask read_marker whether a folder is demo data; that must stay cheap.
    code = (
        "import sys; from datasets.demo import read_marker; "
        "print(sorted({'numpy', 'scipy', 'cv2'} & set(sys.modules)))"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stderr


def _fake_default(folder: Path, seed: int = 0, version: int = demo.DEMO_VERSION) -> None:
    folder.mkdir(parents=True)
    contents = marker.marker_contents(seed, config.DEFAULT_N_FACES, config.DEFAULT_N_ACTORS, True)
    contents["version"] = version
    (folder / demo.MARKER_NAME).write_text(json.dumps(contents))


def test_ensure_skips_complete_folder(tmp_path, monkeypatch):
    folder = tmp_path / "demo"
    _fake_default(folder)

    def fail(*args, **kwargs):
        raise AssertionError("regenerated a complete folder")

    monkeypatch.setattr(build, "make_demo_data", fail)
    monkeypatch.setattr(build, "_generate", fail)
    assert demo.ensure_demo_data(folder) == folder


@pytest.mark.parametrize("case", ["missing", "old_version", "other_seed"])
def test_ensure_regenerates(tmp_path, monkeypatch, case):
    folder = tmp_path / "demo"
    if case == "old_version":
        _fake_default(folder, version=demo.DEMO_VERSION - 1)
    elif case == "other_seed":
        _fake_default(folder, seed=7)
    calls = []
    monkeypatch.setattr(build, "_generate", lambda out, seed, *a, **k: calls.append((out, seed)))
    assert demo.ensure_demo_data(folder, seed=0) == folder
    assert calls == [(folder, 0)]


def test_ensure_default_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(build, "_generate", lambda out, seed, *a, **k: calls.append(out))
    assert demo.ensure_demo_data() == tmp_path / "demo"
    assert calls == [tmp_path / "demo"]


def _files(folder: Path) -> list[str]:
    """Everything under ``folder`` except the generation lock file."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_regeneration_replaces_old_demo_folder(tmp_path):
    folder = tmp_path / "demo"
    _fake_default(folder, version=demo.DEMO_VERSION - 1)  # an earlier demo set: has a marker
    (folder / "ravdess" / "Actor_09").mkdir(parents=True)  # stale content of that version
    _generate(folder, n_faces=10, n_actors=1, with_video=False)
    assert not (folder / "ravdess" / "Actor_09").exists()
    assert demo.read_marker(folder)["n_faces"] == 10


def test_never_touches_real_data_that_looks_like_demo_data(tmp_path):
    # The README tells users to put FER-2013 and RAVDESS in data/fer2013 and data/ravdess:
    # `make-demo-data --out data` must not replace them.
    real = tmp_path / "data"
    (real / "fer2013").mkdir(parents=True)
    (real / "fer2013" / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    take = real / "ravdess" / "Actor_01" / "03-01-01-01-01-01-01.wav"
    take.parent.mkdir(parents=True)
    take.write_bytes(b"REAL RECORDING")
    with pytest.raises(WorkbenchError, match="not an earlier demo-data folder"):
        _generate(real, n_faces=10, n_actors=1, with_video=False)
    assert take.read_bytes() == b"REAL RECORDING"
    assert _files(tmp_path) == ["data"]  # refused before any work: no temp folder either


def test_refuses_folder_with_foreign_files(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.docx").write_text("precious")
    with pytest.raises(WorkbenchError, match="mine"):
        _generate(folder, n_faces=10, n_actors=1, with_video=False)
    assert (folder / "thesis.docx").read_text() == "precious"
    assert _files(tmp_path) == ["mine"]


def test_files_a_user_added_to_a_demo_folder_stop_its_replacement(tmp_path):
    folder = tmp_path / "demo"
    _generate(folder, n_faces=10, n_actors=1, with_video=False)
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    mine = folder / "ravdess" / "Actor_01" / "03-01-03-01-01-03-01.wav"  # a class's take
    mine.write_bytes(b"OUR RECORDING")
    with pytest.raises(WorkbenchError, match="also holds 1 file.* the generator did not write"):
        _generate(folder, n_faces=12, n_actors=1, with_video=False)
    assert mine.read_bytes() == b"OUR RECORDING"  # nothing was changed
    assert demo.read_marker(folder)["n_faces"] == 10
    mine.unlink()
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    _generate(folder, n_faces=12, n_actors=1, with_video=False)  # only its own: replaced
    assert demo.read_marker(folder)["n_faces"] == 12


def test_leftovers_of_killed_runs_are_removed(tmp_path):
    folder = tmp_path / "demo"
    for stale in (".demo.tmp-99999-deadbeef", ".demo.old-cafe0000"):
        (tmp_path / stale / "fer2013").mkdir(parents=True)
    _generate(folder, n_faces=10, n_actors=1, with_video=False)
    assert _files(tmp_path) == ["demo"]


def test_interrupted_run_leaves_nothing(tmp_path):
    folder = tmp_path / "demo"

    def interrupt(msg: str, frac: float) -> None:
        if frac > 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _generate(folder, n_faces=10, n_actors=1, with_video=False, progress=interrupt)
    assert _files(tmp_path) == []
    assert not demo.is_complete(folder)


# ---------------------------------------------------------------------------------------------
# Pure helpers: full-size class balance and split


def test_full_size_class_counts_are_fer_like():
    counts = fer.face_class_counts()
    assert sum(counts) == config.DEFAULT_N_FACES >= 3000
    by_name = dict(zip(FER_CLASSES, counts))
    assert min(by_name, key=by_name.get) == "disgust"
    assert max(by_name, key=by_name.get) == "happy"
    expected = np.array(config.FER_TRAIN_COUNTS) / sum(config.FER_TRAIN_COUNTS) * sum(counts)
    assert np.all(np.abs(np.array(counts) - expected) <= 1)
    assert by_name["happy"] > 10 * by_name["disgust"]


@pytest.mark.parametrize("n", [7, 8, 60, 1001])
def test_class_counts_sum(n):
    counts = fer.face_class_counts(n)
    assert sum(counts) == n and min(counts) >= 1


def test_full_size_usage_split_is_stratified():
    labels, usage = fer.face_labels_and_usage(config.DEFAULT_N_FACES, seed=0)
    assert len(labels) == len(usage) == config.DEFAULT_N_FACES
    for cls in range(len(FER_CLASSES)):
        share = np.bincount(usage[labels == cls], minlength=3) / np.sum(labels == cls)
        assert share[0] == pytest.approx(0.8, abs=0.03)
        assert share[1] == pytest.approx(0.1, abs=0.03)
        assert share[2] == pytest.approx(0.1, abs=0.03)
    # Rows are interleaved, not sorted by class.
    assert np.mean(labels[1:] != labels[:-1]) > 0.5


# ---------------------------------------------------------------------------------------------
# Voices and faces carry the intended cues


def _f0(audio: np.ndarray) -> float:
    """Median F0 (Hz) of the voiced frames, by autocorrelation on 40 ms frames."""
    sr, n = config.SAMPLE_RATE, 640
    f0s = []
    for start in range(0, len(audio) - n, n // 2):
        x = audio[start : start + n]
        if np.sqrt(np.mean(x**2)) < 0.02:
            continue
        ac = np.correlate(x, x, "full")[n - 1 :]
        lo, hi = sr // 400, sr // 70  # 70..400 Hz
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            f0s.append(sr / lag)
    return float(np.median(f0s))


def test_voices_male_low_female_high():
    takes = [voices.Take(actor, 1, 1, 1, 1) for actor in (1, 2, 3, 4)]
    f0 = {}
    for take in takes:
        rng = np.random.default_rng(0)
        f0[take.actor] = _f0(voices.synthesize_speech(voices.actor_voice(0, take.actor), take, rng))
    assert 80 < f0[1] < 175 and 80 < f0[3] < 175, f0
    assert 150 < f0[2] < 300 and 150 < f0[4] < 300, f0
    assert max(f0[1], f0[3]) < min(f0[2], f0[4])


def test_emotion_prosody_cues():
    voice = voices.actor_voice(0, 1)

    def rms_db(emotion: int, intensity: int) -> float:
        take = voices.Take(1, emotion, intensity, 1, 1)
        audio = voices.synthesize_speech(voice, take, np.random.default_rng(0))
        active = audio[np.abs(audio) > 0.01]
        return 20 * np.log10(np.sqrt(np.mean(active**2)))

    # Angry is louder than sad; calm softer than neutral; strong takes exaggerate.
    assert rms_db(5, 2) > rms_db(4, 2) + 6
    assert rms_db(2, 2) < rms_db(1, 1) - 3
    assert rms_db(5, 2) > rms_db(5, 1)
    # Surprise rises at the end, disgust falls: pitch contour over the last syllables.
    assert voices.take_prosody(8, 2).final_st > 5 > 0 > -5 > voices.take_prosody(7, 2).final_st


def test_face_expressions_change_the_right_regions():
    ident = faces.random_identity(np.random.default_rng(0))
    view = faces.FaceView(bg=0.8)
    neutral = drawing.render_face(ident, faces.expression_params("neutral", 1.0), view, 96)
    happy = drawing.render_face(ident, faces.expression_params("happy", 1.0), view, 96)
    angry = drawing.render_face(ident, faces.expression_params("angry", 1.0), view, 96)
    weak = drawing.render_face(ident, faces.expression_params("happy", 0.2), view, 96)
    assert neutral.shape == (96, 96) and neutral.dtype == np.float32
    # A smile changes the mouth region (lower middle) far more than the forehead.
    diff = np.abs(happy - neutral)
    assert diff[60:85, 30:66].mean() > 5 * diff[5:25, 30:66].mean()
    # Angry brows move: the brow/eye band changes.
    assert np.abs(angry - neutral)[25:45, 20:76].mean() > 0.01
    # A weak expression is closer to neutral than a full one.
    assert np.abs(weak - neutral).mean() < 0.5 * diff.mean()


# ---------------------------------------------------------------------------------------------
# The demo data through the project's own loaders, as the app uses it


def test_loaders_read_the_demo_data(small, tmp_path):
    from datasets.fer2013 import FER2013
    from datasets.info import data_info
    from datasets.speech import RavdessSpeech
    from datasets.video import clip_audio, clip_faces

    out, _, _ = small
    val = FER2013(out / "fer2013", "val", cache_dir=tmp_path)
    assert len(val) > 0 and val.get_metadata(0)["usage"] == "PublicTest"

    info = data_info(out / "ravdess")
    assert info["kind"] == "ravdess" and info["actors"] == [1, 2]
    assert info["modalities"] == {"audio-only": 120, "video-only": 120}
    assert info["skipped"] == []

    # Two actors are too few for a train/val/test split by actor: say so clearly.
    with pytest.raises(WorkbenchError, match="at least 3"):
        RavdessSpeech(out / "ravdess", "train", cache_dir=tmp_path)

    clip = out / "ravdess" / "Actor_02" / ravdess_name(2, 1, 6, 2, 1, 1, 2, ext="mp4")
    crops = clip_faces(clip, n_frames=8)
    assert crops.faces.shape == (8, 48, 48) and crops.found.all()
    audio, source = clip_audio(clip)
    assert source.name == ravdess_name(3, 1, 6, 2, 1, 1, 2) and len(audio) == 48_000


# ---------------------------------------------------------------------------------------------
# Labels mean what they say: a wrong label-to-expression mapping anywhere in the renderers
# must fail here (re-rendering through the same functions could not catch it).


def _best_wrong_labelling(pred: np.ndarray, truth: np.ndarray, n: int) -> float:
    """Agreement of ``pred`` with the best consistently shifted labelling."""
    return max(float(np.mean(pred == (truth + s) % n)) for s in range(1, n))


def test_csv_faces_show_their_labelled_expression(small):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Reference faces drawn straight from the emotion names, with other identities.
    x_ref, y_ref = [], []
    for c, name in enumerate(FER_CLASSES):
        for k in range(25):
            rng = np.random.default_rng([123, c, k])
            expr = faces.expression_params(name, float(rng.uniform(0.6, 1.0)))
            img = drawing.render_face(faces.random_identity(rng), expr, faces.random_view(rng), 48)
            x_ref.append(np.asarray(img, np.float32).ravel())
            y_ref.append(c)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    probe.fit(np.array(x_ref), np.array(y_ref))

    out, _, _ = small
    with open(out / "fer2013" / "fer2013.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([np.array(r["pixels"].split(), np.float32) / 255 for r in rows])
    y = np.array([int(r["emotion"]) for r in rows])
    pred = probe.predict(x)
    right, wrong = float(np.mean(pred == y)), _best_wrong_labelling(pred, y, 7)
    assert right >= 0.3 and right > 2 * wrong, (right, wrong)  # measured: 0.45 vs 0.13


def test_clips_show_their_takes_emotion(small):
    out, _, _ = small
    refs: dict[int, np.ndarray] = {}
    pred, truth = [], []
    for clip in sorted((out / "ravdess").rglob("02-*.mp4")):
        fields = _fields(clip)
        actor, emotion = fields[6], fields[2] - 1
        if actor not in refs:  # this actor's face showing each emotion, mouth at rest
            ident, view = video.actor_face(0, actor)
            refs[actor] = np.stack(
                [
                    np.asarray(
                        drawing.render_face(ident, faces.expression_params(e, 0.9), view, 64)
                    )
                    for e in RAVDESS_EMOTIONS
                ]
            )
        frames = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in _read_frames(clip)])
        mean = frames.astype(np.float32).mean(axis=0) / 255
        # Brows and eyes only (rows above 40): the mouth moves with the speech.
        dist = ((refs[actor] - mean) ** 2)[:, :40].mean(axis=(1, 2))
        pred.append(int(np.argmin(dist)))
        truth.append(emotion)
    pred, truth = np.array(pred), np.array(truth)
    right, wrong = float(np.mean(pred == truth)), _best_wrong_labelling(pred, truth, 8)
    assert right >= 0.35 and right > 2 * wrong, (right, wrong)  # measured: 0.53 vs 0.12


def test_actor_voices_are_spread_apart():
    for female in (False, True):
        actors = [voices.actor_voice(0, a) for a in range(1 + female, 25, 2)]
        f0 = np.sort([v.f0 for v in actors])
        tract = np.sort([v.formant_scale for v in actors])
        # 12 voices per sex: neighbours at least ~1/3 of an even spacing apart on each axis.
        assert np.diff(f0).min() > 0.3 * (f0[-1] - f0[0]) / 11
        assert np.diff(tract).min() > 0.3 * (tract[-1] - tract[0]) / 11
