"""Train a model into a run folder: the job both the CLI and the window run.

``train_model(TrainOptions(kind="face", data="demo"))`` asks the kind's task
(``training.tasks``) for its data and network, runs ``fit`` and writes the run folder with
its held-out metrics. Fusion runs can start their branches from trained face and speech
models; a ``late`` fusion's weight is searched on the validation split after training.
Options and their validation live in ``training.options``; scoring a trained model on
other data in ``training.evaluate``.
"""

from __future__ import annotations

import platform
import threading
import time
import typing
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch

from datasets.errors import WorkbenchError, describe
from models import build_model
from models.late import LateFusion

from . import distributed
from .callbacks import Callback
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .data import TaskData
from .evaluate import evaluate_checkpoint
from .fit import FitConfig, FitResult, fit
from .late import search_weight, set_late_weight
from .metrics import evaluate_model
from .options import (
    AUGMENT_PRESETS,
    FIT_PRESETS,
    FUSION_CHOICES,
    TrainOptions,
    augment_level,
    check_options,
    fit_config,
)
from .report import write_confusion, write_curves, write_report
from .runs import new_run_dir, owned, read_run_json, write_json
from .tasks import KINDS, task_for
from .tasks.speech import heard_of
from .wording import skipped_sentence

__all__ = [
    "AUGMENT_PRESETS",
    "FIT_PRESETS",
    "FUSION_CHOICES",
    "KINDS",
    "RunResult",
    "TrainOptions",
    "check_options",
    "evaluate_checkpoint",
    "fit_config",
    "train_model",
]


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict
    fit: FitResult


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
    """The trained model ``--init`` names, checked by the kind's task to fit the data
    (same classes, features) and not to have learned from its held-out items."""
    start = load_checkpoint(opts.init, kind=opts.kind, purpose="the starting weights")
    if start.payload["model_config"].get("variant") == "ensemble":
        raise WorkbenchError(
            f"{describe(start.path)} is several models averaged; start from a single run's best.pt."
        )
    task_for(opts.kind).check_start(start, task)
    return start


def _init_record(start) -> dict:
    meta = start.payload.get("starter") or {}
    return {"path": str(start.path), "name": start.payload.get("name") or meta.get("run")}


def _check_branch_actors(branches: dict, task: TaskData) -> None:
    """A speech branch must not have heard the fusion's test actors: its scores would not
    be held out."""
    speech = branches.get("speech")
    test = set((task.source.get("actors") or {}).get("test") or [])
    if speech is None or not test:
        return
    overlap = heard_of(speech, test)
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
    task = task_for(opts.kind)
    paths, is_demo = task.resolve(opts.data, opts.pairing)
    say(f"loading {' + '.join(str(p) for p in paths)}…")
    return task.load(paths, task.settings(opts, saved, branches, augment_level(opts))), is_demo


MAX_SKIPPED_LISTED = 100  # in metrics.json; data-info lists them all


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

    Under torchrun every process trains (``training.distributed``), but rank 0 alone reads
    the run it resumes, writes the run folder, reports and scores; the others return a
    result with empty metrics.
    """
    main = distributed.is_main()
    say = (status or (lambda _msg: None)) if main else (lambda _msg: None)
    callbacks = callbacks if main else ()
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
        opts, resume, saved = distributed.from_main(lambda: _resume_options(opts))
    check_options(opts)
    kind_task = task_for(opts.kind)
    t0 = time.perf_counter()
    earlier_seconds = (
        sum(float(h["seconds"]) for h in resume["history"]) if resume is not None else 0.0
    )
    branches = _load_branches(opts) if resume is None else {}
    with distributed.local_main_first():  # it makes the demo data and caches once
        task, is_demo = _load_data(opts, saved, branches, say)
    skipped = list({s["path"]: s for s in task.skipped}.values())  # once each
    if skipped:
        say(skipped_sentence(skipped))
    _check_branch_actors(branches, task)
    start = _load_init(opts, task) if opts.init and resume is None else None
    config = fit_config(opts)
    if resume is not None:
        # The saved loop settings, with the new total of epochs and the device asked for
        # (and deterministic kernels, if asked for now or when it started).
        saved_fit = FitConfig(**resume["fit_config"])
        config = replace(
            saved_fit,
            epochs=config.epochs,
            device=config.device,
            deterministic=config.deterministic or saved_fit.deterministic,
        )

    torch.manual_seed(opts.seed)
    if resume is not None:
        model = build_model(opts.kind, resume["model_config"])
        run_dir = Path(opts.resume)
        run_config = saved
        run_config["fit"] = config.to_dict()
        run_config["world_size"] = distributed.world_size()  # of the latest chunk
    else:
        model_cfg = kind_task.model_config(opts, task, branches)
        if start is not None:  # the starting model's own network (and input scaling)
            model_cfg = type(model_cfg).from_dict(start.payload["model_config"])
        model = build_model(opts.kind, model_cfg.to_dict())
        if branches:
            _init_branches(model, branches)
        if start is not None:
            model.load_state_dict(start.model.state_dict())
        run_dir = distributed.from_main(lambda: new_run_dir(opts.kind, opts.out))
        run_config = {
            "name": opts.name or run_dir.name,
            "kind": opts.kind,
            "preset": opts.preset,
            "options": asdict(opts),
            **kind_task.run_record(opts),
            "model_config": model_cfg.to_dict(),
            **({"init": _init_record(start)} if start is not None else {}),
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "fit": config.to_dict(),
            "world_size": distributed.world_size(),  # processes training it (torchrun)
            "augment": augment_level(opts),
            "classes": list(task.classes),
            "preprocessing": task.preprocessing,
            "data": {**task.source, "is_demo": is_demo},
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "versions": {"python": platform.python_version(), "torch": torch.__version__},
        }
    with owned(run_dir) if main else nullcontext():  # one process trains into a folder
        if main:
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
            out_dir=run_dir if main else None,
            augment=kind_task.augment(augment_level(opts), task),
            callbacks=callbacks,
            stop_event=stop_event,
            resume=resume,
        )
        if not main:
            return RunResult(run_dir, {}, result)

        if isinstance(model, LateFusion):
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
            "skipped": skipped[:MAX_SKIPPED_LISTED],
            "n_skipped": len(skipped),
        }
        write_json(run_dir / "metrics.json", metrics)
        write_curves(run_dir, result.history, result.best_epoch)
        write_confusion(run_dir, metrics, f"{run_config['name']} ({split})")
        write_report(run_dir, run_config, metrics)
        return RunResult(run_dir, metrics, result)


# What a last.pt holds to continue its run (a best.pt has only the weights and scores).
RESUME_KEYS = (
    "epoch",
    "optimizer",
    "history",
    "best_epoch",
    "best_key",
    "since_best",
    "fit_config",
    "rng",
)


def _resume_problem(payload: dict) -> str | None:
    """What is wrong with a ``last.pt``'s loop state (numbers, history, loop settings), in
    a few words; None when resuming can rely on it."""
    whole = ("epoch", "best_epoch", "since_best")
    if not all(isinstance(payload[k], int) and payload[k] >= 0 for k in whole):
        return f"{', '.join(whole)} must be whole numbers"
    history = payload["history"]
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and isinstance(h.get("seconds"), (int, float)) for h in history
    ):
        return "its history is not a list of epochs"
    try:
        loop = FitConfig(**payload["fit_config"])
    except (TypeError, ValueError):
        return "its loop settings are not this version's"
    for f in fields(FitConfig):
        value, default = getattr(loop, f.name), f.default
        kinds = (int, float) if isinstance(default, float) else type(default)
        if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, kinds):
            return f"its loop setting {f.name} has the wrong type"
    if not isinstance(payload["rng"], dict) or not isinstance(payload["optimizer"], dict):
        return "its random or optimiser state is not a dictionary"
    return None


def _wrong_option_types(options: dict) -> list[str]:
    """The saved options whose values are not of ``TrainOptions``' declared types."""
    hints = typing.get_type_hints(TrainOptions)
    wrong = []
    for key, value in options.items():
        allowed = tuple(
            typing.get_origin(t) or t for t in (typing.get_args(hints[key]) or (hints[key],))
        )
        if float in allowed:
            allowed += (int,)
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            wrong.append(key)
    return wrong


# What resuming reads from a run's config.json.
RESUME_CONFIG_TYPES = {"kind": str, "options": dict, "data": dict}


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
    missing = [k for k in RESUME_KEYS if k not in payload]
    if missing:
        raise WorkbenchError(
            f"{describe(last)} lacks {', '.join(missing)}, so it cannot continue a run (a "
            "best.pt copied over it, or damaged); train anew, or --init from its best.pt."
        )
    lost = "the run's settings are lost; train anew, or --init from its best.pt"
    saved = read_run_json(run_dir / "config.json", RESUME_CONFIG_TYPES, lost)
    if not isinstance(saved["data"].get("path"), (str, list)):
        raise WorkbenchError(
            f"{describe(run_dir / 'config.json')} is damaged (its data has no path); {lost}."
        )
    if opts.kind != saved["kind"]:
        raise WorkbenchError(
            f"{describe(run_dir)} holds a {saved['kind']} run, not a {opts.kind} one; "
            f"resume it with 'train {saved['kind']} --resume {run_dir}'."
        )
    load_checkpoint(last, kind=opts.kind, payload=payload)  # weights fit their settings
    if problem := _resume_problem(payload):
        raise WorkbenchError(
            f"{describe(last)} is damaged ({problem}), so it cannot continue a run; train "
            "anew, or --init from its best.pt."
        )
    try:
        merged = TrainOptions(
            **{
                **saved["options"],
                "data": saved["data"]["path"],
                "resume": str(run_dir),
                "out": None,
            }
        )
    except TypeError as exc:  # options of another version, or edited by hand
        raise WorkbenchError(
            f"{describe(run_dir / 'config.json')} holds options this version does not know "
            f"({exc}); train anew, or --init from its best.pt."
        ) from None
    if wrong := _wrong_option_types(saved["options"]):
        raise WorkbenchError(
            f"{describe(run_dir / 'config.json')} is damaged ({', '.join(wrong)} "
            f"{'has' if len(wrong) == 1 else 'have'} the wrong type); {lost}."
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
