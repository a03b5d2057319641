"""Emotion class names and RAVDESS file-name codes shared by every loader."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# FER-2013 label order: the integer in the CSV `emotion` column indexes this tuple.
FER_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Folder names used by the Kaggle image layout (and common variants) -> FER index.
FER_FOLDER_NAMES: dict[str, int] = {
    "angry": 0,
    "anger": 0,
    "disgust": 1,
    "disgusted": 1,
    "fear": 2,
    "fearful": 2,
    "happy": 3,
    "happiness": 3,
    "sad": 4,
    "sadness": 4,
    "surprise": 5,
    "surprised": 5,
    "neutral": 6,
}

# RAVDESS emotion codes 01..08 -> names (index = code - 1).
RAVDESS_EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)

RAVDESS_MODALITIES = {1: "audio-video", 2: "video-only", 3: "audio-only"}
RAVDESS_CHANNELS = {1: "speech", 2: "song"}
RAVDESS_INTENSITIES = {1: "normal", 2: "strong"}

# RAVDESS emotion name -> the FER-2013 class that shows the same emotion on a face
# (calm has no FER counterpart).
RAVDESS_TO_FER: dict[str, str | None] = {
    "neutral": "neutral",
    "calm": None,
    "happy": "happy",
    "sad": "sad",
    "angry": "angry",
    "fearful": "fear",
    "disgust": "disgust",
    "surprised": "surprise",
}


def ravdess_name(
    modality: int,
    channel: int,
    emotion: int,
    intensity: int,
    statement: int,
    repetition: int,
    actor: int,
    ext: str = "wav",
) -> str:
    """Return the 7-field RAVDESS file name, e.g. ``03-01-05-02-01-01-12.wav``."""
    fields = (modality, channel, emotion, intensity, statement, repetition, actor)
    return "-".join(f"{f:02d}" for f in fields) + "." + ext.lstrip(".")


def class_counts(labels, classes: Sequence[str]) -> dict[str, int]:
    """Items per class, in ``classes`` order (zero for absent ones); ``labels`` are indices
    (a numpy array or a tensor)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes))
    return {name: int(n) for name, n in zip(classes, counts)}
