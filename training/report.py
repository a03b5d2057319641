"""The human-readable part of a run folder: curves.png, confusion.png and report.md."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from datasets.errors import write_atomically
from datasets.ravdess import actor_ranges

from .plots import plot_comparison, plot_confusion, plot_curves, save_figure
from .records import Run
from .runs import HUMAN_BASELINES
from .wording import model_words

SPLIT_WORDS = {
    "test": "test split (never used for training or model selection)",
    "val": "validation split (held out from training; used to pick the best epoch)",
}


def write_curves(run_dir: Path, history: list[dict], best_epoch: int) -> None:
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    plot_curves(ax_loss, ax_acc, history, best_epoch=best_epoch)
    save_figure(fig, run_dir / "curves.png")


def write_confusion(run_dir: Path, metrics: dict, title: str) -> None:
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    ax_counts, ax_norm = fig.subplots(1, 2)
    plot_confusion(ax_counts, metrics["confusion"], metrics["classes"], title=f"{title} — counts")
    plot_confusion(
        ax_norm,
        metrics["confusion"],
        metrics["classes"],
        normalized=True,
        title=f"{title} — share of each true class",
    )
    save_figure(fig, run_dir / "confusion.png")


def write_comparison(path: Path, runs: list[Run]) -> None:
    """``comparison_figure(runs)`` as a PNG."""
    save_figure(comparison_figure(runs), path)


def comparison_figure(runs: list[Run]) -> Figure:
    """One chart: validation curves of ``runs`` and their held-out accuracy and UAR, each
    bar labelled with the test items it counts (``plots.scored_on``). The figure widens with the
    number of runs, so the labels (wrapped to ``plots.LABEL_WIDTH`` characters) never
    overlap."""
    bars_width = max(5.0, 1.6 * len(runs))  # inches: a wrapped label needs about 1.4
    fig = Figure(figsize=(5.5 + bars_width, 4.6), layout="constrained")
    ax_curves, ax_bars = fig.subplots(1, 2, width_ratios=(5.5, bars_width))
    plot_comparison(ax_curves, ax_bars, runs, baselines=comparison_baselines(runs))
    return fig


def comparison_baselines(runs: list[Run]) -> dict[str, float]:
    """Human reference lines for the kinds of ``runs`` trained on real data.

    Human figures belong to the real data sets, so demo-data runs get none.
    """
    kinds = {r.kind for r in runs if not r.config.get("data", {}).get("is_demo")}
    return dict(HUMAN_BASELINES[k] for k in sorted(kinds) if k in HUMAN_BASELINES)


def describe_split(data: dict) -> str:
    """'validation PublicTest, test PrivateTest' or 'by actor: train 1-8, validation 9-10, …'."""
    if "actors" in data:
        parts = [f"{name} {actor_ranges(ids)}" for name, ids in data["actors"].items() if ids]
        return "by actor — " + ", ".join(parts).replace("val ", "validation ")
    return f"validation {data.get('validation', '?')}, test {data.get('test', 'none')}"


def write_report(run_dir: Path, config: dict, metrics: dict) -> None:
    """report.md: data, split, settings, the held-out scores and per-class table."""
    data = config["data"]
    paths = data["path"] if isinstance(data["path"], list) else [data["path"]]
    lines = [
        f"# {config['name']}",
        "",
        f"- Model: {model_words(config)}, {config['n_parameters']:,} parameters",
        f"- Data: {' + '.join(paths)}"
        + (" — built-in synthetic demo data" if data["is_demo"] else ""),
        f"- Items: {metrics['n_train']} train, {metrics['n_val']} validation, "
        f"{metrics['n_test']} test",
        f"- Split: {describe_split(data)}",
        *([f"- Pairs: {data['note']}"] if data.get("note") else []),
        *([f"- Face test: {data['face_test']}"] if data.get("face_test") else []),
        *(
            [
                f"- Late-fusion face weight: {config['model_config']['weight']:.2f}, chosen on validation"
            ]
            if config.get("fusion") == "late"
            else []
        ),
        f"- Augmentation: {config.get('augment', 'standard')}",
        f"- Training: {metrics['epochs_run']} epochs, best epoch {metrics['best_epoch']}, "
        f"{metrics['seconds']:.0f} s on {metrics['device']}",
        "",
        f"## Held-out result — {SPLIT_WORDS[metrics['split']]}",
        "",
        f"Accuracy **{metrics['accuracy']:.1%}**, UAR {metrics['uar']:.1%}, "
        f"macro F1 {metrics['macro_f1']:.1%} on {metrics['n_items']} items.",
        "",
    ]
    if metrics["split"] == "test" and "val" in metrics:
        v = metrics["val"]
        lines += [f"Validation: accuracy {v['accuracy']:.1%}, UAR {v['uar']:.1%}.", ""]
    lines += ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, m in metrics["per_class"].items():
        lines.append(
            f"| {name} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | "
            f"{m['support']} |"
        )
    lines += [
        "",
        "![curves](curves.png)",
        "",
        "![confusion](confusion.png)",
        "",
        "Train curves are running means over the epoch's batches, measured while the model "
        f"trained (dropout on, augmentation {config.get('augment', 'standard')}); they are not a score. Every score above is on data the model never trained on.",
        "",
    ]
    text = "\n".join(lines)
    write_atomically(run_dir / "report.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
