"""Audio reading and speech features: soundfile in, log-mel (or MFCC) out, cached on disk.

Audio is read with soundfile (``torchaudio.load`` would need torchcodec), downmixed to mono,
resampled to 16 kHz with soxr, trimmed of leading and trailing silence (frame RMS from
librosa) and centred in a fixed-length window. Features are computed in batches with
torchaudio transforms.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import soxr
import torch
import torchaudio

from . import cache
from .errors import NoSoundError, WorkbenchError, describe, permission_denied, require_readable

AUDIO_HINT = "choose a WAV or FLAC recording instead"
# Bump when reading, windowing or feature code changes: old cache entries are then ignored.
FEATURE_FORMAT = 2  # 2: silence trimming is level-invariant


@dataclass(frozen=True)
class FeatureParams:
    """Everything that decides a feature matrix; stored in checkpoints and cache keys."""

    kind: Literal["logmel", "mfcc"] = "logmel"
    sample_rate: int = 16_000  # Hz
    duration: float = 3.0  # seconds in the fixed window
    n_mels: int = 64
    n_mfcc: int = 40
    n_fft: int = 512
    win_length: int = 400  # 25 ms at 16 kHz
    hop_length: int = 160  # 10 ms at 16 kHz
    f_min: float = 20.0
    f_max: float = 8_000.0
    trim_db: float | None = 40.0  # silence threshold below the peak; None keeps silence
    # Active-speech level every utterance is scaled to before its features (dBFS), so the
    # microphone's gain is not taken for an emotion; None keeps the absolute level (the
    # models trained before level normalisation existed).
    level_db: float | None = -23.0

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def n_bins(self) -> int:
        """Rows of the feature matrix."""
        return self.n_mels if self.kind == "logmel" else self.n_mfcc

    @property
    def n_frames(self) -> int:
        """Columns of the feature matrix (centred STFT frames)."""
        return self.n_samples // self.hop_length + 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FeatureParams:
        names = {f.name for f in dataclasses.fields(cls)}
        # Saved before level normalisation existed: those models heard absolute levels.
        legacy = {"level_db": None} if "level_db" not in d else {}
        return cls(**{**legacy, **{k: v for k, v in d.items() if k in names}})


# ---------------------------------------------------------------- reading


# Sample rates real recordings have: telephone (8 kHz) up to studio (768 kHz), with room.
LOWEST_RATE, HIGHEST_RATE = 1_000, 1_000_000


def read_audio(path: str | Path, sr: int = 16_000) -> np.ndarray:
    """Read a WAV or FLAC file as mono float32 at ``sr`` Hz; shape (n_samples,).

    Any rate, bit depth (16/24-bit, float) and channel count is accepted. A missing,
    empty or non-audio file raises ``WorkbenchError`` naming it.
    """
    path = require_readable(path)
    if not path.is_file():
        raise WorkbenchError(f"Audio file {describe(path)} does not exist; check the path.")
    if path.stat().st_size == 0:
        raise WorkbenchError(f"Audio file {describe(path)} is empty (0 bytes); {AUDIO_HINT}.")
    try:
        y, native_sr = sf.read(path, dtype="float32", always_2d=True)  # (n, channels)
    except PermissionError:
        raise permission_denied(path) from None
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise WorkbenchError(
            f"{describe(path)} is not a readable audio file ({exc}); {AUDIO_HINT}."
        ) from None
    if y.shape[0] == 0:
        raise WorkbenchError(f"Audio file {describe(path)} holds no samples; {AUDIO_HINT}.")
    if not LOWEST_RATE <= native_sr <= HIGHEST_RATE:
        # A damaged header: taken at its word, 1 Hz would make every second 16,000.
        raise WorkbenchError(
            f"Audio file {describe(path)} claims {native_sr} samples per second, which no "
            f"recording has (its header is damaged); {AUDIO_HINT}."
        )
    if not np.isfinite(y).all():
        raise WorkbenchError(
            f"Audio file {describe(path)} contains invalid (NaN or infinite) samples; "
            "re-export it from your audio editor."
        )
    return resample(y.mean(axis=1), native_sr, sr)


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample mono float32 audio (soxr, high quality)."""
    if sr_in == sr_out:
        return np.ascontiguousarray(y, dtype=np.float32)
    return soxr.resample(y, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def require_sound(y: np.ndarray, sr: int, path: str | Path, *, min_seconds: float = 0.25) -> None:
    """Raise ``NoSoundError`` when a recording is too short or silent to classify."""
    if len(y) < min_seconds * sr:
        raise NoSoundError(
            f"Audio file {describe(path)} lasts only {len(y) / sr:.2f} s; "
            f"record at least {min_seconds} s of speech.",
            reason=f"its sound lasts only {len(y) / sr:.2f} s",
        )
    if float(np.abs(y).max()) < 1e-4:
        raise NoSoundError(
            f"Audio file {describe(path)} is silent; check the microphone and record again.",
            reason="its sound is silent",
        )


# ----------------------------------------------------------------- level

LEVEL_FRAME, LEVEL_HOP = 400, 160  # 25 ms frames every 10 ms at 16 kHz
LEVEL_GATE_DB = 10.0  # frames this far below the mean power are pauses, not speech


def active_power(y: torch.Tensor) -> torch.Tensor:
    """Mean power of the active (speech) frames of each row of ``y`` (B, n) → (B,).

    Gated like ITU-R BS.1770 loudness, without its absolute gate: frames more than
    ``LEVEL_GATE_DB`` below the mean frame power are pauses and are left out. Only a
    relative gate is used, so the measure scales exactly with the signal (twice the
    amplitude, four times the power) and pauses or padding do not lower it.
    """
    if y.shape[-1] < LEVEL_FRAME:
        return y.pow(2).mean(-1)
    frames = y.unfold(-1, LEVEL_FRAME, LEVEL_HOP)  # (B, n_frames, LEVEL_FRAME), a view
    # Squared a block of frames at a time: a long recording's overlapping frames would
    # take several times its own memory (each frame's mean is the same either way).
    frames = torch.cat([f.pow(2).mean(-1) for f in frames.split(FRAME_BLOCK, dim=-2)], -1)
    gate = frames.mean(-1, keepdim=True) * 10 ** (-LEVEL_GATE_DB / 10)
    active = frames >= gate
    return (frames * active).sum(-1) / active.sum(-1).clamp(min=1)


def active_level_db(y: np.ndarray) -> float:
    """Active-speech level of a mono recording in dBFS (a full-scale sine is -3 dBFS);
    -inf-free: digital silence gives -120."""
    p = float(active_power(torch.from_numpy(np.ascontiguousarray(y, np.float32))[None])[0])
    return 10 * math.log10(max(p, 1e-12))


def normalize_level(y: torch.Tensor, level_db: float) -> torch.Tensor:
    """Scale each row of ``y`` (B, n) so its active-speech level is ``level_db`` dBFS.

    One gain per utterance: the loudness *changes* inside it, which carry emotion, stay.
    The same function serves training batches (on the training device) and prediction.
    Silent rows stay silent.
    """
    p = active_power(y)
    gain = torch.where(p > 1e-12, (10 ** (level_db / 10) / p.clamp(min=1e-12)).sqrt(), 1.0)
    return y * gain.unsqueeze(-1)


# ------------------------------------------------------------- windowing


FRAME_BLOCK = 65536  # frames squared at once by the level measures (memory, not results)


def frame_power(y: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """(n_frames,) mean power (float64) of each ``frame``-sample frame of ``y`` every ``hop``
    samples, uncentred (librosa's RMS squared), a block of frames at a time."""
    frames = np.lib.stride_tricks.sliding_window_view(y, frame)[::hop]  # a view
    power = np.empty(len(frames))
    for i in range(0, len(frames), FRAME_BLOCK):
        block = frames[i : i + FRAME_BLOCK]
        power[i : i + len(block)] = np.mean(np.square(block, dtype=np.float64), axis=1)
    return power


def trim_silence(y: np.ndarray, top_db: float, frame: int = 400, hop: int = 160) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``top_db`` below the loudest frame.

    Frame power is librosa's RMS, squared. The threshold is a pure power ratio (no floor
    added), so the same recording at any level is cut at the same frames: a floor made
    quiet takes' borderline frames flip with the gain. That is why this is not
    ``librosa.effects.trim``: its float32 decibels with a -100 dB floor and its centred
    frames move the cut with the gain and by up to a third of a second.
    """
    if len(y) < frame:
        return y
    power = frame_power(y, frame, hop)
    loud = np.flatnonzero(power > power.max() * 10 ** (-top_db / 10))
    if len(loud) == 0:
        return y
    return y[loud[0] * hop : loud[-1] * hop + frame]


def fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """Centre-crop or zero-pad (both sides) to exactly ``n`` samples."""
    if len(y) >= n:
        start = (len(y) - n) // 2
        return y[start : start + n]
    left = (n - len(y)) // 2
    return np.pad(y, (left, n - len(y) - left))


def prepare(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """A 16 kHz recording as the features see it: silence trimmed, level normalised."""
    if params.trim_db is not None:
        y = trim_silence(y, params.trim_db)
    if params.level_db is not None:
        y = normalize_level(
            torch.from_numpy(np.ascontiguousarray(y, np.float32))[None], params.level_db
        )[0].numpy()
    return y


def window(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """The fixed-length analysis window of a 16 kHz recording; shape (params.n_samples,)."""
    return fix_length(prepare(y, params), params.n_samples)


# -------------------------------------------------------------- features


class FeatureTransform(torch.nn.Module):
    """(B, n_samples) analysis windows → (B, n_bins, n_frames) features, as ``params`` says:
    torchaudio's log-mel spectrogram in absolute dB (floored at -100 dB) or its MFCC.

    One module for training features, prediction and the ONNX export, whose graph computes
    the features itself (``training.onnx_export``), so all three give the same numbers."""

    def __init__(self, params: FeatureParams) -> None:
        super().__init__()
        mel = dict(
            n_fft=params.n_fft,
            win_length=params.win_length,
            hop_length=params.hop_length,
            f_min=params.f_min,
            f_max=min(params.f_max, params.sample_rate / 2),
            n_mels=params.n_mels,
        )
        if params.kind == "mfcc":
            self.transform = torchaudio.transforms.MFCC(
                params.sample_rate, n_mfcc=params.n_mfcc, melkwargs=mel
            )
        elif params.kind == "logmel":
            self.transform = torch.nn.Sequential(
                torchaudio.transforms.MelSpectrogram(params.sample_rate, power=2.0, **mel),
                # Absolute dB (no per-file peak normalisation): loudness is an emotion cue.
                torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None),
            )
        else:
            raise WorkbenchError(f"Unknown feature kind {params.kind!r}; use 'logmel' or 'mfcc'.")
        self.floor = params.kind == "logmel"

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        out = self.transform(windows.float())
        if self.floor:
            out = out.clamp(min=-100.0)  # digital silence would otherwise be -inf-like
        return out


def feature_transform(params: FeatureParams, device: str = "cpu") -> FeatureTransform:
    """A new ``FeatureTransform`` for ``params`` on ``device``."""
    return FeatureTransform(params).to(device)


_cached_transform = lru_cache(maxsize=8)(feature_transform)


def feature_tensor(windows: torch.Tensor, params: FeatureParams) -> torch.Tensor:
    """Features of a batch of windows (B, n_samples) → (B, n_bins, n_frames), computed on
    the windows' own device (the training GPU for the ``robust`` augmentation)."""
    with torch.no_grad():
        return _cached_transform(params, str(windows.device))(windows)


def compute_features(windows: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Features of fixed-length windows (B, n_samples) → (B, n_bins, n_frames) float32."""
    x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))
    return feature_tensor(x, params).numpy().astype(np.float32, copy=False)


def features_of(y: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Features of one in-memory 16 kHz recording; shape (n_bins, n_frames)."""
    return compute_features(window(y, params)[None], params)[0]


@dataclass
class FeatureSet:
    """Features of a list of files: ``x[i]`` belongs to ``paths[kept[i]]``."""

    x: np.ndarray  # (N, n_bins, n_frames) float32
    kept: np.ndarray  # (N,) int indices into the input paths
    skipped: list[dict[str, str]] = field(default_factory=list)  # [{path, reason}]


def extract_features(
    paths: Sequence[str | Path],
    params: FeatureParams = FeatureParams(),
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    skip_bad: bool = False,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 64,
    windows: bool = False,
) -> FeatureSet:
    """Features for many audio files, read in parallel and cached per file.

    The cache key is the file's path, size and mtime plus ``params``, so an edited file
    or a changed parameter is recomputed. A bad file raises ``WorkbenchError``, or with
    ``skip_bad`` is listed in ``skipped`` and left out. With ``windows`` the result holds
    the (N, n_samples) analysis windows themselves (trimmed, level-normalised, fixed
    length), from which training under simulated recording conditions computes features.
    """
    folder = cache.resolve_dir(cache_dir, "features")
    pdict = {**params.to_dict(), **({"output": "windows"} if windows else {})}
    x: list[np.ndarray | None] = [None] * len(paths)  # stays None for a skipped file
    skipped: list[dict[str, str]] = []

    shape = (params.n_samples,) if windows else (params.n_bins, params.n_frames)

    def check(a: np.ndarray) -> str | None:  # what this file's entry must hold
        return cache.mismatch("features", a, shape=shape, kind="f", finite=True)

    entries: list[Path | None] = []  # cache entry per file; None when it cannot be stat'ed
    todo: list[int] = []
    for i, p in enumerate(paths):
        try:
            key = cache.make_key("features", FEATURE_FORMAT, cache.file_signature(p), pdict)
            entries.append(folder / key[:2] / f"{key}.npy")
        except OSError:
            entries.append(None)  # read_audio below reports the missing file properly
        if use_cache and entries[i] and (hit := cache.load_npy(entries[i], check)) is not None:
            x[i] = hit
        else:
            todo.append(i)

    def load_window(i: int) -> np.ndarray | str:
        try:
            y = read_audio(paths[i], params.sample_rate)
            require_sound(y, params.sample_rate, paths[i])  # no all-padding features in training
            return window(y, params)
        except WorkbenchError as exc:
            if not skip_bad:
                raise
            return str(exc)

    done = len(paths) - len(todo)
    # soundfile and soxr release the GIL, so threads overlap decoding on every core.
    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 2) + 1)) as pool:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            results = list(pool.map(load_window, chunk))
            ok = [(i, w) for i, w in zip(chunk, results) if not isinstance(w, str)]
            skipped += [
                {"path": str(paths[i]), "reason": w}
                for i, w in zip(chunk, results)
                if isinstance(w, str)
            ]
            if ok:
                stack = np.stack([w for _, w in ok])
                feats = stack if windows else compute_features(stack, params)
                for (i, _), f in zip(ok, feats):
                    x[i] = f
                    if use_cache and entries[i]:
                        cache.save_npy(entries[i], f)
            done += len(chunk)
            if progress:
                progress(done, len(paths))

    kept = np.array([i for i, f in enumerate(x) if f is not None], dtype=np.int64)
    if len(kept):
        stacked = np.stack([x[i] for i in kept])
    else:
        stacked = np.zeros((0, *shape), np.float32)
    return FeatureSet(stacked, kept, skipped)
