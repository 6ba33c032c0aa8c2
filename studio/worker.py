"""Runs model work in a worker thread and streams its reports back to the Gradio event's own thread.

`gr.Progress` and `yield` work only in the event's thread, while the work must run elsewhere to be
observable step by step; the worker puts reports on a queue, this generator hands them over in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import gradio as gr

from pipelines.models import ModelEntry
from pipelines.shapes.grammar import unknown_words

from .errors import to_gradio_error
from .sessions import StopFlags

_DONE = object()


def in_worker(work: Callable[[Callable[[Any], None]], Any], name: str = "studio-worker") -> Iterator[tuple[str, Any]]:
    """Yields ("report", r) for each `report(r)` the work makes, then ("result", value) at the end.

    An exception raised by the work is raised here, in the caller's thread, after the worker ends.
    """
    reports: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work(reports.put)
        except BaseException as e:  # re-raised in the caller's thread
            outcome["error"] = e
        finally:
            reports.put(_DONE)

    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    while (item := reports.get()) is not _DONE:
        yield "report", item
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    yield "result", outcome.get("result")


@contextmanager
def session_stop_flag(stop_flags: StopFlags, request: gr.Request | None) -> Iterator[threading.Event]:
    """A fresh Stop flag for this session's run; set and forgotten when the run ends (or the client leaves)."""
    session = request.session_hash if request is not None and request.session_hash else "anonymous"
    stop = stop_flags.start(session)
    try:
        yield stop
    finally:
        stop.set()  # a closed generator (Stop, cancel, disconnect) ends the worker at its next step
        stop_flags.finish(session, stop)


def generation_events(
    work: Callable[[Callable[[Any], None]], Any], progress: gr.Progress, desc: str = "Denoising"
) -> Iterator[tuple[str, Any]]:
    """Runs `work(on_step)` in a worker thread, where `on_step` receives `StepInfo`-like reports.

    Reports each step to `progress` (from the event's own thread, where Gradio can see it) and yields
    ("preview", info) for reports that carry a preview image, then ("result", value). Errors reach the
    browser as messages a person understands.
    """
    try:
        for kind, item in in_worker(work):
            if kind == "result":
                yield "result", item
                return
            progress((item.step, item.total), desc=desc, unit="steps")
            if getattr(item, "preview", None) is not None:
                yield "preview", item
    except Exception as e:
        raise to_gradio_error(e) from e


def warn_unknown_words(entry: ModelEntry, *texts: str) -> None:
    """Warns (without stopping the run) about words a bundled shapes model has never seen."""
    if entry.vocabulary != "shapes":
        return
    unknown = unknown_words(" ".join(texts))
    if unknown:
        gr.Warning(f"{entry.name} does not know: {', '.join(unknown)}. It only knows shapes-world words.")
