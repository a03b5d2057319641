"""``train`` (one model, or an actor-wise cross-validation) and ``experiment`` (several models
compared on one test split)."""

from __future__ import annotations

import argparse

from datasets.errors import WorkbenchError
from training import distributed
from training.experiment import DESIGNS, FRACTIONS
from training.options import (
    AUGMENT_CHOICES,
    CALM_CHOICES,
    FUSION_CHOICES,
    KINDS,
    OPTIMIZER_CHOICES,
    PAIRINGS,
    VARIANT_CHOICES,
)
from training.tasks import task_for
from training.wording import skipped_sentence

from .common import (
    add_command,
    add_training_flags,
    frames_int,
    int_at_least,
    non_negative_float,
    patience_int,
    run_training,
    share,
    summary,
    train_options,
)

FUSION_HELP = (
    "concat (the default): face and speech features 4:1, after Ristea, Duțu & Radoi (2019); "
    "equalized: both the same length, after Goswami, Aggarwal & Yalamanchi (architecture 3); "
    "probe: equalized + a loss per modality (their architecture 4); late: weighted average "
    "of a face-only and a speech-only model, the weight chosen on validation, after Guo, "
    "Polanía & Barner (2020); face / speech: one modality, the baselines"
)
PAIRING_HELP = (
    "takes: RAVDESS video clips with the same take's sound (same person, default); class: a "
    "FER-2013 face and a RAVDESS utterance with the same emotion (paired by emotion, not the "
    "same person)"
)


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:
        _check_resume(args)
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
    if given and not task_for(args.kind).fuses:
        flags = ", ".join("--" + k.replace("_", "-").replace("n-frames", "frames") for k in given)
        raise WorkbenchError(f"{flags} apply to fusion models only; drop them or train fusion.")
    opts = train_options(
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
        deterministic=args.deterministic,
        **given,
    )
    if args.folds is not None:
        if distributed.launched():
            raise WorkbenchError(
                "--folds trains one model per fold, one after another, which torchrun's "
                "processes cannot share; run it without torchrun."
            )
        return _train_folds(args, opts)
    with distributed.session(args.device):  # under torchrun: one run on its processes
        result = run_training(opts)
    if not distributed.is_main():
        return 0  # rank 0 reports
    print(f"run folder: {result.run_dir}")
    print(summary(result.metrics))
    if left_out := skipped_sentence(
        result.metrics.get("skipped") or [], result.metrics.get("n_skipped")
    ):
        print(left_out)
    return 0


def _check_resume(args: argparse.Namespace) -> None:
    """``--resume`` takes the run's own settings: refuse every flag that would change them."""
    from training.onnx_model import refuse_onnx

    refuse_onnx(args.resume, "--resume")
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
            f"total), --device and --deterministic can change, so drop {', '.join(fixed)}."
        )


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

    result = run_training(opts, job=job)
    print()
    print(folds_table(result))
    print(f"table, chart and fold runs: {result['folder']} ({result['seconds']:.0f} s)")
    return 0


MOST_FOLDS = 1_000


def folds_arg(text: str) -> int | str:
    """``--folds``: a number of folds (3 or more), or ``loao``."""
    if text == "loao":
        return text
    try:
        return int_at_least(3, MOST_FOLDS)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a number of folds from 3 to {MOST_FOLDS}, or loao; got {text!r}"
        ) from None


def add_train(subparsers) -> None:
    s = add_command(
        subparsers, "train", "train a face, speech or fusion model into a run folder", cmd_train
    )
    s.add_argument("kind", choices=KINDS, help="which model to train")
    add_training_flags(s, epochs_help="epochs in all; with --resume, the new total")
    s.add_argument("--out", help="run folder to write (default: runs/<time>-<kind>)")
    s.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its last.pt with its own data and settings "
        "(only --epochs, --device and --deterministic may change)",
    )
    s.add_argument(
        "--deterministic",
        action="store_true",
        help="deterministic kernels (no cuDNN autotuning): on a GPU too, the same run gives "
        "the same numbers and a resumed run equals a straight one; slower on a GPU (the "
        "CPU is deterministic already)",
    )
    _add_recipe_flags(s)
    _add_fusion_flags(s.add_argument_group("fusion models"))


def _add_recipe_flags(s: argparse.ArgumentParser) -> None:
    """How a face or speech model learns: network variant, augmentation, optimiser…"""
    s.add_argument(
        "--variant",
        choices=VARIANT_CHOICES,
        help="speech: log-mel CNN (default) or MFCC + GRU, after Song, Cai & Tan (2021)",
    )
    s.add_argument(
        "--augment",
        choices=AUGMENT_CHOICES,
        help="data augmentation (default: none for quick, robust for full); robust "
        "simulates real recording conditions (rooms, microphones, noise, webcams)",
    )
    s.add_argument(
        "--patience",
        type=patience_int,
        help="stop after this many epochs without a validation gain, 0 for never "
        "(default: 0 for quick, 15 face / 20 speech for full)",
    )
    s.add_argument(
        "--optimizer",
        choices=OPTIMIZER_CHOICES,
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


def _add_fusion_flags(group) -> None:
    group.add_argument("--fusion", choices=FUSION_CHOICES, help=FUSION_HELP)
    group.add_argument("--pairing", choices=PAIRINGS, help=PAIRING_HELP)
    group.add_argument("--frames", type=frames_int, help="face frames per clip (default 8)")
    group.add_argument(
        "--calm",
        choices=CALM_CHOICES,
        help="class pairing: drop RAVDESS calm (default) or count it as neutral",
    )
    group.add_argument(
        "--fraction",
        type=share,
        help="use this share of the training items, e.g. 0.25 (default 1)",
    )
    add_branch_flags(group)


def add_branch_flags(group, *, every: bool = False) -> None:
    """``--face-model`` and ``--speech-model``: trained models the fusion branches start from
    (``every``: the branches of several runs)."""
    for kind in ("face", "speech"):
        branch = f"every {kind} branch" if every else f"the {kind} branch"
        group.add_argument(
            f"--{kind}-model",
            metavar="RUN_OR_CHECKPOINT",
            help=f"start {branch} from this trained {kind} model (default: from scratch)",
        )


def cmd_experiment(args: argparse.Namespace) -> int:
    from training.experiment import data_efficiency, results_table

    if args.name == "leakage":
        return _leakage(args)
    base = train_options(
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

    result = run_training(base, job=job)
    print()
    print(results_table(result))
    print(f"table, chart and runs: {result['folder']} ({result['seconds']:.0f} s)")
    return 0


def _leakage(args: argparse.Namespace) -> int:
    """``experiment leakage``: the same recipe split at random and by actor (speech), or
    scored with and without FER-2013's duplicate images (faces)."""
    from training.leakage import leakage, leakage_kind

    fusion_only = [
        flag
        for flag, value in (
            ("--frames", args.frames),
            ("--face-model", args.face_model),
            ("--speech-model", args.speech_model),
        )
        if value is not None
    ]
    if fusion_only:
        raise WorkbenchError(f"{', '.join(fusion_only)} apply to data-efficiency only; drop them.")
    base = train_options(args, "speech")
    base.kind = leakage_kind(base.data)

    def job(opts, **kwargs):
        return leakage(opts, out=args.out, **kwargs)

    result = run_training(base, job=job)
    print()
    print(result["explanation"])
    print(f"\nresults, explanation, chart and runs: {result['folder']} ({result['seconds']:.0f} s)")
    return 0


def add_experiment(subparsers) -> None:
    s = add_command(
        subparsers,
        "experiment",
        "train several models and compare them: the fusion designs' data efficiency, or the "
        "leakage lesson (random split against split by actor)",
        cmd_experiment,
    )
    s.add_argument(
        "name",
        choices=("data-efficiency", "leakage"),
        help="data-efficiency: every fusion design and both single-modality models at "
        "25/50/80%% of the training data, scored on one test split (the experiment of "
        "Goswami, Aggarwal & Yalamanchi); leakage: with a RAVDESS folder, one speech recipe "
        "split at random by file and by actor, each scored on its own test split of the "
        "same size (random splits hear the test voices in training); with FER-2013, one "
        "face model scored with and without the validation images identical to training "
        "images",
    )
    add_training_flags(s)
    s.add_argument("--pairing", choices=PAIRINGS, default="takes", help=PAIRING_HELP)
    s.add_argument(
        "--fractions",
        nargs="+",
        type=share,
        default=list(FRACTIONS),
        metavar="SHARE",
        help="shares of the training data (default 0.25 0.5 0.8)",
    )
    s.add_argument(
        "--designs",
        nargs="+",
        choices=DESIGNS,
        default=list(DESIGNS),
        help="which models (default: all six)",
    )
    s.add_argument("--frames", type=frames_int, help="face frames per clip (default 8)")
    add_branch_flags(s, every=True)
    s.add_argument("--out", help="folder to write (default: runs/<time>-experiment, or -leakage)")
