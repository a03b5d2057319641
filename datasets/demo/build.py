"""Writing a demo set: jobs shared by worker processes, the CSV, the marker, and a folder that
is renamed into place only when finished (``make_demo_data``, ``ensure_demo_data``)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from datasets.demo.config import (
    DEFAULT_N_ACTORS,
    DEFAULT_N_FACES,
    DEMO_VERSION,
    FACE_SIZE,
    KIND_SPEECH,
    USAGE_NAMES,
)
from datasets.demo.fer import face_class_counts, face_labels_and_usage, render_fer_face
from datasets.demo.marker import MARKER_NAME, is_complete, marker_contents, read_marker
from datasets.demo.video import frame_envelope, render_clip_frames, write_mp4
from datasets.demo.voices import Take, actor_voice, speech_takes, synthesize_speech, write_wav
from datasets.errors import WorkbenchError, describe
from datasets.labels import FER_CLASSES
from datasets.paths import demo_dir

ProgressFn = Callable[[str, float], None]


def _render_face_chunk(seed: int, start: int, labels: Sequence[int]) -> np.ndarray:
    """Rows start .. start+len(labels)-1: uint8 (n, 48, 48)."""
    return np.stack([render_fer_face(seed, start + i, int(lab)) for i, lab in enumerate(labels)])


def _make_takes(
    root: str, seed: int, takes: Sequence[Take], with_video: bool
) -> tuple[int, int, int]:
    """Write the WAV (and mp4) of each take under ``root``; returns (n_wav, n_mp4, bytes)."""
    n_wav = n_mp4 = n_bytes = 0
    for take in takes:
        folder = Path(root) / f"Actor_{take.actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, KIND_SPEECH, *take.key()])
        audio = synthesize_speech(actor_voice(seed, take.actor), take, rng)
        wav = folder / take.name(3, "wav")
        write_wav(wav, audio)
        n_wav += 1
        n_bytes += wav.stat().st_size
        if with_video:
            mp4 = folder / take.name(2, "mp4")
            write_mp4(mp4, render_clip_frames(seed, take, frame_envelope(audio)))
            n_mp4 += 1
            n_bytes += mp4.stat().st_size
    return n_wav, n_mp4, n_bytes


def _watch_parent(parent: int, tmp: str) -> None:
    """A worker's start: as soon as the process that started it is gone (killed outright,
    it cannot say so), remove the unfinished folder and end, instead of working through
    its queued jobs for nobody for a minute or more."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        shutil.rmtree(tmp, ignore_errors=True)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


# ----------------------------------------------------------------------------------------------
# Driver


def _write_csv(path: Path, images: np.ndarray, labels: np.ndarray, usage: np.ndarray) -> int:
    """Write the FER-2013 CSV; images uint8 (n, 48, 48). Returns the file size in bytes."""
    names = np.array([str(i) for i in range(256)], dtype=object)
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("emotion,pixels,Usage\n")
        for img, lab, use in zip(images, labels, usage, strict=True):
            f.write(f"{int(lab)},{' '.join(names[img.ravel()])},{USAGE_NAMES[int(use)]}\n")
    return path.stat().st_size


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to overwrite anything but an empty folder or an earlier demo set.

    A folder counts as demo data only when it has our ``.complete`` marker: finished sets are
    renamed into place after the marker is written, so real FER-2013 / RAVDESS folders (which
    may well be called ``fer2013`` and ``ravdess`` too) can never be taken for one.
    """
    if not out_dir.exists():
        return
    earlier = read_marker(out_dir) if out_dir.is_dir() else None
    if out_dir.is_dir() and earlier is None and not any(out_dir.iterdir()):
        return
    if earlier is None:
        raise WorkbenchError(
            f"{describe(out_dir)} is not an earlier demo-data folder and is not empty; "
            "choose an empty or new folder for the demo data (nothing was changed)."
        )
    # An earlier demo set: replaced whole, so only if it holds nothing but what the
    # generator wrote (a class's own recordings saved into it must not go with it).
    ours = generated_files(earlier)
    theirs = sorted(
        p for p in out_dir.rglob("*") if not p.is_dir() and p.relative_to(out_dir) not in ours
    )
    if theirs:
        raise WorkbenchError(
            f"{describe(out_dir)} is an earlier demo-data folder but also holds "
            f"{len(theirs)} file(s) the generator did not write, such as "
            f"{describe(theirs[0])}; move them elsewhere or choose another folder for the "
            "demo data (nothing was changed)."
        )


def generated_files(marker: dict) -> set[Path]:
    """The files (relative paths) ``make_demo_data`` writes for the settings a marker
    records: the marker, the CSV, and each take's WAV (and MP4)."""
    files = {Path(MARKER_NAME), Path("fer2013") / "fer2013.csv"}
    try:
        n_actors, with_video = int(marker.get("n_actors", 0)), bool(marker.get("with_video"))
    except (TypeError, ValueError):
        return files
    for take in speech_takes(min(max(n_actors, 0), 24)):
        folder = Path("ravdess") / f"Actor_{take.actor:02d}"
        files.add(folder / take.name(3, "wav"))
        if with_video:
            files.add(folder / take.name(2, "mp4"))
    return files


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished ``tmp`` folder to ``out_dir``, replacing an old demo folder there."""
    _check_replaceable(out_dir)
    if out_dir.exists():
        trash = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out_dir, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(tmp, out_dir)


@contextmanager
def _generation_lock(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``out_dir`` (a GUI and a CLI may both want the demo data).

    Uses ``fcntl.flock`` on a sibling ``.name.lock`` file; where fcntl is missing (Windows)
    generation simply runs unlocked.
    """
    try:
        import fcntl  # noqa: PLC0415
    except ImportError:
        yield
        return
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir.with_name(f".{out_dir.name}.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_leftovers(out_dir: Path) -> None:
    """Delete temporary and old folders that killed runs left behind (call under the lock)."""
    for pattern in (f".{out_dir.name}.tmp-*", f".{out_dir.name}.old-*"):
        for stale in out_dir.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


def make_demo_data(
    out_dir: Path,
    seed: int = 0,
    progress: ProgressFn | None = None,
    *,
    n_faces: int = DEFAULT_N_FACES,
    n_actors: int = DEFAULT_N_ACTORS,
    with_video: bool = True,
    workers: int | None = None,
) -> dict:
    """Generate the demo data set into ``out_dir`` (replacing an older demo set there).

    Everything is written into a temporary sibling folder, the ``.complete`` marker (JSON:
    version, seed, sizes) last, and the folder is renamed into place at the end, so an
    interrupted run never leaves a folder that looks complete.

    Refuses (``WorkbenchError``, before any work) to replace a folder that is neither empty
    nor an earlier demo set. Concurrent calls for the same folder wait for each other.

    ``progress(message, fraction)`` (fraction 0..1) is called from the calling thread.
    Keyword-only size knobs, mainly for tests: ``n_faces`` CSV rows (>= 7), ``n_actors``
    (1..24, 60 takes each), ``with_video`` (one mp4 per take). ``workers`` processes (default:
    up to 2) share the work; the output is identical for any number of workers. Workers are
    started with "spawn", so a script that calls this with workers > 1 must guard its entry
    point with ``if __name__ == "__main__":``.

    Returns a summary: ``version``, ``seed``, ``n_faces``, ``face_counts`` (per FER class),
    ``n_actors``, ``n_wav``, ``n_mp4``, ``bytes`` (total written) and ``seconds`` (wall clock).
    """
    if not 1 <= n_actors <= 24:
        raise ValueError(f"n_actors must be in 1..24, got {n_actors}")
    out_dir = Path(out_dir)
    with _generation_lock(out_dir):
        return _generate(out_dir, seed, progress, n_faces, n_actors, with_video, workers)


def _generate(
    out_dir: Path,
    seed: int,
    progress: ProgressFn | None,
    n_faces: int,
    n_actors: int,
    with_video: bool,
    workers: int | None,
) -> dict:
    """``make_demo_data`` without the lock (the caller holds it)."""
    _check_replaceable(out_dir)  # before ~20 s of work, not after
    _remove_leftovers(out_dir)
    t0 = time.perf_counter()
    report = progress or (lambda _msg, _frac: None)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    report("Generating demo data", 0.0)

    labels, usage = face_labels_and_usage(n_faces, seed)
    chunk = 200
    face_jobs = [(s, labels[s : s + chunk].tolist()) for s in range(0, n_faces, chunk)]
    # One job per (actor, emotion): 4-8 takes, fine-grained enough to balance two workers.
    take_jobs: dict[tuple[int, int], list[Take]] = {}
    for take in speech_takes(n_actors):
        take_jobs.setdefault((take.actor, take.emotion), []).append(take)
    root = str(tmp / "ravdess")
    jobs: list[tuple[Callable, tuple]] = [
        (_make_takes, (root, seed, takes, with_video)) for takes in take_jobs.values()
    ]  # takes first: they are the long jobs, faces fill the gaps at the end
    jobs += [(_render_face_chunk, (seed, start, labs)) for start, labs in face_jobs]
    # Progress weights: a take (audio + 45 video frames) costs about as much as 6-10 faces.
    cost = [
        (8.0 if with_video else 2.5) * len(a[2]) if f is _make_takes else len(a[2]) for f, a in jobs
    ]
    total_cost, done_cost = sum(cost), 0.0

    images = np.empty((n_faces, FACE_SIZE, FACE_SIZE), dtype=np.uint8)
    counts = {"n_wav": 0, "n_mp4": 0, "bytes": 0}

    def collect(i: int, result: object) -> None:
        nonlocal done_cost
        fn, args = jobs[i]
        if fn is _render_face_chunk:
            start, labs = args[1], args[2]
            images[start : start + len(labs)] = result
        else:
            for key, value in zip(("n_wav", "n_mp4", "bytes"), result, strict=True):
                counts[key] += value
        done_cost += cost[i]
        report("Generating demo data", min(done_cost / total_cost, 0.99))

    n_workers = min(2, os.cpu_count() or 1) if workers is None else max(1, workers)
    try:
        (tmp / "fer2013").mkdir(parents=True)
        (tmp / "ravdess").mkdir()
        pending = set(range(len(jobs)))
        if n_workers > 1:
            import multiprocessing  # noqa: PLC0415

            # "spawn": safe when the caller has threads (a GUI); fork is not.
            pool = ProcessPoolExecutor(
                n_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
                initargs=(os.getpid(), str(tmp)),
            )
            try:
                futures = {pool.submit(fn, *args): i for i, (fn, args) in enumerate(jobs)}
                for fut in as_completed(futures):
                    collect(futures[fut], fut.result())
                    pending.discard(futures[fut])
            except BrokenProcessPool:
                # Workers could not start: e.g. the program's main module cannot be imported
                # again (run from stdin). Output does not depend on workers: finish here.
                pass
            finally:
                # On error or Ctrl-C, drop queued jobs instead of finishing them.
                pool.shutdown(wait=True, cancel_futures=True)
        for i in sorted(pending):
            fn, args = jobs[i]
            collect(i, fn(*args))
        report("Writing fer2013.csv", 0.99)
        counts["bytes"] += _write_csv(tmp / "fer2013" / "fer2013.csv", images, labels, usage)
        marker = marker_contents(seed, n_faces, n_actors, with_video)
        (tmp / MARKER_NAME).write_text(json.dumps(marker, sort_keys=True), encoding="utf-8")
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report("Demo data ready", 1.0)
    return {
        "out_dir": str(out_dir),
        "version": DEMO_VERSION,
        "seed": seed,
        "n_faces": n_faces,
        "face_counts": dict(zip(FER_CLASSES, face_class_counts(n_faces), strict=True)),
        "n_actors": n_actors,
        **counts,
        "seconds": time.perf_counter() - t0,
    }


def ensure_demo_data(
    out_dir: Path | None = None, seed: int = 0, progress: ProgressFn | None = None
) -> Path:
    """Return the demo folder (default ``datasets.paths.demo_dir()``), generating it first when
    its marker is missing or records another version, seed or size. ``progress`` is passed to
    ``make_demo_data``."""
    out_dir = Path(out_dir) if out_dir is not None else demo_dir()
    if is_complete(out_dir, seed):
        return out_dir
    with _generation_lock(out_dir):
        if not is_complete(out_dir, seed):  # another process may have made it meanwhile
            _generate(
                out_dir, seed, progress, DEFAULT_N_FACES, DEFAULT_N_ACTORS, True, workers=None
            )
    return out_dir
