"""Prediction for files a user brings: photos (face detection, or a ready face crop) and
recordings (any rate, channels and length; long ones in overlapping windows, averaged).

``predict_file(path, model=None)`` picks the model kind from the file type; without a
model it uses the latest trained run of that kind, or the shipped starter model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from datasets.audio import (
    FeatureParams,
    compute_features,
    fix_length,
    read_audio,
    require_sound,
    trim_silence,
)
from datasets.errors import WorkbenchError, describe
from datasets.faces import face_from_file
from datasets.sources import DEMO_LABEL

from .checkpoint import LoadedModel, load_checkpoint, resolve_checkpoint
from .runs import default_model

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


@dataclass
class Prediction:
    """Probabilities per emotion for one file, and what the GUI shows next to them."""

    kind: str  # "image" or "audio"
    file: str
    model: str
    probabilities: dict[str, float]
    trained_on: str = ""  # the model's training data, e.g. "built-in synthetic demo data"
    details: dict = field(default_factory=dict)  # JSON-safe extras: box, windows, seconds…
    arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # face, waveform…

    @property
    def top(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "file": self.file,
            "model": self.model,
            "trained_on": self.trained_on,
            "top": self.top,
            "probabilities": self.probabilities,
            **self.details,
        }


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, kind: str, purpose: str) -> LoadedModel:
    return load_checkpoint(path, kind=kind, purpose=purpose)


def load_model(model: str | Path | None, kind: str, purpose: str = "") -> LoadedModel:
    """The ``kind`` model at ``model`` (run folder or .pt), or the default one; cached
    until the file changes, so repeated predictions do not reload it."""
    path = resolve_checkpoint(model) if model is not None else default_model(kind)
    return _load(str(path), path.stat().st_mtime_ns, kind, purpose)


def trained_on(loaded: LoadedModel) -> str:
    """What the model learned from, for naming it next to a prediction."""
    data = loaded.payload.get("split") or {}
    if data.get("is_demo"):
        return DEMO_LABEL
    return data.get("path", "unknown data")


@torch.inference_mode()
def _probabilities(loaded: LoadedModel, x: torch.Tensor) -> np.ndarray:
    return torch.softmax(loaded.model(x), dim=1).mean(0).numpy()  # averaged over windows


def _as_dict(classes: tuple[str, ...], probs: np.ndarray) -> dict[str, float]:
    probs = probs.astype(np.float64)
    probs /= probs.sum()
    return {name: float(p) for name, p in zip(classes, probs)}


def predict_image(
    path: str | Path, *, model: str | Path | None = None, detect: bool = True
) -> Prediction:
    """Emotion probabilities for the face in a photo.

    The largest face is found and cropped (a ≤ 64 px image is taken as a face crop
    already). No face raises ``NoFaceError`` unless ``detect=False``, which classifies the
    whole image.
    """
    loaded = load_model(model, "face", "an image")
    crop = face_from_file(path, detect=detect)
    x = torch.tensor(crop.face, dtype=torch.float32).div_(255.0)[None, None]  # (1, 1, 48, 48)
    probs = _probabilities(loaded, x)
    return Prediction(
        kind="image",
        file=str(path),
        model=str(loaded.path),
        trained_on=trained_on(loaded),
        probabilities=_as_dict(loaded.classes, probs),
        details={"box": [int(v) for v in crop.box] if crop.box is not None else None},
        arrays={"face": crop.face},
    )


def audio_windows(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """(W, n_samples) analysis windows of a 16 kHz recording after trimming silence.

    Up to one window long: the single centred window training used. Longer: windows
    every half window, the last one flush with the end, so every part is heard.
    """
    if params.trim_db is not None:
        y = trim_silence(y, params.trim_db)
    n = params.n_samples
    if len(y) <= n:
        return fix_length(y, n)[None]
    starts = list(range(0, len(y) - n + 1, n // 2))
    if starts[-1] != len(y) - n:
        starts.append(len(y) - n)
    return np.stack([y[s : s + n] for s in starts])


def predict_audio(path: str | Path, *, model: str | Path | None = None) -> Prediction:
    """Emotion probabilities for a speech recording, averaged over its windows."""
    loaded = load_model(model, "speech", "a recording")
    params = FeatureParams.from_dict(loaded.preprocessing["features"])
    y = read_audio(path, params.sample_rate)
    require_sound(y, params.sample_rate, path)
    windows = audio_windows(y, params)
    feats = compute_features(windows, params)  # (W, n_bins, n_frames)
    probs = _probabilities(loaded, torch.from_numpy(feats).unsqueeze(1))
    return Prediction(
        kind="audio",
        file=str(path),
        model=str(loaded.path),
        trained_on=trained_on(loaded),
        probabilities=_as_dict(loaded.classes, probs),
        details={"seconds": round(len(y) / params.sample_rate, 2), "windows": len(windows)},
        arrays={"waveform": y, "features": feats[0]},
    )


def predict_file(
    path: str | Path, *, model: str | Path | None = None, detect: bool = True
) -> Prediction:
    """``predict_image`` or ``predict_audio``, chosen by the file's type."""
    path = Path(path)
    if not path.exists():
        raise WorkbenchError(f"{describe(path)} does not exist; check the path.")
    if path.is_dir():
        raise WorkbenchError(f"{describe(path)} is a folder; pass one image or audio file.")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return predict_image(path, model=model, detect=detect)
    if suffix in AUDIO_SUFFIXES:
        return predict_audio(path, model=model)
    if suffix in VIDEO_SUFFIXES:
        raise WorkbenchError(
            f"{describe(path)} is a video clip; this version predicts photos and recordings "
            "only, so pass a frame as an image or the clip's sound as a .wav."
        )
    raise WorkbenchError(
        f"{describe(path)} is neither an image ({', '.join(IMAGE_SUFFIXES[:3])}…) nor a "
        f"recording ({', '.join(AUDIO_SUFFIXES[:2])}…); pass a photo or a speech file."
    )
