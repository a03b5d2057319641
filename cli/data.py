"""``data-info`` (what a data folder holds) and ``make-demo-data`` (the synthetic demo set)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import MOST_SEED, add_command, json_text, print_progress, seed_int


def cmd_data_info(args: argparse.Namespace) -> int:
    from datasets.info import data_info, format_info

    info = data_info(args.path)
    print(json_text(info) if args.json else format_info(info))
    return 0


def add_data_info(subparsers) -> None:
    s = add_command(
        subparsers, "data-info", "what a FER-2013 or RAVDESS folder holds", cmd_data_info
    )
    s.add_argument("path", help="a FER-2013 folder or CSV, or a RAVDESS folder")
    s.add_argument("--json", action="store_true", help="print JSON instead of text")


def cmd_make_demo_data(args: argparse.Namespace) -> int:
    from datasets import paths
    from datasets.demo import make_demo_data

    out = Path(args.out) if args.out else paths.demo_dir()
    t0 = time.perf_counter()
    summary = make_demo_data(out, seed=args.seed, progress=print_progress)
    print(f"\rdemo data written to {out} in {time.perf_counter() - t0:.1f} s")
    print(json_text(summary))
    return 0


def add_make_demo_data(subparsers) -> None:
    s = add_command(
        subparsers,
        "make-demo-data",
        "generate the built-in synthetic demo data",
        cmd_make_demo_data,
    )
    s.add_argument("--out", help="folder to write (default: data/demo)")
    s.add_argument("--seed", type=seed_int, default=0, help=f"0 to {MOST_SEED} (default 0)")
