"""Fusion training data from either source, as sets ``fit`` can batch.

- ``takes``: RAVDESS speech video clips with the sound of the same take (``AVTakes``) —
  the same person at the same moment; the eight RAVDESS emotions; split by actor.
- ``class``: a FER-2013 face and a RAVDESS utterance with the same emotion (``ClassPaired``)
  — paired by emotion, not the same person; the seven shared emotions; faces split as
  FER-2013 is, speech by actor. Training pairs are redrawn every epoch (``PairedSet``).

Both give batches ``{"x": {"faces": (b, F, 1, 48, 48) uint8, "found": (b, F) bool,
"features": (b, 1, n_bins, T)}, "y": (b,)}``; a class-paired item has one frame (F = 1).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from datasets import sources
from datasets.audio import FeatureParams
from datasets.av import AVTakes
from datasets.errors import WorkbenchError, describe
from datasets.labels import RAVDESS_EMOTIONS
from datasets.paired import PAIRED_CLASSES, PAIRED_NOTE, ClassPaired
from datasets.ravdess import ActorSplit, scan_ravdess

from .data import Split, TaskData, TensorSet, load_face_data, load_speech_data

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


def resolve_fusion_paths(pairing: str, data: str | list[str] | None) -> tuple[list[Path], bool]:
    """The folders a fusion run reads and whether they are the demo data.

    ``takes`` needs one RAVDESS folder with video clips; ``class`` a FER-2013 folder (or
    CSV) and a RAVDESS speech folder, in that order (swapped ones are put right). ``None``
    means the user's ``data/`` folders where present, else the demo; ``"demo"`` the demo; a
    single folder holding ``fer2013/`` and ``ravdess/`` (a demo or ``data/`` root) gives both.
    """
    if pairing not in PAIRINGS:
        raise WorkbenchError(f"Unknown pairing {pairing!r}; use takes or class.")
    items = [data] if isinstance(data, str | Path) else list(data or [])
    if not items or items == ["demo"]:
        src = sources.demo_sources() if items == ["demo"] else sources.default_sources()
        is_demo = (
            items == ["demo"] or src.ravdess_is_demo and (pairing == "takes" or src.fer_is_demo)
        )
        if is_demo:
            sources.ensure_demo()
            src = sources.demo_sources()
        fer, ravdess = Path(src.fer), Path(src.ravdess)
        paths = [ravdess] if pairing == "takes" else [fer, ravdess]
        return [p.resolve() for p in paths], is_demo
    paths = [Path(p).expanduser() for p in items]
    for p in paths:
        if not p.exists():
            raise WorkbenchError(
                f"{describe(p)} does not exist; pass existing data folders, or --data demo "
                "for the built-in demo data."
            )
    if len(paths) == 1 and (paths[0] / "ravdess").is_dir():
        root = paths[0]
        paths = [root / "ravdess"] if pairing == "takes" else [root / "fer2013", root / "ravdess"]
    wanted = 1 if pairing == "takes" else 2
    if len(paths) != wanted:
        need = (
            "one RAVDESS folder with video clips"
            if pairing == "takes"
            else "a FER-2013 folder and a RAVDESS speech folder"
        )
        given = f"{len(paths)} path was" if len(paths) == 1 else f"{len(paths)} paths were"
        raise WorkbenchError(
            f"Fusion with --pairing {pairing} reads {need}, but {given} given; "
            "pass exactly those after --data."
        )
    if pairing == "class" and _looks_like_ravdess(paths[0]) and not _looks_like_ravdess(paths[1]):
        paths.reverse()
    from datasets.demo import read_marker

    is_demo = all(read_marker(p.parent) is not None or read_marker(p) is not None for p in paths)
    return [p.resolve() for p in paths], is_demo


def _looks_like_ravdess(path: Path) -> bool:
    return path.is_dir() and any(path.glob("Actor_*"))


def _subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified ``fraction`` of the items (at least one per class)."""
    if fraction >= 1.0:
        return np.arange(len(labels))
    rng = np.random.default_rng([seed, 7919])
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        keep.append(rng.choice(idx, size=max(1, round(len(idx) * fraction)), replace=False))
    return np.sort(np.concatenate(keep))


def _halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified half/half split of a held-out set's indices."""
    first = _subset(labels, 0.5, seed + 1)
    second = np.setdiff1d(np.arange(len(labels)), first)
    return first, second


def load_takes_data(
    path: Path,
    *,
    n_frames: int = 8,
    params: FeatureParams = FeatureParams(),
    actor_split: ActorSplit | None = None,
    fraction: float = 1.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TaskData:
    scan = scan_ravdess(path)
    split: dict[str, AVTakes] = {}
    for name in ("train", "val", "test"):
        split[name] = AVTakes(
            path,
            name,
            n_frames=n_frames,
            params=params,
            actor_split=actor_split,
            scan=scan,
            progress=progress,
        )
        actor_split = split[name].actor_split
    sets: dict[str, TensorSet | None] = {}
    for name, takes in split.items():
        idx = np.arange(len(takes))
        if name == "train":
            idx = _subset(takes.labels.numpy(), fraction, seed)
        x = {"faces": takes.faces[idx], "found": takes.found[idx], "features": takes.features[idx]}
        sets[name] = TensorSet(x, takes.labels[idx]) if len(idx) else None
    if sets["train"] is None or sets["val"] is None:
        raise WorkbenchError(
            f"{describe(path)} has no usable clips for the training or validation actors; "
            "check the folder holds RAVDESS video clips of at least 3 actors."
        )
    skipped = [s for t in split.values() for s in t.skipped]
    return TaskData(
        kind="fusion",
        classes=RAVDESS_EMOTIONS,
        train=sets["train"],
        val=sets["val"],
        test=sets["test"],
        preprocessing={
            "input": "av",
            "pairing": "takes",
            "n_frames": n_frames,
            "features": params.to_dict(),
        },
        source={
            "path": [str(path)],
            "pairing": "takes",
            "note": PAIRING_NOTES["takes"],
            "actors": actor_split.to_dict(),
            "train_fraction": fraction,
            "skipped": len(skipped),
        },
    )


def load_class_paired_data(
    fer_path: Path,
    ravdess_path: Path,
    *,
    params: FeatureParams = FeatureParams(),
    actor_split: ActorSplit | None = None,
    calm: str = "drop",
    fraction: float = 1.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TaskData:
    faces = load_face_data(fer_path, seed=seed, progress=progress)
    speech = load_speech_data(ravdess_path, params=params, actor_split=actor_split)
    face_sets = {"train": faces.train, "val": faces.val, "test": faces.test}
    face_test = "PrivateTest"
    if faces.test is None:
        # No test split in the face data: its validation images are halved, one half to
        # choose epochs and weights, the other scored once at the end.
        first, second = _halves(faces.val.y.numpy(), seed)
        face_sets["val"] = TensorSet(faces.val.x[first], faces.val.y[first])
        face_sets["test"] = TensorSet(faces.val.x[second], faces.val.y[second])
        face_test = f"half of the face validation images ({faces.source['validation']})"
    sets: dict[str, PairedSet | None] = {}
    counts: dict[str, dict] = {}
    for name in ("train", "val", "test"):
        f_set, s_set = face_sets[name], getattr(speech, name)
        if f_set is None or s_set is None:
            sets[name] = None
            continue
        f_idx = np.arange(len(f_set))
        s_idx = np.arange(len(s_set))
        if name == "train":
            f_idx = _subset(f_set.y.numpy(), fraction, seed)
            s_idx = _subset(s_set.y.numpy(), fraction, seed)
        pairing = ClassPaired(
            f_set.y[f_idx].numpy(),
            s_set.y[s_idx].numpy(),
            calm=calm,
            seed=seed + {"train": 0, "val": 1, "test": 2}[name],
            fixed=name != "train",
            per_class="smaller" if name == "train" else "larger",
        )
        sets[name] = PairedSet(f_set.x[f_idx], s_set.x[s_idx], pairing)
        counts[name] = {"pairs": len(pairing), "faces": len(f_idx), "utterances": len(s_idx)}
    assert sets["train"] is not None and sets["val"] is not None
    return TaskData(
        kind="fusion",
        classes=PAIRED_CLASSES,
        train=sets["train"],
        val=sets["val"],
        test=sets["test"],
        preprocessing={
            "input": "av",
            "pairing": "class",
            "n_frames": 1,
            "features": params.to_dict(),
            "calm": calm,
        },
        source={
            "path": [str(fer_path), str(ravdess_path)],
            "pairing": "class",
            "note": PAIRED_NOTE,
            "faces": {k: faces.source[k] for k in ("path", "validation", "seed")},
            "face_test": face_test,
            "actors": speech.source["actors"],
            "calm": calm,
            "train_fraction": fraction,
            "counts": counts,
        },
    )


def load_fusion_data(
    pairing: str,
    paths: list[Path],
    *,
    n_frames: int = 8,
    params: FeatureParams = FeatureParams(),
    actor_split: ActorSplit | None = None,
    calm: str = "drop",
    fraction: float = 1.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TaskData:
    """Train/val/test fusion data of ``pairing`` ("takes" or "class") from ``paths``
    (``resolve_fusion_paths``); ``fraction`` keeps that stratified share of the training
    items (the data-efficiency experiment)."""
    if not 0 < fraction <= 1:
        raise WorkbenchError(f"The training fraction must lie in (0, 1], got {fraction}.")
    if pairing == "takes":
        return load_takes_data(
            paths[0],
            n_frames=n_frames,
            params=params,
            actor_split=actor_split,
            fraction=fraction,
            seed=seed,
            progress=progress,
        )
    return load_class_paired_data(
        paths[0],
        paths[1],
        params=params,
        actor_split=actor_split,
        calm=calm,
        fraction=fraction,
        seed=seed,
        progress=progress,
    )
