"""The face task: FER-2013 images (48x48 grayscale), seven emotions, ``FaceCNN``.

Validation is FER-2013's PublicTest when the data has it, else a stratified, seeded share
of the training images chosen by image content; PrivateTest is the test split.
"""

from __future__ import annotations

from pathlib import Path

import torch

from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import (
    FER2013,
    PUBLIC_TEST,
    count_seen,
    fingerprints,
    load_fer2013,
    split_indices,
)
from datasets.labels import FER_CLASSES

from ..augment import face_augment
from ..data import TaskData, TensorSet
from .base import DataReader, DataSettings, EvalItems, Task, check_classes

FACE_PREPROCESSING = {"input": "face48", "size": 48, "channels": 1}


class FaceReader(DataReader):
    classes = FER_CLASSES
    preprocessing = FACE_PREPROCESSING

    def __init__(self, path: Path, settings: DataSettings) -> None:
        self.path, self.settings = path, settings
        self.data = load_fer2013(path, progress=settings.progress)
        has_public = bool((self.data.usage == PUBLIC_TEST).any())
        fraction, seed = settings.val_fraction, settings.seed
        drawn = "at random by position" if settings.random_split else "by content"
        self.source = {
            "path": str(path),
            "layout": self.data.layout,
            "validation": "PublicTest"
            if has_public
            else f"stratified {fraction:.0%} of training (seed {seed}, {drawn})",
            "val_fraction": fraction,
            "seed": seed,
            "test": "PrivateTest" if len(split_indices(self.data, "test")) else "none",
            "skipped": len(self.data.skipped),
            **({"random_split": True} if settings.random_split else {}),
        }
        self.too_few = (
            f"{describe(path)} has too few training images to hold out a validation set; "
            "use the full FER-2013 download."
        )

    def skipped_files(self) -> list[dict]:
        return list(self.data.skipped)

    def split(self, name: str) -> TensorSet | None:
        ds = FER2013(
            self.path,
            name,
            data=self.data,
            val_fraction=self.settings.val_fraction,
            seed=self.settings.seed,
            by_content=not self.settings.random_split,
        )
        sources = self.data.sources
        self.remember(name, [{"row": int(j), "source": str(sources[j])} for j in ds.indices])
        return TensorSet(ds.images, ds.labels) if len(ds) else None


class FaceTask(Task):
    kind = "face"
    title = "Facial CNN"
    predicts = "photos and video frames"
    licence = (
        "FER-2013 is distributed for research use (Goodfellow et al., 2013, via Kaggle); "
        "this model is a derivative of it, so use it for research and teaching only."
    )

    def folders(self, pairing: str = "takes") -> tuple[str, ...]:
        return ("fer2013",)

    def read(self, paths: list[Path], settings: DataSettings) -> FaceReader:
        return FaceReader(paths[0], settings)

    def augment(self, level: str, data: TaskData):
        return face_augment(level)

    def check_start(self, start, data: TaskData) -> None:
        """A face model must not have learned this run's validation or test images: known
        by content from its fingerprints (FER-2013's own few duplicates are tolerated),
        else by the split it was trained with."""
        check_classes(start, data)
        saved = start.payload.get("split") or {}
        name = describe(start.path)
        held_out = [s for s in (data.val, data.test) if s is not None]
        if "train_fingerprints" in saved:
            n = sum(len(s.x) for s in held_out)
            seen = sum(count_seen(s.x.cpu().numpy(), saved["train_fingerprints"]) for s in held_out)
            if seen > 0.01 * n:
                raise WorkbenchError(
                    f"{name} learned from {seen} of the {n} images this run holds out; start "
                    "from a model trained with the same validation split."
                )
            return
        same_split = ("val_fraction", "seed")
        if not saved.get("is_demo") and (
            [saved.get(k) for k in same_split] != [data.source.get(k) for k in same_split]
            or Path(str(saved.get("path"))).name != Path(str(data.source.get("path"))).name
        ):
            raise WorkbenchError(
                f"{name} was trained with another validation split, so this run's validation "
                "images may be ones it learned; start from a model trained on the same data."
            )

    def eval_items(self, loaded, paths: list[Path], split: str) -> EvalItems:
        """FER-2013 splits follow the data's Usage column, or the stratified hold-out the
        model trained with. A starter model knows its training images by content, so
        whether ``all`` of any copy is held out can be counted; for a run it is known for
        train / val / test and unknown for ``all`` of the data it trained on."""
        saved = loaded.payload.get("split") or {}
        reader = self.read(paths, self.saved_settings(loaded))
        if split == "auto":
            split = "test" if len(split_indices(reader.data, "test")) else "val"
        items = reader.split(split)
        if items is None:
            raise WorkbenchError(
                f"{describe(paths[0])} has no {split} images; choose another --split."
            )
        if "train_fingerprints" in saved:
            seen = count_seen(items.x, saved["train_fingerprints"])
            seen_in = {"seen_in_training": seen}
            return EvalItems(split, items, seen == 0, seen_in, reader.identities(split))
        same_data = saved.get("path") == str(paths[0])
        held_out = {"train": False, "val": True, "test": True}.get(
            split, None if same_data else True
        )
        return EvalItems(split, items, held_out, {}, reader.identities(split))

    def starter_split(self, split: dict) -> dict:
        """Fingerprints of the training images, so ``evaluate`` can count the ones any
        FER-2013 copy holds (``seen_in_training``)."""
        reader = self.read([Path(split["path"])], self.record_settings(split, FACE_PREPROCESSING))
        return {
            "train_fingerprints": torch.from_numpy(fingerprints(reader.split("train").x.numpy()))
        }

    def items_words(self, word: str, who: str, n: str, data: dict) -> str:
        return f"FER {word}: {n} faces"

    def data_label(self, split: dict) -> str:
        return "FER-2013 training images"
