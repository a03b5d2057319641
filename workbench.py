#!/usr/bin/env python3
"""Emotion Workbench: with no arguments it opens the window; subcommands run jobs headless.

    python workbench.py                        # the GUI
    python workbench.py demo                   # generate the built-in demo data and summarise it
    python workbench.py data-info PATH [--json]
    python workbench.py make-demo-data [--out DIR] [--seed N]

Bad input never ends in a traceback: the error is one sentence on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from datasets.errors import WorkbenchError

EXIT_BAD_INPUT = 2


def cmd_data_info(args: argparse.Namespace) -> int:
    from datasets.info import data_info, format_info

    info = data_info(args.path)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def cmd_make_demo_data(args: argparse.Namespace) -> int:
    from datasets import paths
    from datasets.demo import make_demo_data

    out = Path(args.out) if args.out else paths.demo_dir()
    t0 = time.perf_counter()
    summary = make_demo_data(out, seed=args.seed, progress=_print_progress)
    print(f"\rdemo data written to {out} in {time.perf_counter() - t0:.1f} s")
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from datasets.info import data_info, format_info
    from datasets.sources import ensure_demo

    root = ensure_demo()
    print(f"built-in synthetic demo data in {root}")
    for sub in ("fer2013", "ravdess"):
        print(format_info(data_info(root / sub)))
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        print(
            "No display is available for the window; run 'python workbench.py demo' to use "
            "the workbench from the terminal instead.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from emotion_gui.app import main as gui_main

    return gui_main()


def _print_progress(stage: str, fraction: float) -> None:
    print(f"\r{stage}: {100 * fraction:5.1f}%   ", end="", file=sys.stderr, flush=True)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (a usage error, exit status 2, otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number 0 or more, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workbench.py",
        description="Emotion Workbench: multimodal emotion recognition for the classroom.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("data-info", help="what a FER-2013 or RAVDESS folder holds")
    s.add_argument("path", help="a FER-2013 folder or CSV, or a RAVDESS folder")
    s.add_argument("--json", action="store_true", help="print JSON instead of text")
    s.set_defaults(func=cmd_data_info)

    s = sub.add_parser("make-demo-data", help="generate the built-in synthetic demo data")
    s.add_argument("--out", help="folder to write (default: data/demo)")
    s.add_argument("--seed", type=non_negative_int, default=0, help="0 or more (default 0)")
    s.set_defaults(func=cmd_make_demo_data)

    s = sub.add_parser("demo", help="generate the demo data if needed and summarise it")
    s.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_gui)
    try:
        return func(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        # A file-system problem the loaders did not foresee: still one sentence, no traceback.
        what = f" '{exc.filename}'" if exc.filename else ""
        print(
            f"error: cannot use{what} ({exc.strerror or exc}); check the path and its permissions.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except Exception as exc:
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(
            f"error: unexpected {type(exc).__name__} ({exc}); please report it "
            "(run with WORKBENCH_DEBUG=1 to see the details).",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
