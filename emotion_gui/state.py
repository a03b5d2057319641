"""What the window knows and decides, without Tk: testable without a display.

The data in use, the runs shown in Results and Compare, the model each kind predicts with,
what the Train buttons train (the Settings → ``TrainOptions``), which models a prediction
uses, and the status sentences. The window (app.py) only holds widgets and calls this.

The per-kind facts (the Train button, what a kind's model predicts, the data it learns
from) live in one table, ``KINDS``; code loops over it instead of branching on a kind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from datasets.av import av_clips
from datasets.errors import WorkbenchError, describe
from datasets.fer2013 import load_fer2013
from datasets.info import detect, fer_info, ravdess_info
from datasets.labels import RAVDESS_EMOTIONS
from datasets.ravdess import speech_audio
from datasets.sources import DataSources, ensure_demo
from training.fit import warm_up
from training.fusion_data import PAIRING_NOTES
from training.predict import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES
from training.records import Prediction, Run
from training.runs import find_runs, load_run, load_starter
from training.tasks import TASKS
from training.train import RunResult, TrainOptions
from training.wording import held_out_sentence

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """One kind of model the window trains and predicts with."""

    name: str  # TrainOptions.kind and a run's "kind"
    title: str  # "Facial CNN": in headings, lists and legends
    button: str  # the Train button and menu item
    key: str | None  # the Train command's keyboard shortcut
    predicts: str  # what its model answers, for the status line when a run becomes the one in use
    part: str | None  # the data it learns from ("faces" or "speech"); None: both (fusion)
    reads: tuple[str, ...]  # the files its model answers alone (a video names every model)


# The window's own facts per kind; titles and what each predicts come from the kind's task.
_WINDOW = {  # kind: (button, shortcut, data part, the files its model answers alone)
    "face": ("Train Facial CNN", "<F5>", "faces", IMAGE_SUFFIXES),
    "speech": ("Train Speech CNN", "<F6>", "speech", AUDIO_SUFFIXES),
    "fusion": ("Train Fusion Model", "<F7>", None, ()),
}


def kinds_table() -> tuple[Kind, ...]:
    """One ``Kind`` per task; a kind the window has no facts for gets a Train button named
    after its title, no shortcut, and reads both data sets."""
    rows = []
    for k, task in TASKS.items():
        button, key, part, reads = _WINDOW.get(k, (f"Train {task.title}", None, None, ()))
        rows.append(Kind(k, task.title, button, key, task.predicts, part, reads))
    return tuple(rows)


KINDS = kinds_table()
KIND = {k.name: k for k in KINDS}
BRANCHES = tuple(k for k in KINDS if k.part)  # one data set each: what fusion starts from
PART_PATH = {"faces": "fer", "speech": "ravdess"}  # a data part → its DataSources field

# The fusion designs the window offers, named with the paper each comes from; short
# ("et al."), as the settings column is narrow (the CLI and reports use DESIGN_NAMES).
FUSION_DESIGNS = {
    "concat": "concat 4:1 (Ristea et al. 2019)",
    "equalized": "equalized (Goswami et al. 2018)",
    "probe": "probe heads (Goswami et al. 2018)",
    "late": "late fusion (Guo et al. 2020)",
}
# Under the pairing choice: what the pairs are (class pairs must always say so).
PAIRING_SHORT = {"takes": "the same person at the same moment", "class": PAIRING_NOTES["class"]}
NO_RUNS = "No trained model yet: train one, or open an earlier run."


@dataclass(frozen=True)
class Settings:
    """The Settings panel as typed (settings.py reads it from its widgets)."""

    preset: str = "quick"
    epochs: str = "auto"
    batch_size: str = "auto"
    lr: str = "auto"
    device: str = "auto"
    fusion: str = "concat"  # a FUSION_DESIGNS key
    pairing: str = "takes"  # "takes" or "class"
    from_models: bool = True  # fusion starts from the face and speech models in use


def load_data(sources: DataSources, emit) -> dict:
    """Summaries of both data sets plus the face images for the sample grid.

    Runs on a worker thread. Generates the demo data first when it is in use and missing.
    Loading is cached, so the second time it is quick.
    """
    warm_up()  # once: the first training would otherwise spend a second importing
    if sources.fer_is_demo or sources.ravdess_is_demo:
        emit("Checking the built-in demo data…", 0.0)
        # The first time, generating it takes about 20 s: show its own progress.
        ensure_demo(progress=emit)
    fer = load_fer2013(  # refuses a folder that is not FER-2013, naming it
        sources.fer,
        progress=lambda done, total: emit(
            f"Reading faces: {done:,} of {total:,}", 0.05 + 0.8 * done / total
        ),
    )
    emit("Scanning speech recordings…", 0.9)
    kind, scan = detect(sources.ravdess)
    if kind != "ravdess":
        raise WorkbenchError(
            f"{describe(sources.ravdess)} holds FER-2013 faces, not RAVDESS recordings; "
            "choose the RAVDESS folder."
        )
    speech = speech_audio(scan.clips)
    return {
        "sources": sources,
        "fer_info": fer_info(fer),
        "ravdess_info": ravdess_info(scan),
        # The speech model hears audio-only speech files; clips are counted apart.
        "speech_counts": {e: sum(c.emotion_name == e for c in speech) for e in RAVDESS_EMOTIONS},
        "speech_files": speech,
        "n_clips": sum(c.modality in (1, 2) for c in scan.clips),
        # Speech video clips: fusion can pair them with their take's sound.
        "n_av_clips": len(av_clips(scan)),
        "images": fer.images,
        "labels": fer.labels,
    }


def parse_settings(epochs: str, batch_size: str, lr: str) -> dict:
    """The Settings entries as ``TrainOptions`` fields; "auto" (or blank) keeps the preset's
    value. Raises ``WorkbenchError`` with one sentence for a bad entry."""

    def number(text: str, cast, name: str, example: str, low: float):
        text = text.strip().lower()
        if text in ("", "auto"):
            return None
        try:
            value = cast(text)
        except ValueError:
            value = None
        if value is None or not value >= low or (cast is float and value >= 10):
            raise WorkbenchError(
                f"{name} must be {example}, or auto for the preset's value; got {text!r}."
            )
        return value

    return {
        "epochs": number(epochs, int, "Epochs", "a whole number such as 10", 1),
        "batch_size": number(batch_size, int, "Batch size", "a whole number of 2 or more", 2),
        "lr": number(lr, float, "Learning rate", "a small positive number such as 0.001", 1e-7),
    }


def epoch_status(record: dict) -> str:
    return (
        f"Epoch {record['epoch']}: validation accuracy {record['val_accuracy']:.1%} "
        f"(train {record['train_accuracy']:.1%})"
    )


def prediction_status(pred: Prediction) -> str:
    """'clip.mp4: happy (fused by …)', with how many warnings the Predict tab shows."""
    how = f"fused by {pred.fused.method}" if pred.fused is not None else None
    if pred.kind == "video" and pred.fused is None:
        how = "the face model alone: the clip has no sound"
    n = len(pred.warnings)
    warned = f" — {n} warning{'s' if n > 1 else ''} above the chart" if n else ""
    return f"{Path(pred.file).name}: {pred.top} ({how or f'model {pred.model}'}){warned}"


class WorkbenchState:
    """The data in use, the runs and the model used per kind; no widgets."""

    def __init__(self) -> None:
        self.requested: DataSources | None = None  # the data asked for last (may have failed)
        self.loaded: dict | None = None  # ``load_data``'s result for the data shown
        self.runs: list[Run] = []  # finished runs shown in Results and Compare, oldest first
        self.models: dict[str, Path] = {}  # model per kind chosen by training or Open run…
        self.trained: list[Path] = []  # run folders trained in this window, oldest first

    # --------------------------------------------------------------- data

    @property
    def sources(self) -> DataSources | None:
        """The data shown now (None until the first load succeeds)."""
        return self.loaded["sources"] if self.loaded else None

    def replaced(self, *, fer: Path | None = None, ravdess: Path | None = None) -> DataSources:
        """The data with one data set swapped; the other stays what was shown (or last asked
        for)."""
        cur = self.sources or self.requested
        return DataSources(
            fer or cur.fer,
            ravdess or cur.ravdess,
            cur.fer_is_demo and fer is None,
            cur.ravdess_is_demo and ravdess is None,
        )

    def title(self) -> str:
        """The window title for the data shown."""
        src = self.sources
        if src.fer_is_demo and src.ravdess_is_demo:
            return "Emotion Workbench — built-in synthetic demo data"
        parts = ((src.fer, src.fer_is_demo), (src.ravdess, src.ravdess_is_demo))
        return "Emotion Workbench — " + " + ".join(
            "demo data" if demo else path.name for path, demo in parts
        )

    def loaded_status(self) -> str:
        n_speech = sum(self.loaded["speech_counts"].values())
        return (
            f"Loaded {self.loaded['fer_info']['n_items']:,} faces, {n_speech:,} speech "
            f"recordings and {self.loaded['n_clips']:,} video clips"
        )

    # --------------------------------------------------------------- runs

    def load_known_runs(self) -> None:
        """Start with the latest finished run of each kind, so a restarted window shows them.
        A damaged run folder is skipped (and logged): it must never stop the window."""
        seen: set[str] = set()
        for folder in reversed(find_runs()):  # newest first; one scan for every kind
            try:
                run = load_run(folder)
            except Exception as exc:
                log.warning("skipping run %s: %s", folder, exc)
                continue
            if run.kind not in seen:
                seen.add(run.kind)
                self.add_run(run, use_model=False)
        # Kinds the user has trained nothing of show the starter model that answers for them.
        for kind in KINDS:
            if kind.name in seen:
                continue
            try:
                run = load_starter(kind.name)
            except Exception as exc:
                log.warning("skipping the %s starter model: %s", kind.name, exc)
                continue
            if run is not None:
                self.add_run(run, use_model=False)

    def add_run(self, run: Run, *, use_model: bool = True) -> None:
        """List ``run`` (once, as the newest); with ``use_model`` its kind predicts with it."""
        self.runs = [r for r in self.runs if r.model != run.model] + [run]
        if use_model and run.kind in KIND:
            self.models[run.kind] = run.model

    def choose(self, run: Run, label: str) -> str | None:
        """``run`` (shown as ``label``) becomes the model its kind predicts with; the status
        sentence that says so, or None for a kind that predicts nothing."""
        if run.kind not in KIND:
            return None
        self.models[run.kind] = run.model
        return f"Predictions of {KIND[run.kind].predicts} now use {label}"

    def open_run(self, folder: Path) -> tuple[dict, str]:
        """The run in ``folder``, listed and in use (Open run…), and the sentence saying what
        it is used for. Raises ``WorkbenchError`` for a folder that holds no trained model."""
        run = load_run(folder)
        if run.metrics["best_epoch"] < 1 or not (run.dir / "best.pt").is_file():
            raise WorkbenchError(
                f"{describe(run.dir)} holds no trained model (it stopped before its "
                "first epoch ended); open a run that finished at least one epoch."
            )
        self.add_run(run)
        kind = KIND.get(run.kind)
        use = f"predictions of {kind.predicts} use its model" if kind else "shown for comparison"
        return run, f"Opened {run.dir}; {use}"

    def finished(self, result: RunResult) -> tuple[str, dict | None]:
        """A training in this window ended: the sentence saying how it scored, and its run,
        listed and in use (None when it stopped before learning anything)."""
        self.trained.append(result.run_dir)
        m = result.metrics
        if m["best_epoch"] < 1:
            return "Stopped before the first epoch ended: nothing was learned.", None
        run = load_run(result.run_dir)
        self.add_run(run)
        how = "Stopped" if m["stopped"] else "Finished"
        return f"{how}: {held_out_sentence(m)} — saved in {result.run_dir}", run

    # ----------------------------------------------------------- training

    def training_options(self, kind: str, settings: Settings) -> TrainOptions:
        """What the Train button of ``kind`` trains: the data shown, with the Settings.
        Raises ``WorkbenchError`` for a bad setting."""
        src = self.sources
        if src is None:
            raise WorkbenchError("No data is loaded yet; wait for it, or press Use demo data.")
        numbers = parse_settings(settings.epochs, settings.batch_size, settings.lr)
        common = dict(kind=kind, preset=settings.preset, device=settings.device, **numbers)
        if part := KIND[kind].part:
            return TrainOptions(data=str(getattr(src, PART_PATH[part])), **common)
        if settings.pairing == "takes" and not self.loaded["n_av_clips"]:
            raise WorkbenchError(
                f"{describe(src.ravdess)} has no video clips (02-… .mp4), so there are "
                "no audio-video takes to train on; choose class-paired pairs, or load a RAVDESS "
                "folder with its video clips."
            )
        data = str(src.ravdess) if settings.pairing == "takes" else [str(src.fer), str(src.ravdess)]
        branches = {}
        if settings.from_models:
            branches = {
                f"{k.name}_model": str(path)
                for k in BRANCHES
                if (path := self.models.get(k.name)) is not None and path.is_file()
            }
        return TrainOptions(
            data=data, fusion=settings.fusion, pairing=settings.pairing, **branches, **common
        )

    def training_title(self, options: TrainOptions) -> str:
        """The Training tab's heading for ``options``: the model and its data; for fusion
        also the design, what the pairs are, and the models its branches start from."""
        name = KIND[options.kind].title
        if part := KIND[options.kind].part:
            data = self.sources.describe_part(part)
            return f"Training the {name} ({options.preset} preset) on {data}"
        if options.pairing == "takes":
            data = f"audio-video takes of {self.sources.describe_part('speech')}"
        else:
            faces, speech = (self.sources.describe_part(k.part) for k in BRANCHES)
            data = f"class-paired {faces if faces == speech else f'{faces} + {speech}'}"
        start = [k.title for k in BRANCHES if getattr(options, f"{k.name}_model")]
        return (
            f"Training the {name}, {FUSION_DESIGNS[options.fusion]}, on {data} — "
            f"{PAIRING_SHORT[options.pairing]} ({options.preset} preset"
            + (f"; starting from the {' and '.join(start)}" if start else "")
            + ")"
        )

    # ------------------------------------------------------------ predict

    def prediction_models(self, path: Path) -> dict:
        """``predict_file``'s model arguments for ``path``: the model in use of the kind that
        answers its type alone (a photo: face, a recording: speech), and every kind's model
        by name (a video uses the fusion model when one is chosen, else face and speech).
        Raises ``WorkbenchError`` for a file of a type the workbench does not read."""
        suffix = path.suffix.lower()
        if suffix not in IMAGE_SUFFIXES + AUDIO_SUFFIXES + VIDEO_SUFFIXES:
            raise WorkbenchError(
                f"{describe(path)} is not an image, a recording or a video clip the workbench "
                "reads; choose a .png/.jpg photo, a .wav/.flac recording or an .mp4 clip."
            )
        alone = next((k.name for k in KINDS if suffix in k.reads), None)
        return {
            "model": self.models.get(alone),
            **{f"{k.name}_model": self.models.get(k.name) for k in KINDS},
        }
