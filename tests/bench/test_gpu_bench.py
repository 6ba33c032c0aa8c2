"""bench.gpu: its configs are the published architectures, and its smoke run prints the whole table (so the GPU
command cannot rot on a machine without one). Asserts on structure and sanity, never on speed."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gpu import COLUMNS, OFFLOAD_ORDER, build_components, load_configs, peak_tflops

ROOT = Path(__file__).resolve().parents[2]

# Parameter counts of the published checkpoints (stable-diffusion-v1-5, stable-diffusion-xl-base-1.0).
PUBLISHED_PARAMS = {
    "sd15": {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480},
    "sdxl": {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840},
}


@pytest.mark.parametrize("family", sorted(PUBLISHED_PARAMS))
def test_the_kept_configs_build_the_published_architectures(family):
    parts = build_components(load_configs(family, smoke=False), "meta")  # no memory, no weights
    counts = {name: sum(p.numel() for p in module.parameters()) for name, module in parts.items()}
    assert counts == PUBLISHED_PARAMS[family]


@pytest.mark.parametrize("family", sorted(PUBLISHED_PARAMS))
def test_the_smoke_configs_only_scale_the_published_ones(family):
    published, smoke = load_configs(family, smoke=False), load_configs(family, smoke=True)
    for component, config in smoke.items():
        assert set(config) == set(published[component]), component  # no new settings: the same architecture
        for key in ("down_block_types", "up_block_types", "_class_name", "architectures", "addition_embed_type"):
            assert config.get(key) == published[component].get(key), (component, key)


def test_peaks_are_looked_up_by_device_name():
    assert peak_tflops("NVIDIA H200") == 989
    assert peak_tflops("NVIDIA H100 80GB HBM3") == 989
    assert peak_tflops("NVIDIA H100 PCIe") == 756
    assert peak_tflops("NVIDIA A100-SXM4-80GB") == 312
    assert peak_tflops("NVIDIA L40S") == 362
    assert peak_tflops("NVIDIA L4") == 121
    assert peak_tflops("NVIDIA A10G") == 125
    assert peak_tflops("Tesla T4") == 65
    assert peak_tflops("NVIDIA GeForce RTX 3060") is None  # printed as "unknown peak"


def _table(out: str) -> list[dict[str, str]]:
    lines = [line for line in out.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert tuple(header) == COLUMNS
    assert set(lines[1].replace("|", "")) == {"-"}
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(COLUMNS), line
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


def _ratio(value: str) -> float:
    match = re.search(r"\(([-+0-9.eEinfa]+)x\)", value)
    assert match, value
    return float(match.group(1))


@pytest.mark.slow
def test_the_smoke_run_prints_every_row_with_finite_positive_numbers(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--smoke", "--cache-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("bench.gpu --smoke: cpu (cpu), fp32")
    rows = _table(result.stdout)
    assert not [r for r in rows if r["verdict"] in ("ERROR", "SKIPPED")]
    for family in ("sd15", "sdxl"):
        model = f"{family}-random-smoke"
        mine = [r for r in rows if r["model"] == model]
        measures = [(r["batch"], r["measure"]) for r in mine]
        for mode in OFFLOAD_ORDER:
            assert ("1", f"peak memory, offload={mode}") in measures
            assert ("1", f"manager start -> first image, offload={mode}") in measures
        assert ("-", "model") in measures
        assert "128x128" in next(r["value"] for r in mine if r["measure"] == "model")
        for batch in ("1", "4"):
            its = next(r for r in mine if r["batch"] == batch and r["measure"].startswith("it/s, studio vs plain"))
            wall = next(r for r in mine if r["batch"] == batch and r["measure"].startswith("s/call end to end"))
            for ratio in (_ratio(its["value"]), _ratio(wall["value"])):
                assert math.isfinite(ratio) and ratio > 0
            assert its["target"] == ">= 0.95x" and its["verdict"] == "-"  # no verdict on smoke timings
            flops = next(r for r in mine if r["batch"] == batch and r["measure"].startswith("UNet FLOP/s"))
            assert "(fp32, AttnProcessor2_0 -> sdpa " in flops["measure"]
            per_step = re.search(r"; ([0-9.]+) ([PTGM]?)FLOP/step", flops["value"])
            assert per_step and float(per_step.group(1)) > 0, flops["value"]
            assert flops["value"].endswith("unknown peak")  # a CPU has no entry in the peak table
        peaks = [r["value"] for r in mine if r["measure"].startswith("peak memory")]
        assert all(re.match(r"[0-9.]+ GB peak RSS", v) and float(v.split()[0]) > 0 for v in peaks), peaks
