"""``export RUN_OR_CHECKPOINT OUT.onnx``: a trained model as an ONNX graph and its JSON
sidecar, checked against PyTorch with ONNX Runtime before it is written."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from training.onnx_export import export_onnx, sidecar_path

    if args.notes:
        from datasets.errors import WorkbenchError

        raise WorkbenchError(
            "--notes writes a starter model's card, which an ONNX export has none of; "
            "leave it out or export to a .pt file."
        )
    sidecar = export_onnx(args.run, args.out)
    size = Path(args.out).stat().st_size / 1e6
    check = sidecar["self_check"]
    print(
        f"ONNX model: {args.out} ({size:.1f} MB, opset {sidecar['opset']}, "
        f"{sidecar['kind']}, {len(sidecar['classes'])} classes)"
    )
    print(f"sidecar: {sidecar_path(args.out)}")
    print(
        f"checked with ONNX Runtime: probabilities within {check['max_abs_diff']:.1e} of "
        f"PyTorch's (at most {check['tolerance']:g} allowed)"
    )
    return 0
