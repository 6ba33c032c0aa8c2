"""Helpers of the robustness suite: calling the launched app, bad files, process metrics, and the tally."""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path

import httpx
import psutil

TINY = "tiny-sd"
PICKLE_ONLY = "zz-pickle-only"  # sorted after tiny-sd, so tiny-sd stays the default model
CORRUPT = "zz-corrupt-safetensors"

# Filled by the tests, printed by `pytest_terminal_summary`.
TALLY: dict[str, object] = {}
OUTCOMES = {"tried": 0, "passed": 0, "failed": 0, "skipped": 0}


def rss_bytes() -> int:
    return psutil.Process().memory_info().rss


def open_fds() -> int:
    return psutil.Process().num_fds()


# --------------------------------------------------------------------- calling it
def image_path(item) -> str:
    """The local path of a gallery item or image output, as gradio_client returns it."""
    if isinstance(item, str):
        return item
    image = item.get("image", item)
    return image if isinstance(image, str) else image["path"]


def call_raw(url: str, api: str, data_json: str, timeout: float = 120) -> tuple[str, dict]:
    """Calls `/gradio_api/call/<api>` with a hand-written JSON body (NaN/Infinity are not valid JSON, so the
    client refuses to send them; a browser or script could). Returns ("complete"|"error", payload)."""
    r = httpx.post(
        f"{url}gradio_api/call/{api}",
        content='{"data": ' + data_json + "}",
        timeout=30,
        headers={"content-type": "application/json"},
    )
    r.raise_for_status()
    event_id = r.json()["event_id"]
    kind, payload = "", None
    with httpx.stream("GET", f"{url}gradio_api/call/{api}/{event_id}", timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind in ("complete", "error"):
                payload = json.loads(line.split(":", 1)[1])
                break
    return kind, payload


def raw_row(client, api_name: str, values: dict) -> str:
    """The JSON body's data list for `api_name` (NaN and Infinity written as JavaScript would)."""
    parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"][api_name]["parameters"]
    names = [p["parameter_name"] for p in parameters]
    unknown = set(values) - set(names)
    assert not unknown, f"{api_name} has no parameter {unknown}"
    return json.dumps([values.get(p["parameter_name"], p.get("parameter_default")) for p in parameters])


def wait_for(predicate, timeout: float = 30.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


# --------------------------------------------------------------------- bad files
def png_header_bomb(path: Path, side: int = 20000) -> Path:
    """A valid PNG whose header claims side×side pixels (a few KB on disk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * (side * 3 + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path
