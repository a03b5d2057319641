"""FER-2013 in every layout users have, held as one uint8 tensor.

Layouts accepted (a folder, or the CSV file itself):

* the original ``fer2013.csv`` (``emotion,pixels,Usage``);
* torchvision's ``icml_face_data.csv`` (``emotion, Usage, pixels``) and ``train.csv``
  (``emotion,pixels``); its ``test.csv`` has no labels and is listed as skipped;
* the Kaggle image folders ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``
  (either may be absent), or a single folder of class folders.

Splits: ``train``, ``val``, ``test`` and ``all``. Validation is PublicTest when the data has
it, else a stratified, seeded share of the training images; test is PrivateTest or the
``test/`` folder. The parsed set is cached, so a second load takes well under a second.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch

from . import cache
from .errors import WorkbenchError, describe, permission_denied, require_readable
from .images import IMAGE_SUFFIXES, read_gray, to_48
from .labels import FER_CLASSES, FER_FOLDER_NAMES, class_counts

SPLITS = ("train", "val", "test", "all")
CSV_NAMES = ("fer2013.csv", "icml_face_data.csv", "train.csv")
DOWNLOAD_HINT = (
    "download FER-2013 from Kaggle ('fer2013.csv', or the train/ and test/ image folders) "
    "and point the workbench at that folder"
)

# Usage codes stored per image.
TRAINING, PUBLIC_TEST, PRIVATE_TEST = 0, 1, 2
_USAGE_CODES = {"training": TRAINING, "publictest": PUBLIC_TEST, "privatetest": PRIVATE_TEST}
_CACHE_FORMAT = 2  # bump when parsing changes, so old cache entries are ignored


@dataclass
class FerData:
    """The whole parsed set: every image of every split, as loaded from disk."""

    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64, index into FER_CLASSES
    usage: np.ndarray  # (N,) int8: TRAINING, PUBLIC_TEST or PRIVATE_TEST
    sources: np.ndarray  # (N,) str: image path relative to the root, or "file.csv:line"
    layout: str  # "csv" or "folders"
    root: Path
    skipped: list[dict[str, str]] = field(default_factory=list)  # [{path, reason}]
    # Held-out positions per (val_fraction, seed): hashing 28,709 images once, not per split.
    _holdout: dict[tuple[float, int], np.ndarray] = field(default_factory=dict, repr=False)


def find_layout(path: str | Path) -> tuple[str, list[Path]]:
    """Work out which FER-2013 layout ``path`` holds.

    Returns ``("csv", [csv files])`` or ``("folders", [class-folder parents])``.
    Raises ``WorkbenchError`` when the path is missing or holds neither layout.
    """
    path = require_readable(Path(path).expanduser())
    if not path.exists():
        raise WorkbenchError(f"FER-2013 path {describe(path)} does not exist; {DOWNLOAD_HINT}.")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise WorkbenchError(
                f"{describe(path)} is not a FER-2013 CSV file; choose 'fer2013.csv' or the "
                "folder holding train/ and test/."
            )
        return "csv", [path]
    for base in (path, path / "fer2013"):
        for name in CSV_NAMES:
            if (base / name).is_file():
                files = [base / name]
                if name == "train.csv" and (base / "test.csv").is_file():
                    files.append(base / "test.csv")
                return "csv", files
    split_dirs = [path / s for s in ("train", "test") if _has_class_folders(path / s)]
    if split_dirs:
        return "folders", split_dirs
    if _has_class_folders(path):
        return "folders", [path]
    raise WorkbenchError(
        f"{describe(path)} holds neither a FER-2013 CSV (fer2013.csv, icml_face_data.csv, "
        f"train.csv) nor class folders such as train/angry/*.jpg; {DOWNLOAD_HINT}."
    )


def _has_class_folders(path: Path) -> bool:
    """True when ``path`` holds emotion-named folders (any case: ``Angry``, ``happy`` …)."""
    try:
        return path.is_dir() and any(
            n.lower() in FER_FOLDER_NAMES and (path / n).is_dir() for n in os.listdir(path)
        )
    except OSError:
        return False


def load_fer2013(
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> FerData:
    """Parse a FER-2013 folder or CSV (any layout) into a ``FerData``; cached on disk.

    ``progress(done, total)`` is called now and then during a cold folder load.
    """
    layout, sources = find_layout(path)
    # Resolved, so "../x" and "/abs/x" list the same files and share one cache entry.
    sources = [s.resolve() for s in sources]
    root = Path(path).expanduser().resolve()
    # What the cache entry depends on: each source file's path, size and mtime.
    listing = (
        [cache.file_signature(f) for f in sources] if layout == "csv" else _list_images(sources)
    )
    key = cache.make_key("fer2013", _CACHE_FORMAT, str(root), listing)
    entry = cache.resolve_dir(cache_dir, "fer2013") / f"{key}.npz"
    n_listed = _csv_rows(sources) if layout == "csv" else len(listing)
    check = partial(_cache_mismatch, n_listed=n_listed, from_csv=layout == "csv")
    if use_cache and (hit := cache.load_npz(entry, check)) is not None:
        return _from_arrays(hit, layout, root)
    if layout == "csv":
        data = _parse_csvs(sources, root)
    else:
        data = _read_folders([p for p, _, _ in listing], root, progress)
    if use_cache:
        cache.save_npz(
            entry,
            images=data.images,
            labels=data.labels,
            usage=data.usage,
            sources=data.sources,
            skipped_path=np.array([s["path"] for s in data.skipped], dtype=str),
            skipped_reason=np.array([s["reason"] for s in data.skipped], dtype=str),
        )
    return data


def _collect(
    images: list, labels: list, usage: list, sources: list, layout: str, root: Path, skipped: list
) -> FerData:
    """``FerData`` from the per-image lists a parser builds."""
    return FerData(
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        usage=np.asarray(usage, dtype=np.int8),
        sources=np.asarray(sources, dtype=str),
        layout=layout,
        root=root,
        skipped=skipped,
    )


N_CLASSES = len(FER_CLASSES)


def _csv_rows(files: list[Path]) -> int | None:
    """How many face rows the CSVs hold: the non-blank lines after the header of each file
    with an 'emotion' column (a count in bytes: 0.17 s for a 296 MB CSV of FER-2013's 35,887
    rows, read from the page cache); None when a file cannot be read (the parser then says
    why)."""
    n = 0
    try:
        for f in files:
            with open(f, "rb") as fh:
                if b"emotion" not in fh.readline().lower():
                    continue  # unlabelled: skipped whole, as _parse_csv does
                n += sum(1 for line in fh if line.strip())
    except OSError:
        return None
    return n


def _cache_mismatch(a: dict[str, np.ndarray], n_listed: int | None, from_csv: bool) -> str | None:
    """Why a cached FER-2013 entry is not one ``load_fer2013`` wrote for these files, or
    None: 48x48 uint8 faces, a label (one of the seven) and a usage per face, and every
    face row of the CSVs, or every listed image of a folder, read (or skipped)."""
    n = len(a["images"])
    why = (
        cache.mismatch("images", a["images"], shape=(None, 48, 48), kind="u")
        or cache.mismatch("labels", a["labels"], shape=(n,), kind="i", low=0, high=N_CLASSES - 1)
        or cache.mismatch("usage", a["usage"], shape=(n,), kind="i", low=0, high=PRIVATE_TEST)
        or cache.mismatch("sources", a["sources"], shape=(n,), kind="U")
        or cache.mismatch("skipped_path", a["skipped_path"], shape=(None,), kind="U")
    )
    if why is None and len(a["skipped_reason"]) != len(a["skipped_path"]):
        why = "skipped reasons do not match the skipped files"
    if why is None and from_csv and n_listed is not None and n != n_listed:
        why = f"{n} faces, but the CSV holds {n_listed} face rows"
    if why is None and not from_csv and n + len(a["skipped_path"]) != n_listed:
        why = f"{n} faces and {len(a['skipped_path'])} skipped, but {n_listed} image files"
    return why


def _from_arrays(a: dict[str, np.ndarray], layout: str, root: Path) -> FerData:
    skipped = [
        {"path": str(p), "reason": str(r)} for p, r in zip(a["skipped_path"], a["skipped_reason"])
    ]
    return FerData(a["images"], a["labels"], a["usage"], a["sources"], layout, root, skipped)


# ---------------------------------------------------------------- CSV layouts


def _parse_csvs(files: list[Path], root: Path) -> FerData:
    images: list[np.ndarray] = []
    labels: list[int] = []
    usage: list[int] = []
    sources: list[str] = []
    skipped: list[dict[str, str]] = []
    for f in files:
        _parse_csv(f, root, images, labels, usage, sources, skipped)
    if not images:
        raise WorkbenchError(
            f"{describe(files[0])} holds no labelled FER-2013 rows; {DOWNLOAD_HINT}."
        )
    return _collect(images, labels, usage, sources, "csv", root, skipped)


def _parse_csv(
    f: Path,
    root: Path,
    images: list,
    labels: list,
    usage: list,
    sources: list,
    skipped: list,
) -> None:
    # Rows of a file called test.csv are test images even without a Usage column.
    default_use = PRIVATE_TEST if f.name.lower() == "test.csv" else TRAINING
    line = 1
    try:
        # utf-8-sig: spreadsheet programs often start a CSV with a byte-order mark.
        with open(f, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip().lower() for h in next(reader, [])]
            if "pixels" not in header:
                raise WorkbenchError(
                    f"{describe(f)} has no 'pixels' column (found: {', '.join(header) or 'nothing'}); "
                    "a FER-2013 CSV needs the columns emotion,pixels[,Usage]."
                )
            if "emotion" not in header:
                # torchvision's test.csv: the challenge's unlabelled test images.
                skipped.append(
                    {"path": f.name, "reason": "no 'emotion' column: unlabelled, not used"}
                )
                return
            cols = (
                header.index("emotion"),
                header.index("pixels"),
                header.index("usage") if "usage" in header else None,
            )
            for row in reader:
                line = reader.line_num
                if row:
                    emotion, px, use = _parse_row(
                        row, cols, default_use, f"{describe(f)} line {line}"
                    )
                    images.append(px)
                    labels.append(emotion)
                    usage.append(use)
                    sources.append(f"{f.name}:{line}")
    except (UnicodeDecodeError, csv.Error) as exc:
        raise WorkbenchError(
            f"{describe(f)} near line {line + 1} is not plain CSV text ({exc}); "
            "re-export it as a UTF-8 CSV file."
        ) from None
    except PermissionError:
        raise permission_denied(f) from None
    except OSError as exc:
        raise WorkbenchError(
            f"Cannot read {describe(f)} ({exc.strerror}); check that it exists and its permissions."
        ) from None


def _parse_row(
    row: list[str], cols: tuple[int, int, int | None], default_use: int, where: str
) -> tuple[int, np.ndarray, int]:
    """(emotion, (48, 48) uint8 pixels, usage code) of one CSV row; ``where`` names the line."""
    i_emo, i_pix, i_use = cols
    try:
        emotion = int(row[i_emo])
        pixels = row[i_pix]
    except (IndexError, ValueError):
        raise WorkbenchError(
            f"{where}: expected an emotion number 0-6 and a pixels field; fix or delete that row."
        ) from None
    if not 0 <= emotion < len(FER_CLASSES):
        raise WorkbenchError(f"{where}: emotion {emotion} is outside 0-6; fix or delete that row.")
    # int32 so that values above 255 are seen rather than wrapped around.
    try:
        px = np.fromstring(pixels, dtype=np.int32, sep=" ")
        found = f"found {px.size} values"
    except ValueError:  # a token that is not a number
        px, found = np.zeros(0, np.int32), "found text that is not a number"
    if px.size != 48 * 48 or px.min() < 0 or px.max() > 255:
        raise WorkbenchError(
            f"{where}: the pixels field must hold 2304 numbers 0-255 (48x48), {found}; "
            "fix or delete that row."
        )
    if i_use is None:
        use = default_use
    else:
        raw = row[i_use].strip().lower() if i_use < len(row) else ""
        if raw not in _USAGE_CODES:
            raise WorkbenchError(
                f"{where}: Usage {raw!r} is not Training, PublicTest or PrivateTest; "
                "fix or delete that row."
            )
        use = _USAGE_CODES[raw]
    return emotion, px.astype(np.uint8).reshape(48, 48), use


# -------------------------------------------------------------- folder layout


def _list_images(split_dirs: list[Path]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every image in the class folders, in sorted order.

    ``os.scandir`` gives names and stats without building 28,709 ``Path`` objects, which
    keeps the cache check of a cached load well under a second.
    """
    files: list[tuple[str, int, int]] = []
    for d in split_dirs:
        for cls in sorted(os.listdir(d)):
            if cls.lower() not in FER_FOLDER_NAMES or not (d / cls).is_dir():
                continue
            try:
                with os.scandir(d / cls) as it:
                    entries = sorted(
                        (
                            e
                            for e in it
                            # ._name files are macOS metadata, not images
                            if e.name.lower().endswith(IMAGE_SUFFIXES)
                            and not e.name.startswith(".")
                        ),
                        key=lambda e: e.name,
                    )
            except PermissionError:
                raise permission_denied(d / cls) from None
            except OSError as exc:
                raise WorkbenchError(
                    f"Cannot read the folder {describe(d / cls)} ({exc.strerror}); check it."
                ) from None
            for e in entries:
                try:
                    st = e.stat()
                    files.append((e.path, st.st_size, st.st_mtime_ns))
                except OSError:  # e.g. a dangling link: listed, then reported as skipped
                    files.append((e.path, -1, 0))
    return files


def _read_folders(
    files: list[str], root: Path, progress: Callable[[int, int], None] | None
) -> FerData:
    def read(p: str) -> np.ndarray | str:
        try:
            return to_48(read_gray(p))
        except WorkbenchError as exc:  # one bad file must not stop a 28,709-image load
            return str(exc)

    images, labels, usage, sources, skipped = [], [], [], [], []
    # PIL releases the GIL while decoding, so threads use every core.
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) + 2)) as pool:
        for i, (p, result) in enumerate(zip(files, pool.map(read, files))):
            rel = os.path.relpath(p, root)
            if isinstance(result, str):
                skipped.append({"path": rel, "reason": result})
            else:
                images.append(result)
                class_dir, split_dir = Path(p).parent, Path(p).parent.parent
                labels.append(FER_FOLDER_NAMES[class_dir.name.lower()])
                in_test = split_dir.name.lower() == "test"
                usage.append(PRIVATE_TEST if in_test else TRAINING)
                sources.append(rel)
            if progress and i % 1024 == 0:
                progress(i, len(files))
    if progress:
        progress(len(files), len(files))
    if not images:
        raise WorkbenchError(f"No readable face images under {describe(root)}; {DOWNLOAD_HINT}.")
    return _collect(images, labels, usage, sources, "folders", root, skipped)


# ------------------------------------------------------------------- splits


def split_indices(
    data: FerData,
    split: str,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    by_content: bool = True,
) -> np.ndarray:
    """Indices into ``data`` for ``split``; validation never overlaps training.

    With PublicTest rows present they are the validation set. Otherwise ``val_fraction``
    of each class of the training images is held out, chosen by ``seed`` and the image's
    pixels, so duplicate images stay on one side; ``by_content=False`` (the leakage lesson
    only) draws by position instead, so a duplicate's copies can land on both sides.
    """
    if split not in SPLITS:
        raise WorkbenchError(f"Unknown split {split!r}; use one of {', '.join(SPLITS)}.")
    if split == "all":
        return np.arange(len(data.labels))
    if split == "test":
        return np.flatnonzero(data.usage == PRIVATE_TEST)
    train = np.flatnonzero(data.usage == TRAINING)
    if (data.usage == PUBLIC_TEST).any():
        return train if split == "train" else np.flatnonzero(data.usage == PUBLIC_TEST)
    key = (val_fraction, seed, by_content)
    if key not in data._holdout:
        data._holdout[key] = stratified_holdout(
            data.labels[train], val_fraction, seed, data.images[train] if by_content else None
        )
    val = data._holdout[key]
    mask = np.zeros(len(train), dtype=bool)
    mask[val] = True
    return train[~mask] if split == "train" else train[mask]


def stratified_holdout(
    labels: np.ndarray, fraction: float, seed: int, images: np.ndarray | None = None
) -> np.ndarray:
    """Positions of ``fraction`` of each class (at least one where a class has 2+).

    Each image gets a score from a hash of its pixels and ``seed``; the lowest scores of
    each class are held out. Membership therefore depends on the image itself, not on its
    position: adding or removing a file moves at most a couple of images between the
    sides, and exact duplicate images (FER-2013 has some) land on the same side.
    Without ``images`` the score is a seeded random draw.
    """
    if fraction <= 0:
        return np.array([], dtype=np.int64)
    if images is None:
        scores = np.random.default_rng(seed).random(len(labels))
    else:
        salt = seed.to_bytes(8, "little", signed=True)
        scores = np.array(
            [
                int.from_bytes(
                    hashlib.blake2b(im.tobytes(), digest_size=8, salt=salt).digest(), "little"
                )
                for im in images
            ],
            dtype=np.uint64,
        )
    held: list[np.ndarray] = []
    for c in np.unique(labels):
        pos = np.flatnonzero(labels == c)
        n = int(round(len(pos) * fraction))
        if len(pos) >= 2:
            n = min(max(n, 1), len(pos) - 1)
        held.append(pos[np.argsort(scores[pos], kind="stable")[:n]])
    return np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)


def _hashes(images: np.ndarray | torch.Tensor) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(images, dtype=np.uint8))
    rows = arr.reshape(len(arr), -1)
    out = np.empty(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        digest = hashlib.blake2b(row.tobytes(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "little") >> 1  # 63 bits: fits an int64
    return out


def fingerprints(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """Content hashes of (N, 48, 48) uint8 images, sorted and unique.

    Identical pixels give identical hashes whatever file, folder or CSV they came from,
    so FER-2013's own exact duplicates across its splits are caught too.
    """
    return np.unique(_hashes(images))


def seen_mask(images: np.ndarray | torch.Tensor, seen: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N,) bool: which of ``images`` have a fingerprint in ``seen`` (pixel-identical to
    one of a model's training images)."""
    return np.isin(_hashes(images), np.asarray(seen))


def count_seen(images: np.ndarray | torch.Tensor, seen: np.ndarray | torch.Tensor) -> int:
    """How many of ``images`` have a fingerprint in ``seen`` (a model's training images)."""
    return int(seen_mask(images, seen).sum())


# ------------------------------------------------------------------ dataset


class FER2013:
    """One split of FER-2013 (``root, split, transform`` like torchvision's datasets).

    ``images`` is the whole split as one (N, 48, 48) uint8 tensor and ``labels`` an (N,)
    int64 tensor, so training can move the set to the GPU at once. Indexing gives a dict
    ``{"image": (1, 48, 48) float in [0, 1], "label": int}`` for per-sample use.
    """

    classes: tuple[str, ...] = FER_CLASSES

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: Callable | None = None,
        *,
        val_fraction: float = 0.1,
        seed: int = 0,
        by_content: bool = True,
        cache_dir: str | Path | None = None,
        data: FerData | None = None,
    ) -> None:
        self.data = data if data is not None else load_fer2013(root, cache_dir=cache_dir)
        self.split = split
        self.transform = transform
        self.indices = split_indices(
            self.data, split, val_fraction=val_fraction, seed=seed, by_content=by_content
        )
        self.images = torch.from_numpy(self.data.images[self.indices])
        self.labels = torch.from_numpy(self.data.labels[self.indices])

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        image = self.images[i].unsqueeze(0).float() / 255.0  # (1, 48, 48)
        if self.transform is not None:
            image = self.transform(image)
        return {"image": image, "label": int(self.labels[i])}

    def class_counts(self) -> dict[str, int]:
        """Images per class in this split, in FER class order."""
        return class_counts(self.labels, FER_CLASSES)

    def get_metadata(self, i: int) -> dict:
        """Where image ``i`` came from, without decoding anything."""
        j = int(self.indices[i])
        usage = ("Training", "PublicTest", "PrivateTest")[int(self.data.usage[j])]
        label = int(self.data.labels[j])
        return {
            "source": str(self.data.sources[j]),
            "usage": usage,
            "label": label,
            "emotion": FER_CLASSES[label],
        }

    def __repr__(self) -> str:
        return f"FER2013(root={str(self.data.root)!r}, split={self.split!r}, n={len(self)})"
