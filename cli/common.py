"""What several commands share: argument types, the training flags, and training with a
progress bar that the first Ctrl+C stops gracefully."""

from __future__ import annotations

import argparse
import sys

from training.device import DEVICE_CHOICES
from training.options import PRESET_CHOICES, TrainOptions


def add_command(subparsers, name: str, summary: str, func) -> argparse.ArgumentParser:
    """A subcommand whose one-line ``summary`` is both its line in the command list and the
    description on its own help page; running it calls ``func(args)``."""
    s = subparsers.add_parser(name, help=summary, description=summary[0].upper() + summary[1:])
    s.set_defaults(func=func)
    return s


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
    s.add_argument("--epochs", type=positive_int, help=f"{epochs_help} (default: the preset's)")
    s.add_argument(
        "--batch-size", type=int_at_least(2), help="batch size, 2 or more (default: preset)"
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
        type=non_negative_int,
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


def print_progress(stage: str, fraction: float) -> None:
    print(f"\r{stage}: {100 * fraction:5.1f}%   ", end="", file=sys.stderr, flush=True)
