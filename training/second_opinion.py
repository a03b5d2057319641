"""A second opinion: the starter models' answer to a file a demo-trained model answered.

A model that learned from the built-in synthetic demo data knows only that kind of data;
shown beside the starter models' answer to the same real photo, recording or clip, the
difference is a lesson in what training data does.
"""

from __future__ import annotations

from datasets.sources import DEMO_LABEL

from .predict import predict_audio, predict_image, predict_video
from .records import Prediction
from .runs import starter_model


def compare_with_starter(pred: Prediction, *, detect: bool = True) -> Prediction:
    """``pred`` with ``starter`` set to the starter models' answer to the same file, when
    models that learned from demo data gave ``pred`` and the file is not demo data (a
    lesson in what training data does); ``pred`` unchanged otherwise, or when the
    starter models it needs (for a video: face, speech and fusion) do not ship."""
    if not pred.demo_models:
        return pred
    if pred.kind == "image" and (face := starter_model("face")):
        pred.starter = predict_image(pred.file, model=face, detect=detect)
    elif pred.kind == "audio" and (speech := starter_model("speech")):
        pred.starter = predict_audio(pred.file, model=speech)
    elif pred.kind == "video":
        starters = {k: starter_model(k) for k in ("face", "speech", "fusion")}
        if all(starters.values()):
            pred.starter = predict_video(
                pred.file,
                face_model=starters["face"],
                speech_model=starters["speech"],
                fusion_model=starters["fusion"],
            )
    return pred


def starter_lesson(pred: Prediction) -> str:
    """One line on why a demo-trained model's answer and the starter models' differ."""
    starter = pred.starter
    if starter is None:
        return ""
    models = " and ".join(pred.demo_models)
    plural = "s" if len(pred.demo_models) > 1 else ""
    sources = " and ".join(dict.fromkeys(_kind_trained_on(starter, k) for k in pred.demo_models))
    return (
        f"Why the answers differ: your {models} model{plural} learned from the "
        f"{DEMO_LABEL}, the starter model{plural} from {sources}; a model knows only the "
        "kind of data it was trained on."
    )


def _kind_trained_on(pred: Prediction, kind: str) -> str:
    """What ``pred``'s model of ``kind`` learned from (a video names three models)."""
    if pred.kind != "video":
        return pred.trained_on
    part = {"face": pred.face, "speech": pred.speech, "fusion": pred.fused}[kind]
    return part.trained_on
