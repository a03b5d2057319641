"""Face crops from images and clips, and the audio that belongs to a clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import soundfile as sf
from conftest import tone
from PIL import Image

from datasets.errors import NoFaceError, WorkbenchError
from datasets.faces import FaceDetector, face_from_file, whole_image
from datasets.images import read_gray
from datasets.video import clip_audio, clip_faces, find_take_audio


def write_clip(path, frames: list[np.ndarray], fps: float = 10.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        out.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    out.release()
    return path


def test_small_image_is_already_a_face_crop(tmp_path):
    px = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    Image.fromarray(px).save(tmp_path / "fer.png")
    crop = face_from_file(tmp_path / "fer.png")
    assert crop.box is None and np.array_equal(crop.face, px)


def test_no_face_in_a_blank_photo(tmp_path):
    Image.fromarray(np.full((300, 400), 200, np.uint8)).save(tmp_path / "wall.png")
    with pytest.raises(NoFaceError, match=r"No face found in .*wall.png.*--no-detect"):
        face_from_file(tmp_path / "wall.png")
    whole = face_from_file(tmp_path / "wall.png", detect=False)
    assert whole.face.shape == (48, 48) and whole.box is None


def test_crop_adds_margin_and_replicates_edges():
    gray = np.zeros((100, 100), np.uint8)
    gray[:, 50:] = 255
    det = FaceDetector(margin=0.5)
    # A 20 px box at the left edge: the 40 px crop reaches 10 px outside the image.
    crop = det.crop(gray, (0, 40, 20, 20))
    assert crop.shape == (48, 48) and crop.max() == 0
    crop = det.crop(gray, (40, 40, 20, 20))  # straddles the edge between black and white
    assert crop[:, 0].max() == 0 and crop[:, -1].min() == 255


def test_whole_image_takes_the_centre_square():
    gray = np.zeros((100, 200), np.uint8)
    gray[:, 50:150] = 255
    assert whole_image(gray).min() == 255


def test_truncated_jpeg_is_named(tmp_path):
    Image.fromarray(np.full((100, 100), 90, np.uint8)).save(tmp_path / "p.jpg")
    data = (tmp_path / "p.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(WorkbenchError, match=r"cut.jpg' is damaged or truncated"):
        read_gray(tmp_path / "cut.jpg")
    (tmp_path / "letter.jpg").write_text("Dear class,")
    with pytest.raises(WorkbenchError, match=r"letter.jpg' is not an image"):
        read_gray(tmp_path / "letter.jpg")


def test_small_frames_are_face_crops_sampled_evenly(tmp_path):
    frames = [np.full((64, 64), i * 8, np.uint8) for i in range(30)]
    clip = write_clip(tmp_path / "02-01-03-01-01-01-01.mp4", frames)
    faces = clip_faces(clip, n_frames=5)
    assert faces.faces.shape == (5, 48, 48) and faces.found.all()
    # Segment centres of 30 frames in 5 parts: frames 3, 9, 15, 21, 27.
    assert np.allclose(faces.times, np.array([3, 9, 15, 21, 27]) / 10.0)
    means = [f.mean() for f in faces.faces]
    assert means == sorted(means)  # brightness rises with the frame index


def test_clip_without_a_face(tmp_path):
    clip = write_clip(tmp_path / "empty.mp4", [np.full((240, 320), 128, np.uint8)] * 10)
    with pytest.raises(NoFaceError, match=r"any of the 4 sampled frames of .*empty.mp4"):
        clip_faces(clip, n_frames=4)


def test_non_video_named_mp4(tmp_path):
    (tmp_path / "fake.mp4").write_text("not a video")
    with pytest.raises(WorkbenchError, match=r"fake.mp4' is not a video"):
        clip_faces(tmp_path / "fake.mp4")


def test_sixteen_bit_and_float_images_are_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    gray = read_gray(tmp_path / "deep.png")
    assert gray.min() == 0 and gray.max() == 255 and 120 < gray.mean() < 135
    Image.fromarray(np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)).save(
        tmp_path / "f.tif"
    )
    assert 120 < read_gray(tmp_path / "f.tif").mean() < 135


def test_phone_photo_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40), np.uint8)
    pixels[:, :10] = 255  # bright left edge
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[0x0112] = 6  # EXIF orientation: the camera was turned; rotate 90 degrees clockwise
    im.save(tmp_path / "phone.jpg", exif=exif.tobytes())
    gray = read_gray(tmp_path / "phone.jpg")
    assert gray.shape == (40, 20)
    assert gray[:8].mean() > 200 and gray[-8:].mean() < 50  # the left edge is now the top


def test_a_sliver_of_an_image_has_no_face_but_no_crash(tmp_path):
    Image.fromarray(np.full((3, 500), 90, np.uint8)).save(tmp_path / "sliver.png")
    with pytest.raises(NoFaceError):
        face_from_file(tmp_path / "sliver.png")


def test_over_counting_header_still_samples_the_whole_clip(tmp_path):
    # An AVI cut short keeps its header's frame count (60) but only ~half the frames decode.
    frames = [np.full((64, 64), i * 4, np.uint8) for i in range(60)]
    full = tmp_path / "full.avi"
    out = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 64))
    for f in frames:
        out.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    out.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    faces = clip_faces(cut, n_frames=6)
    assert len(faces.faces) == 6
    assert faces.n_total < 60  # counted, not taken from the header
    assert faces.times[-1] >= (faces.n_total - 10) / 10.0  # the last sample is near the real end


def test_take_audio_search_is_bounded(tmp_path):
    clip = write_clip(
        tmp_path / "v" / "02-01-05-02-01-01-07.mp4", [np.zeros((64, 64), np.uint8)] * 3
    )
    deep = tmp_path / "a" / "b" / "c" / "d" / "03-01-05-02-01-01-07.wav"
    deep.parent.mkdir(parents=True)
    sf.write(deep, tone(1.0, 16_000), 16_000)
    assert find_take_audio(clip, [tmp_path]) is None  # 4 folders down: too deep
    assert find_take_audio(clip, [tmp_path / "a"]) == deep


def test_clip_audio_comes_from_the_matching_take(tmp_path):
    clip = write_clip(
        tmp_path / "videos" / "Actor_07" / "02-01-05-02-01-01-07.mp4",
        [np.zeros((64, 64), np.uint8)] * 5,
    )
    with pytest.raises(WorkbenchError, match="no audio track and no matching RAVDESS"):
        clip_audio(clip)
    take = tmp_path / "audio" / "Actor_07" / "03-01-05-02-01-01-07.wav"
    take.parent.mkdir(parents=True)
    sf.write(take, tone(1.5, 48_000), 48_000)
    assert find_take_audio(clip, [tmp_path / "audio"]) == take
    y, source = clip_audio(clip, roots=[tmp_path / "audio"])
    assert source == take and len(y) == 24_000
