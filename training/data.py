"""Training data as whole tensors: one split is an (N, ...) input tensor plus (N,) labels.

Batches are slices of those tensors (``TensorSet.batches``), so there is no per-sample
Python and no DataLoader workers; on CUDA the whole set moves to the GPU once.
``find_data`` finds the folders a model kind reads; the kind's task (``training.tasks``)
turns them into its train/val/test splits (``TaskData``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from datasets import sources
from datasets.demo import read_marker
from datasets.errors import WorkbenchError, describe
from datasets.ravdess import RavdessScan, speech_audio

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
    # Files (and unreadable folders) left out, with why: {path, reason}, as data-info says.
    skipped: list[dict] = field(default_factory=list)


FOLDERS = {"fer2013": "FER-2013", "ravdess": "RAVDESS speech"}  # data sub-folder → data set name


def find_data(folders: tuple[str, ...], data: str | Path | list | None) -> tuple[list[Path], bool]:
    """The data paths a model kind reads, one per entry of ``folders`` ("fer2013",
    "ravdess"), and whether they are all the demo data.

    ``None`` means the user's ``data/fer2013`` and ``data/ravdess`` where present, else
    the demo data; ``"demo"`` always means the demo data (generated on first use). A single
    folder holding the wanted sub-folders (a demo or ``data/`` root) gives them all; a
    FER-2013 and a RAVDESS folder given in the wrong order are put right.
    """
    items = [data] if isinstance(data, str | Path) else list(data or [])
    if not items or [str(i) for i in items] == ["demo"]:
        src = sources.demo_sources() if items else sources.default_sources()
        parts = {
            "fer2013": (src.fer, src.fer_is_demo),
            "ravdess": (src.ravdess, src.ravdess_is_demo),
        }
        is_demo = all(parts[f][1] for f in folders)
        if any(parts[f][1] for f in folders):
            sources.ensure_demo()
        return [Path(parts[f][0]).resolve() for f in folders], is_demo
    paths = [Path(p).expanduser() for p in items]
    for p in paths:
        if not p.exists():
            raise WorkbenchError(
                f"{describe(p)} does not exist; pass an existing "
                f"{' and '.join(FOLDERS[f] for f in folders)} folder, or --data demo for the "
                "built-in demo data."
            )
    root = paths[0]
    if len(paths) == 1 and root.is_dir() and not _looks_like_ravdess(root):
        if all((root / f).is_dir() for f in folders):
            paths = [root / f for f in folders]
    if len(paths) != len(folders):
        given = f"{len(paths)} path was" if len(paths) == 1 else f"{len(paths)} paths were"
        raise WorkbenchError(
            f"This model reads {' and '.join(f'a {FOLDERS[f]} folder' for f in folders)}, but "
            f"{given} given; pass exactly those after --data."
        )
    if folders == ("fer2013", "ravdess") and _looks_like_ravdess(paths[0]):
        if not _looks_like_ravdess(paths[1]):
            paths.reverse()
    is_demo = all(read_marker(p.parent) is not None or read_marker(p) is not None for p in paths)
    return [p.resolve() for p in paths], is_demo


def _looks_like_ravdess(path: Path) -> bool:
    return path.is_dir() and any(path.glob("Actor_*"))


def speech_actors(scan: RavdessScan) -> set[int]:
    """The actors with audio-only speech in a scanned folder; none is an error."""
    actors = {c.actor for c in speech_audio(scan.clips)}
    if not actors:
        raise WorkbenchError(
            f"{describe(scan.root)} holds no RAVDESS speech files (03-01-…wav or .flac); "
            "point --data at the RAVDESS speech folder."
        )
    return actors


def feature_stats(features: torch.Tensor) -> dict:
    """The training split's feature statistics, with which the speech network standardises
    its input (stored in the model config, so prediction repeats it)."""
    return {
        "n_bins": int(features.shape[2]),
        "input_mean": float(features.mean()),
        "input_std": float(features.std().clamp(min=1e-3)),
    }
