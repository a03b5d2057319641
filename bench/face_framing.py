#!/usr/bin/env python3
"""How FER-2013 frames a face, how the workbench's crops of real frames frame it, the crop
geometry that makes the two match, and what the starter face model makes of the real clips
with the old and the new crops.

    python bench/face_framing.py                       # ../shared/data, 2,000 FER images
    python bench/face_framing.py --fer-images 500 --step 10 --data PATH

Framing is measured the same way on both sides (``datasets.faces.framing``): the 48x48 face
is upscaled, padded with its own edges, and the project's Haar cascade finds the face's box
again; the box's centre and side are given as shares of the crop's side. FER-2013 images
are a seeded sample of the training folder. Real faces are crops (detector box → margin →
48x48) of every ``--step``-th frame of the RAVDESS clips, and of "photos" made from those
frames: the frame at 640x360 saved as JPEG quality 50, and at 320x180 as quality 40
(webcam-like). The chosen geometry is found by a few fixed-point steps from the old one
(margin 0.1, no shift): scale the crop by the ratio of the medians of the box side, move it
by the difference of the medians of the box centre's height, until both are within 0.003.

The accuracy part runs the starter model ``pretrained/face_fer2013.pt`` (which never saw
RAVDESS) on the clips, with one view per face and with its ten-view averaging: per-frame accuracy over every frame, and the clip's answer from the
mean of N evenly spaced frames' probabilities (``datasets.video.clip_faces``, as prediction
does; N = 8 is prediction's default). Ground truth is the clip name's emotion mapped to FER
(``datasets.labels.RAVDESS_TO_FER``). With three clips of one actor, read these as a
sanity check, not as an accuracy figure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets.faces import CROP_MARGIN, CROP_SHIFT, FaceDetector, framing  # noqa: E402
from datasets.fer2013 import load_fer2013  # noqa: E402
from datasets.labels import RAVDESS_TO_FER  # noqa: E402
from datasets.ravdess import parse_name  # noqa: E402
from datasets.video import clip_faces, sample_frames  # noqa: E402
from models.face import single_view  # noqa: E402
from training.checkpoint import load_checkpoint  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
OLD_GEOMETRY = (0.1, 0.0)  # (margin, shift) before this bench: a 1.2x box, centred
SIDES = (160, 209)  # upscaled crop sides drawn from this range (padded: ≤ 318 px, no rescale)


def measuring_detector() -> FaceDetector:
    """The project's cascade and settings; boxes under 0.45 of a crop are not faces of it."""
    return FaceDetector(min_face=0.3)


def measure(faces: list[np.ndarray], sides: np.ndarray, det: FaceDetector) -> np.ndarray:
    """(n_found, 3) framings (centre x, centre y, box side) of the faces the detector finds."""
    found = [framing(f, det, side=int(s)) for f, s in zip(faces, sides)]
    return np.array([f for f in found if f is not None]).reshape(-1, 3)


def summary(name: str, rows: np.ndarray, n: int) -> None:
    print(f"{name}: face found again in {len(rows)} of {n} ({len(rows) / max(n, 1):.0%})")
    for j, what in enumerate(("centre x", "centre y", "box side")):
        p10, p25, p50, p75, p90 = np.percentile(rows[:, j], [10, 25, 50, 75, 90])
        print(f"  {what:<9} median {p50:.3f}  IQR {p25:.3f}-{p75:.3f}  10-90% {p10:.3f}-{p90:.3f}")


def fer_faces(data: Path, n: int, seed: int) -> list[np.ndarray]:
    fer = load_fer2013(data)
    idx = np.random.default_rng(seed).choice(len(fer.images), min(n, len(fer.images)), False)
    return [fer.images[i] for i in np.sort(idx)]


def real_photos(clips: list[Path], step: int) -> list[np.ndarray]:
    """Every ``step``-th frame of each clip, and webcam-like copies of it (see the top)."""
    photos = []
    for clip in clips:
        frames, _, _, total = sample_frames(clip, max(1, -(-frame_count(clip) // step)))
        for f in frames:
            photos.append(f)
            for size, quality in (((640, 360), 50), ((320, 180), 40)):
                small = cv2.resize(f, size, interpolation=cv2.INTER_AREA)
                ok, jpg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
                photos.append(cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE))
    return photos


def frame_count(clip: Path) -> int:
    cap = cv2.VideoCapture(str(clip))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def real_crops(
    photos: list[np.ndarray], boxes: list, margin: float, shift: float
) -> list[np.ndarray]:
    crop = FaceDetector(margin=margin, shift=shift)
    return [crop.crop(p, b) for p, b in zip(photos, boxes)]


def choose_geometry(
    photos: list[np.ndarray],
    boxes: list,
    sides: np.ndarray,
    target: np.ndarray,
    steps: int = 6,
    tolerance: float = 0.003,
) -> tuple[float, float]:
    """Margin and shift whose real crops' median framing matches ``target`` (x, y, side)
    within ``tolerance`` (a share of the crop's side; one pixel of 48 is 0.02)."""
    det = measuring_detector()
    margin, shift = OLD_GEOMETRY
    for i in range(steps):
        med = np.median(measure(real_crops(photos, boxes, margin, shift), sides, det), axis=0)
        print(
            f"  step {i}: margin {margin:.4f} shift {shift:+.4f} -> "
            f"centre y {med[1]:.3f}, box side {med[2]:.3f}"
        )
        if abs(med[1] - target[1]) <= tolerance and abs(med[2] - target[2]) <= tolerance:
            break
        # A crop k times the box shows the box at ~1/k of its side: scale k by the ratio.
        k = (1 + 2 * margin) * med[2] / target[2]
        margin = (k - 1) / 2
        shift += med[1] - target[1]  # the face sits low in the crop: move the crop down
    return round(margin, 3), round(shift, 3)


def clip_accuracy(clips: list[Path], margin: float, shift: float, counts: tuple[int, ...]) -> None:
    """Per-frame accuracy over every frame and the mean-over-N-frames answer per clip, with
    one view per face and with the model's own ten-view averaging (as prediction runs it)."""
    loaded = load_checkpoint(ROOT / "pretrained" / "face_fer2013.pt", kind="face")
    model, model_classes = loaded.model, loaded.classes
    det = FaceDetector(margin=margin, shift=shift)

    @torch.inference_mode()
    def probs(faces: np.ndarray, views: bool) -> np.ndarray:
        x = torch.tensor(faces, dtype=torch.float32).div_(255.0).unsqueeze(1)  # (F, 1, 48, 48)
        if views:
            return torch.softmax(model(x), dim=1).numpy()
        with single_view(model):
            return torch.softmax(model(x), dim=1).numpy()

    faces = {}  # (clip, N or 0 for every frame) → (F, 48, 48) crops
    for clip in clips:
        faces[clip, 0] = clip_faces(clip, frame_count(clip), det).faces
        for n in counts:
            faces[clip, n] = clip_faces(clip, n, det).faces
    for views in (False, True):
        right_frames = n_frames = 0
        right_clips = dict.fromkeys(counts, 0)
        answers = []
        for clip in clips:
            truth = model_classes.index(RAVDESS_TO_FER[parse_name(clip).emotion_name])
            p = probs(faces[clip, 0], views)
            right = int((p.argmax(1) == truth).sum())
            right_frames += right
            n_frames += len(p)
            row = []
            for n in counts:
                mean = probs(faces[clip, n], views).mean(0)
                top = int(mean.argmax())
                right_clips[n] += top == truth
                row.append(f"N={n}: {model_classes[top]} (p true {mean[truth]:.2f})")
            answers.append(
                f"{clip.name} ({model_classes[truth]}): frames right {right}/{len(p)}; "
                + ", ".join(row)
            )
        print(
            f"  margin {margin:.3f} shift {shift:+.3f}, {'ten views' if views else 'one view'}: "
            f"per-frame accuracy {right_frames}/{n_frames} ({right_frames / n_frames:.1%}); "
            "clips right with the mean of N frames: "
            + ", ".join(f"N={n}: {right_clips[n]}/{len(clips)}" for n in counts)
        )
        for a in answers:
            print("    " + a)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED, help="the shared data folder")
    ap.add_argument("--fer-images", type=int, default=2000, help="FER-2013 images to measure")
    ap.add_argument("--step", type=int, default=5, help="measure framing on every Nth frame")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-accuracy", action="store_true", help="skip the starter-model part")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # a bench, not a training run: leave the other core alone
    fer_dir, video_dir = args.data / "fer2013" / "train", args.data / "ravdess_video"
    if not fer_dir.is_dir() or not video_dir.is_dir():
        print(f"needs {fer_dir} and {video_dir}")
        return 2
    clips = sorted(video_dir.glob("*.mp4"))
    rng = np.random.default_rng(args.seed)
    det = measuring_detector()
    t0 = time.perf_counter()

    faces = fer_faces(fer_dir, args.fer_images, args.seed)
    fer = measure(faces, rng.integers(*SIDES, len(faces)), det)
    summary(f"FER-2013 training images ({len(faces)}, seed {args.seed})", fer, len(faces))
    target = np.median(fer, axis=0)

    photos = real_photos(clips, args.step)
    found = [FaceDetector().detect(p) for p in photos]
    photos = [p for p, b in zip(photos, found) if b]
    boxes = [b[0] for b in found if b]
    print(
        f"\nreal photos: every {args.step}th frame of {len(clips)} clips, and two webcam-like "
        f"copies of each: {len(found)}; a face in {len(photos)}"
    )
    sides = rng.integers(*SIDES, len(photos))
    for margin, shift in (OLD_GEOMETRY, (CROP_MARGIN, CROP_SHIFT)):
        crops = real_crops(photos, boxes, margin, shift)
        summary(
            f"crops, margin {margin:.3f} shift {shift:+.3f}", measure(crops, sides, det), len(crops)
        )

    print("\nchoosing the geometry (target: the FER-2013 medians):")
    margin, shift = choose_geometry(photos, boxes, sides, target)
    crops = real_crops(photos, boxes, margin, shift)
    summary(
        f"crops, chosen margin {margin:.3f} shift {shift:+.3f}",
        measure(crops, sides, det),
        len(crops),
    )
    print(f"\nchosen: CROP_MARGIN = {margin:.3f}, CROP_SHIFT = {shift:.3f}")
    print(f"in datasets/faces.py now: CROP_MARGIN = {CROP_MARGIN}, CROP_SHIFT = {CROP_SHIFT}")

    if not args.no_accuracy:
        counts = (8, 16, 32)
        print("\nstarter face model on the real clips (every frame; mean of N frames per clip):")
        for m, s in dict.fromkeys([OLD_GEOMETRY, (CROP_MARGIN, CROP_SHIFT), (margin, shift)]):
            clip_accuracy(clips, m, s, counts)
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
