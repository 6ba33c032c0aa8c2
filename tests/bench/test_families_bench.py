"""bench.families: its quick run prints a row per text-to-image family with a finite ratio and both sides drawing the
same image. Asserts on structure and sanity, never on speed (a few steps on a shared CPU are noise)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.families import COLUMNS, FAMILY_MODELS

ROOT = Path(__file__).resolve().parents[2]
# Families the studio's text to image cannot run yet, and why (remove an entry once its row has numbers).


def _table(out: str) -> dict[str, dict[str, str]]:
    lines = [line for line in out.splitlines() if line.startswith("|")]
    assert tuple(c.strip() for c in lines[0].strip("|").split("|")) == COLUMNS
    assert set(lines[1].replace("|", "")) == {"-"}
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(COLUMNS), line
        row = dict(zip(COLUMNS, cells, strict=True))
        rows[row["family"]] = row
    return rows


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[str, dict[str, dict[str, str]]]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.families", "--quick", "--rounds", "2", "--steps", "2"]
        + ["--root", str(tmp_path_factory.mktemp("bench-families"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, _table(result.stdout)


@pytest.mark.slow
def test_the_quick_run_has_a_row_per_family_and_no_verdict(quick_run):
    out, rows = quick_run
    assert out.startswith("bench.families: studio text_to_image vs plain diffusers, cpu (fp32), DPM++ 2M, 2 steps")
    assert list(rows) == list(FAMILY_MODELS)
    for family, row in rows.items():
        assert row["model"] == FAMILY_MODELS[family]
        assert row["verdict"] == "-" or row["verdict"].startswith("ERROR"), row  # no ok/over on quick timings


@pytest.mark.slow
@pytest.mark.parametrize(
    "family",
    list(FAMILY_MODELS),
)
def test_each_family_has_a_finite_ratio_and_the_same_image_on_both_sides(quick_run, family):
    _, rows = quick_run
    row = rows[family]
    assert not row["verdict"].startswith("ERROR"), row["verdict"]
    ratio = float(row["ratio"])
    assert math.isfinite(ratio) and ratio > 0, row
    assert float(row["plain (ms)"]) > 0 and float(row["studio (ms)"]) > 0, row
    assert row["paired overhead"].endswith("%"), row
    assert row["same image"] == "yes", row  # both sides ran the same settings
