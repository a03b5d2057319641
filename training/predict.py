"""Prediction for files a user brings: photos (face detection, or a ready face crop),
recordings (any rate, channels and length; long ones in overlapping windows, averaged) and
video clips (the face model on evenly sampled frames, the speech model on the take's sound).

``predict_file(path, model=None)`` picks the model kind from the file type; without a
model it uses the latest trained run of that kind, or the shipped starter model.

Every prediction carries ``warnings``: one sentence each for a reason to trust its answer
less (a demo-trained model on real data, a quiet, clipped or mostly silent recording, a
tiny or blurred face; see ``training.quality``). ``training.second_opinion`` adds the starter
models' answer to a demo-trained model's, for the window to show side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from datasets.audio import (
    FeatureParams,
    compute_features,
    fix_length,
    prepare,
    read_audio,
    require_sound,
    resample,
    window,
)
from datasets.errors import NoSoundError, WorkbenchError, describe
from datasets.faces import default_detector
from datasets.images import read_gray
from datasets.labels import RAVDESS_TO_FER
from datasets.ravdess import VIDEO_SUFFIXES
from datasets.video import clip_audio, clip_faces

from . import quality, wording
from .checkpoint import LoadedModel, load_checkpoint, read_checkpoint, resolve_checkpoint
from .data import as_float
from .onnx_model import is_onnx, load_onnx, onnx_kind
from .records import FacePart, FusedPart, Prediction, SpeechPart
from .runs import default_fusion_model, default_model, starter_model

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
DISPLAY_SIDE = 1600  # px: larger photos are shown from a scaled-down copy


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, kind: str, purpose: str) -> LoadedModel:
    if is_onnx(path):  # an exported graph, run by ONNX Runtime
        return load_onnx(path, kind=kind, purpose=purpose)
    return load_checkpoint(path, kind=kind, purpose=purpose)


def load_model(model: str | Path | None, kind: str, purpose: str = "") -> LoadedModel:
    """The ``kind`` model at ``model`` (run folder or .pt), or the default one; cached
    until the file changes, so repeated predictions do not reload it."""
    path = resolve_checkpoint(model) if model is not None else default_model(kind)
    return _load(str(path), path.stat().st_mtime_ns, kind, purpose)


def trained_on(loaded: LoadedModel) -> str:
    """What the model learned from, for naming it next to a prediction."""
    return wording.trained_on(loaded.payload.get("split") or {})


def learned_from_demo(loaded: LoadedModel) -> bool:
    """Whether the model was trained on the built-in synthetic demo data."""
    return bool((loaded.payload.get("split") or {}).get("is_demo"))


# Per model kind: what a file that is not demo data is, and the real data to train on.
_REAL_FILE = {"image": "real photos", "audio": "real recordings", "video": "real clips"}
_REAL_DATA = {
    "image": "real FER-2013 photos",
    "audio": "real RAVDESS recordings",
    "video": "real FER-2013 and RAVDESS data",
}


def _demo_check(
    path: str | Path, kind: str, models: dict[str, LoadedModel]
) -> tuple[tuple[str, ...], list[str]]:
    """The kinds among ``models`` (kind → model) that learned from demo data, when the
    file at ``path`` is not demo data, and the warning that says so (none when all is well)."""
    demo = tuple(k for k, m in models.items() if learned_from_demo(m))
    if not demo or quality.is_demo_file(path):
        return (), []
    starters = [p.name for p in (starter_model(k) for k in demo) if p is not None]
    warning = quality.demo_model_warning(demo, _REAL_FILE[kind], starters, _REAL_DATA[kind])
    return demo, [warning]


@torch.inference_mode()
def softmax_batch(loaded: LoadedModel, x: torch.Tensor) -> np.ndarray:
    """(B, C) class probabilities of a batch (model in eval mode: items are independent)."""
    return _finite(loaded, torch.softmax(loaded.model(x).float(), dim=1).numpy())


def _finite(loaded: LoadedModel, probs: np.ndarray) -> np.ndarray:
    """``probs``, refused when a damaged model made them NaN: nothing non-finite is shown."""
    if not np.isfinite(probs).all():
        raise WorkbenchError(
            f"The model {describe(loaded.path)} gave invalid (NaN) probabilities, so its "
            "weights are damaged; retrain it or choose another model."
        )
    return probs


def _probabilities(loaded: LoadedModel, x: torch.Tensor) -> np.ndarray:
    return softmax_batch(loaded, x).mean(0)  # averaged over windows


def as_distribution(classes: tuple[str, ...], probs: np.ndarray) -> dict[str, float]:
    """Class name → probability, renormalised to sum to 1."""
    probs = probs.astype(np.float64)
    probs /= probs.sum()
    return {name: float(p) for name, p in zip(classes, probs)}


def faces_input(faces: np.ndarray) -> torch.Tensor:
    """(F, 48, 48) uint8 crops → the face model's input, made as training makes it (from
    a copy: the crops may be read-only arrays)."""
    return as_float(torch.tensor(np.asarray(faces), dtype=torch.uint8))


def _display_image(path: str | Path, gray: np.ndarray) -> np.ndarray:
    """The photo at ``path`` as (H, W, 3) uint8 RGB for showing next to its prediction.

    Oriented exactly like ``read_gray`` (EXIF applied under the same condition), so a face
    box found on ``gray`` fits it. A side over ``DISPLAY_SIDE`` px is scaled down; the
    caller knows the original size from ``gray``. 16-bit and float images, and any file
    that does not read back at ``gray``'s size, are shown as the grayscale the model saw.
    """
    h, w = gray.shape
    try:
        with Image.open(path) as im:
            im.load()
            if "exif" in im.info:  # the same test read_gray makes
                im = ImageOps.exif_transpose(im)
            if im.size == (w, h) and im.mode not in ("I", "F") and not im.mode.startswith("I;16"):
                im = im.convert("RGB")
                im.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.BILINEAR)
                return np.asarray(im, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError):
        pass  # read_gray could read it, so show what it read
    step = max(1, int(np.ceil(max(h, w) / DISPLAY_SIDE)))
    return np.repeat(gray[::step, ::step, None], 3, axis=2)


def predict_image(
    path: str | Path, *, model: str | Path | None = None, detect: bool = True
) -> Prediction:
    """Emotion probabilities for the face in a photo.

    The largest face is found and cropped (a ≤ 64 px image is taken as a face crop
    already). No face raises ``NoFaceError`` unless ``detect=False``, which classifies the
    whole image.

    ``details``: ``box`` [x, y, w, h] in pixels of the (EXIF-upright) photo, or None when
    the image was used whole; ``size`` [width, height] of that photo. ``arrays``: ``face``
    the (48, 48) uint8 crop the model saw, ``image`` the photo as (H, W, 3) uint8 RGB for
    display, scaled down when a side exceeds ``DISPLAY_SIDE`` (draw it over ``size`` to
    place the box).
    """
    loaded = load_model(model, "face", "an image")
    gray = read_gray(path)
    crop = default_detector().find(gray, source=path, detect=detect)
    probs = _probabilities(loaded, faces_input(crop.face[None]))  # (1, 1, 48, 48)
    demo, warnings = _demo_check(path, "image", {"face": loaded})
    warnings += quality.face_warnings(crop.face[None], [quality.face_side(crop.box, gray.shape)])
    return Prediction(
        kind="image",
        file=str(path),
        model=str(loaded.path),
        trained_on=trained_on(loaded),
        warnings=warnings,
        demo_models=demo,
        probabilities=as_distribution(loaded.classes, probs),
        details={
            "box": [int(v) for v in crop.box] if crop.box is not None else None,
            "size": [int(gray.shape[1]), int(gray.shape[0])],
        },
        arrays={"face": crop.face, "image": _display_image(path, gray)},
    )


def audio_windows(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """(W, n_samples) analysis windows of a 16 kHz recording after trimming silence.

    Up to one window long: the single centred window training used. Longer: windows
    every half window, the last one flush with the end, so every part is heard. The level
    is normalised over the whole (trimmed) recording, as training normalised each utterance.
    """
    y = prepare(y, params)
    return windows_at(y, starts_of(y, params), params.n_samples)


def windows_at(y: np.ndarray, starts: list[int], n: int) -> np.ndarray:
    """(len(starts), n) windows of ``y`` from ``starts`` (a short recording zero-padded)."""
    return np.stack([fix_length(y[s : s + n], n) for s in starts])


def starts_of(y: np.ndarray, params: FeatureParams) -> list[int]:
    """Where each analysis window of a prepared recording ``y`` starts (see
    ``audio_windows``)."""
    n = params.n_samples
    if len(y) <= n:
        return [0]
    starts = list(range(0, len(y) - n + 1, n // 2))
    if starts[-1] != len(y) - n:
        starts.append(len(y) - n)
    return starts


@dataclass
class Heard:
    """What the speech model made of one recording."""

    probabilities: dict[str, float]
    windows: int
    features: np.ndarray  # (n_bins, n_frames) of the first window
    # A long recording's parts: [{start, end (s of the trimmed sound), emotion, probability}]
    segments: list[dict] | None = None


WINDOW_BATCH = 32  # windows heard at once: memory stays bounded for any length
SEGMENT_SECONDS = 30.0  # a recording longer than two of these is summarised per segment


def hear(
    loaded: LoadedModel,
    y: np.ndarray,
    params: FeatureParams,
    progress: Callable[[int, int], None] | None = None,
) -> Heard:
    """The speech model on a 16 kHz recording: trimmed, windowed, averaged over windows.

    Windows are made and heard ``WINDOW_BATCH`` at a time, so a 30-minute recording needs
    the memory of a short one (all at once it took 7 GB); ``progress(done, total)`` counts
    windows. Past two segments' length the answer also comes per ``SEGMENT_SECONDS``
    segment, where a long recording's emotions change."""
    y = prepare(y, params)
    n, starts = params.n_samples, starts_of(y, params)
    probs = np.zeros((len(starts), len(loaded.classes)), np.float64)
    first = None
    for i in range(0, len(starts), WINDOW_BATCH):
        batch = windows_at(y, starts[i : i + WINDOW_BATCH], n)
        x, shown = speech_input(loaded, batch, params, show=first is None)
        first = shown if first is None else first
        probs[i : i + len(batch)] = softmax_batch(loaded, x)
        if progress is not None:
            progress(min(i + WINDOW_BATCH, len(starts)), len(starts))
    segments = None
    seconds = len(y) / params.sample_rate
    if seconds > 2 * SEGMENT_SECONDS:
        at = np.asarray(starts) / params.sample_rate
        segments = []
        for begin in np.arange(0.0, seconds, SEGMENT_SECONDS):
            inside = (at >= begin) & (at < begin + SEGMENT_SECONDS)
            if inside.any():
                answer = as_distribution(loaded.classes, probs[inside].mean(0))
                top = max(answer, key=answer.get)
                end = min(begin + SEGMENT_SECONDS, seconds)
                segments.append(
                    {
                        "start": round(float(begin), 1),
                        "end": round(float(end), 1),
                        "emotion": top,
                        "probability": answer[top],
                    }
                )
    return Heard(as_distribution(loaded.classes, probs.mean(0)), len(starts), first, segments)


def takes_windows(loaded: LoadedModel) -> bool:
    """Whether the model computes its own speech features (an exported ONNX graph)."""
    return bool(getattr(loaded.model, "takes_windows", False))


def speech_input(
    loaded: LoadedModel, windows: np.ndarray, params: FeatureParams, *, show: bool = True
) -> tuple[torch.Tensor, np.ndarray | None]:
    """The speech network's input for (B, n_samples) analysis ``windows`` — their
    (B, 1, n_bins, n_frames) features, or the windows themselves for a model that computes
    its own (``takes_windows``) — and, with ``show``, the first window's features for
    showing (a graph's caller computes them only then)."""
    if takes_windows(loaded):
        x = torch.from_numpy(np.ascontiguousarray(windows, np.float32))
        return x, compute_features(windows[:1], params)[0] if show else None
    feats = compute_features(windows, params)  # (B, n_bins, n_frames)
    return torch.from_numpy(feats).unsqueeze(1), feats[0]


def _feature_params(loaded: LoadedModel) -> FeatureParams:
    return FeatureParams.from_dict(loaded.preprocessing["features"])


def predict_audio(
    path: str | Path,
    *,
    model: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Prediction:
    """Emotion probabilities for a speech recording, averaged over its windows (a long
    one also per segment); ``progress(done, total)`` counts the windows heard."""
    loaded = load_model(model, "speech", "a recording")
    params = _feature_params(loaded)
    y = read_audio(path, params.sample_rate)
    require_sound(y, params.sample_rate, path)
    heard = hear(loaded, y, params, progress)
    demo, warnings = _demo_check(path, "audio", {"speech": loaded})
    warnings += quality.audio_warnings(y, params.sample_rate)
    return Prediction(
        kind="audio",
        file=str(path),
        model=str(loaded.path),
        trained_on=trained_on(loaded),
        warnings=warnings,
        demo_models=demo,
        probabilities=heard.probabilities,
        details={
            "seconds": round(len(y) / params.sample_rate, 2),
            "windows": heard.windows,
            **({"segments": heard.segments} if heard.segments else {}),
        },
        arrays={"waveform": y, "features": heard.features},
        feature_params=params,
    )


def average_answers(face: dict[str, float], speech: dict[str, float]) -> dict[str, float]:
    """Equal-weight average of a face model's (FER-2013 names) and a speech model's
    (RAVDESS names) probabilities over the FER-2013 emotions, RAVDESS calm counted as
    neutral — the fallback when no fusion model has been trained."""
    fused = {name: 0.5 * p for name, p in face.items()}
    for name, p in speech.items():
        fer = RAVDESS_TO_FER.get(name, name) or "neutral"
        fused[fer] = fused.get(fer, 0.0) + 0.5 * p
    return as_distribution(tuple(fused), np.array(list(fused.values())))


@torch.inference_mode()
def fuse(
    loaded: LoadedModel, faces: np.ndarray, found: np.ndarray, y: np.ndarray, sample_rate: int
) -> dict[str, float]:
    """A fusion model's probabilities for one take: ``faces`` (n, 48, 48) uint8 crops of
    the frames where ``found`` (n,) is True, in order, and its sound ``y``."""
    params = _feature_params(loaded)
    if params.sample_rate != sample_rate:
        y = resample(y, sample_rate, params.sample_rate)
    found = np.asarray(found, bool)
    frames = np.zeros((len(found), 48, 48), np.uint8)
    frames[found] = faces
    stored = {  # one item as the fusion sets store it, made into input as training does
        "faces": torch.from_numpy(frames)[None, :, None],  # (1, F, 1, 48, 48) uint8
        "found": torch.from_numpy(found)[None],
    }
    # (1, 1, bins, T) features, or the (1, n_samples) window for an ONNX graph
    sound, _ = speech_input(loaded, window(y, params)[None], params, show=False)
    stored["window" if takes_windows(loaded) else "features"] = sound
    probs = _finite(loaded, torch.softmax(loaded.model(as_float(stored)).float(), dim=1)[0].numpy())
    return as_distribution(loaded.classes, probs)


def fusion_method(loaded: LoadedModel) -> str:
    """How a fusion model combines the two, in words, e.g. "concat fusion (takes)"."""
    config = loaded.payload["model_config"]
    pairing = loaded.preprocessing.get("pairing", "takes")
    if config.get("variant") == "late":
        return f"late fusion, face weight {config['weight']:.2f} ({pairing})"
    return f"{config.get('variant')} fusion ({pairing})"


def predict_video(
    path: str | Path,
    *,
    face_model: str | Path | None = None,
    speech_model: str | Path | None = None,
    fusion_model: str | Path | None = None,
    n_frames: int = 8,
) -> Prediction:
    """Emotion probabilities for a video clip: the face model on ``n_frames`` evenly
    spaced frames, the speech model on the take's sound, and both fused.

    The headline ``probabilities`` are the fused ones: from ``fusion_model`` (default: the
    latest finished fusion run), or, when there is none, the equal-weight average of the
    face and speech results (``fused.method`` says which). A clip with no sound to hear (no
    sound track and no matching RAVDESS ``03-`` recording, or a silent one: a webcam or
    phone video, a RAVDESS ``02-`` video-only clip on its own) is answered by the face
    model alone, frame by frame, with a warning that says so: its ``speech`` and ``fused``
    are None. Raises ``NoFaceError`` when no sampled frame has a face and
    ``WorkbenchError`` for an unreadable clip.

    The parts: ``face`` (``FacePart``), ``speech`` (``SpeechPart``) and ``fused``
    (``FusedPart``; its ``model`` is None for the fallback). ``details`` (JSON-safe):
    ``frames`` — per sampled frame ``time`` (s), ``face_found``, ``box`` [x, y, w, h] or
    None, ``probabilities`` or None. ``arrays``: ``frames`` (list of the sampled
    (H, W) uint8 grayscale frames), ``faces`` (F, 48, 48) uint8, ``found`` (N,) bool,
    ``times`` (N,) s, and with sound ``waveform`` (16 kHz float32) and ``features`` (first
    window's).
    """
    face = load_model(face_model, "face", "a video's frames")
    speech = load_model(speech_model, "speech", "a video's sound")
    fusion_path = fusion_model if fusion_model is not None else default_fusion_model()
    fusion = load_model(fusion_path, "fusion", "a video") if fusion_path is not None else None
    clip = clip_faces(path, n_frames)
    per_face = softmax_batch(face, faces_input(clip.faces))  # (F, C), one forward pass
    mean = as_distribution(face.classes, per_face.mean(0))
    rows = iter(per_face)
    frames = []
    for t, found, box in zip(clip.times, clip.found, clip.boxes):
        frames.append(
            {
                "time": round(float(t), 3),
                "face_found": bool(found),
                "box": [int(v) for v in box] if box is not None else None,
                "probabilities": as_distribution(face.classes, next(rows)) if found else None,
            }
        )
    face_part = FacePart(
        model=str(face.path),
        trained_on=trained_on(face),
        mean=mean,
        frames_with_face=int(clip.found.sum()),
        frames_sampled=len(clip.frames),
    )
    arrays = {"frames": clip.frames, "faces": clip.faces, "found": clip.found, "times": clip.times}
    sides = [
        quality.face_side(b, f.shape) for f, b, ok in zip(clip.frames, clip.boxes, clip.found) if ok
    ]
    face_warnings = quality.face_warnings(clip.faces, sides)

    params = _feature_params(speech)
    try:
        y, audio_from = clip_audio(path, params.sample_rate)
        require_sound(y, params.sample_rate, audio_from)
    except NoSoundError as exc:  # a silent clip: the face model answers alone
        demo, warnings = _demo_check(path, "video", {"face": face})
        return Prediction(
            kind="video",
            file=str(path),
            model=str(face.path),
            trained_on=trained_on(face),
            warnings=[quality.no_sound_warning(exc.reason), *warnings, *face_warnings],
            demo_models=demo,
            probabilities=mean,
            details={"frames": frames},
            face=face_part,
            arrays=arrays,
        )
    heard = hear(speech, y, params)
    if fusion is not None:
        fused_probs = fuse(fusion, clip.faces, clip.found, y, params.sample_rate)
        note = (fusion.payload.get("split") or {}).get("note", "")
        fused = FusedPart(
            model=str(fusion.path),
            trained_on=trained_on(fusion),
            method=fusion_method(fusion),
            note=note,
            probabilities=fused_probs,
            top=max(fused_probs, key=fused_probs.get),
        )
    else:
        fused_probs = average_answers(mean, heard.probabilities)
        fused = FusedPart(
            model=None,
            trained_on="",
            method="average of the face and speech models (no fusion model trained yet)",
            note="RAVDESS calm counted as neutral",
            probabilities=fused_probs,
            top=max(fused_probs, key=fused_probs.get),
        )
    models = {"face": face, "speech": speech, **({"fusion": fusion} if fusion else {})}
    demo, warnings = _demo_check(path, "video", models)
    warnings += face_warnings
    warnings += quality.audio_warnings(y, params.sample_rate, what="The clip's sound")
    return Prediction(
        kind="video",
        file=str(path),
        model=fused.model or str(face.path),
        trained_on=fused.trained_on or trained_on(face),
        warnings=warnings,
        demo_models=demo,
        probabilities=fused_probs,
        details={"frames": frames},
        fused=fused,
        face=face_part,
        speech=SpeechPart(
            model=str(speech.path),
            trained_on=trained_on(speech),
            probabilities=heard.probabilities,
            top=max(heard.probabilities, key=heard.probabilities.get),
            audio_from=str(audio_from),
            seconds=round(len(y) / params.sample_rate, 2),
            windows=heard.windows,
        ),
        arrays={**arrays, "waveform": y, "features": heard.features},
        feature_params=params,
    )


def predict_file(
    path: str | Path,
    *,
    model: str | Path | None = None,
    detect: bool = True,
    speech_model: str | Path | None = None,
    face_model: str | Path | None = None,
    fusion_model: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Prediction:
    """``predict_image``, ``predict_audio`` or ``predict_video``, chosen by the file's type.

    ``model`` is the model for this file: the face model for a photo, the speech model
    for a recording, the face or the fusion model for a video (told apart by their kind).
    ``speech_model``, ``face_model`` and ``fusion_model`` name a video's three models
    one by one (``model`` fills the face or fusion one, by its kind). ``progress(done,
    total)`` follows a recording's windows.
    """
    path = Path(path)
    if not path.exists():
        raise WorkbenchError(f"{describe(path)} does not exist; check the path.")
    if path.is_dir():
        raise WorkbenchError(f"{describe(path)} is a folder; pass one image, audio or video file.")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return predict_image(path, model=model, detect=detect)
    if suffix in AUDIO_SUFFIXES:
        return predict_audio(path, model=model, progress=progress)
    if suffix in VIDEO_SUFFIXES:
        models = {"face": face_model, "speech": speech_model, "fusion": fusion_model}
        if model is not None:  # the face or the fusion model, by its kind
            kind = onnx_kind(model) if is_onnx(model) else read_checkpoint(model)["kind"]
            models[kind] = models[kind] or model
        return predict_video(
            path,
            face_model=models["face"],
            speech_model=models["speech"],
            fusion_model=models["fusion"],
        )
    raise WorkbenchError(
        f"{describe(path)} is neither an image ({', '.join(IMAGE_SUFFIXES[:3])}…), a "
        f"recording ({', '.join(AUDIO_SUFFIXES[:2])}…) nor a video clip "
        f"({', '.join(VIDEO_SUFFIXES[:2])}…); pass a photo, a speech file or a clip."
    )
