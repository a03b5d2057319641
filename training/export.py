"""Starter models: a finished run's best epoch packed for ``pretrained/``, with its model card.

``export_starter(run_dir, "pretrained/face_fer2013.pt")`` writes the weights (no optimiser
state), the model card ``pretrained/face_fer2013.md`` and, for a face model, fingerprints
of the training images, so that ``evaluate`` can tell whether a FER-2013 copy someone
points it at holds images the model learned from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from datasets.errors import WorkbenchError, describe, write_atomically
from datasets.ravdess import actor_ranges
from datasets.sources import DEMO_LABEL

from .checkpoint import read_checkpoint
from .evaluate import evaluate_checkpoint
from .records import Run
from .report import SPLIT_WORDS, describe_split
from .runs import load_run, read_run_json
from .tasks import task_for
from .wording import model_words


def data_label(kind: str, split: dict) -> str:
    """What a starter model learned from, in words, shown next to its predictions instead
    of a path on the machine it was trained on."""
    return DEMO_LABEL if split.get("is_demo") else task_for(kind).data_label(split)


def recipe_command(options: dict) -> str:
    """The ``workbench.py train`` command line that reproduces a run (its ``options``)."""
    words = ["python workbench.py train", options["kind"]]
    data = options.get("data")
    if data:
        words += ["--data", *(data if isinstance(data, list) else [data])]
    if options.get("preset", "quick") != "quick":
        words += ["--preset", options["preset"]]
    flags = {
        "fusion": "--fusion",
        "pairing": "--pairing",
        "calm": "--calm",
        "init": "--init",
        "face_model": "--face-model",
        "speech_model": "--speech-model",
        "epochs": "--epochs",
        "batch_size": "--batch-size",
        "lr": "--lr",
        "patience": "--patience",
        "variant": "--variant",
        "augment": "--augment",
    }
    defaults = {"fusion": "concat", "pairing": "takes", "calm": "drop"}
    for key, flag in flags.items():
        value = options.get(key)
        if value is not None and value != defaults.get(key):
            words += [flag, str(value)]
    if options.get("fraction", 1.0) != 1.0:
        words += ["--fraction", str(options["fraction"])]
    if options.get("seed"):
        words += ["--seed", str(options["seed"])]
    return " ".join(words)


def export_starter(run_dir: str | Path, out: str | Path, *, notes: str = "") -> Path:
    """Pack ``run_dir``'s best epoch as the starter model ``out`` and write its card.

    ``notes`` (Markdown) goes into the card under "Where it fails, and why".
    Returns the card's path.
    """
    run = load_run(run_dir)
    out = Path(out)
    if out.suffix != ".pt":
        raise WorkbenchError(f"{describe(out)} must end in .pt; name the starter model file.")
    payload = read_checkpoint(run.dir / "best.pt")
    kind = payload["kind"]
    split = dict(payload.get("split") or {})
    split["label"] = data_label(kind, split)
    split.update(task_for(kind).starter_split(split))
    starter = {
        key: payload[key]
        for key in ("format", "version", "kind", "model_config", "classes", "preprocessing")
    }
    starter.update(
        split=split,
        state_dict={k: v.contiguous() for k, v in payload["state_dict"].items()},
        epoch=payload.get("epoch"),
        val=payload.get("val"),
        starter={"run": run.name, "recipe": recipe_command(run.config["options"])},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda tmp: torch.save(starter, tmp))
    # The card reports the shipped file as this version of the code runs it, measured now
    # on the run's own held-out split (the code that trained it may have scored it
    # differently, had preprocessing or the network's evaluation changed since).
    split_name = run.metrics["split"]
    fresh = evaluate_checkpoint(out, split["path"], split=split_name)
    # The run's record travels inside the file, so the window can show the starter model's
    # curves and held-out confusion matrix beside the user's own runs.
    starter["run"] = starter_record(run, fresh)
    write_atomically(out, lambda tmp: torch.save(starter, tmp))
    card = out.with_suffix(".md")
    card.write_text(model_card(run, out, fresh, notes=notes), encoding="utf-8")
    return card


def starter_record(run: Run, fresh: dict) -> dict:
    """What ``runs.load_starter`` rebuilds a run from: the run's config and per-epoch
    history, and its metrics with the held-out scores replaced by ``fresh`` (the shipped
    file's own). Plain JSON types only, as ``torch.load(weights_only=True)`` requires."""
    scores = {k: fresh[k] for k in RECORD_SCORES if k in fresh}
    record = {
        "config": run.config,
        "history": run.history,
        "metrics": {**run.metrics, **scores},
    }
    return json.loads(json.dumps(record))


# The scores an exported record takes from the fresh evaluation of the shipped file.
RECORD_SCORES = (
    "accuracy",
    "uar",
    "macro_f1",
    "per_class",
    "confusion",
    "confusion_normalized",
    "classes",
    "n_items",
    "loss",
    "split",
)


def weakest_classes(metrics: dict, n: int = 3) -> list[str]:
    """The ``n`` lowest-recall classes, each with what it is most often taken for."""
    classes = metrics["classes"]
    confusion = np.asarray(metrics["confusion"], dtype=float)
    lines = []
    for i in np.argsort(confusion.diagonal() / confusion.sum(1).clip(min=1))[:n]:
        row = confusion[i].copy()
        total = row.sum()
        row[i] = -1
        j = int(row.argmax())
        lines.append(
            f"- **{classes[i]}**: recall {metrics['per_class'][classes[i]]['recall']:.0%} "
            f"({int(total)} items); most often taken for {classes[j]} "
            f"({confusion[i, j] / max(total, 1):.0%})."
        )
    return lines


def confusion_table(metrics: dict) -> list[str]:
    """The confusion matrix as a Markdown table: rows true, columns predicted, counts."""
    classes = metrics["classes"]
    lines = [
        "| true \\ predicted | " + " | ".join(classes) + " | recall |",
        "|---" * (len(classes) + 2) + "|",
    ]
    for name, row in zip(classes, metrics["confusion"]):
        recall = metrics["per_class"][name]["recall"]
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + f" | {recall:.0%} |")
    return lines


MEASURED = ("accuracy", "uar", "macro_f1", "per_class", "confusion", "n_items", "split")


def model_card(run: Run, out: Path, fresh: dict, *, notes: str = "") -> str:
    """The Markdown card of the starter model ``out`` exported from ``run``; ``fresh`` is
    ``evaluate`` of ``out`` on the run's held-out split."""
    config = run.config
    metrics = {**run.metrics, **{k: fresh[k] for k in MEASURED}}
    before = run.metrics["accuracy"]
    if abs(before - metrics["accuracy"]) >= 5e-4:
        changed = [
            "",
            f"Measured on the exported file with `evaluate`; the run's own report, written "
            f"when training ended, says {before:.1%} (code of that day).",
        ]
    else:
        changed = []
    kind = config["kind"]
    data = config["data"]
    title = kind.capitalize()
    model = model_words(config)
    size_mb = out.stat().st_size / 1e6
    lines = [
        f"# {title} starter model: `{out.name}`",
        "",
        f"Trained by this project on real data. Size {size_mb:.1f} MB, "
        f"{config['n_parameters']:,} parameters, classes: {', '.join(metrics['classes'])}.",
        "",
        "## Data and split",
        "",
        f"- Data: {data_label(kind, data)} (`{_paths(config['options']['data'])}`)",
        f"- Split: {describe_split(data)}",
        *([f"- Pairs: {data['note']}"] if data.get("note") else []),
        *([f"- Face test: {data['face_test']}"] if data.get("face_test") else []),
        f"- Items: {metrics['n_train']} train, {metrics['n_val']} validation, "
        f"{metrics['n_test']} test",
        "",
        "## Recipe",
        "",
        "```",
        recipe_command(config["options"]) + " --out RUN_DIR",
        f"python workbench.py export RUN_DIR pretrained/{out.name}",
        "```",
        "",
        f"Model: {model}; augmentation {config.get('augment', 'none')}; "
        f"{metrics['epochs_run']} epochs run, best epoch {metrics['best_epoch']} "
        "(chosen on validation accuracy).",
        *(_late_lines(config) if config.get("fusion") == "late" else []),
        "",
        "## Device and time",
        "",
        f"{metrics['seconds'] / 60:.0f} min ({metrics['seconds']:.0f} s) on "
        f"{metrics['device']}; torch {config.get('versions', {}).get('torch', '?')}, "
        f"trained {config.get('created', '?')}.",
        "",
        f"## Held-out metrics — {SPLIT_WORDS[metrics['split']]}",
        "",
        f"Accuracy **{metrics['accuracy']:.1%}**, UAR {metrics['uar']:.1%}, macro F1 "
        f"{metrics['macro_f1']:.1%} on {metrics['n_items']} items.",
        *changed,
        *(
            [
                "",
                f"Validation: accuracy {metrics['val']['accuracy']:.1%}, "
                f"UAR {metrics['val']['uar']:.1%}.",
            ]
            if metrics["split"] == "test" and "val" in metrics
            else []
        ),
        "",
        *card_tail("Confusion matrix", metrics, kind, notes),
        "Re-score it on any copy of the data with "
        f"`python workbench.py evaluate pretrained/{out.name} --data PATH --split all --json`"
        + (
            "; images it trained on are counted (`seen_in_training`) from fingerprints "
            "stored in the file."
            if fresh.get("seen_in_training") is not None
            else "."
        ),
        "",
    ]
    return "\n".join(lines)


def card_tail(title: str, metrics: dict, kind: str, notes: str) -> list[str]:
    """A card's confusion matrix, weakest classes with ``notes``, and licence."""
    return [
        f"{title} (counts; rows are the true emotion):",
        "",
        *confusion_table(metrics),
        "",
        "## Where it fails, and why",
        "",
        *weakest_classes(metrics),
        *(["", notes.strip()] if notes.strip() else []),
        "",
        "## Licence",
        "",
        task_for(kind).licence,
        "",
    ]


def _late_lines(config: dict) -> list[str]:
    search = config.get("late_weight_search") or {}
    line = f"Late-fusion face weight {config['model_config']['weight']:.2f}, chosen on validation"
    if search:
        line += (
            f": validation accuracy {search['val_accuracy']:.1%} fused, against "
            f"{search['face_accuracy']:.1%} for the face member alone and "
            f"{search['speech_accuracy']:.1%} for the speech member alone"
        )
    return [line + "."]


def _paths(path: str | list[str]) -> str:
    return " + ".join(path) if isinstance(path, list) else path


# ------------------------------------------------------------ cross-validation ensembles


def is_folds_folder(path: str | Path) -> bool:
    """Whether ``path`` is the folder of a finished ``train speech --folds`` run."""
    results = Path(path).expanduser() / "results.json"
    if not results.is_file():
        return False
    try:
        return json.loads(results.read_text(encoding="utf-8")).get("experiment") == "actor-folds"
    except (OSError, ValueError, AttributeError):
        return False


def export_folds(folder: str | Path, out: str | Path, *, notes: str = "") -> Path:
    """Pack every fold model of an actor-wise cross-validation (``train speech --folds``)
    as one starter model ``out``: an ``Ensemble`` averaging their probabilities.

    Between them the fold models learned from every actor of the folder, so the ensemble
    has no held-out actors of its own; its card reports the cross-validated estimate —
    each fold model re-scored now, with this code, on the test actors it never heard —
    and says so. Returns the card's path.
    """
    from datasets.ravdess import ActorSplit
    from models import EnsembleConfig

    folder = Path(folder).expanduser()
    out = Path(out)
    if out.suffix != ".pt":
        raise WorkbenchError(f"{describe(out)} must end in .pt; name the starter model file.")
    summary = read_run_json(
        folder / "results.json",
        {"finished": int, "folds": int, "rows": list, "protocol": str},
        f"run 'train speech --folds K --out {folder}' again to rewrite it",
    )
    if summary["finished"] != summary["folds"]:
        raise WorkbenchError(
            f"{describe(folder)} has {summary['finished']} of {summary['folds']} folds "
            f"finished; run 'train speech --folds {summary['folds']} --out {folder}' again "
            "to finish it, then export."
        )
    if not all(
        isinstance(row, dict) and isinstance(row.get("run"), str) for row in summary["rows"]
    ):
        raise WorkbenchError(
            f"{describe(folder / 'results.json')} is damaged (a fold row names no run); run "
            f"'train speech --folds {summary['folds']} --out {folder}' again to rewrite it."
        )
    runs = [load_run(row["run"]) for row in summary["rows"]]
    payloads = [read_checkpoint(run.dir / "best.pt") for run in runs]
    first = payloads[0]
    for run, p in zip(runs, payloads):
        if (p["kind"], p["classes"], p["preprocessing"]) != (
            first["kind"],
            first["classes"],
            first["preprocessing"],
        ):
            raise WorkbenchError(
                f"{describe(run.dir)} was trained with other classes or features than "
                "the first fold; every fold must come from the same recipe."
            )
    folds = [ActorSplit.from_dict(p["split"]["actors"]) for p in payloads]
    heard = sorted({a for f in folds for a in (*f.train, *f.val)})
    split = {
        **{k: v for k, v in first["split"].items() if k != "actors"},
        # Every actor was heard by some member: none is held out from the ensemble.
        "actors": {"train": heard, "val": [], "test": []},
        "folds": [f.to_dict() for f in folds],
    }
    split["label"] = (
        f"RAVDESS speech, actors {actor_ranges(heard)} "
        f"({len(folds)} cross-validation models averaged)"
    )
    config = EnsembleConfig(
        member_kind=first["kind"],
        members=[p["model_config"] for p in payloads],
        n_classes=len(first["classes"]),
    )
    state = {
        f"members.{i}.{k}": v.contiguous()
        for i, p in enumerate(payloads)
        for k, v in p["state_dict"].items()
    }
    options = dict(runs[0].config["options"])
    options.update(actors=None, out=None, name=None)
    recipe = f"{recipe_command(options)} --folds {summary['folds']}"
    starter = {key: first[key] for key in ("format", "version", "kind", "classes", "preprocessing")}
    starter.update(
        model_config=config.to_dict(),
        split=split,
        state_dict=state,
        epoch=None,
        val=None,
        starter={"run": folder.name, "recipe": recipe, "folds": len(folds)},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda tmp: torch.save(starter, tmp))
    # The estimate, measured on the shipped file as this code runs it: each member on the
    # test actors of its own fold, which it never heard (``evaluate --split cv``).
    cv = evaluate_checkpoint(out, first["split"]["path"], split="cv")
    estimate = {
        "protocol": summary["protocol"],
        "folds": [
            {**f, "val_actors": list(fold.val), "best_epoch": run.metrics["best_epoch"]}
            for f, fold, run in zip(cv["folds"], folds, runs)
        ],
        **{k: cv[k] for k in ("accuracy_mean", "accuracy_std", "uar_mean", "uar_std")},
    }
    starter["cv"] = json.loads(json.dumps(estimate))
    # The window shows the first fold's curves and the pooled held-out confusion matrix.
    first_run = runs[0]
    metrics = {
        **first_run.metrics,
        **{k: cv[k] for k in RECORD_SCORES if k in cv},
        "split": "test",
        "n_test": cv["n_items"],
        "cv": estimate,
    }
    record_config = {
        **first_run.config,
        "name": f"{len(folds)} cross-validation models (curves: fold 1)",
        "model_config": config.to_dict(),
        "n_parameters": len(runs) * int(first_run.config["n_parameters"]),
    }
    starter["run"] = json.loads(
        json.dumps({"config": record_config, "history": first_run.history, "metrics": metrics})
    )
    write_atomically(out, lambda tmp: torch.save(starter, tmp))
    card = out.with_suffix(".md")
    card.write_text(
        folds_card(runs, out, summary, estimate, cv, recipe, notes=notes), encoding="utf-8"
    )
    return card


def folds_card(
    runs: list[Run],
    out: Path,
    summary: dict,
    estimate: dict,
    cv: dict,
    recipe: str,
    *,
    notes: str = "",
) -> str:
    """The model card of a cross-validation ensemble (see ``export_folds``)."""
    config = runs[0].config
    kind = config["kind"]
    n = len(runs)
    size_mb = out.stat().st_size / 1e6
    heard = sorted({a for f in estimate["folds"] for a in f["test_actors"]})
    seconds = sum(r.metrics["seconds"] for r in runs)
    rows = [
        f"| {i} | {actor_ranges(f['test_actors'])} | {actor_ranges(f['val_actors'])} | "
        f"{f['accuracy']:.1%} | {f['uar']:.1%} | {f['best_epoch']} |"
        for i, f in enumerate(estimate["folds"], start=1)
    ]
    lines = [
        f"# {kind.capitalize()} starter model: `{out.name}`",
        "",
        f"Trained by this project on real data: the {n} models of an actor-wise "
        f"cross-validation, whose probabilities are averaged. Size {size_mb:.1f} MB, "
        f"{n} x {config['n_parameters']:,} parameters, classes: {', '.join(cv['classes'])}.",
        "",
        "## Data and split",
        "",
        f"- Data: RAVDESS speech (`{config['options']['data']}`), actors {actor_ranges(heard)}",
        f"- Protocol: {summary['protocol']}. Each model trained on the actors of "
        f"{n - 2} folds, picked its epoch on the next fold's actors and was scored on its "
        "own fold's actors, which it never heard.",
        "- Between them the models heard every actor, so **this file has no held-out "
        "actors of its own**: the accuracy below is the cross-validated estimate of the "
        "recipe (each fold model on its unheard actors), not a score of the averaged "
        "file, which can only be measured on other speakers. Averaging usually does at "
        "least as well as its members.",
        "",
        "## Recipe",
        "",
        "```",
        f"{recipe} --out RUN_DIR",
        f"python workbench.py export RUN_DIR pretrained/{out.name}",
        "```",
        "",
        f"Model: {kind} ({config['preset']} preset), augmentation "
        f"{config.get('augment', 'none')}, {config['fit']['epochs']} epochs per fold "
        "(each fold's best epoch chosen on its validation actors).",
        "",
        "## Device and time",
        "",
        f"{seconds / 60:.0f} min ({seconds:.0f} s) of training over the {n} folds on "
        f"{runs[0].metrics['device']}; torch "
        f"{config.get('versions', {}).get('torch', '?')}.",
        "",
        "## Held-out metrics — cross-validated (each recording scored by a model that never "
        "heard its speaker)",
        "",
        f"Accuracy **{estimate['accuracy_mean']:.1%} ± {estimate['accuracy_std']:.1%}** "
        f"(mean ± standard deviation over the {n} folds), UAR {estimate['uar_mean']:.1%} ± "
        f"{estimate['uar_std']:.1%}; pooled over all {cv['n_items']} recordings: accuracy "
        f"{cv['accuracy']:.1%}, UAR {cv['uar']:.1%}, macro F1 "
        f"{cv['macro_f1']:.1%}.",
        "",
        "| fold | test actors | validation actors | test accuracy | test UAR | best epoch |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        *card_tail("Pooled confusion matrix", cv, kind, notes),
        "Scored on other speakers with "
        f"`python workbench.py evaluate pretrained/{out.name} --data PATH --split all --json`.",
        "",
    ]
    return "\n".join(lines)
