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

from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import FER2013, fingerprints

from .checkpoint import read_checkpoint
from .report import SPLIT_WORDS, actor_ranges, describe_split
from .runs import load_run
from .train import evaluate_checkpoint


def data_label(kind: str, split: dict, pairing: str = "class") -> str:
    """What a starter model learned from, in words, shown next to its predictions instead
    of a path on the machine it was trained on."""
    train = (split.get("actors") or {}).get("train") or []
    actors = f", actors {actor_ranges(train)}" if train else ""
    if split.get("is_demo"):
        return "built-in synthetic demo data"
    if kind == "face":
        return "FER-2013 training images"
    if kind == "speech":
        return f"RAVDESS speech{actors}"
    if pairing == "class":
        return f"FER-2013 faces + RAVDESS speech{actors}, paired by emotion"
    return f"RAVDESS audio-video takes{actors}"


LICENCES = {
    "face": "FER-2013 is distributed for research use (Goodfellow et al., 2013, via Kaggle); "
    "this model is a derivative of it, so use it for research and teaching only.",
    "speech": "RAVDESS (Livingstone & Russo, 2018) is licensed CC BY-NC-SA 4.0; this model "
    "is trained on it, so it is for non-commercial use only, shared alike, with attribution.",
}
LICENCES["fusion"] = LICENCES["face"] + " " + LICENCES["speech"]


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
        if key in defaults and options["kind"] != "fusion":
            continue
        if value is not None and value != defaults.get(key):
            words += [flag, str(value)]
    if options.get("kind") == "fusion" and options.get("fraction", 1.0) != 1.0:
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
    payload = read_checkpoint(run["dir"] / "best.pt")
    kind = payload["kind"]
    split = dict(payload.get("split") or {})
    split["label"] = data_label(
        kind, split, payload.get("preprocessing", {}).get("pairing", "class")
    )
    if kind == "face":
        train = FER2013(
            split["path"],
            "train",
            val_fraction=float(split.get("val_fraction", 0.1)),
            seed=int(split.get("seed", 0)),
        )
        split["train_fingerprints"] = torch.from_numpy(fingerprints(train.images.numpy()))
    starter = {
        key: payload[key]
        for key in ("format", "version", "kind", "model_config", "classes", "preprocessing")
    }
    starter.update(
        split=split,
        state_dict={k: v.contiguous() for k, v in payload["state_dict"].items()},
        epoch=payload.get("epoch"),
        val=payload.get("val"),
        starter={"run": run["name"], "recipe": recipe_command(run["config"]["options"])},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(starter, tmp)
    tmp.replace(out)
    # The card reports the shipped file as this version of the code runs it, measured now
    # on the run's own held-out split (the code that trained it may have scored it
    # differently, had preprocessing or the network's evaluation changed since).
    split_name = run["metrics"]["split"]
    fresh = evaluate_checkpoint(out, None if kind == "fusion" else split["path"], split=split_name)
    # The run's record travels inside the file, so the window can show the starter model's
    # curves and held-out confusion matrix beside the user's own runs.
    starter["run"] = starter_record(run, fresh)
    torch.save(starter, tmp)
    tmp.replace(out)
    card = out.with_suffix(".md")
    card.write_text(model_card(run, out, fresh, notes=notes), encoding="utf-8")
    return card


def starter_record(run: dict, fresh: dict) -> dict:
    """What ``runs.load_starter`` rebuilds a run from: the run's config and per-epoch
    history, and its metrics with the held-out scores replaced by ``fresh`` (the shipped
    file's own). Plain JSON types only, as ``torch.load(weights_only=True)`` requires."""
    scores = {k: fresh[k] for k in RECORD_SCORES if k in fresh}
    record = {
        "config": run["config"],
        "history": run["history"],
        "metrics": {**run["metrics"], **scores},
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


def model_card(run: dict, out: Path, fresh: dict, *, notes: str = "") -> str:
    """The Markdown card of the starter model ``out`` exported from ``run``; ``fresh`` is
    ``evaluate`` of ``out`` on the run's held-out split."""
    config = run["config"]
    metrics = {**run["metrics"], **{k: fresh[k] for k in MEASURED}}
    before = run["metrics"]["accuracy"]
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
    title = {"face": "Face", "speech": "Speech", "fusion": "Fusion"}[kind]
    model = f"{config['kind']} ({config['preset']} preset)"
    if kind == "fusion":
        model = f"fusion, {config['fusion']} design, {config['pairing']} pairing"
    size_mb = out.stat().st_size / 1e6
    lines = [
        f"# {title} starter model: `{out.name}`",
        "",
        f"Trained by this project on real data. Size {size_mb:.1f} MB, "
        f"{config['n_parameters']:,} parameters, classes: {', '.join(metrics['classes'])}.",
        "",
        "## Data and split",
        "",
        f"- Data: {data_label(kind, data, config.get('pairing', 'class'))} "
        f"(`{_paths(config['options']['data'])}`)",
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
        "Confusion matrix (counts; rows are the true emotion):",
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
        LICENCES[kind],
        "",
        "Re-score it on any copy of the data with "
        f"`python workbench.py evaluate pretrained/{out.name} --data PATH --split all --json`"
        + (
            "; images it trained on are counted (`seen_in_training`) from fingerprints "
            "stored in the file."
            if kind == "face"
            else "."
        ),
        "",
    ]
    return "\n".join(lines)


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
