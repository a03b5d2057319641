#!/usr/bin/env python3
"""The starter models exported to ONNX: do they answer as PyTorch does on real data?

    python bench/onnx_parity.py [--shared ../shared/data] [--faces 200] [--recordings 60]
                                [--clips 3] [--runs 30] [--out DIR]

Exports ``pretrained/face_fer2013.pt``, ``speech_ravdess.pt`` and ``fusion_fer_ravdess.pt``
with ``training.onnx_export.export_onnx`` (as ``workbench.py export X.pt X.onnx`` does) and,
in the same run, measures:

  * max |p_torch - p_onnx| over the probabilities (target <= 1e-4):
    - face: ``--faces`` FER-2013 validation faces (the face model's own held-out 10%,
      stratified, seed 0; evenly spaced through it), ten-view test-time averaging included;
    - speech: ``--recordings`` RAVDESS speech recordings of actors 16-18, through
      ``training.predict.hear`` (trimming, level, windows), PyTorch features + network
      against the graph on the windows. The speech starter's six members heard every
      actor between them, so no recording is held out from it; it is a parity check, not
      a score;
    - fusion: ``--clips`` RAVDESS video clips through ``predict_video`` with all three
      models from PyTorch, then all three from ONNX: the fused, face and speech answers;
  * file sizes (.pt and .onnx), export time (tracing, saving and the self-check);
  * latency on one CPU thread (torch.set_num_threads(1), ONNX Runtime intra-op 1): one face
    (ten views), one 3 s window (features and network), one two-frame clip; median of
    ``--runs`` after 3 warm-up calls, PyTorch / ONNX Runtime as a ratio.

Parts whose data is absent are skipped and said. Figures come from this run only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from datasets.audio import read_audio  # noqa: E402
from datasets.fer2013 import load_fer2013, stratified_holdout  # noqa: E402
from training import onnx_export  # noqa: E402
from training.checkpoint import load_checkpoint  # noqa: E402
from training.data import as_float  # noqa: E402
from training.onnx_model import load_onnx  # noqa: E402
from training.predict import _feature_params, hear, predict_video  # noqa: E402

STARTERS = {
    "face": "face_fer2013.pt",
    "speech": "speech_ravdess.pt",
    "fusion": "fusion_fer_ravdess.pt",
}
TARGET = 1e-4


def median_ms(fn, runs: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def max_diff(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] - b[k]) for k in a)


def face_parity(shared: Path, torch_face, onnx_face, n: int) -> tuple[float, str] | None:
    folder = shared / "fer2013" / "train"
    if not folder.is_dir():
        return None
    fer = load_fer2013(folder)
    val = np.sort(stratified_holdout(fer.labels, 0.1, 0, fer.images))
    pick = val[np.linspace(0, len(val) - 1, min(n, len(val))).round().astype(int)]
    x = as_float(torch.from_numpy(fer.images[pick]))
    with torch.inference_mode():
        p_torch = torch.softmax(torch_face.model(x).float(), 1).numpy()
    p_onnx = torch.softmax(onnx_face.model(x), 1).numpy()
    agree = float((p_torch.argmax(1) == p_onnx.argmax(1)).mean())
    return float(
        np.abs(p_torch - p_onnx).max()
    ), f"{len(pick)} validation faces, top agrees {agree:.0%}"


def speech_parity(shared: Path, torch_sp, onnx_sp, n: int) -> tuple[float, str] | None:
    folder = shared / "ravdess_speech_16k"
    files = sorted(
        f
        for actor in (16, 17, 18)
        for f in (folder / f"Actor_{actor:02d}").glob("03-*")
        if f.suffix in (".wav", ".flac")
    )
    if not files:
        return None
    files = [files[i] for i in np.linspace(0, len(files) - 1, min(n, len(files))).astype(int)]
    params = _feature_params(torch_sp)
    worst, windows = 0.0, 0
    for f in files:
        y = read_audio(f, params.sample_rate)
        a, b = hear(torch_sp, y, params), hear(onnx_sp, y, params)
        worst = max(worst, max_diff(a.probabilities, b.probabilities))
        windows += a.windows
    return worst, f"{len(files)} recordings of actors 16-18 ({windows} windows)"


def clip_parity(shared: Path, pts: dict, onnxs: dict, n: int) -> tuple[float, str] | None:
    clips = sorted((shared / "ravdess_video").glob("*.mp4"))[:n]
    if not clips:
        return None
    worst = 0.0
    for clip in clips:
        a = predict_video(
            clip, face_model=pts["face"], speech_model=pts["speech"], fusion_model=pts["fusion"]
        )
        b = predict_video(
            clip,
            face_model=onnxs["face"],
            speech_model=onnxs["speech"],
            fusion_model=onnxs["fusion"],
        )
        worst = max(
            worst, max_diff(a.probabilities, b.probabilities), max_diff(a.face.mean, b.face.mean)
        )
        if a.speech is not None:
            worst = max(worst, max_diff(a.speech.probabilities, b.speech.probabilities))
    return worst, f"{len(clips)} clips: fused, face mean and speech answers"


def latency(kind: str, torch_loaded, onnx_path: Path, runs: int) -> tuple[float, float]:
    graph = onnx_export.graph_of(torch_loaded)
    inputs = onnx_export.sample_inputs(torch_loaded, 1, seed=5, frames=2)
    sess = onnx_export.session(onnx_path, threads=1)
    feeds = onnx_export.feeds(kind, inputs)

    def run_torch():
        with torch.inference_mode():
            graph(*inputs)

    return median_ms(run_torch, runs), median_ms(lambda: sess.run(None, feeds), runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--faces", type=int, default=200)
    ap.add_argument("--recordings", type=int, default=60)
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--out", type=Path, help="keep the .onnx files here (default: a temp folder)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tmp = tempfile.TemporaryDirectory()
    out = args.out or Path(tmp.name)
    out.mkdir(parents=True, exist_ok=True)

    pts = {k: ROOT / "pretrained" / f for k, f in STARTERS.items()}
    onnxs, rows = {}, []
    for kind, pt in pts.items():
        onnxs[kind] = out / pt.with_suffix(".onnx").name
        t0 = time.perf_counter()
        onnx_export.export_onnx(pt, onnxs[kind])
        seconds = time.perf_counter() - t0
        rows.append((kind, pt.stat().st_size / 1e6, onnxs[kind].stat().st_size / 1e6, seconds))

    print("model   .pt MB  .onnx MB  export s  1-thread latency: PyTorch ms  ORT ms  PyTorch/ORT")
    for kind, pt_mb, onnx_mb, seconds in rows:
        t_ms, o_ms = latency(kind, load_checkpoint(pts[kind]), onnxs[kind], args.runs)
        print(
            f"{kind:<7} {pt_mb:6.1f}  {onnx_mb:8.1f}  {seconds:8.1f}  "
            f"{t_ms:26.1f}  {o_ms:6.1f}  {t_ms / o_ms:10.2f}x"
        )

    print(f"\nparity: max |p_torch - p_onnx| (target <= {TARGET:g})")
    loaded = {k: (load_checkpoint(pts[k]), load_onnx(onnxs[k])) for k in ("face", "speech")}
    checks = {
        "face": lambda: face_parity(args.shared, *loaded["face"], args.faces),
        "speech": lambda: speech_parity(args.shared, *loaded["speech"], args.recordings),
        "fusion": lambda: clip_parity(args.shared, pts, onnxs, args.clips),
    }
    ok = True
    for kind, check in checks.items():
        got = check()
        if got is None:
            print(f"{kind:<7} skipped: its data is absent under {args.shared}")
            continue
        diff, what = got
        verdict = "ok" if diff <= TARGET else "MISSED"
        ok &= diff <= TARGET
        print(f"{kind:<7} {diff:.1e}  ({verdict}; {what})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
