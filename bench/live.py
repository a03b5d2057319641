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

With ``--window`` it measures the window instead: the Live tab on a private Xvfb screen,
the camera a real clip (the next one when a clip ends), the microphone a real audio device
when one can be made (a PulseAudio null sink whose monitor is the input, a RAVDESS
recording played into it over and over) else a recording, and the facial CNN training
from the Train button at the same time (``--no-training``: the Live tab alone). A Tk
``after`` callback every 5 ms measures how long a click would wait (the longest event-loop
gap, target <= 150 ms), beside the analysed and the painted frames per second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_FPS = 15.0
TARGET_GAP_MS = 150.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seconds", type=float, default=None, help="stop each clip after this")
    ap.add_argument("--window", action="store_true", help="measure the window's event loop")
    ap.add_argument("--no-training", action="store_true", help="with --window: the Live tab alone")
    args = ap.parse_args()
    if args.window:
        return measure_window(args.shared, args.seconds or 30.0, not args.no_training)
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


def measure_window(shared: Path, seconds: float, training: bool = True) -> int:
    """The Live tab with a camera, a microphone and (``training``) a training at once:
    event-loop gaps and frame rates."""
    import os
    import subprocess
    import tempfile
    import time

    import numpy as np

    from emotion_gui.xvfb import start_xvfb

    clips = sorted((shared / "ravdess_video").glob("01-*.mp4")) or sorted(
        (shared / "ravdess_video").glob("*.mp4")
    )
    voices = sorted((shared / "ravdess_wav48k_samples").rglob("*.wav"))
    if not clips or not voices:
        print(f"no RAVDESS clips or recordings under {shared}: nothing to measure")
        return 0
    xvfb = start_xvfb() if not os.environ.get("DISPLAY") else None
    scratch = tempfile.TemporaryDirectory(prefix="workbench-bench-")
    os.environ["WORKBENCH_RUNS_DIR"] = scratch.name  # keep runs/ as it is
    sink = player = None
    try:
        import tkinter as tk

        from datasets.sources import demo_sources, ensure_demo
        from emotion_gui.app import WorkbenchApp

        sink = _null_sink()
        microphone = "default" if sink else str(voices[0])
        if sink:
            loop = " ; ".join(f"paplay '{v}'" for v in voices[:6])
            player = subprocess.Popen(["bash", "-c", f"while true; do {loop}; done"])
        ensure_demo()
        root = tk.Tk()
        app = WorkbenchApp(root, demo_sources())
        while app.loaded is None or not app.renderer.idle():
            root.update()
            time.sleep(0.01)
        view = app.live_view
        if training:
            app.settings.epochs_var.set("50")
            app.train("face")
        ticks, frames, painted, nth = [], 0, 0, 0
        started = time.monotonic()

        def tick() -> None:
            nonlocal frames, painted, nth
            now = time.monotonic()
            if "live" not in app.jobs:  # the clip ended: the next one (not measured between)
                frames, painted = frames + view.frames, painted + view.painted
                view.painted = 0
                view.camera.set(str(clips[nth % len(clips)]))
                view.microphone.set(microphone)
                nth += 1
                view.start()
                ticks.append(None)
            elif view.frames:
                ticks.append(now)
            if now - started > seconds or (training and app.training_job is None):
                root.quit()
            else:
                root.after(5, tick)

        root.after(5, tick)
        root.mainloop()
        frames, painted = frames + view.frames, painted + view.painted
        wall = time.monotonic() - started
        trained = "no training" if not training else "facial CNN training throughout"
        if training and app.training_job is None:
            trained = "facial CNN training (it finished early)"
        job = app.training_job
        app.close()
        if job is not None:
            job.thread.join(timeout=300)  # as the app's main() does: the run saves first
        gaps = [b - a for a, b in zip(ticks, ticks[1:]) if a is not None and b is not None]
        gaps = np.array(gaps)
        print(
            f"window, {wall:.0f} s: camera = {nth} real 1280x720 clips, microphone = "
            f"{'a PulseAudio null sink (real device)' if sink else 'a recording'}, {trained}"
        )
        print(
            f"  analysed {frames / wall:.1f} frames/s, painted {painted / wall:.1f} frames/s; "
            f"longest event-loop gap {gaps.max() * 1000:.0f} ms, p99 "
            f"{np.percentile(gaps, 99) * 1000:.0f} ms (target <= {TARGET_GAP_MS:.0f} ms): "
            f"{TARGET_GAP_MS / (gaps.max() * 1000):.2f}x the target"
        )
    finally:
        if player is not None:
            player.kill()
        if sink:
            subprocess.run(["pactl", "unload-module", sink], check=False)
        if xvfb:
            xvfb.terminate()
        scratch.cleanup()
    return 0


def _null_sink() -> str | None:
    """A PulseAudio null sink as the default output, its monitor the default input; the
    module number to unload, or None when PulseAudio is not there."""
    import shutil
    import subprocess

    if not shutil.which("pactl"):
        return None
    if subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
        subprocess.run(["pulseaudio", "-D", "--exit-idle-time=-1"], capture_output=True)
    made = subprocess.run(
        ["pactl", "load-module", "module-null-sink", "sink_name=workbench_bench"],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        return None
    subprocess.run(["pactl", "set-default-sink", "workbench_bench"], check=False)
    subprocess.run(["pactl", "set-default-source", "workbench_bench.monitor"], check=False)
    return made.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
