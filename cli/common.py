"""What several commands share: argument types, the training flags, and training with a
progress bar that the first Ctrl+C stops gracefully."""

from __future__ import annotations

import argparse
import json
import math
import sys

from training.device import DEVICE_CHOICES
from training.options import (
    MOST_BATCH,
    MOST_EPOCHS,
    MOST_FRAMES,
    MOST_SEED,
    PRESET_CHOICES,
    TrainOptions,
)


def add_command(subparsers, name: str, summary: str, func) -> argparse.ArgumentParser:
    """A subcommand whose one-line ``summary`` is both its line in the command list and the
    description on its own help page; running it calls ``func(args)``."""
    s = subparsers.add_parser(name, help=summary, description=summary[0].upper() + summary[1:])
    s.set_defaults(func=func)
    return s


def int_at_least(lowest: int, most: int | None = None):
    """argparse type: a whole number >= ``lowest`` (and <= ``most`` when given); anything
    else is a usage error, exit status 2, before any work starts."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < lowest or (most is not None and value > most):
            if most is None:
                raise argparse.ArgumentTypeError(
                    f"expected a whole number {lowest} or more, got {text!r}"
                )
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {lowest} to {most}, got {text!r}"
            )
        return value

    return parse


non_negative_int = int_at_least(0)
positive_int = int_at_least(1)
seed_int = int_at_least(0, MOST_SEED)
epochs_int = int_at_least(1, MOST_EPOCHS)
patience_int = int_at_least(0, MOST_EPOCHS)
batch_int = int_at_least(2, MOST_BATCH)
frames_int = int_at_least(1, MOST_FRAMES)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _number(text)
    if value is None or not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number such as 0.001, got {text!r}")
    return value


def share(text: str) -> float:
    """argparse type: a share of the data, a finite number above 0 and at most 1."""
    value = _number(text)
    if value is None or not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"expected a share above 0 and at most 1, such as 0.25, got {text!r}"
        )
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _number(text)
    if value is None or not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected 0 or a positive number such as 0.2, got {text!r}"
        )
    return value


DATA_HELP = (
    "FER-2013 folder or CSV (face), RAVDESS folder (speech), or 'demo' (default: data/fer2013 "
    "or data/ravdess if present, else the demo data); fusion: a RAVDESS folder with video "
    "clips (--pairing takes), or a FER-2013 and a RAVDESS folder (--pairing class)"
)


def add_training_flags(
    s: argparse.ArgumentParser, *, data: bool = True, epochs_help: str = "epochs in all"
) -> None:
    """The flags of every command that trains: data, epochs, batch size, learning rate,
    preset, device and seed."""
    if data:
        s.add_argument("--data", nargs="+", metavar="PATH", help=DATA_HELP)
    s.add_argument(
        "--epochs",
        type=epochs_int,
        help=f"{epochs_help}, at most {MOST_EPOCHS} (default: the preset's)",
    )
    s.add_argument(
        "--batch-size",
        type=batch_int,
        help=f"batch size, 2 to {MOST_BATCH} (default: preset)",
    )
    s.add_argument("--lr", type=positive_float, help="learning rate (default: preset)")
    s.add_argument(
        "--preset",
        choices=PRESET_CHOICES,
        default="quick",
        help="quick: small network for a classroom CPU; full: the starter models' network "
        "(a GPU, or a long resumable CPU run)",
    )
    s.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="auto",
        help="auto picks CUDA, then Apple MPS, then the CPU",
    )
    s.add_argument(
        "--seed",
        type=seed_int,
        default=0,
        help="random seed; also picks the FER-2013 validation hold-out when the data "
        "has no PublicTest rows (default 0)",
    )


def train_options(args: argparse.Namespace, kind: str, **overrides) -> TrainOptions:
    """``TrainOptions`` from the training flags (``--data`` takes one path, or two for
    class-paired fusion), with ``overrides`` set on top."""
    data = getattr(args, "data", None)
    if isinstance(data, list):  # the kind's task checks how many paths it reads
        data = data[0] if len(data) == 1 else data
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


def run_training(opts: TrainOptions, label: str = "", job=None):
    """Train with a progress bar; the first Ctrl+C stops after the current batch and still
    scores and saves the best epoch (a second one aborts). ``job`` replaces
    ``train_model`` (same arguments), e.g. for an experiment."""
    import signal
    import threading

    from training.callbacks import ProgressBar
    from training.distributed import is_main
    from training.train import train_model

    stop = threading.Event()

    def on_sigint(signum, frame):
        # Under torchrun, torchrun passes Ctrl+C on to every process: all stop together.
        if stop.is_set():
            raise KeyboardInterrupt
        if is_main():
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


def summary(metrics: dict) -> str:
    """One line: the held-out split and its accuracy, UAR and macro F1."""
    from training.wording import held_out_sentence

    return held_out_sentence(metrics, f1=True)


def json_text(data, *, indent: int | None = 2) -> str:
    """``data`` as JSON for ``--json``: every command prints through here, so the output is
    always valid JSON. A non-finite number (NaN or infinity, which JSON cannot hold) is
    written as null, numpy numbers as plain ones, paths as text."""
    return json.dumps(finite_only(data), indent=indent, allow_nan=False, default=str)


def finite_only(value):
    """``value`` with every NaN or infinite float replaced by None, recursively."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: finite_only(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_only(v) for v in value]
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # a numpy or torch scalar
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return finite_only(value.tolist())  # an array
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_progress(stage: str, fraction: float) -> None:
    print(f"\r{stage}: {100 * fraction:5.1f}%   ", end="", file=sys.stderr, flush=True)
