"""Training data as whole tensors: one split is an (N, ...) input tensor plus (N,) labels.

Batches are slices of those tensors (``TensorSet.batches``), so there is no per-sample
Python and no DataLoader workers; on CUDA the whole set moves to the GPU once.
``load_task_data`` turns a data path into the train/val/test splits of one model kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from datasets import sources
from datasets.audio import FeatureParams, extract_features
from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import FER2013, PUBLIC_TEST, load_fer2013
from datasets.labels import FER_CLASSES, RAVDESS_EMOTIONS
from datasets.ravdess import (
    ActorSplit,
    RavdessScan,
    default_actor_split,
    scan_ravdess,
    speech_audio,
)
from datasets.speech import RavdessSpeech

KINDS = ("face", "speech")


Inputs = torch.Tensor | dict[str, torch.Tensor]
"""A batch's model input: one tensor, or a dict of tensors (fusion: faces, found, features)."""


def move(x: Inputs, device: torch.device) -> Inputs:
    """``x`` on ``device`` (each tensor of a dict)."""
    if isinstance(x, dict):
        return {k: v.to(device, non_blocking=True) for k, v in x.items()}
    return x.to(device, non_blocking=True)


class Split:
    """What ``fit`` and the metrics need of a split: labels ``y``, ``len``, ``batches`` and
    ``n_batches``. Subclasses say what the model input of items ``idx`` is (``item``)."""

    y: torch.Tensor

    def item(self, idx: torch.Tensor | slice) -> Inputs:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.y)

    def batches(
        self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> Iterator[dict]:
        """Dict batches ``{"x": (b, ...), "y": (b,)}``; shuffled with ``generator`` if asked.

        A last batch of a single item joins the one before it: batch norm cannot train
        on one item, and one item's gradient would be a wild step anyway.
        """
        n = len(self)
        order = torch.randperm(n, generator=generator).to(self.y.device) if shuffle else None
        bounds = batch_bounds(n, batch_size)
        for start, end in zip(bounds, bounds[1:]):
            idx = slice(start, end) if order is None else order[start:end]
            yield {"x": self.item(idx), "y": self.y[idx]}

    def n_batches(self, batch_size: int) -> int:
        return len(batch_bounds(len(self), batch_size)) - 1


@dataclass
class TensorSet(Split):
    """Inputs ``x`` (N, ...) and int64 labels ``y`` (N,).

    ``x`` is uint8 faces, float32 features, or a dict of such tensors sharing their first
    dimension (fusion inputs: ``faces``, ``found``, ``features``).
    """

    x: Inputs
    y: torch.Tensor

    def to(self, device: torch.device) -> TensorSet:
        return TensorSet(move(self.x, device), self.y.to(device))

    def item(self, idx: torch.Tensor | slice) -> Inputs:
        if isinstance(self.x, dict):
            return {k: v[idx] for k, v in self.x.items()}
        return self.x[idx]


def batch_bounds(n: int, batch_size: int) -> list[int]:
    """Start indices of ``n`` items' batches, then ``n``; a last batch of one item joins the
    batch before it."""
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return bounds


def as_float(x: Inputs) -> Inputs:
    """Model input from stored input: uint8 pixels → float in [0, 1]; features unchanged.

    A lone (B, 48, 48) face tensor gains its channel axis; in a dict (fusion) every uint8
    tensor is scaled and keeps its shape, and the other tensors pass through.
    """
    if isinstance(x, dict):
        return {k: v.float().div_(255.0) if v.dtype == torch.uint8 else v for k, v in x.items()}
    if x.dtype == torch.uint8:
        return x.float().div_(255.0).unsqueeze(1)  # (B, 48, 48) → (B, 1, 48, 48)
    return x


@dataclass
class TaskData:
    """Everything ``fit`` and the reports need to know about one model kind's data."""

    kind: str
    classes: tuple[str, ...]
    train: Split  # a TensorSet, or the fusion's PairedSet
    val: Split
    test: Split | None
    preprocessing: dict  # what prediction must repeat (input size, feature parameters…)
    source: dict  # where the data came from and how it was split, for config.json
    # Speech: the clean training features' statistics, which the network standardises its
    # input with (the training split itself may hold raw windows, see ``load_speech_data``).
    feature_stats: dict | None = None


def resolve_data(kind: str, data: str | Path | None) -> tuple[Path, bool]:
    """The folder or file to train ``kind`` on, and whether it is the demo data.

    ``None`` means the user's ``data/fer2013`` or ``data/ravdess`` where present, else the
    demo data; ``"demo"`` always means the demo data (generated on first use). A demo root
    (the folder holding ``fer2013/`` and ``ravdess/``) also works for either kind.
    """
    sub = "fer2013" if kind == "face" else "ravdess"
    if data is None:
        src = sources.default_sources()
        path, is_demo = (
            (src.fer, src.fer_is_demo) if kind == "face" else (src.ravdess, src.ravdess_is_demo)
        )
    elif str(data) == "demo":
        path, is_demo = sources.demo_sources().fer.parent / sub, True
    else:
        path = Path(data).expanduser()
        if not path.exists():
            raise WorkbenchError(
                f"{describe(path)} does not exist; pass an existing FER-2013 or RAVDESS folder, "
                "or --data demo for the built-in demo data."
            )
        if path.is_dir() and (path / sub).is_dir() and not any(path.glob("Actor_*")):
            path = path / sub
        from datasets.demo import read_marker

        return path, read_marker(path.parent) is not None or read_marker(path) is not None
    if is_demo:
        sources.ensure_demo()
    return path, is_demo


def load_face_data(
    path: str | Path,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TaskData:
    """FER-2013 train / validation / test (PrivateTest, when the data has it)."""
    data = load_fer2013(path, progress=progress)
    split = {}
    for name in ("train", "val", "test"):
        ds = FER2013(path, name, data=data, val_fraction=val_fraction, seed=seed)
        split[name] = TensorSet(ds.images, ds.labels) if len(ds) else None
    if split["train"] is None or split["val"] is None:
        raise WorkbenchError(
            f"{describe(path)} has too few training images to hold out a validation set; "
            "use the full FER-2013 download."
        )
    has_public = bool((data.usage == PUBLIC_TEST).any())
    return TaskData(
        kind="face",
        classes=FER_CLASSES,
        train=split["train"],
        val=split["val"],
        test=split["test"],
        preprocessing={"input": "face48", "size": 48, "channels": 1},
        source={
            "path": str(path),
            "layout": data.layout,
            "validation": "PublicTest"
            if has_public
            else f"stratified {val_fraction:.0%} of training (seed {seed})",
            "val_fraction": val_fraction,
            "seed": seed,
            "test": "PrivateTest" if split["test"] is not None else "none",
            "skipped": len(data.skipped),
        },
    )


def speech_actors(scan: RavdessScan) -> set[int]:
    """The actors with audio-only speech in a scanned folder; none is an error."""
    actors = {c.actor for c in speech_audio(scan.clips)}
    if not actors:
        raise WorkbenchError(
            f"{describe(scan.root)} holds no RAVDESS speech files (03-01-…wav or .flac); "
            "point --data at the RAVDESS speech folder."
        )
    return actors


def load_speech_data(
    path: str | Path,
    *,
    params: FeatureParams = FeatureParams(),
    actor_split: ActorSplit | None = None,
    progress: Callable[[int, int], None] | None = None,
    windows: bool = False,
) -> TaskData:
    """RAVDESS speech features, split by actor (the fixed default split unless given).

    With ``windows`` the training split holds the (N, n_samples) analysis windows instead
    of their features: training under simulated recording conditions (the ``robust``
    augmentation) degrades the sound itself and computes the features per batch.
    """
    scan = scan_ravdess(path)
    if actor_split is None:
        actor_split = default_actor_split(speech_actors(scan))
    split: dict[str, RavdessSpeech] = {}
    for name in ("train", "val", "test"):
        split[name] = RavdessSpeech(
            path, name, params=params, actor_split=actor_split, scan=scan, progress=progress
        )
    sets = {k: TensorSet(v.features, v.labels) if len(v) else None for k, v in split.items()}
    if windows and sets["train"] is not None:
        train = split["train"]
        raw = extract_features([c.path for c in train.clips], params, windows=True)
        sets["train"] = TensorSet(torch.from_numpy(raw.x), train.labels)
    if sets["train"] is None or sets["val"] is None:
        raise WorkbenchError(
            f"{describe(path)} has no readable speech for the training or validation actors; "
            "check the folder holds RAVDESS speech of at least 3 actors."
        )
    skipped = sum(len(v.skipped) for v in split.values())
    return TaskData(
        kind="speech",
        classes=RAVDESS_EMOTIONS,
        train=sets["train"],
        val=sets["val"],
        test=sets["test"],
        preprocessing={"input": "speech", "features": params.to_dict()},
        source={"path": str(path), "actors": actor_split.to_dict(), "skipped": skipped},
        feature_stats=feature_stats(split["train"].features),
    )


def feature_stats(features: torch.Tensor) -> dict:
    """The training split's feature statistics, with which the speech network standardises
    its input (stored in the model config, so prediction repeats it)."""
    return {
        "n_bins": int(features.shape[2]),
        "input_mean": float(features.mean()),
        "input_std": float(features.std().clamp(min=1e-3)),
    }


def load_task_data(
    kind: str,
    path: str | Path,
    *,
    seed: int = 0,
    params: FeatureParams | None = None,
    actor_split: ActorSplit | None = None,
    progress: Callable[[int, int], None] | None = None,
    windows: bool = False,
) -> TaskData:
    """Train/val/test data of ``kind`` ("face" or "speech") from ``path``; ``windows``:
    see ``load_speech_data``."""
    if kind == "face":
        return load_face_data(path, seed=seed, progress=progress)
    if kind == "speech":
        return load_speech_data(
            path,
            params=params or FeatureParams(),
            actor_split=actor_split,
            progress=progress,
            windows=windows,
        )
    raise WorkbenchError(f"Unknown model kind {kind!r}; use one of {', '.join(KINDS)}.")
