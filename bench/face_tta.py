#!/usr/bin/env python3
"""Does test-time augmentation help the face model? Accuracy on a fixed FER-2013
validation slice with the image alone and averaged over mirrored, shifted and cropped views.

    python bench/face_tta.py                                  # the starter model, 2,000 images
    python bench/face_tta.py --model RUN_OR_PT --images 500

The slice is a seeded draw (``--seed``) from the validation split the model trained with
(its saved ``val_fraction`` and ``seed``), so none of it was trained on; ``--rest`` scores
the validation images outside the slice, to confirm on fresh images a choice made on it; validation images
that are pixel copies of training images (FER-2013 has duplicates) are counted and scored
apart. Each view set averages the softmax probabilities of its views. ``b/w`` is the
paired count of images the views got right that the plain image got wrong, and the
reverse, with a two-sided sign-test p-value over those. The model's own averaging
(``models.face.tta_views``, in evaluation mode) is switched off here so that each view
set is what it says; "mirror x (plain + 4 shifts)" is the set it uses.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import binomtest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets.fer2013 import FER2013, count_seen  # noqa: E402
from models.face import single_view  # noqa: E402
from training.checkpoint import load_checkpoint  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def shifted(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """(B, 1, H, W) moved by (dx, dy) pixels, edges replicated (as the training shifts)."""
    h, w = x.shape[-2:]
    p = max(abs(dx), abs(dy))
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    return padded[..., p - dy : p - dy + h, p - dx : p - dx + w]


def cropped(x: torch.Tensor, size: int, x0: int, y0: int) -> torch.Tensor:
    """A ``size`` square from (x0, y0), scaled back to the full side (a zoom-in)."""
    part = x[..., y0 : y0 + size, x0 : x0 + size]
    return F.interpolate(part, size=x.shape[-2:], mode="bilinear", align_corners=False)


def view_sets(side: int = 48, crop: int = 44) -> dict[str, list]:
    """Name → list of functions, each making one view of a batch."""
    m = side - crop
    flip = [lambda x: x, lambda x: x.flip(-1)]
    shifts = [lambda x, d=d: shifted(x, *d) for d in ((2, 0), (-2, 0), (0, 2), (0, -2))]
    corners = [(0, 0), (m, 0), (0, m), (m, m), (m // 2, m // 2)]
    crops = [lambda x, c=c: cropped(x, crop, *c) for c in corners]
    return {
        "plain": flip[:1],
        "plain + mirror": flip,
        "plain + 4 shifts (2 px)": flip[:1] + shifts,
        "mirror x (plain + 4 shifts)": [lambda x, f=f: f(x).flip(-1) for f in flip[:1] + shifts]
        + flip[:1]
        + shifts,
        f"ten-crop ({crop}px corners + centre, x mirror)": crops
        + [lambda x, f=f: f(x.flip(-1)) for f in crops],
        f"plain + mirror + ten-crop ({crop}px)": flip
        + crops
        + [lambda x, f=f: f(x.flip(-1)) for f in crops],
    }


@torch.inference_mode()
def probabilities(model, x: torch.Tensor, views: list, batch: int = 250) -> np.ndarray:
    """Softmax averaged over ``views``, each scored by the model on its own (one view)."""
    out = []
    with single_view(model):
        for i in range(0, len(x), batch):
            xb = x[i : i + batch]
            p = sum(torch.softmax(model(v(xb)), dim=1) for v in views) / len(views)
            out.append(p)
    return torch.cat(out).numpy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "pretrained" / "face_fer2013.pt"))
    ap.add_argument("--data", default=str(SHARED / "fer2013" / "train"))
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--rest",
        action="store_true",
        help="score the validation images left out of the slice instead (to confirm a choice "
        "made on the slice)",
    )
    ap.add_argument("--views", nargs="*", help="only these view sets (names as printed)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if not Path(args.data).is_dir():
        print(f"needs FER-2013 at {args.data}")
        return 2
    loaded = load_checkpoint(args.model, kind="face")
    split = loaded.payload.get("split") or {}
    val = FER2013(
        args.data, "val", val_fraction=split.get("val_fraction", 0.1), seed=split.get("seed", 0)
    )
    rng = np.random.default_rng(args.seed)
    idx = np.sort(rng.choice(len(val), min(args.images, len(val)), replace=False))
    if args.rest:
        idx = np.setdiff1d(np.arange(len(val)), idx)
    x = val.images[idx].float().div(255).unsqueeze(1)  # (N, 1, 48, 48)
    y = val.labels[idx].numpy()
    seen = split.get("train_fingerprints")
    copies = np.array(
        [seen is not None and count_seen(val.images[i : i + 1], seen) > 0 for i in idx]
    )
    print(
        f"{Path(args.model).name} on {len(y)} FER-2013 validation images "
        f"({'the rest after ' if args.rest else ''}a {args.images}-image slice, seed {args.seed}); "
        f"{int(copies.sum())} are pixel copies of training images"
    )
    print(f"{'views':<48} {'n':>3} {'acc':>7} {'acc w/o copies':>15} {'b/w':>9} {'p':>6} {'s':>5}")
    base = None
    for name, views in view_sets().items():
        if args.views and name not in args.views and name != "plain":
            continue
        t0 = time.perf_counter()
        right = probabilities(loaded.model, x, views).argmax(1) == y
        if base is None:
            base = right
        better, worse = int((right & ~base).sum()), int((base & ~right).sum())
        p = binomtest(better, better + worse).pvalue if better + worse else 1.0
        print(
            f"{name:<48} {len(views):>3} {right.mean():>7.2%} {right[~copies].mean():>15.2%} "
            f"{f'{better}/{worse}':>9} {p:>6.3f} {time.perf_counter() - t0:>5.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
