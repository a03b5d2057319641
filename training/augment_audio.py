"""Recording conditions, simulated on whole batches of waveforms on the training device.

A class records itself with laptop microphones and phones, not in RAVDESS's studio. The
``robust`` speech augmentation therefore trains on the raw 3 s windows and, per batch,
puts each utterance through a random recording chain before its features are computed:

    room (synthetic reverberation) → microphone band (telephone, cheap low-pass)
    → background (white, coloured or babble noise at 5–30 dB SNR) → gain and clipping
    → the pipeline's own level normalisation → log-mel → small tempo / pitch changes
    → SpecAugment masks.

Every step is one batched tensor operation driven by a ``torch.Generator`` on the batch's
device, so a run is reproducible and nothing per-sample runs in Python. The test-time
conditions of ``bench/robustness.py`` are made separately (file-level, with NumPy/SciPy),
so the robustness figures do not just measure this simulation against itself.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from datasets.audio import FeatureParams, active_power, feature_tensor, normalize_level

from .augment import LEVELS, Augment, augment_speech


@dataclass(frozen=True)
class Conditions:
    """How often and how hard each recording condition is simulated (per utterance)."""

    p_reverb: float = 0.3
    rt60: tuple[float, float] = (0.1, 0.6)  # seconds: a small office to a classroom
    p_band: float = 0.3
    telephone_share: float = 0.5  # of band-limited items; the rest get a random low-pass
    lowpass_hz: tuple[float, float] = (3_000.0, 7_000.0)
    p_noise: float = 0.6
    snr_db: tuple[float, float] = (5.0, 30.0)
    babble_talkers: int = 3
    p_clip: float = 0.2
    clip_gain_db: tuple[float, float] = (3.0, 15.0)  # above the normalised level
    gain_db: tuple[float, float] = (-20.0, 6.0)  # the microphone's gain
    tempo: tuple[float, float] = (0.9, 1.1)  # time stretch of the spectrogram
    pitch_bins: float = 1.5  # mel bands up or down
    # SpecAugment afterwards (see ``augment_speech``), mild: the chain above does the rest.
    spec: tuple[tuple[str, float], ...] = (
        ("max_shift", 0.05),
        ("freq_masks", 1),
        ("time_masks", 1),
        ("gain_db", 0.0),
        ("noise_db", 0.0),
    )


def _u(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=gen.device) * (hi - lo) + lo


def _coin(n: int, p: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=gen.device) < p


def _freqs(n_fft: int, sr: int, device: torch.device) -> torch.Tensor:
    return torch.fft.rfftfreq(n_fft, 1.0 / sr).to(device)


def _on_rows(
    y: torch.Tensor, which: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``fn`` applied to the rows ``which`` of ``y`` only (the others are copied as they
    are), so a condition drawn for a third of the batch costs a third of the work."""
    idx = which.nonzero().flatten()
    if len(idx) == 0:
        return y
    out = y.clone()
    out[idx] = fn(y[idx])
    return out


def reverberate(y: torch.Tensor, gen: torch.Generator, rt60: tuple, sr: int) -> torch.Tensor:
    """Convolve each row of ``y`` (B, n) with a synthetic room impulse response: a direct
    path plus exponentially decaying noise whose RT60 is drawn from ``rt60``."""
    b, n = y.shape
    length = int(0.5 * sr)
    t = torch.arange(length, device=y.device) / sr
    decay = _u(b, *rt60, gen).view(b, 1)
    rir = torch.randn(b, length, generator=gen, device=gen.device)
    rir = rir * torch.exp(-6.9 * t / decay)  # -60 dB after rt60 seconds
    rir[:, : int(0.002 * sr)] = 0.0  # the first reflections arrive after ~2 ms
    # Direct-to-reverberant ratio 0..10 dB: the tail's energy relative to the direct path.
    drr = 10 ** (-_u(b, 0.0, 10.0, gen) / 10).view(b, 1)
    rir = rir * (drr / rir.pow(2).sum(1, keepdim=True).clamp(min=1e-12)).sqrt()
    rir[:, 0] = 1.0
    size = 1 << math.ceil(math.log2(n + length))
    return torch.fft.irfft(torch.fft.rfft(y, size) * torch.fft.rfft(rir, size), size)[:, :n]


def band_limit(y: torch.Tensor, gen: torch.Generator, c: Conditions, sr: int) -> torch.Tensor:
    """Each row: the telephone band (300–3400 Hz) or a random low-pass (a cheap
    microphone, an 8 kHz recording); one FFT mask per row."""
    b, n = y.shape
    f = _freqs(n, sr, y.device).view(1, -1)
    phone = _coin(b, c.telephone_share, gen)
    lo = torch.where(phone, 300.0, 0.0)
    hi = torch.where(phone, 3_400.0, _u(b, *c.lowpass_hz, gen))
    mask = (f >= lo.view(b, 1)) & (f <= hi.view(b, 1))
    return torch.fft.irfft(torch.fft.rfft(y) * mask, n)


def add_noise(
    y: torch.Tensor, gen: torch.Generator, c: Conditions, sr: int, talkers: torch.Tensor
) -> torch.Tensor:
    """Each row gets white, coloured (1/f^a, a in 0.5..2) or babble noise (``talkers``:
    other utterances, shifted in time) at an SNR drawn from ``c.snr_db``, relative to the
    utterance's active-speech power."""
    b, n = y.shape
    kind = torch.randint(0, 3, (b,), generator=gen, device=gen.device)
    noise = torch.randn(b, n, generator=gen, device=gen.device)

    def colour(white: torch.Tensor) -> torch.Tensor:
        f = _freqs(n, sr, y.device).clamp(min=20.0).view(1, -1)
        alpha = _u(len(white), 0.5, 2.0, gen).view(-1, 1)
        return torch.fft.irfft(torch.fft.rfft(white) * f.pow(-alpha / 2), n)

    def babble(_: torch.Tensor) -> torch.Tensor:
        k = int((kind == 2).sum())
        pick = torch.randint(
            0, len(talkers), (k, c.babble_talkers), generator=gen, device=gen.device
        )
        voices = talkers[pick]  # (k, talkers, n)
        shift = int(torch.randint(0, n, (1,), generator=gen, device=gen.device))
        return voices.sum(1).roll(shift, dims=1)

    noise = _on_rows(noise, kind == 1, colour)
    noise = _on_rows(noise, kind == 2, babble)
    noise_p = noise.pow(2).mean(1).clamp(min=1e-12)
    snr = _u(b, *c.snr_db, gen)
    scale = (active_power(y) / (noise_p * 10 ** (snr / 10))).sqrt()
    return y + noise * scale.view(b, 1)


def gain_and_clip(
    y: torch.Tensor, gen: torch.Generator, which: torch.Tensor, c: Conditions
) -> torch.Tensor:
    """A random microphone gain for every row; rows ``which`` are driven into full-scale
    clipping by ``c.clip_gain_db`` on top."""
    b = y.shape[0]
    gain = _u(b, *c.gain_db, gen) + torch.where(which, _u(b, *c.clip_gain_db, gen), 0.0)
    y = y * (10 ** (gain / 20)).view(b, 1)
    return y.clamp(-1.0, 1.0)


def warp_spectrogram(
    x: torch.Tensor, gen: torch.Generator, tempo: tuple[float, float], pitch_bins: float
) -> torch.Tensor:
    """Small tempo (time stretch about the centre) and pitch (a shift along the mel axis)
    changes of (B, 1, F, T) features: one affine ``grid_sample`` for the batch."""
    b, _, n_bins, _ = x.shape
    theta = torch.zeros(b, 2, 3, device=x.device)
    theta[:, 0, 0] = 1.0 / _u(b, *tempo, gen)  # > 1 speeds up: more speech per window
    theta[:, 1, 1] = 1.0
    theta[:, 1, 2] = _u(b, -pitch_bins, pitch_bins, gen) * 2 / n_bins
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def simulate_conditions(
    y: torch.Tensor, gen: torch.Generator, c: Conditions = Conditions(), sr: int = 16_000
) -> torch.Tensor:
    """(B, n) clean waveforms → the same utterances as some microphone in some room heard
    them (before the pipeline's level normalisation)."""
    b = y.shape[0]
    clean = y
    y = _on_rows(y, _coin(b, c.p_reverb, gen), lambda r: reverberate(r, gen, c.rt60, sr))
    y = _on_rows(y, _coin(b, c.p_band, gen), lambda r: band_limit(r, gen, c, sr))
    y = _on_rows(y, _coin(b, c.p_noise, gen), lambda r: add_noise(r, gen, c, sr, clean))
    return gain_and_clip(y, gen, _coin(b, c.p_clip, gen), c)


def augment_speech_robust(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    params: FeatureParams,
    conditions: Conditions = Conditions(),
) -> torch.Tensor:
    """A training batch of (B, n_samples) windows → (B, 1, n_bins, T) features of the
    utterances under simulated recording conditions (see the module docstring)."""
    y = simulate_conditions(x, gen, conditions, params.sample_rate)
    if params.level_db is not None:
        y = normalize_level(y, params.level_db)
    feats = feature_tensor(y, params).unsqueeze(1)  # (B, 1, n_bins, T)
    feats = warp_spectrogram(feats, gen, conditions.tempo, conditions.pitch_bins)
    return augment_speech(feats, gen, **dict(conditions.spec))


def speech_augment(level: str, params) -> Augment | None:
    """The speech batch augmentation at ``level``. ``robust`` takes raw windows and
    returns features, so it needs the run's ``FeatureParams`` (``params``)."""
    if level == "none":
        return None
    if level == "robust":
        return functools.partial(augment_speech_robust, params=params)
    return functools.partial(augment_speech, **LEVELS["speech"][level])
