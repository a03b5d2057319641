"""``evaluate`` (score a trained model on a data set) and ``export`` (a run as a starter model
with its model card)."""

from __future__ import annotations

import argparse
from pathlib import Path

from datasets.errors import WorkbenchError, describe
from training.evaluate import EVAL_SPLITS

from .common import add_command, json_text


def cmd_evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_checkpoint

    data = args.data[0] if args.data and len(args.data) == 1 else args.data
    metrics = evaluate_checkpoint(args.model, data, split=args.split)
    if args.json:
        print(json_text(metrics))
        return 0
    print(f"{metrics['kind']} model {metrics['model']} on {metrics['data']} ({metrics['split']}):")
    seen = metrics.get("seen_in_training")
    if seen:
        print(
            f"note: {seen} of these {metrics['n_items']} images are, pixel for pixel, among the "
            "model's training images, so this is not a fully held-out score"
        )
    elif metrics["held_out"] is not True:
        how = "includes" if metrics["held_out"] is False else "may include"
        print(f"note: this split {how} items the model trained on, so it is not a held-out score")
    for fold in metrics.get("folds", []):
        print(
            f"  model for actors {', '.join(map(str, fold['test_actors']))} (never heard): "
            f"accuracy {fold['accuracy']:.1%}, UAR {fold['uar']:.1%} ({fold['n_items']} items)"
        )
    if "folds" in metrics:
        print(
            f"cross-validated: accuracy {metrics['accuracy_mean']:.1%} ± "
            f"{metrics['accuracy_std']:.1%} over {len(metrics['folds'])} folds; pooled:"
        )
    print(
        f"accuracy {metrics['accuracy']:.1%}, UAR {metrics['uar']:.1%}, "
        f"macro F1 {metrics['macro_f1']:.1%} on {metrics['n_items']} items"
    )
    for name, m in metrics["per_class"].items():
        print(
            f"  {name:<10} recall {m['recall']:6.1%}  precision {m['precision']:6.1%}  n={m['support']}"
        )
    for m in metrics.get("members", []):  # class-paired fusion: each modality on the same pairs
        heard = m.get("heard_actors")
        print(
            f"{m['member']} ({m['model']}): accuracy {m['accuracy']:.1%}, UAR {m['uar']:.1%} on "
            f"the same {m['n_items']} pairs"
            + (f"; it heard actor(s) {', '.join(map(str, heard))}" if heard else "")
        )
    return 0


def add_evaluate(subparsers) -> None:
    s = add_command(subparsers, "evaluate", "score a trained model on a data set", cmd_evaluate)
    s.add_argument("model", metavar="RUN_OR_CHECKPOINT", help="a run folder or a .pt file")
    s.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        help="FER-2013 folder or CSV, or RAVDESS folder, or 'demo' (default: data/fer2013 "
        "or data/ravdess if present, else the demo data; a fusion model: the data it "
        "trained on, or its kind of folders)",
    )
    s.add_argument(
        "--split",
        choices=EVAL_SPLITS,
        default="auto",
        help="which part: auto = test if the data has it, else validation (for a RAVDESS "
        "folder of unseen actors: all; for cross-validation models averaged: cv, each "
        "model on the actors it never heard); train and all may include training items",
    )
    s.add_argument("--json", action="store_true", help="print JSON")


def cmd_export(args: argparse.Namespace) -> int:
    if Path(args.out).suffix.lower() not in (".pt", ".onnx"):
        raise WorkbenchError(
            f"{describe(args.out)} must end in .pt (a starter model) or .onnx (an ONNX model); "
            "name the file to write."
        )
    if Path(args.out).suffix.lower() == ".onnx":  # a graph for other programs: cli/onnx.py
        from .onnx import cmd_export_onnx

        return cmd_export_onnx(args)
    from training.export import export_folds, export_starter, is_folds_folder

    notes = ""
    if args.notes:
        try:
            notes = Path(args.notes).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkbenchError(
                f"Cannot read the notes file {args.notes} ({exc.__class__.__name__}); "
                "pass a UTF-8 Markdown file."
            ) from exc
    # A cross-validation folder (train speech --folds) ships as its fold models averaged.
    export = export_folds if is_folds_folder(args.run) else export_starter
    card = export(args.run, args.out, notes=notes)
    size = Path(args.out).stat().st_size / 1e6
    print(f"starter model: {args.out} ({size:.1f} MB)")
    print(f"model card: {card}")
    return 0


def add_export(subparsers) -> None:
    s = add_command(
        subparsers,
        "export",
        "pack a finished run as a starter model with its model card, or export a model "
        "to ONNX (OUT.onnx)",
        cmd_export,
    )
    s.add_argument(
        "run",
        metavar="RUN_DIR",
        help="a finished run folder, or a finished 'train speech --folds' folder (its "
        "fold models ship averaged); for OUT.onnx, a run folder or a .pt checkpoint",
    )
    s.add_argument(
        "out",
        metavar="OUT.pt|OUT.onnx",
        help="file to write: a starter model, e.g. pretrained/face_fer2013.pt, or an ONNX "
        "model with its JSON sidecar beside it, e.g. face.onnx and face.json",
    )
    s.add_argument(
        "--notes", metavar="FILE.md", help="Markdown for the card's 'where it fails' section"
    )
