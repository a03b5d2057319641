"""Experiments that train several models and compare them on one held-out split.

``data_efficiency`` is experiment 2 of Goswami, Aggarwal & Yalamanchi (2018): the
single-modality baselines and every fusion design trained on 25 %, 50 % and 80 % of the
training items (a stratified share, the same items for every design), each scored on the
same full test split. It writes a table (``results.md``, ``results.csv``,
``results.json``) and a chart (``data_efficiency.png``) into one folder, with each model's
own run folder beneath it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from datasets.errors import WorkbenchError, describe
from datasets.ravdess import actor_kfold, scan_ravdess

from .callbacks import Callback
from .data import speech_actors
from .fusion_data import PAIRING_NOTES
from .plots import save_figure
from .runs import METRIC_TYPES, new_run_dir, read_run_json, write_json
from .tasks import task_for
from .train import TrainOptions, train_model

DESIGNS = ("face", "speech", "concat", "equalized", "probe", "late")
DESIGN_NAMES = {
    "face": "face only",
    "speech": "speech only",
    "concat": "concat 4:1 (Ristea, Duțu & Radoi 2019)",
    "equalized": "equalized (Goswami, Aggarwal & Yalamanchi 2018, architecture 3)",
    "probe": "probe heads (Goswami, Aggarwal & Yalamanchi 2018, architecture 4)",
    "late": "late fusion (Guo, Polanía & Barner 2020)",
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
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    (folder / "results.md").write_text(results_table(summary), encoding="utf-8")
    save_figure(plot_data_efficiency(summary), folder / "data_efficiency.png")
    return summary


def results_table(summary: dict) -> str:
    """A markdown table: one row per design, one column per training share, each cell
    the test accuracy (UAR)."""
    rows = pd.DataFrame(summary["rows"])
    rows["cell"] = [f"{a:.1%} ({u:.1%})" for a, u in zip(rows["accuracy"], rows["uar"])]
    designs = [d for d in DESIGNS if d in set(rows["design"])]
    cells = rows.pivot(index="design", columns="fraction", values="cell").reindex(designs)
    n_train = rows.groupby("fraction")["n_train"].unique()
    split, n_test = rows["split"].iloc[0], rows["n_test"].iloc[0]
    lines = [
        f"# Data efficiency — {summary['pairing']} pairing ({summary['note']})",
        "",
        f"Held-out {split} accuracy (UAR in brackets) of each design trained on a share of "
        f"the training items; every model is scored on the same {n_test} "
        f"{split} items. Data: {summary['data'] or 'default'}; preset {summary['preset']}; "
        f"seed {summary['seed']}.",
        "",
        "| design | "
        + " | ".join(
            f"{f:.0%} ({'/'.join(map(str, sorted(n_train[f])))} items)" for f in cells.columns
        )
        + " |",
        "|---|" + "---|" * len(cells.columns),
    ]
    for design, row in cells.fillna("—").iterrows():
        lines.append(f"| {DESIGN_NAMES[design]} | " + " | ".join(row) + " |")
    lines.append("")
    return "\n".join(lines)


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


# ------------------------------------------------------------ actor-wise cross-validation


def actor_folds(
    base: TrainOptions,
    *,
    folds: int | None = None,
    out: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
    status: Callable[[str], None] | None = None,
) -> dict:
    """Actor-wise k-fold cross-validation of one speech recipe (``folds=None``: leave one
    actor out).

    Each fold tests on its own actors, picks its best epoch on the next fold's actors and
    trains on the rest (``datasets.ravdess.actor_kfold``), so no test actor is ever heard
    in training or model selection. Every fold is a run folder of its own under ``out``;
    calling this again with the same ``out`` keeps the finished folds and resumes an
    unfinished one from its ``last.pt``, so a long CPU cross-validation can go on over
    several sessions. Writes ``results.json`` / ``.md`` / ``.csv`` (per-fold and mean ± std
    test accuracy and UAR, and the confusion matrix pooled over every fold's test actors)
    and ``folds.png``.
    """
    say = status or (lambda _msg: None)
    if base.kind != "speech":
        raise WorkbenchError("Actor-wise cross-validation applies to speech models only.")
    path = task_for("speech").resolve(base.data)[0][0]
    actors = sorted(speech_actors(scan_ravdess(path)))
    k = len(actors) if folds is None else folds
    if not 3 <= k <= len(actors):
        raise WorkbenchError(
            f"--folds must lie between 3 and the {len(actors)} actors of {describe(path)}, "
            f"got {k}; each fold needs other actors for validation and training."
        )
    splits = actor_kfold(actors, k)
    folder = Path(out).expanduser() if out else new_run_dir("folds")
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows: list[dict] = []
    for i, split in enumerate(splits, start=1):
        if stop_event is not None and stop_event.is_set():
            break
        run_dir = folder / f"fold{i:02d}"
        label = f"fold {i}/{k}: test actors {', '.join(map(str, split.test))}"
        if (run_dir / "metrics.json").is_file():
            metrics = read_run_json(
                run_dir / "metrics.json",
                {**METRIC_TYPES, "val": dict},
                f"delete {describe(run_dir)} and run the same command again to redo that fold",
            )
            say(f"{label}: finished earlier")
        else:
            say(f"training {label}…")
            if (run_dir / "last.pt").is_file():
                opts = TrainOptions(
                    kind="speech", resume=str(run_dir), epochs=base.epochs, device=base.device
                )
            else:
                opts = replace(
                    base,
                    data=str(path),
                    actors=split.to_dict(),
                    out=str(run_dir),
                    name=f"{base.name or 'speech'} {label}",
                )
            metrics = train_model(
                opts, callbacks=callbacks, stop_event=stop_event, status=say
            ).metrics
        if metrics.get("stopped"):
            break  # a stopped fold is not a result; it resumes on the next call
        rows.append(
            {
                "fold": i,
                "test_actors": list(split.test),
                "val_actors": list(split.val),
                "accuracy": metrics["accuracy"],
                "uar": metrics["uar"],
                "val_accuracy": metrics["val"]["accuracy"],
                "n_test": metrics["n_items"],
                "best_epoch": metrics["best_epoch"],
                "confusion": metrics["confusion"],
                "run": str(run_dir),
            }
        )
    if not rows:
        raise WorkbenchError("The cross-validation was stopped before any fold finished.")
    summary = fold_summary(rows, k, base, path)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["folder"] = str(folder)
    write_json(folder / "results.json", summary)
    pd.DataFrame(rows).drop(columns="confusion").to_csv(folder / "results.csv", index=False)
    (folder / "results.md").write_text(folds_table(summary), encoding="utf-8")
    save_figure(plot_folds(summary), folder / "folds.png")
    return summary


def fold_summary(rows: list[dict], k: int, base: TrainOptions, path: Path) -> dict:
    """Mean ± sample standard deviation over the finished folds, and the pooled matrix."""
    acc = np.array([r["accuracy"] for r in rows])
    uar = np.array([r["uar"] for r in rows])
    pooled = np.sum([np.asarray(r["confusion"]) for r in rows], axis=0)
    loao = all(len(r["test_actors"]) == 1 for r in rows)
    return {
        "experiment": "actor-folds",
        "protocol": "leave one actor out" if loao else f"{k}-fold by actor",
        "folds": k,
        "finished": len(rows),
        "data": str(path),
        "preset": base.preset,
        "augment": base.augment,
        "epochs": base.epochs,
        "seed": base.seed,
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": _std(acc),
        "uar_mean": float(uar.mean()),
        "uar_std": _std(uar),
        "pooled_accuracy": float(np.trace(pooled) / max(pooled.sum(), 1)),
        "pooled_confusion": pooled.tolist(),
        "rows": rows,
    }


def _std(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def folds_table(summary: dict) -> str:
    """A markdown table: one row per fold, then the mean ± std."""
    lines = [
        f"# Speech, {summary['protocol']} ({summary['finished']} of {summary['folds']} folds "
        "finished)",
        "",
        "Each fold's test actors were never heard in training or in choosing its epoch "
        "(that used the validation actors). Data: "
        f"{summary['data']}; preset {summary['preset']}; augmentation "
        f"{summary['augment'] or 'preset'}; seed {summary['seed']}.",
        "",
        "| fold | test actors | validation actors | test accuracy | test UAR | best epoch |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| {r['fold']} | {', '.join(map(str, r['test_actors']))} | "
            f"{', '.join(map(str, r['val_actors']))} | {r['accuracy']:.1%} | {r['uar']:.1%} | "
            f"{r['best_epoch']} |"
        )
    lines += [
        f"| **mean ± std** | | | **{summary['accuracy_mean']:.1%} ± "
        f"{summary['accuracy_std']:.1%}** | **{summary['uar_mean']:.1%} ± "
        f"{summary['uar_std']:.1%}** | |",
        "",
        f"Pooled over every fold's test recordings: accuracy {summary['pooled_accuracy']:.1%}.",
        "",
    ]
    return "\n".join(lines)


def plot_folds(summary: dict) -> Figure:
    """Test accuracy and UAR per fold, with the mean and ± one standard deviation."""
    rows = summary["rows"]
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [100 * r["accuracy"] for r in rows], 0.4, label="accuracy")
    ax.bar(x + 0.2, [100 * r["uar"] for r in rows], 0.4, label="UAR")
    mean, std = 100 * summary["accuracy_mean"], 100 * summary["accuracy_std"]
    ax.axhline(mean, color="black", lw=1, label=f"mean accuracy {mean:.1f}% ± {std:.1f}")
    ax.axhspan(mean - std, mean + std, color="grey", alpha=0.2)
    ax.set_xticks(x, ["\n".join(map(str, r["test_actors"])) for r in rows], fontsize=8)
    ax.set_xlabel("test actors of each fold")
    ax.set_ylabel("held-out test score (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Speech — {summary['protocol']}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig
