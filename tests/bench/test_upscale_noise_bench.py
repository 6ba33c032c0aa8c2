"""bench.upscale_noise runs (quick mode): the bundled base model's pictures, upscaled by a tiny random x4 upscaler
(the bench's code path; its numbers mean nothing), a row per noise level beside the base model's own."""

from __future__ import annotations

import math

import pytest

from pipelines.testing import build_tiny_sd_upscaler_folder


@pytest.mark.slow
def test_the_noise_level_bench_scores_the_base_pictures_and_each_level(tmp_path):
    from bench.upscale_noise import main

    folder = build_tiny_sd_upscaler_folder(tmp_path / "tiny-upscaler")
    rows = main(["--quick", "--threads", "1", "--upscaler", str(folder)])
    assert [row["input"] for row in rows] == [
        "base model, 64x64 (no upscaling)",
        "upscaled, noise level 0",
        "upscaled, noise level 20",
    ]
    for row in rows:
        assert 0 <= row["prompt right"] <= 1 and 0 <= row["off-palette"] <= 1, row
    assert math.isnan(rows[0]["clean PSNR"]) and all(math.isfinite(row["clean PSNR"]) for row in rows[1:]), rows
