"""``predict``: emotion probabilities for a photo, a recording or a video clip."""

from __future__ import annotations

import argparse

from .common import add_command, json_text


def _print_bars(probabilities: dict[str, float], indent: str = "  ") -> None:
    for name, p in sorted(probabilities.items(), key=lambda kv: -kv[1]):
        print(f"{indent}{name:<10} {p:6.1%}  {'#' * round(40 * p)}")


def _print_warnings(warnings: list[str]) -> None:
    """Each reason to trust a prediction less, on its own line, under the answer."""
    for warning in warnings:
        print(f"warning: {warning}")


def cmd_predict(args: argparse.Namespace) -> int:
    from training.predict import predict_file

    pred = predict_file(
        args.file,
        model=args.model,
        detect=not args.no_detect,
        speech_model=args.speech_model,
        face_model=args.face_model,
        fusion_model=args.fusion_model,
    )
    if args.json:
        print(json_text(pred.to_dict()))
        return 0
    if pred.kind != "video":
        print(f"{pred.file}: {pred.top}  (model: {pred.model}, trained on {pred.trained_on})")
        _print_warnings(pred.warnings)
        _print_bars(pred.probabilities)
        return 0
    face, speech, fused = pred.face, pred.speech, pred.fused
    mean = face.mean
    face_top = max(mean, key=mean.get)
    print(pred.file)
    if fused is None:  # no sound to hear: the face model alone
        print(f"face model alone: {pred.top} {pred.probabilities[pred.top]:.0%}")
        _print_warnings(pred.warnings)
    else:
        _print_fused(pred)
    print(
        f"face: {face_top} {mean[face_top]:.0%}, the mean over the "
        f"{face.frames_with_face} of {face.frames_sampled} sampled frames with a face  "
        f"(face model: {face.model}, trained on {face.trained_on})"
    )
    _print_bars(mean)
    print("  per frame:")
    for f in pred.details["frames"]:
        probs = f["probabilities"]
        said = f"{max(probs, key=probs.get)} {max(probs.values()):.0%}" if probs else "no face"
        print(f"    {f['time']:5.2f} s  {said}")
    if speech is None:
        return 0
    top = speech.top
    print(
        f"speech: {top} {speech.probabilities[top]:.0%}, {speech.seconds:.1f} s of sound "
        f"from {speech.audio_from}  (speech model: {speech.model}, trained on "
        f"{speech.trained_on})"
    )
    _print_bars(speech.probabilities)
    return 0


def _print_fused(pred) -> None:
    """A clip's fused answer: how it was fused, the warnings and its bars."""
    fused = pred.fused
    print(
        f"fused: {pred.top} {pred.probabilities[pred.top]:.0%}  ({fused.method}"
        + (f"; model: {fused.model}, trained on {fused.trained_on}" if fused.model else "")
        + ")"
    )
    if fused.note:
        print(f"  ({fused.note})")
    _print_warnings(pred.warnings)
    _print_bars(pred.probabilities)


def add_predict(subparsers) -> None:
    s = add_command(
        subparsers,
        "predict",
        "emotion probabilities for a photo, a recording or a video clip",
        cmd_predict,
    )
    s.add_argument(
        "file", help="an image (.jpg, .png…), audio file (.wav, .flac…) or video clip (.mp4…)"
    )
    s.add_argument(
        "--model",
        metavar="RUN_OR_CHECKPOINT",
        help="the model for this file: the face model for an image, the speech model for a "
        "recording, the face or the fusion model for a video (default: the latest trained "
        "run of that kind, else the starter model; for a video without a fusion run, the "
        "face and speech results are averaged)",
    )
    s.add_argument(
        "--speech-model",
        metavar="RUN_OR_CHECKPOINT",
        help="for a video only: the speech model for its sound (default: the latest "
        "trained speech run, else the starter model)",
    )
    s.add_argument(
        "--face-model",
        metavar="RUN_OR_CHECKPOINT",
        help="for a video only: the face model for its frames (default: the latest trained "
        "face run, else the starter model)",
    )
    s.add_argument(
        "--fusion-model",
        metavar="RUN_OR_CHECKPOINT",
        help="for a video only: the fusion model for the combined answer (default: the "
        "latest trained fusion run, else the average of the face and speech results)",
    )
    s.add_argument(
        "--no-detect",
        action="store_true",
        help="classify the whole image instead of looking for a face",
    )
    s.add_argument("--json", action="store_true", help="print JSON")
