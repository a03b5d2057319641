"""Face detection and 48x48 crops with OpenCV's bundled Haar cascade.

Detection runs on a copy scaled down to at most ``max_side`` pixels (a 720p frame takes
~45 ms at full size, ~8 ms at 320 px) and the box is scaled back. The largest face wins.
An image no larger than 64 px is taken to be a face crop already (FER style) and used as is.
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


@dataclass
class FaceCrop:
    """A 48x48 face and where it was found (``box`` is None when the image was used whole)."""

    face: np.ndarray  # (48, 48) uint8
    box: Box | None


class FaceDetector:
    """Haar-cascade face finder; one instance can be reused for many images."""

    def __init__(self, *, max_side: int = 320, margin: float = 0.1, min_face: float = 0.08) -> None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise WorkbenchError(
                f"OpenCV's face detector {describe(path)} could not be loaded; reinstall "
                "opencv-python 4.x (pip install -r requirements.txt)."
            )
        self.max_side = max_side
        self.margin = margin  # extra border around the detected box, as a share of its size
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

    def crop(self, gray: np.ndarray, box: Box) -> np.ndarray:
        """The square 48x48 crop around ``box`` plus the margin; edges are replicated."""
        x, y, w, h = box
        side = int(round(max(w, h) * (1 + 2 * self.margin)))
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
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
