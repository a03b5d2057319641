"""One place for the sentences every layer shows: the held-out score, what a model
learned from, and a model named in a prediction's header. The CLI, the window, reports
and model cards all word them through here, so they always say the same thing.
"""

from __future__ import annotations

from pathlib import Path

from datasets import paths
from datasets.ravdess import actor_ranges
from datasets.sources import DEMO_LABEL

from .records import Run

SPLIT_NAMES = {"test": "test", "val": "validation", "cv": "cross-validated test", "all": "every"}


def split_name(metrics: dict) -> str:
    """The held-out split in words: "test", "validation", "cross-validated test"."""
    return SPLIT_NAMES.get(metrics.get("split", "val"), metrics.get("split", "val"))


def held_out_scores(metrics: dict) -> str:
    """ "accuracy 71.2%, UAR 69.0%" of held-out ``metrics``."""
    return f"accuracy {metrics['accuracy']:.1%}, UAR {metrics['uar']:.1%}"


def held_out_sentence(metrics: dict, *, f1: bool = False) -> str:
    """The held-out summary: "held-out test accuracy 71.2%, UAR 69.0% (700 items)";
    ``f1`` adds the macro F1."""
    f1_words = f", macro F1 {metrics['macro_f1']:.1%}" if f1 else ""
    return (
        f"held-out {split_name(metrics)} {held_out_scores(metrics)}{f1_words} "
        f"({metrics['n_items']:,} items)"
    )


def skipped_sentence(skipped: list[dict], total: int | None = None) -> str:
    """What a training left out, as one sentence ("" when nothing): how many files or
    folders (``total``, when ``skipped`` lists only the first), the first with its
    reason, and where the whole list is."""
    if not skipped:
        return ""
    first, total = skipped[0], max(total or 0, len(skipped))
    more = f" and {total - 1:,} more" if total > 1 else ""
    return (
        f"Left out {total:,} file(s) or folder(s) it could not use: {first['path']} "
        f"({first['reason']}){more}; 'python workbench.py data-info FOLDER' lists them."
    )


def trained_on(data: dict) -> str:
    """What a model learned from, from its data record (a checkpoint's ``split``, a run's
    ``config["data"]``): the demo label, a starter model's description, or its path(s)."""
    if data.get("is_demo"):
        return DEMO_LABEL
    if data.get("label"):  # a starter model from pretrained/
        return data["label"]
    path = data.get("path", "unknown data")
    return " + ".join(path) if isinstance(path, list) else path  # fusion: faces + speech


def run_title(kind: str, config: dict) -> str:
    """A run's model in words: "Facial CNN", or for fusion its design and pairing:
    "Fusion concat (takes)"."""
    if "fusion" in config:
        return f"Fusion {config['fusion']} ({config.get('pairing', '?')})"
    from .tasks import TASKS

    return TASKS[kind].title if kind in TASKS else kind


def model_words(config: dict) -> str:
    """A run's network in words for reports and cards: "face (full preset)", or for fusion
    "fusion, concat design, class pairing (full preset)"."""
    model = config["kind"]
    if "fusion" in config:
        model = f"fusion, {config['fusion']} design, {config['pairing']} pairing"
    return f"{model} ({config['preset']} preset)"


def scored_on(run: Run) -> str:
    """Which held-out items a run's score counts, for the line under its bar:
    'FER test: 700 faces', 'test actors 11-12: 120 clips', 'test actors 11-12: 120
    takes', 'FER test + test actors 16-18: 1,438 pairs' or, for cross-validation models
    averaged, 'each fold's unheard actors: 1,440 clips'."""
    m, data = run.metrics, run.config.get("data", {})
    n = f"{m['n_items']:,}"
    if m.get("cv"):
        return f"each fold's unheard actors: {n} clips"
    split = m.get("split", "?")
    word = "test" if split == "test" else "validation"
    actors = (data.get("actors") or {}).get(split) or []
    who = f"{word} actors {actor_ranges(actors)}" if actors else f"{word} actors"
    from .tasks import TASKS  # torch: only when a run is worded, so plots stay light

    return TASKS[run.kind].items_words(word, who, n, data)


def model_name(model: str | Path) -> str:
    """A model as a header names it: a shipped starter model by its file name."""
    path = Path(model)
    if path.parent.resolve() == paths.pretrained_dir().resolve():
        return f"starter model {path.name} (pretrained/)"
    return str(model)


def model_line(label: str, model: str | Path, learned_from: str) -> str:
    """ "Face model: starter model face_fer2013.pt (pretrained/) — trained on …"."""
    return f"{label}: {model_name(model)} — trained on {learned_from}"
