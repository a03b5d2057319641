"""Batched data augmentation that runs on the batch's own device (the GPU when training there).

Every function takes a whole batch and a ``torch.Generator`` on the batch's device, so
runs are reproducible, random numbers are drawn where the data is, and no per-sample
Python sits in the hot loop.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def _rand(*shape: int, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(shape, generator=gen, device=gen.device)


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return _rand(n, gen=gen) * (hi - lo) + lo


def augment_faces(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    shift: float = 0.1,
    rotate_deg: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    flip: bool = True,
    brightness: float = 0.2,
    contrast: float = 0.2,
) -> torch.Tensor:
    """Random shift/crop, zoom, horizontal flip, small rotation, brightness and contrast.

    ``x`` is (B, 1, H, W) in [0, 1]; the result has the same shape. The geometric part is
    one affine warp per image (a single ``grid_sample`` for the batch); borders replicate
    the edge pixels, as a face crop with a margin would.
    """
    b, dev = x.shape[0], x.device
    angle = _uniform(b, -rotate_deg, rotate_deg, gen) * (math.pi / 180)
    zoom = _uniform(b, scale[0], scale[1], gen)
    sx = torch.where(_rand(b, gen=gen) < 0.5, -1.0, 1.0) if flip else 1.0
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 1] = cos * sx, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * sx, cos
    theta[:, :, 2] = (_rand(b, 2, gen=gen) * 2 - 1) * (2 * shift)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Contrast around each image's mean, then brightness.
    c = _uniform(b, 1 - contrast, 1 + contrast, gen).view(b, 1, 1, 1)
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - m) * c + m + _uniform(b, -brightness, brightness, gen).view(b, 1, 1, 1) * 0.5
    return x.clamp_(0.0, 1.0)


def augment_speech(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    max_shift: float = 0.1,
    freq_masks: int = 2,
    freq_width: int = 8,
    time_masks: int = 2,
    time_width: int = 25,
    gain_db: float = 6.0,
    noise_db: float = 1.0,
) -> torch.Tensor:
    """Time shift, SpecAugment frequency and time masks, gain and noise.

    ``x`` is (B, 1, n_bins, T) in dB. The shift rolls each spectrogram by up to
    ``max_shift`` of its length (the windows are centred, so this moves the utterance).
    Gain adds up to ±``gain_db`` dB to the whole spectrogram (a louder or softer take);
    noise adds Gaussian jitter of ``noise_db`` dB to every cell. Masked cells take the
    spectrogram's minimum (silence), not zero, because zero dB is loud.
    """
    b, _, n_bins, t = x.shape
    dev = x.device
    most = int(max_shift * t)
    shift = torch.randint(-most, most + 1, (b,), generator=gen, device=gen.device)
    idx = (torch.arange(t, device=dev).view(1, t) - shift.view(b, 1)) % t  # (B, T)
    x = torch.gather(x, 3, idx.view(b, 1, 1, t).expand(b, 1, n_bins, t))
    floor = x.amin(dim=(1, 2, 3), keepdim=True)
    keep = torch.ones_like(x, dtype=torch.bool)
    for n_masks, width, size, axis in (
        (freq_masks, freq_width, n_bins, 2),
        (time_masks, time_width, t, 3),
    ):
        pos = torch.arange(size, device=dev)
        for _ in range(n_masks):
            w = torch.randint(0, width + 1, (b,), generator=gen, device=gen.device)
            start = (_rand(b, gen=gen) * (size - w).clamp(min=1)).long()
            inside = (pos.view(1, size) >= start.view(b, 1)) & (
                pos.view(1, size) < (start + w).view(b, 1)
            )
            shape = (b, 1, size, 1) if axis == 2 else (b, 1, 1, size)
            keep &= ~inside.view(shape)
    x = torch.where(keep, x, floor)
    x = x + _uniform(b, -gain_db, gain_db, gen).view(b, 1, 1, 1)
    noise = torch.randn(x.shape, generator=gen, device=gen.device) * noise_db
    return x + noise


def augment_fusion(
    x: dict[str, torch.Tensor], gen: torch.Generator, *, face: dict, speech: dict
) -> dict[str, torch.Tensor]:
    """A fusion batch: every face frame (B, F, 1, H, W) as ``augment_faces`` with ``face``
    settings, the features as ``augment_speech`` with ``speech`` settings."""
    faces = x["faces"]
    flat = faces.reshape(-1, *faces.shape[2:])
    return {
        **x,
        "faces": augment_faces(flat, gen, **face).reshape(faces.shape),
        "features": augment_speech(x["features"], gen, **speech),
    }


AUGMENTATIONS = {"face": augment_faces, "speech": augment_speech}


# How hard to augment. ``standard`` is the full set above, for long runs on real data;
# ``light`` keeps the label-safe, mild parts; ``none`` trains on the data as it is, which
# learns fastest in a short run (the quick presets' few epochs on demo data).
LEVELS: dict[str, dict[str, dict]] = {
    "face": {
        "standard": {},
        "light": dict(shift=0.05, rotate_deg=5.0, scale=(0.95, 1.05), brightness=0.1, contrast=0.1),
    },
    "speech": {
        "standard": {},
        "light": dict(max_shift=0.05, freq_masks=1, time_masks=1, gain_db=1.0, noise_db=0.3),
    },
}
AUGMENT_CHOICES = ("none", "light", "standard")


def make_augment(
    kind: str, level: str
) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None:
    """The batch augmentation for ``kind`` at ``level`` (None for ``"none"``)."""
    if level == "none":
        return None
    if kind == "fusion":
        return functools.partial(
            augment_fusion, face=LEVELS["face"][level], speech=LEVELS["speech"][level]
        )
    return functools.partial(AUGMENTATIONS[kind], **LEVELS[kind][level])
