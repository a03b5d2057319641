"""How long can the window fail to react while a model trains? (issue 4: ≤ 150 ms)

Runs the real window on a private Xvfb screen with the demo data, trains the facial CNN
from the Train button's code path and, every 5 ms, schedules a Tk ``after`` callback; a
gap between two callbacks is how long a click would have waited. It does this twice in
one run:

1. as shipped: charts are drawn on the renderer thread (emotion_gui/charts.py);
2. the naive way most Tkinter apps do it: the same charts drawn on the Tk thread.

It prints the longest gap, the 99th percentile, and the ratio naive / shipped.

    python bench/gui_responsiveness.py [--epochs 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def train_and_measure(app, epochs: int) -> np.ndarray:
    """Train the face model in the window; return the event-loop gaps in seconds."""
    app.settings.epochs_var.set(str(epochs))
    n = len(app.trained)
    ticks: list[float] = []

    def tick():
        ticks.append(time.monotonic())
        if len(app.trained) > n:
            app.root.quit()
        else:
            app.root.after(5, tick)

    app.train("face")
    app.root.after(5, tick)
    app.root.mainloop()
    return np.diff(ticks)


def draw_on_tk_thread(chart, fn) -> None:
    """The naive way: change and draw the figure right here on the Tk thread."""
    chart.requested += 1
    if fn is not None:
        fn(chart.figure)
    if chart.width > 1 and chart.height > 1:
        chart.agg.draw()
        chart.show_image(np.asarray(chart.agg.buffer_rgba())[:, :, :3].copy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per training (default 4)")
    args = parser.parse_args()

    from emotion_gui.xvfb import start_xvfb

    xvfb = start_xvfb() if not os.environ.get("DISPLAY") else None
    if xvfb is None and not os.environ.get("DISPLAY"):
        sys.exit("needs a display or Xvfb (apt-get install xvfb)")
    scratch = tempfile.TemporaryDirectory(prefix="workbench-bench-")
    os.environ["WORKBENCH_RUNS_DIR"] = scratch.name  # keep runs/ as it is
    try:
        import tkinter as tk

        from datasets.sources import demo_sources, ensure_demo
        from emotion_gui.app import WorkbenchApp
        from emotion_gui.charts import ChartRenderer

        ensure_demo()
        root = tk.Tk()
        app = WorkbenchApp(root, demo_sources())
        while app.loaded is None or not app.renderer.idle():
            root.update()
            time.sleep(0.01)
        for _ in range(20):  # let the first picture reach the screen
            root.update()
            time.sleep(0.02)

        results = {}
        results["charts on the renderer thread (shipped)"] = train_and_measure(app, args.epochs)
        ChartRenderer.submit = lambda self, chart, fn: draw_on_tk_thread(chart, fn)
        results["charts on the Tk thread (naive)"] = train_and_measure(app, args.epochs)
        app.close()

        print(f"facial CNN, quick preset, {args.epochs} epochs on the demo data, each way")
        for name, gaps in results.items():
            print(
                f"  {name:<40} longest gap {gaps.max() * 1000:6.0f} ms   "
                f"p99 {np.percentile(gaps, 99) * 1000:5.0f} ms   "
                f"gaps over 150 ms: {(gaps > 0.150).sum()}"
            )
        shipped, naive = (g.max() for g in results.values())
        print(f"longest gap, naive / shipped: {naive / shipped:.1f}x  (limit 150 ms)")
    finally:
        if xvfb:
            xvfb.terminate()
        scratch.cleanup()


if __name__ == "__main__":
    main()
