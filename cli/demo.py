"""``demo``: the whole workbench on the built-in demo data, in the terminal.

Step 1 trains a face model (FER-style faces) and a speech model (the takes' sound), each
scored on its own test set. Step 2 compares like for like: on the audio-video takes, the
face-only and speech-only baselines and the concat fusion, all three started from the step-1
models with the same settings and scored on the same held-out takes. The chart shows step 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .common import (
    add_command,
    add_training_flags,
    print_progress,
    run_training,
    summary,
    train_options,
)

# Step 2: (run folder, fusion design, name), all on the same takes.
TAKES_RUNS = (
    ("face-only", "face", "face only (demo takes)"),
    ("speech-only", "speech", "speech only (demo takes)"),
    ("fusion", "concat", "fusion concat (demo takes)"),
)


def cmd_demo(args: argparse.Namespace) -> int:
    from datasets import paths
    from datasets.sources import ensure_demo
    from training.report import write_comparison
    from training.runs import load_run, new_run_dir
    from training.wording import scored_on

    t0 = time.perf_counter()
    root = ensure_demo(progress=print_progress)
    print(f"\rbuilt-in synthetic demo data in {root}", file=sys.stderr)
    base = Path(args.out) if args.out else new_run_dir("demo")
    base.mkdir(parents=True, exist_ok=True)
    branches = {}
    for kind in ("face", "speech"):
        opts = train_options(args, kind, data="demo", out=str(base / kind), name=f"{kind} (demo)")
        branches[kind] = run_training(opts, label=f"[{kind}] ").run_dir
    for folder, design, name in TAKES_RUNS:
        opts = train_options(
            args,
            "fusion",
            data="demo",
            out=str(base / folder),
            name=name,
            fusion=design,
            face_model=str(branches["face"]),
            speech_model=str(branches["speech"]),
        )
        run_training(opts, label=f"[{folder}] ")
    own = [load_run(base / kind) for kind in ("face", "speech")]
    takes = [load_run(base / folder) for folder, _, _ in TAKES_RUNS]
    write_comparison(base / "comparison.png", takes)
    print(
        f"\nDemo on {paths.demo_dir()} (built-in synthetic demo data), "
        f"{time.perf_counter() - t0:.0f} s.\nEach model on its own test set:"
    )
    for r in own:
        print(f"  {r.dir.name:<12} {summary(r.metrics)}; {scored_on(r)}")
    print(
        f"Like for like, all three on the same held-out audio-video takes ({scored_on(takes[0])}), "
        "each started from the two models above:"
    )
    for r in takes:
        print(f"  {r.dir.name:<12} {summary(r.metrics)}")
    print(
        "  (face: FER-style faces, 7 emotions; speech and takes: held-out actors, 8 emotions; "
        "fusion: concat design, after Ristea, Duțu & Radoi (2019))"
    )
    print(
        f"reports: {base}/*/report.md   comparison chart (like for like): {base / 'comparison.png'}"
    )
    return 0


def add_demo(subparsers) -> None:
    s = add_command(
        subparsers,
        "demo",
        "train face and speech models on the built-in demo data, then compare face only, "
        "speech only and their fusion on the same held-out takes",
        cmd_demo,
    )
    add_training_flags(s, data=False)
    s.add_argument("--out", help="folder for the runs (default: runs/<time>-demo)")
