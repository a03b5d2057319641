"""One task per model kind: ``TASKS["face"]``, ``TASKS["speech"]``, ``TASKS["fusion"]``.

``task_for(kind)`` gives a kind's task, with one sentence for an unknown kind. See
``base.Task`` for what a task says and the README's developer section for adding a kind.
"""

from __future__ import annotations

from datasets.errors import WorkbenchError

from .base import DataReader, DataSettings, EvalItems, Task
from .face import FaceTask
from .fusion import FusionTask
from .speech import SpeechTask

TASKS: dict[str, Task] = {t.kind: t for t in (FaceTask(), SpeechTask(), FusionTask())}
KINDS = tuple(TASKS)  # what ``train`` accepts, in the window's order


def task_for(kind: str) -> Task:
    """The task of model kind ``kind``."""
    try:
        return TASKS[kind]
    except KeyError:
        raise WorkbenchError(
            f"Unknown model kind {kind!r}; use one of {', '.join(KINDS)}."
        ) from None


__all__ = ["KINDS", "TASKS", "DataReader", "DataSettings", "EvalItems", "Task", "task_for"]
