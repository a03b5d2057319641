"""Does fusion help on the demo data? Every fusion design against both single-modality
models, trained the same way and scored on the same held-out test actors.

The demo data were built with complementary confusions (faces mix up fear/surprise,
angry/disgust and calm/neutral, voices happy/angry and sad/neutral), so each fusion design
should beat the face-only and the speech-only model. This trains all six designs with the
quick preset (``experiment data-efficiency`` at the shares given, default the whole training
split), prints the table and says, per share, whether every fusion design beat both single
models; the exit status is 1 if one did not.

Usage: ``python bench/fusion_demo.py [--pairing takes|class] [--fractions 1.0 ...]
[--epochs N] [--face-model RUN --speech-model RUN] [--out DIR]``. About 8 minutes per share
on a 2-core CPU (takes pairing). With ``--face-model``/``--speech-model`` (a face and a speech
run trained on the demo data) every branch starts from those models.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.experiment import DESIGN_NAMES, data_efficiency, results_table  # noqa: E402
from training.train import TrainOptions  # noqa: E402

FUSIONS = ("concat", "equalized", "probe", "late")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairing", choices=("takes", "class"), default="takes")
    p.add_argument("--fractions", type=float, nargs="+", default=[1.0])
    p.add_argument("--epochs", type=int, help="epochs per model (default: the quick preset's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--face-model", help="start face branches from this face run")
    p.add_argument("--speech-model", help="start speech branches from this speech run")
    p.add_argument("--out", help="folder for the runs and the table (default: runs/)")
    args = p.parse_args()
    base = TrainOptions(
        kind="fusion",
        data="demo",
        pairing=args.pairing,
        epochs=args.epochs,
        seed=args.seed,
        face_model=args.face_model,
        speech_model=args.speech_model,
    )
    summary = data_efficiency(
        base,
        fractions=args.fractions,
        out=args.out,
        status=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(results_table(summary))
    ok = True
    for fraction in args.fractions:
        acc = {r["design"]: r["accuracy"] for r in summary["rows"] if r["fraction"] == fraction}
        single = max(acc["face"], acc["speech"])
        losers = [DESIGN_NAMES[d] for d in FUSIONS if acc[d] <= single]
        print(
            f"{fraction:.0%} of the training data: best single model {single:.1%}; "
            + (
                "every fusion design beats both single models"
                if not losers
                else f"NOT beaten by: {', '.join(losers)}"
            )
        )
        ok &= not losers
    print(f"runs, table and chart: {summary['folder']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
