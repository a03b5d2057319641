"""Reading user images as 8-bit grayscale arrays, with errors a person can act on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import WorkbenchError, describe, permission_denied, require_readable

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_gray(path: str | Path) -> np.ndarray:
    """Decode an image file to a (H, W) uint8 grayscale array.

    EXIF orientation is applied so phone photos are upright. A truncated or non-image
    file raises ``WorkbenchError`` naming the file.
    """
    path = require_readable(path)
    if not path.is_file():
        raise WorkbenchError(
            f"Image {describe(path)} does not exist; check the path and try again."
        )
    try:
        with Image.open(path) as im:
            im.load()  # decode now: a truncated JPEG fails here, not later in training
            if "exif" in im.info:  # phone photos; parsing EXIF for every FER crop doubles the cost
                im = ImageOps.exif_transpose(im)
            return _to_uint8_gray(im)
    except UnidentifiedImageError:
        raise WorkbenchError(
            f"{describe(path)} is not an image the workbench can read; "
            "choose a JPEG or PNG photo instead."
        ) from None
    except Image.DecompressionBombError:
        raise WorkbenchError(
            f"Image {describe(path)} is too large to open safely; "
            "scale it down to a few megapixels and try again."
        ) from None
    except PermissionError:
        raise permission_denied(path) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise WorkbenchError(
            f"Image {describe(path)} is damaged or truncated ({exc}); "
            "re-download or re-export it and try again."
        ) from None


def _to_uint8_gray(im: Image.Image) -> np.ndarray:
    """(H, W) uint8 from any PIL mode; 16-bit and float images are scaled, not clipped."""
    if im.mode.startswith("I;16") or im.mode == "I":
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        return np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if im.mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float64))
        lo, hi = float(a.min()), float(a.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        return ((a - lo) * scale + 0.5).astype(np.uint8)
    return np.asarray(im.convert("L"), dtype=np.uint8)


def to_48(gray: np.ndarray) -> np.ndarray:
    """Resize a (H, W) uint8 image to (48, 48) with area averaging (the FER-2013 size)."""
    if gray.shape == (48, 48):
        return gray
    im = Image.fromarray(gray).resize((48, 48), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.uint8)
