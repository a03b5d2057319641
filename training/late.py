"""Late fusion's one free parameter: the face weight, chosen on validation data
(Guo, Polanía & Barner 2020).

``search_weight`` scores the averaged probabilities ``w * face + (1 - w) * speech`` for
``w`` = 0, 0.05, …, 1 on the validation split and keeps the most accurate (ties: higher
UAR, then the weight nearest 0.5). Because 0 and 1 are on the grid, the chosen weight is
never less accurate on validation than the better single model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from models.late import LateFusion

from .metrics import predict_proba

GRID = np.round(np.linspace(0.0, 1.0, 21), 2)


def best_weight(face: np.ndarray, speech: np.ndarray, y: np.ndarray) -> dict:
    """The grid weight whose averaged probabilities are most accurate on ``y``.

    ``face`` and ``speech`` are (N, C) probabilities over the same classes. Returns
    ``weight``, ``val_accuracy``, ``val_uar``, the single models' ``face_accuracy`` and
    ``speech_accuracy``, and the accuracy at every grid point (``grid``).
    """
    rows = []
    for w in GRID:
        pred = (w * face + (1 - w) * speech).argmax(1)
        acc = float(np.mean(pred == y))
        uar = float(balanced_accuracy_score(y, pred)) if len(y) else 0.0
        rows.append((acc, uar, -abs(w - 0.5), float(w)))
    acc, uar, _, weight = max(rows)
    return {
        "weight": weight,
        "val_accuracy": acc,
        "val_uar": uar,
        "face_accuracy": float(np.mean(face.argmax(1) == y)),
        "speech_accuracy": float(np.mean(speech.argmax(1) == y)),
        "grid": {f"{r[3]:.2f}": round(r[0], 4) for r in rows},
    }


def search_weight(model: LateFusion, val) -> dict:
    """``best_weight`` for a ``LateFusion``'s two members on the validation set ``val``."""
    face, _ = predict_proba(model.face, val)
    speech, _ = predict_proba(model.speech, val)
    return best_weight(face, speech, val.y.cpu().numpy())


def set_late_weight(model: LateFusion, weight: float) -> None:
    model.config = replace(model.config, weight=float(weight))
