"""One training loop for every model: ``fit(model, train, val, config, …)``.

Batches are dicts ``{"x", "y"}`` sliced from whole-split tensors. Each epoch ends with a
validation pass; the best epoch (validation accuracy, then loss) is kept in ``best.pt``
and every finished epoch in ``last.pt``, from which a run resumes. A ``threading.Event``
is checked before every batch, so Stop takes effect within one batch.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.special import betaincinv
from torch import nn

from datasets.errors import WorkbenchError, describe, write_atomically
from models.face import single_view

from . import distributed
from .callbacks import Callback
from .checkpoint import read_checkpoint, save_checkpoint
from .data import Inputs, Split, as_float, move
from .device import (
    amp_dtype,
    autocast,
    choose_device,
    describe_device,
    deterministic_algorithms,
)
from .metrics import classification_metrics, predict_proba

HISTORY_FIELDS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "val_uar",
    "lr",
    "seconds",
)


@dataclass
class FitConfig:
    """Optimiser and loop settings; saved in config.json and last.pt."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    patience: int = 0  # epochs without a validation gain before stopping early; 0 = never
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 256
    optimizer: str = "adamw"  # or "sgd": Nesterov momentum 0.9 (the FER-2013 records' choice)
    mixup: float = 0.0  # Beta(mixup, mixup) mixing of image and label pairs; 0 = off
    deterministic: bool = False  # bit-exact repeats on a GPU too (slower): see device.py

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.mixup < 0:
            raise ValueError(f"mixup must be 0 (off) or a positive alpha, got {self.mixup}")

    def to_dict(self) -> dict:
        return asdict(self)


OPTIMIZERS = ("adamw", "sgd")


def make_optimizer(model: nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay), or SGD with Nesterov momentum 0.9 and L2 weight decay.

    SGD wants a learning rate about ten times AdamW's (0.01-0.1 rather than 1e-3).
    """
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=0.9,
            nesterov=True,
            weight_decay=config.weight_decay,
        )
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


@dataclass
class FitResult:
    history: list[dict]
    best_epoch: int  # 0 when stopped before the first epoch finished (best = that state)
    best_val_accuracy: float
    epochs_run: int
    device: str
    seconds: float
    stopped: bool = False  # by the stop event
    early_stopped: bool = False


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine decay to 1% of ``base``.

    A pure function of the step, so a resumed or extended run needs no scheduler state.
    """
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def write_history(path: Path, history: Sequence[dict]) -> None:
    """Write history.csv whole and then swap it in, so a killed process never leaves half."""
    table = pd.DataFrame(list(history), columns=list(HISTORY_FIELDS))  # other keys left out
    write_atomically(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))


def training_loss(
    outputs: torch.Tensor | dict[str, torch.Tensor], y: torch.Tensor, label_smoothing: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits and the loss to minimise: cross-entropy, plus the auxiliary losses of
    models that return a dict (the ``probe`` fusion's per-modality heads, each
    ``*_logits`` entry weighted by the dict's ``aux_weight``; ``main_weight``, default 1,
    weights the main loss — late fusion's members learn from their own losses only)."""
    if not isinstance(outputs, dict):
        outputs = {"logits": outputs}
    logits = outputs["logits"]
    loss = nn.functional.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
    loss = loss * outputs.get("main_weight", 1.0)
    for key, aux in outputs.items():
        if key.endswith("_logits"):
            aux_loss = nn.functional.cross_entropy(aux.float(), y, label_smoothing=label_smoothing)
            loss = loss + outputs["aux_weight"] * aux_loss
    return logits, loss


def mix_batch(
    x: Inputs, y: torch.Tensor, alpha: float, shuffle_gen: torch.Generator, gen: torch.Generator
) -> tuple[Inputs, torch.Tensor, float]:
    """Mixup (Zhang et al., 2018): each item blended with another of the batch.

    Returns the mixed inputs, the partner labels and the weight ``lam`` of the items' own
    labels; the loss is ``lam * loss(y) + (1 - lam) * loss(partner)``. ``lam`` is drawn
    from Beta(alpha, alpha) once per batch, on the CPU from ``shuffle_gen`` (torch draws
    Beta variates only from its global generator), the partners on ``gen``'s device; both
    generators are saved in ``last.pt``, so a resumed run mixes as a straight one. Only
    floating-point inputs are mixed (a fusion batch's ``found`` mask is kept).
    """
    u = torch.rand(1, generator=shuffle_gen).item()
    lam = float(betaincinv(alpha, alpha, u))  # the inverse CDF of Beta(alpha, alpha)
    perm = torch.randperm(len(y), generator=gen, device=gen.device).to(y.device)

    def mix(t: torch.Tensor) -> torch.Tensor:
        return t * lam + t[perm] * (1 - lam) if t.is_floating_point() else t

    x = {k: mix(v) for k, v in x.items()} if isinstance(x, dict) else mix(x)
    return x, y[perm], lam


def diverged(
    out: Path | None, config: FitConfig, epoch: int, best_epoch: int, what: str
) -> WorkbenchError:
    """The sentence for a run whose loss became NaN or infinite: training cannot recover
    from it. The epochs before it are kept (best.pt, last.pt), but the folder gets no
    metrics.json, so it is not a finished run and never anyone's default model."""
    where = f" in {describe(out)}" if out is not None else ""
    kept = (
        f"epoch {best_epoch}'s model is kept{where} but the run is not finished, so it never "
        "becomes a default"
        if best_epoch
        else "nothing was learned before it"
    )
    return WorkbenchError(
        f"Training diverged in epoch {epoch} (the {what} became NaN or infinite): {kept}; "
        f"train again with a lower learning rate, e.g. --lr {config.lr / 10:g} "
        f"(this run used {config.lr:g})."
    )


def report_every(device: torch.device) -> int:
    """How often ``fit`` reports progress (``on_batch_end``): every this many batches, and
    always after an epoch's last batch. Every batch on the CPU; every 10th on a GPU, where
    reading the running loss back waits for the device. Callbacks (and tests that stop a
    run) must not wait for one exact batch: see ``tests/conftest.py``'s ``StopAt``."""
    return 1 if device.type == "cpu" else 10


def warm_up() -> None:
    """Pay torch's one-off start-up costs now: building the first optimiser imports about
    900 modules (torch._dynamo, sympy), ~1 s here. The window calls this while it loads its
    data, so the first training starts at once and its thread does not hold the
    interpreter lock for long stretches while the window is drawing."""
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


def _restore(resume: dict, model, opt, scaler, shuffle_gen, aug_gen, config, device, out):
    """Put a ``last.pt``'s state back: weights, optimiser, random generators; returns the
    loop's history, first epoch, best epoch and key, epochs since the best, best weights."""
    model.load_state_dict(resume["state_dict"])
    opt.load_state_dict(resume["optimizer"])
    history = [dict(h) for h in resume["history"]]
    start_epoch = int(resume["epoch"]) + 1
    best_epoch = int(resume["best_epoch"])
    best_key = tuple(float(v) for v in resume["best_key"])
    since_best = int(resume["since_best"])
    if config.epochs > int(resume["fit_config"]["epochs"]):
        since_best = 0  # extended on purpose: give the new epochs a chance
    if resume.get("scaler"):
        scaler.load_state_dict(resume["scaler"])
    shuffle_gen.set_state(resume["rng"]["shuffle"])
    torch.set_rng_state(resume["rng"]["torch"])
    if resume["rng"].get("device_type") == device.type:
        aug_gen.set_state(resume["rng"]["augment"])
        if device.type == "cuda":
            torch.cuda.set_rng_state(resume["rng"]["cuda"], device)
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    if out is not None and (out / "best.pt").exists():
        best_state = read_checkpoint(out / "best.pt")["state_dict"]
        model.load_state_dict(best_state)  # checks it fits this network…
        model.load_state_dict(resume["state_dict"])  # …and goes on from the last epoch
    return history, start_epoch, best_epoch, best_key, since_best, best_state


def _deterministic_when_asked(loop: Callable) -> Callable:
    """Run the training loop inside ``deterministic_algorithms(config.deterministic)``."""

    @functools.wraps(loop)
    def run(model, train, val, config: FitConfig, **kwargs):
        with deterministic_algorithms(config.deterministic):
            return loop(model, train, val, config, **kwargs)

    return run


@_deterministic_when_asked
def fit(
    model: nn.Module,
    train: Split,
    val: Split,
    config: FitConfig,
    *,
    meta: dict | None = None,
    out_dir: str | Path | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
    resume: dict | None = None,
) -> FitResult:
    """Train ``model`` on ``train``, selecting the best epoch on ``val``.

    With ``out_dir``, writes ``best.pt``, ``last.pt`` and ``history.csv`` there after every
    epoch (``meta`` — kind, model_config, classes, preprocessing — goes into each
    checkpoint). ``resume`` is a loaded ``last.pt`` dict: training continues after its
    epoch with its weights, optimiser, random state and history. On return the model holds
    the best epoch's weights.
    """
    t_start = time.perf_counter()
    device = choose_device(config.device)
    out = Path(out_dir) if out_dir is not None else None
    meta = meta or {}
    # Channels-last convolutions run faster on CPUs and tensor cores alike (FaceCNN on
    # this 2-core CPU: 228 vs 190 images/s); only 4-D weights change layout.
    model.to(device, memory_format=torch.channels_last)
    if device.type != "cpu":
        # The whole split lives on the accelerator: no host-to-device copy per batch.
        train, val = train.to(device), val.to(device)
        # Fastest kernels, at the price of bit-exact repeats on the GPU (the CPU is exact),
        # unless asked for those.
        torch.backends.cudnn.benchmark = not config.deterministic
    opt = make_optimizer(model, config)
    amp = amp_dtype(device)  # bf16, fp16 or None (fp32): training only, never scoring
    # fp16 needs loss scaling; bf16 (Ampere and later) does not.
    scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    aug_gen = torch.Generator(device=device).manual_seed(config.seed + 1)

    history: list[dict] = []
    start_epoch, best_epoch, best_key, since_best = 1, 0, (-1.0, 0.0), 0
    best_state: dict = {}
    if resume is not None:
        try:
            history, start_epoch, best_epoch, best_key, since_best, best_state = _restore(
                resume, model, opt, scaler, shuffle_gen, aug_gen, config, device, out
            )
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
            # A last.pt (or the best.pt beside it) edited or damaged past its key checks.
            where = describe(out / "last.pt") if out is not None else "The checkpoint"
            raise WorkbenchError(
                f"{where} is damaged ({e.__class__.__name__}), so its run cannot continue; "
                "train anew, or --init from its best.pt."
            ) from e

    # Under torchrun: DDP, synchronised batch norm, each process's rows of every batch.
    rep = distributed.Replica(model, device, len(train), config.batch_size, distributed.current())
    n_batches = train.n_batches(config.batch_size)
    total_steps = config.epochs * n_batches
    warmup = max(1, min(n_batches, total_steps // 20))
    cadence = report_every(device)
    dev_name = describe_device(device) + rep.describe()  # e.g. " × 2 processes"
    for cb in callbacks:
        cb.on_fit_start(
            {
                "epochs": config.epochs,
                "start_epoch": start_epoch,
                "n_batches": n_batches,
                "n_train": len(train),
                "n_val": len(val),
                "device": dev_name,
            }
        )

    stopped = early_stopped = False
    epoch = start_epoch - 1
    for epoch in range(start_epoch, config.epochs + 1):
        t_epoch = time.perf_counter()
        model.train()
        if hasattr(train, "set_epoch"):
            train.set_epoch(epoch)  # data that changes per epoch (class-paired fusion)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        for b, batch in enumerate(
            train.batches(config.batch_size, shuffle=True, generator=shuffle_gen)
        ):
            if rep.agree(stop_event is not None and stop_event.is_set()):
                stopped = True
                break
            lr = lr_at((epoch - 1) * n_batches + b, total_steps, config.lr, warmup)
            for group in opt.param_groups:
                group["lr"] = lr
            x = as_float(move(batch["x"], device))
            y = batch["y"].to(device, non_blocking=True)
            if augment is not None:
                x = augment(x, aug_gen)
            if config.mixup > 0:
                x, partner, lam = mix_batch(x, y, config.mixup, shuffle_gen, aug_gen)
            x, y, partner = rep.rows(x, y, partner if config.mixup > 0 else None)
            with autocast(device, amp):
                outputs = rep.net(x)
            logits, loss = training_loss(outputs, y, config.label_smoothing)
            if config.mixup > 0:
                loss = (
                    lam * loss
                    + (1 - lam) * training_loss(outputs, partner, config.label_smoothing)[1]
                )
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss * rep.weight).backward()
            scaler.step(opt)
            scaler.update()
            loss_sum += loss.detach() * len(y)
            hits = logits.argmax(1) == y
            if config.mixup > 0:  # right by the share of the label it matched
                hits = lam * hits + (1 - lam) * (logits.argmax(1) == partner)
            correct += hits.sum()
            seen += len(y)
            if (b + 1) % cadence == 0 or b + 1 == n_batches:
                total, count = rep.sum(loss_sum.item(), seen)  # a GPU waits: now and then
                running = total / count
                if not math.isfinite(running):
                    raise diverged(out, config, epoch, best_epoch, "loss")
                info = {
                    "epoch": epoch,
                    "batch": b + 1,
                    "n_batches": n_batches,
                    "loss": running,
                    "lr": lr,
                }
                for cb in callbacks:
                    cb.on_batch_end(info)
        if stopped:
            break

        # One view per face: test-time augmentation would cost ten times as much on a
        # CPU every epoch; the finished model is scored with it (train.py, evaluate).
        with single_view(model):
            probs, val_loss = rep.predict_proba(model, val, config.eval_batch_size)
        if not (math.isfinite(val_loss) and np.isfinite(probs).all()):
            raise diverged(out, config, epoch, best_epoch, "validation loss")
        scores = classification_metrics(
            val.y.cpu().numpy(), probs.argmax(1), [str(c) for c in range(probs.shape[1])]
        )
        total, right, count = rep.sum(loss_sum.item(), correct.item(), seen)
        record = {
            "epoch": epoch,
            "train_loss": total / max(count, 1),
            "train_accuracy": right / max(count, 1),
            "val_loss": val_loss,
            "val_accuracy": scores["accuracy"],
            "val_uar": scores["uar"],
            "lr": lr,
            "seconds": time.perf_counter() - t_epoch,
        }
        history.append(record)
        key = (record["val_accuracy"], -val_loss)
        improved = key > best_key
        if improved:
            best_epoch, best_key, since_best = epoch, key, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if out is not None:
                save_checkpoint(out / "best.pt", model, meta=meta, epoch=epoch, val=record)
        else:
            since_best += 1
        if out is not None:
            save_checkpoint(
                out / "last.pt",
                model,
                meta=meta,
                epoch=epoch,
                optimizer=opt.state_dict(),
                scaler=scaler.state_dict() if scaler.is_enabled() else None,
                history=history,
                best_epoch=best_epoch,
                best_key=list(best_key),
                since_best=since_best,
                fit_config=config.to_dict(),
                rng={
                    "shuffle": shuffle_gen.get_state(),
                    "augment": aug_gen.get_state(),
                    "torch": torch.get_rng_state(),  # dropout draws from the global generator
                    "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                    "device_type": device.type,
                },
            )
            write_history(out / "history.csv", history)
        for cb in callbacks:
            cb.on_epoch_end({**record, "improved": improved, "best_epoch": best_epoch})
        if config.patience and since_best >= config.patience and epoch < config.epochs:
            early_stopped = True
            break

    if not best_state:
        # Stopped before any epoch finished: the current weights are all there is, and a
        # run must still leave a usable best.pt behind.
        best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if out is not None:
            with single_view(model):
                probs, val_loss = predict_proba(model, val, batch_size=config.eval_batch_size)
            acc = float(np.mean(probs.argmax(1) == val.y.cpu().numpy()))
            best_key = (acc, -val_loss)
            save_checkpoint(
                out / "best.pt",
                model,
                meta=meta,
                epoch=0,
                val={"val_accuracy": acc, "partial": True},
            )
            write_history(out / "history.csv", history)
    model.load_state_dict(best_state)
    result = FitResult(
        history=history,
        best_epoch=best_epoch,
        best_val_accuracy=float(best_key[0]),
        epochs_run=len(history),
        device=dev_name,
        seconds=time.perf_counter() - t_start,
        stopped=stopped,
        early_stopped=early_stopped,
    )
    for cb in callbacks:
        cb.on_fit_end(result)
    return result
