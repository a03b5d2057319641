"""The window on a classroom projector: a 1024x768 screen (its own Xvfb server here).

Every button and setting must be on screen or scroll into view, the charts beside them,
and View ▸ Larger text must enlarge the window's fonts and the charts' text, and go back.
"""

from __future__ import annotations

import os
import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk

import pytest
from conftest import fer_rows, pump, write_fer_csv, write_ravdess
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from datasets.sources import DataSources
from emotion_gui.charts import crowded, fit_titles
from emotion_gui.layout import opening_geometry

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")

# What a person can click, pick or type into.
CONTROLS = (ttk.Button, ttk.Combobox, ttk.Spinbox, ttk.Radiobutton, ttk.Checkbutton, ttk.Entry)


@pytest.fixture(scope="session")
def projector(display):
    """The name of a private 1024x768 X screen. ``DISPLAY`` stays the session's: the
    windows here open on this screen by name. It lives as long as the session: Tk keeps
    its connection to a screen after the window is gone, and a server that went away
    under it ends the whole process (Xlib's fatal IO error)."""
    from emotion_gui.xvfb import start_xvfb

    before = os.environ.get("DISPLAY")
    proc = start_xvfb("1024x768x24")
    name = os.environ.get("DISPLAY")
    if before is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = before
    if proc is None:
        pytest.skip("Xvfb is missing or did not start (apt-get install xvfb)")
    yield name
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> DataSources:
    """Tiny data: the window's layout, not the data, is under test."""
    root = tmp_path_factory.mktemp("layout")
    fer = write_fer_csv(
        root / "fer" / "fer2013.csv",
        fer_rows(2) + fer_rows(1, ("PublicTest",), seed=1),
        "emotion,pixels,Usage",
    )
    return DataSources(fer.parent, write_ravdess(root / "ravdess", actors=(1, 2)))


def restore_display() -> None:
    """Tk opened on a named screen makes it the process's ``DISPLAY``, behind
    ``os.environ``'s back: the windows of later tests would open there. Put it back."""
    if (display := os.environ.get("DISPLAY")) is None:
        os.unsetenv("DISPLAY")
    else:
        os.environ["DISPLAY"] = display


def open_window(sources: DataSources, screen: str | None = None):
    """The workbench on ``screen`` (default: ``DISPLAY``), its data loaded and drawn;
    ``app.errors`` collects what its dialogs would have said."""
    from emotion_gui.app import WorkbenchApp

    root = tk.Tk(screenName=screen)
    restore_display()
    app = WorkbenchApp(root, sources)
    app.errors = []
    app._error = app.errors.append
    pump(root, lambda: app.loaded is not None and app.renderer.idle())
    return app


@pytest.fixture(scope="module")
def app(projector, sources):
    """One window on the 1024x768 screen for the whole module (each opening costs
    seconds); a test that changes it puts it back."""
    app = open_window(sources, projector)
    yield app
    assert not app.errors, app.errors
    if app.root.winfo_exists():
        app.close()


def inside(widget: tk.Misc, frame: tk.Misc) -> bool:
    """``widget`` lies wholly inside ``frame``'s area on the screen."""
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    fx, fy = frame.winfo_rootx(), frame.winfo_rooty()
    return (
        fx <= x
        and fy <= y
        and x + widget.winfo_width() <= fx + frame.winfo_width()
        and y + widget.winfo_height() <= fy + frame.winfo_height()
    )


def controls(widget: tk.Misc) -> list[tk.Misc]:
    found = [widget] if isinstance(widget, CONTROLS) else []
    for child in widget.winfo_children():
        found += controls(child)
    return found


def assert_every_control_reachable(app) -> None:
    """Each control in the side panel scrolls into the panel's view, inside the window,
    and its panel never covers the charts."""
    panel, root = app.side_panel, app.root
    found = controls(panel.interior)
    assert len(found) >= 20  # buttons of four groups and the settings
    for widget in reversed(found):  # bottom up, then top down: both directions scroll
        panel.see(widget)
        root.update()
        assert inside(widget, panel.canvas), widget
        assert inside(panel.canvas, root)
    assert panel.winfo_rootx() + panel.winfo_width() <= app.tabs.winfo_rootx()


def test_the_opening_size_follows_the_screen():
    assert opening_geometry(1024, 768) == ("1000x672+12+0", (800, 540))
    assert opening_geometry(1280, 800) == ("1256x704+12+0", (800, 540))
    geometry, smallest = opening_geometry(2560, 1440)  # a large screen: not all of it
    assert geometry == "1600x1000+480+172" and smallest == (800, 540)
    assert opening_geometry(800, 600) == ("776x504+12+0", (776, 504))  # a minimum that fits
    # A 1366x768 laptop and a 1024x768 projector side by side: on the laptop's part.
    assert opening_geometry(1366 + 1024, 768)[0] == "1341x672+12+0"


def test_the_window_buttons_settings_and_charts_fit_a_1024x768_screen(app):
    root = app.root
    width, height = root.winfo_screenwidth(), root.winfo_screenheight()
    assert (width, height) == (1024, 768)
    assert 0 <= root.winfo_rootx() and root.winfo_rootx() + root.winfo_width() <= width
    assert 0 <= root.winfo_rooty() and root.winfo_rooty() + root.winfo_height() <= height
    assert root.winfo_height() <= 768 - 60  # room for a title bar and a desktop panel
    tabs = app.tabs
    assert tabs.winfo_rootx() + tabs.winfo_width() <= root.winfo_rootx() + root.winfo_width()
    assert tabs.winfo_width() >= 640  # the charts' share of the 1024 px
    assert_every_control_reachable(app)


def test_a_short_window_scrolls_its_side_panel_by_wheel_not_its_settings(app):
    root, panel = app.root, app.side_panel
    root.geometry("1000x540")  # the smallest window: the panel is taller than it
    pump(root, lambda: panel.scrollable and panel.scrollbar.winfo_ismapped(), timeout=10)
    try:
        assert_every_control_reachable(app)
        panel.canvas.yview_moveto(0)
        preset = next(w for w in controls(panel.interior) if isinstance(w, ttk.Combobox))
        before = preset.get()
        for _ in range(3):  # X11's wheel, then Windows' and macOS's
            preset.event_generate("<Button-5>")
        preset.event_generate("<MouseWheel>", delta=-120)
        root.update()
        assert panel.canvas.yview()[0] > 0 and preset.get() == before
        preset.event_generate("<Button-4>")
        preset.event_generate("<MouseWheel>", delta=120 * 10)
        root.update()
        assert panel.canvas.yview()[0] == 0
    finally:
        root.geometry(opening_geometry(1024, 768)[0])
        pump(root, lambda: not panel.scrollable and not panel.scrollbar.winfo_ismapped())


def test_larger_text_enlarges_fonts_and_charts_by_its_keys_and_goes_back(app):
    from emotion_gui.commands import COMMANDS, accelerator
    from emotion_gui.textsize import BANNER, LARGER

    root = app.root
    names = ("TkDefaultFont", "TkTextFont", "TkHeadingFont", "TkMenuFont", BANNER)
    sizes = {n: tkfont.nametofont(n, root).cget("size") for n in names}
    chart = app.data_view.chart
    dpi = chart.figure.dpi
    assert [accelerator(COMMANDS[n].key) for n in ("larger_text", "normal_text")] == [
        "Ctrl++",
        "Ctrl+-",
    ]
    root.focus_force()
    root.event_generate("<Control-plus>", when="tail")  # the key the View menu shows
    pump(root, lambda: app.larger_text.get() and app.renderer.idle(), timeout=20)
    try:
        for name, size in sizes.items():
            assert tkfont.nametofont(name, root).cget("size") == round(size * LARGER), name
        assert chart.figure.dpi == pytest.approx(dpi * LARGER)  # its text, in points, too
        assert_every_control_reachable(app)  # the panel is taller than the window now
    finally:
        root.event_generate("<Control-minus>", when="tail")
        pump(root, lambda: not app.larger_text.get() and app.renderer.idle(), timeout=20)
    assert {n: tkfont.nametofont(n, root).cget("size") for n in names} == sizes
    assert chart.figure.dpi == pytest.approx(dpi)


def test_the_live_tab_keeps_every_control_on_the_projector_with_larger_text(app):
    """Its source and record bars wrap onto more lines rather than lose Stop or Play."""
    root, view = app.root, app.live_view
    app.tabs.select(view)
    pump(root, lambda: view.winfo_ismapped() and app.renderer.idle())
    found = controls(view)
    assert len(found) >= 9  # two sources and their File… buttons, Start, Stop, Record's five
    lines = len(view.record_button.master.master.lines)
    try:
        for larger in (False, True):
            app.set_larger_text(larger)
            pump(root, lambda: app.renderer.idle() and all(w.winfo_ismapped() for w in found))
            for widget in found:
                assert widget.winfo_ismapped() and inside(widget, app.tabs), (larger, widget)
            assert view.canvas.winfo_height() > 200  # the picture keeps its room
        assert len(view.start_button.master.master.lines) == 2  # wrapped, larger
    finally:
        app.set_larger_text(False)
        pump(root, app.renderer.idle, timeout=20)
        app.tabs.select(app.data_view)
    assert len(view.record_button.master.master.lines) == lines == 1


def test_chart_titles_stay_inside_their_figure_on_the_projector(app):
    for view in (app.data_view, app.training_view, app.results_view, app.compare_view):
        app.tabs.select(view)
        chart = view.chart
        pump(app.root, lambda c=chart: c.width > 1 and c.shown and app.renderer.idle())
        figure = chart.figure
        box = figure.bbox
        for ax in figure.axes:
            title = ax.title.get_window_extent()
            assert box.x0 - 1 <= title.x0 and title.x1 <= box.x1 + 1, ax.get_title()
    app.tabs.select(app.data_view)


def test_a_long_title_takes_more_lines_on_a_narrow_figure_and_its_own_when_wide():
    fig = Figure(figsize=(3, 2.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    title = "Speech: 1,440 recordings by emotion (24 actors, 2,880 video clips)"
    ax.set_title(title, fontsize=10)
    fit_titles(fig)
    fig.canvas.draw()
    assert "\n" in ax.get_title() and ax.get_title().replace("\n", " ") == title
    assert ax.title.get_window_extent().x1 <= fig.bbox.x1
    fig.set_size_inches(9, 2.5)
    fit_titles(fig)
    assert ax.get_title() == title and ax.title.get_fontsize() == 10


@pytest.mark.filterwarnings("ignore:constrained_layout not applied")
def test_crowded_tells_when_the_axes_have_no_room_for_their_text():
    fig = Figure(figsize=(6, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    for ax in fig.subplots(2, 2).flat:
        ax.set_title("a title")
        ax.set_xlabel("time (s)")
    assert not crowded(fig)
    fig.set_size_inches(1.2, 0.9)
    assert crowded(fig)


def test_the_window_still_opens_sensibly_on_a_1280x800_screen(display, sources):
    app = open_window(sources, display)
    root = app.root
    try:
        width, height = root.winfo_screenwidth(), root.winfo_screenheight()
        if (width, height) != (1280, 800):
            pytest.skip(f"the session's screen is {width}x{height}")
        assert (root.winfo_width(), root.winfo_height()) == (1256, 704)
        assert root.winfo_rootx() + root.winfo_width() <= width
        assert root.winfo_rooty() + root.winfo_height() <= height
        assert not app.side_panel.scrollable  # every button shows without scrolling
        assert all(inside(w, app.side_panel.canvas) for w in controls(app.side_panel.interior))
        assert app.tabs.winfo_width() >= 900
    finally:
        app.close()
