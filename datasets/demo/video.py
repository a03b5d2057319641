"""Video-only RAVDESS clips: an actor's animated face whose mouth follows the take's WAV."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from datasets.demo.config import KIND_ACTOR_FACE, KIND_VIDEO, SAMPLE_RATE, VIDEO_FPS, VIDEO_SIZE
from datasets.demo.drawing import Canvas, draw_base, draw_features, finish
from datasets.demo.faces import FaceIdentity, FaceView, expression_params, random_identity
from datasets.demo.voices import Take
from datasets.errors import WorkbenchError, describe
from datasets.labels import RAVDESS_EMOTIONS


def frame_envelope(audio: np.ndarray, fps: int = VIDEO_FPS) -> np.ndarray:
    """RMS of the audio in each video frame's time window: float (n_frames,)."""
    n_frames = int(len(audio) / SAMPLE_RATE * fps)
    edges = (np.arange(n_frames + 1) * SAMPLE_RATE / fps).astype(int)
    return np.array([np.sqrt(np.mean(audio[a:b] ** 2)) for a, b in zip(edges[:-1], edges[1:])])


def actor_face(seed: int, actor: int) -> tuple[FaceIdentity, FaceView]:
    """Identity and studio set-up of an actor's video face (fixed across that actor's clips)."""
    rng = np.random.default_rng([seed, KIND_ACTOR_FACE, actor])
    ident = random_identity(rng, female=actor % 2 == 0)
    view = FaceView(
        ty=float(rng.normal(0.02, 0.02)),
        scale=float(rng.uniform(0.92, 1.0)),
        bg=float(rng.uniform(0.75, 0.9)),  # RAVDESS: plain light studio wall
        light_x=float(rng.normal(0.0, 0.08)),
        contrast=float(rng.uniform(0.95, 1.1)),
    )
    return ident, view


_MOUTH_LEVELS = 8  # speech mouth opening is quantised so frames can be reused within a clip


def render_clip_frames(seed: int, take: Take, envelope: np.ndarray) -> np.ndarray:
    """Frames of the video-only clip of ``take``: uint8 (n_frames, 64, 64) grayscale.

    The mouth opens with ``envelope`` (per-frame RMS of the matching WAV); the face shows the
    take's emotion at intensity 0.5-0.75 (normal) or 0.8-1.0 (strong), with small head sway and
    the occasional blink.
    """
    rng = np.random.default_rng([seed, KIND_VIDEO, *take.key()])
    ident, base = actor_face(seed, take.actor)
    view = replace(
        base,
        tx=base.tx + float(rng.normal(0.0, 0.02)),
        ty=base.ty + float(rng.normal(0.0, 0.02)),
        roll=float(rng.normal(0.0, 0.04)),
        yaw=float(rng.normal(0.0, 0.06)),
        gaze_x=float(rng.normal(0.0, 0.15)),
    )
    level = rng.uniform(0.5, 0.75) if take.intensity == 1 else rng.uniform(0.8, 1.0)
    expr = expression_params(RAVDESS_EMOTIONS[take.emotion - 1], float(level), rng, jitter=0.06)
    peak = float(envelope.max())
    speech = (envelope / peak) ** 0.7 if peak > 0 else np.zeros_like(envelope)
    levels = np.minimum((speech * _MOUTH_LEVELS).astype(int), _MOUTH_LEVELS - 1)
    n_frames = len(envelope)
    blinks = np.zeros(n_frames)
    for b in rng.integers(0, n_frames - 2, size=int(rng.integers(0, 3))):
        blinks[b : b + 2] = (1.0, 0.6)
    sway_f, sway_p = rng.uniform(0.2, 0.5), rng.uniform(0.0, 6.3)
    # Everything but eyes, brows and mouth is the same in every frame: draw it once.
    canvas = Canvas(view, VIDEO_SIZE, 2)
    draw_base(canvas, ident)
    base_img = canvas.img.copy()
    cache: dict[tuple[int, float], np.ndarray] = {}
    frames = np.empty((n_frames, VIDEO_SIZE, VIDEO_SIZE), dtype=np.uint8)
    for k in range(n_frames):
        key = (int(levels[k]), float(blinks[k]))
        if key not in cache:
            e = dict(expr)
            e["mouth_open"] = max(expr["mouth_open"], 0.0) + 0.3 * (key[0] + 0.5) / _MOUTH_LEVELS
            canvas.img = base_img.copy()
            draw_features(canvas, ident, e, blink=key[1])
            cache[key] = np.clip(finish(canvas, canvas.img) * 255.0, 0, 255)
        time_s = k / VIDEO_FPS
        shift = np.float32(
            [
                [1, 0, 0.8 * math.sin(2 * math.pi * sway_f * time_s + sway_p)],
                [0, 1, 0.5 * math.sin(2 * math.pi * sway_f * 0.7 * time_s)],
            ]
        )
        moved = cv2.warpAffine(
            cache[key],
            shift,
            (VIDEO_SIZE, VIDEO_SIZE),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        frames[k] = np.clip(np.rint(moved), 0, 255).astype(np.uint8)
    return frames


def write_mp4(path: Path, frames: np.ndarray, fps: int = VIDEO_FPS) -> None:
    """Write grayscale frames uint8 (n, h, w) as an ``mp4v`` mp4 (stored as BGR)."""
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h), True)
    if not writer.isOpened():
        raise WorkbenchError(
            f"OpenCV cannot write the video {describe(path)}; check its FFmpeg support."
        )
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()
