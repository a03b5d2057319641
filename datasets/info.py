"""What a folder holds: the kind of data set, counts per class, actor and split, skipped files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .errors import WorkbenchError, describe, require_readable
from .fer2013 import FerData, find_layout, load_fer2013, split_indices
from .labels import FER_CLASSES, RAVDESS_EMOTIONS, class_counts
from .ravdess import RavdessScan, scan_ravdess


def detect(path: str | Path) -> tuple[str, RavdessScan | None]:
    """``("fer2013", None)`` or ``("ravdess", scan)``; ``WorkbenchError`` when neither or both."""
    path = require_readable(Path(path).expanduser())
    if not path.exists():
        raise WorkbenchError(f"{describe(path)} does not exist; check the path.")
    try:
        find_layout(path)
        is_fer = True
    except WorkbenchError:
        is_fer = False
    scan = None
    if path.is_dir():
        try:
            scan = scan_ravdess(path)
        except WorkbenchError:
            pass
    if is_fer and scan:
        raise WorkbenchError(
            f"{describe(path)} holds both FER-2013 and RAVDESS data; point at the folder "
            "of one of them."
        )
    if is_fer:
        return "fer2013", None
    if scan:
        return "ravdess", scan
    raise WorkbenchError(
        f"{describe(path)} holds neither FER-2013 (fer2013.csv or train/<emotion>/*.jpg) nor "
        "RAVDESS files (03-01-05-02-01-01-12.wav); point at the folder you downloaded."
    )


def data_info(
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """A JSON-ready summary of the data set at ``path``.

    Keys: ``kind``, ``path``, ``n_items``, ``classes`` {name: count}, ``skipped``
    [{path, reason}]; FER-2013 adds ``layout`` and ``splits`` {name: count}; RAVDESS adds
    ``actors`` [ints], ``per_actor``, ``modalities`` and ``channels`` {name: count}.
    """
    kind, scan = detect(path)
    if kind == "fer2013":
        return fer_info(load_fer2013(path, cache_dir=cache_dir, progress=progress))
    return ravdess_info(scan)


def fer_info(data: FerData) -> dict:
    """The ``data_info`` summary of loaded FER-2013 data."""
    return {
        "kind": "fer2013",
        "path": str(data.root),
        "layout": data.layout,
        "n_items": int(len(data.labels)),
        "classes": class_counts(data.labels, FER_CLASSES),
        "splits": {s: int(len(split_indices(data, s))) for s in ("train", "val", "test")},
        "skipped": data.skipped,
    }


def ravdess_info(scan: RavdessScan) -> dict:
    """The ``data_info`` summary of a RAVDESS scan."""
    clips = scan.clips
    emotions = Counter(c.emotion_name for c in clips)
    per_actor = Counter(c.actor for c in clips)
    return {
        "kind": "ravdess",
        "path": str(scan.root),
        "n_items": len(clips),
        "classes": {e: emotions.get(e, 0) for e in RAVDESS_EMOTIONS},
        "actors": sorted(per_actor),
        "per_actor": {str(a): per_actor[a] for a in sorted(per_actor)},
        "modalities": dict(sorted(Counter(c.modality_name for c in clips).items())),
        "channels": dict(sorted(Counter(c.channel_name for c in clips).items())),
        "skipped": scan.skipped,
    }


def format_info(info: dict) -> str:
    """The summary as a few lines of text for the terminal."""
    lines = [f"{info['kind']} at {info['path']}: {info['n_items']} items"]
    if info["kind"] == "fer2013":
        lines.append(f"  layout: {info['layout']}")
        lines.append("  splits: " + ", ".join(f"{k} {v}" for k, v in info["splits"].items()))
    else:
        lines.append(
            "  modalities: " + ", ".join(f"{k} {v}" for k, v in info["modalities"].items())
        )
        lines.append("  channels: " + ", ".join(f"{k} {v}" for k, v in info["channels"].items()))
        lines.append(
            f"  actors ({len(info['actors'])}): "
            + ", ".join(f"{a}:{n}" for a, n in info["per_actor"].items())
        )
    width = max(len(c) for c in info["classes"])
    total = max(1, info["n_items"])
    lines.append("  per class:")
    for name, n in info["classes"].items():
        lines.append(f"    {name:<{width}}  {n:6d}  {100 * n / total:5.1f}%")
    if info["skipped"]:
        lines.append(f"  skipped {len(info['skipped'])} file(s):")
        for s in info["skipped"][:20]:
            lines.append(f"    {s['path']}: {s['reason']}")
        if len(info["skipped"]) > 20:
            lines.append(f"    … and {len(info['skipped']) - 20} more (see --json)")
    return "\n".join(lines)
