"""Score a trained model (run folder or .pt) on any data, through its task's loaders.

``evaluate_checkpoint(model, data, split="auto")`` reads ``data`` as the model's training
read its own (same actor split, same face hold-out, same features) and scores ``split``
of it. The result says whether the items were ``held_out`` from training: True, False, or
None when it cannot be known (``all`` of a FER-2013 set the model may have trained on).
A cross-validation ensemble is re-measured fold by fold (``--split cv``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.errors import WorkbenchError, describe
from datasets.ravdess import ActorSplit

from .checkpoint import load_checkpoint
from .metrics import classification_metrics, evaluate_model, predict_proba
from .tasks import EvalItems, task_for

EVAL_SPLITS = ("auto", "all", "train", "val", "test", "cv")


def evaluate_checkpoint(
    model_path: str | Path, data: str | Path | list | None, *, split: str = "auto"
) -> dict:
    """Score a trained model on ``split`` of ``data``.

    ``auto`` is the test split where the data has one, else validation; for RAVDESS
    folders holding none of the model's actors, every file (new speakers). ``all`` is
    every item; for a class-paired fusion model, every face and utterance paired by
    emotion, with the face-only and speech-only scores on the same pairs (``members``).
    """
    if split not in EVAL_SPLITS:
        raise WorkbenchError(f"Unknown split {split!r}; use all, train, val, test, cv or auto.")
    loaded = load_checkpoint(model_path)
    task = task_for(loaded.kind)
    folds = (loaded.payload.get("split") or {}).get("folds")
    if split == "cv" and not folds:
        raise WorkbenchError(
            f"{describe(loaded.path)} is not the models of a cross-validation averaged; "
            "--split cv applies to such models only."
        )
    paths = task.eval_paths(loaded, data)
    if folds and split in ("auto", "cv"):
        return _evaluate_folds(loaded, task, paths, folds)
    got = task.eval_items(loaded, paths, split)
    metrics = evaluate_model(loaded.model, got.items, loaded.classes)
    metrics.update(got.extra)
    metrics.update(
        {
            "split": got.split,
            "held_out": got.held_out,
            "kind": loaded.kind,
            "model": str(loaded.path),
            "data": " + ".join(str(p) for p in paths),
        }
    )
    return metrics


def fold_items(loaded, task, paths: list[Path], folds: list[dict]):
    """Each member of a cross-validation ensemble with the test actors of its own fold
    that ``paths`` holds and their items (``EvalItems``, identities included): what it
    never heard. Folds whose test actors are absent are left out."""
    reader = task.read(paths, task.saved_settings(loaded))
    for member, fold in zip(loaded.model.members, folds):
        test = tuple(a for a in fold["test"] if a in reader.present)
        if not test:
            continue
        reader.actor_split = ActorSplit((), (), test)
        items = reader.split("test")
        yield member, test, EvalItems("test", items, True, {}, reader.identities("test"))


def _evaluate_folds(loaded, task, paths: list[Path], folds: list[dict]) -> dict:
    """The cross-validation of an ensemble re-measured from the file itself: each member
    on the test actors of its own fold, which it never heard, pooled over the members."""
    true, pred, rows = [], [], []
    for member, test, got in fold_items(loaded, task, paths, folds):
        probs, _ = predict_proba(member, got.items)
        y, p = got.items.y.numpy(), probs.argmax(1)
        m = classification_metrics(y, p, loaded.classes)
        rows.append(
            {"test_actors": list(test), **{k: m[k] for k in ("accuracy", "uar", "n_items")}}
        )
        true.append(y)
        pred.append(p)
    if not rows:
        raise WorkbenchError(
            f"{describe(paths[0])} has none of the actors this model's cross-validation tested "
            "on; score it on other speakers with --split all."
        )
    metrics = classification_metrics(np.concatenate(true), np.concatenate(pred), loaded.classes)
    for key in ("accuracy", "uar"):  # mean and sample standard deviation over the folds
        values = np.array([r[key] for r in rows])
        metrics[f"{key}_mean"] = float(values.mean())
        metrics[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    metrics.update(
        {
            "split": "cv",
            "held_out": True,
            "folds": rows,
            "kind": loaded.kind,
            "model": str(loaded.path),
            "data": str(paths[0]),
        }
    )
    return metrics
