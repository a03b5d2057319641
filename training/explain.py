"""Saliency: which parts of its input a face or speech model's answer rests on.

A map has the shape of exactly what the model saw — the 48x48 face crop of a photo or a
video frame, or the (mel bands, frames) log-mel window of a recording, made by
``training.predict`` as prediction makes it — with 0 for "did not matter" and 1 for the
part that mattered most to the predicted emotion. Three methods, all from Captum
(maintained by the PyTorch team; Grad-CAM, Integrated Gradients and Occlusion behind one
API), each explaining the log-probability of the emotion the model answered:

- ``gradcam``: Grad-CAM on the last convolution's feature map, scaled up to the input (a
  coarse map: 12x12 cells for the quick face network, 6x6 for the starter's);
- ``integrated-gradients``: the gradient integrated along the way from a flat input (every
  value the input's mean) to the input, its magnitude per pixel;
- ``occlusion``: how much the answer moves when a small patch is set to the input's mean
  (8x8 px patches every 4 px on a face; 8 bands x 16 frames, every 4 and 8, on a
  spectrogram).

Integrated Gradients and Occlusion explain the model exactly as it predicts (a face model
in evaluation averages ten shifted and mirrored views, see ``models.face``); Grad-CAM needs
one feature map, so it explains the face alone, without those views.

The face default (``DEFAULT_METHODS``) was chosen by the deletion test
(``bench/saliency_deletion.py``): hiding the 20% of a face's pixels a method calls most
salient must lower the predicted emotion's probability clearly more than hiding the 20% it
calls least salient.

The shared, cached model a prediction used is never changed: each explanation works on a
private copy in evaluation mode (batch norm uses its running statistics, dropout is off),
no gradient is left on its weights, and the same input gives the same map.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion
from torch import nn

from datasets.errors import WorkbenchError, describe
from models.face import FaceCNN

from .checkpoint import LoadedModel
from .onnx_model import refuse_onnx
from .predict import faces_input, load_model, predict_file, softmax_batch
from .records import Prediction

METHODS = ("gradcam", "integrated-gradients", "occlusion")
# The default per model kind. Faces: the largest gap in the deletion test (FER-2013
# validation, starter model; the table is in bench/saliency_deletion.py). Speech, which that
# test does not measure: Integrated Gradients, which works for every speech network (a GRU
# or an ensemble, like the speech starter, has no feature map for Grad-CAM) in 16 passes
# where Occlusion needs 540.
DEFAULT_METHODS = {"face": "occlusion", "speech": "integrated-gradients"}
IG_STEPS = 16  # points on the path from the flat input (Gauss-Legendre)
# Occlusion patches (height, width) and their step, per input kind: 121 patches on a face,
# 540 on a 3 s spectrogram (64 bands x 301 frames).
OCCLUSION = {"face": ((8, 8), (4, 4)), "speech": ((8, 16), (4, 8))}


def _private_copy(loaded: LoadedModel) -> nn.Module:
    """The network of ``loaded``, copied so hooks and settings never reach the shared model
    (the window's live mode may be predicting with it at the same moment)."""
    model = copy.deepcopy(loaded.model).eval()
    for p in model.parameters():
        p.requires_grad_(False)  # gradients flow to the input only
    return model


def _last_conv_activation(model: nn.Module) -> nn.Module:
    """The last ReLU of the network's convolutional blocks: Grad-CAM's feature map (a GRU
    or an ensemble of networks has none)."""
    features = getattr(model, "features", None)
    relus = [m for m in features.modules() if isinstance(m, nn.ReLU)] if features else []
    if not relus:
        raise WorkbenchError(
            "Grad-CAM needs the feature map of one convolutional network, and this model has "
            "none (a GRU speech model, or an ensemble such as the speech starter model); use "
            "--method integrated-gradients or occlusion."
        )
    return relus[-1]


def _normalised(attributions: torch.Tensor) -> np.ndarray:
    """(B, 1, H, W) attributions → (B, H, W) float32 magnitudes scaled to [0, 1] per item."""
    sal = attributions.detach().float().abs().sum(1)  # (B, H, W)
    sal = torch.nan_to_num(sal, nan=0.0, posinf=0.0, neginf=0.0)
    peak = sal.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    return (sal / peak).numpy().astype(np.float32)


def saliency(
    loaded: LoadedModel,
    x: torch.Tensor,
    *,
    method: str | None = None,
    targets: list[int] | None = None,
) -> np.ndarray:
    """(B, H, W) saliency in [0, 1] of the model input ``x`` (B, 1, H, W): faces scaled to
    [0, 1], or log-mel windows in dB, exactly as ``training.predict`` feeds them, by
    ``method`` (default: the kind's, ``DEFAULT_METHODS``).

    ``targets``: the class index to explain per item (default: each item's predicted one).
    """
    method = method_for(loaded, method)
    if method not in METHODS:
        raise WorkbenchError(
            f"Unknown saliency method {method!r}; use one of {', '.join(METHODS)}."
        )
    if loaded.kind not in OCCLUSION:
        raise WorkbenchError(
            f"{describe(loaded.path)} is a {loaded.kind} model; saliency explains a face or a "
            "speech model: pass one of those with --model (a video is explained through its "
            "face and speech models)."
        )
    model = _private_copy(loaded)
    x = x.detach().float().clone()  # (B, 1, H, W), never an inference-mode tensor

    def log_probs(inp: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(model(inp).float(), dim=1)  # (B, n_classes)

    with torch.enable_grad():
        if targets is None:
            with torch.no_grad():
                targets = log_probs(x).argmax(1).tolist()
        # The flat input: each item's mean everywhere (a blank face, a level hum).
        flat = x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x).contiguous()
        if method == "gradcam":
            if isinstance(model, FaceCNN):
                model.test_views = False  # one feature map: the face alone
            cam = LayerGradCam(log_probs, _last_conv_activation(model))
            coarse = cam.attribute(x, target=targets, relu_attributions=True)  # (B, 1, h, w)
            attributions = LayerAttribution.interpolate(coarse, x.shape[-2:], "bilinear")
        elif method == "integrated-gradients":
            attributions = IntegratedGradients(log_probs).attribute(
                x, baselines=flat, target=targets, n_steps=IG_STEPS, internal_batch_size=IG_STEPS
            )
        else:
            window, stride = OCCLUSION[loaded.kind]
            attributions = Occlusion(log_probs).attribute(
                x,
                sliding_window_shapes=(1, *window),
                strides=(1, *stride),
                baselines=flat,
                target=targets,
                perturbations_per_eval=16,
            )
    return _normalised(attributions)


def deletion_drops(
    loaded: LoadedModel,
    x: torch.Tensor,
    sal: np.ndarray,
    *,
    fraction: float = 0.2,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The deletion test: how far the predicted emotion's probability falls when the
    ``fraction`` of each input's values that ``sal`` (B, H, W) calls most salient, least
    salient, or a random such share, are set to that input's mean.

    ``x`` (B, 1, H, W) is the model input ``sal`` explains. Returns "most", "least" and
    "random" → (B,) drops (probability before minus after; negative: it rose). Equal
    saliencies (Grad-CAM's zeros) are ranked in a seeded random order.
    """
    rng = np.random.default_rng(seed)
    b, _, h, w = x.shape
    k = int(round(fraction * h * w))
    before = softmax_batch(loaded, x)  # (B, C)
    top = before.argmax(1)
    flat_sal = sal.reshape(b, -1)
    order = np.stack([np.lexsort((rng.random(h * w), s)) for s in flat_sal])  # least first
    hide = {
        "most": order[:, -k:],
        "least": order[:, :k],
        "random": np.stack([rng.permutation(h * w)[:k] for _ in range(b)]),
    }
    mean = x.mean(dim=(1, 2, 3))  # (B,)
    drops = {}
    for name, idx in hide.items():
        hidden = x.clone().reshape(b, -1)
        rows = torch.arange(b)[:, None]
        hidden[rows, torch.from_numpy(idx)] = mean[:, None]
        after = softmax_batch(loaded, hidden.reshape(x.shape))
        drops[name] = before[np.arange(b), top] - after[np.arange(b), top]
    return drops


def _index(loaded: LoadedModel, probabilities: dict[str, float]) -> int:
    """The class index of the emotion a prediction answered."""
    return loaded.classes.index(max(probabilities, key=probabilities.get))


def method_for(loaded: LoadedModel, method: str | None) -> str:
    """``method``, or the default for ``loaded``'s kind (``DEFAULT_METHODS``)."""
    return method or DEFAULT_METHODS.get(loaded.kind, METHODS[0])


def _explain_speech(loaded: LoadedModel, pred: Prediction, top: dict, method: str | None):
    """The saliency (n_bins, n_frames) of a recording's first window (the one the
    spectrogram shows) for the emotion ``top`` answered, and the method used."""
    method = method_for(loaded, method)
    x = torch.from_numpy(np.asarray(pred.arrays["features"], np.float32))[None, None]
    return saliency(loaded, x, method=method, targets=[_index(loaded, top)])[0], method


def explain_prediction(
    pred: Prediction, method: str | None = None, *, clip_sound: bool = True
) -> Prediction:
    """``pred`` with saliency maps of the inputs its models saw, from those same models,
    by ``method`` (default: ``method_for`` each model); ``clip_sound=False`` leaves a
    clip's sound unexplained (the window draws no spectrogram for a clip).

    Adds to ``arrays``: ``face_saliency`` (48, 48) for a photo; ``features_saliency``
    (n_bins, n_frames) for a recording (its first window) and a clip's sound;
    ``faces_saliency`` (F, 48, 48) for a clip's faces, each explaining its own frame's
    answer. ``details["saliency"]`` says the ``method`` and the emotion each map
    ``explains`` (a clip's sound: ``speech_method``). A clip's fused answer is not explained:
    its face and speech models are.
    """
    for used in (pred.model, pred.face and pred.face.model, pred.speech and pred.speech.model):
        refuse_onnx(used, "explain", ": it needs the network's gradients")
    arrays = dict(pred.arrays)
    if pred.kind == "image":
        face = load_model(pred.model, "face", "an image")
        used = method_for(face, method)
        arrays["face_saliency"] = saliency(
            face,
            faces_input(pred.arrays["face"][None]),  # (1, 1, 48, 48)
            method=used,
            targets=[_index(face, pred.probabilities)],
        )[0]
        said = {"method": used, "explains": pred.top}
    elif pred.kind == "audio":
        speech = load_model(pred.model, "speech", "a recording")
        arrays["features_saliency"], used = _explain_speech(
            speech, pred, pred.probabilities, method
        )
        said = {"method": used, "explains": pred.top}
    else:
        face = load_model(pred.face.model, "face", "a video's frames")
        used = method_for(face, method)
        per_frame = [f["probabilities"] for f in pred.details["frames"] if f["face_found"]]
        arrays["faces_saliency"] = saliency(
            face,
            faces_input(pred.arrays["faces"]),  # (F, 1, 48, 48)
            method=used,
            targets=[_index(face, p) for p in per_frame],
        )
        said = {"method": used, "explains": {"faces": "each frame's answer"}}
        if clip_sound and pred.speech is not None:  # a silent clip has no sound to explain
            speech = load_model(pred.speech.model, "speech", "a video's sound")
            arrays["features_saliency"], said["speech_method"] = _explain_speech(
                speech, pred, pred.speech.probabilities, method
            )
            said["explains"]["speech"] = pred.speech.top
    return replace(pred, arrays=arrays, details={**pred.details, "saliency": said})


def explain_file(
    path: str | Path, *, model: str | Path | None = None, method: str | None = None
) -> Prediction:
    """Predict ``path`` (see ``training.predict.predict_file``) and explain the answer."""
    refuse_onnx(model, "explain", ": it needs the network's gradients")
    return explain_prediction(predict_file(path, model=model), method)
