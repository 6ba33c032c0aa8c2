"""bench.upscale runs (quick mode): a finite ratio, and the studio's upscale gives the plain pipeline's image."""

from __future__ import annotations

import math

import pytest


@pytest.mark.slow
def test_the_upscale_bench_runs_and_both_sides_draw_the_same_image():
    from bench.upscale import main

    (row,) = main(["--quick", "--threads", "1"])
    assert row["same image"] == "yes", row
    assert math.isfinite(float(row["ratio"])) and float(row["ratio"]) > 0, row
    assert row["paired overhead"].endswith("%"), row
