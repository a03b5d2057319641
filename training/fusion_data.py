"""Fusion pairs as sets ``fit`` can batch (the fusion task, ``training.tasks.fusion``,
reads them).

Both sources (audio-video takes and class-paired items) give batches ``{"x": {"faces":
(b, F, 1, 48, 48) uint8, "found": (b, F) bool, "features": (b, 1, n_bins, T)}, "y": (b,)}``;
a class-paired item has one frame (F = 1).
"""

from __future__ import annotations

import numpy as np
import torch

from datasets.paired import PAIRED_NOTE, ClassPaired

from .data import Split

PAIRINGS = ("takes", "class")
PAIRING_NOTES = {
    "takes": "audio-video takes: the same person at the same moment",
    "class": PAIRED_NOTE,
}


class PairedSet(Split):
    """Class-paired items: faces (Nf, 48, 48) uint8 and features (Ns, 1, n_bins, T) joined
    by a ``ClassPaired``'s pairs; batched like a ``TensorSet``, plus ``set_epoch``, which
    draws that epoch's training pairs (a fixed pairing ignores it)."""

    def __init__(
        self, faces: torch.Tensor, features: torch.Tensor, pairing: ClassPaired, epoch: int = 0
    ) -> None:
        self.faces, self.features, self.pairing = faces, features, pairing
        self.epoch = -1
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        if epoch == self.epoch:
            return
        dev = self.faces.device
        face_idx, speech_idx, labels = self.pairing.pairs(epoch)
        self.face_idx = torch.from_numpy(face_idx).to(dev)
        self.speech_idx = torch.from_numpy(speech_idx).to(dev)
        self.y = torch.from_numpy(labels).to(dev)
        self.epoch = epoch

    def to(self, device: torch.device) -> PairedSet:
        return PairedSet(
            self.faces.to(device), self.features.to(device), self.pairing, max(self.epoch, 0)
        )

    def item(self, idx: torch.Tensor | slice) -> dict[str, torch.Tensor]:
        """The model input of pairs ``idx``."""
        faces = self.faces[self.face_idx[idx]][:, None, None]  # (b, 1, 1, 48, 48)
        found = torch.ones(faces.shape[:2], dtype=torch.bool, device=faces.device)
        return {"faces": faces, "found": found, "features": self.features[self.speech_idx[idx]]}


def subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified ``fraction`` of the items (at least one per class)."""
    if fraction >= 1.0:
        return np.arange(len(labels))
    rng = np.random.default_rng([seed, 7919])
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.append(rng.choice(idx, size=max(1, round(len(idx) * fraction)), replace=False))
    return np.sort(np.concatenate(keep))


def halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified half/half split of a held-out set's indices."""
    first = subset(labels, 0.5, seed + 1)
    second = np.setdiff1d(np.arange(len(labels)), first)
    return first, second
