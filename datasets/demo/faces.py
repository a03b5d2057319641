"""Synthetic faces: identities, pose and lighting, and expression parameters per emotion.

``drawing.render_face`` turns these into pictures; ``fer`` and ``video`` pick them per CSV row
and per actor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Expression deviations from neutral at full intensity. Units are roughly "fraction of the
# feature's size"; see drawing.render_face for the geometry. The table encodes the face-side
# confusions on purpose: fear ~ surprise (raised brows, wide eyes, open mouth), angry ~ disgust
# (lowered, inner-down brows, pressed mouth), calm ~ neutral; and separations: happy (smile,
# teeth) vs angry, sad (inner-up brows, down-turned mouth) vs neutral.
EXPR_KEYS: tuple[str, ...] = (
    "brow_raise",  # + brows up
    "brow_tilt",  # + inner ends up (worry), - inner ends down (frown)
    "eye_open",  # + upper lid up (wide eyes)
    "squint",  # + lower lid up (cheek raise)
    "mouth_curv",  # + corners up (smile)
    "mouth_open",  # + jaw drop
    "mouth_width",  # + corners pulled outwards
    "press",  # + lips pressed thin
    "teeth",  # 0..1 upper teeth visible
    "wrinkle",  # 0..1 nose-bridge wrinkles
    "folds",  # 0..1 nasolabial (smile) folds
)

EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "calm": {"eye_open": -0.15, "squint": 0.1, "mouth_curv": 0.1},
    "happy": {
        "brow_raise": 0.1,
        "eye_open": -0.1,
        "squint": 0.55,
        "mouth_curv": 1.0,
        "mouth_open": 0.35,
        "mouth_width": 0.35,
        "teeth": 1.0,
        "folds": 1.0,
    },
    "sad": {
        "brow_raise": -0.05,
        "brow_tilt": 1.0,
        "eye_open": -0.3,
        "mouth_curv": -0.9,
        "mouth_width": -0.05,
        "press": 0.2,
    },
    "angry": {
        "brow_raise": -0.7,
        "brow_tilt": -1.0,
        "eye_open": 0.05,
        "squint": 0.3,
        "mouth_curv": -0.2,
        "mouth_width": -0.2,
        "press": 0.8,
        "wrinkle": 0.3,
    },
    "disgust": {
        "brow_raise": -0.55,
        "brow_tilt": -0.75,
        "eye_open": -0.15,
        "squint": 0.55,
        "mouth_curv": -0.35,
        "mouth_open": 0.08,
        "mouth_width": -0.1,
        "press": 0.5,
        "wrinkle": 0.7,
    },
    "fear": {
        "brow_raise": 0.8,
        "brow_tilt": 0.55,
        "eye_open": 0.75,
        "mouth_curv": -0.2,
        "mouth_open": 0.6,
        "mouth_width": 0.25,
        "teeth": 0.3,
    },
    "surprise": {
        "brow_raise": 1.0,
        "brow_tilt": 0.2,
        "eye_open": 0.85,
        "mouth_open": 0.85,
        "mouth_width": -0.2,
    },
}
# RAVDESS emotion names that differ from the FER names above.
_RAVDESS_FACE = {"fearful": "fear", "surprised": "surprise"}


@dataclass(frozen=True)
class FaceIdentity:
    """Shape and tone of one synthetic person (lengths in face units, tones in 0..1)."""

    face_a: float  # half-width of the face oval
    face_b: float  # half-height, upper half
    chin: float  # lower half-height relative to face_b
    skin: float
    hair: float
    hairline: float  # v of the hairline at the centre (negative = up)
    hair_down: float  # how far the hair falls at the sides (v of its lower edge)
    hair_volume: float
    eye_dx: float
    eye_y: float
    eye_w: float
    eye_h: float
    iris: float
    brow_gap: float
    brow_len: float
    brow_thick: float
    brow_tone: float
    nose_y: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    lip: float
    lip_tone: float


def random_identity(rng: np.random.Generator, female: bool | None = None) -> FaceIdentity:
    """Draw a face identity; ``female`` (drawn when None) biases hair length and brow thickness."""
    if female is None:
        female = bool(rng.random() < 0.5)
    long_hair = rng.random() < (0.8 if female else 0.15)
    hair = float(rng.uniform(0.05, 0.7))
    return FaceIdentity(
        face_a=float(rng.uniform(0.6, 0.74)),
        face_b=float(rng.uniform(0.82, 0.95)),
        chin=float(rng.uniform(0.95, 1.12)),
        skin=float(rng.uniform(0.42, 0.85)),
        hair=hair,
        hairline=float(rng.uniform(-0.78, -0.52)),
        hair_down=float(rng.uniform(0.4, 1.3) if long_hair else rng.uniform(-0.35, -0.1)),
        hair_volume=float(rng.uniform(1.05, 1.2)),
        eye_dx=float(rng.uniform(0.25, 0.3)),
        eye_y=float(rng.uniform(-0.12, -0.07)),
        eye_w=float(rng.uniform(0.11, 0.14)),
        eye_h=float(rng.uniform(0.058, 0.072)),
        iris=float(rng.uniform(0.08, 0.35)),
        brow_gap=float(rng.uniform(0.14, 0.17)),
        brow_len=float(rng.uniform(0.17, 0.23)),
        brow_thick=float(rng.uniform(0.02, 0.035) if female else rng.uniform(0.026, 0.042)),
        brow_tone=float(min(hair, 0.45) * rng.uniform(0.4, 0.8)),
        nose_y=float(rng.uniform(0.21, 0.26)),
        nose_w=float(rng.uniform(0.06, 0.09)),
        mouth_y=float(rng.uniform(0.46, 0.52)),
        mouth_w=float(rng.uniform(0.18, 0.21)),
        lip=float(rng.uniform(0.028, 0.045)),
        lip_tone=float(rng.uniform(0.68, 0.88)),
    )


@dataclass(frozen=True)
class FaceView:
    """Pose and photometry of one picture (translations in image units of half the frame)."""

    tx: float = 0.0
    ty: float = 0.0
    scale: float = 1.0
    roll: float = 0.0  # radians
    yaw: float = 0.0  # about -0.3..0.3: features slide sideways
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    bg: float = 0.5
    bg_gx: float = 0.0
    bg_gy: float = 0.0
    light_x: float = 0.0
    light_y: float = 0.0
    contrast: float = 1.0
    brightness: float = 0.0
    gamma: float = 1.0


def random_view(rng: np.random.Generator) -> FaceView:
    """Pose, framing and lighting of one FER-like photo."""
    return FaceView(
        tx=float(rng.normal(0.0, 0.03)),
        ty=float(rng.normal(0.02, 0.03)),
        scale=float(rng.uniform(0.93, 1.06)),
        roll=float(rng.normal(0.0, 0.05)),
        yaw=float(rng.normal(0.0, 0.07)),
        gaze_x=float(rng.normal(0.0, 0.25)),
        gaze_y=float(rng.normal(0.0, 0.15)),
        bg=float(rng.uniform(0.1, 0.9)),
        bg_gx=float(rng.normal(0.0, 0.12)),
        bg_gy=float(rng.normal(0.0, 0.12)),
        light_x=float(rng.normal(0.0, 0.18)),
        light_y=float(rng.normal(0.0, 0.1)),
        contrast=float(rng.uniform(0.7, 1.25)),
        brightness=float(rng.normal(0.0, 0.06)),
        gamma=float(rng.uniform(0.8, 1.25)),
    )


def expression_params(
    emotion: str, intensity: float, rng: np.random.Generator | None = None, jitter: float = 0.0
) -> dict[str, float]:
    """Expression parameters: ``intensity`` (0..1) times the emotion's deviation from neutral,
    plus Gaussian jitter of standard deviation ``jitter`` on every parameter.

    ``emotion`` is a FER class name, ``"calm"``, or a RAVDESS name.
    """
    table = EXPRESSIONS[_RAVDESS_FACE.get(emotion, emotion)]
    params = {key: intensity * table.get(key, 0.0) for key in EXPR_KEYS}
    if rng is not None and jitter > 0:
        noise = rng.normal(0.0, jitter, len(EXPR_KEYS))
        for key, n in zip(EXPR_KEYS, noise, strict=True):
            params[key] += float(n)
    for key in ("teeth", "wrinkle", "folds"):
        params[key] = float(np.clip(params[key], 0.0, 1.0))
    return params
