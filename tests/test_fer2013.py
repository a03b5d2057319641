"""FER-2013 loading: every layout, the split rules, the cache, and bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from conftest import fer_rows, write_fer_csv, write_fer_folders

from datasets import fer2013
from datasets.errors import WorkbenchError
from datasets.fer2013 import FER2013, load_fer2013, split_indices, stratified_holdout
from datasets.labels import FER_CLASSES


def test_original_csv_uses_public_test_as_validation(fer_csv, tmp_path):
    train = FER2013(fer_csv.parent, "train", cache_dir=tmp_path / "c")
    val = FER2013(fer_csv.parent, "val", data=train.data)
    test = FER2013(fer_csv.parent, "test", data=train.data)
    assert (len(train), len(val), len(test)) == (28, 14, 7)
    assert train.images.dtype == torch.uint8 and tuple(train.images.shape) == (28, 48, 48)
    assert val.get_metadata(0)["usage"] == "PublicTest"
    assert test.get_metadata(0)["usage"] == "PrivateTest"
    assert train.class_counts() == {c: 4 for c in FER_CLASSES}


def test_pixels_and_labels_round_trip(tmp_path):
    rows = fer_rows(1)
    csv = write_fer_csv(tmp_path / "fer2013.csv", rows, "emotion,pixels,Usage")
    ds = FER2013(csv, "all", cache_dir=tmp_path / "c")
    for i, (emotion, px, _) in enumerate(rows):
        assert int(ds.labels[i]) == emotion
        assert np.array_equal(ds.images[i].numpy(), px)
    item = ds[0]
    assert item["image"].shape == (1, 48, 48) and 0.0 <= float(item["image"].min()) <= 1.0


def test_icml_csv_with_spaced_column_names(tmp_path):
    rows = fer_rows(2, ("Training", "PublicTest", "PrivateTest"))
    write_fer_csv(tmp_path / "fer2013" / "icml_face_data.csv", rows, "emotion, Usage, pixels")
    data = load_fer2013(tmp_path, cache_dir=tmp_path / "c")  # finds root/fer2013/ like torchvision
    assert data.layout == "csv" and len(data.labels) == 42
    assert len(split_indices(data, "val")) == 14


def test_torchvision_train_csv_and_unlabelled_test_csv(tmp_path):
    write_fer_csv(tmp_path / "train.csv", fer_rows(3), "emotion,pixels")
    (tmp_path / "test.csv").write_text("pixels\n" + " ".join(["7"] * 2304) + "\n")
    data = load_fer2013(tmp_path, cache_dir=tmp_path / "c")
    assert len(data.labels) == 21
    assert [s["path"] for s in data.skipped] == ["test.csv"]
    assert "unlabelled" in data.skipped[0]["reason"]


@pytest.mark.parametrize(
    "splits, sizes",
    [
        ({"train": 3, "test": 2}, {"all": 35, "train": 14, "val": 7, "test": 14}),
        ({"train": 3}, {"all": 21, "train": 14, "val": 7, "test": 0}),
        ({"test": 2}, {"all": 14, "train": 0, "val": 0, "test": 14}),
    ],
)
def test_kaggle_folders_either_split_may_be_absent(tmp_path, splits, sizes):
    root = write_fer_folders(tmp_path / "kaggle", splits)
    data = load_fer2013(root, cache_dir=tmp_path / "c")
    assert data.layout == "folders"
    for split, n in sizes.items():
        assert len(split_indices(data, split)) == n


def test_folder_of_class_folders_alone(tmp_path):
    root = write_fer_folders(tmp_path / "k", {"train": 2})
    data = load_fer2013(root / "train", cache_dir=tmp_path / "c")
    assert len(data.labels) == 14
    assert sorted(set(data.labels.tolist())) == list(range(7))


def test_carved_validation_is_stratified_seeded_and_disjoint(tmp_path):
    csv = write_fer_csv(tmp_path / "f.csv", fer_rows(20), "emotion,pixels,Usage")
    data = load_fer2013(csv, cache_dir=tmp_path / "c")
    train = split_indices(data, "train", val_fraction=0.1, seed=0)
    val = split_indices(data, "val", val_fraction=0.1, seed=0)
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == 140
    assert np.bincount(data.labels[val]).tolist() == [2] * 7  # 10% of every class
    assert np.array_equal(val, split_indices(data, "val", val_fraction=0.1, seed=0))
    assert not np.array_equal(val, split_indices(data, "val", val_fraction=0.1, seed=1))


def test_holdout_keeps_a_rare_class_in_both_sides():
    labels = np.array([0] * 50 + [1] * 2)
    held = stratified_holdout(labels, 0.1, seed=3)
    assert (labels[held] == 1).sum() == 1


def test_second_load_comes_from_the_cache(fer_csv, tmp_path, monkeypatch):
    first = load_fer2013(fer_csv, cache_dir=tmp_path / "c")

    def must_not_parse(*a, **k):
        raise AssertionError("parsed again despite a cache entry")

    monkeypatch.setattr(fer2013, "_parse_csvs", must_not_parse)
    second = load_fer2013(fer_csv, cache_dir=tmp_path / "c")
    for name in ("images", "labels", "usage", "sources"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    assert first.skipped == second.skipped


def test_an_edited_csv_is_parsed_again(tmp_path):
    csv = write_fer_csv(tmp_path / "f.csv", fer_rows(1), "emotion,pixels,Usage")
    assert len(load_fer2013(csv, cache_dir=tmp_path / "c").labels) == 7
    write_fer_csv(csv, fer_rows(2), "emotion,pixels,Usage")
    assert len(load_fer2013(csv, cache_dir=tmp_path / "c").labels) == 14


def test_same_size_edit_is_seen_through_the_mtime(tmp_path):
    csv = write_fer_csv(tmp_path / "f.csv", fer_rows(1), "emotion,pixels,Usage")
    first = load_fer2013(csv, cache_dir=tmp_path / "c")
    text = csv.read_text()
    csv.write_text(text.replace("\n0,", "\n1,", 1))  # relabel row 1: same size
    st = csv.stat()
    os.utime(csv, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    second = load_fer2013(csv, cache_dir=tmp_path / "c")
    assert first.labels[0] == 0 and second.labels[0] == 1


def test_an_added_image_is_seen_in_folder_layout(tmp_path):
    root = write_fer_folders(tmp_path / "k", {"train": 1})
    assert len(load_fer2013(root, cache_dir=tmp_path / "c").labels) == 7
    write_fer_folders(tmp_path / "k", {"train": 2}, seed=5)
    assert len(load_fer2013(root, cache_dir=tmp_path / "c").labels) == 14


def test_a_corrupt_cache_entry_is_ignored(fer_csv, tmp_path):
    load_fer2013(fer_csv, cache_dir=tmp_path / "c")
    for entry in (tmp_path / "c").rglob("*.npz"):
        entry.write_bytes(b"PK\x03\x04 not really a zip")
    assert len(load_fer2013(fer_csv, cache_dir=tmp_path / "c").labels) == 49


def test_labelled_test_csv_is_the_test_split(tmp_path):
    write_fer_csv(tmp_path / "train.csv", fer_rows(2), "emotion,pixels")
    write_fer_csv(tmp_path / "test.csv", fer_rows(1, seed=3), "emotion,pixels")
    data = load_fer2013(tmp_path, cache_dir=tmp_path / "c")
    assert len(split_indices(data, "test")) == 7
    assert len(split_indices(data, "train")) + len(split_indices(data, "val")) == 14


def test_csv_with_byte_order_mark(tmp_path):
    csv = write_fer_csv(tmp_path / "fer2013.csv", fer_rows(1), "emotion,pixels,Usage")
    csv.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())  # as spreadsheet programs save it
    assert len(load_fer2013(csv, use_cache=False).labels) == 7


def test_capitalised_class_folders(tmp_path):
    root = write_fer_folders(tmp_path / "k", {"train": 1})
    for d in (root / "train").iterdir():
        d.rename(d.with_name(d.name.capitalize()))
    data = load_fer2013(root, use_cache=False)
    assert sorted(data.labels.tolist()) == list(range(7))


def test_validation_barely_moves_when_an_image_is_removed(tmp_path):
    csv = write_fer_csv(tmp_path / "f.csv", fer_rows(30), "emotion,pixels,Usage")
    before = load_fer2013(csv, cache_dir=tmp_path / "c")
    val_before = {before.images[i].tobytes() for i in split_indices(before, "val")}
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines[:2] + lines[3:]) + "\n")  # drop the first angry face
    after = load_fer2013(csv, cache_dir=tmp_path / "c")
    val_after = {after.images[i].tobytes() for i in split_indices(after, "val")}
    assert len(val_before ^ val_after) <= 2  # a position-based shuffle would move dozens


def test_duplicate_images_stay_on_one_side():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 48, 48), dtype=np.uint8)
    images[20:] = images[:20]  # every image twice
    labels = np.zeros(40, dtype=np.int64)
    held = set(stratified_holdout(labels, 0.2, seed=0, images=images).tolist())
    assert len(held) == 8
    assert all((i in held) == (i + 20 in held) for i in range(20))


def test_zero_validation_fraction_holds_out_nothing():
    assert len(stratified_holdout(np.array([0, 0, 1, 1]), 0.0, seed=0)) == 0


# ----------------------------------------------------------------- bad input


def test_missing_folder(tmp_path):
    with pytest.raises(WorkbenchError, match=r"does not exist.*download FER-2013"):
        load_fer2013(tmp_path / "nope")


def test_folder_with_neither_layout(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(WorkbenchError, match=r"neither a FER-2013 CSV .* nor class folders"):
        load_fer2013(tmp_path)


def test_csv_without_pixels_column(tmp_path):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,Usage\n0,Training\n")
    with pytest.raises(WorkbenchError, match=r"fer2013.csv' has no 'pixels' column"):
        load_fer2013(csv, use_cache=False)


def test_bad_pixel_row_names_its_line(tmp_path):
    rows = fer_rows(1)
    csv = write_fer_csv(tmp_path / "fer2013.csv", rows, "emotion,pixels,Usage")
    lines = csv.read_text().splitlines()
    lines[3] = "2," + " ".join(["1"] * 2300) + ",Training"  # 4 numbers short, file line 4
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        WorkbenchError, match=r"line 4: the pixels field must hold 2304 .* found 2300"
    ):
        load_fer2013(csv, use_cache=False)


def test_pixel_value_out_of_range(tmp_path):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n0," + " ".join(["300"] * 2304) + ",Training\n")
    with pytest.raises(WorkbenchError, match="line 2"):
        load_fer2013(csv, use_cache=False)


def test_pixel_that_is_not_a_number(tmp_path):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n0," + " ".join(["3"] * 2303) + " x,Training\n")
    with pytest.raises(WorkbenchError, match="line 2: .* found text that is not a number"):
        load_fer2013(csv, use_cache=False)


def test_emotion_out_of_range(tmp_path):
    csv = tmp_path / "fer2013.csv"
    csv.write_text("emotion,pixels,Usage\n9," + " ".join(["3"] * 2304) + ",Training\n")
    with pytest.raises(WorkbenchError, match="line 2: emotion 9 is outside 0-6"):
        load_fer2013(csv, use_cache=False)


def test_csv_row_that_is_not_utf8(tmp_path):
    csv = write_fer_csv(tmp_path / "fer2013.csv", fer_rows(1), "emotion,pixels,Usage")
    csv.write_bytes(csv.read_bytes() + b"3,\xff\xfe,Training\n")
    with pytest.raises(WorkbenchError, match="is not plain CSV text"):
        load_fer2013(csv, use_cache=False)


def test_dangling_link_in_a_class_folder_is_skipped(tmp_path):
    root = write_fer_folders(tmp_path / "k", {"train": 1})
    (root / "train" / "sad" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    data = load_fer2013(root, use_cache=False)
    assert len(data.labels) == 7
    assert [s["path"] for s in data.skipped] == ["train/sad/gone.png"]


def test_truncated_jpeg_in_folder_is_skipped_with_reason(tmp_path):
    from PIL import Image

    root = write_fer_folders(tmp_path / "k", {"train": 2})
    good = root / "train" / "happy" / "ok.jpg"
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(good, quality=95)
    bad = root / "train" / "happy" / "cut.jpg"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    data = load_fer2013(root, use_cache=False)
    assert len(data.labels) == 15
    assert [s["path"] for s in data.skipped] == ["train/happy/cut.jpg"]
    assert "truncated" in data.skipped[0]["reason"]


def test_unknown_split_name(fer_csv):
    with pytest.raises(WorkbenchError, match="Unknown split 'validation'"):
        FER2013(fer_csv, "validation", cache_dir=fer_csv.parent / "c")
