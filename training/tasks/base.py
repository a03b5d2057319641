"""What every model kind must say: the ``Task`` each kind (face, speech, fusion) fills in.

Training, resume, evaluation, export, prediction and the window ask a kind's task instead
of branching on the kind: which folders it reads and how they are split (``read`` gives a
``DataReader`` whose ``split(name)`` is any of train / val / test / all), the network it
builds, its batch augmentation, the checks a starting model must pass, and the words for
its data. Adding a kind is one new module here plus its network in ``models/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from datasets.audio import FeatureParams
from datasets.errors import WorkbenchError, describe
from datasets.ravdess import ActorSplit
from models import PRESETS

from ..data import Split, TaskData, find_data

SPLITS = ("train", "val", "test")


@dataclass
class DataSettings:
    """How to read and split a kind's data: from the training options, or from what a
    trained model saved (so evaluation reads its data exactly as training did)."""

    seed: int = 0
    val_fraction: float = 0.1  # FER-2013 without PublicTest: share held out for validation
    params: FeatureParams = FeatureParams()  # speech features
    actor_split: ActorSplit | None = None  # None: the fixed default split
    windows: bool = False  # speech: the training split as raw windows (robust augmentation)
    pairing: str = "takes"  # fusion: "takes" or "class"
    n_frames: int = 8  # fusion takes: face frames per clip
    calm: str = "drop"  # class pairing: RAVDESS calm dropped or merged into neutral
    fraction: float = 1.0  # share of the training items used
    # The leakage lesson only, never a default: speech split at random by file instead of
    # by actor; faces held out at random by position instead of by content.
    random_split: bool = False
    progress: Callable[[int, int], None] | None = None


class DataReader:
    """One read of a kind's folders: ``split(name)`` gives that split's items (None when
    it has none); ``classes``, ``preprocessing`` and ``source`` describe them."""

    classes: tuple[str, ...]
    preprocessing: dict
    source: dict
    # The sentence for data without training or validation items.
    too_few: str = "The data has too few items to train on."

    def split(self, name: str) -> Split | None:
        raise NotImplementedError

    def skipped_files(self) -> list[dict]:
        """What the splits read so far left out, as ``data-info`` lists it: ``{path,
        reason}`` per file or unreadable folder."""
        return []

    def feature_stats(self, train: Split) -> dict | None:
        """Speech: the training features' statistics the network standardises with."""
        return None

    def identities(self, name: str) -> list[dict]:
        """Who the items of the last ``split(name)`` are, in order: a face's FER-2013
        ``row`` and ``source``, a recording's ``path`` and ``actor``, a pair's ``face``
        and ``speech`` (the gallery and the embedding map name their items by these)."""
        return self.__dict__.get("_identities", {}).get(name, [])

    def remember(self, name: str, identities: list[dict]) -> None:
        """Keep the identities of split ``name``'s items (see ``identities``)."""
        self.__dict__.setdefault("_identities", {})[name] = identities


@dataclass
class EvalItems:
    """What ``evaluate`` scores: a split's items and whether they were held out from the
    model's training (True, False, or None when it cannot be known)."""

    split: str
    items: Split
    held_out: bool | None
    extra: dict  # more keys for the metrics (seen_in_training, members…)
    ids: list[dict] | None = None  # each item's identity (``DataReader.identities``)


class Task:
    """One model kind. Subclasses set the class attributes and fill in the methods."""

    kind: str  # "face", "speech", "fusion": run folders, checkpoints and the CLI use it
    title: str  # the window's name for the model, e.g. "Facial CNN"
    predicts: str  # what its model predicts, for the window's status line
    licence: str  # the training data's terms, for model cards
    fuses = False  # combines a face and a voice: the fusion options apply

    # ------------------------------------------------------------------ data

    def folders(self, pairing: str = "takes") -> tuple[str, ...]:
        """The data sub-folders ("fer2013", "ravdess") the kind reads, in order."""
        raise NotImplementedError

    def resolve(self, data, pairing: str = "takes") -> tuple[list[Path], bool]:
        """The paths to read for ``data`` (see ``training.data.find_data``), and whether
        they are the demo data."""
        return find_data(self.folders(pairing), data)

    def read(self, paths: list[Path], settings: DataSettings) -> DataReader:
        raise NotImplementedError

    def eval_paths(self, loaded, data) -> list[Path]:
        """The paths to score the trained model ``loaded`` on (``data`` as given)."""
        return self.resolve(data, loaded.preprocessing.get("pairing", "takes"))[0]

    def load(self, paths: list[Path], settings: DataSettings) -> TaskData:
        """The train / val / test splits for training; no training or validation items is
        an error."""
        reader = self.read(paths, settings)
        sets = {name: reader.split(name) for name in SPLITS}
        if sets["train"] is None or sets["val"] is None:
            raise WorkbenchError(reader.too_few)
        return TaskData(
            kind=self.kind,
            classes=reader.classes,
            train=sets["train"],
            val=sets["val"],
            test=sets["test"],
            preprocessing=reader.preprocessing,
            source=reader.source,
            feature_stats=reader.feature_stats(sets["train"]),
            skipped=reader.skipped_files(),
        )

    def settings(self, opts, saved: dict | None, branches: dict, augment: str) -> DataSettings:
        """The data settings of training options ``opts`` (``saved``: a resumed run's
        config.json; ``branches``: fusion's starting face / speech models; ``augment``:
        the run's augmentation level)."""
        actors = opts.actors
        if saved is not None and "actors" in saved["data"]:
            actors = saved["data"]["actors"]  # the run's own actors, even if more came
        return DataSettings(
            seed=opts.seed,
            actor_split=ActorSplit.from_dict(actors) if actors else None,
            pairing=opts.pairing,
            n_frames=opts.n_frames,
            calm=opts.calm,
            fraction=opts.fraction,
            random_split=opts.random_split,
        )

    def saved_settings(self, loaded) -> DataSettings:
        """The data settings a trained model (``LoadedModel``) was trained with."""
        return self.record_settings(loaded.payload.get("split") or {}, loaded.preprocessing)

    def record_settings(self, saved: dict, pre: dict) -> DataSettings:
        """The data settings of a model's data record and preprocessing."""
        return DataSettings(
            seed=int((saved.get("faces") or saved).get("seed", 0)),
            val_fraction=float(saved.get("val_fraction", 0.1)),
            params=FeatureParams.from_dict(pre["features"])
            if "features" in pre
            else FeatureParams(),
            actor_split=ActorSplit.from_dict(saved["actors"]) if "actors" in saved else None,
            pairing=pre.get("pairing", "takes"),
            n_frames=int(pre.get("n_frames", 8)),
            calm=pre.get("calm", "drop"),
            random_split=bool(saved.get("random_split")),
        )

    # --------------------------------------------------------------- network

    def check_options(self, opts) -> None:
        """Refuse settings this kind cannot use (one sentence each)."""
        if opts.variant is not None:
            raise WorkbenchError("--variant applies to speech models only: use cnn or gru.")
        if (opts.face_model or opts.speech_model) and not self.fuses:
            raise WorkbenchError(
                "--face-model and --speech-model apply to fusion models; start a face or "
                "speech model from trained weights with --init."
            )

    def run_record(self, opts) -> dict:
        """Kind-specific keys for the run's config.json (fusion: design and pairing)."""
        return {}

    def model_config(self, opts, data: TaskData, branches: dict):
        """The network's config for training options ``opts`` on ``data``."""
        return replace(PRESETS[self.kind][opts.preset], n_classes=len(data.classes))

    def augment(self, level: str, data: TaskData):
        """The batch augmentation at ``level`` (None for "none")."""
        raise NotImplementedError

    def check_start(self, start, data: TaskData) -> None:
        """Refuse a ``--init`` model that learned from ``data``'s held-out items."""

    # ------------------------------------------------------------ evaluation

    def eval_items(self, loaded, paths: list[Path], split: str) -> EvalItems:
        """The items of ``split`` ("auto", "all", "train", "val", "test") of ``paths`` to
        score the trained model ``loaded`` on, read as its training read them."""
        raise NotImplementedError

    def starter_split(self, split: dict) -> dict:
        """Extra keys for a starter model's data record (face: training fingerprints)."""
        return {}

    # ---------------------------------------------------------------- words

    def items_words(self, word: str, who: str, n: str, data: dict) -> str:
        """The held-out items a score counts, e.g. "FER test: 700 faces" (``word``: "test"
        or "validation"; ``who``: its actors in words; ``n``: how many)."""
        raise NotImplementedError

    def data_label(self, split: dict) -> str:
        """The training data in words, for model cards: a name, not a path on the
        machine it was trained on (``split`` is the checkpoint's data record)."""
        raise NotImplementedError


def check_classes(start, data: TaskData) -> None:
    """A starting model must answer the data's emotions."""
    if list(start.classes) != list(data.classes):
        raise WorkbenchError(
            f"{describe(start.path)} answers {', '.join(start.classes)}, but the data has "
            f"{', '.join(data.classes)}; start from a model trained on the same emotions."
        )
