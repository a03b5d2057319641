"""Warnings that go with a prediction: reasons its answer deserves less trust than the
probabilities suggest.

* A model trained on the built-in synthetic demo data answering a real photo or recording.
* A recording that is very quiet, clipped, or mostly silence.
* A face that is tiny (few pixels across) or blurred.
* A video with no sound to hear, answered by its faces alone.

Every check is a pure function of numbers the prediction already has; each warning is one
sentence that says what is wrong and what to do. The thresholds were chosen by measuring
real FER-2013 images and RAVDESS recordings and degraded copies of them; run
``python bench/warnings_thresholds.py`` to see the distributions and the false-warning
rates on the clean items (the figures quoted below are from that script's output).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from datasets.audio import active_level_db, frame_power
from datasets.demo import read_marker

# ------------------------------------------------------------------- thresholds

# Measured with bench/warnings_thresholds.py on ../shared/data (all 1,080 RAVDESS FLACs,
# the 5 48 kHz WAVs and 3 clips' sound; all 28,709 FER-2013 training images; the face
# starter's accuracy on 1,000 of its validation images). Figures as that script printed them.

# Active-speech level (``active_level_db``, dBFS) below which a recording is "very quiet".
# Clean RAVDESS spans -59.7 .. -12.3 dBFS (median -36.4), so -62 never warns on it (0 of
# 1,080). Copies 30 dB quieter span -89.7 .. -42.3: 68.5% warn. The rest are louder than
# many clean takes, and no level threshold can tell them apart.
QUIET_DB = -62.0
# A sample whose magnitude reaches CLIP_LEVEL counts as clipped; a recording warns when more
# than CLIPPED_SHARE of its samples do. Clean RAVDESS: at most 0.013% (9 samples) — 0 warn.
# Peak driven 20 dB over full scale: 4.0% .. 31% of samples — all warn (also after
# resampling from 48 kHz, and on the clips' sound). A plain +20 dB gain clips only the
# louder half of the takes, and 81% of those warn (the rest lose a few samples).
CLIP_LEVEL = 0.99
CLIPPED_SHARE = 0.0005
# A 25 ms frame more than SILENCE_DB below the recording's active-speech level is silence;
# a recording warns when more than SILENT_SHARE of its frames are. Clean RAVDESS: at most
# 63.4% silent frames — 0 warn. Padded with silence to five times its length (80%):
# digital zeros — all warn; noise at the take's own noise floor — 99.5% warn (35 dB: 98.6%,
# 40 dB: 93.1%, as a noisy take's floor is not far under its speech).
SILENCE_DB = 30.0
SILENT_SHARE = 0.75
# A face fewer pixels across than this (detected box, or the whole image when a small
# image is taken as a face crop) was enlarged to the model's 48 px. The face starter's
# accuracy: 68.6% at 48 px, 65.1% at 40, 62.0% at 36, 56.8% at 32, 45.2% at 24, 28.3% at
# 16; clean FER-2013 faces are 48 px and RAVDESS clips' faces 368-400 px (none warn).
TINY_FACE_PX = 32
# ``sharpness`` of the 48x48 crop the model saw below which a face counts as blurred.
# Clean FER-2013: 1st percentile 0.214, median 0.754 — 0.3% warn (blank and truly blurry
# images). Gaussian blur sigma 1 px: 96.4% warn (starter accuracy 68.6% -> 56.7%); sigma
# 1.5, 2 and 3 px: all warn. RAVDESS clips' faces: 0.49 .. 0.62, none warn.
BLURRED_SHARPNESS = 0.15

FRAME, HOP = 400, 160  # 25 ms frames every 10 ms at 16 kHz (as ``active_level_db``)


# ---------------------------------------------------------------------- measures


def clipped_share(y: np.ndarray) -> float:
    """Share of the samples of ``y`` (float, full scale ±1) at or near full scale."""
    if len(y) == 0:
        return 0.0
    return float(np.mean(np.abs(y) >= CLIP_LEVEL))


def frame_levels_db(y: np.ndarray, frame: int = FRAME, hop: int = HOP) -> np.ndarray:
    """(n_frames,) power of each 25 ms frame of a 16 kHz recording in dBFS (≥ -120)."""
    if len(y) < frame:
        y = np.pad(y, (0, frame - len(y)))
    return 10 * np.log10(np.maximum(frame_power(y, frame, hop), 1e-12))


def silent_share(y: np.ndarray, *, below_db: float | None = None) -> float:
    """Share of the 25 ms frames of ``y`` more than ``below_db`` (default ``SILENCE_DB``)
    under its active-speech level: pauses, padding and room noise, as opposed to speech."""
    below_db = SILENCE_DB if below_db is None else below_db
    levels = frame_levels_db(y)
    return float(np.mean(levels < active_level_db(y) - below_db))


def sharpness(face: np.ndarray) -> float:
    """Fine detail in a (48, 48) face crop: the variance of its Laplacian over the
    variance of its pixels (inside a 1 px border).

    Dividing by the pixel variance makes the measure independent of contrast and
    brightness, so a dark or washed-out photo is not taken for a blurred one. A blank crop
    has no detail at all and gives 0.
    """
    gray = face.astype(np.float32)
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=1)[1:-1, 1:-1]
    spread = float(gray[1:-1, 1:-1].var())
    if spread < 1.0:  # under one grey level of spread: a blank image
        return 0.0
    return float(lap.var()) / spread


def face_side(box: Sequence[int] | None, image_shape: tuple[int, int]) -> int:
    """How many pixels across the face is: the detected box's larger side, or the image's
    shorter side when the image was used whole."""
    if box is not None:
        return int(max(box[2], box[3]))
    return int(min(image_shape))


def is_demo_file(path: str | Path) -> bool:
    """True when ``path`` lies inside a folder of generated demo data (one with the demo
    generator's ``.complete`` marker)."""
    return any(read_marker(folder) is not None for folder in Path(path).resolve().parents)


# ---------------------------------------------------------------------- warnings


def _number(value: float, fmt: str) -> str:
    """``value`` formatted, or "?" when it is not finite (a warning never prints nan)."""
    return format(value, fmt) if math.isfinite(value) else "?"


def audio_warnings(y: np.ndarray, sample_rate: int, *, what: str = "The recording") -> list[str]:
    """Warnings about a mono recording ``y`` (float, ±1 full scale) at ``sample_rate`` Hz
    (the 25 ms frames assume 16 kHz): very quiet, clipped, mostly silence."""
    warnings = []
    level = active_level_db(y)
    if level < QUIET_DB:
        warnings.append(
            f"{what} is very quiet (speech at {_number(level, '.0f')} dBFS, under "
            f"{QUIET_DB:.0f}); raising it to the level the model expects raises the noise "
            "too, so record closer to the microphone or with more gain."
        )
    clipped = clipped_share(y)
    if clipped > CLIPPED_SHARE:
        warnings.append(
            f"{what} is clipped ({_number(100 * clipped, '.1f')}% of its samples at full "
            "scale), which distorts the voice the model hears; record again with less gain."
        )
    silent = silent_share(y)
    if silent > SILENT_SHARE:
        seconds = len(y) / sample_rate
        warnings.append(
            f"{what} is mostly silence ({_number(100 * silent, '.0f')}% of its "
            f"{_number(seconds, '.1f')} s), so the model hears little speech; trim the "
            "silence or record more speech."
        )
    return warnings


def face_warnings(faces: np.ndarray, sides: Sequence[int], *, what: str = "The face") -> list[str]:
    """Warnings about the face crops a model saw: (F, 48, 48) uint8 ``faces`` and, per
    crop, how many pixels across the face was in its image (``face_side``).

    With several crops (a video's frames) a warning needs the majority of them.
    """
    n = len(faces)
    if n == 0:
        return []
    warnings = []
    tiny = [s for s in sides if s < TINY_FACE_PX]
    if 2 * len(tiny) > n:
        which = "" if n == 1 else f" in {len(tiny)} of {n} frames"
        warnings.append(
            f"{what} is only {min(tiny)} px across{which}, so the model saw it enlarged to "
            f"48 px with little detail; use a picture where the face is at least "
            f"{TINY_FACE_PX} px wide."
        )
    scores = [sharpness(face) for face in faces]
    blurred = [s for s in scores if s < BLURRED_SHARPNESS]
    if 2 * len(blurred) > n:
        which = "" if n == 1 else f" in {len(blurred)} of {n} frames"
        warnings.append(
            f"{what} is blurred{which} (sharpness {_number(min(blurred), '.2f')}, under "
            f"{BLURRED_SHARPNESS:.2f}), so the details of the expression are lost; use a "
            "sharper picture."
        )
    return warnings


def no_sound_warning(reason: str) -> str:
    """A video answered by the face model alone: why there was no sound (``reason``, from
    ``NoSoundError``) and how to get the speech and fused answers too."""
    return (
        f"There was no sound to hear ({reason}), so only the face model answered, frame by "
        "frame; for the speech and fused answers use a clip with sound, or put the take's "
        "RAVDESS 03- recording beside it."
    )


def demo_model_warning(models: Sequence[str], data: str, starters: Sequence[str], real: str) -> str:
    """The warning for demo-trained models answering data that is not demo data, e.g.
    ``models`` ("face",), ``data`` "real photos", ``starters`` ("face_fer2013.pt",) (the
    starter models that ship for those kinds; may be empty) and ``real`` "real FER-2013
    photos"."""
    one = len(models) == 1
    names = (
        " and ".join(models) if len(models) <= 2 else f"{', '.join(models[:-1])} and {models[-1]}"
    )
    subject = f"The {names} model" + (" was" if one else "s were")
    use = f"train on {real}"
    if starters:
        which = "the starter model" + ("" if len(starters) == 1 else "s")
        use = f"use {which} {' and '.join(starters)} in pretrained/ or {use}"
    return (
        f"{subject} trained on the built-in synthetic demo data, so "
        f"{'its' if one else 'their'} answers on {data} mean little; {use}."
    )
