"""The jobs both the CLI and the GUI run: train a model into a run folder, evaluate one.

``train_model(TrainOptions(kind="face", data="demo"))`` loads the data, builds the preset
network, runs ``fit`` and writes the run folder with its held-out metrics. Fusion runs
(``kind="fusion"``) read audio-video takes or class-paired data (``fusion_data``); their
``fusion`` option picks the design, ``late`` included (its weight is searched on the
validation split after training).
"""

from __future__ import annotations

import json
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from datasets.audio import FeatureParams
from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import FER2013, count_seen, load_fer2013, split_indices
from datasets.ravdess import ActorSplit, default_actor_split, scan_ravdess
from datasets.speech import RavdessSpeech
from models import FUSION_VARIANTS, PRESETS, SINGLE_VARIANTS, build_model
from models.fusion import FusionNetConfig
from models.late import LateFusion, LateFusionConfig

from .augment import AUGMENT_CHOICES, make_augment
from .callbacks import Callback
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .data import (
    KINDS,
    TaskData,
    TensorSet,
    feature_stats,
    load_task_data,
    resolve_data,
    speech_actors,
)
from .device import choose_device
from .fit import FitConfig, FitResult, fit
from .fusion_data import PAIRINGS, load_fusion_data, resolve_fusion_paths
from .late import search_weight, set_late_weight
from .metrics import classification_metrics, evaluate_model, predict_proba
from .report import write_confusion, write_curves, write_report
from .runs import new_run_dir, write_json

# Loop settings per preset. ``quick`` trains the demo data in about a minute per model on
# a 2-core CPU; ``full`` is for real data on a GPU (or a long, resumable CPU run).
FIT_PRESETS: dict[tuple[str, str], FitConfig] = {
    ("face", "quick"): FitConfig(epochs=10, batch_size=32, lr=3e-3, weight_decay=1e-4),
    ("face", "full"): FitConfig(
        epochs=30, batch_size=64, lr=2e-3, weight_decay=5e-4, label_smoothing=0.1, patience=15
    ),
    ("speech", "quick"): FitConfig(epochs=12, batch_size=32, lr=3e-3, weight_decay=1e-4),
    ("speech", "full"): FitConfig(
        epochs=80, batch_size=32, lr=1e-3, weight_decay=1e-3, label_smoothing=0.1, patience=20
    ),
    ("fusion", "quick"): FitConfig(epochs=12, batch_size=32, lr=3e-3, weight_decay=1e-4),
    ("fusion", "full"): FitConfig(
        epochs=60, batch_size=64, lr=1e-3, weight_decay=5e-4, label_smoothing=0.1, patience=15
    ),
}
# Augmentation per preset: a short quick run learns most without it (see the closing note
# of issue 3 for the demo figures); long full runs need it against over-fitting.
AUGMENT_PRESETS = {
    ("face", "quick"): "none",
    ("face", "full"): "robust",
    ("speech", "quick"): "none",
    ("speech", "full"): "robust",
    ("fusion", "quick"): "none",
    ("fusion", "full"): "standard",
}
MFCC_PARAMS = FeatureParams(kind="mfcc")  # the GRU variant reads MFCCs, as in seed 003
TRAIN_KINDS = (*KINDS, "fusion")
FUSION_CHOICES = (*FUSION_VARIANTS, "late", *SINGLE_VARIANTS)  # what --fusion accepts


@dataclass
class TrainOptions:
    """What to train; ``None`` means "the preset's value"."""

    kind: str
    # A path, "demo", or None for data/ (else the demo data); fusion may take two paths.
    data: str | list[str] | None = None
    preset: str = "quick"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    patience: int | None = None
    device: str = "auto"
    seed: int = 0
    variant: str | None = None  # speech: "cnn" (default) or "gru"
    augment: str | None = None  # "none", "light", "standard" or "robust"
    # speech: the actor split (``ActorSplit.to_dict()``); None = the fixed default split
    actors: dict | None = None
    optimizer: str | None = None  # "adamw" or "sgd" (Nesterov momentum 0.9)
    # face / speech: start from this trained model's weights (fine-tuning), not at random
    init: str | None = None
    mixup: float | None = None  # mixup alpha; 0 = off
    out: str | None = None
    resume: str | None = None
    name: str | None = None
    # fusion only
    fusion: str = "concat"  # concat, equalized, probe, late (or face / speech: baselines)
    pairing: str = "takes"  # "takes" (same person, same moment) or "class" (by emotion)
    n_frames: int = 8  # face frames per clip (takes)
    calm: str = "drop"  # class pairing: RAVDESS calm dropped or merged into neutral
    fraction: float = 1.0  # share of the training items used
    face_model: str | None = None  # start the face branch from this trained face model
    speech_model: str | None = None  # start the speech branch from this speech model


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    fit: FitResult


def fit_config(opts: TrainOptions) -> FitConfig:
    base = FIT_PRESETS[(opts.kind, opts.preset)]
    changes = {
        k: v
        for k, v in {
            "epochs": opts.epochs,
            "batch_size": opts.batch_size,
            "lr": opts.lr,
            "patience": opts.patience,
            "optimizer": opts.optimizer,
            "mixup": opts.mixup,
        }.items()
        if v is not None
    }
    return replace(base, **changes, seed=opts.seed, device=opts.device)


def augment_level(opts: TrainOptions) -> str:
    return opts.augment or AUGMENT_PRESETS[(opts.kind, opts.preset)]


def check_options(opts: TrainOptions) -> None:
    """Refuse impossible settings before any data is loaded (one sentence each)."""
    if opts.kind not in TRAIN_KINDS:
        raise WorkbenchError(
            f"Unknown model kind {opts.kind!r}; use one of {', '.join(TRAIN_KINDS)}."
        )
    if opts.preset not in ("quick", "full"):
        raise WorkbenchError(f"Unknown preset {opts.preset!r}; use quick or full.")
    if opts.epochs is not None and opts.epochs < 1:
        raise WorkbenchError(f"--epochs must be 1 or more, got {opts.epochs}.")
    if opts.batch_size is not None and opts.batch_size < 2:
        raise WorkbenchError(
            f"--batch-size must be 2 or more (batch norm learns from several items at once), "
            f"got {opts.batch_size}."
        )
    if opts.lr is not None and not 0 < opts.lr < 10:
        raise WorkbenchError(f"--lr must be a small positive number such as 0.001, got {opts.lr}.")
    if opts.optimizer not in (None, "adamw", "sgd"):
        raise WorkbenchError(f"Unknown optimizer {opts.optimizer!r}; use adamw or sgd.")
    if opts.mixup is not None and not 0 <= opts.mixup <= 10:
        raise WorkbenchError(
            f"--mixup must be 0 (off) or a positive alpha such as 0.2, got {opts.mixup}."
        )
    if opts.augment not in (None, *AUGMENT_CHOICES):
        raise WorkbenchError(
            f"Unknown augmentation {opts.augment!r}; use one of {', '.join(AUGMENT_CHOICES)}."
        )
    if opts.variant not in (None, "cnn", "gru") or (opts.variant and opts.kind != "speech"):
        raise WorkbenchError("--variant applies to speech models only: use cnn or gru.")
    if opts.init and opts.kind == "fusion":
        raise WorkbenchError(
            "--init applies to face and speech models; a fusion model starts its branches "
            "from trained models with --face-model and --speech-model."
        )
    if opts.kind == "fusion":
        if opts.fusion not in FUSION_CHOICES:
            raise WorkbenchError(
                f"Unknown fusion design {opts.fusion!r}; use one of {', '.join(FUSION_CHOICES)}."
            )
        if opts.pairing not in PAIRINGS:
            raise WorkbenchError(f"Unknown pairing {opts.pairing!r}; use takes or class.")
        if opts.calm not in ("drop", "neutral"):
            raise WorkbenchError(f"Unknown --calm {opts.calm!r}; use drop or neutral.")
        if not 1 <= opts.n_frames <= 64:
            raise WorkbenchError(f"--frames must be between 1 and 64, got {opts.n_frames}.")
        if not 0 < opts.fraction <= 1:
            raise WorkbenchError(f"--fraction must lie in (0, 1], got {opts.fraction}.")
    choose_device(opts.device)  # a missing GPU is refused before any data is loaded


def _model_config(opts: TrainOptions, task: TaskData, branches: dict | None = None):
    if opts.kind == "fusion":
        return _fusion_config(opts, task, branches or {})
    cfg = PRESETS[opts.kind][opts.preset]
    cfg = replace(cfg, n_classes=len(task.classes))
    if opts.kind == "speech":
        cfg = replace(cfg, variant=opts.variant or "cnn", **task.feature_stats)
    return cfg


def _fusion_config(opts: TrainOptions, task: TaskData, branches: dict):
    """A ``FusionNetConfig`` (or ``LateFusionConfig``) for the task: the preset's branches,
    or the architectures of the trained models the branches start from."""
    face = branches["face"].payload["model_config"] if "face" in branches else None
    speech = branches["speech"].payload["model_config"] if "speech" in branches else None
    if face is None:
        face = PRESETS["face"][opts.preset].to_dict()
    if speech is None:
        feats = task.train.features if hasattr(task.train, "features") else task.train.x["features"]
        speech = {**PRESETS["speech"][opts.preset].to_dict(), **feature_stats(feats)}
    n = len(task.classes)

    def net(variant: str) -> FusionNetConfig:
        return FusionNetConfig(variant=variant, face=face, speech=speech, n_classes=n)

    if opts.fusion == "late":
        return LateFusionConfig(
            face=net("face").to_dict(), speech=net("speech").to_dict(), n_classes=n
        )
    return net(opts.fusion)


def _load_branches(opts: TrainOptions) -> dict:
    """The trained face / speech models the fusion branches start from (``--face-model``,
    ``--speech-model``), checked to be of the right kind."""
    got = {}
    for kind, path in (("face", opts.face_model), ("speech", opts.speech_model)):
        if path:
            got[kind] = load_checkpoint(path, kind=kind, purpose=f"the fusion's {kind} branch")
            if got[kind].payload["model_config"].get("variant") == "ensemble":
                raise WorkbenchError(
                    f"{describe(path)} is several cross-validation models averaged, which "
                    "between them heard every actor, so no fusion test actor would be "
                    f"unheard; start the {kind} branch from a single run's best.pt."
                )
    return got


def _load_init(opts: TrainOptions, task: TaskData):
    """The trained model ``--init`` names, checked to fit the task (same kind, network
    family, classes and features) and not to have learned from its held-out items."""
    start = load_checkpoint(opts.init, kind=opts.kind, purpose="the starting weights")
    name = describe(start.path)
    if start.payload["model_config"].get("variant") == "ensemble":
        raise WorkbenchError(
            f"{name} is several models averaged; start from a single run's best.pt."
        )
    if list(start.classes) != list(task.classes):
        raise WorkbenchError(
            f"{name} answers {', '.join(start.classes)}, but the data has "
            f"{', '.join(task.classes)}; start from a model trained on the same emotions."
        )
    if opts.kind == "speech" and start.preprocessing.get("features") != task.preprocessing.get(
        "features"
    ):
        raise WorkbenchError(
            f"{name} hears other features than this training computes; start from a speech "
            "model trained with this version's features."
        )
    saved = start.payload.get("split") or {}
    if opts.kind == "speech":
        overlap = _heard_of(start, {*task.source["actors"]["val"], *task.source["actors"]["test"]})
        if overlap:
            raise WorkbenchError(
                f"{name} learned from actor(s) {', '.join(map(str, overlap))}, which this run "
                "holds out; start from a model trained without them."
            )
        return start
    held_out = [s for s in (task.val, task.test) if s is not None]
    if "train_fingerprints" in saved:
        # Known by content: FER-2013's own duplicates (a handful) are tolerated.
        n = sum(len(s.x) for s in held_out)
        seen = sum(count_seen(s.x.cpu().numpy(), saved["train_fingerprints"]) for s in held_out)
        if seen > 0.01 * n:
            raise WorkbenchError(
                f"{name} learned from {seen} of the {n} images this run holds out; start "
                "from a model trained with the same validation split."
            )
    elif not saved.get("is_demo") and (
        saved.get("val_fraction"),
        saved.get("seed"),
        Path(str(saved.get("path"))).name,
    ) != (
        task.source.get("val_fraction"),
        task.source.get("seed"),
        Path(str(task.source.get("path"))).name,
    ):
        raise WorkbenchError(
            f"{name} was trained with another validation split, so this run's validation "
            "images may be ones it learned; start from a model trained on the same data."
        )
    return start


def _init_record(start) -> dict:
    meta = start.payload.get("starter") or {}
    return {"path": str(start.path), "name": start.payload.get("name") or meta.get("run")}


def _heard_of(loaded, actors: set[int]) -> list[int]:
    """Which of ``actors`` the loaded speech model learned from (trained on or picked its
    epoch by)."""
    heard = (loaded.payload.get("split") or {}).get("actors") or {}
    return sorted(actors & {*heard.get("train", []), *heard.get("val", [])})


def _check_branch_actors(branches: dict, task: TaskData) -> None:
    """A speech branch must not have heard the fusion's test actors: its scores would not
    be held out."""
    speech = branches.get("speech")
    test = set((task.source.get("actors") or {}).get("test") or [])
    if speech is None or not test:
        return
    overlap = _heard_of(speech, test)
    if overlap:
        raise WorkbenchError(
            f"{describe(speech.path)} learned from actor(s) {', '.join(map(str, overlap))}, "
            "which this fusion run tests on; start the speech branch from a model trained "
            "without them (the same actor split as the fusion run)."
        )


def _init_branches(model: torch.nn.Module, branches: dict) -> None:
    face = branches["face"].model.state_dict() if "face" in branches else None
    speech = branches["speech"].model.state_dict() if "speech" in branches else None
    members = [model.face, model.speech] if isinstance(model, LateFusion) else [model]
    for member in members:
        member.load_branches(face, speech)


def _load_data(
    opts: TrainOptions, saved: dict | None, branches: dict, say: Callable[[str], None]
) -> tuple[TaskData, bool]:
    """The task's data and whether it is the demo data (``say`` announces the load once
    the paths are known to exist, so a bad path gives its one sentence alone)."""
    actor_split = ActorSplit.from_dict(opts.actors) if opts.actors else None
    if saved is not None and "actors" in saved["data"]:
        # The run's own actors, even if the folder has gained some since.
        actor_split = ActorSplit.from_dict(saved["data"]["actors"])
    if opts.kind == "fusion":
        paths, is_demo = resolve_fusion_paths(opts.pairing, opts.data)
        say(f"loading {' + '.join(str(p) for p in paths)}…")
        params = FeatureParams()
        if saved is not None:  # resuming: the run's own features
            params = FeatureParams.from_dict(saved["preprocessing"]["features"])
        elif "speech" in branches:  # the features the speech branch was trained on
            params = FeatureParams.from_dict(branches["speech"].preprocessing["features"])
        task = load_fusion_data(
            opts.pairing,
            paths,
            n_frames=opts.n_frames,
            params=params,
            actor_split=actor_split,
            calm=opts.calm,
            fraction=opts.fraction,
            seed=opts.seed,
        )
        return task, is_demo
    path, is_demo = resolve_data(opts.kind, opts.data)
    path = path.resolve()
    say(f"loading {path}…")
    params = MFCC_PARAMS if opts.kind == "speech" and opts.variant == "gru" else None
    if saved is not None and opts.kind == "speech":  # resuming: the run's own features
        params = FeatureParams.from_dict(saved["preprocessing"]["features"])
    task = load_task_data(
        opts.kind,
        path,
        seed=opts.seed,
        params=params,
        actor_split=actor_split,
        windows=opts.kind == "speech" and augment_level(opts) == "robust",
    )
    return task, is_demo


def train_model(
    opts: TrainOptions,
    *,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
    status: Callable[[str], None] | None = None,
) -> RunResult:
    """Train one model into a run folder and score it on held-out data.

    ``status`` receives short messages ("loading data…") for a status line. With
    ``opts.resume`` (a run folder) training continues from its ``last.pt``.
    """
    say = status or (lambda _msg: None)
    # Paths may come in as Path objects; config.json keeps them as text.
    opts = replace(
        opts,
        **{
            k: str(getattr(opts, k))
            for k in ("data", "out", "resume", "init", "face_model", "speech_model")
            if getattr(opts, k) and not isinstance(getattr(opts, k), list)
        },
    )
    if isinstance(opts.data, list):
        opts.data = [str(p) for p in opts.data]
    resume, saved = None, None
    if opts.resume:
        opts, resume, saved = _resume_options(opts)
    check_options(opts)
    t0 = time.perf_counter()
    earlier_seconds = (
        sum(float(h["seconds"]) for h in resume["history"]) if resume is not None else 0.0
    )
    branches = _load_branches(opts) if opts.kind == "fusion" and resume is None else {}
    task, is_demo = _load_data(opts, saved, branches, say)
    _check_branch_actors(branches, task)
    start = _load_init(opts, task) if opts.init and resume is None else None
    config = fit_config(opts)
    if resume is not None:
        # The saved loop settings, with the new total of epochs and the device asked for.
        config = replace(
            FitConfig(**resume["fit_config"]), epochs=config.epochs, device=config.device
        )

    torch.manual_seed(opts.seed)
    if resume is not None:
        model = build_model(opts.kind, resume["model_config"])
        run_dir = Path(opts.resume)
        run_config = saved
        run_config["fit"] = config.to_dict()
    else:
        model_cfg = _model_config(opts, task, branches)
        if start is not None:  # the starting model's own network (and input scaling)
            model_cfg = type(model_cfg).from_dict(start.payload["model_config"])
        model = build_model(opts.kind, model_cfg.to_dict())
        if branches:
            _init_branches(model, branches)
        if start is not None:
            model.load_state_dict(start.model.state_dict())
        run_dir = new_run_dir(opts.kind, opts.out)
        run_config = {
            "name": opts.name or run_dir.name,
            "kind": opts.kind,
            "preset": opts.preset,
            "options": asdict(opts),
            **({"fusion": opts.fusion, "pairing": opts.pairing} if opts.kind == "fusion" else {}),
            "model_config": model_cfg.to_dict(),
            **({"init": _init_record(start)} if start is not None else {}),
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "fit": config.to_dict(),
            "augment": augment_level(opts),
            "classes": list(task.classes),
            "preprocessing": task.preprocessing,
            "data": {**task.source, "is_demo": is_demo},
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "versions": {"python": platform.python_version(), "torch": torch.__version__},
        }
    write_json(run_dir / "config.json", run_config)
    meta = {
        "kind": opts.kind,
        "model_config": run_config["model_config"],
        "classes": run_config["classes"],
        "preprocessing": run_config["preprocessing"],
        "split": run_config["data"],
        "name": run_config["name"],
    }
    say(f"training {opts.kind} model…")
    result = fit(
        model,
        task.train,
        task.val,
        config,
        meta=meta,
        out_dir=run_dir,
        augment=make_augment(
            opts.kind,
            augment_level(opts),
            params=FeatureParams.from_dict(task.preprocessing["features"])
            if opts.kind == "speech"
            else None,
        ),
        callbacks=callbacks,
        stop_event=stop_event,
        resume=resume,
    )

    if opts.kind == "fusion" and opts.fusion == "late":
        say("choosing the late-fusion weight on validation data…")
        search = search_weight(model, task.val)
        set_late_weight(model, search["weight"])
        run_config["model_config"] = model.config.to_dict()
        run_config["late_weight_search"] = search
        write_json(run_dir / "config.json", run_config)
        meta["model_config"] = run_config["model_config"]
        best = read_checkpoint(run_dir / "best.pt")
        save_checkpoint(
            run_dir / "best.pt", model, meta=meta, epoch=best["epoch"], val=best.get("val")
        )

    say("scoring on held-out data…")
    val = evaluate_model(model, task.val, task.classes)
    held_out, split = (val, "val")
    test = None
    if task.test is not None:
        test = evaluate_model(model, task.test, task.classes)
        held_out, split = test, "test"
    metrics = {
        **held_out,
        "split": split,
        "n_train": len(task.train),
        "n_val": len(task.val),
        "n_test": len(task.test) if task.test is not None else 0,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped": result.stopped,
        "early_stopped": result.early_stopped,
        "device": result.device,
        # A resumed run counts the training time of its earlier chunks (their epochs).
        "seconds": round(time.perf_counter() - t0 + earlier_seconds, 1),
        "val": {k: val[k] for k in ("accuracy", "uar", "macro_f1", "loss", "n_items")},
    }
    write_json(run_dir / "metrics.json", metrics)
    write_curves(run_dir, result.history, result.best_epoch)
    write_confusion(run_dir, metrics, f"{run_config['name']} ({split})")
    write_report(run_dir, run_config, metrics)
    return RunResult(run_dir, metrics, result)


def _resume_options(opts: TrainOptions) -> tuple[TrainOptions, dict, dict]:
    """The run's own options (data path, kind, preset, seed…) with only ``epochs`` (the new
    total) and ``device`` taken from ``opts``; its ``last.pt`` and ``config.json``."""
    run_dir = Path(opts.resume).expanduser()
    last = run_dir / "last.pt"
    if not last.is_file() or not (run_dir / "config.json").is_file():
        raise WorkbenchError(
            f"{describe(run_dir)} has no last.pt to resume from; pass a run folder that "
            "finished at least one epoch."
        )
    payload = read_checkpoint(last)
    saved = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    if opts.kind != saved["kind"]:
        raise WorkbenchError(
            f"{describe(run_dir)} holds a {saved['kind']} run, not a {opts.kind} one; "
            f"resume it with 'train {saved['kind']} --resume {run_dir}'."
        )
    merged = TrainOptions(
        **{**saved["options"], "data": saved["data"]["path"], "resume": str(run_dir), "out": None}
    )
    # The run's own augmentation, even where a preset's default has changed since.
    merged.augment = saved.get("augment", merged.augment)
    merged.epochs = opts.epochs if opts.epochs is not None else payload["fit_config"]["epochs"]
    merged.device = opts.device
    if merged.epochs <= int(payload["epoch"]):
        raise WorkbenchError(
            f"{describe(run_dir)} already ran {payload['epoch']} epochs; pass --epochs "
            "larger than that to train on."
        )
    return merged, payload, saved


# ----------------------------------------------------------------- evaluation


def evaluate_checkpoint(
    model_path: str | Path, data: str | Path | None, *, split: str = "auto"
) -> dict:
    """Score a trained model (run folder or .pt) on ``split`` of ``data``.

    FER-2013 splits follow the data's Usage column, or the stratified hold-out the model
    trained with; RAVDESS splits use the actors saved with the model. ``auto`` is the test
    split where the data has one, else validation; for RAVDESS folders holding none of the
    model's validation or test actors but also none of its training actors, every file.
    The result says whether the items were ``held_out`` from training: True, False, or None
    when it cannot be known (``all`` of a FER-2013 set the model may have trained on).
    """
    if split not in ("auto", "all", "train", "val", "test", "cv"):
        raise WorkbenchError(f"Unknown split {split!r}; use all, train, val, test, cv or auto.")
    loaded = load_checkpoint(model_path)
    folds = (loaded.payload.get("split") or {}).get("folds")
    if split == "cv" and not folds:
        raise WorkbenchError(
            f"{describe(loaded.path)} is not the models of a cross-validation averaged; "
            "--split cv applies to such models only."
        )
    if folds and split in ("auto", "cv"):
        return _evaluate_folds(loaded, data, folds)
    if loaded.kind == "fusion":
        return _evaluate_fusion(loaded, data, split)
    if isinstance(data, list):
        raise WorkbenchError(
            f"A {loaded.kind} model is scored on one data folder, but {len(data)} were given; "
            "pass one --data path."
        )
    path, _ = resolve_data(loaded.kind, data)
    path = path.resolve()
    saved = loaded.payload.get("split") or {}
    seen = None  # items the model trained on, where it can be counted
    if loaded.kind == "face":
        split, items, held_out, seen = _face_items(path, split, saved)
    else:
        split, items, held_out = _speech_items(path, split, saved, loaded.preprocessing)
    metrics = evaluate_model(loaded.model, items, loaded.classes)
    if seen is not None:
        metrics["seen_in_training"] = seen
    metrics.update(
        {
            "split": split,
            "held_out": held_out,
            "kind": loaded.kind,
            "model": str(loaded.path),
            "data": str(path),
        }
    )
    return metrics


def _evaluate_folds(loaded, data: str | Path | None, folds: list[dict]) -> dict:
    """The cross-validation of an ensemble re-measured from the file itself: each member
    on the test actors of its own fold, which it never heard, pooled over the members."""
    path, _ = resolve_data("speech", data)
    path = path.resolve()
    scan = scan_ravdess(path)
    present = speech_actors(scan)
    params = FeatureParams.from_dict(loaded.preprocessing["features"])
    true, pred, rows = [], [], []
    for member, fold in zip(loaded.model.members, folds):
        test = [a for a in fold["test"] if a in present]
        if not test:
            continue
        ds = RavdessSpeech(
            path, "test", params=params, actor_split=ActorSplit((), (), tuple(test)), scan=scan
        )
        probs, _ = predict_proba(member, TensorSet(ds.features, ds.labels))
        y, p = ds.labels.numpy(), probs.argmax(1)
        m = classification_metrics(y, p, loaded.classes)
        rows.append(
            {
                "test_actors": test,
                "accuracy": m["accuracy"],
                "uar": m["uar"],
                "n_items": m["n_items"],
            }
        )
        true.append(y)
        pred.append(p)
    if not rows:
        raise WorkbenchError(
            f"{describe(path)} has none of the actors this model's cross-validation tested "
            "on; score it on other speakers with --split all."
        )
    metrics = classification_metrics(np.concatenate(true), np.concatenate(pred), loaded.classes)
    for key in ("accuracy", "uar"):  # mean and sample standard deviation over the folds
        values = np.array([r[key] for r in rows])
        metrics[f"{key}_mean"] = float(values.mean())
        metrics[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    metrics.update(
        {
            "split": "cv",
            "held_out": True,
            "folds": rows,
            "kind": loaded.kind,
            "model": str(loaded.path),
            "data": str(path),
        }
    )
    return metrics


def _evaluate_fusion(loaded, data: str | list[str] | None, split: str) -> dict:
    """A fusion model on its own kind of data, split as it was trained (same actors, same
    face hold-out), unless other folders are given."""
    if split == "all":
        raise WorkbenchError(
            "A fusion model is scored on one split of its pairs; use --split test, val or train."
        )
    saved = loaded.payload.get("split") or {}
    pre = loaded.preprocessing
    pairing = pre.get("pairing", "takes")
    if data is None:
        paths = [Path(p) for p in saved.get("path", [])]
        if not paths or not all(p.exists() for p in paths):
            raise WorkbenchError(
                f"{describe(loaded.path)} was trained on data that is not there any more; "
                "pass --data with the folders to score it on."
            )
    else:
        paths, _ = resolve_fusion_paths(pairing, data)
    task = load_fusion_data(
        pairing,
        paths,
        n_frames=int(pre.get("n_frames", 8)) if pairing == "takes" else 1,
        params=FeatureParams.from_dict(pre["features"]),
        actor_split=ActorSplit.from_dict(saved["actors"]) if "actors" in saved else None,
        calm=pre.get("calm", "drop"),
        seed=int((saved.get("faces") or {}).get("seed", 0)),
    )
    if split == "auto":
        split = "test" if task.test is not None else "val"
    items = {"train": task.train, "val": task.val, "test": task.test}[split]
    if items is None:
        raise WorkbenchError(
            f"The data has no {split} items for this model; choose another --split."
        )
    metrics = evaluate_model(loaded.model, items, loaded.classes)
    same = [Path(p).resolve() for p in paths] == [Path(p).resolve() for p in saved.get("path", [])]
    metrics.update(
        {
            "split": split,
            "held_out": split != "train" if same else None,
            "kind": "fusion",
            "model": str(loaded.path),
            "data": " + ".join(str(p) for p in paths),
        }
    )
    return metrics


def _face_items(
    path: Path, split: str, saved: dict
) -> tuple[str, TensorSet, bool | None, int | None]:
    fer = load_fer2013(path)
    if split == "auto":
        split = "test" if len(split_indices(fer, "test")) else "val"
    ds = FER2013(
        path,
        split,
        data=fer,
        val_fraction=float(saved.get("val_fraction", 0.1)),
        seed=int(saved.get("seed", 0)),
    )
    if not len(ds):
        raise WorkbenchError(f"{describe(path)} has no {split} images; choose another --split.")
    if "train_fingerprints" in saved:
        # A starter model knows its training images by content, whatever the folder.
        seen = count_seen(ds.images, saved["train_fingerprints"])
        return split, TensorSet(ds.images, ds.labels), seen == 0, seen
    same_data = saved.get("path") == str(path)
    held_out = {"train": False, "val": True, "test": True}.get(split, None if same_data else True)
    return split, TensorSet(ds.images, ds.labels), held_out, None


def _speech_items(
    path: Path, split: str, saved: dict, preprocessing: dict
) -> tuple[str, TensorSet, bool]:
    scan = scan_ravdess(path)
    present = speech_actors(scan)
    if "actors" in saved:
        actors = ActorSplit.from_dict(saved["actors"])
    else:
        actors = default_actor_split(present)
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
    if split == "all":
        wanted = tuple(sorted(present))
    else:
        wanted = actors.actors(split)
        if not set(wanted) & present:
            raise WorkbenchError(
                f"{describe(path)} has none of this model's {split} actors "
                f"({', '.join(map(str, wanted))}); choose another --split."
            )
    held_out = not (set(wanted) & present & trained_on)
    params = FeatureParams.from_dict(preprocessing["features"])
    ds = RavdessSpeech(
        path, "test", params=params, actor_split=ActorSplit((), (), wanted), scan=scan
    )
    return split, TensorSet(ds.features, ds.labels), held_out
