"""Reading user images as 8-bit grayscale arrays, with errors a person can act on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import WorkbenchError, describe

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_gray(path: str | Path) -> np.ndarray:
    """Decode an image file to a (H, W) uint8 grayscale array.

    EXIF orientation is applied so phone photos are upright. A truncated or non-image
    file raises ``WorkbenchError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(
            f"Image {describe(path)} does not exist; check the path and try again."
        )
    try:
        with Image.open(path) as im:
            im.load()  # decode now: a truncated JPEG fails here, not later in training
            im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("L"), dtype=np.uint8)
    except UnidentifiedImageError:
        raise WorkbenchError(
            f"{describe(path)} is not an image the workbench can read; "
            "choose a JPEG or PNG photo instead."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise WorkbenchError(
            f"Image {describe(path)} is damaged or truncated ({exc}); "
            "re-download or re-export it and try again."
        ) from None


def to_48(gray: np.ndarray) -> np.ndarray:
    """Resize a (H, W) uint8 image to (48, 48) with area averaging (the FER-2013 size)."""
    if gray.shape == (48, 48):
        return gray
    im = Image.fromarray(gray).resize((48, 48), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.uint8)
