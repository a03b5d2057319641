"""Face detection and 48x48 crops with OpenCV's bundled Haar cascade.

Detection runs on a copy scaled down to at most ``max_side`` pixels (a 720p frame takes
~45 ms at full size, ~8 ms at 320 px) and the box is scaled back. The largest face wins.
An image no larger than 64 px is taken to be a face crop already (FER style) and used as is.

The crop around a detected box is framed like a FER-2013 face: ``bench/face_framing.py``
runs this detector on upscaled FER-2013 training images and on crops of real video
frames, and the geometry below makes the second look like the first (see ``framing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .errors import NoFaceError, WorkbenchError, describe
from .images import read_gray, to_48

Box = tuple[int, int, int, int]  # x, y, width, height in pixels of the original image
SMALL_CROP = 64  # images up to this size are already face crops

# Crop geometry, chosen by bench/face_framing.py so that the detector, run again on a
# real crop, finds the face where it finds it on FER-2013 images: there (2,000 training
# images) the box's side is a median 0.975 of the image's (IQR 0.91-1.03) and its centre
# sits at (0.50, 0.50). Crops of the real clips' frames 1.2x the box (the old margin 0.1)
# came out looser (box 0.90 of the crop) and the face 1.2% low; these values give 0.976
# and 0.500.
CROP_MARGIN = 0.058  # extra border on each side of the box, as a share of the box's side
CROP_SHIFT = 0.017  # the crop's centre lies this share of its side below the box's centre


@dataclass
class FaceCrop:
    """A 48x48 face and where it was found (``box`` is None when the image was used whole)."""

    face: np.ndarray  # (48, 48) uint8
    box: Box | None


class FaceDetector:
    """Haar-cascade face finder; one instance can be reused for many images."""

    def __init__(
        self,
        *,
        max_side: int = 320,
        margin: float = CROP_MARGIN,
        shift: float = CROP_SHIFT,
        min_face: float = 0.08,
    ) -> None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise WorkbenchError(
                f"OpenCV's face detector {describe(path)} could not be loaded; reinstall "
                "opencv-python 4.x (pip install -r requirements.txt)."
            )
        self.max_side = max_side
        self.margin = margin  # extra border around the detected box, as a share of its size
        self.shift = shift  # the crop's centre moves down by this share of the crop's side
        self.min_face = min_face  # smallest face side, as a share of the image's shorter side

    def detect(self, gray: np.ndarray) -> list[Box]:
        """All faces in a (H, W) uint8 image, largest first."""
        h, w = gray.shape
        if min(h, w) < 24:  # smaller than the cascade's window: nothing can be found
            return []
        scale = min(1.0, self.max_side / max(h, w))
        small = (
            gray
            if scale == 1.0
            else cv2.resize(
                gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
            )
        )
        small = cv2.equalizeHist(small)  # Haar features compare brightness: even out lighting
        side = max(20, int(min(small.shape) * self.min_face))
        found = self.cascade.detectMultiScale(
            small, scaleFactor=1.1, minNeighbors=5, minSize=(side, side)
        )
        boxes = [tuple(int(round(v / scale)) for v in b) for b in found]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)

    def crop_square(self, box: Box) -> tuple[int, int, int]:
        """(x0, y0, side) in pixels of the square ``crop`` takes around ``box``: the box
        plus the margin, its centre moved down by ``shift`` of its side (it may reach
        past the image's edges)."""
        x, y, w, h = box
        side = int(round(max(w, h) * (1 + 2 * self.margin)))
        cx, cy = x + w / 2, y + h / 2 + self.shift * side
        return int(round(cx - side / 2)), int(round(cy - side / 2)), side

    def crop(self, gray: np.ndarray, box: Box) -> np.ndarray:
        """The square 48x48 crop around ``box`` (see ``crop_square``); edges are replicated."""
        x0, y0, side = self.crop_square(box)
        pad = max(0, -x0, -y0, x0 + side - gray.shape[1], y0 + side - gray.shape[0])
        if pad:
            gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            x0, y0 = x0 + pad, y0 + pad
        return cv2.resize(
            gray[y0 : y0 + side, x0 : x0 + side], (48, 48), interpolation=cv2.INTER_AREA
        )

    def find(
        self, gray: np.ndarray, *, source: str | Path = "image", detect: bool = True
    ) -> FaceCrop:
        """The face to classify in ``gray``.

        Small images (≤ 64 px) are used as they are. With ``detect=False`` the whole image
        is used (centre square). Raises ``NoFaceError`` when detection finds nothing.
        """
        if max(gray.shape) <= SMALL_CROP:
            return FaceCrop(to_48(gray), None)
        if not detect:
            return FaceCrop(whole_image(gray), None)
        boxes = self.detect(gray)
        if not boxes:
            raise NoFaceError(
                f"No face found in {describe(source)}; use a brighter, frontal photo, or "
                "classify the whole image instead (--no-detect)."
            )
        return FaceCrop(self.crop(gray, boxes[0]), boxes[0])


def framing(
    face: np.ndarray, detector: FaceDetector, *, side: int = 192
) -> tuple[float, float, float] | None:
    """Where ``detector`` finds the face in a square crop: (centre x, centre y, box side),
    each a share of the crop's side (0.5, 0.5 is the middle); None when it finds none.

    The crop is upscaled to ``side`` px (the cascade's smallest window is 24 px) and padded
    by a quarter of that with its edges replicated, so a face that fills the crop, or
    spills over its edges as many FER-2013 faces do, can still be found whole. The box
    sizes the cascade tries step by 10%, so callers vary ``side`` to spread that grid.
    """
    img = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    pad = side // 4
    img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    boxes = detector.detect(img)
    if not boxes:
        return None
    x, y, w, h = boxes[0]
    return ((x - pad + w / 2) / side, (y - pad + h / 2) / side, max(w, h) / side)


def whole_image(gray: np.ndarray) -> np.ndarray:
    """The centre square of an image, resized to 48x48."""
    h, w = gray.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return cv2.resize(gray[y0 : y0 + s, x0 : x0 + s], (48, 48), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=1)
def default_detector() -> FaceDetector:
    """One shared detector (loading the cascade takes ~50 ms)."""
    return FaceDetector()


def face_from_file(path: str | Path, *, detect: bool = True) -> FaceCrop:
    """Read an image file and return its face crop (see ``FaceDetector.find``)."""
    return default_detector().find(read_gray(path), source=path, detect=detect)
