"""The embedding map: a model's embeddings of its held-out items laid out in 2-D (PCA, or
t-SNE) and coloured by emotion or by actor, with how well each colouring clusters.

The silhouette score (scikit-learn, Euclidean) is given twice per colouring: on the
embeddings themselves (what the network's last layer sees, whatever the layout) and on
the 2-D map (what the picture shows). Near 1: tight, separate groups; near 0: mixed.
A cross-validation ensemble's members each embed in their own space, so each fold gets
its own map; the scores are then also averaged over the folds.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score

from datasets.errors import WorkbenchError, describe

from .held_out import HeldOut

METHODS = ("pca", "tsne")
COLOURINGS = ("emotion", "actor")


def colourings(held: HeldOut, idx: np.ndarray) -> dict[str, list[str]]:
    """Each item's emotion and, for speech (and a pair's or a take's voice), its actor."""
    out = {"emotion": [held.classes[t] for t in held.true[idx]]}
    actors = held.actors()
    if actors is not None:
        out["actor"] = [f"actor {a}" for a in actors[idx]]
    return out


def layout(embeddings: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """The (N, 2) map of (N, D) embeddings."""
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(embeddings)
    perplexity = min(30.0, (len(embeddings) - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(embeddings)


def silhouette(points: np.ndarray, labels: list[str]) -> float | None:
    """The silhouette score of ``labels`` over ``points``; None with fewer than two groups
    (or as many groups as points), where it is not defined."""
    if not 2 <= len(set(labels)) < len(labels):
        return None
    return round(float(silhouette_score(points, labels)), 4)


def embedding_map(held: HeldOut, method: str = "pca", fold: int = 1) -> dict:
    """The map of one model's held-out items (``fold``: which member of an ensemble is
    drawn, 1-based), with each colouring's silhouette scores; ``folds`` holds every
    fold's scores for an ensemble, and ``silhouette`` then is their mean."""
    if method not in METHODS:
        raise WorkbenchError(f"Unknown --method {method!r}; use pca or tsne.")
    if held.embeddings is None:
        raise WorkbenchError(
            f"{describe(held.model)} averages two models' answers and has no single "
            "embedding; map one of its face or speech models instead."
        )
    members = np.unique(held.member)
    if not 1 <= fold <= len(members):
        raise WorkbenchError(f"--fold must be between 1 and {len(members)} for this model.")
    maps = []
    for k in members:
        idx = np.flatnonzero(held.member == k)
        if len(idx) < 3:
            raise WorkbenchError("Too few held-out items to draw a map; use more data.")
        emb = held.embeddings[idx].astype(np.float64)
        points = layout(emb, method)
        colours = colourings(held, idx)
        scores = {
            name: {
                "embedding": silhouette(emb, labels),
                "map": silhouette(points, labels),
            }
            for name, labels in colours.items()
        }
        maps.append({"idx": idx, "points": points, "colours": colours, "silhouette": scores})
    shown = maps[fold - 1]
    result = {
        "method": method,
        "idx": shown["idx"],
        "points": shown["points"],
        "colours": shown["colours"],
        "silhouette": shown["silhouette"],
    }
    if len(maps) > 1:
        result["fold"] = fold
        result["folds"] = [
            {"fold": n + 1, "actors": sorted(set(m["colours"].get("actor", []))), **m["silhouette"]}
            for n, m in enumerate(maps)
        ]
        result["silhouette"] = {
            name: {
                where: _mean([m["silhouette"][name][where] for m in maps])
                for where in ("embedding", "map")
            }
            for name in shown["silhouette"]
        }
    return result


def _mean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def plot_embedding_map(ax: Axes, result: dict, colouring: str, title: str = "") -> None:
    """Draw the map's points coloured by ``colouring`` ("emotion" or "actor"), one legend
    entry per group, with the silhouette scores in the title."""
    labels = result["colours"][colouring]
    points = result["points"]
    groups = sorted(set(labels), key=_natural)
    palette = "tab10" if len(groups) <= 10 else "tab20"
    colours = colormaps[palette]
    labels = np.asarray(labels)
    for n, group in enumerate(groups):
        at = labels == group
        ax.scatter(*points[at].T, s=12, color=colours(n % colours.N), label=group, alpha=0.8)
    score = result["silhouette"][colouring]
    ax.set_title(
        (title + "\n" if title else "")
        + f"by {colouring}: silhouette {_fmt(score['embedding'])} (embeddings), "
        f"{_fmt(score['map'])} (this map)",
        fontsize=9,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    method = "PCA" if result["method"] == "pca" else "t-SNE"
    ax.set_xlabel(f"{method} 1", fontsize=8)
    ax.set_ylabel(f"{method} 2", fontsize=8)
    ax.legend(fontsize=7, markerscale=1.2, loc="best", ncols=2 if len(groups) > 8 else 1)


def _natural(name: str):
    """'actor 2' before 'actor 10'."""
    head, _, tail = name.rpartition(" ")
    return (head, int(tail)) if tail.isdigit() else (name, 0)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
