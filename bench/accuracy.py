#!/usr/bin/env python3
"""Held-out accuracy and UAR of trained models on data folders, one line per pair.

    python bench/accuracy.py                                   # the starter models on ../shared/data
    python bench/accuracy.py --pair MODEL DATA [--pair MODEL DATA ...] [--split auto|all|val|test]
    python bench/accuracy.py --json

MODEL is a run folder or a .pt file (a starter model in pretrained/, say); DATA a FER-2013
folder or CSV for a face model, a RAVDESS folder for a speech model, or "FACES+SPEECH"
(two folders joined by '+') for a class-paired fusion model. Every pair is scored with
``evaluate`` (``python workbench.py evaluate MODEL --data DATA``), so the split is the one
the model was trained with: RAVDESS by actor, FER-2013 by its Usage column or the model's
own stratified hold-out. A row whose items include training items says so in its last
column instead of passing for a held-out score.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets.errors import WorkbenchError  # noqa: E402
from training.runs import STARTER_FILES  # noqa: E402
from training.train import evaluate_checkpoint  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
DEFAULT_PAIRS = [
    (ROOT / "pretrained" / STARTER_FILES["face"], str(SHARED / "fer2013" / "train")),
    (ROOT / "pretrained" / STARTER_FILES["speech"], str(SHARED / "ravdess_speech_16k")),
    (
        ROOT / "pretrained" / STARTER_FILES["fusion"],
        f"{SHARED / 'fer2013' / 'train'}+{SHARED / 'ravdess_speech_16k'}",
    ),
]


def held_out_words(metrics: dict) -> str:
    seen = metrics.get("seen_in_training")
    if seen:
        return f"NO: {seen} of {metrics['n_items']} are pixel copies of training images"
    return {True: "yes", False: "NO: includes training items", None: "unknown"}[metrics["held_out"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--pair",
        nargs=2,
        action="append",
        metavar=("MODEL", "DATA"),
        help="a model and the data to score it on (repeatable; default: the starter models "
        "on ../shared/data)",
    )
    ap.add_argument("--split", default="auto", choices=("auto", "all", "train", "val", "test"))
    ap.add_argument("--json", action="store_true", help="print the metrics as JSON too")
    args = ap.parse_args(argv)

    pairs = args.pair or [(str(m), d) for m, d in DEFAULT_PAIRS]
    rows, failed = [], 0
    print(f"{'model':<34} {'data':<40} {'split':<5} {'items':>6} {'acc':>7} {'UAR':>7}  held out")
    for model, data in pairs:
        folders = data.split("+")
        t0 = time.perf_counter()
        try:
            metrics = evaluate_checkpoint(
                model, folders[0] if len(folders) == 1 else folders, split=args.split
            )
        except WorkbenchError as exc:
            print(f"{Path(model).name:<34} error: {exc}")
            failed += 1
            continue
        metrics["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(metrics)
        shown = " + ".join(Path(f).name for f in folders)
        print(
            f"{Path(model).name:<34} {shown:<40} {metrics['split']:<5} {metrics['n_items']:>6} "
            f"{metrics['accuracy']:>7.1%} {metrics['uar']:>7.1%}  {held_out_words(metrics)}"
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
