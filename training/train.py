"""The jobs both the CLI and the GUI run: train a model into a run folder, evaluate one.

``train_model(TrainOptions(kind="face", data="demo"))`` loads the data, builds the preset
network, runs ``fit`` and writes the run folder with its held-out metrics.
"""

from __future__ import annotations

import json
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from datasets.audio import FeatureParams
from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import FER2013, load_fer2013, split_indices
from datasets.ravdess import ActorSplit, default_actor_split, scan_ravdess
from datasets.speech import RavdessSpeech
from models import PRESETS, build_model

from .augment import AUGMENT_CHOICES, make_augment
from .callbacks import Callback
from .checkpoint import load_checkpoint, read_checkpoint
from .data import KINDS, TaskData, TensorSet, load_task_data, resolve_data, speech_actors
from .device import choose_device
from .fit import FitConfig, FitResult, fit
from .metrics import evaluate_model
from .report import write_confusion, write_curves, write_report
from .runs import new_run_dir, write_json

# Loop settings per preset. ``quick`` trains the demo data in about a minute per model on
# a 2-core CPU; ``full`` is for real data on a GPU (or a long, resumable CPU run).
FIT_PRESETS: dict[tuple[str, str], FitConfig] = {
    ("face", "quick"): FitConfig(epochs=10, batch_size=32, lr=3e-3, weight_decay=1e-4),
    ("face", "full"): FitConfig(
        epochs=60, batch_size=128, lr=2e-3, weight_decay=5e-4, label_smoothing=0.1, patience=15
    ),
    ("speech", "quick"): FitConfig(epochs=12, batch_size=32, lr=3e-3, weight_decay=1e-4),
    ("speech", "full"): FitConfig(
        epochs=80, batch_size=32, lr=1e-3, weight_decay=1e-3, label_smoothing=0.1, patience=20
    ),
}
# Augmentation per preset: a short quick run learns most without it (see the closing note
# of issue 3 for the demo figures); long full runs need it against over-fitting.
AUGMENT_PRESETS = {
    ("face", "quick"): "none",
    ("face", "full"): "standard",
    ("speech", "quick"): "none",
    ("speech", "full"): "standard",
}
MFCC_PARAMS = FeatureParams(kind="mfcc")  # the GRU variant reads MFCCs, as in seed 003


@dataclass
class TrainOptions:
    """What to train; ``None`` means "the preset's value"."""

    kind: str
    data: str | None = None  # a path, "demo", or None for data/ (else the demo data)
    preset: str = "quick"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    patience: int | None = None
    device: str = "auto"
    seed: int = 0
    variant: str | None = None  # speech: "cnn" (default) or "gru"
    augment: str | None = None  # "none", "light" or "standard"
    out: str | None = None
    resume: str | None = None
    name: str | None = None


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
        }.items()
        if v is not None
    }
    return replace(base, **changes, seed=opts.seed, device=opts.device)


def augment_level(opts: TrainOptions) -> str:
    return opts.augment or AUGMENT_PRESETS[(opts.kind, opts.preset)]


def check_options(opts: TrainOptions) -> None:
    """Refuse impossible settings before any data is loaded (one sentence each)."""
    if opts.kind not in KINDS:
        raise WorkbenchError(f"Unknown model kind {opts.kind!r}; use one of {', '.join(KINDS)}.")
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
    if opts.augment not in (None, *AUGMENT_CHOICES):
        raise WorkbenchError(
            f"Unknown augmentation {opts.augment!r}; use one of {', '.join(AUGMENT_CHOICES)}."
        )
    if opts.variant not in (None, "cnn", "gru") or (opts.variant and opts.kind != "speech"):
        raise WorkbenchError("--variant applies to speech models only: use cnn or gru.")
    choose_device(opts.device)  # a missing GPU is refused before any data is loaded


def _model_config(opts: TrainOptions, task: TaskData):
    cfg = PRESETS[opts.kind][opts.preset]
    cfg = replace(cfg, n_classes=len(task.classes))
    if opts.kind == "speech":
        feats = task.train.x
        cfg = replace(
            cfg,
            variant=opts.variant or "cnn",
            n_bins=int(feats.shape[2]),
            # Standardise with the training split's statistics (stored in the checkpoint).
            input_mean=float(feats.mean()),
            input_std=float(feats.std().clamp(min=1e-3)),
        )
    return cfg


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
        opts, **{k: str(getattr(opts, k)) for k in ("data", "out", "resume") if getattr(opts, k)}
    )
    resume, saved = None, None
    if opts.resume:
        opts, resume, saved = _resume_options(opts)
    check_options(opts)
    t0 = time.perf_counter()
    path, is_demo = resolve_data(opts.kind, opts.data)
    path = path.resolve()
    say(f"loading {path}…")
    params = MFCC_PARAMS if opts.kind == "speech" and opts.variant == "gru" else None
    actor_split = None
    if saved is not None and "actors" in saved["data"]:
        # The run's own actors, even if the folder has gained some since.
        actor_split = ActorSplit.from_dict(saved["data"]["actors"])
    task = load_task_data(opts.kind, path, seed=opts.seed, params=params, actor_split=actor_split)
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
        model_cfg = _model_config(opts, task)
        model = build_model(opts.kind, model_cfg.to_dict())
        run_dir = new_run_dir(opts.kind, opts.out)
        run_config = {
            "name": opts.name or run_dir.name,
            "kind": opts.kind,
            "preset": opts.preset,
            "options": asdict(opts),
            "model_config": model_cfg.to_dict(),
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
        augment=make_augment(opts.kind, augment_level(opts)),
        callbacks=callbacks,
        stop_event=stop_event,
        resume=resume,
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
        "seconds": round(time.perf_counter() - t0, 1),
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
    if split not in ("auto", "all", "train", "val", "test"):
        raise WorkbenchError(f"Unknown split {split!r}; use all, train, val, test or auto.")
    loaded = load_checkpoint(model_path)
    path, _ = resolve_data(loaded.kind, data)
    path = path.resolve()
    saved = loaded.payload.get("split") or {}
    if loaded.kind == "face":
        split, items, held_out = _face_items(path, split, saved)
    else:
        split, items, held_out = _speech_items(path, split, saved, loaded.preprocessing)
    metrics = evaluate_model(loaded.model, items, loaded.classes)
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


def _face_items(path: Path, split: str, saved: dict) -> tuple[str, TensorSet, bool | None]:
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
    same_data = saved.get("path") == str(path)
    held_out = {"train": False, "val": True, "test": True}.get(split, None if same_data else True)
    return split, TensorSet(ds.images, ds.labels), held_out


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
