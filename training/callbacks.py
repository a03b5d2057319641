"""How ``fit`` reports: callbacks with four hooks. The CLI shows a tqdm bar; the GUI's
callback only puts events on a queue that the Tk thread drains."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Callback:
    """Override any of the hooks. They run on the training thread: keep them quick and
    never touch Tk from them."""

    def on_fit_start(self, info: dict) -> None:
        """``info``: epochs, start_epoch, n_batches, n_train, n_val, device."""

    def on_batch_end(self, info: dict) -> None:
        """``info``: epoch, batch (1-based), n_batches, loss (running mean this epoch), lr."""

    def on_epoch_end(self, record: dict) -> None:
        """``record``: one row of history.csv plus ``improved`` and ``best_epoch``."""

    def on_fit_end(self, result) -> None:
        """``result``: the ``FitResult``."""


class ProgressBar(Callback):
    """A tqdm bar per epoch on stderr, and one summary line per finished epoch."""

    def __init__(self, label: str = "", file=None) -> None:
        self.label = label
        self.file = file or sys.stderr
        self.bar: tqdm | None = None
        self.epochs = 0

    def on_fit_start(self, info: dict) -> None:
        self.epochs = info["epochs"]
        print(
            f"{self.label}training on {info['device']}: {info['n_train']} train / "
            f"{info['n_val']} validation items, epochs {info['start_epoch']}-{self.epochs}",
            file=self.file,
        )

    def on_batch_end(self, info: dict) -> None:
        if self.bar is None:
            self.bar = tqdm(
                total=info["n_batches"],
                desc=f"{self.label}epoch {info['epoch']}/{self.epochs}",
                file=self.file,
                leave=False,
                dynamic_ncols=True,
                disable=None,  # no bar when stderr is not a terminal (logs, pipes)
            )
        self.bar.n = info["batch"]
        self.bar.set_postfix(loss=f"{info['loss']:.3f}", refresh=False)
        self.bar.refresh()

    def on_epoch_end(self, record: dict) -> None:
        self._close()
        mark = " *" if record["improved"] else ""
        print(
            f"{self.label}epoch {record['epoch']:>3}/{self.epochs}  "
            f"train loss {record['train_loss']:.3f} acc {record['train_accuracy']:.1%}  "
            f"val loss {record['val_loss']:.3f} acc {record['val_accuracy']:.1%} "
            f"UAR {record['val_uar']:.1%}  {record['seconds']:.1f} s{mark}",
            file=self.file,
        )

    def on_fit_end(self, result) -> None:
        self._close()
        if result.stopped:
            print(
                f"{self.label}stopped; keeping the best epoch ({result.best_epoch})", file=self.file
            )
        elif result.early_stopped:
            print(
                f"{self.label}early stop: no validation gain since epoch {result.best_epoch}",
                file=self.file,
            )

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
