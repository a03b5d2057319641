#!/usr/bin/env python3
"""Live analysis speed: frames the face model answers per second on real 1280x720 video.

    python bench/live.py [--shared ../shared/data] [--seconds 3]

Runs ``training.live.run_live`` exactly as ``workbench.py live`` does, on the real RAVDESS
clips in ``../shared/data/ravdess_video`` (1280x720, 29.97 fps) standing in for a camera and
the recording of the same take standing in for the microphone, with the shipped starter
models: every frame is analysed (face detection on a 320 px copy, the face model, and the
speech model on the last 3 s twice a second). Prints analysed frames per wall-clock second
per clip and their median against the target of 15 on the 2-core classroom CPU. A camera
runs at the same speed and drops the frames that arrive while one is analysed.
(The window's event-loop gap while the camera, microphone and a training run are active is
still to be measured here, with the live tab.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_FPS = 15.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seconds", type=float, default=None, help="stop each clip after this")
    args = ap.parse_args()
    from training.live import run_live
    from training.runs import starter_model

    clips = sorted((args.shared / "ravdess_video").glob("*.mp4"))
    if not clips:
        print(f"no RAVDESS clips under {args.shared / 'ravdess_video'}: nothing to measure")
        return 0
    rates = []
    for clip in clips:
        take = clip.name[2:-4]  # the audio-only recording of the same take: 03-…
        sound = args.shared / "ravdess_speech_16k" / f"Actor_{take[-2:]}" / f"03{take}.flac"
        summary = run_live(
            clip,
            sound if sound.is_file() else None,
            seconds=args.seconds,
            face_model=starter_model("face"),
            speech_model=starter_model("speech"),
        )
        rates.append(summary["fps"])
        print(
            f"{clip.name}: {summary['frames']} frames in {summary['seconds']} s of video, "
            f"{summary['fps']:.1f} analysed frames/s"
        )
    median = statistics.median(rates)
    print(
        f"median {median:.1f} analysed frames/s on 1280x720 (target >= {TARGET_FPS:.0f}): "
        f"{median / TARGET_FPS:.2f}x the target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
