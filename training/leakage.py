"""The leakage lesson: how a careless split inflates a score.

Speech (``speech_leakage``): the same recipe trained twice on the same RAVDESS folder, once
split at random by file (every actor's voice on both sides) and once by actor (the
workbench's own split: test voices never heard), each scored on its own held-out test
split of the same size. Faces (``face_leakage``): FER-2013 holds pixel-identical copies of
some images; one model trained with validation drawn at random by position is scored on
its validation images with and without those whose exact copy it trained on.

Each writes ``results.json`` (the figures and the explanation), ``explanation.md`` and a
chart (``leakage.png``) into one folder, with the run folders beneath it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import find_layout, fingerprints, seen_mask
from datasets.labels import RAVDESS_EMOTIONS
from datasets.ravdess import actor_ranges

from .callbacks import Callback
from .checkpoint import load_checkpoint
from .metrics import classification_metrics, predict_proba
from .plots import plot_confusion, save_figure
from .runs import new_run_dir, write_json
from .tasks import task_for
from .train import TrainOptions, train_model

SPLITS = ("random", "actor")
SPLIT_NAMES = {
    "random": "random split by file",
    "actor": "split by actor (unheard voices)",
}
SUBSETS = ("with_duplicates", "without_duplicates", "duplicates_only")
SUBSET_NAMES = {
    "with_duplicates": "all validation images",
    "without_duplicates": "without the copies",
    "duplicates_only": "the copies only",
}


def leakage_kind(data: str | Path | None) -> str:
    """``speech`` for a RAVDESS folder (or the demo / default data), ``face`` for FER-2013
    (a CSV or class folders); anything else is refused in one sentence."""
    if data is None or str(data) == "demo":
        return "speech"
    if isinstance(data, list):
        raise WorkbenchError(
            "The leakage lesson reads one data set; pass one RAVDESS folder or one FER-2013 "
            "CSV or folder to --data."
        )
    path = Path(data).expanduser()
    if path.is_dir() and (any(path.glob("Actor_*")) or (path / "ravdess").is_dir()):
        return "speech"
    if path.exists():
        try:
            find_layout(path)
            return "face"
        except WorkbenchError:
            pass
        problem = "is neither a RAVDESS speech folder (Actor_XX folders) nor FER-2013"
    else:
        problem = "does not exist"
    raise WorkbenchError(
        f"{describe(path)} {problem}; pass a RAVDESS speech folder, a FER-2013 CSV or "
        "folder, or demo to --data."
    )


def leakage(base: TrainOptions, **how) -> dict:
    """The lesson for ``base.data``: ``speech_leakage`` for RAVDESS, ``face_leakage`` for
    FER-2013 (``base`` holds the shared settings: data, preset, epochs, seed, device;
    ``how`` their ``out``, ``callbacks``, ``stop_event`` and ``status``)."""
    run = speech_leakage if leakage_kind(base.data) == "speech" else face_leakage
    return run(base, **how)


def _scores(metrics: dict) -> dict:
    return {
        "accuracy": metrics["accuracy"],
        "uar": metrics["uar"],
        "n_test": metrics["n_items"],
        "confusion": metrics["confusion"],
    }


def _train(opts: TrainOptions, callbacks, stop_event, say) -> tuple[dict, Path, list[dict]]:
    """Train one of the lesson's models: its held-out metrics, run folder and validation
    curve (per epoch: ``epoch``, ``val_accuracy``, ``train_accuracy``). A stopped one is
    no result."""
    result = train_model(opts, callbacks=callbacks, stop_event=stop_event, status=say)
    if result.metrics["stopped"]:
        raise WorkbenchError("The leakage lesson was stopped before its models finished.")
    keys = ("epoch", "val_accuracy", "train_accuracy")
    curve = [{k: h[k] for k in keys} for h in result.fit.history]
    return result.metrics, result.run_dir, curve


# ------------------------------------------------------------------------ speech


def speech_leakage(
    base: TrainOptions,
    *,
    out: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
    status: Callable[[str], None] | None = None,
) -> dict:
    """Train the speech recipe ``base`` with a random split by file, then by actor.

    Returns (and writes to ``out``, default ``runs/<time>-leakage``) ``random`` and
    ``actor``: each with its test ``accuracy``, ``uar``, ``n_test``, ``n_train``, the
    actors on each side, its confusion matrix, validation curve and run folder; ``gap``
    (random minus actor) and the ``explanation``.
    """
    say = status or (lambda _msg: None)
    folder = Path(out).expanduser() if out else new_run_dir("leakage")
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    summary: dict = {"experiment": "leakage", "kind": "speech"}
    for split in SPLITS:
        say(f"training speech, {SPLIT_NAMES[split]}…")
        opts = replace(
            base,
            kind="speech",
            random_split=split == "random",
            actors=None,
            out=str(folder / split),
            name=f"speech, {SPLIT_NAMES[split]}",
        )
        metrics, run_dir, curve = _train(opts, callbacks, stop_event, say)
        data = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["data"]
        actors = (data.get("random_split") or data)["actors"]
        summary["data"] = data["path"]
        summary[split] = {
            **_scores(metrics),
            "split": SPLIT_NAMES[split],
            "n_train": metrics["n_train"],
            "val_accuracy": metrics["val"]["accuracy"],
            "best_epoch": metrics["best_epoch"],
            "actors": {"train": actors["train"], "test": actors["test"]},
            "history": curve,
            "run": str(run_dir),
        }
    summary["gap"] = {k: summary["random"][k] - summary["actor"][k] for k in ("accuracy", "uar")}
    summary["explanation"] = speech_explanation(summary)
    return _write(summary, base, folder, t0)


def speech_explanation(summary: dict) -> str:
    """The lesson in plain words, with this run's figures."""
    r, a = summary["random"], summary["actor"]
    shared = sorted(set(r["actors"]["train"]) & set(r["actors"]["test"]))
    gap = 100 * summary["gap"]["accuracy"]
    lines = [
        f"Split at random by file, the speech model scored {r['accuracy']:.1%} "
        f"(UAR {r['uar']:.1%}) on {r['n_test']} held-out recordings. Split by actor, the "
        f"same recipe on the same data scored {a['accuracy']:.1%} (UAR {a['uar']:.1%}) on "
        f"{a['n_test']} recordings of {_actors(a['actors']['test'])}, whose voices it "
        "never heard.",
        "",
    ]
    if gap >= 2:
        lines.append(
            f"The random split looks {gap:.0f} points better, but that is leakage, not skill. "
            f"Its test files come from {len(shared)} actors who are also in its training "
            "files, and every RAVDESS actor says the same two sentences in every emotion, so a "
            "test recording has near-twins in training (same voice, same words). The network "
            "can score by recognising the speaker and how that speaker sounds when angry or "
            "sad, instead of learning what anger or sadness sounds like in any voice."
        )
    else:
        lines.append(
            f"Here the random split does not look better ({gap:+.0f} points), although its "
            f"test files come from {len(shared)} actors it trained on: on a small test set a "
            "few points either way are chance, and voices that differ little from actor to "
            "actor (such as the demo's synthetic ones) give little away. On real recordings "
            "the random split usually looks better, because the network learns the actors' "
            "voices: it recognises the speaker and how that speaker sounds in each emotion."
        )
    lines += [
        "",
        "A model in a classroom always meets new voices, so only the split by actor says "
        "how it will do there. That is why the workbench always splits RAVDESS by actor; "
        "scores of 90% and more reported for RAVDESS often come from random splits.",
    ]
    return "\n".join(lines)


def _actors(ids: list[int]) -> str:
    return f"actor{'s' if len(ids) > 1 else ''} {actor_ranges(ids)}"


# ------------------------------------------------------------------------- faces


def face_leakage(
    base: TrainOptions,
    *,
    out: str | Path | None = None,
    callbacks: Sequence[Callback] = (),
    stop_event: threading.Event | None = None,
    status: Callable[[str], None] | None = None,
) -> dict:
    """Train the face recipe ``base`` once with validation drawn at random by position,
    then score its validation images with and without the pixel-identical copies of its
    training images.

    Returns (and writes to ``out``) ``with_duplicates``, ``without_duplicates`` and
    ``duplicates_only`` (``accuracy``, ``uar``, ``n_test``; the scores are None where a
    subset is empty), ``n_duplicates``, the validation curve and the ``explanation``.
    """
    say = status or (lambda _msg: None)
    folder = Path(out).expanduser() if out else new_run_dir("leakage")
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    opts = replace(
        base,
        kind="face",
        random_split=True,
        out=str(folder / "random"),
        name="face, validation drawn at random",
    )
    say("training face, validation drawn at random…")
    metrics, run_dir, curve = _train(opts, callbacks, stop_event, say)
    say("finding validation images identical to training images…")
    summary: dict = {"experiment": "leakage", "kind": "face"}
    summary.update(duplicate_scores(run_dir, opts.data))
    summary.update(
        {
            "n_train": metrics["n_train"],
            "best_epoch": metrics["best_epoch"],
            "history": curve,
            "run": str(run_dir),
        }
    )
    summary["explanation"] = face_explanation(summary)
    return _write(summary, base, folder, t0)


def duplicate_scores(run_dir: str | Path, data) -> dict:
    """A face run's validation images (read as the run read them) scored ``with``,
    ``without`` and ``duplicates_only``: the pixel-identical copies of its training images.
    Also ``n_duplicates``, how its ``validation`` was chosen and the ``data`` path."""
    loaded = load_checkpoint(Path(run_dir) / "best.pt")
    task = task_for("face")
    paths = task.resolve(data)[0]
    reader = task.read(paths, task.saved_settings(loaded))
    train, val = reader.split("train"), reader.split("val")
    copies = seen_mask(val.x.numpy(), fingerprints(train.x.numpy()))
    probs, _ = predict_proba(loaded.model, val)
    y, pred = val.y.numpy(), probs.argmax(1)
    scores: dict = {
        "data": str(paths[0]),
        "validation": reader.source["validation"],
        "n_duplicates": int(copies.sum()),
    }
    for subset, keep in zip(SUBSETS, (np.ones_like(copies), ~copies, copies)):
        if keep.any():
            scores[subset] = _scores(classification_metrics(y[keep], pred[keep], loaded.classes))
        else:
            scores[subset] = {"accuracy": None, "uar": None, "n_test": 0, "confusion": None}
    return scores


def face_explanation(summary: dict) -> str:
    """The lesson in plain words, with this run's figures."""
    n, k = summary["with_duplicates"]["n_test"], summary["n_duplicates"]
    every, rest, copies = (summary[s] for s in SUBSETS)
    held = (
        "validated on FER-2013's PublicTest images"
        if summary["validation"] == "PublicTest"
        else "held out its validation images at random by position, not by content"
    )
    lines = [
        f"FER-2013 holds pixel-identical copies of some images. This run {held}: {k} of its "
        f"{n} validation images ({k / n:.1%}) are exact copies of images it trained on.",
        "",
    ]
    if k and rest["n_test"]:
        lines.append(
            f"The model scored {copies['accuracy']:.1%} on those copies and "
            f"{rest['accuracy']:.1%} on the other {rest['n_test']} images: its validation "
            f"accuracy is {every['accuracy']:.1%} with the copies, {rest['accuracy']:.1%} "
            "without."
        )
    elif k:
        lines.append(f"The model scored {copies['accuracy']:.1%} on them.")
    else:
        lines.append(
            f"None leaked here: the validation accuracy of {every['accuracy']:.1%} counts "
            "only images the model never saw."
        )
    lines += [
        "",
        "A copy on both sides is not held out: its score rewards memory, not skill, and the "
        "more copies a split leaks, the better it looks. That is why the workbench holds "
        "FER-2013 validation images out by content (identical images of the same emotion "
        "land on the same side, bar a tie at the cut), and why it counts a model's training "
        "images among any images it is scored on.",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------- output


def _write(summary: dict, base: TrainOptions, folder: Path, t0: float) -> dict:
    """Add the settings, then write results.json, explanation.md and leakage.png."""
    summary.update(
        {
            "preset": base.preset,
            "epochs": base.epochs,
            "seed": base.seed,
            "seconds": round(time.perf_counter() - t0, 1),
            "folder": str(folder),
        }
    )
    write_json(folder / "results.json", summary)
    title = "# The leakage lesson — " + ("speech" if summary["kind"] == "speech" else "faces")
    (folder / "explanation.md").write_text(
        f"{title}\n\n{summary['explanation']}\n", encoding="utf-8"
    )
    save_figure(plot_leakage(summary), folder / "leakage.png")
    return summary


def plot_leakage(summary: dict, fig: Figure | None = None) -> Figure:
    """The lesson's chart (into ``fig``, or a new one). Speech: both validation curves
    beside both test confusion matrices; faces: the validation curve beside the
    accuracy with and without the copies."""
    fig = fig or Figure(figsize=(15, 5) if summary["kind"] == "speech" else (10, 4.5))
    fig.set_layout_engine("constrained")
    if summary["kind"] == "speech":
        _plot_speech(fig, summary)
    else:
        _plot_faces(fig, summary)
    return fig


def _curve(ax, history: list[dict], label: str, color: str) -> None:
    ax.plot(
        [h["epoch"] for h in history],
        [h["val_accuracy"] for h in history],
        marker="o",
        markersize=3,
        color=color,
        label=label,
    )
    ax.set_xlabel("epoch")
    ax.set_xlim(0.5, max(h["epoch"] for h in history) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_ylabel("validation accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)


COLORS = {"random": "tab:red", "actor": "tab:blue"}


def _plot_speech(fig: Figure, summary: dict) -> None:
    ax, *matrices = fig.subplots(1, 3)
    for split in SPLITS:
        r = summary[split]
        _curve(ax, r["history"], SPLIT_NAMES[split], COLORS[split])
        ax.axhline(r["accuracy"], color=COLORS[split], lw=1, ls="--")
    ax.set_ylim(0, 1)
    ax.set_title("Validation accuracy per epoch\n(dashed: held-out test accuracy)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    for matrix, split in zip(matrices, SPLITS):
        r = summary[split]
        plot_confusion(
            matrix,
            r["confusion"],
            RAVDESS_EMOTIONS,
            normalized=True,
            title=f"{SPLIT_NAMES[split]}\ntest accuracy {r['accuracy']:.1%}, "
            f"UAR {r['uar']:.1%} ({r['n_test']} files)",
        )


def _plot_faces(fig: Figure, summary: dict) -> None:
    ax_curve, ax_bars = fig.subplots(1, 2)
    _curve(ax_curve, summary["history"], "validation drawn at random", COLORS["random"])
    ax_curve.set_ylim(0, 1)
    ax_curve.set_title("Validation accuracy per epoch", fontsize=10)
    shown = [s for s in SUBSETS if summary[s]["n_test"]]
    x = np.arange(len(shown))
    ax_bars.bar(x - 0.2, [summary[s]["accuracy"] for s in shown], 0.4, label="accuracy")
    ax_bars.bar(x + 0.2, [summary[s]["uar"] for s in shown], 0.4, label="UAR")
    ax_bars.set_xticks(
        x, [f"{SUBSET_NAMES[s]}\n({summary[s]['n_test']} images)" for s in shown], fontsize=8
    )
    ax_bars.set_ylim(0, 1)
    ax_bars.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax_bars.set_title("Validation images identical to training images", fontsize=10)
    ax_bars.grid(axis="y", alpha=0.3)
    ax_bars.legend(fontsize=8)
