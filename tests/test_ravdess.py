"""RAVDESS file names, folder scans and actor-wise splits."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_ravdess

from datasets.errors import WorkbenchError
from datasets.ravdess import (
    ActorSplit,
    actor_kfold,
    default_actor_split,
    leave_one_actor_out,
    parse_name,
    scan_ravdess,
    select,
)


def test_parse_all_seven_fields():
    c = parse_name(Path("Actor_12/03-01-05-02-01-02-12.wav"))
    assert (c.modality, c.channel, c.emotion, c.intensity, c.statement, c.repetition, c.actor) == (
        3, 1, 5, 2, 1, 2, 12,
    )  # fmt: skip
    assert c.emotion_name == "angry" and c.label == 4
    assert c.gender == "female" and c.modality_name == "audio-only"
    assert c.sibling_name(1, "mp4") == "01-01-05-02-01-02-12.mp4"


def test_repetitions_past_two_load_for_a_class_s_own_recordings():
    # RAVDESS has repetitions 01 and 02; the live recorder numbers a class's takes on.
    assert parse_name(Path("Actor_31/01-01-03-01-01-07-31.mp4")).repetition == 7


@pytest.mark.parametrize(
    "name, why",
    [
        ("03-01-05-02-01-01.wav", "seven 2-digit fields"),
        ("03-01-09-01-01-01-01.wav", "emotion 09"),
        ("04-01-05-01-01-01-01.wav", "modality 04"),
        ("03-01-05-03-01-01-01.wav", "intensity 03"),
        ("03-01-05-01-01-01-01.mp3", "extension .mp3"),
        ("03-01-05-01-01-01-xx.wav", "seven 2-digit fields"),
        ("3-1-5-1-1-1-1.wav", "seven 2-digit fields"),
        ("03-01-05-01-01-00-01.wav", "repetition 00"),
    ],
)
def test_bad_names_say_why(name, why):
    with pytest.raises(ValueError, match=why):
        parse_name(Path(name))


def test_scan_is_recursive_and_lists_skipped_files(tmp_path):
    root = write_ravdess(tmp_path / "r", actors=(1, 2))
    (root / "Actor_01" / "03-01-05.wav").write_bytes(b"")
    (root / "Actor_01" / "README.txt").write_text("not data")
    nested = root / "deep" / "er"
    nested.mkdir(parents=True)
    (nested / "02-01-03-01-01-01-07.mp4").write_bytes(b"")
    scan = scan_ravdess(root)
    assert len(scan.clips) == 2 * 6 + 1
    assert [s["path"] for s in scan.skipped] == ["Actor_01/03-01-05.wav"]
    assert select(scan.clips, modality=2)[0].actor == 7
    assert len(select(scan.clips, modality=3, channel=1, actors=[2], emotions=[5])) == 2


def test_symlinked_actor_folders_are_followed_once(tmp_path):
    elsewhere = write_ravdess(tmp_path / "elsewhere", actors=(5,))
    root = write_ravdess(tmp_path / "r", actors=(6,))
    (root / "Actor_05").symlink_to(elsewhere / "Actor_05")
    (root / "loop").symlink_to(root)  # a loop must not hang or double-count
    scan = scan_ravdess(root)
    assert sorted({c.actor for c in scan.clips}) == [5, 6] and len(scan.clips) == 12


def test_scan_of_missing_or_empty_folder(tmp_path):
    with pytest.raises(WorkbenchError, match="does not exist"):
        scan_ravdess(tmp_path / "nope")
    with pytest.raises(WorkbenchError, match="No RAVDESS files"):
        scan_ravdess(tmp_path)


@pytest.mark.parametrize(
    "n, test, val",
    [
        (24, (21, 22, 23, 24), (17, 18, 19, 20)),
        (18, (16, 17, 18), (13, 14, 15)),
        (12, (11, 12), (9, 10)),
    ],
)
def test_default_split_holds_out_the_last_actors(n, test, val):
    s = default_actor_split(range(1, n + 1))
    assert s.test == test and s.val == val
    assert set(s.train) | set(s.val) | set(s.test) == set(range(1, n + 1))
    assert s.actors("all") == tuple(range(1, n + 1))


def test_split_refuses_an_actor_in_two_places():
    with pytest.raises(WorkbenchError, match="appears in two"):
        ActorSplit((1, 2), (2,), (3,))


def test_kfold_tests_every_actor_exactly_once():
    folds = actor_kfold(range(1, 13), 4)
    tested = [a for f in folds for a in f.test]
    assert sorted(tested) == list(range(1, 13))
    for f in folds:
        assert not set(f.train) & (set(f.test) | set(f.val))


def test_leave_one_actor_out():
    splits = leave_one_actor_out([3, 1, 2])
    assert [s.test for s in splits] == [(1,), (2,), (3,)]
    assert splits[0].train == (2, 3)
