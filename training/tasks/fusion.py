"""The fusion task: a face and a voice together, from either source of pairs.

- ``takes``: RAVDESS speech video clips with the sound of the same take (``AVTakes``) —
  the same person at the same moment; the eight RAVDESS emotions; split by actor.
- ``class``: a FER-2013 face and a RAVDESS utterance with the same emotion
  (``ClassPaired``) — paired by emotion, not the same person; the seven shared emotions;
  faces split as FER-2013 is, speech by actor. Training pairs are redrawn every epoch.

The network is a ``FusionNet`` design (or ``LateFusion``); its branches can start from
trained face and speech models (``--face-model``, ``--speech-model``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from datasets.audio import FeatureParams
from datasets.av import AVTakes, av_clips
from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import TRAINING
from datasets.labels import RAVDESS_EMOTIONS
from datasets.paired import PAIRED_CLASSES, PAIRED_NOTE, ClassPaired, speech_to_paired
from datasets.ravdess import ActorSplit, actor_ranges, scan_ravdess
from models import FUSION_VARIANTS, PRESETS, SINGLE_VARIANTS
from models.fusion import FusionNetConfig
from models.late import LateFusion, LateFusionConfig

from ..augment import fusion_augment
from ..checkpoint import load_checkpoint
from ..data import TaskData, TensorSet, as_float, feature_stats
from ..fusion_data import PAIRING_NOTES, PAIRINGS, PairedSet, halves, subset
from ..metrics import classification_metrics, predict_proba
from ..runs import default_model
from .base import DataReader, DataSettings, EvalItems, Task
from .face import FaceReader, FaceTask
from .speech import SpeechReader, heard_of

FUSION_CHOICES = (*FUSION_VARIANTS, "late", *SINGLE_VARIANTS)  # what --fusion accepts
CALM_CHOICES = ("drop", "neutral")  # RAVDESS calm in class pairing: dropped or neutral
MOST_FRAMES = 64  # face frames per clip (--frames): more only repeats frames, slowly
PAIR_SEEDS = {"train": 0, "val": 1, "test": 2, "all": 3}  # added to the seed per split


class TakesReader(DataReader):
    """Audio-video takes of one RAVDESS folder, split by actor."""

    classes = RAVDESS_EMOTIONS

    def __init__(self, path: Path, settings: DataSettings) -> None:
        self.path, self.settings = path, settings
        self.scan = scan_ravdess(path)
        self.actors = {c.actor for c in av_clips(self.scan)}
        self.actor_split = settings.actor_split
        self.skipped: list[dict] = list(self.scan.skipped)  # unreadable folders, odd names
        self.preprocessing = {
            "input": "av",
            "pairing": "takes",
            "n_frames": settings.n_frames,
            "features": settings.params.to_dict(),
        }
        self.too_few = (
            f"{describe(path)} has no usable clips for the training or validation actors; "
            "check the folder holds RAVDESS video clips of at least 3 actors."
        )

    def takes(self, name: str) -> AVTakes:
        s = self.settings
        split = self.actor_split
        if name == "all":  # every actor of the folder, whatever the model's split
            split, name = ActorSplit((), (), tuple(sorted(self.actors))), "test"
        takes = AVTakes(
            self.path,
            name,
            n_frames=s.n_frames,
            params=s.params,
            actor_split=split,
            scan=self.scan,
            progress=s.progress,
        )
        if self.actor_split is None:
            self.actor_split = takes.actor_split
        self.skipped += takes.skipped
        return takes

    def skipped_files(self) -> list[dict]:
        return self.skipped

    def split(self, name: str) -> TensorSet | None:
        takes = self.takes(name)
        idx = np.arange(len(takes))
        if name == "train":
            idx = subset(takes.labels.numpy(), self.settings.fraction, self.settings.seed)
        if not len(idx):
            return None
        self.remember(
            name,
            [{"path": str(c.path), "actor": c.actor} for c in map(takes.clips.__getitem__, idx)],
        )
        x = {"faces": takes.faces[idx], "found": takes.found[idx], "features": takes.features[idx]}
        return TensorSet(x, takes.labels[idx])

    @property
    def source(self) -> dict:
        return {
            "path": [str(self.path)],
            "pairing": "takes",
            "note": PAIRING_NOTES["takes"],
            "actors": self.actor_split.to_dict(),
            "train_fraction": self.settings.fraction,
            "skipped": len(self.skipped),
        }


class PairedReader(DataReader):
    """A FER-2013 face and a RAVDESS utterance of the same emotion: faces split as the
    face task splits them, speech by actor; pairs drawn within each emotion."""

    classes = PAIRED_CLASSES

    def __init__(self, fer: Path, ravdess: Path, settings: DataSettings) -> None:
        self.settings = settings
        self.faces = FaceReader(fer, settings)
        self.speech = SpeechReader(ravdess, replace(settings, windows=False, progress=None))
        self.face_test = "PrivateTest"
        if self.faces.source["test"] == "none":
            # No test split in the face data: its validation images are halved, one half
            # to choose epochs and weights, the other scored once at the end.
            self.face_test = (
                f"half of the face validation images ({self.faces.source['validation']})"
            )
        self.counts: dict[str, dict] = {}
        self.preprocessing = {
            "input": "av",
            "pairing": "class",
            "n_frames": 1,
            "features": settings.params.to_dict(),
            "calm": settings.calm,
        }
        self.too_few = self.faces.too_few

    def skipped_files(self) -> list[dict]:
        return self.faces.skipped_files() + self.speech.skipped_files()

    def face_split(self, name: str) -> TensorSet | None:
        """The faces of split ``name``; ``face_ids`` says who they are."""
        if self.face_test == "PrivateTest" or name not in ("val", "test"):
            faces = self.faces.split(name)
            self.face_ids = self.faces.identities(name)
            return faces
        val = self.faces.split("val")
        if val is None:
            return None
        first, second = halves(val.y.numpy(), self.settings.seed)
        keep = first if name == "val" else second
        self.face_ids = [self.faces.identities("val")[k] for k in keep]
        return TensorSet(val.x[keep], val.y[keep])

    def split(self, name: str) -> PairedSet | None:
        faces, speech = self.face_split(name), self.speech.split(name)
        if faces is None or speech is None:
            return None
        f_idx, s_idx = np.arange(len(faces)), np.arange(len(speech))
        s = self.settings
        if name == "train":
            f_idx = subset(faces.y.numpy(), s.fraction, s.seed)
            s_idx = subset(speech.y.numpy(), s.fraction, s.seed)
        pairing = ClassPaired(
            faces.y[f_idx].numpy(),
            speech.y[s_idx].numpy(),
            calm=s.calm,
            seed=s.seed + PAIR_SEEDS[name],
            fixed=name != "train",
            per_class="smaller" if name == "train" else "larger",
        )
        self.counts[name] = {"pairs": len(pairing), "faces": len(f_idx), "utterances": len(s_idx)}
        pairs = PairedSet(faces.x[f_idx], speech.x[s_idx], pairing)
        face_ids, speech_ids = self.face_ids, self.speech.identities(name)
        self.remember(
            name,
            [
                {"face": face_ids[f_idx[f]], "speech": speech_ids[s_idx[s]]}
                for f, s in zip(pairs.face_idx.tolist(), pairs.speech_idx.tolist())
            ],
        )
        return pairs

    @property
    def source(self) -> dict:
        return {
            "path": [str(self.faces.path), str(self.speech.path)],
            "pairing": "class",
            "note": PAIRED_NOTE,
            "faces": {k: self.faces.source[k] for k in ("path", "validation", "seed")},
            "face_test": self.face_test,
            "actors": self.speech.actor_split.to_dict(),
            "calm": self.settings.calm,
            "train_fraction": self.settings.fraction,
            "counts": self.counts,
        }


class FusionTask(Task):
    kind = "fusion"
    title = "Fusion model"
    predicts = "videos (the fused answer)"
    fuses = True
    licence = (
        FaceTask.licence
        + " "
        + (
            "RAVDESS (Livingstone & Russo, 2018) is licensed CC BY-NC-SA 4.0; this model is "
            "trained on it, so it is for non-commercial use only, shared alike, with attribution."
        )
    )

    def folders(self, pairing: str = "takes") -> tuple[str, ...]:
        return ("ravdess",) if pairing == "takes" else ("fer2013", "ravdess")

    def read(self, paths: list[Path], settings: DataSettings) -> DataReader:
        if settings.pairing == "takes":
            return TakesReader(paths[0], settings)
        return PairedReader(paths[0], paths[1], settings)

    def settings(self, opts, saved: dict | None, branches: dict, augment: str) -> DataSettings:
        params = FeatureParams()
        if saved is not None:  # resuming: the run's own features
            params = FeatureParams.from_dict(saved["preprocessing"]["features"])
        elif "speech" in branches:  # the features the speech branch was trained on
            params = FeatureParams.from_dict(branches["speech"].preprocessing["features"])
        return replace(super().settings(opts, saved, branches, augment), params=params)

    def check_options(self, opts) -> None:
        super().check_options(opts)
        if opts.init:
            raise WorkbenchError(
                "--init applies to face and speech models; a fusion model starts its branches "
                "from trained models with --face-model and --speech-model."
            )
        if opts.fusion not in FUSION_CHOICES:
            raise WorkbenchError(
                f"Unknown fusion design {opts.fusion!r}; use one of {', '.join(FUSION_CHOICES)}."
            )
        if opts.pairing not in PAIRINGS:
            raise WorkbenchError(f"Unknown pairing {opts.pairing!r}; use takes or class.")
        if opts.calm not in CALM_CHOICES:
            raise WorkbenchError(f"Unknown --calm {opts.calm!r}; use drop or neutral.")
        if not 1 <= opts.n_frames <= MOST_FRAMES:
            raise WorkbenchError(
                f"--frames must be between 1 and {MOST_FRAMES}, got {opts.n_frames}."
            )

    def run_record(self, opts) -> dict:
        return {"fusion": opts.fusion, "pairing": opts.pairing}

    def model_config(self, opts, data: TaskData, branches: dict):
        """A ``FusionNetConfig`` (or ``LateFusionConfig``): the preset's branches, or the
        architectures of the trained models the branches start from."""
        face = branches["face"].payload["model_config"] if "face" in branches else None
        speech = branches["speech"].payload["model_config"] if "speech" in branches else None
        if face is None:
            face = PRESETS["face"][opts.preset].to_dict()
        if speech is None:
            train = data.train
            feats = train.features if hasattr(train, "features") else train.x["features"]
            speech = {**PRESETS["speech"][opts.preset].to_dict(), **feature_stats(feats)}
        n = len(data.classes)

        def net(variant: str) -> FusionNetConfig:
            return FusionNetConfig(variant=variant, face=face, speech=speech, n_classes=n)

        if opts.fusion == "late":
            return LateFusionConfig(
                face=net("face").to_dict(), speech=net("speech").to_dict(), n_classes=n
            )
        return net(opts.fusion)

    def augment(self, level: str, data: TaskData):
        return fusion_augment(level)

    def eval_paths(self, loaded, data) -> list[Path]:
        """Without ``data``: the folders the model was trained on, where they still are."""
        if data is not None:
            return super().eval_paths(loaded, data)
        paths = [Path(p) for p in (loaded.payload.get("split") or {}).get("path", [])]
        if not paths or not all(p.exists() for p in paths):
            raise WorkbenchError(
                f"{describe(loaded.path)} was trained on data that is not there any more; "
                "pass --data with the folders to score it on."
            )
        return paths

    def eval_items(self, loaded, paths: list[Path], split: str) -> EvalItems:
        """Pairs read as training read them (same actors, same face hold-out). ``all``
        pairs every item of the folders by emotion (seeded), for data the model never saw,
        and scores the face-only and speech-only models on the same pairs beside it;
        ``auto`` is the test split, else validation, else (new speakers) ``all``."""
        saved = loaded.payload.get("split") or {}
        reader = self.read(paths, self.saved_settings(loaded))
        items = None
        if split == "auto":  # as speech: other folders of new speakers are scored whole
            for split in ("test", "val", "all"):  # each split read once
                if split == "all" and _unseen(reader, saved) is False:
                    raise WorkbenchError(
                        f"{describe(paths[-1])} has none of this model's validation or test "
                        "actors; use --split all to score every item, knowing that it includes "
                        "actors the model trained on."
                    )
                if (items := reader.split(split)) is not None:
                    break
        else:
            items = reader.split(split)
        if items is None:
            raise WorkbenchError(
                f"The data has no {split} items for this model; choose another --split."
            )
        trained = [Path(p).resolve() for p in saved.get("path", [])]
        same = [Path(p).resolve() for p in paths] == trained
        ids = reader.identities(split)
        if split != "all":
            return EvalItems(split, items, split != "train" if same else None, {}, ids)
        held_out = False if same else _unseen(reader, saved)
        members = _member_scores(loaded, items, reader) if isinstance(reader, PairedReader) else []
        return EvalItems(split, items, held_out, {"members": members} if members else {}, ids)

    def items_words(self, word: str, who: str, n: str, data: dict) -> str:
        if data.get("pairing") == "class":
            test = data.get("face_test", "PrivateTest") == "PrivateTest"
            return f"{'FER test' if test else 'half of FER validation'} + {who}: {n} pairs"
        return f"{who}: {n} takes"

    def data_label(self, split: dict) -> str:
        train = (split.get("actors") or {}).get("train") or []
        actors = f", actors {actor_ranges(train)}" if train else ""
        if split.get("pairing", "class") == "class":
            return f"FER-2013 faces + RAVDESS speech{actors}, paired by emotion"
        return f"RAVDESS audio-video takes{actors}"


def _unseen(reader: DataReader, saved: dict) -> bool | None:
    """Whether ``all`` of other folders is held out: the speakers must be new, and the
    faces (class pairing) none of FER-2013's training images; None when unknowable."""
    paired = isinstance(reader, PairedReader)
    present = reader.speech.present if paired else reader.actors
    actors = saved.get("actors") or {}
    if present & {*actors.get("train", []), *actors.get("val", [])}:
        return False
    if paired and (reader.faces.data.usage == TRAINING).any():
        return None  # FER-2013 training images: possibly ones the model learned
    return True


@torch.inference_mode()
def _member_scores(loaded, pairs: PairedSet, reader: PairedReader) -> list[dict]:
    """The face-only and speech-only answers on the same pairs: the fusion model's own
    members where it has them (late fusion), else the workbench's face and speech models
    (the ones a video's prediction uses), each with whether it heard these items."""
    y = pairs.y.numpy()
    rows = []
    model = loaded.model
    if isinstance(model, LateFusion):
        model.eval()
        probs = {"face": [], "speech": []}
        for batch in pairs.batches(256):
            f, s = model.probabilities(as_float(batch["x"]))
            probs["face"].append(f.numpy())
            probs["speech"].append(s.numpy())
        for kind in ("face", "speech"):
            p = np.concatenate(probs[kind]).argmax(1)
            member = f"{kind}-only (late-fusion member)"
            rows.append({"member": member, "model": str(loaded.path), **_scores(y, p)})
        return rows
    for kind in ("face", "speech"):
        try:
            member = load_checkpoint(default_model(kind), kind=kind)
        except WorkbenchError:
            continue  # no trained model of that kind here: nothing to compare with
        rows.append(
            {"member": f"{kind}-only", "model": str(member.path), **_member(member, pairs, reader)}
        )
    return rows


def _member(member, pairs: PairedSet, reader: PairedReader) -> dict:
    """A face or speech model's scores on the pairs' faces or utterances (read with the
    model's own features); a speech model's answers counted over the paired emotions."""
    y = pairs.y.numpy()
    if member.kind == "face":
        probs, _ = predict_proba(member.model, TensorSet(pairs.faces[pairs.face_idx], pairs.y))
        return _scores(y, probs.argmax(1))
    params = FeatureParams.from_dict(member.preprocessing["features"])
    features = pairs.features  # the pairs' own, unless the member hears other features
    if params != reader.settings.params:
        features = SpeechReader(reader.speech.path, replace(reader.settings, params=params))
        features = features.split("all").x
    utterances = features[pairs.speech_idx]
    probs, _ = predict_proba(member.model, TensorSet(utterances, pairs.y))
    table = speech_to_paired(np.arange(len(RAVDESS_EMOTIONS)), reader.settings.calm)
    mapped = np.zeros((len(probs), len(PAIRED_CLASSES)))
    for r, c in enumerate(table):
        if c >= 0:
            mapped[:, c] += probs[:, r]
    heard = heard_of(member, set(reader.speech.present))
    return {**_scores(y, mapped.argmax(1)), **({"heard_actors": heard} if heard else {})}


def _scores(y: np.ndarray, pred: np.ndarray) -> dict:
    m = classification_metrics(y, pred, PAIRED_CLASSES)
    return {"accuracy": m["accuracy"], "uar": m["uar"], "n_items": m["n_items"]}
