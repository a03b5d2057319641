"""``explain``: what a face or speech model looked at for a photo, a recording or a clip."""

from __future__ import annotations

import argparse

from .common import add_command, json_text


def explanation_json(pred) -> dict:
    """The answer and its saliency maps as JSON: ``saliency`` is a 2-D list over the model
    input (48x48 for a face; mel bands x frames for a recording); a clip has one per
    sampled face under ``frames`` and the sound's under ``speech``."""
    out = {
        "file": pred.file,
        "kind": pred.kind,
        "model": pred.model,
        "top": pred.top,
        "probabilities": pred.probabilities,
        **pred.details["saliency"],
    }
    arrays = pred.arrays
    if pred.kind == "image":
        out["saliency"] = arrays["face_saliency"].round(4).tolist()
    elif pred.kind == "audio":
        out["saliency"] = arrays["features_saliency"].round(4).tolist()
    else:
        faces = iter(arrays["faces_saliency"])
        out["frames"] = [
            {
                "time": f["time"],
                "top": max(f["probabilities"], key=f["probabilities"].get),
                "saliency": next(faces).round(4).tolist(),
            }
            for f in pred.details["frames"]
            if f["face_found"]
        ]
        out["face_model"] = pred.face.model
        out["speech"] = pred.speech and {  # None for a clip with no sound
            "model": pred.speech.model,
            "top": pred.speech.top,
            "probabilities": pred.speech.probabilities,
            "saliency": arrays["features_saliency"].round(4).tolist(),
        }
    return out


def cmd_explain(args: argparse.Namespace) -> int:
    from training.explain import explain_file
    from training.plots import save_figure
    from training.saliency_plots import explanation_figure

    pred = explain_file(args.file, model=args.model, method=args.method)
    if args.out:
        save_figure(explanation_figure(pred), args.out)
    if args.json:
        print(json_text(explanation_json(pred), indent=None))
        return 0
    said = pred.details["saliency"]
    print(f"{pred.file}: {pred.top} ({pred.probabilities[pred.top]:.0%})  (model: {pred.model})")
    if pred.kind == "video" and pred.speech is None:
        print(
            f"saliency: each sampled face for its frame's answer ({said['method']}); the clip "
            "has no sound, so the face model answered alone"
        )
    elif pred.kind == "video":
        print(
            f"saliency: each sampled face for its frame's answer ({said['method']}), the sound "
            f"for the speech model's {pred.speech.top} ({said['speech_method']}); the fused "
            "answer is not explained"
        )
    else:
        print(f"saliency ({said['method']}) of {said['explains']}")
    print(f"picture: {args.out}" if args.out else "add --out PNG for the picture")
    return 0


def add_explain(subparsers) -> None:
    from training.explain import DEFAULT_METHODS, METHODS

    s = add_command(
        subparsers,
        "explain",
        "saliency: which parts of a photo's face or a recording's spectrogram the answer rests on",
        cmd_explain,
    )
    s.add_argument("file", help="an image, audio file or video clip (as for predict)")
    s.add_argument(
        "--model",
        metavar="RUN_OR_CHECKPOINT",
        help="the face model for an image, the speech model for a recording (default: the "
        "latest trained run of that kind, else the starter model); a clip is explained "
        "through its face and speech models",
    )
    s.add_argument(
        "--method",
        choices=METHODS,
        help=f"saliency method (default: {DEFAULT_METHODS['face']} for a face, chosen by the "
        f"deletion test in bench/saliency_deletion.py; {DEFAULT_METHODS['speech']} for a "
        "recording, which works for every speech network)",
    )
    s.add_argument("--out", metavar="PNG", help="write the picture here")
    s.add_argument("--json", action="store_true", help="print JSON, saliency maps included")
