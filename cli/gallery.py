"""``examples`` (one confusion-matrix cell's held-out items as a picture) and
``embeddings`` (the map of a model's held-out embeddings, by emotion and by actor)."""

from __future__ import annotations

import argparse

from .common import add_command, json_text, positive_int

DATA_HELP = (
    "the data to rebuild the held-out items from: a FER-2013 folder or CSV, a RAVDESS "
    "folder, or 'demo' (default: the data the model was trained on, where it still is)"
)


def _data(args: argparse.Namespace):
    return args.data[0] if args.data and len(args.data) == 1 else args.data


def cmd_examples(args: argparse.Namespace) -> int:
    from matplotlib.figure import Figure

    from training.gallery import cell_figure_size, plot_cell
    from training.held_out import held_out_items
    from training.plots import save_figure

    held = held_out_items(args.model, _data(args))
    held.class_index(args.true)  # an unknown emotion is one sentence before any drawing
    held.class_index(args.predicted)
    fig = Figure(figsize=cell_figure_size(held, args.true, args.predicted), layout="constrained")
    idx = plot_cell(fig, held, args.true, args.predicted)
    save_figure(fig, args.out)
    if args.json:
        answer = {
            **_about(held),
            "true": args.true,
            "predicted": args.predicted,
            "n_items": len(idx),
            "n_held_out": len(held),
            "items": [held.item_row(i) for i in idx],
        }
        print(json_text(answer))
    else:
        print(
            f"{len(idx)} of {len(held)} held-out items ({held.split} split) are {args.true} "
            f"and were called {args.predicted}; picture: {args.out}"
        )
    return 0


def _about(held) -> dict:
    """What every answer of these commands starts with: the model, its data and split."""
    return {"model": str(held.model), "data": [str(p) for p in held.data], "split": held.split}


def cmd_embeddings(args: argparse.Namespace) -> int:
    from matplotlib.figure import Figure

    from training.embeddings import embedding_map, plot_embedding_map
    from training.held_out import held_out_items
    from training.plots import save_figure

    held = held_out_items(args.model, _data(args))
    result = embedding_map(held, args.method, args.fold)
    names = list(result["colours"]) if args.colour == "both" else [args.colour]
    if args.colour not in ("both", *result["colours"]):
        names = ["emotion"]  # faces have no actors
    fig = Figure(figsize=(6.5 * len(names), 5.8), layout="constrained")
    title = f"{held.model.name}: {len(result['idx'])} held-out items"
    if "fold" in result:
        title += f" (fold {result['fold']} of {len(result['folds'])})"
    for n, name in enumerate(names):
        plot_embedding_map(fig.add_subplot(1, len(names), n + 1), result, name, title)
    save_figure(fig, args.out)
    if args.json:
        answer = {
            **_about(held),
            "method": args.method,
            "silhouette_on": "embeddings (all dimensions) and the 2-D map, Euclidean",
            "silhouette": result["silhouette"],
            **({k: result[k] for k in ("fold", "folds")} if "folds" in result else {}),
            "points": [
                {**held.ids[i], "true": held.classes[held.true[i]], "x": float(x), "y": float(y)}
                for i, (x, y) in zip(result["idx"], result["points"])
            ],
        }
        print(json_text(answer))
    else:
        for name, score in result["silhouette"].items():
            print(
                f"by {name}: silhouette {score['embedding']} on the embeddings, "
                f"{score['map']} on the map"
            )
        print(f"picture: {args.out}")
    return 0


def _common(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "model", metavar="RUN_OR_CHECKPOINT", help="a run folder or a .pt file (starters too)"
    )
    s.add_argument("--data", nargs="+", metavar="PATH", help=DATA_HELP)
    s.add_argument("--out", required=True, metavar="PNG", help="where to write the picture")
    s.add_argument("--json", action="store_true", help="print the items as JSON")


def add_examples(subparsers) -> None:
    s = add_command(
        subparsers,
        "examples",
        "the held-out items of one cell of a model's confusion matrix, as a picture",
        cmd_examples,
    )
    _common(s)
    s.add_argument("--true", required=True, metavar="EMOTION", help="the cell's true emotion")
    s.add_argument(
        "--predicted", required=True, metavar="EMOTION", help="the cell's predicted emotion"
    )


def add_embeddings(subparsers) -> None:
    from training.embeddings import METHODS

    s = add_command(
        subparsers,
        "embeddings",
        "a 2-D map of a model's held-out embeddings, coloured by emotion and by actor",
        cmd_embeddings,
    )
    _common(s)
    s.add_argument("--method", choices=METHODS, default="pca", help="PCA (default) or t-SNE")
    s.add_argument(
        "--colour",
        choices=("both", "emotion", "actor"),
        default="both",
        help="colour the points by emotion, by actor (speech), or both side by side",
    )
    s.add_argument(
        "--fold",
        type=positive_int,
        default=1,
        help="for cross-validation models averaged: which fold's model to draw (1-based)",
    )
