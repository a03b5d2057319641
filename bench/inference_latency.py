#!/usr/bin/env python3
"""End-to-end prediction latency: one photo (with face detection) and one 3 s recording.

    python bench/inference_latency.py [--preset quick|full] [--runs 50] [--warmup 5]
                                      [--face-model RUN_OR_PT] [--speech-model RUN_OR_PT]
                                      [--threads N] [--shared ../shared/data]

Times ``training.predict.predict_image(photo, model=...)`` and
``predict_audio(wav, model=...)`` exactly as the GUI and CLI call them: median and p90
of ``--runs`` calls after ``--warmup`` untimed ones (the first call loads the model,
which ``load_model`` then caches, so loading falls in the warm-up). Prediction runs on
the CPU, as it does in the workbench.

Inputs, written to a temporary folder:
  * photo: a 1280x720 JPEG frame of a RAVDESS video clip (a real face); without it, a
    FER-2013 face upscaled to 200 px on a noisy 1280x720 background, or a demo-data face.
    The Haar detector must find the face, else the photo is not timed;
  * recording: 3.0 s of a RAVDESS take as a 16 kHz mono 16-bit WAV (synthesised voiced
    audio without the data) and, where present, the original 48 kHz WAV of the same take
    cut to 3.0 s (stereo when the original is), which adds resampling and downmixing.
Models: untrained ``--preset`` networks saved as checkpoints (latency depends on the
architecture, not the weights), or ``--face-model`` / ``--speech-model``.
Targets on the 2-core classroom CPU: <= 50 ms per photo, <= 100 ms per recording.
A breakdown times the pieces (reading, detection, features, network) the same way.
Another busy process on the same cores inflates multi-threaded timings badly (torch's
OpenMP threads wait for one another at every layer); compare with ``--threads 1``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from datasets.audio import FeatureParams, compute_features, read_audio  # noqa: E402
from datasets.faces import default_detector  # noqa: E402
from datasets.images import read_gray  # noqa: E402
from datasets.labels import FER_CLASSES, RAVDESS_EMOTIONS  # noqa: E402
from models import PRESETS, build_model  # noqa: E402
from training.checkpoint import save_checkpoint  # noqa: E402
from training.predict import audio_windows, load_model, predict_audio, predict_image  # noqa: E402

PHOTO_SIZE = (1280, 720)  # width, height
TAKE = "03-01-02-01-01-02-01"  # RAVDESS Actor_01 calm take, in the 16 kHz and 48 kHz sets
SECONDS = 3.0


def latencies(fn: Callable[[], object], warmup: int, runs: int) -> np.ndarray:
    """Milliseconds of ``runs`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1e3
    return out


def row(name: str, ms: np.ndarray, target: float | None = None) -> None:
    med, p90 = np.median(ms), np.percentile(ms, 90)
    extra = ""
    if target is not None:
        verdict = "ok" if med <= target else "MISSED"
        extra = f"  target <= {target:g} ms: {target / med:5.2f}x ({verdict})"
    print(f"{name:<44} {med:8.1f} {p90:8.1f}{extra}")


# ------------------------------------------------------------------ inputs


def _ravdess_frame(shared: Path) -> np.ndarray | None:
    """A BGR frame from the first RAVDESS clip, about 1 s in."""
    clips = sorted((shared / "ravdess_video").glob("*.mp4"))
    if not clips:
        return None
    cap = cv2.VideoCapture(str(clips[0]))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        return None
    return cv2.resize(frame, PHOTO_SIZE, interpolation=cv2.INTER_AREA)


def _on_background(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``face`` (uint8 gray) upscaled to 200 px in the middle of a noisy gray canvas."""
    w, h = PHOTO_SIZE
    canvas = rng.normal(128, 20, (h, w)).clip(0, 255).astype(np.uint8)
    big = cv2.resize(face, (200, 200), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (h - 200) // 2, (w - 200) // 2
    canvas[y0 : y0 + 200, x0 : x0 + 200] = big
    return canvas


def _fer_faces(shared: Path, limit: int = 50):
    for p in sorted((shared / "fer2013" / "train" / "happy").glob("*.jpg"))[:limit]:
        yield f"FER-2013 {p.name} on a noisy background", read_gray(p)


def _demo_faces(limit: int = 10):
    from datasets.demo.drawing import render_face
    from datasets.demo.faces import expression_params, random_identity, random_view

    for i in range(limit):
        rng = np.random.default_rng(i)
        img = render_face(random_identity(rng), expression_params("happy", 1.0), random_view(rng))
        yield (
            f"demo-data face (seed {i}) on a noisy background",
            np.clip(np.rint(img * 255), 0, 255).astype(np.uint8),
        )


def make_photo(shared: Path, out: Path) -> str | None:
    """Write a photo the face detector finds to ``out``; a description, or None."""
    detector = default_detector()
    frame = _ravdess_frame(shared)
    if frame is not None:
        cv2.imwrite(str(out), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if detector.detect(read_gray(out)):
            return f"RAVDESS video frame, {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} RGB JPEG"
    rng = np.random.default_rng(0)
    for desc, face in (*_fer_faces(shared), *_demo_faces()):
        cv2.imwrite(str(out), _on_background(face, rng), [cv2.IMWRITE_JPEG_QUALITY, 90])
        if detector.detect(read_gray(out)):
            return f"{desc}, {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} gray JPEG"
    return None


def make_wavs(shared: Path, tmp: Path) -> list[tuple[str, Path]]:
    """3.0 s WAVs to time: (description, path); the 16 kHz mono one comes first."""
    out: list[tuple[str, Path]] = []
    flacs = sorted((shared / "ravdess_speech_16k").glob(f"Actor_*/{TAKE}.flac")) or sorted(
        (shared / "ravdess_speech_16k").glob("Actor_*/*.flac")
    )
    path16 = tmp / "speech16k.wav"
    if flacs:
        y, sr = sf.read(flacs[0], dtype="float32")
        sf.write(path16, y[: int(SECONDS * sr)], sr, subtype="PCM_16")
        out.append((f"RAVDESS {flacs[0].stem}, 16 kHz mono WAV", path16))
    else:
        sr = 16_000
        t = np.arange(int(SECONDS * sr)) / sr
        f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)  # a gliding voice
        phase = 2 * np.pi * np.cumsum(f0) / sr
        y = sum(np.sin(k * phase) / k for k in range(1, 20))
        y *= 0.2 * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)  # syllable-rate envelope
        sf.write(path16, y.astype(np.float32), sr, subtype="PCM_16")
        out.append(("synthesised voiced audio, 16 kHz mono WAV", path16))
    orig = sorted((shared / "ravdess_wav48k_samples").glob(f"Actor_*/{TAKE}.wav"))
    if orig:
        y, sr = sf.read(orig[0], dtype="float32", always_2d=True)
        path48 = tmp / "speech48k.wav"
        sf.write(path48, y[: int(SECONDS * sr)], sr, subtype="PCM_16")
        mode = "stereo" if y.shape[1] == 2 else "mono"
        out.append((f"RAVDESS {orig[0].stem}, {sr // 1000} kHz {mode} WAV", path48))
    return out


def make_models(preset: str, tmp: Path) -> tuple[Path, Path]:
    """Untrained face and speech checkpoints of ``preset``."""
    torch.manual_seed(0)
    face_cfg = PRESETS["face"][preset]
    face = tmp / "face.pt"
    save_checkpoint(
        face,
        build_model("face", face_cfg.to_dict()),
        meta={
            "kind": "face",
            "model_config": face_cfg.to_dict(),
            "classes": list(FER_CLASSES),
            "preprocessing": {"input": "face48"},
        },
    )
    params = FeatureParams()
    speech_cfg = PRESETS["speech"][preset]
    speech = tmp / "speech.pt"
    save_checkpoint(
        speech,
        build_model("speech", speech_cfg.to_dict()),
        meta={
            "kind": "speech",
            "model_config": speech_cfg.to_dict(),
            "classes": list(RAVDESS_EMOTIONS),
            "preprocessing": {"input": "speech", "features": params.to_dict()},
        },
    )
    return face, speech


# ------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--preset", default="quick", choices=("quick", "full"))
    ap.add_argument("--face-model", type=Path, help="run folder or .pt (default: untrained)")
    ap.add_argument("--speech-model", type=Path, help="run folder or .pt (default: untrained)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp_name:
        tmp = Path(tmp_name)
        face_pt, speech_pt = make_models(args.preset, tmp)
        face_pt = args.face_model or face_pt
        speech_pt = args.speech_model or speech_pt
        print(
            f"cpu ({torch.get_num_threads()} threads); models: face {face_pt.name}, "
            f"speech {speech_pt.name}"
            + ("" if args.face_model and args.speech_model else f" (untrained {args.preset})")
        )
        print(f"{args.runs} timed calls after {args.warmup} warm-up calls each; times in ms")
        print(f"{'':<44} {'median':>8} {'p90':>8}")

        photo = tmp / "photo.jpg"
        desc = make_photo(args.shared, photo)
        if desc is None:
            print("photo: the face detector found no face in any test photo; image not timed")
        else:
            ms = latencies(lambda: predict_image(photo, model=face_pt), args.warmup, args.runs)
            print(f"photo: {desc}")
            row("predict_image (read+detect+crop+model)", ms, 50)
            loaded = load_model(face_pt, "face")
            detector = default_detector()
            row("  read_gray", latencies(lambda: read_gray(photo), 2, args.runs))
            gray = read_gray(photo)
            row(
                "  detect+crop (FaceDetector.find)",
                latencies(lambda: detector.find(gray), 2, args.runs),
            )
            x = torch.from_numpy(detector.find(gray).face).float().div_(255.0)[None, None]
            with torch.inference_mode():
                row(
                    "  model forward+softmax",
                    latencies(lambda: loaded.model(x).softmax(1), 2, args.runs),
                )

        loaded = load_model(speech_pt, "speech")
        params = FeatureParams.from_dict(loaded.preprocessing["features"])
        for i, (desc, wav) in enumerate(make_wavs(args.shared, tmp)):
            ms = latencies(
                lambda wav=wav: predict_audio(wav, model=speech_pt), args.warmup, args.runs
            )
            print(f"recording: {desc}")
            row("predict_audio (read+features+model)", ms, 100 if i == 0 else None)
            row(
                "  read_audio (read+downmix+resample)",
                latencies(lambda wav=wav: read_audio(wav, params.sample_rate), 2, args.runs),
            )
            y = read_audio(wav, params.sample_rate)
            windows = audio_windows(y, params)
            row(
                f"  audio_windows (trim; {len(windows)} window(s))",
                latencies(lambda y=y: audio_windows(y, params), 2, args.runs),
            )
            row(
                "  compute_features (log-mel)",
                latencies(lambda w=windows: compute_features(w, params), 2, args.runs),
            )
            x = torch.from_numpy(compute_features(windows, params)).unsqueeze(1)
            with torch.inference_mode():
                row(
                    "  model forward+softmax",
                    latencies(lambda x=x: loaded.model(x).softmax(1), 2, args.runs),
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
