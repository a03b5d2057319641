"""Experiments that train several models and compare them on one held-out split.

``data_efficiency`` is seed 002's experiment 2: the single-modality baselines and every
fusion design trained on 25 %, 50 % and 80 % of the training items (a stratified share,
the same items for every design), each scored on the same full test split. It writes a
table (``results.md``, ``results.csv``, ``results.json``) and a chart
(``data_efficiency.png``) into one folder, with each model's own run folder beneath it.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from matplotlib.figure import Figure

from datasets.errors import WorkbenchError

from .callbacks import Callback
from .fusion_data import PAIRING_NOTES
from .plots import save_figure
from .runs import new_run_dir, write_json
from .train import TrainOptions, train_model

DESIGNS = ("face", "speech", "concat", "equalized", "probe", "late")
DESIGN_NAMES = {
    "face": "face only",
    "speech": "speech only",
    "concat": "concat 4:1 (seed 000)",
    "equalized": "equalized (seed 002 arch 3)",
    "probe": "probe heads (seed 002 arch 4)",
    "late": "late fusion (seed 001)",
}
FRACTIONS = (0.25, 0.5, 0.8)


def data_efficiency(
    base: TrainOptions,
    *,
    fractions: Sequence[float] = FRACTIONS,
    designs: Sequence[str] = DESIGNS,
    out: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
    status: Callable[[str], None] | None = None,
) -> dict:
    """Train every design in ``designs`` at every training share in ``fractions``.

    ``base`` holds the shared settings (data, pairing, preset, epochs, seed, branch
    checkpoints); its ``fusion`` and ``fraction`` are set per model. Returns the results
    (also written to ``out``, default ``runs/<time>-experiment``): ``rows``, one per model
    with its test ``accuracy``, ``uar``, ``n_train`` and run folder, and ``folder``.
    """
    say = status or (lambda _msg: None)
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise WorkbenchError("Training shares must lie in (0, 1], e.g. 0.25 0.5 0.8.")
    unknown = [d for d in designs if d not in DESIGNS]
    if unknown:
        raise WorkbenchError(f"Unknown design {unknown[0]!r}; use any of {', '.join(DESIGNS)}.")
    folder = Path(out) if out else new_run_dir("experiment")
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows: list[dict] = []
    for fraction in fractions:
        for design in designs:
            if stop_event is not None and stop_event.is_set():
                break
            label = f"{DESIGN_NAMES[design]}, {fraction:.0%} of the training data"
            say(f"training {label}…")
            opts = replace(
                base,
                kind="fusion",
                fusion=design,
                fraction=fraction,
                out=str(folder / f"{round(fraction * 100)}pct" / design),
                name=label,
            )
            result = train_model(opts, callbacks=callbacks, stop_event=stop_event, status=say)
            m = result.metrics
            rows.append(
                {
                    "fraction": fraction,
                    "design": design,
                    "name": DESIGN_NAMES[design],
                    "split": m["split"],
                    "accuracy": m["accuracy"],
                    "uar": m["uar"],
                    "val_accuracy": m["val"]["accuracy"],
                    "n_train": m["n_train"],
                    "n_test": m["n_items"],
                    "stopped": m["stopped"],
                    "run": str(result.run_dir),
                }
            )
    if not rows:
        raise WorkbenchError("The experiment was stopped before any model finished.")
    pairing = base.pairing
    summary = {
        "experiment": "data-efficiency",
        "pairing": pairing,
        "note": PAIRING_NOTES[pairing],
        "data": base.data,
        "preset": base.preset,
        "epochs": base.epochs,
        "seed": base.seed,
        "face_model": base.face_model,
        "speech_model": base.speech_model,
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
        "folder": str(folder),
    }
    write_json(folder / "results.json", summary)
    _write_csv(folder / "results.csv", rows)
    (folder / "results.md").write_text(results_table(summary), encoding="utf-8")
    save_figure(plot_data_efficiency(summary), folder / "data_efficiency.png")
    return summary


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def results_table(summary: dict) -> str:
    """A markdown table: one row per design, one column per training share, each cell
    the test accuracy (UAR)."""
    rows = summary["rows"]
    fractions = sorted({r["fraction"] for r in rows})
    designs = [d for d in DESIGNS if any(r["design"] == d for r in rows)]
    cell = {(r["design"], r["fraction"]): r for r in rows}
    split = rows[0]["split"]
    lines = [
        f"# Data efficiency — {summary['pairing']} pairing ({summary['note']})",
        "",
        f"Held-out {split} accuracy (UAR in brackets) of each design trained on a share of "
        f"the training items; every model is scored on the same {rows[0]['n_test']} "
        f"{split} items. Data: {summary['data'] or 'default'}; preset {summary['preset']}; "
        f"seed {summary['seed']}.",
        "",
        "| design | " + " | ".join(f"{f:.0%} ({_n_train(rows, f)})" for f in fractions) + " |",
        "|---|" + "---|" * len(fractions),
    ]
    for d in designs:
        cells = []
        for f in fractions:
            r = cell.get((d, f))
            cells.append(f"{r['accuracy']:.1%} ({r['uar']:.1%})" if r else "—")
        lines.append(f"| {DESIGN_NAMES[d]} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _n_train(rows: list[dict], fraction: float) -> str:
    n = {r["n_train"] for r in rows if r["fraction"] == fraction}
    return "/".join(str(v) for v in sorted(n)) + " items"


def plot_data_efficiency(summary: dict) -> Figure:
    """Test accuracy against the share of training data, one line per design."""
    rows = summary["rows"]
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.subplots()
    for design in DESIGNS:
        pts = sorted((r["fraction"], r["accuracy"]) for r in rows if r["design"] == design)
        if not pts:
            continue
        single = design in ("face", "speech")
        ax.plot(
            [100 * f for f, _ in pts],
            [100 * a for _, a in pts],
            marker="o",
            linestyle="--" if single else "-",
            label=DESIGN_NAMES[design],
        )
    ax.set_xlabel("share of the training data (%)")
    ax.set_ylabel(f"held-out {rows[0]['split']} accuracy (%)")
    ax.set_title(f"Data efficiency — {summary['pairing']} pairing")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
