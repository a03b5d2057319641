#!/usr/bin/env python3
"""Data-loading benchmark: cold vs cached loads, measured side by side in one run.

    python bench/data_loading.py [--shared ../shared/data] [--skip-demo]

Prints, with the targets for a 2-core machine:
  * FER-2013 train (28,709 JPEGs): cold load (empty workbench cache) and cached load;
  * RAVDESS speech (1,080 files): log-mel extraction cold and cached;
  * demo-data generation time and size.
"Cold" means the workbench's own cache is empty; the operating system may still hold
the files in its page cache (run `sync; echo 3 > /proc/sys/vm/drop_caches` first for a
truly cold disk).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets.audio import extract_features  # noqa: E402
from datasets.fer2013 import load_fer2013  # noqa: E402
from datasets.ravdess import scan_ravdess, speech_audio  # noqa: E402


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def report(name: str, seconds: float, target: float | None = None) -> None:
    verdict = (
        ""
        if target is None
        else f"  (target <= {target:g} s: {'ok' if seconds <= target else 'MISSED'})"
    )
    print(f"{name:<42} {seconds:8.2f} s{verdict}")


def cold_and_cached(name: str, load, cold_target: float, cached_target: float):
    """Time ``load()`` with an empty cache, then again from the cache; report both."""
    cold, result = timed(load)
    cached, _ = timed(load)
    report(f"{name} cold", cold, cold_target)
    report(f"{name} cached", cached, cached_target)
    print(f"{'  cached speed-up':<42} {cold / cached:8.1f} x")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--skip-demo", action="store_true", help="do not time demo-data generation")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        cache = Path(tmp) / "cache"
        fer = args.shared / "fer2013" / "train"
        if fer.is_dir():
            data = cold_and_cached(
                "FER-2013 load", lambda: load_fer2013(fer, cache_dir=cache), 15, 1
            )
            print(f"FER-2013 train: {len(data.labels)} images")
        else:
            print(f"FER-2013 skipped: {fer} is absent")

        ravdess = args.shared / "ravdess_speech_16k"
        if ravdess.is_dir():
            paths = [c.path for c in speech_audio(scan_ravdess(ravdess).clips)]
            fs = cold_and_cached(
                "RAVDESS log-mel", lambda: extract_features(paths, cache_dir=cache), 30, 2
            )
            print(f"RAVDESS speech: {len(paths)} files -> features {tuple(fs.x.shape)}")
        else:
            print(f"RAVDESS skipped: {ravdess} is absent")

        if not args.skip_demo:
            from datasets.demo import make_demo_data

            out = Path(tmp) / "demo"
            seconds, _ = timed(lambda: make_demo_data(out))
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            report("demo-data generation", seconds, 60)
            print(f"{'  demo-data size':<42} {size / 1e6:8.1f} MB  (target <= 120 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
