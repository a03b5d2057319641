"""The records that cross layers as typed objects: a finished run, a prediction for one
file, and a video's face, speech and fused parts. ``to_dict`` gives a prediction's JSON
(``predict --json``); a run's ``config`` and ``metrics`` are its config.json and
metrics.json as written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the records load without numpy or torch
    import numpy as np

    from datasets.audio import FeatureParams


@dataclass
class Run:
    """A finished run (``runs.load_run``), or a starter model shown as one
    (``runs.load_starter``, with ``starter`` True)."""

    name: str
    dir: Path
    model: Path  # the checkpoint its predictions use: best.pt, or the starter file
    kind: str
    config: dict  # config.json
    history: list[dict]  # history.csv, one row per epoch
    metrics: dict  # metrics.json: the held-out scores
    starter: bool = False

    @property
    def data(self) -> dict:
        """Where its data came from and how it was split (config.json's ``data``)."""
        return self.config.get("data", {})


@dataclass
class FacePart:
    """A video's face answer: the face model's mean over the frames with a face."""

    model: str
    trained_on: str
    mean: dict[str, float]
    frames_with_face: int
    frames_sampled: int


@dataclass
class SpeechPart:
    """A video's speech answer: the speech model on the take's sound."""

    model: str
    trained_on: str
    probabilities: dict[str, float]
    top: str
    audio_from: str  # the file the sound came from
    seconds: float
    windows: int


@dataclass
class FusedPart:
    """A video's fused answer: a fusion model's (``model``), or the plain average of the
    face and speech answers when there is none (``model`` None)."""

    model: str | None
    trained_on: str
    method: str  # how the two were combined, in words
    note: str  # what the pairs were, e.g. "paired by emotion, not the same person"
    probabilities: dict[str, float]
    top: str


@dataclass
class Prediction:
    """Probabilities per emotion for one file, and what the GUI shows next to them; a
    video's also carries its ``face``, ``speech`` and ``fused`` parts."""

    kind: str  # "image", "audio" or "video"
    file: str
    model: str
    probabilities: dict[str, float]
    trained_on: str = ""  # the model's training data, e.g. "built-in synthetic demo data"
    warnings: list[str] = field(default_factory=list)  # one sentence each; may be empty
    # Kinds of the models that learned from demo data although the file is not demo data.
    demo_models: tuple[str, ...] = ()
    # The starter models' answer to the same file (see ``training.second_opinion``), or None.
    starter: Prediction | None = field(default=None, repr=False)
    details: dict = field(default_factory=dict)  # JSON-safe extras: box, windows, seconds…
    arrays: dict[str, np.ndarray | list[np.ndarray]] = field(default_factory=dict, repr=False)
    feature_params: FeatureParams | None = field(default=None, repr=False)  # of "features"
    face: FacePart | None = None  # video only
    speech: SpeechPart | None = None  # video only
    fused: FusedPart | None = None  # video only

    @property
    def top(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "file": self.file,
            "model": self.model,
            "trained_on": self.trained_on,
            "top": self.top,
            "probabilities": self.probabilities,
            "warnings": list(self.warnings),
            **self.details,
            **{
                name: asdict(part)
                for name, part in (
                    ("fused", self.fused),
                    ("face", self.face),
                    ("speech", self.speech),
                )
                if part is not None
            },
        }
