"""Soak: N sequential generations through the launched app — RSS growth ≤ 5 %, no file-descriptor growth, and
temp files bounded by the cache policy (one content-addressed PNG per distinct image). `SOAK_N=200`: the full run."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from gradio_client import Client
from robust_helpers import TALLY, image_path, open_fds, rss_bytes

SOAK_N = int(os.environ.get("SOAK_N", "40"))
DISTINCT_SEEDS = 10  # seeds cycle, so the cache may hold at most this many new PNGs


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_soak_sequential_generations_do_not_leak(robust_url):
    client = Client(robust_url, verbose=False, download_files=False)

    def one(i: int) -> str:
        gallery, seed, status, _ = client.predict(
            prompt="a red circle above a blue square", steps=2, seed=5000 + i % DISTINCT_SEEDS, api_name="/txt2img"
        )
        assert "1 image(s)" in status, status
        return image_path(gallery[0])

    cache = Path(one(0)).parent.parent  # Gradio's cache folder: <cache>/<sha256>/image.png
    for i in range(1, 2 * DISTINCT_SEEDS):  # warm-up: every seed's PNG is in the cache, allocator settled
        one(i)
    gc.collect()
    rss0, fds0, files0 = rss_bytes(), open_fds(), _files(cache)
    for i in range(SOAK_N):
        one(i)
    gc.collect()
    rss_growth = (rss_bytes() - rss0) / rss0 * 100
    new_files = _files(cache) - files0
    fd_growth, file_growth = open_fds() - fds0, len(new_files)
    TALLY.update(soak_n=SOAK_N, soak_rss_growth_pct=rss_growth, soak_fd_growth=fd_growth, soak_temp_growth=file_growth)
    assert rss_growth <= 5, f"RSS grew {rss_growth:.1f} % over {SOAK_N} generations"
    assert fd_growth <= 3, f"{fd_growth} more open files after {SOAK_N} generations"
    assert file_growth <= 0, f"new temp files although every image was already cached: {sorted(new_files)[:5]}"
