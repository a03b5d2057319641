"""``live``: a camera and a microphone (or a video file and a recording in their places),
answered as they go."""

from __future__ import annotations

import argparse
import signal
import threading

from .common import add_command, json_text, positive_float


def _line(update) -> str:
    """One readable line per update: the face's top emotion, the speech's, the fused."""

    def top(part: dict | None, what: str) -> str:
        if part is None:
            return f"{what} -"
        probs = part["probabilities"]
        best = max(probs, key=probs.get)
        return f"{what} {best} {probs[best]:.0%}"

    return f"{update.time:7.2f} s  " + "  ".join(
        top(p, w)
        for p, w in ((update.face, "face"), (update.speech, "speech"), (update.fused, "fused"))
    )


def cmd_live(args: argparse.Namespace) -> int:
    from training.live import run_live

    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl+C ends the session
    try:
        summary = run_live(
            args.camera,
            args.microphone,
            seconds=args.seconds,
            face_model=args.face_model,
            speech_model=args.speech_model,
            fusion_model=args.fusion_model,
            on_update=(lambda u: print(json_text(u.to_dict(), indent=None), flush=True))
            if args.json
            else (lambda u: print(_line(u), flush=True)),
            stop_event=stop,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    print(
        json_text(summary, indent=None)
        if args.json
        else (
            f"{summary['frames']} frames, {summary['seconds']} s, {summary['fps']} analysed frames/s"
        )
    )
    return 0


def add_live(subparsers) -> None:
    s = add_command(
        subparsers,
        "live",
        "the face and speech models on a camera and a recording as they go",
        cmd_live,
    )
    s.add_argument(
        "--camera",
        metavar="INDEX|FILE|URL",
        help="a camera number (0 is the first), or a video file or stream URL in its place",
    )
    s.add_argument(
        "--microphone",
        metavar="INDEX|FILE",
        help="a microphone number ('default' for the system's default input), or a WAV "
        "recording in its place",
    )
    s.add_argument("--seconds", type=positive_float, help="stop after this many seconds")
    s.add_argument(
        "--face-model",
        metavar="RUN_OR_CHECKPOINT",
        help="default: the latest face run, else the starter",
    )
    s.add_argument(
        "--speech-model",
        metavar="RUN_OR_CHECKPOINT",
        help="default: the latest speech run, else the starter",
    )
    s.add_argument(
        "--fusion-model",
        metavar="RUN_OR_CHECKPOINT",
        help="the fused answer's model (default: the latest fusion run, else the starter); "
        "'average' for the plain average of the face and speech answers",
    )
    s.add_argument(
        "--json", action="store_true", help="one JSON object per update, then a summary line"
    )
