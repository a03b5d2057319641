"""Check that the synthetic demo data are learnable, not trivial, and complementary.

Trains simple scikit-learn models on the demo data and prints accuracies and confusion
matrices:

* faces: PCA + logistic regression on the FER-style CSV pixels (Usage split: Training vs
  PublicTest + PrivateTest);
* voices: logistic regression on per-file mean + std of 40 MFCCs, split by actor
  (actors 1-8 train, 9-12 test);
* video faces: PCA + logistic regression on frames of the video-only clips (same actor split)
  plus all FER-style faces, per-clip probabilities averaged over frames;
* late fusion on the held-out audio-video takes: product and average of the voice and video
  probabilities.

It also prints how often each intended pair is confused in each modality: faces should confuse
fear/surprise, angry/disgust, calm/neutral; voices happy/angry and sad/neutral.

Usage: ``python bench/demo_separability.py [--data DIR] [--seed N]``. Without ``--data`` the
demo set is generated into a temporary folder (about 30 s); the whole check takes 1-2 minutes.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import cv2
import librosa
import numpy as np
import soundfile as sf
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datasets import demo  # noqa: E402
from datasets.labels import FER_CLASSES, RAVDESS_EMOTIONS  # noqa: E402

TRAIN_ACTORS = range(1, 9)  # the rest (9-12 by default) are held out
FACE_PAIRS = (("fear", "surprise"), ("angry", "disgust"), ("calm", "neutral"))
VOICE_PAIRS = (("happy", "angry"), ("sad", "neutral"))
# RAVDESS spelling of the FER pair names above.
_RAV = {"fear": "fearful", "surprise": "surprised"}


def load_fer(csv_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels float (n, 2304) in 0..1, labels (n,), usage names (n,)."""
    xs, ys, us = [], [], []
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            xs.append(np.array(row["pixels"].split(), dtype=np.float32) / 255.0)
            ys.append(int(row["emotion"]))
            us.append(row["Usage"])
    return np.stack(xs), np.array(ys), np.array(us)


def parse(path: Path) -> tuple[int, ...]:
    """The 7 integer fields of a RAVDESS name."""
    return tuple(int(p) for p in path.stem.split("-"))


def audio_features(path: Path) -> np.ndarray:
    """Mean and std over time of 40 MFCCs: float (80,)."""
    y, sr = sf.read(path, dtype="float32")
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)])


def video_frames(path: Path, n: int = 9) -> np.ndarray:
    """``n`` evenly spaced frames, grayscale, resized to 48x48: float (n, 2304) in 0..1."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    out = []
    for i in idx:
        g = cv2.cvtColor(frames[i], cv2.COLOR_BGR2GRAY)
        g = cv2.resize(g, (48, 48), interpolation=cv2.INTER_AREA)
        out.append(g.reshape(-1).astype(np.float32) / 255.0)
    return np.stack(out)


def pixel_model(n_components: int = 100, c: float = 0.05):
    """Standardise pixels, PCA, class-balanced logistic regression (disgust is rare)."""
    return make_pipeline(
        StandardScaler(),
        PCA(n_components, random_state=0),
        LogisticRegression(C=c, max_iter=3000, class_weight="balanced"),
    )


def report(
    title: str, names: tuple[str, ...], y_true: np.ndarray, y_pred: np.ndarray
) -> np.ndarray:
    """Print accuracy and the row-normalised confusion matrix (percent); return the counts."""
    cm = confusion_matrix(y_true, y_pred, labels=range(len(names)))
    acc = float(np.mean(y_true == y_pred))
    print(f"\n{title}: accuracy {acc:.1%} (chance {1 / len(names):.1%}, n={len(y_true)})")
    width = max(len(n) for n in names)
    print(" " * (width + 2) + " ".join(f"{n[:5]:>5}" for n in names))
    for name, row in zip(names, cm, strict=True):
        pct = 100.0 * row / max(row.sum(), 1)
        print(f"{name:>{width}}  " + " ".join(f"{p:5.0f}" for p in pct))
    return cm


def pair_rate(cm: np.ndarray, names: tuple[str, ...], a: str, b: str) -> float:
    """Share of the samples of classes a and b that are predicted as the other one."""
    i, j = names.index(a), names.index(b)
    return float(cm[i, j] + cm[j, i]) / max(float(cm[i].sum() + cm[j].sum()), 1.0)


def top_pairs(cm: np.ndarray, names: tuple[str, ...], k: int = 4) -> str:
    rates = [
        (pair_rate(cm, names, names[i], names[j]), names[i], names[j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
    ]
    rates.sort(reverse=True)
    return ", ".join(f"{a}~{b} {r:.0%}" for r, a, b in rates[:k])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="demo folder (generated there when incomplete)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="demo-bench-") as tmp:
        if args.data is None:
            args.data = Path(tmp) / "demo"
        if not demo.is_complete(args.data, args.seed):
            t0 = time.perf_counter()
            summary = demo.make_demo_data(args.data, args.seed)
            print(
                f"generated {args.data}: {summary['bytes'] / 1e6:.1f} MB "
                f"in {time.perf_counter() - t0:.1f} s"
            )
        evaluate(args.data)


def evaluate(data: Path) -> None:
    """Train the three single-modality models and the fusion; print everything."""
    # ---- FER-style faces
    x, y, usage = load_fer(data / "fer2013" / "fer2013.csv")
    train = usage == "Training"
    face = pixel_model().fit(x[train], y[train])
    cm_fer = report("FER faces (Usage split)", FER_CLASSES, y[~train], face.predict(x[~train]))
    print("most confused:", top_pairs(cm_fer, FER_CLASSES))

    # ---- RAVDESS-style voices and video faces
    rav = data / "ravdess"
    wavs = sorted(rav.glob("Actor_*/03-01-*.wav"))
    fields = np.array([parse(p) for p in wavs])
    labels = fields[:, 2] - 1
    actors = fields[:, 6]
    tr = np.isin(actors, list(TRAIN_ACTORS))
    feats = np.stack([audio_features(p) for p in wavs])
    voice = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=5000))
    voice.fit(feats[tr], labels[tr])
    p_voice = voice.predict_proba(feats[~tr])
    names = RAVDESS_EMOTIONS
    cm_voice = report("Voices (MFCC stats, by actor)", names, labels[~tr], p_voice.argmax(1))
    print("most confused:", top_pairs(cm_voice, names))

    mp4s = [p.with_name("02" + p.name[2:]).with_suffix(".mp4") for p in wavs]
    have_video = all(p.exists() for p in mp4s)
    if not have_video:
        print("\nno video clips: skipping the video and fusion checks")
        return
    frames = np.stack([video_frames(p) for p in mp4s])  # (n_clips, n_frames, 2304)
    n_f = frames.shape[1]
    # Eight training actors are too few identities for a pixel model on their own, so the video
    # face model also learns from all FER-style faces (FER classes mapped to RAVDESS codes;
    # calm is only in the clips), as a face model trained on FER and fine-tuned would.
    fer_to_rav = np.array([names.index(_RAV.get(c, c)) for c in FER_CLASSES])
    video = pixel_model()
    video.fit(
        np.concatenate([x, frames[tr].reshape(-1, frames.shape[2])]),
        np.concatenate([fer_to_rav[y], np.repeat(labels[tr], n_f)]),
    )
    p_video = (
        video.predict_proba(frames[~tr].reshape(-1, frames.shape[2])).reshape(-1, n_f, len(names))
    ).mean(axis=1)
    cm_video = report("Video faces (clip frames, by actor)", names, labels[~tr], p_video.argmax(1))
    print("most confused:", top_pairs(cm_video, names))

    # ---- late fusion
    y_te = labels[~tr]
    prod = np.log(p_voice + 1e-9) + np.log(p_video + 1e-9)
    avg = p_voice + p_video
    cm_prod = report("Late fusion (product)", names, y_te, prod.argmax(1))
    acc = {
        "voice": float(np.mean(p_voice.argmax(1) == y_te)),
        "video": float(np.mean(p_video.argmax(1) == y_te)),
        "fusion (product)": float(np.mean(prod.argmax(1) == y_te)),
        "fusion (average)": float(np.mean(avg.argmax(1) == y_te)),
    }

    print("\nIntended confusions (share of the pair's samples predicted as the other one):")
    print(f"{'pair':<18} {'FER faces':>10} {'video':>8} {'voice':>8} {'fusion':>8}")
    for a, b in FACE_PAIRS + VOICE_PAIRS:
        ra, rb = _RAV.get(a, a), _RAV.get(b, b)
        fer = (
            pair_rate(cm_fer, FER_CLASSES, a, b) if a in FER_CLASSES and b in FER_CLASSES else None
        )
        cells = [
            f"{fer:10.0%}" if fer is not None else f"{'-':>10}",
            f"{pair_rate(cm_video, names, ra, rb):8.0%}",
            f"{pair_rate(cm_voice, names, ra, rb):8.0%}",
            f"{pair_rate(cm_prod, names, ra, rb):8.0%}",
        ]
        side = "face pair" if (a, b) in FACE_PAIRS else "voice pair"
        print(f"{a + '~' + b:<18} " + " ".join(cells) + f"   ({side})")
    print("\nHeld-out accuracy on the audio-video takes of the test actors:")
    for k, v in acc.items():
        print(f"  {k:<18} {v:.1%}")
    print(f"  FER faces (Usage)  {float(np.mean(face.predict(x[~train]) == y[~train])):.1%}")


if __name__ == "__main__":
    main()
