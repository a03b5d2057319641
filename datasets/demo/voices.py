"""Synthetic RAVDESS speech: the takes, one voice per actor, prosody per emotion, and
source-filter synthesis to a WAV.

Glottal pulse train (Rosenberg pulse, differentiated for lip radiation) driven by an F0
contour in semitones (declination, accents on stressed syllables, final rise/fall, tremor,
jitter), with shimmer and aspiration noise; a time-varying cascade of four formant resonators
(updated every 20 ms); band-passed noise bursts for the consonants.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from datasets.demo.config import (
    CLIP_SECONDS,
    DEFAULT_N_ACTORS,
    KIND_VOICE,
    N_SAMPLES,
    SAMPLE_RATE,
)
from datasets.labels import RAVDESS_EMOTIONS, ravdess_name


@dataclass(frozen=True)
class Take:
    """One RAVDESS speech take (the fields of the 7-field file name other than modality)."""

    actor: int  # 1..24; odd = male, even = female
    emotion: int  # RAVDESS code 1..8
    intensity: int  # 1 normal, 2 strong
    statement: int  # 1 "Kids ...", 2 "Dogs ..."
    repetition: int  # 1 or 2

    def key(self) -> list[int]:
        """The five fields as a list, for seeding this take's random generators."""
        return [self.actor, self.emotion, self.intensity, self.statement, self.repetition]

    def name(self, modality: int, ext: str) -> str:
        """File name for this take, e.g. ``03-01-05-02-01-01-12.wav`` for modality 3."""
        return ravdess_name(
            modality,
            1,
            self.emotion,
            self.intensity,
            self.statement,
            self.repetition,
            self.actor,
            ext,
        )


def speech_takes(n_actors: int = DEFAULT_N_ACTORS) -> list[Take]:
    """All speech takes, 60 per actor (neutral has intensity 01 only), in a fixed order."""
    takes = []
    for actor in range(1, n_actors + 1):
        for emotion in range(1, len(RAVDESS_EMOTIONS) + 1):
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in (1, 2):
                    for repetition in (1, 2):
                        takes.append(Take(actor, emotion, intensity, statement, repetition))
    return takes


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker."""

    female: bool
    f0: float  # Hz, base pitch
    formant_scale: float  # >1 = shorter vocal tract
    breath: float  # 0..1 aspiration / breathiness
    tension: float  # -1..1 lax .. pressed
    jitter: float  # semitones, std of fast F0 perturbation
    shimmer: float  # relative std of per-cycle amplitude
    rate: float  # syllables-per-second multiplier
    level_db: float
    accent_st: float  # semitones of a stressed-syllable pitch accent


def actor_voice(seed: int, actor: int) -> Voice:
    """Voice of ``actor`` (odd male 100-140 Hz, even female 180-240 Hz, as in RAVDESS)."""
    rng = np.random.default_rng([seed, KIND_VOICE, actor])
    female = actor % 2 == 0
    # Spread each sex's actors over its pitch and vocal-tract ranges with a low-discrepancy
    # sequence (seeded offset + rank * irrational step), so no two voices nearly coincide
    # as independent draws can make them; the two steps differ so the axes do not correlate.
    rank = (actor - 1) // 2
    offset = np.random.default_rng([seed, KIND_VOICE, 1000 + int(female)]).random(2)
    pitch_pos = 0.05 + 0.9 * ((offset[0] + rank * 0.6180339887) % 1.0)
    tract_pos = 0.05 + 0.9 * ((offset[1] + rank * 0.4142135624) % 1.0)
    f0_lo, f0_hi = (180.0, 240.0) if female else (100.0, 140.0)
    fs_lo, fs_hi = (1.1, 1.2) if female else (0.93, 1.03)
    return Voice(
        female=female,
        f0=float(f0_lo + (f0_hi - f0_lo) * pitch_pos),
        formant_scale=float(fs_lo + (fs_hi - fs_lo) * tract_pos),
        breath=float(rng.uniform(0.05, 0.3) if female else rng.uniform(0.0, 0.22)),
        tension=float(rng.uniform(-0.2, 0.2)),
        jitter=float(rng.uniform(0.08, 0.18)),
        shimmer=float(rng.uniform(0.03, 0.08)),
        rate=float(rng.uniform(0.9, 1.1)),
        level_db=float(rng.uniform(-2.0, 2.0)),
        accent_st=float(rng.uniform(1.8, 3.2)),
    )


@dataclass(frozen=True)
class Prosody:
    """Emotion-dependent speaking style (all relative to the actor's own voice)."""

    pitch_st: float = 0.0  # mean pitch shift, semitones
    range_mul: float = 1.0  # accent size multiplier
    rate: float = 1.0  # speaking rate multiplier
    loud_db: float = 0.0
    breath: float = 0.0  # added breathiness
    tense: float = 0.0  # added pressed/harsh phonation
    tremor_st: float = 0.0  # 5-7 Hz pitch tremor depth, semitones
    jitter_mul: float = 1.0
    creak: float = 0.0  # 0..1 creaky voice (low, irregular, alternating pulses) at phrase ends
    final_st: float = -2.0  # pitch movement over the last two syllables, semitones
    onset_breath: float = 0.0  # breathy /h/-like onset before the first syllable
    formant_shift: float = 0.0  # relative formant shift (e.g. lowered larynx/protruded lips)


# Voice-side confusions by design: happy ~ angry (both high, wide, fast, loud, slightly tense)
# and sad ~ neutral (low arousal, small differences). Separations: fear (high, tremor, jitter,
# fast, breathy) vs surprise (strong final rise, breathy onset, wide range); disgust (low, slow,
# falling, creaky) vs angry; calm (breathy, slow, soft, smooth) vs neutral.
EMOTION_PROSODY: dict[str, Prosody] = {
    "neutral": Prosody(),
    "calm": Prosody(
        pitch_st=-1.0,
        range_mul=0.55,
        rate=0.82,
        loud_db=-5.0,
        breath=0.3,
        tense=-0.3,
        jitter_mul=0.5,
        final_st=-1.5,
    ),
    "happy": Prosody(pitch_st=4.5, range_mul=1.8, rate=1.15, loud_db=6.0, tense=0.3, final_st=-1.0),
    "sad": Prosody(
        pitch_st=-0.8, range_mul=0.85, rate=0.95, loud_db=-1.0, breath=0.05, final_st=-2.5
    ),
    "angry": Prosody(pitch_st=4.5, range_mul=1.7, rate=1.18, loud_db=6.5, tense=0.4, final_st=-1.5),
    "fearful": Prosody(
        pitch_st=7.0,
        range_mul=0.8,
        rate=1.25,
        loud_db=2.0,
        breath=0.25,
        tense=0.1,
        tremor_st=0.8,
        jitter_mul=3.0,
        final_st=1.0,
    ),
    "disgust": Prosody(
        pitch_st=-3.0,
        range_mul=0.8,
        rate=0.72,
        loud_db=0.0,
        tense=0.2,
        creak=0.8,
        final_st=-5.0,
        formant_shift=-0.06,
    ),
    "surprised": Prosody(
        pitch_st=3.0, range_mul=2.0, rate=1.0, loud_db=3.0, final_st=8.0, onset_breath=0.8
    ),
}

_INTENSITY_GAIN = {1: 1.0, 2: 1.6}  # strong takes exaggerate the deviation from neutral


def take_prosody(emotion: int, intensity: int) -> Prosody:
    """Prosody of a take: neutral + gain * (emotion - neutral), gain 1.0 or 1.6 by intensity."""
    base, emo = EMOTION_PROSODY["neutral"], EMOTION_PROSODY[RAVDESS_EMOTIONS[emotion - 1]]
    g = _INTENSITY_GAIN[intensity]
    return Prosody(
        **{
            f.name: getattr(base, f.name) + g * (getattr(emo, f.name) - getattr(base, f.name))
            for f in fields(Prosody)
        }
    )


# Adult male formants (Hz) of the vowels used.
_VOWELS: dict[str, tuple[float, float, float]] = {
    "i": (280.0, 2250.0, 2900.0),
    "I": (390.0, 1990.0, 2550.0),
    "a": (730.0, 1090.0, 2440.0),
    "O": (570.0, 840.0, 2410.0),
    "@": (500.0, 1500.0, 2500.0),
    "r": (490.0, 1350.0, 1690.0),
    "N": (300.0, 1900.0, 2500.0),
}


@dataclass(frozen=True)
class Syllable:
    """Timing, stress, vowel trajectory and consonant noise of one syllable."""

    dur: float  # seconds at rate 1
    stress: float  # 0..1
    v_start: str
    v_end: str
    onset: tuple[float, float, float] | None = None  # noise band lo, hi (Hz), duration (s)
    coda: tuple[float, float, float] | None = None


# "Kids are talking by the door" / "Dogs are sitting by the door": different vowels, stress and
# fricatives (the /s/ of "sitting"), shared ending.
STATEMENTS: dict[int, tuple[Syllable, ...]] = {
    1: (
        Syllable(0.30, 1.0, "I", "I", onset=(1500, 3500, 0.04), coda=(3500, 7000, 0.07)),
        Syllable(0.15, 0.3, "a", "r"),
        Syllable(0.28, 0.9, "O", "O", onset=(3000, 6000, 0.04), coda=(1500, 3500, 0.03)),
        Syllable(0.16, 0.25, "I", "N"),
        Syllable(0.22, 0.6, "a", "i", onset=(300, 1200, 0.02)),
        Syllable(0.10, 0.15, "@", "@", onset=(2500, 6000, 0.025)),
        Syllable(0.40, 0.9, "O", "r", onset=(2000, 4500, 0.03)),
    ),
    2: (
        Syllable(0.32, 1.0, "O", "O", onset=(2000, 4500, 0.03), coda=(3500, 7000, 0.08)),
        Syllable(0.14, 0.3, "a", "r"),
        Syllable(0.26, 0.85, "I", "I", onset=(4000, 7500, 0.1), coda=(3000, 6000, 0.03)),
        Syllable(0.17, 0.3, "I", "N", onset=(3000, 6000, 0.03)),
        Syllable(0.22, 0.6, "a", "i", onset=(300, 1200, 0.02)),
        Syllable(0.10, 0.15, "@", "@", onset=(2500, 6000, 0.025)),
        Syllable(0.40, 0.9, "O", "r", onset=(2000, 4500, 0.03)),
    ),
}

_FRAME = 320  # samples per formant update (20 ms; sosfilt calls are the cost)


@lru_cache(maxsize=64)
def _band_sos(lo: float, hi: float) -> np.ndarray:
    hi = min(hi, SAMPLE_RATE / 2 * 0.95)
    return butter(2, [lo, hi], btype="bandpass", fs=SAMPLE_RATE, output="sos")


def _lowpass_noise(rng: np.random.Generator, n: int, cutoff_hz: float) -> np.ndarray:
    """Unit-variance-ish smooth noise: white noise through a one-pole low-pass."""
    a = math.exp(-2.0 * math.pi * cutoff_hz / SAMPLE_RATE)
    x = lfilter([1.0 - a], [1.0, -a], rng.standard_normal(n))
    return x / math.sqrt((1.0 - a) / (1.0 + a))


def synthesize_speech(voice: Voice, take: Take, rng: np.random.Generator) -> np.ndarray:
    """Synthesize one take: float32 (N_SAMPLES,) at SAMPLE_RATE, peak <= 0.95.

    Active-speech RMS is set to -26 dBFS + actor level + the emotion's loudness offset, so
    loudness differences between emotions survive normalisation.
    """
    p = take_prosody(take.emotion, take.intensity)
    sr, n = SAMPLE_RATE, N_SAMPLES
    syls = STATEMENTS[take.statement]

    # --- timing: repetitions differ slightly in rate and syllable durations
    rate = voice.rate * p.rate * (1.0 + 0.03 * rng.standard_normal())
    durs = np.array([s.dur for s in syls]) / rate * (1.0 + 0.06 * rng.standard_normal(len(syls)))
    durs = np.clip(durs, 0.06, None)
    start = float(rng.uniform(0.35, 0.6))
    latest_end = CLIP_SECONDS - 0.2
    if start + durs.sum() > latest_end:  # very slow takes: start earlier, then compress
        start = max(0.15, latest_end - durs.sum())
        durs *= min(1.0, (latest_end - start) / durs.sum())
    bounds = start + np.concatenate([[0.0], np.cumsum(durs)])
    t = np.arange(n) / sr

    # --- per-syllable voicing windows, formant and amplitude control points
    fs = voice.formant_scale * (1.0 + p.formant_shift)
    amp_pts: list[tuple[float, float]] = [(0.0, 0.0)]
    f_pts: list[tuple[float, tuple[float, float, float]]] = []
    noise = np.zeros(n)
    for syl, s0, s1 in zip(syls, bounds[:-1], bounds[1:], strict=True):
        v0 = s0 + (syl.onset[2] / rate if syl.onset else 0.01)
        v1 = s1 - (syl.coda[2] / rate if syl.coda else 0.015)
        gain = 0.55 + 0.45 * syl.stress
        ramp = min(0.03, (v1 - v0) / 4)
        amp_pts += [(v0, 0.0), (v0 + ramp, gain), (v1 - 2 * ramp, gain * 0.85), (v1, 0.0)]
        f_pts += [(v0, _VOWELS[syl.v_start]), (v0 + 0.35 * (v1 - v0), _VOWELS[syl.v_start])]
        f_pts += [(v1, _VOWELS[syl.v_end])]
        for spec, n0 in ((syl.onset, s0), (syl.coda, v1)):
            if spec is None:
                continue
            lo, hi, dur = spec
            i0, i1 = int(n0 * sr), int((n0 + dur / rate) * sr)
            burst = rng.standard_normal(i1 - i0) * np.hanning(i1 - i0)
            noise[i0:i1] += sosfilt(_band_sos(lo, hi), burst) * (0.25 + 0.1 * syl.stress)
    amp_pts.append((CLIP_SECONDS, 0.0))
    amp_t, amp_v = zip(*sorted(amp_pts), strict=True)
    amp = np.interp(t, amp_t, amp_v)

    # --- F0 contour in semitones re. the actor's base pitch
    centres = 0.5 * (bounds[:-1] + bounds[1:])
    accent = voice.accent_st * p.range_mul
    st = p.pitch_st + 0.4 * rng.standard_normal()
    st = st + np.interp(t, [bounds[0], bounds[-1]], [1.0, -1.0])  # declination
    for syl, c, d in zip(syls, centres, durs, strict=True):
        height = accent * syl.stress * (1.0 + 0.1 * rng.standard_normal())
        st = st + height * np.exp(-0.5 * ((t - c) / (0.35 * d)) ** 2)
    final_start = bounds[-3]
    st = st + p.final_st * np.clip((t - final_start) / (bounds[-1] - final_start), 0.0, 1.0) ** 1.5
    if p.tremor_st > 0:
        st = st + p.tremor_st * np.sin(2 * np.pi * rng.uniform(5.0, 7.0) * t + rng.uniform(0, 6.3))
    st = st + voice.jitter * p.jitter_mul * _lowpass_noise(rng, n, 40.0)
    f0 = voice.f0 * 2.0 ** (st / 12.0)
    creak_w = np.zeros(n)
    if p.creak > 0:
        # Creak sets in over the last part of each stressed syllable and the final one.
        for syl, s0, s1 in zip(syls, bounds[:-1], bounds[1:], strict=True):
            if syl.stress >= 0.85:
                creak_w = np.maximum(creak_w, np.clip((t - s0) / (s1 - s0) * 2.0 - 0.6, 0.0, 1.0))
        creak_w *= min(p.creak, 1.0)
        f0 = f0 * (1.0 - 0.45 * creak_w)

    # --- glottal source
    breath = float(np.clip(voice.breath + p.breath, 0.0, 1.0))
    tense = float(np.clip(voice.tension + p.tense, -1.0, 1.0))
    oq = float(np.clip(0.6 + 0.3 * breath - 0.2 * tense, 0.35, 0.92))  # open quotient
    phase = np.cumsum(f0 / sr)
    cyc = phase.astype(np.int64)
    frac = phase - cyc
    tp, tn = 0.65 * oq, 0.35 * oq
    g = np.where(
        frac < tp,
        0.5 * (1.0 - np.cos(np.pi * frac / tp)),
        np.where(frac < oq, np.cos(0.5 * np.pi * (frac - tp) / tn), 0.0),
    )
    n_cyc = int(cyc[-1]) + 1
    cyc_amp = 1.0 + voice.shimmer * (1.0 + 2.0 * max(p.tense, 0.0)) * rng.standard_normal(n_cyc)
    amp_cycle = cyc_amp[cyc]
    if p.creak > 0:  # creak: every other pulse weaker, fading in with creak_w
        amp_cycle = amp_cycle * (1.0 - 0.6 * creak_w * (cyc % 2))
    src = np.diff(g, prepend=0.0) * amp_cycle * (f0 / 150.0) ** -0.5
    src_rms = math.sqrt(float(np.mean(src[amp > 0.3] ** 2))) if np.any(amp > 0.3) else 1.0
    src /= max(src_rms, 1e-9)
    asp = rng.standard_normal(n) * (0.45 + 0.55 * (frac < oq))  # noise pulsed with the glottis
    excitation = amp * ((1.0 - 0.5 * breath) * src + 1.6 * breath * asp)
    if p.onset_breath > 0:  # breathy /h/ onset: aspiration ahead of the first vowel
        h0 = bounds[0] - 0.02
        h_env = np.clip(1.0 - np.abs(t - h0) / 0.12, 0.0, 1.0) ** 2
        excitation += 1.2 * p.onset_breath * h_env * rng.standard_normal(n)
    # Spectral tilt: breathy voices lose high harmonics, pressed ones keep them.
    tilt = float(np.clip(0.25 + 0.5 * breath - 0.35 * tense, 0.0, 0.85))
    excitation = lfilter([1.0 - tilt], [1.0, -tilt], excitation)

    # --- vocal tract: cascade of 4 resonators, coefficients updated every 20 ms
    n_frames = n // _FRAME
    fc_t = (np.arange(n_frames) + 0.5) * _FRAME / sr
    if f_pts:
        f_pts.sort(key=lambda q: q[0])
        ft = [q[0] for q in f_pts]
        formants = np.stack(
            [np.interp(fc_t, ft, [q[1][k] for q in f_pts]) for k in range(3)], axis=1
        )
    else:
        formants = np.tile(_VOWELS["@"], (n_frames, 1))
    formants = np.concatenate([formants, np.full((n_frames, 1), 3500.0)], axis=1) * fs
    bw = np.array([80.0 + 120.0 * breath, 100.0, 150.0, 250.0])
    r = np.exp(-np.pi * bw / sr)[None, :]
    b1 = 2.0 * r * np.cos(2.0 * np.pi * np.minimum(formants, sr * 0.45) / sr)
    c1 = -(r**2)
    sos = np.zeros((n_frames, 4, 6))
    sos[..., 0] = 1.0 - b1 - c1  # unit gain at DC per resonator
    sos[..., 3] = 1.0
    sos[..., 4] = -b1
    sos[..., 5] = -c1
    speech = np.zeros(n)
    zi = np.zeros((4, 2))
    for k in range(n_frames):
        seg = slice(k * _FRAME, (k + 1) * _FRAME)
        speech[seg], zi = sosfilt(sos[k], excitation[seg], zi=zi)
    speech = np.diff(speech, prepend=0.0) * 4.0 + 0.6 * noise  # lip radiation + consonants

    # --- level
    active = amp > 0.2
    rms = math.sqrt(float(np.mean(speech[active] ** 2))) if np.any(active) else 1.0
    target = 10.0 ** ((-26.0 + voice.level_db + p.loud_db) / 20.0)
    speech *= target / max(rms, 1e-12)
    speech += rng.standard_normal(n) * 10.0 ** (-66.0 / 20.0)  # room / microphone noise floor
    peak = float(np.max(np.abs(speech)))
    if peak > 0.95:  # rare: keep the shape, lose a little loudness rather than clip
        speech *= 0.95 / peak
    return speech.astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write float audio (n,) in -1..1 as 16-bit PCM mono with the stdlib (no timestamps)."""
    pcm = np.clip(np.rint(audio * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
