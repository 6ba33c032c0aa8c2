"""`python app.py` as Spaces runs it: the host's environment decides where it listens, unless flags say."""

from __future__ import annotations

import pytest
from launching import SPACES_ENV, free_port, listening, serve

pytestmark = pytest.mark.slow


def test_on_a_space_it_listens_where_the_environment_says():
    port = free_port()
    proc = serve(["--offline"], {**SPACES_ENV, "GRADIO_SERVER_PORT": str(port)}, port)
    try:
        assert listening(port) == {"0.0.0.0"}  # the Space's proxy can reach it
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_flags_win_over_the_environment():
    port, other = free_port(), free_port()
    env = {**SPACES_ENV, "GRADIO_SERVER_PORT": str(other)}
    proc = serve(["--offline", "--host", "127.0.0.1", "--port", str(port), "--no-preload"], env, port)
    try:
        assert listening(port) == {"127.0.0.1"} and not listening(other)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
