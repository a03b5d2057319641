"""The demo's FER-2013 rows: per-class counts, the stratified Usage split, and each row's face."""

from __future__ import annotations

import math

import numpy as np

from datasets.demo.config import (
    DEFAULT_N_FACES,
    FACE_SIZE,
    FER_TRAIN_COUNTS,
    KIND_FACE,
    KIND_IDENTITY,
    KIND_ORDER,
    KIND_SPLIT,
    N_FACE_IDENTITIES,
    USAGE_FRACTIONS,
)
from datasets.demo.drawing import render_face
from datasets.demo.faces import FaceIdentity, expression_params, random_identity, random_view
from datasets.labels import FER_CLASSES


def face_class_counts(n_faces: int = DEFAULT_N_FACES) -> tuple[int, ...]:
    """Per-class image counts (FER order) for ``n_faces`` images, proportional to FER-2013 train.

    Largest-remainder rounding, so the counts sum to exactly ``n_faces``; every class keeps at
    least one image when ``n_faces >= 7``. No rendering happens here.
    """
    if n_faces < len(FER_CLASSES):
        raise ValueError(f"n_faces must be at least {len(FER_CLASSES)}, got {n_faces}")
    weights = np.asarray(FER_TRAIN_COUNTS, dtype=np.float64)
    exact = weights / weights.sum() * n_faces
    counts = np.maximum(np.floor(exact).astype(int), 1)
    # Hand the remaining images to the classes with the largest fractional parts.
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    i = 0
    while counts.sum() < n_faces:
        counts[order[i % len(order)]] += 1
        i += 1
    while counts.sum() > n_faces:  # only when the minimum of 1 pushed us over
        counts[int(np.argmax(counts))] -= 1
    return tuple(int(c) for c in counts)


def face_labels_and_usage(n_faces: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class index and Usage index (0 Training, 1 PublicTest, 2 PrivateTest) of every CSV row.

    Returns two int arrays of shape (n_faces,). The split is stratified per class (about
    80/10/10) and rows are shuffled so classes are interleaved as in the real file.
    """
    counts = face_class_counts(n_faces)
    labels = np.repeat(np.arange(len(counts)), counts)
    usage = np.zeros(n_faces, dtype=np.int64)
    start = 0
    for cls, count in enumerate(counts):
        rng = np.random.default_rng([seed, KIND_SPLIT, cls])
        n_public = int(round(count * USAGE_FRACTIONS[1]))
        n_private = int(round(count * USAGE_FRACTIONS[2]))
        split = np.zeros(count, dtype=np.int64)
        split[:n_public] = 1
        split[n_public : n_public + n_private] = 2
        usage[start : start + count] = rng.permutation(split)
        start += count
    order = np.random.default_rng([seed, KIND_ORDER]).permutation(n_faces)
    return labels[order], usage[order]


def _face_identity(seed: int, identity: int) -> FaceIdentity:
    return random_identity(np.random.default_rng([seed, KIND_IDENTITY, identity]))


def render_fer_face(seed: int, index: int, label: int) -> np.ndarray:
    """The CSV row ``index`` of class ``label`` (FER order): uint8 (48, 48).

    Identity is one of N_FACE_IDENTITIES; the expression intensity lies in [0.2, 1] so weak
    expressions look near-neutral; parameters get per-image jitter.
    """
    rng = np.random.default_rng([seed, KIND_FACE, index])
    ident = _face_identity(seed, int(rng.integers(N_FACE_IDENTITIES)))
    # Skewed towards strong (mean ~0.73): FER photos are mostly clear, some barely expressive.
    intensity = 0.2 + 0.8 * math.sqrt(float(rng.random()))
    expr = expression_params(FER_CLASSES[label], intensity, rng, jitter=0.08)
    img = render_face(ident, expr, random_view(rng), FACE_SIZE)
    img += rng.normal(0.0, rng.uniform(0.005, 0.03), img.shape).astype(np.float32)
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
