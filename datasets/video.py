"""Video clips: evenly sampled face frames, and the audio of the same take.

Frames are decoded with OpenCV; the audio comes from the audio-only file of the same
RAVDESS take (``03-`` + the other six fields) when one is found, else from the clip's own
audio track, decoded with PyAV (its wheel carries FFmpeg).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# OpenCV's FFmpeg would print "moov atom not found" for a broken clip, ahead of our own
# one-sentence error; keep its log quiet (must be set before the first VideoCapture).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402
import numpy as np

from .audio import read_audio, resample
from .errors import NoFaceError, NoSoundError, WorkbenchError, describe, require_readable
from .faces import Box, FaceDetector, default_detector
from .ravdess import parse_name

VIDEO_HINT = "choose an .mp4 clip that plays in a video player"


def pyav():
    """PyAV, imported when first needed (a clip's own sound track, saving a recording as
    .mp4), so that the workbench imports and trains where it is not installed."""
    try:
        import av
    except ImportError:
        raise WorkbenchError(
            "Reading or writing a video's sound track needs PyAV, which is not installed "
            "here; install it (pip install -r requirements.txt), or put the take's "
            "audio-only RAVDESS WAV (03-…wav) beside the clip."
        ) from None
    return av


@dataclass
class ClipFaces:
    """Faces from N evenly spaced frames of a clip."""

    frames: list[np.ndarray]  # N sampled frames, (H, W) uint8 grayscale, full size
    faces: np.ndarray  # (F, 48, 48) uint8: the frames where a face was found
    boxes: list[Box | None]  # per sampled frame: the face box, or None
    found: np.ndarray  # (N,) bool: a face was found in sampled frame i
    times: np.ndarray  # (N,) seconds of each sampled frame
    fps: float
    n_total: int  # frames in the clip


def _open(path: Path) -> cv2.VideoCapture:
    require_readable(path)
    if not path.is_file():
        raise WorkbenchError(f"Video {describe(path)} does not exist; check the path.")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise WorkbenchError(
            f"{describe(path)} is not a video the workbench can read; {VIDEO_HINT}."
        )
    return cap


def _count_frames(path: Path) -> int:
    """Frames that really decode (headers can be missing or wrong)."""
    cap = _open(path)
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def sample_frames(path: str | Path, n: int = 8) -> tuple[list[np.ndarray], np.ndarray, float, int]:
    """Decode ``n`` evenly spaced frames as grayscale.

    Returns (frames, times in s, fps, total frames). Frames are read in order with
    ``grab()`` (no seeking: H.264 seeks are slow and not always exact); only the chosen
    ones are converted. When the header's frame count is missing or too high, the frames
    are counted first and the clip is read again, so the samples still span the clip.
    """
    path = Path(path)
    cap = _open(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    fps = fps if 1.0 <= fps <= 1000.0 else 30.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    if total <= 0:
        total = _count_frames(path)
    for _attempt in range(2):
        frames, times, decoded = _read_at(path, _evenly(total, n), fps)
        if decoded >= total or len(frames) == min(n, total):
            break
        total = _count_frames(path)  # the header over-counted: sample the real length
    if not frames:
        raise WorkbenchError(f"No frames could be decoded from {describe(path)}; {VIDEO_HINT}.")
    return frames, np.asarray(times), float(fps), total


def _evenly(total: int, n: int) -> np.ndarray:
    """Centres of ``n`` equal segments of ``total`` frames (first and last are often blank)."""
    return np.unique(((np.arange(n) + 0.5) * total / n).astype(int))


def _read_at(
    path: Path, wanted: np.ndarray, fps: float
) -> tuple[list[np.ndarray], list[float], int]:
    """Grayscale frames at the ``wanted`` indices; also how many frames were grabbed."""
    cap = _open(path)
    frames: list[np.ndarray] = []
    times: list[float] = []
    idx = j = 0
    try:
        while j < len(wanted) and cap.grab():
            if idx == wanted[j]:
                ok, bgr = cap.retrieve()
                if ok:
                    frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
                    times.append(idx / fps)
                j += 1
            idx += 1
    finally:
        cap.release()
    return frames, times, idx


def clip_faces(
    path: str | Path, n_frames: int = 8, detector: FaceDetector | None = None
) -> ClipFaces:
    """Face crops from ``n_frames`` evenly spaced frames; ``NoFaceError`` if none has a face."""
    detector = detector or default_detector()
    frames, times, fps, total = sample_frames(path, n_frames)
    faces, boxes, found = [], [], []
    for frame in frames:
        try:
            crop = detector.find(frame, source=path)
        except NoFaceError:
            boxes.append(None)
            found.append(False)
            continue
        faces.append(crop.face)
        boxes.append(crop.box)
        found.append(True)
    if not faces:
        raise NoFaceError(
            f"No face found in any of the {len(frames)} sampled frames of {describe(path)}; "
            "use a clip with a frontal, well-lit face."
        )
    return ClipFaces(frames, np.stack(faces), boxes, np.asarray(found), times, fps, total)


def find_take_audio(
    path: str | Path, roots: Iterable[str | Path] = (), depth: int = 3
) -> Path | None:
    """The audio-only file (``03-…wav|flac``) of the same RAVDESS take as clip ``path``.

    Looks in the clip's folder, then in ``roots`` (default: the folder above the clip's),
    at most ``depth`` folders down, so both the original RAVDESS layout
    (``…/Actor_05/01-….mp4`` beside ``…/Audio_Speech/Actor_05/03-….wav``) and a flat
    folder work without ever walking a whole disk.
    """
    path = Path(path)
    try:
        clip = parse_name(path)
    except ValueError:
        return None  # not a RAVDESS name: there is no "same take" to look for
    names = {clip.sibling_name(3, ext) for ext in ("wav", "flac")}
    for name in sorted(names):
        if (path.parent / name).is_file():
            return path.parent / name
    never = {Path(path.anchor), Path.home()}  # too big to walk for one file
    for root in [Path(r) for r in roots] or [path.parent.parent]:
        if root.resolve() in never:
            continue
        base = len(root.resolve().parts)
        for dirpath, dirnames, filenames in os.walk(root.resolve()):
            dirnames.sort()
            if len(Path(dirpath).parts) - base >= depth:
                dirnames[:] = []
            hit = names.intersection(filenames)
            if hit:
                return Path(dirpath) / sorted(hit)[0]
    return None


def read_track_audio(path: str | Path, sr: int = 16_000) -> np.ndarray:
    """A video file's own audio track as mono float32 at ``sr`` Hz."""
    path = require_readable(path)
    av = pyav()
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise NoSoundError(
                    f"Video {describe(path)} has no audio track and no matching RAVDESS "
                    "audio file (03-…wav) was found; put the take's WAV next to the clip.",
                    reason="it has no sound track and no matching RAVDESS 03- recording",
                )
            stream = container.streams.audio[0]
            native = stream.rate
            chunks = []
            for frame in container.decode(stream):
                a = frame.to_ndarray()
                if a.dtype.kind == "i":  # s16/s32 sample formats
                    a = a.astype(np.float32) / np.iinfo(a.dtype).max
                elif a.dtype.kind == "u":  # u8: silence is 128
                    a = (a.astype(np.float32) - 128.0) / 128.0
                a = a.astype(np.float32, copy=False)
                if frame.format.is_planar:  # (channels, n)
                    chunks.append(a.mean(axis=0))
                else:  # (1, n * channels), interleaved
                    chunks.append(a.reshape(-1, len(frame.layout.channels)).mean(axis=1))
    except av.FFmpegError as exc:
        raise WorkbenchError(
            f"Cannot decode the audio of {describe(path)} ({exc}); {VIDEO_HINT}."
        ) from None
    if not chunks:
        raise NoSoundError(
            f"The audio track of {describe(path)} is empty; {VIDEO_HINT}.",
            reason="its sound track is empty",
        )
    return resample(np.concatenate(chunks), native, sr)


def clip_audio(
    path: str | Path, sr: int = 16_000, roots: Iterable[str | Path] = ()
) -> tuple[np.ndarray, Path]:
    """Audio of a clip's take: (mono float32 at ``sr``, the file it came from)."""
    take = find_take_audio(path, roots)
    if take is not None:
        return read_audio(take, sr), take
    return read_track_audio(path, sr), Path(path)
