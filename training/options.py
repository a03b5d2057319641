"""What to train: ``TrainOptions``, the presets' loop settings, and their validation.

The CLI and the window both build a ``TrainOptions``; ``check_options`` validates every
value once, before any data is loaded (one sentence per problem), the kind's own values
by its task. The choices here are the ones the CLI's flags offer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from datasets.errors import WorkbenchError

from .augment import AUGMENT_CHOICES
from .device import choose_device
from .fit import FitConfig
from .fusion_data import PAIRINGS
from .tasks import KINDS, task_for
from .tasks.fusion import CALM_CHOICES, FUSION_CHOICES, MOST_FRAMES
from .tasks.speech import VARIANT_CHOICES

PRESET_CHOICES = ("quick", "full")
# Upper bounds that no real use comes near: a larger value is a typo, and let through it
# would fail deep inside a library (numpy's seeds are 32-bit) instead of in one sentence.
MOST_EPOCHS = 100_000
MOST_BATCH = 65_536
MOST_SEED = 2**32 - 1
OPTIMIZER_CHOICES = ("adamw", "sgd")
# Re-exported, so the CLI takes every choice from here.
__all__ = [
    "AUGMENT_CHOICES",
    "CALM_CHOICES",
    "FUSION_CHOICES",
    "KINDS",
    "MOST_FRAMES",
    "PAIRINGS",
    "VARIANT_CHOICES",
]

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
    deterministic: bool = False  # bit-exact repeats on a GPU too (train --deterministic)
    # The leakage lesson only (``experiment leakage``): split speech at random by file and
    # faces at random by position, so the held-out items share voices / duplicate images
    # with training. Never a default, and no ``train`` flag.
    random_split: bool = False
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


def fit_config(opts: TrainOptions) -> FitConfig:
    """The preset's loop settings with the options' own values put in."""
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
    return replace(
        base, **changes, seed=opts.seed, device=opts.device, deterministic=opts.deterministic
    )


def augment_level(opts: TrainOptions) -> str:
    return opts.augment or AUGMENT_PRESETS[(opts.kind, opts.preset)]


def check_options(opts: TrainOptions) -> None:
    """Refuse impossible settings before any data is loaded (one sentence each)."""
    task = task_for(opts.kind)
    if opts.preset not in PRESET_CHOICES:
        raise WorkbenchError(f"Unknown preset {opts.preset!r}; use quick or full.")
    if opts.epochs is not None and not 1 <= opts.epochs <= MOST_EPOCHS:
        raise WorkbenchError(f"--epochs must be from 1 to {MOST_EPOCHS}, got {opts.epochs}.")
    if opts.patience is not None and not 0 <= opts.patience <= MOST_EPOCHS:
        raise WorkbenchError(f"--patience must be from 0 to {MOST_EPOCHS}, got {opts.patience}.")
    if opts.batch_size is not None and not 2 <= opts.batch_size <= MOST_BATCH:
        raise WorkbenchError(
            f"--batch-size must be from 2 (batch norm learns from several items at once) to "
            f"{MOST_BATCH}, got {opts.batch_size}."
        )
    if not 0 <= opts.seed <= MOST_SEED:
        raise WorkbenchError(f"--seed must be from 0 to {MOST_SEED}, got {opts.seed}.")
    if opts.lr is not None and not 0 < opts.lr < 10:
        raise WorkbenchError(f"--lr must be a small positive number such as 0.001, got {opts.lr}.")
    if opts.optimizer not in (None, *OPTIMIZER_CHOICES):
        raise WorkbenchError(f"Unknown optimizer {opts.optimizer!r}; use adamw or sgd.")
    if opts.mixup is not None and not 0 <= opts.mixup <= 10:
        raise WorkbenchError(
            f"--mixup must be 0 (off) or a positive alpha such as 0.2, got {opts.mixup}."
        )
    if opts.augment not in (None, *AUGMENT_CHOICES):
        raise WorkbenchError(
            f"Unknown augmentation {opts.augment!r}; use one of {', '.join(AUGMENT_CHOICES)}."
        )
    if not 0 < opts.fraction <= 1:
        raise WorkbenchError(f"--fraction must lie in (0, 1], got {opts.fraction}.")
    if opts.random_split and task.fuses:
        raise WorkbenchError("A random split applies to face and speech models only.")
    task.check_options(opts)
    choose_device(opts.device)  # a missing GPU is refused before any data is loaded
