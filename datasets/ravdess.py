"""RAVDESS: scan a folder of ``MM-VV-EE-II-SS-RR-AA.(wav|flac|mp4)`` files; split by actor.

Every file becomes a frozen ``RavdessClip`` holding the seven name fields and its path.
Files whose names do not parse are listed with the reason rather than stopping the scan.
Splits are by actor, never by file, so a model is scored on voices it never heard; the one
exception, ``random_file_split``, exists to show what goes wrong otherwise (the leakage lesson).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import WorkbenchError, describe, require_readable
from .labels import (
    RAVDESS_CHANNELS,
    RAVDESS_EMOTIONS,
    RAVDESS_INTENSITIES,
    RAVDESS_MODALITIES,
    ravdess_name,
)

AUDIO_SUFFIXES = (".wav", ".flac")
# RAVDESS ships .mp4; a take a class records or converts may be any container OpenCV reads.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
SUFFIXES = AUDIO_SUFFIXES + VIDEO_SUFFIXES
DOWNLOAD_HINT = (
    "download RAVDESS (e.g. Audio_Speech_Actors_01-24.zip) from Zenodo, unpack it and "
    "point the workbench at the folder holding the Actor_XX folders"
)


@dataclass(frozen=True)
class RavdessClip:
    """One RAVDESS file and the seven codes in its name."""

    modality: int  # 1 audio-video, 2 video-only, 3 audio-only
    channel: int  # 1 speech, 2 song
    emotion: int  # 1..8, see RAVDESS_EMOTIONS
    intensity: int  # 1 normal, 2 strong
    statement: int  # 1 "Kids are talking…", 2 "Dogs are sitting…"
    repetition: int  # 1 or 2 in RAVDESS; up to 99 for a class's own recordings (recorder)
    actor: int  # 1..24; odd male, even female
    path: Path

    @property
    def emotion_name(self) -> str:
        return RAVDESS_EMOTIONS[self.emotion - 1]

    @property
    def label(self) -> int:
        """Class index 0..7 into ``RAVDESS_EMOTIONS``."""
        return self.emotion - 1

    @property
    def modality_name(self) -> str:
        return RAVDESS_MODALITIES[self.modality]

    @property
    def channel_name(self) -> str:
        return RAVDESS_CHANNELS[self.channel]

    @property
    def gender(self) -> str:
        return "male" if self.actor % 2 else "female"

    @property
    def take(self) -> tuple[int, ...]:
        """The fields shared by the audio-only, video-only and AV files of one take."""
        return (
            self.channel,
            self.emotion,
            self.intensity,
            self.statement,
            self.repetition,
            self.actor,
        )

    def sibling_name(self, modality: int, ext: str) -> str:
        """File name of the same take in another modality (e.g. the ``03-`` audio of a clip)."""
        return ravdess_name(modality, *self.take, ext=ext)


def parse_name(path: str | Path) -> RavdessClip:
    """Parse a RAVDESS file name; ``ValueError`` says what is wrong with it."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(
            f"extension {path.suffix or '(none)'} is not .wav, .flac or a video ({', '.join(VIDEO_SUFFIXES)})"
        )
    parts = path.stem.split("-")
    if len(parts) != 7 or not all(len(p) == 2 and p.isdigit() for p in parts):
        raise ValueError("name is not seven 2-digit fields like 03-01-05-02-01-01-12")
    m, v, e, i, s, r, a = (int(p) for p in parts)
    checks = (
        (m in RAVDESS_MODALITIES, f"modality {m:02d} is not 01-03"),
        (v in RAVDESS_CHANNELS, f"vocal channel {v:02d} is not 01 or 02"),
        (1 <= e <= len(RAVDESS_EMOTIONS), f"emotion {e:02d} is not 01-08"),
        (i in RAVDESS_INTENSITIES, f"intensity {i:02d} is not 01 or 02"),
        (s in (1, 2), f"statement {s:02d} is not 01 or 02"),
        (r >= 1, f"repetition {r:02d} is not 01 or above"),
        (a >= 1, f"actor {a:02d} is not 01 or above"),
    )
    for ok, why in checks:
        if not ok:
            raise ValueError(why)
    return RavdessClip(m, v, e, i, s, r, a, path)


@dataclass
class RavdessScan:
    """What a folder holds: the parsed clips and the files that were skipped."""

    root: Path
    clips: list[RavdessClip]
    skipped: list[dict[str, str]] = field(default_factory=list)  # [{path, reason}]


def scan_ravdess(root: str | Path) -> RavdessScan:
    """Find every RAVDESS-named file under ``root``, recursively, in sorted order."""
    root = require_readable(Path(root).expanduser())
    if not root.exists():
        raise WorkbenchError(f"RAVDESS folder {describe(root)} does not exist; {DOWNLOAD_HINT}.")
    if not root.is_dir():
        raise WorkbenchError(f"{describe(root)} is a file, not a folder; {DOWNLOAD_HINT}.")
    clips: list[RavdessClip] = []
    skipped: list[dict[str, str]] = []

    def unreadable(err: OSError) -> None:
        # A folder we cannot enter must not silently drop an actor.
        where = os.path.relpath(err.filename, root) if err.filename else str(root)
        skipped.append({"path": where, "reason": f"folder cannot be read ({err.strerror})"})

    seen: set[str] = set()  # real paths visited, so symlinked folders count once, loops never
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(SUFFIXES):
                continue  # README, .DS_Store and the like are not data
            p = Path(dirpath) / name
            if not os.access(p, os.R_OK):  # listed here as training lists it: never silently
                skipped.append({"path": os.path.relpath(p, root), "reason": "permission denied"})
                continue
            try:
                clips.append(parse_name(p))
            except ValueError as exc:
                skipped.append({"path": os.path.relpath(p, root), "reason": str(exc)})
    if not clips:
        raise WorkbenchError(
            f"No RAVDESS files (named like 03-01-05-02-01-01-12.wav) under {describe(root)}; "
            f"{DOWNLOAD_HINT}."
        )
    return RavdessScan(root, clips, skipped)


def select(
    clips: Iterable[RavdessClip],
    *,
    modality: int | Sequence[int] | None = None,
    channel: int | None = None,
    actors: Iterable[int] | None = None,
    emotions: Iterable[int] | None = None,
) -> list[RavdessClip]:
    """Filter clips, e.g. ``select(c, modality=3, channel=1)`` for audio-only speech."""
    mods = {modality} if isinstance(modality, int) else set(modality) if modality else None
    acts = set(actors) if actors is not None else None
    emos = set(emotions) if emotions is not None else None
    return [
        c
        for c in clips
        if (mods is None or c.modality in mods)
        and (channel is None or c.channel == channel)
        and (acts is None or c.actor in acts)
        and (emos is None or c.emotion in emos)
    ]


def speech_audio(clips: Iterable[RavdessClip]) -> list[RavdessClip]:
    """Audio-only speech files (``03-01-…``), the input of the speech model."""
    return [
        c
        for c in clips
        if c.modality == 3 and c.channel == 1 and c.path.suffix.lower() in AUDIO_SUFFIXES
    ]


# -------------------------------------------------------------- actor splits


@dataclass(frozen=True)
class ActorSplit:
    """Which actors train, select models (val) and score them (test). Disjoint by design."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]

    def __post_init__(self) -> None:
        a, b, c = set(self.train), set(self.val), set(self.test)
        if a & b or a & c or b & c:
            raise WorkbenchError(
                "An actor appears in two of train/val/test; give each actor to one split only."
            )

    def actors(self, split: str) -> tuple[int, ...]:
        if split == "all":
            return tuple(sorted(self.train + self.val + self.test))
        if split not in ("train", "val", "test"):
            raise WorkbenchError(f"Unknown split {split!r}; use train, val, test or all.")
        return getattr(self, split)

    def to_dict(self) -> dict[str, list[int]]:
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}

    @classmethod
    def from_dict(cls, d: dict[str, list[int]]) -> ActorSplit:
        """The split saved by ``to_dict`` (in config.json and checkpoints)."""
        return cls(tuple(d["train"]), tuple(d["val"]), tuple(d["test"]))


def default_actor_split(actors: Iterable[int], *, share: float = 0.15) -> ActorSplit:
    """The fixed default: the highest-numbered ~15% of actors test, the next ~15% validate.

    Deterministic, so every run on the same folder uses the same actors; consecutive
    numbers mix men (odd) and women (even). 24 actors → test 21-24, val 17-20;
    18 actors → test 16-18, val 13-15; 12 → test 11-12, val 9-10.
    """
    ids = sorted(set(actors))
    if len(ids) < 3:
        raise WorkbenchError(
            f"Only {len(ids)} actor(s) found; an actor-wise train/val/test split needs at least 3."
        )
    n = max(1, round(len(ids) * share))
    return ActorSplit(tuple(ids[: -2 * n]), tuple(ids[-2 * n : -n]), tuple(ids[-n:]))


def actor_kfold(actors: Iterable[int], k: int) -> list[ActorSplit]:
    """``k`` folds by actor: each fold tests on its own actors and validates on the next fold's."""
    ids = sorted(set(actors))
    if not 2 <= k <= len(ids):
        raise WorkbenchError(f"k-fold needs 2 <= k <= {len(ids)} actors, got k={k}.")
    folds = [tuple(ids[i::k]) for i in range(k)]
    splits = []
    for i in range(k):
        test, val = folds[i], folds[(i + 1) % k] if k > 2 else ()
        train = tuple(a for a in ids if a not in test and a not in val)
        splits.append(ActorSplit(train, val, test))
    return splits


def random_file_split(
    clips: Sequence[RavdessClip], n_val: int, n_test: int, *, seed: int = 0
) -> dict[str, list[RavdessClip]]:
    """``clips`` split at random by file, stratified by emotion: ``n_test`` test and
    ``n_val`` validation files, the rest train. **Never a default**: every actor lands on
    every side, so a model is scored on voices it trained on (the leakage lesson).

    Each emotion's files are shuffled and spread evenly over [0, 1); taking the lowest
    keys gives every split about the emotions' own shares. Deterministic for a ``seed``.
    """
    rng = np.random.default_rng(seed)
    labels = np.array([c.emotion for c in clips])
    keys = np.empty(len(clips))
    for emotion in np.unique(labels):
        pos = np.flatnonzero(labels == emotion)
        keys[pos] = (rng.permutation(len(pos)) + rng.random()) / len(pos)
    order = [clips[i] for i in np.argsort(keys, kind="stable")]
    return {
        "test": order[:n_test],
        "val": order[n_test : n_test + n_val],
        "train": order[n_test + n_val :],
    }


def leave_one_actor_out(actors: Iterable[int]) -> list[ActorSplit]:
    """One split per actor: that actor is the test set, the rest train (Ristea, Duțu & Radoi's protocol)."""
    ids = sorted(set(actors))
    return [ActorSplit(tuple(a for a in ids if a != t), (), (t,)) for t in ids]


def actor_ranges(ids: list[int]) -> str:
    """Actor numbers as ranges: [1, 2, 3, 5, 7, 8] -> '1-3, 5, 7-8'."""
    ids, out = sorted(ids), []
    start = prev = ids[0]
    for a in ids[1:] + [None]:
        if a is not None and a == prev + 1:
            prev = a
            continue
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
        if a is not None:
            start = prev = a
    return ", ".join(out)
