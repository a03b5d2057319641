"""Faces from real cameras: the crop framed like FER-2013, the "robust" augmentation
(webcam blur, small and compressed frames, exposure, erasing) and the SGD + mixup recipe."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, StopAt, needs_shared

from datasets.faces import CROP_MARGIN, CROP_SHIFT, FaceDetector, framing
from datasets.labels import FER_CLASSES
from models import FACE_PRESETS, FaceCNN
from models.face import single_view, tta_views
from training.augment import (
    AUGMENT_CHOICES,
    down_up,
    face_augment,
    gaussian_blur,
    jpeg_like,
    random_erase,
)
from training.data import TensorSet
from training.fit import FitConfig, fit, mix_batch

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
    ),
]


def smooth_faces(n: int, seed: int = 0) -> torch.Tensor:
    """(n, 1, 48, 48) in [0, 1]: blurred noise with a bright disc, like a lit face."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = cv2.GaussianBlur(rng.random((48, 48)).astype(np.float32), (0, 0), 3)
        img = (img - img.min()) / (img.max() - img.min() + 1e-6) * 0.6
        cv2.circle(img, tuple(int(v) for v in rng.integers(14, 34, 2)), 9, 0.9, -1)
        out.append(img)
    return torch.from_numpy(np.stack(out)).unsqueeze(1)


# ------------------------------------------------------------ augmentation


def test_robust_is_a_face_level():
    assert "robust" in AUGMENT_CHOICES and face_augment("robust") is not None


@pytest.mark.parametrize("device", DEVICES)
def test_robust_keeps_shape_and_range_on_the_data_device_and_repeats_under_a_seed(device):
    x = smooth_faces(32).to(device)
    aug = face_augment("robust")

    def run(seed: int) -> torch.Tensor:
        return aug(x, torch.Generator(device=device).manual_seed(seed))

    a, b, c = run(0), run(0), run(1)
    assert a.shape == x.shape and a.device == x.device and a.dtype == x.dtype
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)  # the same generator seed: the same batch
    assert not torch.equal(a, c)
    assert (a - x).abs().mean() > 0.02  # it did change the faces


def test_robust_adds_what_standard_lacks():
    """Blur and compression leave fewer sharp pixel-to-pixel steps than standard's warps."""
    x = smooth_faces(64)
    x[:, :, ::2, :] *= 0.5  # fine detail that blur, down-scaling and JPEG wipe out

    def detail(level: str) -> torch.Tensor:  # per image: mean |vertical step|
        y = face_augment(level)(x, torch.Generator().manual_seed(0))
        return (y[:, :, 1:] - y[:, :, :-1]).abs().mean(dim=(1, 2, 3))

    standard, robust = detail("standard"), detail("robust")
    # Many robust images lost most of their detail; no standard one did.
    assert (robust < 0.5 * standard.median()).sum() >= 10
    assert (standard < 0.5 * standard.median()).sum() == 0


def test_gaussian_blur_uses_each_images_own_sigma():
    x = torch.zeros(3, 1, 31, 31)
    x[:, :, 15, 15] = 1.0  # an impulse: the blurred image is the kernel itself
    sigma = torch.tensor([1.0, 1.5, 2.0])  # narrower ones are too coarsely sampled to check
    y = gaussian_blur(x, sigma)
    d2 = (torch.arange(31.0) - 15) ** 2
    spread = (y[:, 0].sum(dim=1) * d2).sum(dim=1)  # variance along the columns
    assert torch.allclose(y.sum(dim=(1, 2, 3)), torch.ones(3), atol=1e-5)
    assert torch.allclose(spread, sigma**2, rtol=0.05)


def test_down_up_removes_detail_finer_than_the_small_size():
    checker = ((torch.arange(48).view(-1, 1) + torch.arange(48)) % 2).float()
    x = torch.stack([checker, torch.full((48, 48), 0.3)]).unsqueeze(1)
    y = down_up(x, torch.Generator().manual_seed(0), smallest=0.5, groups=1)
    assert y[0].std() < 0.25 * x[0].std()  # the one-pixel checkerboard is gone
    assert torch.allclose(y[1], x[1], atol=1e-6)  # a flat image stays as it was


@pytest.mark.parametrize("quality", [20, 50, 90])
def test_jpeg_like_matches_opencvs_encoder(quality):
    x = smooth_faces(16, seed=quality)
    pixels = (x * 255).round().byte()[:, 0].numpy()
    ref = np.stack(
        [
            cv2.imdecode(cv2.imencode(".jpg", p, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], 0)
            for p in pixels
        ]
    ).astype(np.float64)
    ours = jpeg_like(
        torch.from_numpy(pixels).float().div(255).unsqueeze(1), torch.full((16,), quality)
    )
    ours = ours[:, 0].numpy() * 255
    lost = np.abs(ref - pixels).mean()
    assert np.abs(ours - ref).mean() < max(0.15 * lost, 0.3)  # far closer to JPEG than to the input


def test_jpeg_like_compresses_each_image_at_its_own_quality():
    x = smooth_faces(2).repeat(2, 1, 1, 1)[:2]
    x[1] = x[0]
    y = jpeg_like(x, torch.tensor([10.0, 95.0]))
    assert (y[0] - x[0]).abs().mean() > 4 * (y[1] - x[1]).abs().mean()


def test_random_erasing_replaces_one_rectangle_per_image():
    x = torch.full((64, 1, 48, 48), 0.5)
    y = random_erase(x, torch.Generator().manual_seed(0), p=1.0)
    for img in y[:, 0]:
        rows, cols = torch.nonzero(img != 0.5, as_tuple=True)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert 0.02 * 48 * 48 * 0.8 <= h * w <= 0.25 * 48 * 48 * 1.2
    assert torch.equal(random_erase(x, torch.Generator().manual_seed(0), p=0.0), x)


# ------------------------------------------------------------ crop geometry


def test_crop_frames_the_box_as_the_measured_geometry_says():
    """A 150 px box in a photo fills 1 / (1 + 2 margin) of the 48 px crop, and the crop's
    centre lies ``shift`` of its side below the box's (the face sits higher)."""
    assert (CROP_MARGIN, CROP_SHIFT) != (0.1, 0.0)  # the old, unmeasured geometry
    gray = np.zeros((600, 600), np.uint8)
    gray[200:350, 220:370] = 255  # the "face" box (x 220, y 200, 150 x 150)
    crop = FaceDetector().crop(gray, (220, 200, 150, 150)).astype(np.float64) / 255
    cols, rows = crop.sum(axis=0), crop.sum(axis=1)  # white pixels per column / row
    width = cols.max()  # a full row of the box, in crop pixels
    centre_y = (rows * (np.arange(48) + 0.5)).sum() / rows.sum()
    centre_x = (cols * (np.arange(48) + 0.5)).sum() / cols.sum()
    assert width == pytest.approx(48 / (1 + 2 * CROP_MARGIN), abs=0.6)
    assert centre_x == pytest.approx(24, abs=0.3)
    assert centre_y == pytest.approx(24 - 48 * CROP_SHIFT, abs=0.3)


def test_already_cropped_faces_are_used_as_they_are():
    face = (np.arange(48 * 48) % 251).astype(np.uint8).reshape(48, 48)
    crop = FaceDetector().find(face)
    assert crop.box is None and np.array_equal(crop.face, face)


@needs_shared
def test_real_video_crops_are_framed_like_fer2013_faces():
    """The detector, run again on a crop of a real frame, finds the face where it finds it
    on FER-2013 images (medians over a small slice), and the old crop did not."""
    from datasets.fer2013 import load_fer2013
    from datasets.video import sample_frames

    fer_dir, clips = (
        SHARED_DATA / "fer2013" / "train",
        sorted((SHARED_DATA / "ravdess_video").glob("*.mp4")),
    )
    if not fer_dir.is_dir() or not clips:
        pytest.skip(f"FER-2013 or the RAVDESS clips are missing under {SHARED_DATA}")
    measure = FaceDetector(min_face=0.3)
    rng = np.random.default_rng(0)
    fer = load_fer2013(fer_dir).images
    fer_rows = [
        framing(f, measure, side=int(rng.integers(160, 209)))
        for f in fer[rng.choice(len(fer), 300, False)]
    ]
    target = np.median([r for r in fer_rows if r is not None], axis=0)

    frames = [f for clip in clips for f in sample_frames(clip, 8)[0]]
    detector = FaceDetector()
    boxes = [detector.detect(f)[0] for f in frames]

    def medians(margin: float, shift: float) -> np.ndarray:
        crop = FaceDetector(margin=margin, shift=shift)
        rows = [
            framing(crop.crop(f, b), measure, side=int(rng.integers(160, 209)))
            for f, b in zip(frames, boxes)
        ]
        return np.median([r for r in rows if r is not None], axis=0)

    now, old = medians(CROP_MARGIN, CROP_SHIFT), medians(0.1, 0.0)
    assert abs(now[2] - target[2]) < 0.03 < abs(old[2] - target[2])  # box side
    assert abs(now[1] - target[1]) < 0.01  # centre height
    assert abs(now[0] - target[0]) < 0.015


# ------------------------------------------------------------ test-time views


def test_evaluation_averages_ten_views_and_training_does_not():
    torch.manual_seed(0)
    model = FaceCNN(FACE_PRESETS["quick"]).eval()
    x = smooth_faces(4)
    with torch.no_grad(), single_view(model):
        one = model(x)
        by_hand = torch.stack([torch.softmax(model(v), 1) for v in tta_views(x)]).mean(0)
    with torch.no_grad():
        averaged = model(x)
        assert model.test_views  # single_view put it back
        assert torch.allclose(torch.softmax(averaged, 1), by_hand, atol=1e-5)
        assert not torch.allclose(averaged, one, atol=1e-3)
        # The views of a mirrored face are the same ten: the answer cannot change.
        assert torch.allclose(model(x.flip(-1)), averaged, atol=1e-5)
    model.train()  # training sees each face once, as it is
    torch.manual_seed(1)
    trained_on = model(x)
    torch.manual_seed(1)
    assert torch.equal(trained_on, model.head(model.encode(x)))


# ------------------------------------------------------------ SGD + mixup


def pattern_faces(n_per_class: int, seed: int = 0) -> TensorSet:
    """uint8 faces where class c is a bright band at rows 6c..6c+5, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 80, size=(n_per_class * 7, 48, 48), dtype=np.uint8)
    y = np.repeat(np.arange(7), n_per_class)
    for i, c in enumerate(y):
        x[i, 6 * c : 6 * c + 6] = 230
    return TensorSet(torch.from_numpy(x), torch.from_numpy(y))


def test_mix_batch_blends_pairs_with_beta_weights():
    x = torch.arange(8.0).view(8, 1, 1, 1).expand(8, 1, 2, 2).contiguous()
    y = torch.arange(8)
    gen, shuffle = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)
    mixed, partner, lam = mix_batch(x, y, 0.4, shuffle, gen)
    assert 0 <= lam <= 1 and sorted(partner.tolist()) == list(range(8))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[partner])
    lams = np.array([mix_batch(x, y, 0.4, shuffle, gen)[2] for _ in range(3000)])
    # Beta(0.4, 0.4): mean 1/2, variance 1 / (4 (2 alpha + 1)) = 0.139.
    assert lams.mean() == pytest.approx(0.5, abs=0.02)
    assert lams.var() == pytest.approx(1 / (4 * 1.8), abs=0.01)


def test_unknown_optimizer_is_refused_and_defaults_are_unchanged():
    with pytest.raises(ValueError, match="optimizer"):
        FitConfig(optimizer="adam")
    assert (FitConfig().optimizer, FitConfig().mixup) == ("adamw", 0.0)


def test_sgd_with_mixup_trains_and_resumes_like_a_straight_run(tmp_path):
    train, val = pattern_faces(4), pattern_faces(2, seed=1)  # 28 faces: 4 batches of 8
    config = FitConfig(epochs=2, batch_size=8, lr=0.02, optimizer="sgd", mixup=0.4, seed=3)
    meta = {
        "kind": "face",
        "model_config": FACE_PRESETS["quick"].to_dict(),
        "classes": list(FER_CLASSES),
    }
    augment = face_augment("robust")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def model() -> FaceCNN:
        torch.manual_seed(0)
        return FaceCNN(FACE_PRESETS["quick"])

    straight = fit(model(), train, val, config, meta=meta, out_dir=tmp_path / "a", augment=augment)
    assert [r["epoch"] for r in straight.history] == [1, 2]
    last = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    assert last["fit_config"]["optimizer"] == "sgd" and last["fit_config"]["mixup"] == 0.4
    assert "momentum_buffer" in last["optimizer"]["state"][0]  # SGD's state, not AdamW's
    # Mixed labels: the running accuracy counts shares of items, not whole items.
    assert any(r["train_accuracy"] * 28 % 1 > 1e-6 for r in straight.history)

    stop = threading.Event()
    fit(
        model(),
        train,
        val,
        config,
        meta=meta,
        out_dir=tmp_path / "b",
        augment=augment,
        callbacks=[StopAt((2, 1), stop)],
        stop_event=stop,
    )
    resume = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert resume["epoch"] == 1
    resumed = fit(
        model(),
        train,
        val,
        config,
        meta=meta,
        out_dir=tmp_path / "b",
        augment=augment,
        resume=resume,
    )
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    for got, want in zip(resumed.history, straight.history):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
        assert got["val_loss"] == pytest.approx(want["val_loss"], rel=1e-5)


def test_optimizer_and_mixup_reach_the_training_loop_from_the_options():
    from datasets.errors import WorkbenchError
    from training.train import TrainOptions, check_options, fit_config

    cfg = fit_config(TrainOptions(kind="face", preset="full", optimizer="sgd", mixup=0.2))
    assert (cfg.optimizer, cfg.mixup) == ("sgd", 0.2)
    default = fit_config(TrainOptions(kind="face", preset="full"))
    assert (default.optimizer, default.mixup) == ("adamw", 0.0)
    with pytest.raises(WorkbenchError, match="optimizer"):
        check_options(TrainOptions(kind="face", optimizer="adam"))
    with pytest.raises(WorkbenchError, match="mixup"):
        check_options(TrainOptions(kind="face", mixup=-1.0))


def test_init_starts_from_a_trained_model_and_guards_the_held_out_items(tmp_path):
    """--init fine-tunes: the run starts from the model's weights, records where they came
    from, and refuses a model that learned from the run's validation items."""
    import json

    from conftest import write_fer_folders, write_ravdess

    from datasets.errors import WorkbenchError
    from training.checkpoint import load_checkpoint
    from training.export import recipe_command
    from training.train import TrainOptions, train_model

    data = write_fer_folders(tmp_path / "fer", {"train": 6})
    first = train_model(
        TrainOptions(kind="face", data=str(data), epochs=1, batch_size=8, out=str(tmp_path / "a"))
    )
    # A learning rate near zero: the fine-tuned weights are the starting ones.
    tuned = train_model(
        TrainOptions(
            kind="face",
            data=str(data),
            epochs=1,
            batch_size=8,
            lr=1e-9,
            init=str(first.run_dir),
            out=str(tmp_path / "b"),
        )
    )
    a = load_checkpoint(first.run_dir).model.state_dict()
    b = load_checkpoint(tuned.run_dir).model.state_dict()
    conv = next(k for k in a if k.endswith("weight") and a[k].dim() == 4)
    assert torch.allclose(a[conv], b[conv], atol=1e-6)
    config = json.loads((tuned.run_dir / "config.json").read_text())
    assert config["init"]["path"] == str(first.run_dir / "best.pt")
    assert "--init" in recipe_command(config["options"])

    # Another validation split: its validation images may be ones the model learned.
    with pytest.raises(WorkbenchError, match="another validation split"):
        train_model(
            TrainOptions(
                kind="face",
                data=str(data),
                epochs=1,
                seed=1,
                init=str(first.run_dir),
                out=str(tmp_path / "c"),
            )
        )
    # A speech model that heard this run's held-out actors is refused, and fusion has its own flags.
    voices = write_ravdess(tmp_path / "r", actors=(1, 2, 3), emotions=(1, 3))
    speech = train_model(
        TrainOptions(
            kind="speech",
            data=str(voices),
            epochs=1,
            batch_size=4,
            actors={"train": [1, 2], "val": [3], "test": []},
            out=str(tmp_path / "s"),
        )
    )
    with pytest.raises(WorkbenchError, match="learned from actor"):
        train_model(
            TrainOptions(
                kind="speech",
                data=str(voices),
                epochs=1,
                batch_size=4,
                actors={"train": [3, 2], "val": [1], "test": []},
                init=str(speech.run_dir),
                out=str(tmp_path / "t"),
            )
        )
    with pytest.raises(WorkbenchError, match="--face-model and --speech-model"):
        train_model(TrainOptions(kind="fusion", data="demo", init=str(first.run_dir)))
