"""The AUTOMATIC1111 `parameters` PNG text chunk: write it on every image, read it back to restore settings.

Format (one chunk, key "parameters")::

    a red circle on the left
    Negative prompt: blurry
    Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1234, Size: 64x64, Model: shapes-sd

An SDXL base with its refiner adds A1111's ``Refiner: SDXL refiner, Refiner switch at: 0.8``. A value holding a
comma, a colon or a newline is written in double quotes (JSON escapes inside), as A1111 does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

KEY = "parameters"


@dataclass(frozen=True)
class GenerationParameters:
    """The settings that reproduce one image."""

    prompt: str
    negative_prompt: str = ""
    steps: int = 20
    sampler: str = "Euler a"
    cfg_scale: float = 7.0
    seed: int = 0
    width: int = 512
    height: int = 512
    model: str = ""
    refiner: str = ""  # the refiner that drew the low-noise steps ("" = the base alone)
    refiner_switch: float | None = None  # its "switch at": the fraction of the steps the base drew
    # A second, super-resolution stage (pipelines/upscale.py); Size stays the first stage's, as A1111's hires fix
    upscaler: str = ""
    upscale_steps: int | None = None
    upscale_noise_level: int | None = None
    upscale_cfg_scale: float | None = None
    upscale_seed: int | None = None  # written only when it is not `seed`


def format_parameters(p: GenerationParameters) -> str:
    """The A1111 text: prompt line, optional negative prompt line, then the comma-separated settings."""
    lines = [p.prompt]
    if p.negative_prompt:
        lines.append(f"Negative prompt: {p.negative_prompt}")
    settings = [
        f"Steps: {p.steps}",
        f"Sampler: {p.sampler}",
        f"CFG scale: {_number(p.cfg_scale)}",
        f"Seed: {p.seed}",
        f"Size: {p.width}x{p.height}",
    ]
    if p.model:
        settings.append(f"Model: {_quote(p.model)}")
    if p.refiner:
        settings.append(f"Refiner: {_quote(p.refiner)}")
    if p.refiner_switch is not None:
        settings.append(f"Refiner switch at: {_number(p.refiner_switch)}")
    if p.upscaler:
        settings.append(f"Upscaler: {_quote(p.upscaler)}")
        for label, value in (
            ("Upscale steps", p.upscale_steps),
            ("Upscale noise level", p.upscale_noise_level),
            ("Upscale CFG scale", p.upscale_cfg_scale),
            ("Upscale seed", p.upscale_seed if p.upscale_seed != p.seed else None),
        ):
            if value is not None:
                settings.append(f"{label}: {_number(value)}")
    lines.append(", ".join(settings))
    return "\n".join(lines)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _quote(text: str) -> str:
    """A1111's `quote`: the text as is, or JSON-quoted when a comma, colon or newline would break the line."""
    return json.dumps(text, ensure_ascii=False) if any(c in text for c in ",:\n") else text


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value.strip('"')


# `Key: value` pairs; a value may be quoted (A1111 quotes values containing commas).
_PAIR = re.compile(r'\s*([\w ]+):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_parameters(text: str) -> GenerationParameters:
    """Parses A1111 `parameters` text; unknown keys (Hires, LoRA hashes…) are ignored.

    Raises:
        ValueError: the text has no settings line (`Steps: …`).
    """
    lines = text.strip().split("\n")
    if not lines or not lines[-1].lstrip().startswith("Steps:"):
        raise ValueError(f"`parameters` has no 'Steps: …' settings line, got {text[:80]!r}")
    settings = {k.strip(): _unquote(v) for k, v in _PAIR.findall(lines[-1]) if k.strip()}
    prompt_lines, negative_lines, in_negative = [], [], False
    for line in lines[:-1]:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line.removeprefix("Negative prompt:").strip()
        (negative_lines if in_negative else prompt_lines).append(line)
    width, height = 512, 512
    if "Size" in settings:
        width, height = (int(v) for v in settings["Size"].lower().split("x"))
    return GenerationParameters(
        prompt="\n".join(prompt_lines).strip(),
        negative_prompt="\n".join(negative_lines).strip(),
        steps=int(settings.get("Steps", 20)),
        sampler=settings.get("Sampler", "Euler a"),
        cfg_scale=float(settings.get("CFG scale", 7.0)),
        seed=int(settings.get("Seed", 0)),
        width=width,
        height=height,
        model=settings.get("Model", ""),
        refiner=settings.get("Refiner", ""),
        refiner_switch=float(settings["Refiner switch at"]) if "Refiner switch at" in settings else None,
        upscaler=settings.get("Upscaler", ""),
        upscale_steps=_optional(settings, "Upscale steps", int),
        upscale_noise_level=_optional(settings, "Upscale noise level", int),
        upscale_cfg_scale=_optional(settings, "Upscale CFG scale", float),
        upscale_seed=_optional(settings, "Upscale seed", int),
    )


def _optional(settings: dict[str, str], key: str, kind):
    return kind(settings[key]) if key in settings else None


def attach(image: Image.Image, text: str) -> Image.Image:
    """Stores `text` in `image.info` so that saving as PNG (ours or Gradio's) writes the chunk."""
    image.info[KEY] = text
    return image


def save_png(image: Image.Image, path: str | Path) -> None:
    """Saves `image` as PNG with its `parameters` chunk (and any other text in `image.info`)."""
    info = PngImagePlugin.PngInfo()
    for key, value in image.info.items():
        if isinstance(key, str) and isinstance(value, str):
            info.add_text(key, value)
    image.save(path, format="PNG", pnginfo=info)


def read_parameters(image: Image.Image | str | Path) -> str | None:
    """The `parameters` text of a PNG (path or opened image), or None when it has none."""
    if isinstance(image, (str, Path)):
        with Image.open(image) as opened:
            opened.load()
            return opened.info.get(KEY) or getattr(opened, "text", {}).get(KEY)
    return image.info.get(KEY) or getattr(image, "text", {}).get(KEY)
