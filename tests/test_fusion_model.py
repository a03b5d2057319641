"""FusionNet: the seeds' fusion designs, on random inputs (no training here)."""

from __future__ import annotations

import pytest
import torch

from models import FUSION_VARIANTS, FaceCNN, FusionNet, FusionNetConfig, build_model
from models.face import FACE_PRESETS
from models.speech import SPEECH_PRESETS, SpeechCNN


def batch(b: int = 4, f: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    found = torch.ones(b, f, dtype=torch.bool)
    found[0, 1:] = False  # a clip with one face
    found[1] = False  # a clip with none
    return {
        "faces": torch.rand(b, f, 1, 48, 48, generator=g),
        "found": found,
        "features": torch.randn(b, 1, 64, 301, generator=g) * 10 - 40,
    }


@pytest.mark.parametrize("variant", FUSION_VARIANTS)
@pytest.mark.parametrize("pooling", ["mean", "gru"])
def test_every_variant_gives_logits_for_each_clip(variant, pooling):
    net = FusionNet(FusionNetConfig(variant=variant, frame_pooling=pooling)).eval()
    with torch.no_grad():
        out = net.forward_all(batch())
    assert out["logits"].shape == (4, 8) and torch.isfinite(out["logits"]).all()
    assert ("face_logits" in out) == ("speech_logits" in out) == (variant == "probe")
    if variant == "probe":
        assert out["face_logits"].shape == out["speech_logits"].shape == (4, 8)


def test_feature_lengths_follow_the_seeds():
    concat = FusionNet(FusionNetConfig(variant="concat", joint_dim=160))
    assert (concat.face_proj[0].out_features, concat.speech_proj[0].out_features) == (128, 32)
    equal = FusionNet(FusionNetConfig(variant="equalized", joint_dim=160))
    assert (equal.face_proj[0].out_features, equal.speech_proj[0].out_features) == (80, 80)


@pytest.mark.parametrize("pooling", ["mean", "gru"])
def test_frames_without_a_face_do_not_count(pooling):
    net = FusionNet(FusionNetConfig(frame_pooling=pooling)).eval()
    a = batch()
    b = {k: v.clone() for k, v in a.items()}
    b["faces"][0, 1:] = torch.rand_like(b["faces"][0, 1:])  # only unfound frames change
    b["faces"][1] = 0.5
    with torch.no_grad():
        torch.testing.assert_close(net(a), net(b))
        c = {k: v.clone() for k, v in a.items()}
        c["faces"][0, 0] = 1.0 - c["faces"][0, 0]  # the one found frame changes: it counts
        assert not torch.allclose(net(a)[0], net(c)[0])


def test_branches_start_from_trained_encoders():
    face = FaceCNN(FACE_PRESETS["quick"]).eval()
    speech = SpeechCNN(SPEECH_PRESETS["quick"]).eval()
    torch.nn.init.normal_(face.embed[-3].weight)  # make them differ from a fresh build
    net = FusionNet().eval()
    net.load_branches(face.state_dict(), speech.state_dict())
    x = batch()
    with torch.no_grad():
        torch.testing.assert_close(net.face.encode(x["faces"][:, 0]), face.encode(x["faces"][:, 0]))
        torch.testing.assert_close(net.speech.encode(x["features"]), speech.encode(x["features"]))


def test_a_checkpoint_config_rebuilds_the_same_network():
    net = FusionNet(FusionNetConfig(variant="probe", frame_pooling="gru")).eval()
    again = build_model("fusion", net.config.to_dict()).eval()
    again.load_state_dict(net.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(net(batch()), again(batch()))


@pytest.mark.parametrize("variant", ["face", "speech"])
def test_single_modality_baselines_ignore_the_other_input(variant):
    net = FusionNet(FusionNetConfig(variant=variant)).eval()
    assert (net.face is None) == (variant == "speech") and (net.speech is None) == (
        variant == "face"
    )
    a, b = batch(seed=1), batch(seed=2)
    other = "features" if variant == "face" else "faces"
    mixed = {**a, other: b[other]}
    own = "faces" if variant == "face" else "features"
    with torch.no_grad():
        assert torch.equal(net(a), net(mixed))  # the other modality is never read
        assert not torch.equal(net(a), net({**a, own: b[own]}))  # its own one is
        assert net(a).shape == (4, 8)


def test_late_fusion_averages_its_members_probabilities_with_the_weight():
    from models import LateFusion, LateFusionConfig

    torch.manual_seed(0)
    late = LateFusion(LateFusionConfig(weight=0.3)).eval()
    x = batch()
    with torch.no_grad():
        face, speech = late.probabilities(x)
        fused = torch.softmax(late(x), dim=1)
        out = late.forward_all(x)
    assert torch.allclose(fused, 0.3 * face + 0.7 * speech, atol=1e-6)
    assert out["main_weight"] == 0.0 and out["aux_weight"] == 1.0  # members learn apart
    rebuilt = build_model("fusion", late.config.to_dict())
    assert isinstance(rebuilt, LateFusion) and rebuilt.config.weight == 0.3
    with pytest.raises(ValueError, match="weight"):
        LateFusion(LateFusionConfig(weight=1.5))
