"""Writes the model card (README.md) of each bundled model from its config, its training facts
(`training.json`, written by `train.py`) and the scores of `evaluate.py`."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import safe_open


def _parameters(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*.safetensors"):
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                total += _numel(handle.get_slice(key).get_shape())
    return total


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _facts(path: Path) -> str:
    if not path.exists():
        return "(no training facts recorded)"
    facts = json.loads(path.read_text())
    return "\n".join(f"| {k} | {v} |" for k, v in facts.items())


WORLD = (
    "Trained only on the procedurally drawn *shapes world* (`pipelines/shapes/world.py`): 64x64 images of one or "
    "two coloured shapes (6 colours, 3 shapes, 2 sizes, 9 places, 4 relations) on a pale background, drawn on "
    "the fly from a seed. Held-out attribute combinations (16 colour-shape-place triples, 13 object pairs) never "
    "appear in a training image; the scores below are measured on them."
)
REPRODUCE = "python -m pipelines.shapes.train {name}\npython -m pipelines.shapes.evaluate --write"


SD_LIMITS = """## Limits (as released)
Colours and shapes follow the prompt on held-out combinations, and two-object scenes now come out right about
3 times in 10 (relation right about half the time); a single object's place ("on the left") does not follow the
prompt (0.20, near chance). Measured cause: the seed, not the prompt, decides where an object goes (the same seed
puts "in the center" and "on the right" at the same spot), because SD's noise schedule leaves the layout faintly
visible at t = T on 16x16 latents, so the model learned to read layout from the noise. 4,944 steps on a shared
2-core CPU (2,120 at batch 64, then 2,824 at batch 32; about 172 wall minutes at 1-2 torch threads). 900 further
steps with pyramid noise (`--pyramid-noise 0.8`) did not help yet and are not in these weights. Continue with
`python -m pipelines.shapes.train unet --from-release` (a GPU makes it minutes). The seconds per image above were
measured while another benchmark shared the CPU (alone: about 0.4 s). Its 9-channel inpainting sibling is
`shapes-sd-inpaint` (`train inpaint` fine-tunes it from this UNet)."""


INPAINT_LIMITS = """## Limits (as released)
Trained with `python -m pipelines.shapes.train inpaint --steps 1400 --batch-size 32 --threads 2 --minutes 24` from
the 4,944-step `shapes-sd` (22.7 wall minutes, CPU). Its scores come from `python -m bench.inpaint --cases 20`
(written into `eval.json` by hand; `evaluate` does not measure inpainting). It changes no pixel outside the mask and
leaves smoother seams than the any-model method (GLIDE's point), but it puts the asked object in the mask less
often (0.30 against 0.50): 1,400 steps are few, and its training captions describe whole scenes."""


def _card(title: str, body: str, name: str, folder: Path, facts: Path, scores: dict, limits: str = "") -> str:
    score_rows = "\n".join(f"| {k} | {v} |" for k, v in scores.items()) or "| (not evaluated) | |"
    return f"""---
license: mit
library_name: diffusers
tags: [shapes-world, tiny, cpu]
---
# {title}

{body}

Parameters: {_parameters(folder):,} (all weights as safetensors).

## Training data
{WORLD}

## Training
| fact | value |
|---|---|
{_facts(facts)}

Reproduce (seeded, resumable from `runs/{name}/checkpoint.safetensors`):
```
{REPRODUCE.format(name=name)}
```

## Scores (`python -m pipelines.shapes.evaluate`)
| metric | value |
|---|---|
{score_rows}

{limits}
"""


def write_cards(assets: Path, results: dict) -> None:
    clip, sd, inpaint = assets / "shapes-clip", assets / "shapes-sd", assets / "shapes-sd-inpaint"
    if clip.exists():
        clip.joinpath("README.md").write_text(
            _card(
                "shapes-clip: a tiny CLIP pair for the shapes world",
                "`transformers.CLIPModel` (text: 3-layer causal transformer, width 128, word-level tokenizer of the "
                "shapes vocabulary, 16 tokens; vision: 3-layer ViT, 8x8 patches of 64x64 images; 64-d joint space), "
                "trained contrastively (symmetric InfoNCE, identical captions in a batch counted as matches). "
                "It is the studio's CLIP scorer, CLIP-guidance model and image embedder; its text tower initialises "
                "the text encoder of `shapes-sd`. Load: `CLIPModel.from_pretrained(folder)`, "
                "`AutoTokenizer.from_pretrained(folder)`.",
                "clip",
                clip,
                clip / "training.json",
                {"zero-shot caption retrieval, top-1, held-out images": results.get("clip_retrieval_top1", "n/a")},
            )
        )
    if sd.exists():
        scores = {"autoencoder PSNR (dB), held-out images": results.get("vae_psnr_db", "n/a")}
        for key, value in results.get("text_to_image", {}).items():
            scores[f"text-to-image {key}"] = value
        sd.joinpath("README.md").write_text(
            _card(
                "shapes-sd: a tiny Stable Diffusion for the shapes world",
                "A plain `StableDiffusionPipeline` folder: `UNet2DConditionModel` (blocks 64/128/128, fp16 "
                "weights, cross-attention at 16x16 and 8x8 latents, context width 128), `AutoencoderKL` (4x "
                "downsampling, 4 latent channels, blocks 16/32/64), `CLIPTextModel` text encoder (initialised "
                "from `shapes-clip`, fine-tuned with the UNet), word-level tokenizer, DPM++ 2M scheduler, no "
                "safety checker. Native size 64x64. Trained with the caption dropped 15 % of the time, so "
                "classifier-free guidance works; EMA weights; min-SNR-5 loss weighting. Text-to-image scores use "
                "DPM++ 2M, 20 steps, CFG scale 5, seeds 0-3 over the held-out prompts "
                "(`world.held_out_prompts()`). Loads with no code of ours: "
                "`StableDiffusionPipeline.from_pretrained(folder)`.",
                "unet",
                sd,
                sd / "unet" / "training.json",
                scores,
                SD_LIMITS,
            )
        )
    if inpaint.exists():
        inpaint.joinpath("README.md").write_text(
            _card(
                "shapes-sd-inpaint: a 9-channel inpainting UNet for the shapes world",
                "`StableDiffusionInpaintPipeline` folder: the `shapes-sd` UNet with 5 extra zero-initialised input "
                "channels (mask, masked-image latents), fine-tuned with GLIDE's random erasing (random rectangles, "
                "10 % full masks). VAE, text encoder and tokenizer are those of `shapes-sd`.",
                "inpaint",
                inpaint,
                inpaint / "unet" / "training.json",
                {k: v for k, v in results.get("inpaint", {}).items()},
                INPAINT_LIMITS,
            )
        )
