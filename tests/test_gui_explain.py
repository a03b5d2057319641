"""The Predict tab's Explain toggle: saliency drawn over the face crop and the photo, over
a recording's spectrogram and over each sampled face of a clip, computed on the
prediction's worker thread, and gone again when the toggle is off.

The window runs on a virtual screen (Xvfb) with the starter models of pretrained/.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED_DATA, needs_shared, pump
from matplotlib.image import AxesImage
from PIL import Image
from test_gui_warnings import app, predict_and_wait  # noqa: F401 (the window fixture)
from test_warnings import sharp_face, speech_like

pytestmark = pytest.mark.usefixtures("tk_garbage_module", "tk_garbage")


def toggle_and_wait(app, on: bool) -> None:  # noqa: F811
    """Switch Explain ``on`` or off as a click would, and wait for the redraw."""
    view = app.predict_view
    before = view.shown
    assert view.explaining() != on
    view.explain_toggle.invoke()
    pump(
        app.root, lambda: "predict" not in app.jobs and app.renderer.idle() and view.shown > before
    )
    app.root.update()


def drawn(view, name: str) -> bool:
    """Whether the overlay ``name`` is an image on one of the figure's axes now."""
    image = view.overlays.get(name)
    return isinstance(image, AxesImage) and any(image in ax.get_images() for ax in view.figure.axes)


def test_explain_overlays_the_face_and_the_spectrogram_and_goes_when_off(app, tmp_path):  # noqa: F811
    view = app.predict_view
    photo = tmp_path / "face.png"
    Image.fromarray(sharp_face()).save(photo)
    predict_and_wait(app, photo)
    assert view.overlays == {} and "saliency" not in view.prediction.details

    toggle_and_wait(app, on=True)  # the shown photo is explained on a worker thread
    assert drawn(view, "crop") and drawn(view, "photo")
    sal = view.prediction.arrays["face_saliency"]
    assert sal.shape == (48, 48) and np.isfinite(sal).all()
    assert app.errors == []

    toggle_and_wait(app, on=False)
    assert view.overlays == {} and view.kind == "image"

    toggle_and_wait(app, on=True)  # already computed: drawn again at once
    assert drawn(view, "crop")

    voice = tmp_path / "voice.wav"
    sf.write(voice, speech_like(), 16000)
    predict_and_wait(app, voice)  # with Explain on, a new prediction comes explained
    assert view.kind == "audio" and drawn(view, "spectrogram")
    assert (
        view.prediction.arrays["features_saliency"].shape
        == view.prediction.arrays["features"].shape
    )


@needs_shared
def test_explain_overlays_each_sampled_face_of_a_clip(app, monkeypatch):  # noqa: F811
    from training.explain import DEFAULT_METHODS

    # The overlays, not the method, are under test here: Grad-CAM takes a second, not 30.
    monkeypatch.setitem(DEFAULT_METHODS, "face", "gradcam")
    clip = sorted((SHARED_DATA / "ravdess_video").glob("*.mp4"))[0]
    view = app.predict_view
    view.explain_toggle.invoke()
    before = view.shown
    app.predict(clip)
    pump(
        app.root,
        lambda: "predict" not in app.jobs and app.renderer.idle() and view.shown > before,
        timeout=600,
    )
    frames = [i for i, f in enumerate(view.prediction.details["frames"]) if f["face_found"]]
    assert frames and set(view.overlays) == {f"frame {i}" for i in frames}  # all 8 shown
    assert all(drawn(view, name) for name in view.overlays)
