"""ClassPaired: faces and recordings paired by emotion (Goswami, Aggarwal & Yalamanchi), not by person."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.errors import WorkbenchError
from datasets.labels import FER_CLASSES, RAVDESS_EMOTIONS
from datasets.paired import PAIRED_CLASSES, ClassPaired, speech_to_paired


def fer(*names: str) -> np.ndarray:
    return np.array([FER_CLASSES.index(n) for n in names])


def rav(*names: str) -> np.ndarray:
    return np.array([RAVDESS_EMOTIONS.index(n) for n in names])


def test_ravdess_emotions_map_to_the_shared_seven():
    labels = rav(*RAVDESS_EMOTIONS)
    dropped = speech_to_paired(labels, "drop")
    merged = speech_to_paired(labels, "neutral")
    names = [PAIRED_CLASSES[i] if i >= 0 else None for i in dropped]
    assert names == ["neutral", None, "happy", "sad", "angry", "fear", "disgust", "surprise"]
    assert PAIRED_CLASSES[merged[RAVDESS_EMOTIONS.index("calm")]] == "neutral"
    with pytest.raises(WorkbenchError, match="calm option"):
        speech_to_paired(labels, "happy")


def test_every_pair_shares_its_emotion_and_the_larger_side_is_used_once():
    faces = fer("happy", "happy", "happy", "sad", "angry", "fear")
    speech = rav("happy", "sad", "sad", "sad", "calm", "fearful", "surprised")
    paired = ClassPaired(faces, speech, seed=3)
    f, s, y = paired.pairs(epoch=0)
    assert len(f) == len(s) == len(y) == len(paired) == 3 + 3 + 1  # happy, sad, fear
    assert np.all(faces[f] == y)
    assert np.all(speech_to_paired(speech[s]) == y)
    happy = y == PAIRED_CLASSES.index("happy")
    assert sorted(f[happy]) == [0, 1, 2]  # three faces, one recording: each face once
    sad = y == PAIRED_CLASSES.index("sad")
    assert sorted(s[sad]) == [1, 2, 3]
    # Angry (no recording), surprise (no face) and calm (dropped) cannot be paired.
    assert sorted(paired.missing) == ["angry", "surprise"]
    assert 4 not in s  # the calm recording


def test_training_pairs_change_each_epoch_and_held_out_pairs_never_do():
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 7, 300)
    speech = rng.integers(0, 8, 40)
    train = ClassPaired(faces, speech, seed=1)
    e0, e1 = train.pairs(0), train.pairs(1)
    assert not np.array_equal(e0[1], e1[1])  # recordings re-drawn for the faces
    np.testing.assert_array_equal(train.pairs(0)[1], e0[1])  # reproducible per epoch
    val = ClassPaired(faces, speech, seed=1, fixed=True)
    np.testing.assert_array_equal(val.pairs(0)[0], val.pairs(5)[0])
    np.testing.assert_array_equal(val.pairs(0)[1], val.pairs(5)[1])
    other_seed = ClassPaired(faces, speech, seed=2, fixed=True)
    assert not np.array_equal(other_seed.pairs()[1], val.pairs()[1])


def test_nothing_in_common_is_refused():
    with pytest.raises(WorkbenchError, match="share no emotion"):
        ClassPaired(fer("happy"), rav("sad"))
