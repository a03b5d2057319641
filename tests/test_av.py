"""AVTakes: RAVDESS speech clips with face crops and the sound of the same take."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, needs_shared

from datasets.av import AVTakes, av_clips, take_faces
from datasets.ravdess import ActorSplit, parse_name, scan_ravdess
from datasets.speech import RavdessSpeech


@pytest.fixture(scope="module")
def two_actors(demo_root, tmp_path_factory):
    """Demo actors 1 and 2 (60 clips each, beside their 03- recordings)."""
    root = tmp_path_factory.mktemp("av") / "ravdess"
    for a in (1, 2):
        shutil.copytree(demo_root / "ravdess" / f"Actor_{a:02d}", root / f"Actor_{a:02d}")
    return root


SPLIT = ActorSplit(train=(1,), val=(2,), test=())


def test_takes_pair_each_clip_with_faces_and_its_own_takes_sound(two_actors, tmp_path):
    takes = AVTakes(two_actors, "train", actor_split=SPLIT, cache_dir=tmp_path)
    assert len(takes) == 60 and not takes.skipped
    assert takes.faces.shape == (60, 8, 1, 48, 48) and takes.faces.dtype == torch.uint8
    assert bool(takes.found.all())  # the demo faces are always found
    assert takes.features.shape[:2] == (60, 1)
    for i, clip in enumerate(takes.clips):
        audio = takes.audio_files[i]
        assert clip.actor == 1 and audio.name == clip.sibling_name(3, "wav")
        assert int(takes.labels[i]) == clip.label == parse_name(audio).label
    # The sound is exactly what the speech model hears for that recording.
    speech = RavdessSpeech(two_actors, "train", actor_split=SPLIT, cache_dir=tmp_path)
    by_file = {c.path.name: speech.features[j] for j, c in enumerate(speech.clips)}
    for i in (0, 17, 59):
        np.testing.assert_array_equal(takes.features[i], by_file[takes.audio_files[i].name])
    # Validation is the other actor: no clip is in both.
    val = AVTakes(two_actors, "val", actor_split=SPLIT, cache_dir=tmp_path)
    assert {c.actor for c in val.clips} == {2} and len(val) == 60


def test_face_crops_are_cached_per_clip(two_actors, tmp_path):
    clip = av_clips(scan_ravdess(two_actors))[0].path
    faces, found = take_faces(clip, 4, cache_dir=tmp_path)
    assert faces.shape == (4, 48, 48) and found.shape == (4,) and faces.dtype == np.uint8
    assert len(list((tmp_path / "avfaces").rglob("*.npz"))) == 1
    again, found_again = take_faces(clip, 4, cache_dir=tmp_path)
    np.testing.assert_array_equal(again, faces)
    np.testing.assert_array_equal(found_again, found)


def test_unusable_clips_are_left_out_with_the_reason(two_actors, tmp_path):
    root = tmp_path / "ravdess"
    shutil.copytree(two_actors / "Actor_01", root / "Actor_01")
    clips = sorted((root / "Actor_01").glob("02-*.mp4"))
    clips[0].write_bytes(b"not a video at all")  # does not decode
    silent = clips[1]
    (root / "Actor_01" / parse_name(silent).sibling_name(3, "wav")).unlink()  # no sound left
    takes = AVTakes(root, "all", actor_split=ActorSplit((1,), (), ()), cache_dir=tmp_path)
    assert len(takes) == 58
    reasons = {s["path"]: s["reason"] for s in takes.skipped}
    assert set(reasons) == {str(clips[0]), str(silent)}
    assert "no audio track" in reasons[str(silent)]


def test_a_folder_without_clips_is_refused(tmp_path):
    from conftest import write_ravdess

    from datasets.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="no RAVDESS speech video clips"):
        AVTakes(write_ravdess(tmp_path / "speech_only"))


@needs_shared
def test_real_clips_find_their_takes_recording_or_use_their_own_track(tmp_path):
    video = SHARED_DATA / "ravdess_video"
    one_actor = ActorSplit(train=(5,), val=(), test=())
    # The take's recording is found in the folder above the clips' (shared/data/…_16k).
    with_take = AVTakes(video, "train", actor_split=one_actor, cache_dir=tmp_path)
    assert len(with_take) == 3 and not with_take.skipped
    assert all(a.suffix == ".flac" and a.name.startswith("03-") for a in with_take.audio_files)
    assert with_take.found.float().mean() > 0.5  # real frames: faces in most of them
    alone = tmp_path / "data" / "clips"  # the same clips with no recordings near them
    alone.mkdir(parents=True)
    for clip in video.glob("*.mp4"):
        (alone / clip.name).symlink_to(clip)
    own_track = AVTakes(alone, "train", actor_split=one_actor, cache_dir=tmp_path)
    assert [a.suffix for a in own_track.audio_files] == [".mp4"] * 3
    # The clip's own sound and the studio recording of the same take sound alike.
    for a, b in zip(own_track.features, with_take.features):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.5
