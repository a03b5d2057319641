#!/usr/bin/env python3
"""FaceCNN training throughput (images/s): the project's pipeline vs a plain torchvision one.

    python bench/train_throughput.py [--device auto|cpu|cuda] [--preset quick|full]
                                     [--batch-size 64] [--batches 30] [--warmup 5]
                                     [--workers 2] [--rounds 2] [--threads N]
                                     [--shared ../shared/data | --fer DIR] [--json OUT]

Both pipelines train the same FaceCNN preset with the same batch size, AdamW settings
(FIT_PRESETS) and training step (autocast on CUDA, as ``training/fit.py`` does) on the
FER-2013 training images in ``<shared>/fer2013/train`` (or ``--fer DIR``'s ``train``):

  * project:  the face task's loader (the whole split as one cached uint8 tensor, moved to the
    GPU once on CUDA) -> ``TensorSet.batches(shuffle=True)`` -> ``as_float`` -> batched
    ``augment_faces`` on the batch's device -> forward/backward/step, i.e. fit's inner loop;
  * baseline: ``torchvision.datasets.ImageFolder`` with per-image PIL transforms
    (Grayscale, RandomAffine, RandomHorizontalFlip, ColorJitter, ToTensor) and a
    ``DataLoader`` with ``--workers`` worker processes; each batch is moved to the device.

Each round times ``--batches`` batches after ``--warmup`` untimed ones (worker start-up
and first-batch costs fall in the warm-up); rounds alternate project/baseline and the best
round of each counts, which damps noise from other jobs on the machine. The project's
one-off data load is timed and printed separately; it is not part of the throughput.
Targets: project/baseline >= 1.5x on a CPU, >= 5x on a GPU.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from models.face import FACE_PRESETS, FaceCNN  # noqa: E402
from training.augment import augment_faces  # noqa: E402
from training.data import TensorSet, as_float  # noqa: E402
from training.device import amp_dtype, autocast, choose_device, describe_device  # noqa: E402
from training.options import FIT_PRESETS  # noqa: E402
from training.tasks import task_for  # noqa: E402
from training.tasks.base import DataSettings  # noqa: E402

Batch = tuple[torch.Tensor, torch.Tensor]  # model-ready float x (B, 1, 48, 48), labels y (B,)


def load_face_train(fer: Path, seed: int) -> TensorSet:
    """The training split exactly as ``train face --data FER`` reads it (cached)."""
    return task_for("face").load([fer], DataSettings(seed=seed)).train


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_trainer(preset: str, device: torch.device, seed: int) -> Callable[[Batch], None]:
    """A fresh, seeded FaceCNN and AdamW, and fit's per-batch step for them."""
    seed_everything(seed)
    cfg = FIT_PRESETS[("face", preset)]
    model = FaceCNN(FACE_PRESETS[preset]).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype(device) == torch.float16)

    def step(batch: Batch) -> None:
        x, y = batch
        with autocast(device):
            logits = model(x)
        loss = nn.functional.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return step


def project_batches(
    train: TensorSet, batch_size: int, device: torch.device, seed: int
) -> Iterator[Batch]:
    """fit's data path: shuffled slices of the whole-set tensor, augmented on ``device``."""
    shuffle_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator(device=device).manual_seed(seed + 1)
    while True:  # endless epochs
        for batch in train.batches(batch_size, shuffle=True, generator=shuffle_gen):
            x = as_float(batch["x"].to(device, non_blocking=True))
            y = batch["y"].to(device, non_blocking=True)
            yield augment_faces(x, aug_gen), y


def baseline_batches(
    train_dir: Path, batch_size: int, device: torch.device, workers: int, seed: int
) -> Iterator[Batch]:
    """The textbook path: ImageFolder + per-image PIL transforms + DataLoader workers."""
    import torchvision.transforms as T
    from torchvision.datasets import ImageFolder

    transform = T.Compose(
        [
            T.Grayscale(),
            T.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1)),
            T.RandomHorizontalFlip(),
            T.ColorJitter(brightness=0.2, contrast=0.2),
            T.ToTensor(),
        ]
    )
    loader = torch.utils.data.DataLoader(
        ImageFolder(str(train_dir), transform=transform),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        generator=torch.Generator().manual_seed(seed),
    )
    while True:
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(
    batches: Iterator[Batch],
    step: Callable[[Batch], None],
    device: torch.device,
    warmup: int,
    n: int,
) -> float:
    """Train ``warmup`` untimed batches, then ``n`` timed ones; images per second."""
    for _ in range(warmup):
        step(next(batches))
    sync(device)
    t0 = time.perf_counter()
    seen = 0
    for _ in range(n):
        batch = next(batches)
        step(batch)
        seen += len(batch[1])
    sync(device)
    return seen / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument(
        "--fer", type=Path, help="a FER-2013 folder with train/<class>/ (default <shared>/fer2013)"
    )
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--preset", default="quick", choices=("quick", "full"))
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--batches", type=int, default=30, help="timed batches per round")
    ap.add_argument("--warmup", type=int, default=5, help="untimed batches per round")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds; best counts")
    ap.add_argument("--workers", type=int, default=2, help="baseline DataLoader workers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the figures here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    fer = args.fer or args.shared / "fer2013"
    if not (fer / "train").is_dir():
        print(f"Training throughput skipped: {fer / 'train'} is absent.")
        return 0
    device = choose_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as fit does

    t0 = time.perf_counter()
    train = load_face_train(fer, args.seed)
    load_s = time.perf_counter() - t0
    if device.type != "cpu":
        train = train.to(device)  # the whole split lives on the GPU, as in fit
    if device.type == "cuda":
        sync(device)
    setup_s = time.perf_counter() - t0

    print(
        f"device {describe_device(device)}, preset {args.preset}, batch {args.batch_size}, "
        f"{args.rounds} x ({args.warmup} warm-up + {args.batches} timed) batches, "
        f"baseline workers {args.workers}"
    )
    print(f"project data load (the face task's loader, one-off): {load_s:.2f} s", end="")
    print(f"; with copy to {device.type}: {setup_s:.2f} s" if device.type != "cpu" else "")
    print(f"  {len(train)} training images, x {tuple(train.x.shape)} {train.x.dtype}")

    runs: dict[str, list[float]] = {"project": [], "baseline": []}
    for r in range(args.rounds):
        for name in runs:
            batches = (
                project_batches(train, args.batch_size, device, args.seed + r)
                if name == "project"
                else baseline_batches(
                    fer / "train", args.batch_size, device, args.workers, args.seed + r
                )
            )
            step = make_trainer(args.preset, device, args.seed)
            ips = images_per_second(batches, step, device, args.warmup, args.batches)
            batches.close()  # shuts the DataLoader's workers down
            runs[name].append(ips)

    print()
    print(f"{'pipeline':<38} {'best img/s':>11} {'all rounds':>24}")
    for name, label in (
        ("project", "project (TensorSet + augment_faces)"),
        ("baseline", f"baseline (ImageFolder, {args.workers} workers)"),
    ):
        rounds = ", ".join(f"{v:.0f}" for v in runs[name])
        print(f"{label:<38} {max(runs[name]):11.0f} {rounds:>24}")
    ratio = max(runs["project"]) / max(runs["baseline"])
    target = 1.5 if device.type == "cpu" else 5.0
    verdict = "ok" if ratio >= target else "MISSED"
    print(f"{'project / baseline':<38} {ratio:10.2f}x  (target >= {target:g}x: {verdict})")
    if args.json:
        figures = {
            "device": describe_device(device),
            "preset": args.preset,
            "batch_size": args.batch_size,
            "project_images_per_s": max(runs["project"]),
            "baseline_images_per_s": max(runs["baseline"]),
            "ratio": ratio,
            "target": target,
            "met": ratio >= target,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
