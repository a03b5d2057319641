"""Deterministic synthetic demo data: the workbench's built-in default data set.

``make_demo_data`` writes, in the formats of the real data sets, so that every loader and button
works on a fresh machine with no download:

* ``fer2013/fer2013.csv`` — procedurally drawn 48x48 grayscale faces in the original FER-2013
  CSV layout (``emotion,pixels,Usage``), with FER-like class imbalance (disgust rare, happy
  common) and a stratified 80/10/10 Training/PublicTest/PrivateTest split.
* ``ravdess/Actor_XX/03-01-EE-II-SS-RR-XX.wav`` — source-filter synthetic speech for each
  synthetic actor (odd actor numbers male, even female, as in RAVDESS): 8 emotions x 2
  intensities x 2 statements x 2 repetitions, neutral only at intensity 01 (60 takes per actor),
  16 kHz 16-bit PCM mono, 3.0 s.
* ``ravdess/Actor_XX/02-01-EE-II-SS-RR-XX.mp4`` — one video-only clip per speech take: the
  actor's animated face (64x64 px, 15 fps, 45 frames = 3.0 s, fourcc ``mp4v``) whose mouth
  opening follows the amplitude envelope of the matching ``03-01`` WAV and which shows that
  take's emotion.

The data are built so that *fusion visibly helps*: faces confuse fear/surprise, angry/disgust and
calm/neutral, which voices separate; voices confuse happy/angry and sad/neutral, which faces
separate (see ``bench/demo_separability.py`` for the measured numbers).

Determinism: every item draws from its own generator, ``np.random.default_rng([seed, kind,
...])``, so the bytes do not depend on the order of work or on the number of worker processes.
WAVs are written with the standard-library ``wave`` module (no timestamps). The mp4s are
byte-identical run to run as well: OpenCV's FFmpeg writer leaves the encoder single-threaded
(no thread-dependent slicing) and sets no creation time (the mp4 header holds 0), and the
only version string is the muxer's ("Lavf..."). Bytes can differ under another opencv-python
build (another FFmpeg) or possibly another CPU's SIMD code path; the decoded frames then differ
by rounding only.

Modules, by job (each imports only modules listed above it):

* ``config`` — sizes, rates, default set size, random-stream identifiers (constants only).
* ``marker`` — the ``.complete`` marker: ``read_marker``, ``is_complete`` (json only).
* ``faces`` — identities, pose and lighting, expression parameters per emotion.
* ``drawing`` — ``render_face``: the procedural face renderer.
* ``fer`` — the FER-2013 rows: class counts, Usage split, each row's face.
* ``voices`` — the speech takes, actor voices, prosody, ``synthesize_speech``, ``write_wav``.
* ``video`` — the video-only clips: ``render_clip_frames``, ``write_mp4``.
* ``build`` — ``make_demo_data`` and ``ensure_demo_data``: workers, the folder, the marker.

Importing this package is cheap: the loaders only need ``read_marker``, so the generator (numpy,
SciPy, OpenCV) is imported on first use of ``make_demo_data`` or ``ensure_demo_data``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from datasets.demo.config import DEMO_VERSION
from datasets.demo.marker import MARKER_NAME, is_complete, read_marker

if TYPE_CHECKING:
    from datasets.demo.build import ensure_demo_data, make_demo_data

__all__ = [
    "DEMO_VERSION",
    "MARKER_NAME",
    "ensure_demo_data",
    "is_complete",
    "make_demo_data",
    "read_marker",
]

_FROM_BUILD = ("make_demo_data", "ensure_demo_data")


def __getattr__(name: str) -> object:
    """``make_demo_data`` and ``ensure_demo_data``, imported from ``build`` on first use."""
    if name in _FROM_BUILD:
        value = getattr(importlib.import_module("datasets.demo.build"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """Lists the names imported on first use too (for tab completion)."""
    return sorted(set(globals()) | set(__all__))
