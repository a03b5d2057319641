#!/usr/bin/env python3
"""Emotion Workbench: with no arguments it opens the window; subcommands run jobs headless.

    python workbench.py                        # the GUI
    python workbench.py demo                   # train face and speech models on the demo data
    python workbench.py train face|speech [--data PATH|demo] [--epochs N] [--preset quick|full] ...
    python workbench.py evaluate RUN_OR_CHECKPOINT --data PATH [--split ...] [--json]
    python workbench.py predict FILE [--model RUN_OR_CHECKPOINT] [--speech-model RUN] [--json]
    python workbench.py compare RUN_DIR... [--out PNG]
    python workbench.py data-info PATH [--json]
    python workbench.py make-demo-data [--out DIR] [--seed N]

Bad input never ends in a traceback: the error is one sentence on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from datasets.errors import WorkbenchError

EXIT_BAD_INPUT = 2


def cmd_data_info(args: argparse.Namespace) -> int:
    from datasets.info import data_info, format_info

    info = data_info(args.path)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def cmd_make_demo_data(args: argparse.Namespace) -> int:
    from datasets import paths
    from datasets.demo import make_demo_data

    out = Path(args.out) if args.out else paths.demo_dir()
    t0 = time.perf_counter()
    summary = make_demo_data(out, seed=args.seed, progress=_print_progress)
    print(f"\rdemo data written to {out} in {time.perf_counter() - t0:.1f} s")
    print(json.dumps(summary, indent=2, default=str))
    return 0


def _train_options(args: argparse.Namespace, kind: str, **overrides):
    from training.train import TrainOptions

    data = getattr(args, "data", None)
    if isinstance(data, list):  # --data takes one path, or two for class-paired fusion
        data = data[0] if len(data) == 1 else data
        if isinstance(data, list) and kind != "fusion":
            raise WorkbenchError(
                f"--data takes one path for a {kind} model, but {len(data)} were given; "
                "pass one folder or file."
            )
    opts = TrainOptions(
        kind=kind,
        data=data,
        preset=args.preset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        seed=args.seed,
    )
    for key, value in overrides.items():
        setattr(opts, key, value)
    return opts


def _run_training(opts, label: str = "", job=None):
    """Train with a progress bar; the first Ctrl+C stops after the current batch and still
    scores and saves the best epoch (a second one aborts). ``job`` replaces
    ``train_model`` (same arguments), e.g. for an experiment."""
    import signal
    import threading

    from training.callbacks import ProgressBar
    from training.train import train_model

    stop = threading.Event()

    def on_sigint(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        print("\nstopping after this batch (Ctrl+C again to abort)…", file=sys.stderr)
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        return (job or train_model)(
            opts,
            callbacks=[ProgressBar(label)],
            stop_event=stop,
            status=lambda msg: print(f"{label}{msg}", file=sys.stderr),
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def _summary(metrics: dict) -> str:
    where = "test split" if metrics["split"] == "test" else "validation split"
    return (
        f"held-out {where}: accuracy {metrics['accuracy']:.1%}, UAR {metrics['uar']:.1%}, "
        f"macro F1 {metrics['macro_f1']:.1%} ({metrics['n_items']} items)"
    )


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        fixed = [
            flag
            for flag, value in (
                ("--data", args.data),
                ("--batch-size", args.batch_size),
                ("--lr", args.lr),
                ("--variant", args.variant),
                ("--augment", args.augment),
                ("--patience", args.patience),
                ("--optimizer", args.optimizer),
                ("--mixup", args.mixup),
                ("--init", args.init),
                ("--out", args.out),
                ("--fusion", args.fusion),
                ("--pairing", args.pairing),
                ("--face-model", args.face_model),
                ("--speech-model", args.speech_model),
                ("--preset", args.preset != "quick" or None),
                ("--seed", args.seed or None),
            )
            if value is not None
        ]
        if fixed:
            raise WorkbenchError(
                f"--resume continues with the run's own settings; only --epochs (the new "
                f"total) and --device can change, so drop {', '.join(fixed)}."
            )
    fusion_flags = {
        "fusion": args.fusion,
        "pairing": args.pairing,
        "n_frames": args.frames,
        "calm": args.calm,
        "fraction": args.fraction,
        "face_model": args.face_model,
        "speech_model": args.speech_model,
    }
    given = {k: v for k, v in fusion_flags.items() if v is not None}
    if given and args.kind != "fusion":
        flags = ", ".join("--" + k.replace("_", "-").replace("n-frames", "frames") for k in given)
        raise WorkbenchError(f"{flags} apply to fusion models only; drop them or train fusion.")
    opts = _train_options(
        args,
        args.kind,
        out=args.out,
        resume=args.resume,
        variant=args.variant,
        patience=args.patience,
        augment=args.augment,
        optimizer=args.optimizer,
        mixup=args.mixup,
        init=args.init,
        **given,
    )
    if args.folds is not None:
        return _train_folds(args, opts)
    result = _run_training(opts)
    print(f"run folder: {result.run_dir}")
    print(_summary(result.metrics))
    return 0


def _train_folds(args: argparse.Namespace, opts) -> int:
    """``train speech --folds K|loao``: actor-wise cross-validation into one folder."""
    from training.experiment import actor_folds, folds_table

    if args.kind != "speech":
        raise WorkbenchError("--folds applies to speech models only; drop it or train speech.")
    if args.resume:
        raise WorkbenchError(
            "A cross-validation resumes by running the same command with the same --out "
            "again; drop --resume."
        )
    folds = None if args.folds == "loao" else args.folds

    def job(o, **kwargs):
        return actor_folds(o, folds=folds, out=args.out, **kwargs)

    summary = _run_training(opts, job=job)
    print()
    print(folds_table(summary))
    print(f"table, chart and fold runs: {summary['folder']} ({summary['seconds']:.0f} s)")
    return 0


def folds_arg(text: str) -> int | str:
    """``--folds``: a number of folds (3 or more), or ``loao``."""
    if text == "loao":
        return text
    try:
        return int_at_least(3)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a number of folds, 3 or more, or loao; got {text!r}"
        ) from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from training.train import evaluate_checkpoint

    data = args.data[0] if args.data and len(args.data) == 1 else args.data
    metrics = evaluate_checkpoint(args.model, data, split=args.split)
    if args.json:
        print(json.dumps(metrics, indent=2))
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
    return 0


def _print_bars(probabilities: dict[str, float], indent: str = "  ") -> None:
    for name, p in sorted(probabilities.items(), key=lambda kv: -kv[1]):
        print(f"{indent}{name:<10} {p:6.1%}  {'#' * round(40 * p)}")


def _print_warnings(warnings: list[str]) -> None:
    """Each reason to trust a prediction less, on its own line, under the answer."""
    for warning in warnings:
        print(f"warning: {warning}")


def cmd_predict(args: argparse.Namespace) -> int:
    from training.predict import predict_file

    pred = predict_file(
        args.file,
        model=args.model,
        detect=not args.no_detect,
        speech_model=args.speech_model,
        face_model=args.face_model,
        fusion_model=args.fusion_model,
    )
    if args.json:
        print(json.dumps(pred.to_dict(), indent=2))
        return 0
    if pred.kind != "video":
        print(f"{pred.file}: {pred.top}  (model: {pred.model}, trained on {pred.trained_on})")
        _print_warnings(pred.warnings)
        _print_bars(pred.probabilities)
        return 0
    face, speech, fused = pred.details["face"], pred.details["speech"], pred.details["fused"]
    mean = face["mean"]
    face_top = max(mean, key=mean.get)
    print(pred.file)
    print(
        f"fused: {pred.top} {pred.probabilities[pred.top]:.0%}  ({fused['method']}"
        + (f"; model: {fused['model']}, trained on {fused['trained_on']}" if fused["model"] else "")
        + ")"
    )
    if fused.get("note"):
        print(f"  ({fused['note']})")
    _print_warnings(pred.warnings)
    _print_bars(pred.probabilities)
    print(
        f"face: {face_top} {mean[face_top]:.0%}, the mean over the "
        f"{face['frames_with_face']} of {face['frames_sampled']} sampled frames with a face  "
        f"(face model: {face['model']}, trained on {face['trained_on']})"
    )
    _print_bars(mean)
    print("  per frame:")
    for f in pred.details["frames"]:
        probs = f["probabilities"]
        said = f"{max(probs, key=probs.get)} {max(probs.values()):.0%}" if probs else "no face"
        print(f"    {f['time']:5.2f} s  {said}")
    top = speech["top"]
    print(
        f"speech: {top} {speech['probabilities'][top]:.0%}, {speech['seconds']:.1f} s of sound "
        f"from {speech['audio_from']}  (speech model: {speech['model']}, trained on "
        f"{speech['trained_on']})"
    )
    _print_bars(speech["probabilities"])
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from training.experiment import data_efficiency, results_table

    base = _train_options(
        args,
        "fusion",
        pairing=args.pairing,
        face_model=args.face_model,
        speech_model=args.speech_model,
    )
    if args.frames is not None:
        base.n_frames = args.frames

    def job(opts, **kwargs):
        return data_efficiency(
            opts, fractions=args.fractions, designs=args.designs, out=args.out, **kwargs
        )

    summary = _run_training(base, job=job)
    print()
    print(results_table(summary))
    print(f"table, chart and runs: {summary['folder']} ({summary['seconds']:.0f} s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from training.report import write_comparison
    from training.runs import load_run

    runs = [load_run(d) for d in args.runs]
    out = Path(args.out)
    write_comparison(out, runs)
    for r in runs:
        m = r["metrics"]
        print(
            f"{r['name']:<32} {r['kind']:<7} {m['split']:<5} acc {m['accuracy']:6.1%}  UAR {m['uar']:6.1%}"
        )
    print(f"comparison chart: {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
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


def cmd_demo(args: argparse.Namespace) -> int:
    from datasets import paths
    from datasets.sources import ensure_demo
    from training.report import write_comparison
    from training.runs import load_run, new_run_dir

    t0 = time.perf_counter()
    root = ensure_demo(progress=_print_progress)
    print(f"\rbuilt-in synthetic demo data in {root}", file=sys.stderr)
    base = Path(args.out) if args.out else new_run_dir("demo")
    base.mkdir(parents=True, exist_ok=True)
    results = []
    for kind in ("face", "speech", "fusion"):
        # The fusion model: concat design on the demo's audio-video takes.
        opts = _train_options(args, kind, data="demo", out=str(base / kind), name=f"{kind} (demo)")
        results.append(_run_training(opts, label=f"[{kind}] "))
    runs = [load_run(r.run_dir) for r in results]
    write_comparison(base / "comparison.png", runs)
    print(
        f"\nDemo on {paths.demo_dir()} (built-in synthetic demo data), {time.perf_counter() - t0:.0f} s:"
    )
    for r in results:
        print(f"  {r.run_dir.name:<7} {_summary(r.metrics)}")
    print(
        "  (face: FER-style faces, 7 emotions; speech and fusion: held-out actors, 8 emotions; "
        "fusion: concat design on audio-video takes)"
    )
    print(f"reports: {base}/*/report.md   comparison chart: {base / 'comparison.png'}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        print(
            "No display is available for the window; run 'make demo' (or 'python workbench.py "
            "demo') to use the workbench from the terminal instead.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from emotion_gui.app import main as gui_main

    return gui_main()


def _print_progress(stage: str, fraction: float) -> None:
    print(f"\r{stage}: {100 * fraction:5.1f}%   ", end="", file=sys.stderr, flush=True)


def int_at_least(lowest: int):
    """argparse type: a whole number >= ``lowest`` (a usage error, exit status 2, otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = lowest - 1
        if value < lowest:
            raise argparse.ArgumentTypeError(
                f"expected a whole number {lowest} or more, got {text!r}"
            )
        return value

    return parse


non_negative_int = int_at_least(0)
positive_int = int_at_least(1)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number such as 0.001, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected 0 or a positive number such as 0.2, got {text!r}"
        )
    return value


DEVICES = ("auto", "cpu", "cuda", "mps")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workbench.py",
        description="Emotion Workbench: multimodal emotion recognition for the classroom.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("data-info", help="what a FER-2013 or RAVDESS folder holds")
    s.add_argument("path", help="a FER-2013 folder or CSV, or a RAVDESS folder")
    s.add_argument("--json", action="store_true", help="print JSON instead of text")
    s.set_defaults(func=cmd_data_info)

    s = sub.add_parser("make-demo-data", help="generate the built-in synthetic demo data")
    s.add_argument("--out", help="folder to write (default: data/demo)")
    s.add_argument("--seed", type=non_negative_int, default=0, help="0 or more (default 0)")
    s.set_defaults(func=cmd_make_demo_data)

    def training_args(s: argparse.ArgumentParser, *, data: bool = True) -> None:
        if data:
            s.add_argument(
                "--data",
                nargs="+",
                metavar="PATH",
                help="FER-2013 folder or CSV (face), RAVDESS folder (speech), or 'demo' "
                "(default: data/fer2013 or data/ravdess if present, else the demo data); "
                "fusion: a RAVDESS folder with video clips (--pairing takes), or a FER-2013 "
                "and a RAVDESS folder (--pairing class)",
            )
        s.add_argument(
            "--epochs",
            type=positive_int,
            help="epochs in all; with --resume, the new total (default: the preset's)",
        )
        s.add_argument(
            "--batch-size", type=int_at_least(2), help="batch size, 2 or more (default: preset)"
        )
        s.add_argument("--lr", type=positive_float, help="learning rate (default: preset)")
        s.add_argument(
            "--preset",
            choices=("quick", "full"),
            default="quick",
            help="quick: small network for a classroom CPU; full: the starter models' network "
            "(a GPU, or a long resumable CPU run)",
        )
        s.add_argument(
            "--device",
            choices=DEVICES,
            default="auto",
            help="auto picks CUDA, then Apple MPS, then the CPU",
        )
        s.add_argument(
            "--seed",
            type=non_negative_int,
            default=0,
            help="random seed; also picks the FER-2013 validation hold-out when the data "
            "has no PublicTest rows (default 0)",
        )

    s = sub.add_parser("train", help="train a face, speech or fusion model into a run folder")
    s.add_argument("kind", choices=("face", "speech", "fusion"), help="which model to train")
    training_args(s)
    s.add_argument("--out", help="run folder to write (default: runs/<time>-<kind>)")
    s.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its last.pt with its own data and settings "
        "(only --epochs and --device may change)",
    )
    s.add_argument(
        "--variant",
        choices=("cnn", "gru"),
        help="speech: log-mel CNN (default) or MFCC + GRU (seed 003)",
    )
    s.add_argument(
        "--augment",
        choices=("none", "light", "standard", "robust"),
        help="data augmentation (default: none for quick, robust for full); robust "
        "simulates real recording conditions (rooms, microphones, noise, webcams)",
    )
    s.add_argument(
        "--patience",
        type=non_negative_int,
        help="stop after this many epochs without a validation gain, 0 for never "
        "(default: 0 for quick, 15 face / 20 speech for full)",
    )
    s.add_argument(
        "--optimizer",
        choices=("adamw", "sgd"),
        help="adamw (default) or sgd with Nesterov momentum 0.9 (the FER-2013 records' choice)",
    )
    s.add_argument(
        "--mixup",
        type=non_negative_float,
        metavar="ALPHA",
        help="mixup: train on blends of two items and their labels, Beta(ALPHA, ALPHA) "
        "weights, e.g. 0.2 (default 0: off)",
    )
    s.add_argument(
        "--init",
        metavar="MODEL",
        help="face or speech: start from this trained model's weights (a run folder or .pt, "
        "e.g. a starter model) instead of at random: fine-tuning; it must not have learned "
        "from this run's validation or test items",
    )
    s.add_argument(
        "--folds",
        type=folds_arg,
        metavar="K|loao",
        help="speech: actor-wise cross-validation, K folds (each tests on its own actors and "
        "validates on the next fold's) or loao (leave one actor out); one folder with every "
        "fold's run, per-fold and mean ± std scores, a table and a chart; run the same "
        "command with the same --out again to resume",
    )
    fusion = s.add_argument_group("fusion models")
    fusion.add_argument(
        "--fusion",
        choices=("concat", "equalized", "probe", "late", "face", "speech"),
        help="concat: face:speech features 4:1 (seed 000, the default); equalized: same "
        "length (seed 002 arch 3); probe: equalized + per-modality auxiliary losses "
        "(seed 002 arch 4); late: weighted average of a face-only and a speech-only model, "
        "weight chosen on validation (seed 001); face / speech: one modality, the baselines",
    )
    fusion.add_argument(
        "--pairing",
        choices=("takes", "class"),
        help="takes: RAVDESS video clips with the same take's sound (same person, default); "
        "class: a FER-2013 face and a RAVDESS utterance with the same emotion (paired by "
        "emotion, not the same person)",
    )
    fusion.add_argument("--frames", type=int_at_least(1), help="face frames per clip (default 8)")
    fusion.add_argument(
        "--calm",
        choices=("drop", "neutral"),
        help="class pairing: drop RAVDESS calm (default) or count it as neutral",
    )
    fusion.add_argument(
        "--fraction",
        type=positive_float,
        help="use this share of the training items, e.g. 0.25 (default 1)",
    )
    fusion.add_argument(
        "--face-model",
        metavar="RUN_OR_CHECKPOINT",
        help="start the face branch from this trained face model (default: from scratch)",
    )
    fusion.add_argument(
        "--speech-model",
        metavar="RUN_OR_CHECKPOINT",
        help="start the speech branch from this trained speech model (default: from scratch)",
    )
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="score a trained model on a data set")
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
        choices=("auto", "all", "train", "val", "test", "cv"),
        default="auto",
        help="which part: auto = test if the data has it, else validation (for a RAVDESS "
        "folder of unseen actors: all; for cross-validation models averaged: cv, each "
        "model on the actors it never heard); train and all may include training items",
    )
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser(
        "predict", help="emotion probabilities for a photo, a recording or a video clip"
    )
    s.add_argument(
        "file", help="an image (.jpg, .png…), audio file (.wav, .flac…) or video clip (.mp4…)"
    )
    s.add_argument(
        "--model",
        metavar="RUN_OR_CHECKPOINT",
        help="the model for this file: the face model for an image, the speech model for a "
        "recording, the face or the fusion model for a video (default: the latest trained "
        "run of that kind, else the starter model; for a video without a fusion run, the "
        "face and speech results are averaged)",
    )
    s.add_argument(
        "--speech-model",
        metavar="RUN_OR_CHECKPOINT",
        help="for a video only: the speech model for its sound (default: the latest "
        "trained speech run, else the starter model)",
    )
    s.add_argument(
        "--face-model",
        metavar="RUN_OR_CHECKPOINT",
        help="for a video only: the face model for its frames (default: the latest trained "
        "face run, else the starter model)",
    )
    s.add_argument(
        "--fusion-model",
        metavar="RUN_OR_CHECKPOINT",
        help="for a video only: the fusion model for the combined answer (default: the "
        "latest trained fusion run, else the average of the face and speech results)",
    )
    s.add_argument(
        "--no-detect",
        action="store_true",
        help="classify the whole image instead of looking for a face",
    )
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("experiment", help="train several models and compare them")
    s.add_argument(
        "name",
        choices=("data-efficiency",),
        help="data-efficiency: every fusion design and both single-modality models at "
        "25/50/80%% of the training data, scored on one test split (seed 002, experiment 2)",
    )
    training_args(s)
    s.add_argument(
        "--pairing",
        choices=("takes", "class"),
        default="takes",
        help="takes: RAVDESS video clips with their own sound (default); class: FER-2013 "
        "faces paired with RAVDESS speech by emotion",
    )
    s.add_argument(
        "--fractions",
        nargs="+",
        type=positive_float,
        default=[0.25, 0.5, 0.8],
        metavar="SHARE",
        help="shares of the training data (default 0.25 0.5 0.8)",
    )
    s.add_argument(
        "--designs",
        nargs="+",
        choices=("face", "speech", "concat", "equalized", "probe", "late"),
        default=["face", "speech", "concat", "equalized", "probe", "late"],
        help="which models (default: all six)",
    )
    s.add_argument("--frames", type=int_at_least(1), help="face frames per clip (default 8)")
    s.add_argument("--face-model", metavar="RUN_OR_CHECKPOINT", help="start face branches here")
    s.add_argument("--speech-model", metavar="RUN_OR_CHECKPOINT", help="start speech branches here")
    s.add_argument("--out", help="folder to write (default: runs/<time>-experiment)")
    s.set_defaults(func=cmd_experiment)

    s = sub.add_parser("export", help="pack a finished run as a starter model with its model card")
    s.add_argument(
        "run",
        metavar="RUN_DIR",
        help="a finished run folder, or a finished 'train speech --folds' folder (its "
        "fold models ship averaged)",
    )
    s.add_argument("out", metavar="OUT.pt", help="file to write, e.g. pretrained/face_fer2013.pt")
    s.add_argument(
        "--notes", metavar="FILE.md", help="Markdown for the card's 'where it fails' section"
    )
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("compare", help="one chart comparing trained runs")
    s.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders to compare")
    s.add_argument("--out", default="comparison.png", help="PNG to write (default: comparison.png)")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser(
        "demo", help="train face, speech and fusion models on the built-in demo data"
    )
    training_args(s, data=False)
    s.add_argument("--out", help="folder for the runs (default: runs/<time>-demo)")
    s.set_defaults(func=cmd_demo)
    return p


# The project's own top-level packages: a missing one is a bug, not a missing install.
PROJECT_PACKAGES = {"datasets", "models", "training", "emotion_gui", "workbench"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_gui)
    try:
        return func(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] in PROJECT_PACKAGES:
            raise  # our own code is broken: a bug, not a setup step
        print(
            f"error: the Python package '{exc.name.split('.')[0]}' is not installed here; run "
            "'make setup' once, then start the workbench with '.venv/bin/python workbench.py' "
            "(or 'source .venv/bin/activate' first).",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        # A file-system problem the loaders did not foresee: still one sentence, no traceback.
        what = f" '{exc.filename}'" if exc.filename else ""
        print(
            f"error: cannot use{what} ({exc.strerror or exc}); check the path and its permissions.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except Exception as exc:
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(
            f"error: unexpected {type(exc).__name__} ({exc}); please report it "
            "(run with WORKBENCH_DEBUG=1 to see the details).",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
