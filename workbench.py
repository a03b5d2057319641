#!/usr/bin/env python3
"""Emotion Workbench's entry point: with no arguments it opens the window; a COMMAND runs a
job in the terminal instead (no window).

    python workbench.py                        # the window
    python workbench.py demo                   # face, speech and fusion models on the demo data
    python workbench.py train face|speech|fusion [--data PATH...|demo] [--epochs N] ...
    torchrun --nproc_per_node=N workbench.py train ...   # one run on N GPUs (or CPU processes)
    python workbench.py experiment data-efficiency [--data PATH...|demo] ...
    python workbench.py evaluate RUN_OR_CHECKPOINT [--data PATH...] [--split ...] [--json]
    python workbench.py predict FILE [--model RUN_OR_CHECKPOINT] [--json] ...
    python workbench.py explain FILE [--model RUN_OR_CHECKPOINT] [--method ...] [--out PNG]
    python workbench.py compare RUN_DIR... [--out PNG]
    python workbench.py export RUN_DIR OUT.pt [--notes FILE.md]
    python workbench.py export RUN_OR_CHECKPOINT OUT.onnx     # ONNX graph + JSON sidecar
    python workbench.py data-info PATH [--json]
    python workbench.py make-demo-data [--out DIR] [--seed N]

The commands live in ``cli/``, one module per group, each ``cmd_<command>`` beside the
``add_<command>`` that declares its arguments. ``python workbench.py COMMAND --help`` says
what a command does and takes.

Bad input never ends in a traceback: the error is one sentence on stderr and exit status 2.
Building the parser imports the training code (its choices are the parser's), so it runs
inside ``main``'s checks: without the packages, the message says to run 'make setup'.
"""

from __future__ import annotations

import argparse
import os
import sys

from datasets.errors import WorkbenchError

EXIT_BAD_INPUT = 2


def cmd_gui(args: argparse.Namespace) -> int:
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        print(
            "No display is available for the window; run 'make demo' (or 'python workbench.py "
            "demo') to use the workbench from the terminal instead.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    from emotion_gui.app import main as gui_main

    return gui_main()


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command (``args.func`` runs the one given; none: the window)."""
    from cli import compare, data, demo, evaluate, explain, gallery, live, predict, train

    p = argparse.ArgumentParser(
        prog="workbench.py",
        description="Emotion Workbench: multimodal emotion recognition for the classroom. "
        "With no COMMAND it opens the window; every COMMAND runs in the terminal without it.",
        epilog="'workbench.py COMMAND --help' tells what a command does and takes.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in (
        demo.add_demo,
        train.add_train,
        evaluate.add_evaluate,
        predict.add_predict,
        explain.add_explain,
        live.add_live,
        compare.add_compare,
        train.add_experiment,
        evaluate.add_export,
        data.add_data_info,
        data.add_make_demo_data,
        gallery.add_examples,
        gallery.add_embeddings,
    ):
        add(sub)
    return p


# The project's own top-level packages: a missing one is a bug, not a missing install.
PROJECT_PACKAGES = {"cli", "datasets", "models", "training", "emotion_gui", "workbench"}


def quiet_libraries() -> None:
    """Keep the terminal to the workbench's own words: libraries' warnings (PIL's
    decompression-bomb warning, scikit-learn's UserWarnings…), their log records and
    OpenCV's ``[ WARN ]`` log lines would come before the one sentence that says what is
    wrong and what to do.
    ``WORKBENCH_DEBUG=1`` shows them."""
    if os.environ.get("WORKBENCH_DEBUG"):
        return
    import logging
    import warnings

    warnings.simplefilter("ignore")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # read when cv2 is first imported
    # Libraries' log records (matplotlib's "created a temporary cache directory" where the
    # home folder is read-only…) reach the terminal through logging's handler of last
    # resort; the window, which sets up logging itself, still keeps them in its log.
    logging.lastResort = logging.NullHandler()


def refuse_empty_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An empty value (``--out ""``, an unset shell variable) would quietly mean "here": a
    run written into the current folder, a model looked for in it. Refuse it by name."""
    command = getattr(args, "command", None)
    if command is None:
        return
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices[command]._actions:
        value = getattr(args, action.dest, None)
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and not v.strip() for v in values):
            name = action.option_strings[-1] if action.option_strings else action.metavar
            name = name or action.dest.upper()
            raise WorkbenchError(
                f"{name} was given an empty value; pass a real one"
                + (f" or leave {name} out." if action.option_strings else ".")
            )


def under_torchrun() -> bool:
    """Whether torchrun started this process (it sets these; training.distributed)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def os_error_sentence(exc: OSError, out: str | None) -> str:
    """One sentence for a file-system failure no reader foresaw. A full disk says so, and
    names the file, or else the output folder the command was writing (an error raised in
    a worker process or by a C library often carries no file name)."""
    import errno

    place = exc.filename or out
    what = f" '{place}'" if place else ""
    if exc.errno == errno.ENOSPC:
        return f"cannot write{what}: the disk is full; free some space or choose another disk."
    return f"cannot use{what} ({exc.strerror or exc}); check the path and its permissions."


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    args = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if under_torchrun() and args.command != "train":
            raise WorkbenchError(
                f"Under torchrun only 'train face|speech|fusion' runs, one model on several "
                f"processes; run {f'{args.command!r}' if args.command else 'the window'} "
                "with plain python instead."
            )
        refuse_empty_values(parser, args)
        return getattr(args, "func", cmd_gui)(args)
    except WorkbenchError as exc:
        rank = os.environ.get("RANK", "0") if under_torchrun() else "0"
        print(f"error: {exc}" if rank == "0" else f"error (rank {rank}): {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] in PROJECT_PACKAGES:
            raise  # our own code is broken: a bug, not a setup step
        print(
            f"error: the Python package '{exc.name.split('.')[0]}' is not installed here; run "
            "'make setup' once, then start the workbench with '.venv/bin/python workbench.py' "
            "(or 'source .venv/bin/activate' first).",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        # A file-system problem the loaders did not foresee: still one sentence, no traceback.
        print(f"error: {os_error_sentence(exc, getattr(args, 'out', None))}", file=sys.stderr)
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
