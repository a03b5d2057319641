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
    gamma: float = 0.0,
    degrade: float = 0.0,
    blur: float = 1.0,
    downscale: float = 0.5,
    jpeg: tuple[int, int] = (30, 90),
    noise: float = 0.03,
    erase: float = 0.0,
) -> torch.Tensor:
    """Random shift/crop, zoom, horizontal flip, small rotation, brightness and contrast;
    optionally the look of a webcam or a video frame, and random erasing.

    ``x`` is (B, 1, H, W) in [0, 1]; the result has the same shape. The geometric part is
    one affine warp per image (a single ``grid_sample`` for the batch); borders replicate
    the edge pixels, as a face crop with a margin would.

    The rest is off by default (the ``standard`` and ``light`` levels draw exactly the
    random numbers they always did). ``gamma`` > 0 bends the tones by a gamma drawn
    log-uniformly from [exp(-gamma), exp(gamma)] (under- and over-exposed cameras).
    ``degrade`` is the share of the batch that each of four camera degradations, drawn
    independently, hits: Gaussian ``blur`` (sigma 0.3 px up to that many pixels; focus,
    motion), sensor noise (standard deviation up to ``noise``), scaling down to a random
    share in [``downscale``, 1] of the side and back up (a face far from the camera), and
    JPEG compression at a quality in ``jpeg`` (video and web images). ``erase`` is the
    chance that a random rectangle (2-25% of the image) is replaced by noise (hands, hair,
    glasses).
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
    x = x.clamp_(0.0, 1.0)
    if gamma > 0:
        x = x.pow(torch.exp(_uniform(b, -gamma, gamma, gen)).view(b, 1, 1, 1))
    if degrade > 0:
        x = degrade_faces(x, gen, p=degrade, blur=blur, downscale=downscale, jpeg=jpeg, noise=noise)
    if erase > 0:
        x = random_erase(x, gen, p=erase)
    return x


def degrade_faces(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    p: float = 0.3,
    blur: float = 1.0,
    downscale: float = 0.5,
    jpeg: tuple[int, int] = (30, 90),
    noise: float = 0.03,
) -> torch.Tensor:
    """Camera degradations, each hitting a random ``p`` share of the images (see
    ``augment_faces``); ``x`` is (B, 1, H, W) in [0, 1], and so is the result.

    Applied in the order a camera applies them: optics (blur), sensor (noise), then the
    small frame and its compression. Each works on only the images it hits (a fixed number
    per batch, so nothing waits for the GPU to count them).
    """
    b = x.shape[0]
    k = round(p * b)
    if k == 0:
        return x

    def some() -> torch.Tensor:  # (k,) indices of k images drawn at random
        return torch.randperm(b, generator=gen, device=gen.device)[:k]

    i = some()
    x = x.index_copy(0, i, gaussian_blur(x[i], _uniform(k, 0.3, max(blur, 0.3), gen)))
    i = some()
    std = _uniform(k, 0.0, noise, gen).view(k, 1, 1, 1)
    shot = torch.randn(x[i].shape, generator=gen, device=gen.device)
    x = x.index_copy(0, i, (x[i] + std * shot).clamp_(0.0, 1.0))
    i = some()
    x = x.index_copy(0, i, down_up(x[i], gen, smallest=downscale))
    i = some()
    return x.index_copy(0, i, jpeg_like(x[i], _uniform(k, jpeg[0], jpeg[1], gen)))


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image of (B, C, H, W) ``x`` with its own Gaussian ``sigma`` (B,) in pixels.

    Separable: one grouped convolution along the rows and one along the columns, edges
    replicated, all images at once.
    """
    b, c, h, w = x.shape
    radius = max(1, math.ceil(3 * float(sigma.max())))
    d = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (d.view(1, -1) / sigma.view(-1, 1).clamp(min=1e-3)) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, 2r+1)
    y = x.reshape(1, b * c, h, w)
    y = F.conv2d(
        F.pad(y, (radius, radius, 0, 0), mode="replicate"), k.view(b * c, 1, 1, -1), groups=b * c
    )
    y = F.conv2d(
        F.pad(y, (0, 0, radius, radius), mode="replicate"), k.view(b * c, 1, -1, 1), groups=b * c
    )
    return y.reshape(b, c, h, w)


def down_up(
    x: torch.Tensor, gen: torch.Generator, *, smallest: float = 0.5, groups: int = 4
) -> torch.Tensor:
    """Scale the images of (B, C, H, W) ``x`` down to a random share in [``smallest``, 1]
    of their side, with area averaging, and back up bilinearly: the detail of a small,
    far-away face.

    The batch is cut into ``groups`` runs of images, each with its own share (one resize
    per run instead of one per image; the caller's images are already a random draw).
    """
    h, w = x.shape[-2:]
    out = []
    for part, share in zip(x.tensor_split(groups), _uniform(groups, smallest, 1.0, gen).tolist()):
        small = (max(1, round(h * share)), max(1, round(w * share)))
        if len(part) == 0 or small == (h, w):
            out.append(part)
            continue
        part = F.interpolate(part, size=small, mode="area")
        out.append(F.interpolate(part, size=(h, w), mode="bilinear", align_corners=False))
    return torch.cat(out)


# The JPEG standard's luminance quantisation table (ITU-T T.81, Annex K, table K.1).
_JPEG_LUMA = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)


def _dct_matrix(n: int, device: torch.device) -> torch.Tensor:
    """The orthonormal DCT-II matrix D (n, n): coefficients = D @ block @ D.T."""
    k = torch.arange(n, device=device, dtype=torch.float32).view(-1, 1)
    i = torch.arange(n, device=device, dtype=torch.float32).view(1, -1)
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


def jpeg_like(x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Grayscale JPEG compression of each image of (B, 1, H, W) ``x`` in [0, 1] at its own
    ``quality`` (B,) in 1..100, done in torch: 8x8 block DCT, the standard luminance table
    scaled as libjpeg scales it, rounding, inverse DCT, 8-bit pixels.

    This is where JPEG loses information (the entropy coding after it is lossless), so the
    blocking and ringing match a real encoder's (tests compare with OpenCV's). Sides that
    are not multiples of 8 are padded with their edges, as encoders do.
    """
    b, c, h, w = x.shape
    ph, pw = -h % 8, -w % 8
    y = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
    hh, ww = y.shape[-2:]
    d = _dct_matrix(8, x.device)
    q = quality.float().clamp(1, 100)
    factor = torch.where(q < 50, 5000 / q, 200 - 2 * q) / 100  # libjpeg's quality scaling
    table = torch.tensor(_JPEG_LUMA, device=x.device, dtype=torch.float32)
    step = (table * factor.view(b, 1, 1)).round().clamp(1, 255)  # (B, 8, 8)
    blocks = (y.float() * 255 - 128).reshape(b, c, hh // 8, 8, ww // 8, 8).transpose(3, 4)
    coef = d @ blocks @ d.T  # (B, C, H/8, W/8, 8, 8)
    step = step.view(b, 1, 1, 1, 8, 8)
    coef = torch.round(coef / step) * step
    blocks = d.T @ coef @ d
    y = blocks.transpose(3, 4).reshape(b, c, hh, ww)
    y = (y + 128).round().clamp(0, 255) / 255
    return y[..., :h, :w].to(x.dtype)


def random_erase(
    x: torch.Tensor,
    gen: torch.Generator,
    *,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.25),
) -> torch.Tensor:
    """With chance ``p`` per image, replace one random rectangle of ``area`` (a share of
    the image) and aspect ratio 1/3..3 by uniform noise (Zhong et al., 2020, as in
    torchvision's ``RandomErasing(value="random")``). ``x`` is (B, C, H, W)."""
    b, _, h, w = x.shape
    dev = x.device
    share = _uniform(b, area[0], area[1], gen)
    aspect = torch.exp(_uniform(b, -math.log(3), math.log(3), gen))
    eh = (share * h * w * aspect).sqrt().clamp(1, h).round()
    ew = (share * h * w / aspect).sqrt().clamp(1, w).round()
    top = (_rand(b, gen=gen) * (h - eh + 1)).floor()
    left = (_rand(b, gen=gen) * (w - ew + 1)).floor()
    rows = torch.arange(h, device=dev).view(1, h, 1)
    cols = torch.arange(w, device=dev).view(1, 1, w)
    inside = (
        (rows >= top.view(b, 1, 1))
        & (rows < (top + eh).view(b, 1, 1))
        & (cols >= left.view(b, 1, 1))
        & (cols < (left + ew).view(b, 1, 1))
    )  # (B, H, W)
    inside &= (_rand(b, gen=gen) < p).view(b, 1, 1)
    fill = torch.rand(x.shape, generator=gen, device=gen.device, dtype=x.dtype)
    return torch.where(inside.unsqueeze(1), fill, x)


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


# How hard to augment. ``standard`` is the full set above, for long runs on real data;
# ``light`` keeps the label-safe, mild parts; ``none`` trains on the data as it is, which
# learns fastest in a short run (the quick presets' few epochs on demo data). ``robust``
# (faces) adds what real photos and video frames do to a face that FER-2013's images
# rarely show: webcam blur, small and compressed frames, noise, bad exposure, occlusion,
# and a wider spread of framing (bench/face_framing.py: FER-2013 faces' detector box is
# 0.80-1.09 of the image side, 10th-90th percentile), so crops of real frames fall inside
# what the model learned from.
LEVELS: dict[str, dict[str, dict]] = {
    "face": {
        "standard": {},
        "light": dict(shift=0.05, rotate_deg=5.0, scale=(0.95, 1.05), brightness=0.1, contrast=0.1),
        "robust": dict(
            rotate_deg=15.0,
            scale=(0.85, 1.15),
            brightness=0.3,
            contrast=0.4,
            gamma=0.4,
            degrade=0.3,
            erase=0.5,
        ),
    },
    "speech": {
        "standard": {},
        "light": dict(max_shift=0.05, freq_masks=1, time_masks=1, gain_db=1.0, noise_db=0.3),
    },
}
# ``robust`` simulates real recording conditions: for speech, the waveform chain of
# ``augment_audio`` (room, microphone band, noise, clipping), computed from raw windows.
AUGMENT_CHOICES = ("none", "light", "standard", "robust")


Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def face_augment(level: str) -> Augment | None:
    """The face batch augmentation at ``level`` (None for ``"none"``)."""
    return None if level == "none" else functools.partial(augment_faces, **LEVELS["face"][level])


def fusion_augment(level: str) -> Augment | None:
    """Both halves of fusion items. Fusion pairs hold features, not sound: at ``robust``
    its speech side gets the spectrogram set (``standard``)."""
    if level == "none":
        return None
    speech_level = "standard" if level == "robust" else level
    return functools.partial(
        augment_fusion, face=LEVELS["face"][level], speech=LEVELS["speech"][speech_level]
    )
