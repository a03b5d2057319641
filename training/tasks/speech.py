"""The speech task: RAVDESS audio-only speech (log-mel or MFCC), eight emotions,
``SpeechCNN``; split by actor, never by file (except for the leakage lesson, which shows
why: ``DataSettings.random_split``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from datasets.audio import FeatureParams, extract_features
from datasets.errors import WorkbenchError, describe
from datasets.labels import RAVDESS_EMOTIONS
from datasets.ravdess import (
    ActorSplit,
    RavdessScan,
    actor_ranges,
    default_actor_split,
    random_file_split,
    scan_ravdess,
    speech_audio,
)
from datasets.speech import RavdessSpeech

from ..augment_audio import speech_augment
from ..data import TaskData, TensorSet, feature_stats, speech_actors
from .base import DataReader, DataSettings, EvalItems, Task, check_classes

VARIANT_CHOICES = ("cnn", "gru")  # log-mel CNN, or MFCC + GRU (Song et al.)
MFCC_PARAMS = FeatureParams(kind="mfcc")  # the GRU variant reads MFCCs (Song et al.)


def heard_of(loaded, actors: set[int]) -> list[int]:
    """Which of ``actors`` a loaded speech model learned from (trained on or picked its
    epoch by)."""
    heard = (loaded.payload.get("split") or {}).get("actors") or {}
    return sorted(actors & {*heard.get("train", []), *heard.get("val", [])})


class SpeechReader(DataReader):
    classes = RAVDESS_EMOTIONS

    def __init__(self, path: Path, settings: DataSettings) -> None:
        self.path, self.settings = path, settings
        self.scan = scan_ravdess(path)
        self.present = speech_actors(self.scan)
        self.actor_split = settings.actor_split or default_actor_split(self.present)
        self.files = self._random_files() if settings.random_split else None
        self.skipped: list[dict] = list(self.scan.skipped)  # unreadable folders, odd names
        self.preprocessing = {"input": "speech", "features": settings.params.to_dict()}
        self.too_few = (
            f"{describe(path)} has no readable speech for the training or validation actors; "
            "check the folder holds RAVDESS speech of at least 3 actors."
        )

    def _random_files(self) -> dict[str, list]:
        """The leakage lesson's split: files drawn at random (stratified by emotion), as
        many for validation and test as the default actor split holds out, so the two
        splits differ only in who is heard where."""
        clips = speech_audio(self.scan.clips)
        held = default_actor_split(self.present)
        n_val, n_test = (sum(c.actor in held.actors(s) for c in clips) for s in ("val", "test"))
        files = random_file_split(clips, n_val, n_test, seed=self.settings.seed)
        # Every actor heard in training or validation counts as heard (``heard_of``), so
        # no later run starts from this model while holding one of them out.
        heard = {c.actor for s in ("train", "val") for c in files[s]}
        self.actor_split = ActorSplit(tuple(sorted(heard)), (), ())
        return files

    @property
    def source(self) -> dict:
        source = {
            "path": str(self.path),
            "actors": self.actor_split.to_dict(),
            "skipped": len(self.skipped),
        }
        if self.files is not None:
            source["seed"] = self.settings.seed  # draws the files (``record_settings``)
            source["random_split"] = {
                "by": "file, stratified by emotion (every actor on every side)",
                "actors": {s: sorted({c.actor for c in f}) for s, f in self.files.items()},
                "files": {s: len(f) for s, f in self.files.items()},
            }
        return source

    def actors(self, name: str) -> tuple[int, ...]:
        """The actors of split ``name``; ``all`` is every actor in the folder."""
        return tuple(sorted(self.present)) if name == "all" else self.actor_split.actors(name)

    def speech(self, name: str) -> RavdessSpeech:
        scan, actors = self.scan, self.actors(name)
        if self.files is not None and name != "all":  # only these files, whoever speaks
            picked = self.files[name]
            scan = RavdessScan(self.path, picked) if picked else scan
            actors = tuple(sorted({c.actor for c in picked}))
        ds = RavdessSpeech(
            self.path,
            "test",
            params=self.settings.params,
            actor_split=ActorSplit((), (), actors),
            scan=scan,
            progress=self.settings.progress,
        )
        self.skipped += ds.skipped
        self.remember(name, [{"path": str(c.path), "actor": c.actor} for c in ds.clips])
        return ds

    def skipped_files(self) -> list[dict]:
        return self.skipped

    def split(self, name: str) -> TensorSet | None:
        ds = self.speech(name)
        if not len(ds):
            return None
        if name == "train" and self.settings.windows:
            # Training under simulated recording conditions degrades the sound itself
            # and computes the features per batch: the split holds the raw windows.
            self.train_features = ds.features
            raw = extract_features([c.path for c in ds.clips], self.settings.params, windows=True)
            return TensorSet(torch.from_numpy(raw.x), ds.labels)
        if name == "train":
            self.train_features = ds.features
        return TensorSet(ds.features, ds.labels)

    def feature_stats(self, train) -> dict:
        return feature_stats(self.train_features)


class SpeechTask(Task):
    kind = "speech"
    title = "Speech CNN"
    predicts = "recordings and a video's sound"
    licence = (
        "RAVDESS (Livingstone & Russo, 2018) is licensed CC BY-NC-SA 4.0; this model is "
        "trained on it, so it is for non-commercial use only, shared alike, with attribution."
    )

    def folders(self, pairing: str = "takes") -> tuple[str, ...]:
        return ("ravdess",)

    def read(self, paths: list[Path], settings: DataSettings) -> SpeechReader:
        return SpeechReader(paths[0], settings)

    def settings(self, opts, saved: dict | None, branches: dict, augment: str) -> DataSettings:
        params = MFCC_PARAMS if opts.variant == "gru" else FeatureParams()
        if saved is not None:  # resuming: the run's own features
            params = FeatureParams.from_dict(saved["preprocessing"]["features"])
        return replace(
            super().settings(opts, saved, branches, augment),
            params=params,
            windows=augment == "robust",  # the robust chain degrades raw sound
        )

    def check_options(self, opts) -> None:
        super().check_options(replace(opts, variant=None))  # the variant is ours to check
        if opts.variant not in (None, *VARIANT_CHOICES):
            raise WorkbenchError(f"Unknown --variant {opts.variant!r}; use cnn or gru.")

    def model_config(self, opts, data: TaskData, branches: dict):
        cfg = super().model_config(opts, data, branches)
        return replace(cfg, variant=opts.variant or "cnn", **data.feature_stats)

    def augment(self, level: str, data: TaskData):
        return speech_augment(level, FeatureParams.from_dict(data.preprocessing["features"]))

    def check_start(self, start, data: TaskData) -> None:
        """The starting model must hear the same features and not have heard this run's
        validation or test actors."""
        check_classes(start, data)
        name = describe(start.path)
        if start.preprocessing.get("features") != data.preprocessing.get("features"):
            raise WorkbenchError(
                f"{name} hears other features than this training computes; start from a "
                "speech model trained with this version's features."
            )
        actors = data.source["actors"]
        overlap = heard_of(start, {*actors["val"], *actors["test"]})
        if overlap:
            raise WorkbenchError(
                f"{name} learned from actor(s) {', '.join(map(str, overlap))}, which this run "
                "holds out; start from a model trained without them."
            )

    def eval_items(self, loaded, paths: list[Path], split: str) -> EvalItems:
        """The actors saved with the model. ``auto`` is its test actors where the folder
        has them, else its validation actors; for a folder holding none of those and none
        of its training actors either (new speakers), every file."""
        path = paths[0]
        settings = self.saved_settings(loaded)
        reader = self.read(paths, settings)
        present, actors = reader.present, reader.actor_split
        trained_on = set(actors.train)
        if split == "auto":
            split = next((s for s in ("test", "val") if set(actors.actors(s)) & present), None)
            if split is None:
                if present & trained_on:
                    raise WorkbenchError(
                        f"{describe(path)} has none of this model's validation or test actors; "
                        "use --split all to score every actor, knowing that it includes the "
                        "actors the model trained on."
                    )
                split = "all"  # a folder of actors the model never heard
        wanted = reader.actors(split)
        if split != "all" and not set(wanted) & present:
            raise WorkbenchError(
                f"{describe(path)} has none of this model's {split} actors "
                f"({', '.join(map(str, wanted))}); choose another --split."
            )
        ds = reader.speech(split)
        held_out = not (set(wanted) & present & trained_on)
        items = TensorSet(ds.features, ds.labels)
        return EvalItems(split, items, held_out, {}, reader.identities(split))

    def items_words(self, word: str, who: str, n: str, data: dict) -> str:
        return f"{who}: {n} clips"

    def data_label(self, split: dict) -> str:
        train = (split.get("actors") or {}).get("train") or []
        return "RAVDESS speech" + (f", actors {actor_ranges(train)}" if train else "")
