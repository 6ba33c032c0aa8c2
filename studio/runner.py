"""One way for a tab to run an action of `pipelines/` (the job contract of `pipelines/jobs.py`).

`run_action` gives the run the session's Stop flag, runs it in a worker thread, reports each step to the
event's `gr.Progress` (from the event's own thread, where Gradio can see it), streams previews as UI updates,
turns errors into messages a person understands, and returns a `Finished` with the result and the status line.

    finished = yield from run_action(text_to_image, req, manager, stop_flags, request, progress, show=...)

Handlers live at module level in the tab files and get the manager and the Stop flags bound with `bind`.
"""

from __future__ import annotations

import functools
import inspect
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gradio as gr

from pipelines.cost import estimate_seconds
from pipelines.jobs import StepInfo
from pipelines.limits import fill_in
from pipelines.manager import PipelineManager
from pipelines.models import ModelEntry
from pipelines.shapes.grammar import unknown_words
from pipelines.shapes.tokenizer import folder_vocabulary

from .errors import to_gradio_error
from .sessions import StopFlags
from .zerogpu import gpu_function

_DONE = object()


@dataclass(frozen=True)
class Finished:
    """A finished run: the action's result, how long it took and how many steps the job had."""

    result: Any
    seconds: float
    total: int | None  # steps of the whole job (None when the action reported none)

    @property
    def stopped(self) -> bool:
        return self.result.stopped_at is not None

    def status(self, done: str, stopped: str = "") -> str:
        """The status line: "`done` in 1.2 s", or where Stop ended the run followed by `stopped`."""
        if self.stopped:
            of = f"/{self.total}" if self.total else ""
            return f"Stopped at step {self.result.stopped_at}{of}{stopped}"
        return f"{done} in {self.seconds:.1f} s"


def bind(handler: Callable, *args, name: str | None = None) -> Callable:
    """`handler` with its leading arguments (the manager, the Stop flags) bound: what an event calls.

    Like `functools.partial(handler, *args)`, whose signature it shows (the API names its inputs by the
    handler's remaining parameters), but a real function: Gradio reads type hints only from functions, so through a
    bare partial a `request: gr.Request` parameter is never filled in (and the docstring, which the API page and MCP
    tools show, would be partial's own). A generator handler stays a generator function, so it streams. `name`
    (default: the handler's) is the function's name, which Gradio's MCP server uses as the tool's name: give a
    public action its API name. A `{steps}` in the docstring becomes that limit's range ("1 to 150").
    """
    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def bound(*rest, **kwargs):
            return (yield from handler(*args, *rest, **kwargs))

    else:

        @functools.wraps(handler)
        def bound(*rest, **kwargs):
            return handler(*args, *rest, **kwargs)

    bound.__doc__ = fill_in(handler.__doc__ or "")
    bound.__signature__ = inspect.signature(functools.partial(handler, *args))
    bound.__name__ = bound.__qualname__ = name or handler.__name__
    bound.bound_args = args  # what the event was built with (tests find the app's Stop flags this way)
    return bound


def build_request(factory: Callable[[], Any]) -> Any:
    """`factory()` (a request built from form values); a bad value becomes a message in the browser."""
    try:
        return factory()
    except (ValueError, TypeError) as e:
        raise to_gradio_error(ValueError(str(e))) from e


def seed_of(value: float | None) -> int:
    """A seed box's value: None (an emptied box) means random, -1."""
    return int(value) if value is not None else -1


def run_action(
    action: Callable,
    request: Any,
    manager: PipelineManager,
    stop_flags: StopFlags,
    session: gr.Request | None,
    progress: gr.Progress,
    *,
    show: Callable[[StepInfo], tuple] | None = None,
    preview_every: int = 0,
    desc: str = "Denoising",
) -> Generator[tuple, None, Finished]:
    """Runs `action(manager, request, on_step=…, stop=…, preview_every=…)` for a tab's event.

    Args:
        request: the action's request; `request.model` (a registry name) is shown as loading when not loaded.
        session: the event's `gr.Request`, whose session's Stop button sets the run's flag.
        progress: the event's tracker; gets every step.
        show: turns a step that carries a preview or partial results into the event's outputs, yielded at once.
        preview_every: decode a preview every this many steps (0 = never).

    Returns (as the generator's value): the `Finished` run. Errors are raised as `gr.Error`.
    """
    started = time.perf_counter()
    model = getattr(request, "model", None)
    if model and not manager.is_loaded(model):
        progress(None, desc=f"Loading {model}…")
    total = None
    with session_stop_flag(stop_flags, session) as stop:
        try:
            for kind, item in gpu_job(action, manager, request, stop, preview_every):
                if kind == "result":
                    return Finished(item, time.perf_counter() - started, total)
                total = item.total
                progress((item.step, item.total), desc=item.stage or desc, unit="steps")
                if show is not None and (item.preview is not None or item.partial is not None):
                    yield show(item)
        except Exception as e:
            raise to_gradio_error(e) from e
    raise AssertionError("unreachable: the worker always ends with a result or an error")


def job(action: Callable, manager: PipelineManager, request: Any, stop: threading.Event, preview_every: int):
    """Runs the action in a worker thread; yields ("report", StepInfo) per step, then ("result", result)."""

    def work(on_step):
        return action(manager, request, on_step=on_step, stop=stop, preview_every=preview_every)

    yield from _in_worker(work)


def job_seconds(action: Callable, manager: PipelineManager, request: Any, stop, preview_every: int) -> int:
    """ZeroGPU's duration for `job` (same arguments): estimated from the request's steps, size, batch and method."""
    model = getattr(request, "model", None)
    native = manager.registry.get(model).native_size if model in manager.registry.names() else 512
    return estimate_seconds(request, native)


gpu_job = gpu_function(job, duration=job_seconds)  # every action of every tab runs through this one function


def stop_session(stop_flags: StopFlags, request: gr.Request):
    """The Stop button: sets the session's flag; the running action ends at its next step."""
    return "Stopping…" if stop_flags.stop(_session(request)) else gr.skip()


def warn_unknown_words(entry: ModelEntry, *texts: str) -> None:
    """Warns (without stopping the run) about words a bundled shapes model has never seen: outside the grammar, or
    added to it after the model was trained (its own tokenizer reads them as unknown)."""
    if entry.vocabulary != "shapes":
        return
    unknown = unknown_words(" ".join(texts), folder_vocabulary(entry.source))
    if unknown:
        gr.Warning(
            f"{entry.name} does not know: {', '.join(unknown)}. It knows only the shapes words it was trained on."
        )


@contextmanager
def session_stop_flag(stop_flags: StopFlags, request: gr.Request | None) -> Iterator[threading.Event]:
    """A fresh Stop flag for this session's run; set and forgotten when the run ends (or the client leaves)."""
    session = _session(request)
    stop = stop_flags.start(session)
    try:
        yield stop
    finally:
        stop.set()  # a closed generator (Stop, cancel, disconnect) ends the worker at its next step
        stop_flags.finish(session, stop)


def _session(request: gr.Request | None) -> str:
    return request.session_hash if request is not None and request.session_hash else "anonymous"


def _in_worker(work: Callable[[Callable[[Any], None]], Any]) -> Iterator[tuple[str, Any]]:
    """Yields ("report", r) for each `report(r)` the work makes, then ("result", value) at the end.

    The work runs in a worker thread so it can be watched step by step, while `gr.Progress` and `yield` work
    only in the event's own thread. An exception raised by the work is raised here after the worker ends.
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

    worker = threading.Thread(target=target, name="studio-worker", daemon=True)
    worker.start()
    while (item := reports.get()) is not _DONE:
        yield "report", item
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    yield "result", outcome.get("result")
