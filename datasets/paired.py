"""Class-paired fusion data (Goswami, Aggarwal & Yalamanchi): a FER-2013 face and a RAVDESS utterance that show
the same emotion — paired by emotion, not the same person.

The two data sets share seven emotions; RAVDESS's "calm" has no FER-2013 counterpart and
is dropped by default (or merged into neutral). In every pairing each item of the larger
side appears once and the smaller side is drawn at random within the same emotion, so no
face or utterance is wasted. Training pairs are redrawn every epoch; validation and test
pairs are fixed by the seed. Speech stays split by actor, faces by the FER-2013 split.

How many pairs an emotion gets is the ``per_class`` choice: ``"larger"`` (the default,
used for validation and test) uses every item of the larger side once; ``"smaller"`` (the
training default) uses every item of the smaller side once and draws as many items of the
larger side without replacement, fresh each epoch — short, class-balanced epochs that still
reach every face over the run.
"""

from __future__ import annotations

import numpy as np

from .errors import WorkbenchError
from .labels import FER_CLASSES, RAVDESS_EMOTIONS, RAVDESS_TO_FER

PAIRED_NOTE = "paired by emotion, not the same person"
PAIRED_CLASSES: tuple[str, ...] = FER_CLASSES  # the seven shared emotions, FER-2013 names
CALM_CHOICES = ("drop", "neutral")
PER_CLASS_CHOICES = ("larger", "smaller")


def speech_to_paired(labels: np.ndarray, calm: str = "drop") -> np.ndarray:
    """RAVDESS class indices (N,) → ``PAIRED_CLASSES`` indices, -1 where dropped (calm)."""
    if calm not in CALM_CHOICES:
        raise WorkbenchError(f"Unknown calm option {calm!r}; use drop or neutral.")
    table = np.full(len(RAVDESS_EMOTIONS), -1, np.int64)
    for r, name in enumerate(RAVDESS_EMOTIONS):
        fer = RAVDESS_TO_FER[name]  # None for calm, which has no FER-2013 counterpart
        if fer is None and calm == "neutral":
            fer = "neutral"
        if fer is not None:
            table[r] = PAIRED_CLASSES.index(fer)
    return table[np.asarray(labels, np.int64)]


def _draw(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    """``n`` items of ``pool`` in random order: without replacement when the pool is large
    enough, else whole shuffled passes over the pool, so every item is used."""
    if len(pool) >= n:
        return rng.choice(pool, size=n, replace=False)
    passes = -(-n // len(pool))
    return np.concatenate([rng.permutation(pool) for _ in range(passes)])[:n]


class ClassPaired:
    """Pairs of (face index, utterance index) with a shared emotion, for one split.

    ``face_labels`` are FER-2013 class indices, ``speech_labels`` RAVDESS ones. Emotions
    present on one side only cannot be paired and are left out (``missing`` names them).
    ``fixed=True`` (validation, test) gives the same pairs on every call; otherwise
    ``pairs(epoch)`` draws new ones each epoch, reproducibly from ``seed``.
    """

    note = PAIRED_NOTE
    classes = PAIRED_CLASSES

    def __init__(
        self,
        face_labels: np.ndarray,
        speech_labels: np.ndarray,
        *,
        calm: str = "drop",
        seed: int = 0,
        fixed: bool = False,
        per_class: str = "larger",
    ) -> None:
        if per_class not in PER_CLASS_CHOICES:
            raise WorkbenchError(f"Unknown per_class {per_class!r}; use larger or smaller.")
        self.per_class = per_class
        self.face_labels = np.asarray(face_labels, np.int64)
        self.speech_paired = speech_to_paired(speech_labels, calm)
        self.seed, self.fixed, self.calm = seed, fixed, calm
        self.by_class: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.missing: list[str] = []
        for c, name in enumerate(PAIRED_CLASSES):
            faces = np.flatnonzero(self.face_labels == c)
            speech = np.flatnonzero(self.speech_paired == c)
            if len(faces) and len(speech):
                self.by_class[c] = (faces, speech)
            elif len(faces) or len(speech):
                self.missing.append(name)
        if not self.by_class:
            raise WorkbenchError(
                "The faces and the recordings share no emotion, so nothing can be paired; "
                "check that both data sets hold labelled emotions."
            )

    def _count(self, faces: np.ndarray, speech: np.ndarray) -> int:
        return (max if self.per_class == "larger" else min)(len(faces), len(speech))

    def __len__(self) -> int:
        return sum(self._count(f, s) for f, s in self.by_class.values())

    def pairs(self, epoch: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(face_idx, speech_idx, label) arrays of length ``len(self)``, in class order.

        Within each emotion a side with exactly the pairs' number of items appears once in
        a shuffled order, a larger one is drawn without replacement and a smaller one is
        cycled through (every item once before any repeats).
        """
        rng = np.random.default_rng([self.seed, 0 if self.fixed else epoch])
        face_idx, speech_idx, labels = [], [], []
        for c, (faces, speech) in self.by_class.items():
            n = self._count(faces, speech)
            for side, pool in ((face_idx, faces), (speech_idx, speech)):
                side.append(_draw(rng, pool, n))
            labels.append(np.full(n, c, np.int64))
        return np.concatenate(face_idx), np.concatenate(speech_idx), np.concatenate(labels)

    def class_counts(self) -> dict[str, int]:
        return {PAIRED_CLASSES[c]: self._count(f, s) for c, (f, s) in self.by_class.items()}
