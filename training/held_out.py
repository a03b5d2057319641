"""A model's held-out items one by one: who each is, its true and predicted emotion, its
probabilities and its embedding (the input of the model's last layer).

``held_out_items(model, data)`` reads ``data`` exactly as ``evaluate`` does (the task's
``eval_items``: same actors, same face hold-out, same features; a cross-validation
ensemble's members each on their own fold's test actors), so its items are the ones the
Results tab's confusion matrix counts, and ``cell(true, predicted)`` is one cell's items.
The confusion-cell gallery and the embedding map are drawn from it.

``model`` is a run folder, a ``.pt`` checkpoint (a starter model's too) or a ``Run``;
without ``data``, the folders the model was trained on, where they still are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from datasets.errors import WorkbenchError, describe
from models.fusion import FusionNet
from models.layers import Classifier

from .checkpoint import load_checkpoint
from .data import batch_bounds
from .evaluate import fold_items
from .fusion_data import PairedSet
from .metrics import predict_proba
from .records import Run
from .tasks import EvalItems, task_for

BATCH = 256  # items per forward pass (predict_proba's batches)


@dataclass
class HeldOut:
    """The held-out items of one model on one data folder, in ``evaluate``'s order.

    ``ids`` names each item (see ``DataReader.identities``); ``faces`` (N, 48, 48) uint8
    and ``spectrograms`` (N, n_bins, T) float16 are the inputs to show (None where the
    kind has none); ``embeddings`` is None for a model without one last layer (late
    fusion). ``member`` is each item's cross-validation fold (all 0 for one model)."""

    kind: str
    classes: tuple[str, ...]
    split: str
    model: Path
    data: list[Path]
    ids: list[dict]
    true: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray
    embeddings: np.ndarray | None
    member: np.ndarray
    faces: np.ndarray | None
    spectrograms: np.ndarray | None

    def __len__(self) -> int:
        return len(self.true)

    def cell(self, true: str, predicted: str) -> np.ndarray:
        """Indices of the items that are ``true`` and were called ``predicted``."""
        t, p = self.class_index(true), self.class_index(predicted)
        return np.flatnonzero((self.true == t) & (self.predicted == p))

    def class_index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise WorkbenchError(
                f"{describe(self.model)} does not answer {name!r}; use one of "
                f"{', '.join(self.classes)}."
            ) from None

    def actors(self) -> np.ndarray | None:
        """Each item's RAVDESS actor (speech, takes or a pair's utterance); None for faces."""
        found = [(i.get("speech") or i).get("actor") for i in self.ids]
        return None if not found or None in found else np.array(found)

    def confusion(self) -> np.ndarray:
        """The confusion matrix of these items (rows true, columns predicted)."""
        n = len(self.classes)
        return np.bincount(self.true * n + self.predicted, minlength=n * n).reshape(n, n)

    def item_row(self, i: int) -> dict:
        """Item ``i`` for ``--json``: identity, true, predicted and probabilities."""
        return {
            **self.ids[i],
            "true": self.classes[self.true[i]],
            "predicted": self.classes[self.predicted[i]],
            "probabilities": {
                c: round(float(p), 4) for c, p in zip(self.classes, self.probabilities[i])
            },
        }


def last_layer(model: nn.Module) -> nn.Module | None:
    """The layer that turns the embedding into the emotions' logits; None when the model
    has no single one (late fusion averages two models' answers)."""
    if isinstance(model, Classifier):
        return model.head[-1]
    if isinstance(model, FusionNet):
        return model.classifier[-1]
    return None


def predict_with_embeddings(model: nn.Module, items) -> tuple[np.ndarray, np.ndarray | None]:
    """``predict_proba``'s probabilities of ``items`` and each item's embedding, caught
    by a forward hook on ``last_layer``. A face model that averages test views sees
    each face several times: its embedding is the mean over the views."""
    layer = last_layer(model)
    caught: list[torch.Tensor] = []
    hook = None
    if layer is not None:
        hook = layer.register_forward_hook(lambda _m, inputs, _out: caught.append(inputs[0]))
    try:
        probs, _ = predict_proba(model, items, batch_size=BATCH)
    finally:
        if hook is not None:
            hook.remove()
    if layer is None:
        return probs, None
    bounds = batch_bounds(len(items), BATCH)
    parts = []
    for got, start, end in zip(caught, bounds, bounds[1:]):
        got = got.float().cpu()
        parts.append(got.view(-1, end - start, got.shape[-1]).mean(0))
    return probs, torch.cat(parts).numpy()


def held_out_items(model: str | Path | Run, data=None) -> HeldOut:
    """The held-out items of ``model`` on ``data`` with their predictions and embeddings."""
    path = model.model if isinstance(model, Run) else model
    loaded = load_checkpoint(path)
    task = task_for(loaded.kind)
    saved = loaded.payload.get("split") or {}
    if data is None and loaded.kind != "fusion":  # fusion's eval_paths knows its folders
        data = saved.get("path")
        if data is None or not Path(data).exists():
            raise WorkbenchError(
                f"{describe(loaded.path)} was trained on data that is not here; pass --data "
                "with the folder to rebuild its held-out items from."
            )
    paths = task.eval_paths(loaded, data)
    folds = saved.get("folds")
    if folds:
        parts = [(m, got) for m, _test, got in fold_items(loaded, task, paths, folds)]
        if not parts:
            raise WorkbenchError(
                f"{describe(paths[0])} has none of the actors this model's cross-validation "
                "tested on; pass the folder of the actors it was trained on."
            )
    else:
        parts = [(loaded.model, task.eval_items(loaded, paths, "auto"))]
    rows = [_predict(k, member, got) for k, (member, got) in enumerate(parts)]

    def joined(key: str):
        values = [r[key] for r in rows]
        return None if values[0] is None else np.concatenate(values)

    return HeldOut(
        kind=loaded.kind,
        classes=loaded.classes,
        split="cv" if folds else parts[0][1].split,
        model=loaded.path,
        data=paths,
        ids=[i for r in rows for i in r["ids"]],
        true=joined("true"),
        predicted=joined("probabilities").argmax(1),
        probabilities=joined("probabilities"),
        embeddings=joined("embeddings"),
        member=joined("member"),
        faces=joined("faces"),
        spectrograms=joined("spectrograms"),
    )


def _predict(k: int, member: nn.Module, got: EvalItems) -> dict:
    items = got.items
    probs, embeddings = predict_with_embeddings(member, items)
    faces, spectrograms = _inputs(items)
    return {
        "ids": got.ids,
        "true": items.y.cpu().numpy(),
        "probabilities": probs,
        "embeddings": embeddings,
        "member": np.full(len(items), k),
        "faces": faces,
        "spectrograms": spectrograms,
    }


def _inputs(items) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The faces (N, 48, 48) and spectrograms (N, n_bins, T) of each item, as shown."""
    if isinstance(items, PairedSet):
        faces = items.faces[items.face_idx].cpu().numpy()
        return faces, items.features[items.speech_idx][:, 0].cpu().numpy().astype(np.float16)
    x = items.x
    if isinstance(x, dict):  # audio-video takes: the middle frame with a face
        found = x["found"].cpu().numpy()
        frames = x["faces"].cpu().numpy().reshape(*found.shape, 48, 48)
        distance = np.abs(np.arange(found.shape[1]) - found.shape[1] // 2)
        middle = np.argmax(np.where(found, -distance, -np.inf), 1)  # the first if none
        faces = frames[np.arange(len(found)), middle]
        return faces, x["features"][:, 0].cpu().numpy().astype(np.float16)
    x = x.cpu().numpy()
    if x.dtype == np.uint8:
        return x.reshape(len(x), 48, 48), None
    return None, x[:, 0].astype(np.float16)
