"""RAVDESS speech as a dataset of cached log-mel (or MFCC) matrices, split by actor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from .audio import FeatureParams, extract_features
from .errors import WorkbenchError, describe
from .labels import RAVDESS_EMOTIONS, class_counts
from .ravdess import ActorSplit, RavdessScan, default_actor_split, scan_ravdess, speech_audio


class RavdessSpeech:
    """One actor-wise split of RAVDESS audio-only speech (``03-01-…``).

    ``features`` is an (N, 1, n_bins, n_frames) float32 tensor and ``labels`` (N,) int64
    indices into ``RAVDESS_EMOTIONS``. Files that cannot be read are left out and listed
    in ``skipped``. The actor split used is ``actor_split`` (the fixed default unless given).
    """

    classes: tuple[str, ...] = RAVDESS_EMOTIONS

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        params: FeatureParams = FeatureParams(),
        actor_split: ActorSplit | None = None,
        cache_dir: str | Path | None = None,
        scan: RavdessScan | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.scan = scan if scan is not None else scan_ravdess(root)
        every = speech_audio(self.scan.clips)
        if not every:
            raise WorkbenchError(
                f"{describe(self.scan.root)} holds no audio-only speech files (03-01-…wav or "
                ".flac); point the workbench at the RAVDESS speech folder."
            )
        self.actor_split = actor_split or default_actor_split(c.actor for c in every)
        self.split = split
        self.params = params
        wanted = set(self.actor_split.actors(split))
        clips = [c for c in every if c.actor in wanted]
        feats = extract_features(
            [c.path for c in clips], params, cache_dir=cache_dir, skip_bad=True, progress=progress
        )
        self.clips = [clips[i] for i in feats.kept]
        self.skipped = feats.skipped
        self.features = torch.from_numpy(feats.x).unsqueeze(1)  # (N, 1, n_bins, n_frames)
        self.labels = torch.tensor([c.label for c in self.clips], dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict:
        return {"features": self.features[i], "label": int(self.labels[i])}

    def class_counts(self) -> dict[str, int]:
        return class_counts(self.labels, RAVDESS_EMOTIONS)

    def get_metadata(self, i: int) -> dict:
        c = self.clips[i]
        return {
            "path": str(c.path),
            "actor": c.actor,
            "gender": c.gender,
            "emotion": c.emotion_name,
            "intensity": "strong" if c.intensity == 2 else "normal",
            "statement": c.statement,
            "repetition": c.repetition,
        }

    def __repr__(self) -> str:
        return f"RavdessSpeech(root={str(self.scan.root)!r}, split={self.split!r}, n={len(self)})"
