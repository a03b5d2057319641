"""Held-out evaluation: probabilities from a model, then scikit-learn's metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from torch import nn

from .data import Split, as_float, move
from .device import full_fp32


@torch.no_grad()
def predict_proba(
    model: nn.Module, data: Split, *, batch_size: int = 256, device: torch.device | None = None
) -> tuple[np.ndarray, float]:
    """Class probabilities (N, n_classes) for ``data`` and the mean cross-entropy loss.

    The model is put in eval mode (and left there). ``data`` may live on any device; each
    batch is moved to ``device`` (the model's own by default). Always in fp32, outside any
    autocast region and without TF32, even after mixed-precision training on a GPU: the
    validation scores that pick the best epoch, ``metrics.json`` and the late-fusion
    weight then agree with a later ``evaluate`` or ``export`` on the CPU.
    """
    device = device or next(model.parameters()).device
    model.eval()
    probs, loss_sum = [], 0.0
    with torch.autocast(device.type, enabled=False), full_fp32():
        for batch in data.batches(batch_size):
            x = as_float(move(batch["x"], device))
            y = batch["y"].to(device, non_blocking=True)
            logits = model(x).float()
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            probs.append(torch.softmax(logits, dim=1).cpu())
    return torch.cat(probs).numpy(), loss_sum / max(len(data), 1)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, UAR (balanced accuracy), macro F1, per-class precision/recall/F1/support and
    the confusion matrix (rows: true class, columns: predicted; counts and row-normalised).

    Classes absent from ``y_true`` are left out of UAR and macro F1 rather than counted as
    zero recall, so a small held-out split is not penalised for what it does not contain.
    """
    labels = np.arange(len(classes))
    present = np.unique(y_true)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(cm.sum(1, keepdims=True) > 0, cm / cm.sum(1, keepdims=True), 0.0)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": float(balanced_accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "per_class": {
            name: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i, name in enumerate(classes)
        },
        "confusion": cm.tolist(),
        "confusion_normalized": np.round(norm, 4).tolist(),
        "classes": list(classes),
        "n_items": int(len(y_true)),
    }


def evaluate_model(
    model: nn.Module,
    data: Split,
    classes: Sequence[str],
    *,
    batch_size: int = 256,
    device: torch.device | None = None,
) -> dict:
    """``classification_metrics`` of ``model`` on ``data``, plus its mean ``loss``."""
    probs, loss = predict_proba(model, data, batch_size=batch_size, device=device)
    metrics = classification_metrics(data.y.cpu().numpy(), probs.argmax(1), classes)
    metrics["loss"] = loss
    return metrics
