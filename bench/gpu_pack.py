#!/usr/bin/env python3
"""What a GPU machine needs for ``make gpu-check`` and does not have, into ``.gpu-pack/``.

    python bench/gpu_pack.py [--out .gpu-pack] [--shared ../shared/data] [--limit-mib 64]

The GPU machines lent to this project have Python 3.12 with PyTorch (CUDA), OpenCV,
pandas, matplotlib and scikit-learn, but not soundfile, soxr or captum, and no network;
what travels there (the repository's tree plus carried folders) must stay under 64 MiB.
This writes into the ignored ``.gpu-pack/``:

  * ``wheels/``: Python 3.12 manylinux x86-64 wheels of soundfile (it carries libsndfile),
    cffi, pycparser, soxr and captum, at the versions this project pins or runs
    (``pip download --only-binary=:all:``; needs network here);
  * ``fer2013_train.tar.gz``: the FER-2013 training images from ``<shared>/fer2013/train``
    (Kaggle layout, original JPEG bytes), all of them if they fit, else the same seeded
    share of every class, as many as fit beside the tree and the wheels;
  * ``PACK.json``: what is in it, the sizes and the share of FER-2013 kept.

``bench/gpu_check.py`` installs the wheels and unpacks the images on the GPU machine.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets.errors import WorkbenchError, describe  # noqa: E402
from datasets.labels import FER_CLASSES  # noqa: E402

MIB = 1024 * 1024
WHEELS = ("soundfile", "cffi", "pycparser", "soxr", "captum")
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
MARGIN = 3 * MIB  # for the code the tree gains before the check runs, and the tar's headers
FER_ARCHIVE = "fer2013_train.tar.gz"


def pinned_versions() -> dict[str, str]:
    """Each wheel's version: requirements.txt's pin, else the one installed here."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if version:
            pins[name.strip().lower()] = version.strip()
    return {n: pins.get(n) or metadata.version(n) for n in WHEELS}


def download_wheels(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    wanted = pinned_versions()
    have = {w.name.split("-")[0].lower(): w for w in folder.glob("*.whl")}
    for stale in [w for n, w in have.items() if f"-{wanted.get(n)}-" not in w.name]:
        stale.unlink()  # another version: pip would refuse two of one package
    need = [f"{n}=={v}" for n, v in wanted.items() if not list(folder.glob(f"{n}-{v}-*.whl"))]
    if need:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--python-version", "3.12", "--implementation", "cp"]
        for p in PLATFORMS:
            cmd += ["--platform", p]
        cmd += ["--disable-pip-version-check", "-q", "-d", str(folder), *need]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise WorkbenchError(
                f"pip could not download {', '.join(need)} ({done.stderr.strip()[-300:]}); "
                "make gpu-pack needs network access to PyPI."
            )
    return sorted(folder.glob("*.whl"))


def tree_bytes() -> int:
    """The bytes of what travels to the device machine: tracked files and untracked files
    git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return sum(
        (ROOT / p.decode()).stat().st_size for p in listed if p and (ROOT / p.decode()).is_file()
    )


def fer_images(shared: Path) -> dict[str, list[Path]]:
    train = shared / "fer2013" / "train"
    if not train.is_dir():
        raise WorkbenchError(
            f"{describe(train)} is missing; pass --shared with the folder that holds "
            "fer2013/train/<class>/ images."
        )
    found = {c: sorted((train / c).glob("*.jpg")) for c in FER_CLASSES}
    if not any(found.values()):
        raise WorkbenchError(f"{describe(train)} holds no <class>/*.jpg images.")
    return found


def choose(images: dict[str, list[Path]], budget: int, seed: int) -> tuple[dict, float]:
    """The same seeded share of every class, as large as ``budget`` bytes allow."""
    rng = random.Random(seed)
    order = {c: rng.sample(files, len(files)) for c, files in images.items()}
    total = sum(f.stat().st_size for files in images.values() for f in files)
    share = min(1.0, budget / total) if total else 0.0
    while True:
        kept = {c: files[: round(share * len(files))] for c, files in order.items()}
        size = sum(f.stat().st_size for files in kept.values() for f in files)
        if size <= budget or share <= 0:
            return kept, share
        share *= 0.98


def fill(
    archive: Path, images: dict[str, list[Path]], budget: int, seed: int
) -> tuple[dict, float]:
    """Write the largest share whose archive fits ``budget`` bytes: gzip shrinks FER-2013's
    JPEGs (their headers repeat) by a ratio measured on a first try."""
    ratio = 1.0
    for _ in range(4):
        kept, share = choose(images, int(budget / ratio), seed)
        write_archive(archive, kept)
        size = archive.stat().st_size
        raw = sum(f.stat().st_size for files in kept.values() for f in files)
        if size <= budget and (share >= 1.0 or budget - size < 0.02 * budget):
            break
        ratio = size / max(raw, 1) * 1.005
    if size > budget:
        archive.unlink()
        raise WorkbenchError(f"No share of FER-2013 fits in {budget / MIB:.1f} MiB.")
    return kept, share


def write_archive(path: Path, kept: dict[str, list[Path]]) -> None:
    tmp = path.with_suffix(".partial")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        for c, files in kept.items():
            for f in sorted(files):
                info = tarfile.TarInfo(f"fer2013/train/{c}/{f.name}")
                data = f.read_bytes()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=ROOT / ".gpu-pack")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--limit-mib", type=float, default=64.0, help="what may travel, in all")
    ap.add_argument("--seed", type=int, default=0, help="which FER-2013 images a share keeps")
    args = ap.parse_args(argv)
    try:
        images = fer_images(args.shared)
        wheels = download_wheels(args.out / "wheels")
        archive = args.out / FER_ARCHIVE
        archive.unlink(missing_ok=True)
        fixed = tree_bytes() + sum(w.stat().st_size for w in wheels)
        budget = int(args.limit_mib * MIB) - fixed - MARGIN
        if budget <= 0:
            raise WorkbenchError(
                f"The tree and the wheels take {fixed / MIB:.1f} MiB already, no room for "
                f"FER-2013 under {args.limit_mib:g} MiB; remove large untracked files first."
            )
        kept, share = fill(archive, images, budget, args.seed)
    except WorkbenchError as exc:
        print(exc, file=sys.stderr)
        return 2
    n_all = sum(len(v) for v in images.values())
    n_kept = sum(len(v) for v in kept.values())
    pack_bytes = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    manifest = {
        "wheels": [w.name for w in wheels],
        "fer2013": {
            "archive": FER_ARCHIVE,
            "source": str(args.shared / "fer2013" / "train"),
            "images": n_kept,
            "of": n_all,
            "share": round(share, 4),
            "seed": args.seed,
            "per_class": {c: len(v) for c, v in kept.items()},
        },
        "tree_mib": round(tree_bytes() / MIB, 2),
        "pack_mib": round(pack_bytes / MIB, 2),
        "limit_mib": args.limit_mib,
    }
    (args.out / "PACK.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = (tree_bytes() + pack_bytes) / MIB
    print(f"{describe(args.out)}: {len(wheels)} wheels ({', '.join(WHEELS)}), {n_kept} of {n_all}")
    print(f"FER-2013 training images ({share:.0%} of each class), {pack_bytes / MIB:.1f} MiB;")
    print(f"with the tree ({manifest['tree_mib']:.1f} MiB): {total:.1f} of {args.limit_mib:g} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
