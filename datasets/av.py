"""Audio-video takes for fusion: the same person at the same moment, face and voice.

``AVTakes`` is RAVDESS's speech video clips (``01-`` audio-video, ``02-`` video-only), each
with N evenly spaced face crops and the features of the same take's sound: the matching
audio-only ``03-`` file when one is found, else the clip's own sound track. Split by actor,
like the speech data. Face crops are cached per clip and audio features per file, so the
second load is quick.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch

from . import cache
from .audio import FeatureParams, extract_features, features_of
from .errors import WorkbenchError, describe
from .labels import RAVDESS_EMOTIONS, class_counts
from .ravdess import (
    VIDEO_SUFFIXES,
    ActorSplit,
    RavdessClip,
    RavdessScan,
    default_actor_split,
    scan_ravdess,
)
from .video import clip_audio, clip_faces, find_take_audio

FACES_FORMAT = 1  # bump when the crops change, so old cache entries are never used


def av_clips(scan: RavdessScan) -> list[RavdessClip]:
    """The speech video clips (``01-01-…``/``02-01-…`` .mp4) of a scan, in sorted order."""
    return [
        c
        for c in scan.clips
        if c.modality in (1, 2) and c.channel == 1 and c.path.suffix.lower() in VIDEO_SUFFIXES
    ]


def _faces_mismatch(a: dict[str, np.ndarray], n_frames: int) -> str | None:
    """Why a cached entry is not a clip's faces as ``take_faces`` stores them, or None."""
    why = cache.mismatch("faces", a["faces"], shape=(n_frames, 48, 48), kind="u")
    why = why or cache.mismatch("found", a["found"], shape=(n_frames,), kind="b")
    return why or (None if a["found"].any() else "no frame has a face")


def take_faces(
    path: Path, n_frames: int, *, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(n_frames, 48, 48) uint8 face crops of a clip and the (n_frames,) bool mask of frames
    where a face was found (the others are black). Cached per clip file.

    Raises ``NoFaceError`` when no sampled frame has a face, ``WorkbenchError`` for a file
    that does not decode.
    """
    key = cache.make_key("avfaces", FACES_FORMAT, cache.file_signature(path), n_frames)
    entry = cache.resolve_dir(cache_dir, "avfaces") / key[:2] / f"{key}.npz"
    if (hit := cache.load_npz(entry, partial(_faces_mismatch, n_frames=n_frames))) is not None:
        return hit["faces"], hit["found"]
    got = clip_faces(path, n_frames)
    faces = np.zeros((len(got.found), 48, 48), np.uint8)
    faces[got.found] = got.faces
    cache.save_npz(entry, faces=faces, found=got.found)
    return faces, got.found


class AVTakes:
    """One actor-wise split of RAVDESS speech clips with the sound of the same take.

    ``faces`` (N, F, 1, 48, 48) uint8, ``found`` (N, F) bool (frames with a face),
    ``features`` (N, 1, n_bins, n_frames) float32 and ``labels`` (N,) int64 indices into
    ``RAVDESS_EMOTIONS``. Clips that cannot be used (no face in any frame, no sound, a
    broken file) are left out and listed in ``skipped`` with the reason.
    """

    classes: tuple[str, ...] = RAVDESS_EMOTIONS

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        n_frames: int = 8,
        params: FeatureParams = FeatureParams(),
        actor_split: ActorSplit | None = None,
        cache_dir: str | Path | None = None,
        scan: RavdessScan | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if n_frames < 1:
            raise WorkbenchError(f"n_frames must be 1 or more, got {n_frames}.")
        self.scan = scan if scan is not None else scan_ravdess(root)
        every = av_clips(self.scan)
        if not every:
            raise WorkbenchError(
                f"{describe(self.scan.root)} holds no RAVDESS speech video clips (01-01-…mp4 "
                "or 02-01-…mp4); point the workbench at a folder with the video clips."
            )
        self.actor_split = actor_split or default_actor_split(c.actor for c in every)
        self.split, self.n_frames, self.params = split, n_frames, params
        wanted = set(self.actor_split.actors(split))
        clips = [c for c in every if c.actor in wanted]
        self.skipped: list[dict[str, str]] = []

        # Faces: OpenCV decodes and detects without holding the interpreter lock.
        def faces_of(c: RavdessClip):
            try:
                return take_faces(c.path, n_frames, cache_dir=cache_dir)
            except WorkbenchError as exc:  # NoFaceError included
                return str(exc)

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = []
            for i, r in enumerate(pool.map(faces_of, clips)):
                results.append(r)
                if progress:
                    progress(i + 1, 2 * len(clips))
        audio = [find_take_audio(c.path) for c in clips]

        # Sound: the take's audio-only file (cached features), else the clip's own track.
        with_file = [i for i, a in enumerate(audio) if a is not None]
        feats = extract_features(
            [audio[i] for i in with_file], params, cache_dir=cache_dir, skip_bad=True
        )
        feature_of: dict[int, np.ndarray | str] = {}
        for j, k in enumerate(feats.kept):
            feature_of[with_file[k]] = feats.x[j]
        index_of = {str(audio[i]): i for i in with_file}
        for bad in feats.skipped:
            feature_of[index_of[bad["path"]]] = bad["reason"]
        for i, a in enumerate(audio):
            if a is None:
                try:
                    y, _ = clip_audio(clips[i].path, params.sample_rate)
                    feature_of[i] = features_of(y, params)
                except WorkbenchError as exc:
                    feature_of[i] = str(exc)
            if progress:
                progress(len(clips) + i + 1, 2 * len(clips))

        keep = []
        for i, c in enumerate(clips):
            problem = next((r for r in (results[i], feature_of[i]) if isinstance(r, str)), None)
            if problem is not None:
                self.skipped.append({"path": str(c.path), "reason": problem})
            else:
                keep.append(i)
        self.clips = [clips[i] for i in keep]
        self.audio_files = [audio[i] or clips[i].path for i in keep]
        n_bins, n_t = params.n_bins, params.n_frames
        self.faces = torch.from_numpy(
            np.stack([results[i][0] for i in keep])[:, :, None]
            if keep
            else np.zeros((0, n_frames, 1, 48, 48), np.uint8)
        )  # (N, F, 1, 48, 48)
        self.found = torch.from_numpy(
            np.stack([results[i][1] for i in keep]) if keep else np.zeros((0, n_frames), bool)
        )  # (N, F)
        self.features = torch.from_numpy(
            np.stack([feature_of[i] for i in keep])[:, None]
            if keep
            else np.zeros((0, 1, n_bins, n_t), np.float32)
        )  # (N, 1, n_bins, n_frames)
        self.labels = torch.tensor([c.label for c in self.clips], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict:
        return {
            "faces": self.faces[i],
            "found": self.found[i],
            "features": self.features[i],
            "label": int(self.labels[i]),
        }

    def class_counts(self) -> dict[str, int]:
        return class_counts(self.labels, RAVDESS_EMOTIONS)

    def get_metadata(self, i: int) -> dict:
        c = self.clips[i]
        return {
            "path": str(c.path),
            "audio": str(self.audio_files[i]),
            "actor": c.actor,
            "emotion": c.emotion_name,
            "frames_with_face": int(self.found[i].sum()),
        }

    def __repr__(self) -> str:
        return f"AVTakes(root={str(self.scan.root)!r}, split={self.split!r}, n={len(self)})"
