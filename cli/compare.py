"""``compare``: one chart of several trained runs, each bar labelled with the test items it
counts."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import add_command


def run_folders(path: str) -> list[Path]:
    """``path`` itself when it is a run folder (or a file in one); else the finished runs
    inside it, oldest first: the folders ``demo``, ``experiment`` and ``train --folds``
    write. A folder with neither is returned as is, for ``load_run`` to refuse."""
    from training.runs import find_runs

    folder = Path(path).expanduser()
    if folder.is_file() or (folder / "config.json").is_file():
        return [folder]
    found = find_runs(root=folder) if folder.is_dir() else []
    return found or [folder]


def default_output() -> Path:
    """``runs/<time>-comparison.png``: beside the runs, named like them, never overwriting
    an earlier chart."""
    from datasets import paths

    root = paths.runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{time.strftime('%Y%m%d-%H%M%S')}-comparison.png"


def cmd_compare(args: argparse.Namespace) -> int:
    from training.report import write_comparison
    from training.runs import load_run
    from training.wording import scored_on

    runs = [load_run(d) for path in args.runs for d in run_folders(path)]
    out = Path(args.out) if args.out else default_output()
    write_comparison(out, runs)
    for r in runs:
        m = r.metrics
        print(
            f"{r.name:<32} {r.kind:<7} acc {m['accuracy']:6.1%}  UAR {m['uar']:6.1%}  "
            f"on {scored_on(r)}"
        )
    print(f"comparison chart: {out}")
    return 0


def add_compare(subparsers) -> None:
    s = add_command(
        subparsers, "compare", "one chart comparing trained runs on their test sets", cmd_compare
    )
    s.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_DIR",
        help="run folders to compare, or folders of runs (what demo, experiment or "
        "train --folds wrote): each of their runs",
    )
    s.add_argument(
        "--out", help="PNG to write (default: runs/<time>-comparison.png, beside the runs)"
    )
