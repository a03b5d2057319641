#!/usr/bin/env python3
"""The measurements behind the prediction warnings' thresholds (training/quality.py).

    python bench/warnings_thresholds.py              # 5,000 FER-2013 images, all 1,080 recordings
    python bench/warnings_thresholds.py --faces 0    # every FER-2013 training image (28,709)

On the real data in ../shared/data it prints, for clean items and for degraded copies of
the same items, the distribution of each measure (percentiles) and the share of items that
warn at the thresholds in training/quality.py:

* recordings (RAVDESS speech, 16 kHz FLAC, plus the 48 kHz WAVs and the video clips' sound):
  active-speech level, share of clipped samples, share of silent frames; degraded copies are
  30 dB quieter, +20 dB louder and clipped at full scale, and padded to five times their length
  with silence (digital zeros, or noise at the recording's own noise floor), so that 80% of
  the result is silence;
* faces (FER-2013 training images, and the faces found in the RAVDESS clips): sharpness of the
  48x48 crop and the face's size in pixels; degraded copies are blurred with a Gaussian
  (sigma 2 px on the 48 px face, also 1.5 px and 3 px) or shrunk to 24 and 16 px;
* the face starter model's accuracy on 1,000 of its own validation images, clean, shrunk and
  blurred: how much each degradation costs, which is why it deserves a warning.

A threshold is right when the clean column warns for (almost) nothing and every degraded one
warns for (almost) everything.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets.audio import active_level_db, resample  # noqa: E402
from datasets.images import to_48  # noqa: E402
from training import quality  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
PERCENTILES = (0, 1, 5, 50, 95, 99, 100)


def table_row(name: str, values: list[float], warns: list[bool], fmt: str = "8.3f") -> str:
    v = np.asarray(values, dtype=np.float64)
    cells = " ".join(format(x, fmt) for x in np.percentile(v, PERCENTILES))
    return f"  {name:<34} {cells}   warns {np.mean(warns):6.1%} of {len(v):,}"


def header(title: str) -> None:
    print(f"\n{title}")
    cols = " ".join(f"{'p' + str(p):>8}" for p in PERCENTILES)
    print(f"  {'':<34} {cols}")


# ------------------------------------------------------------------------ audio


def quieter(y: np.ndarray) -> np.ndarray:
    return y * np.float32(10 ** (-30 / 20))


def clipped(y: np.ndarray) -> np.ndarray:
    """``y`` 20 dB louder, clipped at full scale (a quiet recording may not clip at all)."""
    return np.clip(y * np.float32(10 ** (20 / 20)), -1.0, 1.0)


def overdriven(y: np.ndarray) -> np.ndarray:
    """``y`` with its peak at full scale, then 20 dB louder and clipped: every recording
    clips, as one made with the gain 20 dB too high does."""
    return np.clip(y / max(float(np.abs(y).max()), 1e-9) * np.float32(10), -1.0, 1.0)


def really_clipped(y: np.ndarray) -> bool:
    """Whether +20 dB gain clips ``y`` at all."""
    return float(np.abs(y).max()) * 10 > 1.0


def padded(y: np.ndarray, noise: bool, seed: int) -> np.ndarray:
    """``y`` with silence before and after so that it is 20% of the result."""
    n_pad = 4 * len(y)
    if noise:  # the recording's own noise floor: its quietest 10% of frames that are not
        levels = quality.frame_levels_db(y)  # digital silence (some takes start with zeros)
        floor_db = np.percentile(levels[levels > -100], 10)
        rng = np.random.default_rng(seed)
        pad = rng.normal(0, 10 ** (floor_db / 20), n_pad).astype(np.float32)
    else:
        pad = np.zeros(n_pad, np.float32)
    return np.concatenate([pad[: n_pad // 2], y, pad[n_pad // 2 :]])


def audio_section(limit: int) -> None:
    flacs = sorted((SHARED / "ravdess_speech_16k").rglob("*.flac"))
    if limit:
        flacs = flacs[:: max(1, len(flacs) // limit)][:limit]
    # The other real sources: 48 kHz WAVs (degraded at their own rate, then resampled the
    # way read_audio does) and the video clips' AAC sound.
    wavs = sorted((SHARED / "ravdess_wav48k_samples").rglob("*.wav"))
    clips = sorted((SHARED / "ravdess_video").glob("*.mp4"))
    t0 = time.perf_counter()
    recordings = [sf.read(f, dtype="float32")[0] for f in flacs]
    natives = []
    for f in wavs:
        y, sr = sf.read(f, dtype="float32", always_2d=True)
        natives.append((y.mean(axis=1), sr))
    from datasets.video import read_track_audio

    others = [resample(y, sr, 16_000) for y, sr in natives] + [read_track_audio(c) for c in clips]
    print(
        f"Recordings: {len(recordings):,} RAVDESS FLACs (16 kHz), {len(wavs)} 48 kHz WAVs, "
        f"{len(clips)} clips' sound; read in {time.perf_counter() - t0:.0f} s"
    )

    def rows(
        title: str,
        measure: Callable[[np.ndarray], float],
        warns: Callable[[float], bool],
        variants: dict[str, list[np.ndarray]],
        fmt: str = "8.3f",
    ) -> None:
        header(title)
        for name, ys in variants.items():
            values = [measure(y) for y in ys]
            print(table_row(name, values, [warns(v) for v in values], fmt))

    clean = recordings
    rows(
        f"Active-speech level, dBFS (warns under {quality.QUIET_DB:.0f})",
        active_level_db,
        lambda v: v < quality.QUIET_DB,
        {
            "clean FLAC": clean,
            "clean WAV 48k + clips": others,
            "30 dB quieter FLAC": [quieter(y) for y in clean],
            "30 dB quieter WAV 48k + clips": [quieter(y) for y in others],
            "+20 dB, clipped FLAC": [clipped(y) for y in clean],
        },
    )
    rows(
        f"Clipped samples, share (|y| >= {quality.CLIP_LEVEL}; warns over {quality.CLIPPED_SHARE})",
        quality.clipped_share,
        lambda v: v > quality.CLIPPED_SHARE,
        {
            "clean FLAC": clean,
            "clean WAV 48k + clips": others,
            "+20 dB, clipped FLAC": [clipped(y) for y in clean],
            "  of which the gain clipped": [clipped(y) for y in clean if really_clipped(y)],
            "peak +20 dB over full scale FLAC": [overdriven(y) for y in clean],
            "peak +20 dB, at 48 kHz, resampled": [
                resample(overdriven(y), sr, 16_000) for y, sr in natives
            ],
            "peak +20 dB, clips' sound": [overdriven(y) for y in others[len(natives) :]],
        },
        "8.4f",
    )
    pads = {
        "80% digital silence FLAC": [padded(y, False, i) for i, y in enumerate(clean)],
        "80% noise-floor silence FLAC": [padded(y, True, i) for i, y in enumerate(clean)],
        "80% noise-floor WAV 48k + clips": [padded(y, True, i) for i, y in enumerate(others)],
    }
    for below in (25.0, 30.0, quality.SILENCE_DB, 40.0):
        rows(
            f"Silent frames, share (frames > {below:.0f} dB under the active level; warns "
            f"over {quality.SILENT_SHARE})"
            + ("  <- chosen" if below == quality.SILENCE_DB else ""),
            lambda y, b=below: quality.silent_share(y, below_db=b),
            lambda v: v > quality.SILENT_SHARE,
            {"clean FLAC": clean, "clean WAV 48k + clips": others, **pads},
        )
    header("All audio warnings together (count of warnings per item)")
    for name, ys in {
        "clean FLAC": clean,
        "clean WAV 48k + clips": others,
        "30 dB quieter FLAC": [quieter(y) for y in clean],
        "+20 dB, clipped FLAC": [clipped(y) for y in clean],
        "peak +20 dB over full scale FLAC": [overdriven(y) for y in clean],
        **pads,
    }.items():
        counts = [len(quality.audio_warnings(y, 16_000)) for y in ys]
        print(table_row(name, counts, [c > 0 for c in counts], "8.0f"))


# ------------------------------------------------------------------------ faces


def blurred(face: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(face, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


def shrunk(face: np.ndarray, side: int) -> np.ndarray:
    """The face at ``side`` px, as a photo that small would be: what predict then sees."""
    return cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)


def face_section(limit: int) -> None:
    from PIL import Image

    files = sorted((SHARED / "fer2013" / "train").rglob("*.jpg"))
    if limit:
        files = files[:: max(1, len(files) // limit)][:limit]
    faces = np.stack([np.asarray(Image.open(f).convert("L")) for f in files])  # (N, 48, 48)
    print(f"\nFaces: {len(faces):,} FER-2013 training images (48x48)")
    header(f"Sharpness of the 48x48 crop (warns under {quality.BLURRED_SHARPNESS})")
    variants = {
        "clean": list(faces),
        "Gaussian blur sigma 1 px": [blurred(f, 1.0) for f in faces],
        "Gaussian blur sigma 1.5 px": [blurred(f, 1.5) for f in faces],
        "Gaussian blur sigma 2 px": [blurred(f, 2.0) for f in faces],
        "Gaussian blur sigma 3 px": [blurred(f, 3.0) for f in faces],
        "shrunk to 24 px, enlarged": [to_48(shrunk(f, 24)) for f in faces],
        "shrunk to 16 px, enlarged": [to_48(shrunk(f, 16)) for f in faces],
    }
    for name, crops in variants.items():
        values = [quality.sharpness(c) for c in crops]
        print(table_row(name, values, [v < quality.BLURRED_SHARPNESS for v in values]))
    header("  (for comparison: plain variance of the Laplacian, not contrast-normalised)")
    for name in ("clean", "Gaussian blur sigma 2 px"):
        values = [
            float(cv2.Laplacian(c.astype(np.float32), cv2.CV_32F).var()) for c in variants[name]
        ]
        print(table_row(name, values, [False] * len(values), "8.0f"))

    # Real video faces: the boxes and crops found in the RAVDESS clips.
    from datasets.video import clip_faces

    sides, crops = [], []
    for clip in sorted((SHARED / "ravdess_video").glob("*.mp4")):
        found = clip_faces(clip, 8)
        sides += [quality.face_side(b, (0, 0)) for b in found.boxes if b is not None]
        crops += list(found.faces)
    header(f"RAVDESS clips: faces found in 8 frames each (tiny under {quality.TINY_FACE_PX} px)")
    print(table_row("face side, px", sides, [s < quality.TINY_FACE_PX for s in sides], "8.0f"))
    values = [quality.sharpness(c) for c in crops]
    print(table_row("sharpness", values, [v < quality.BLURRED_SHARPNESS for v in values]))
    header("All face warnings together (count of warnings per FER-2013 image)")
    for name, crops, side in (
        ("clean (48 px)", variants["clean"], 48),
        ("Gaussian blur sigma 2 px", variants["Gaussian blur sigma 2 px"], 48),
        ("shrunk to 24 px", variants["shrunk to 24 px, enlarged"], 24),
        ("shrunk to 16 px", variants["shrunk to 16 px, enlarged"], 16),
    ):
        counts = [len(quality.face_warnings(c[None], [side])) for c in crops]
        print(table_row(name, counts, [c > 0 for c in counts], "8.0f"))


def starter_section() -> None:
    """What shrinking and blurring cost the face starter model on its validation images."""
    import torch

    from datasets.fer2013 import FER2013
    from training.checkpoint import load_checkpoint
    from training.runs import STARTER_FILES

    loaded = load_checkpoint(ROOT / "pretrained" / STARTER_FILES["face"], kind="face")
    split = loaded.payload["split"]
    val = FER2013(
        SHARED / "fer2013" / "train", "val", val_fraction=split["val_fraction"], seed=split["seed"]
    )
    idx = np.linspace(0, len(val) - 1, 1000).round().astype(int)
    images, labels = np.asarray(val.images[idx]), np.asarray(val.labels[idx])

    def accuracy(crops: list[np.ndarray]) -> float:
        x = torch.tensor(np.stack(crops), dtype=torch.float32).div_(255.0).unsqueeze(1)
        with torch.inference_mode():
            top = loaded.model(x).argmax(1).numpy()
        return float(np.mean(top == labels))

    print("\nFace starter model on 1,000 of its validation images (accuracy)")
    for name, crops in (
        ("clean (48 px)", list(images)),
        ("shrunk to 40 px", [to_48(shrunk(f, 40)) for f in images]),
        ("shrunk to 36 px", [to_48(shrunk(f, 36)) for f in images]),
        ("shrunk to 32 px", [to_48(shrunk(f, 32)) for f in images]),
        ("shrunk to 24 px", [to_48(shrunk(f, 24)) for f in images]),
        ("shrunk to 16 px", [to_48(shrunk(f, 16)) for f in images]),
        ("blur sigma 1 px", [blurred(f, 1.0) for f in images]),
        ("blur sigma 1.5 px", [blurred(f, 1.5) for f in images]),
        ("blur sigma 2 px", [blurred(f, 2.0) for f in images]),
        ("blur sigma 3 px", [blurred(f, 3.0) for f in images]),
    ):
        print(f"  {name:<20} {accuracy(crops):6.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=5000, help="FER-2013 images (0: all)")
    parser.add_argument("--recordings", type=int, default=0, help="RAVDESS FLACs (0: all)")
    parser.add_argument("--only", choices=("audio", "faces"), help="measure only this part")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"The real data folder {SHARED} is absent; nothing to measure.")
        return 2
    if args.only != "faces":
        audio_section(args.recordings)
    if args.only != "audio":
        face_section(args.faces)
        starter_section()
    return 0


if __name__ == "__main__":
    sys.exit(main())
