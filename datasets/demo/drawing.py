"""Procedural face drawing: anti-aliased shapes on a supersampled canvas (``render_face``).

Face coordinates: u to the right, v downwards, face centre at (0, 0), face half-height about
0.9. The image spans [-_EXTENT, _EXTENT] in both directions at scale 1, so the face fills the
frame the way FER-2013's tight crops do. Shapes are drawn with anti-aliased signed-distance
masks at ``supersample`` times the output size, then area-averaged down. The video clips draw
the still parts of a face once (``draw_base``) and the moving ones per frame (``draw_features``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from datasets.demo.config import FACE_SIZE
from datasets.demo.faces import FaceIdentity, FaceView

_EXTENT = 0.92


def _soft(d: np.ndarray, aa: float) -> np.ndarray:
    """Coverage (0..1) of a shape with signed distance ``d`` (negative inside), edge width aa."""
    # np.minimum/np.maximum: np.clip's Python wrapper costs more than the maths on small arrays
    return np.minimum(np.maximum(0.5 - d / aa, 0.0), 1.0)


def _ellipse_sd(u: np.ndarray, v: np.ndarray, a: float | np.ndarray, b: float | np.ndarray):
    """Approximate signed distance to an axis-aligned ellipse (Quilez's gradient estimate)."""
    k0 = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    k1 = np.sqrt((u / (a * a)) ** 2 + (v / (b * b)) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _segment_sd(u: np.ndarray, v: np.ndarray, p: tuple[float, float], q: tuple[float, float]):
    """Unsigned distance to the segment p-q (subtract a radius to get a capsule)."""
    bu, bv = q[0] - p[0], q[1] - p[1]
    pu, pv = u - p[0], v - p[1]
    h = np.clip((pu * bu + pv * bv) / max(bu * bu + bv * bv, 1e-12), 0.0, 1.0)
    return np.hypot(pu - bu * h, pv - bv * h)


def _paint(img: np.ndarray, mask: np.ndarray, color: float | np.ndarray) -> None:
    """Alpha-composite ``color`` over ``img`` in place with coverage ``mask``."""
    img += mask * (color - img)


class Canvas:
    """A supersampled image plus the face coordinates (u, v) of every pixel.

    Features are drawn only inside their bounding box (``box``), which keeps a face at a few
    milliseconds: most of the frame is untouched by an eye or a mouth.
    """

    def __init__(self, view: FaceView, size: int, supersample: int) -> None:
        self.view, self.size, self.ss = view, size, supersample
        s_px = self.s_px = size * supersample
        c = (((np.arange(s_px) + 0.5) / s_px * 2.0 - 1.0) * _EXTENT).astype(np.float32)
        self.x, self.y = c[None, :], c[:, None]
        self.cr, self.sr = math.cos(view.roll), math.sin(view.roll)
        dx, dy = self.x - view.tx, self.y - view.ty
        self.u = (self.cr * dx + self.sr * dy) / view.scale
        self.v = (-self.sr * dx + self.cr * dy) / view.scale
        self.aa = 2.0 * _EXTENT / s_px / view.scale * 1.3  # ~1 supersampled px in face units
        self.img = np.broadcast_to(
            view.bg + view.bg_gx * self.x + view.bg_gy * self.y, (s_px, s_px)
        ).astype(np.float32)

    def box(self, u0: float, u1: float, v0: float, v1: float, shift: float = 0.0):
        """Pixel slices (rows, cols) covering the face-coordinate box, ``shift`` added to u."""
        s, cr, sr, e = self.view.scale, self.cr, self.sr, _EXTENT
        to_px = self.s_px / (2.0 * e)
        cols, rows = [], []
        for uc in (u0 + shift, u1 + shift):  # the four corners, plain floats (hot path)
            for vc in (v0, v1):
                cols.append((s * (cr * uc - sr * vc) + self.view.tx + e) * to_px - 0.5)
                rows.append((s * (sr * uc + cr * vc) + self.view.ty + e) * to_px - 0.5)
        c0, c1 = max(math.floor(min(cols)) - 2, 0), min(math.ceil(max(cols)) + 3, self.s_px)
        r0, r1 = max(math.floor(min(rows)) - 2, 0), min(math.ceil(max(rows)) + 3, self.s_px)
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))

    def uv(self, sl, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Face coordinates inside ``sl``, with u shifted by ``-shift`` (yaw offset)."""
        return self.u[sl] - shift, self.v[sl]

    def paint(self, sl, mask: np.ndarray, color: float | np.ndarray) -> None:
        _paint(self.img[sl], mask, color)


def draw_base(cv: Canvas, ident: FaceIdentity) -> None:
    """The parts that do not move with expression: background, hair, neck, face, nose."""
    aa, skin = cv.aa, ident.skin
    a, b, hv = ident.face_a, ident.face_b, ident.hair_volume
    nose_shift = cv.view.yaw * 0.34  # the nose sticks out, so it slides most with yaw
    u, v = cv.u, cv.v
    full = (slice(None), slice(None))

    # Hair behind the head, neck, shoulders.
    hair_w = a * hv + (0.08 if ident.hair_down > 0.0 else 0.0)  # long hair falls wider
    hair_back = _soft(_ellipse_sd(u, v + 0.1, hair_w, b * hv), aa) * _soft(v - ident.hair_down, aa)
    cv.paint(full, hair_back, ident.hair)
    sl = cv.box(-a * 0.6, a * 0.6, 0.5, 2.2)
    uu, vv = cv.uv(sl)
    cv.paint(sl, _soft(_segment_sd(uu, vv, (0.0, 0.6), (0.0, 2.0)) - a * 0.52, aa), skin * 0.72)
    sl = cv.box(-a * 2.5, a * 2.5, 0.95, 2.6)
    uu, vv = cv.uv(sl)
    cv.paint(sl, _soft(_ellipse_sd(uu, vv - 1.75, a * 2.4, 0.75), aa), 0.25 + 0.3 * ident.hair)

    # Face oval: longer below the eyes (chin); darker towards the rim (roundness).
    sl = cv.box(-a, a, -b, b * ident.chin)
    uu, vv = cv.uv(sl)
    bb = np.where(vv < 0.0, b, b * ident.chin)
    rim = (uu / a) ** 2 + (vv / bb) ** 2
    cv.paint(sl, _soft(_ellipse_sd(uu, vv, a, bb), aa), skin * (1.0 - 0.2 * rim * rim))

    # Nose: side shadows, nostrils, tip shadow.
    ny, nw = ident.nose_y, ident.nose_w
    sl = cv.box(-nw - 0.08, nw + 0.08, ident.eye_y + 0.05, ny + 0.09, nose_shift)
    uu, vv = cv.uv(sl, nose_shift)
    for side in (-1.0, 1.0):
        p, q = (side * nw * 0.45, ident.eye_y + 0.1), (side * nw * 0.9, ny - 0.02)
        cv.paint(sl, _soft(_segment_sd(uu, vv, p, q) - 0.012, aa) * 0.2, skin * 0.6)
        nostril = _soft(_ellipse_sd(uu - side * nw * 0.55, vv - ny, 0.03, 0.016), aa)
        cv.paint(sl, nostril * 0.65, skin * 0.35)
    tip = _soft(_ellipse_sd(uu, vv - ny - 0.035, nw * 1.1, 0.025), 0.04)
    cv.paint(sl, tip * 0.35, skin * 0.6)


def draw_features(cv: Canvas, ident: FaceIdentity, expr: Mapping[str, float], blink: float) -> None:
    """Eyes, brows, wrinkles, mouth and fringe, shaped by the expression parameters."""
    aa, skin, view = cv.aa, ident.skin, cv.view
    shift = view.yaw * 0.22  # features slide sideways with yaw
    nose_shift = view.yaw * 0.34
    ey, edx, ew, eh = ident.eye_y, ident.eye_dx, ident.eye_w, ident.eye_h

    # Eye sockets, then almond eyes with separate upper/lower lid heights.
    up_h = max(eh * (1.0 + 1.0 * expr["eye_open"]) * (1.0 - blink), 0.006)
    low_h = max(eh * 0.8 * (1.0 - 0.7 * expr["squint"] + 0.3 * expr["eye_open"]), 0.006)
    for side in (-1.0, 1.0):
        cx = side * edx
        sl = cv.box(cx - ew * 1.5 - 0.1, cx + ew * 1.5 + 0.1, ey - 0.2, ey + 0.16, shift)
        uu, vv = cv.uv(sl, shift)
        eu, ev = uu - cx, vv - ey
        cv.paint(sl, _soft(_ellipse_sd(eu, ev + 0.02, ew * 1.5, 0.1), 0.08), skin * 0.82)
        sd = _ellipse_sd(eu, ev, ew, np.where(ev < 0.0, up_h, low_h))
        eye = _soft(sd, aa)
        cv.paint(sl, eye, 0.55 + 0.35 * skin)
        iu, iv = eu - view.gaze_x * ew * 0.35, ev - view.gaze_y * eh * 0.3
        cv.paint(sl, _soft(np.hypot(iu, iv) - eh * 0.95, aa) * eye, ident.iris)
        lid_w = np.where(ev < 0.0, 0.02, 0.009)
        cv.paint(sl, _soft(np.abs(sd + lid_w * 0.5) - lid_w * 0.5, aa), 0.12 + 0.2 * skin)

    # Brows: two capsules (inner-mid, mid-outer) per side, raised and tilted.
    tilt = expr["brow_tilt"]
    brow_y = ey - ident.brow_gap - 0.12 * expr["brow_raise"]
    for side in (-1.0, 1.0):
        inner = (side * (edx - ident.brow_len * 0.5), brow_y - 0.075 * tilt + 0.01)
        mid = (side * edx, brow_y - 0.025 - 0.02 * max(expr["brow_raise"], 0.0))
        outer = (side * (edx + ident.brow_len * 0.55), brow_y + 0.02 + 0.025 * tilt)
        pts_u = (inner[0], mid[0], outer[0])
        pts_v = (inner[1], mid[1], outer[1])
        r = ident.brow_thick + 0.01
        sl = cv.box(min(pts_u) - r, max(pts_u) + r, min(pts_v) - r, max(pts_v) + r, shift)
        uu, vv = cv.uv(sl, shift)
        d = np.minimum(_segment_sd(uu, vv, inner, mid), _segment_sd(uu, vv, mid, outer))
        cv.paint(sl, _soft(d - ident.brow_thick, aa), ident.brow_tone)
    frown = min(max(-tilt, 0.0), 1.0)
    if frown > 0.05:  # vertical lines between lowered brows
        sl = cv.box(-0.07, 0.07, brow_y - 0.04, brow_y + 0.09, shift)
        uu, vv = cv.uv(sl, shift)
        for side in (-1.0, 1.0):
            d = _segment_sd(uu, vv, (side * 0.035, brow_y - 0.02), (side * 0.045, brow_y + 0.07))
            cv.paint(sl, _soft(d - 0.008, aa) * frown * 0.5, 0.2)
    wrinkle = expr["wrinkle"]
    if wrinkle > 0.02:  # across the nose bridge
        sl = cv.box(-0.12, 0.12, ey + 0.04, ey + 0.19, nose_shift)
        uu, vv = cv.uv(sl, nose_shift)
        for side in (-1.0, 1.0):
            for k in range(2):
                p, q = (side * 0.03, ey + 0.06 + 0.05 * k), (side * 0.1, ey + 0.11 + 0.05 * k)
                d = _segment_sd(uu, vv, p, q)
                cv.paint(sl, _soft(d - 0.008, aa) * wrinkle * 0.7, skin * 0.45)

    # Mouth: centre line with corner lift (curvature); a lens-shaped opening with the jaw doing
    # most of the moving; lips around it; teeth in the upper part of the opening.
    my = ident.mouth_y
    mw = ident.mouth_w * (1.0 + 0.45 * expr["mouth_width"])
    curv = expr["mouth_curv"]
    gap = 0.22 * max(expr["mouth_open"], 0.0)
    folds = expr["folds"]
    if folds > 0.02:  # smile lines from the nose wings past the mouth corners
        sl = cv.box(-mw - 0.1, mw + 0.1, ident.nose_y - 0.03, my + 0.11, shift)
        uu, vv = cv.uv(sl, shift)
        for side in (-1.0, 1.0):
            p, q = (side * (ident.nose_w + 0.05), ident.nose_y), (side * (mw + 0.06), my + 0.08)
            cv.paint(sl, _soft(_segment_sd(uu, vv, p, q) - 0.01, aa) * folds * 0.45, skin * 0.55)
    lift = 0.13 * abs(curv)
    sl = cv.box(-mw - 0.04, mw + 0.04, my - lift - 0.1, my + lift + 0.75 * gap + 0.1, shift)
    uu, vv = cv.uv(sl, shift)
    t2 = np.clip(uu / mw, -1.2, 1.2) ** 2
    yc = my - 0.13 * curv * (t2 - 0.3)
    lens = np.sqrt(np.clip(1.0 - t2, 0.0, None))
    h = gap * lens
    y_up = yc - 0.3 * h - 0.007
    y_lo = yc + 0.7 * h + 0.007
    side_d = np.abs(uu) - mw
    lip_t = ident.lip * (1.0 - 0.7 * float(np.clip(expr["press"], 0.0, 1.0)))
    lips = np.maximum(
        np.maximum(y_up - lip_t * 0.8 * lens - vv, vv - y_lo - lip_t * lens), side_d - 0.01
    )
    cv.paint(sl, _soft(lips, aa), skin * ident.lip_tone)
    inner = _soft(np.maximum(np.maximum(y_up - vv, vv - y_lo), side_d), aa)
    cv.paint(sl, inner, 0.08)
    teeth = expr["teeth"]
    if teeth > 0.02:
        t_lo = y_up + np.minimum(0.035, 0.5 * (y_lo - y_up))
        band = _soft(np.maximum(np.maximum(y_up - vv, vv - t_lo), side_d + 0.2 * mw), aa)
        cv.paint(sl, band * inner * teeth, 0.8)
    for side in (-1.0, 1.0):  # corner shadows
        corner = (side * mw, my - 0.13 * curv * 0.7)
        cv.paint(sl, _soft(_segment_sd(uu, vv, corner, corner) - 0.016, aa) * 0.35, skin * 0.5)

    # Fringe over the forehead, receding towards the temples.
    a, b, hv = ident.face_a, ident.face_b, ident.hair_volume
    sl = cv.box(-a * hv, a * hv, -b * hv - 0.1, ident.hairline + 0.3)
    uu, vv = cv.uv(sl)
    hairline = ident.hairline + 0.28 * (uu / a) ** 2
    fringe = _soft(_ellipse_sd(uu, vv + 0.1, a * hv, b * hv), aa) * _soft(vv - hairline, aa)
    cv.paint(sl, fringe, ident.hair)


def finish(cv: Canvas, img: np.ndarray) -> np.ndarray:
    """Lighting gradient and camera tone curve, then area-downsample: float32 (size, size)."""
    view = cv.view
    img = img * (1.0 + view.light_x * cv.x + view.light_y * cv.y)
    np.clip(img, 0.0, 1.0, out=img)
    img **= view.gamma
    img = (img - 0.5) * view.contrast + 0.5 + view.brightness
    return img.reshape(cv.size, cv.ss, cv.size, cv.ss).mean(axis=(1, 3), dtype=np.float32)


def render_face(
    ident: FaceIdentity,
    expr: Mapping[str, float],
    view: FaceView,
    size: int = FACE_SIZE,
    supersample: int = 2,
    blink: float = 0.0,
) -> np.ndarray:
    """Render one grayscale face.

    Returns float32 (size, size), values roughly in 0..1 (not yet clipped or noised).
    ``expr`` holds the EXPR_KEYS parameters; ``blink`` (0..1) closes the upper lids.
    """
    cv = Canvas(view, size, supersample)
    draw_base(cv, ident)
    draw_features(cv, ident, expr, blink)
    return finish(cv, cv.img)
