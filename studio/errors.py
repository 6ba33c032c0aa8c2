"""The boundary where pipeline errors become messages in the browser."""

from __future__ import annotations

import logging

import gradio as gr

logger = logging.getLogger(__name__)


def to_gradio_error(error: BaseException) -> gr.Error:
    """`ValueError`s (incl. `StudioError`) are written for people: show them as they are; hide the rest."""
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, ValueError):
        return gr.Error(str(error), title="Cannot generate")
    logger.exception("unexpected error", exc_info=error)
    return gr.Error(f"Something went wrong: {type(error).__name__}: {error}. The details are in the server log.")


def explain_unreadable_input(component: gr.components.Component, name: str) -> gr.components.Component:
    """Makes `component`'s preprocessing (run by Gradio before the handler) fail with a message for people.

    Gradio hides any non-`gr.Error` raised while it decodes an input ("The upstream Gradio app has raised an
    exception"): an upload that is not an image, a truncated file, a decompression bomb, a NaN in a number.
    Wrapped per instance, at build time; the component's own behaviour is otherwise unchanged.
    """
    from PIL import Image, UnidentifiedImageError

    original = component.preprocess

    def preprocess(payload):
        try:
            return original(payload)
        except gr.Error:
            raise
        except Image.DecompressionBombError as e:
            raise gr.Error(f"`{name}` is far too large to open safely ({e}); use a smaller picture") from e
        except UnidentifiedImageError as e:
            raise gr.Error(f"`{name}` is not an image the studio can read: upload a PNG, JPEG or WebP file") from e
        except OSError as e:
            raise gr.Error(f"`{name}` could not be read, the file looks damaged or truncated ({e})") from e
        except (ValueError, TypeError) as e:
            if payload is None:
                raise gr.Error(f"`{name}` is missing: give it a value") from e
            raise gr.Error(f"`{name}` has an invalid value: {e}") from e

    component.preprocess = preprocess
    return component


def explain_unreadable_inputs(components: list, fn) -> None:
    """`explain_unreadable_input` for each input of an event, named after `fn`'s parameters (the API names)."""
    import inspect

    for component, name in zip(components, inspect.signature(fn).parameters, strict=False):
        explain_unreadable_input(component, name)
