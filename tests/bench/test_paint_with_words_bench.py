"""bench.paint_with_words runs end to end (on a tiny random model) and prints its table."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_the_paint_with_words_bench_prints_its_table(capsys):
    from bench.paint_with_words import main

    assert main(["--tiny", "--seeds", "1", "--steps", "2", "--strengths", "1"]) == 0
    out = capsys.readouterr().out
    assert "DPM++ 2M, 2 steps, CFG 5 ·" in out, out
    rows = [line for line in out.splitlines() if line.startswith(("no paint", "bias only, w = 1", "bias + steering"))]
    assert len(rows) == 3 and all("/16 (" in row for row in rows), out
