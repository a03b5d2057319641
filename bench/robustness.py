#!/usr/bin/env python3
"""Held-out accuracy under recording conditions a classroom brings, models side by side.

    python bench/robustness.py                      # the starter models on ../shared/data
    python bench/robustness.py --speech old=OLD.pt --speech new=pretrained/speech_ravdess.pt \\
        --face old=OLD_FACE.pt --face new=pretrained/face_fer2013.pt
    python bench/robustness.py --speech-data DIR --actors 16 17 18 --face-data DIR --faces 2000
    python bench/robustness.py --only speech --speech cv=CV_DIR   # a 'train speech --folds' folder

Speech: every recording of the given actors (default: each model's own held-out test
actors; for a cross-validation folder, each fold model on its own test actors) is degraded and then classified through the product's own path
(``predict``'s trimming, level handling and windows). Conditions: clean; gain -20, -10
and +6 dB (clipped at full scale, as a hot microphone does); white noise at 30, 20 and
10 dB SNR (noise power against the whole recording's mean power); the telephone band
(300-3400 Hz band-pass, down to 8 kHz and back).

Faces: the model's own held-out FER-2013 images (the validation split it was trained
with, or the test split where the data has one), ``--faces`` of them drawn at random
(seeded), under: clean;
Gaussian blur (sigma 1 px at 48x48, a soft webcam); down-scaling to 16x16 and back (a
small face far from the camera); JPEG quality 30; dim light (brightness x0.35, gamma 1.5).

The degradations here are file-level (NumPy, SciPy, soxr, Pillow) and independent of the
training-time simulation in ``training/augment_audio.py`` and ``training/augment.py``, so
a model trained with those is not just scored against its own simulation. Each figure is
measured in this run; the same seed gives the same noise.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soxr  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageFilter  # noqa: E402
from scipy import signal  # noqa: E402

from datasets.audio import FeatureParams, read_audio  # noqa: E402
from datasets.ravdess import ActorSplit, scan_ravdess, speech_audio  # noqa: E402
from training.checkpoint import load_checkpoint  # noqa: E402
from training.data import TensorSet  # noqa: E402
from training.metrics import classification_metrics, evaluate_model  # noqa: E402
from training.predict import hear  # noqa: E402
from training.runs import STARTER_FILES  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SR = 16_000


# ------------------------------------------------------------------ speech conditions


def gain(y: np.ndarray, db: float) -> np.ndarray:
    """``db`` louder (or quieter), clipped at full scale like a real converter."""
    return np.clip(y * 10 ** (db / 20), -1.0, 1.0)


def white_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(len(y)).astype(np.float32)
    scale = np.sqrt(np.mean(y**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return (y + scale * noise).astype(np.float32)


def telephone(y: np.ndarray) -> np.ndarray:
    """300-3400 Hz band-pass (4th-order Butterworth), resampled to 8 kHz and back."""
    sos = signal.butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos")
    narrow = signal.sosfiltfilt(sos, y).astype(np.float32)
    return soxr.resample(soxr.resample(narrow, SR, 8_000), 8_000, SR).astype(np.float32)


SPEECH_CONDITIONS = {
    "clean": lambda y, rng: y,
    "gain -20 dB": lambda y, rng: gain(y, -20),
    "gain -10 dB": lambda y, rng: gain(y, -10),
    "gain +6 dB (clipped)": lambda y, rng: gain(y, 6),
    "SNR 30 dB": lambda y, rng: white_noise(y, 30, rng),
    "SNR 20 dB": lambda y, rng: white_noise(y, 20, rng),
    "SNR 10 dB": lambda y, rng: white_noise(y, 10, rng),
    "telephone band": lambda y, rng: telephone(y),
}


# -------------------------------------------------------------------- face conditions


def _pil(fn):
    def apply(faces: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(fn(Image.fromarray(f)), np.uint8) for f in faces])

    return apply


def _jpeg(im: Image.Image, quality: int = 30) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def _dim(faces: np.ndarray) -> np.ndarray:
    x = faces.astype(np.float32) / 255.0
    return np.round(255.0 * 0.35 * x**1.5).astype(np.uint8)


FACE_CONDITIONS = {
    "clean": lambda f: f,
    "blur (sigma 1)": _pil(lambda im: im.filter(ImageFilter.GaussianBlur(1.0))),
    "down-scaled to 16 px": _pil(
        lambda im: im.resize((16, 16), Image.Resampling.BILINEAR).resize(
            (48, 48), Image.Resampling.BILINEAR
        )
    ),
    "JPEG quality 30": _pil(_jpeg),
    "dim light": _dim,
}


# ----------------------------------------------------------------------------- runs


def speech_judges(path: str, actors: list[int] | None) -> list[tuple[object, set[int]]]:
    """Who scores which actors: a model file scores ``actors`` (default: its own test
    actors); a cross-validation folder (``train speech --folds``) is each fold's model on
    its own test actors, pooled, so every recording is scored by a model that never
    heard its speaker — the estimate for the recipe of an ensemble starter."""
    folder = Path(path)
    if (folder / "results.json").is_file():
        summary = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        return [
            (load_checkpoint(Path(r["run"]) / "best.pt", kind="speech"), set(r["test_actors"]))
            for r in summary["rows"]
        ]
    model = load_checkpoint(path, kind="speech")
    if actors is None:
        saved = model.payload.get("split") or {}
        test = ActorSplit.from_dict(saved["actors"]).test if "actors" in saved else ()
        if not test:
            raise SystemExit(f"Pass --actors: {path} names no held-out test actors.")
        actors = list(test)
    return [(model, set(actors))]


def speech_table(
    models: list[tuple[str, str]], data: Path, actors: list[int] | None, seed: int
) -> tuple[list[str], dict]:
    judges = {name: speech_judges(path, actors) for name, path in models}
    wanted = set().union(*(a for js in judges.values() for _, a in js))
    clips = [c for c in speech_audio(scan_ravdess(data).clips) if c.actor in wanted]
    header = [f"speech: {len(clips)} recordings of {len(wanted)} actors"]
    for name, js in judges.items():
        heard = set()
        for model, scored in js:
            saved = (model.payload.get("split") or {}).get("actors", {})
            heard |= scored & {*saved.get("train", []), *saved.get("val", [])}
        shown = sorted(set().union(*(a for _, a in js)))
        how = f"{len(js)} fold models, each on its own test actors" if len(js) > 1 else "actors"
        header.append(f"  {name}: {how} {', '.join(map(str, shown))}")
        if heard:
            header.append(f"  note: {name} heard actor(s) {sorted(heard)}: not held out")
    audio = [read_audio(c.path, SR) for c in clips]
    labels = np.array([c.label for c in clips])
    actor_of = np.array([c.actor for c in clips])
    results: dict = {}
    for cond, fn in SPEECH_CONDITIONS.items():
        rng = np.random.default_rng(seed)
        degraded = [fn(y, rng) for y in audio]
        for name, js in judges.items():
            true, pred = [], []
            for model, scored in js:
                params = FeatureParams.from_dict(model.preprocessing["features"])
                for i in np.flatnonzero(np.isin(actor_of, sorted(scored))):
                    probs = hear(model, degraded[i], params).probabilities
                    pred.append(model.classes.index(max(probs, key=probs.get)))
                    true.append(labels[i])
            classes = list(js[0][0].classes)
            scores = classification_metrics(np.array(true), np.array(pred), classes)
            results.setdefault(cond, {})[name] = {
                "accuracy": scores["accuracy"],
                "uar": scores["uar"],
                "share_sad": float(np.mean(np.array(pred) == classes.index("sad"))),
            }
    return header, results


def face_table(
    models: list[tuple[str, str]], data: Path, n_faces: int, seed: int
) -> tuple[list, dict]:
    from training.tasks import task_for

    loaded = [(name, load_checkpoint(path, kind="face")) for name, path in models]
    got = task_for("face").eval_items(loaded[0][1], [data.resolve()], "auto")
    split, items, held_out = got.split, got.items, got.held_out
    seen = got.extra.get("seen_in_training")
    # A seeded random subset: the split is stored class by class, so its first items
    # would leave the last emotions out.
    pick = np.sort(np.random.default_rng(seed).permutation(len(items.y))[:n_faces])
    faces, labels = items.x.numpy()[pick], items.y[pick]
    results: dict = {}
    for cond, fn in FACE_CONDITIONS.items():
        x = torch.from_numpy(fn(faces))
        for name, model in loaded:
            m = evaluate_model(model.model, TensorSet(x, labels), model.classes)
            results.setdefault(cond, {})[name] = {"accuracy": m["accuracy"], "uar": m["uar"]}
    header = f"faces: {len(faces)} images drawn (seed {seed}) from the {split} split of {data}"
    if seen:
        header += f" ({seen} of the whole split are copies of training images)"
    elif held_out is False:
        header += " (NOT held out: the model trained on them)"
    return [header], results


def print_table(title: list[str], results: dict, names: list[str]) -> None:
    print("\n".join(title))
    print(f"  {'condition':<22}" + "".join(f"{n + ' acc':>14}{n + ' UAR':>12}" for n in names))
    for cond, by_model in results.items():
        row = "".join(f"{by_model[n]['accuracy']:>14.1%}{by_model[n]['uar']:>12.1%}" for n in names)
        print(f"  {cond:<22}{row}")
    print()


def named(specs: list[str] | None, kind: str) -> list[tuple[str, str]]:
    if not specs:
        return [("starter", str(ROOT / "pretrained" / STARTER_FILES[kind]))]
    out = []
    for s in specs:
        name, _, path = s.partition("=")
        out.append((name, path) if path else (Path(s).stem, s))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--speech", action="append", metavar="NAME=MODEL", help="speech model(s)")
    ap.add_argument("--face", action="append", metavar="NAME=MODEL", help="face model(s)")
    ap.add_argument("--speech-data", type=Path, default=SHARED / "ravdess_speech_16k")
    ap.add_argument("--actors", type=int, nargs="+", help="RAVDESS actors to score on")
    ap.add_argument("--face-data", type=Path, default=SHARED / "fer2013" / "train")
    ap.add_argument("--faces", type=int, default=2000, help="held-out faces to use (default 2000)")
    ap.add_argument("--only", choices=("speech", "face"), help="run one part only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    out: dict = {}
    t0 = time.perf_counter()
    parts = {
        "speech": (
            args.speech_data,
            lambda m: speech_table(m, args.speech_data, args.actors, args.seed),
        ),
        "face": (args.face_data, lambda m: face_table(m, args.face_data, args.faces, args.seed)),
    }
    for kind, (data, table) in parts.items():
        if args.only not in (None, kind):
            continue
        if not data.exists():
            print(f"skipping {kind}: {data} is not there")
            continue
        models = named(getattr(args, kind), kind)
        title, res = table(models)
        print_table(title, res, [n for n, _ in models])
        out[kind] = {"title": title, "results": res}
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
