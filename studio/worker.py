"""Runs model work in a worker thread and streams its reports back to the Gradio event's own thread.

`gr.Progress` and `yield` work only in the event's thread, while the work must run elsewhere to be
observable step by step; the worker puts reports on a queue, this generator hands them over in order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

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
