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


def facts_sections(sections: list[tuple[str, Path]]) -> str:
    """The training-facts tables of a model's parts trained apart from its UNet ("Prior", a tuned text encoder),
    each under its title; only the parts whose `training.json` exists."""
    return "".join(
        f"\n{title}:\n\n| fact | value |\n|---|---|\n{_facts(path)}\n" for title, path in sections if path.is_file()
    )


# training.json fact -> the `train` flag that sets it
_FLAGS = {
    "steps": "--steps",
    "batch_size": "--batch-size",
    "learning_rate": "--lr",
    "seed": "--seed",
    "two_object_fraction": "--two-object-fraction",
    "count_fraction": "--count-fraction",
    "count_size_share": "--count-size-share",
    "layout_focus": "--layout-focus",
    "phrasing_share": "--phrasing-share",
    "anchor": "--anchor",
}


def train_command(facts: dict) -> str:
    """The `train` command line that a stage's recorded facts (`training.json`) come from."""
    words = ["python -m pipelines.shapes.train", facts["model"]]
    # facts written before `from_release` was recorded say `started_from` instead; `train text` always tunes the
    # release and has no flag for it
    if facts.get("from_release", "started_from" in facts) and facts["model"] not in ("text", "inpaint-text"):
        words.append("--from-release")
    elif facts.get("zero_terminal_snr_v_prediction") and facts["model"] == "unet":
        words.append("--zero-snr")
    words += [f"{flag} {facts[key]}" for key, flag in _FLAGS.items() if key in facts]
    if facts.get("init_synonyms"):
        words.append("--init-synonyms")
    return " ".join(words)


WORLD = (
    "Trained only on the procedurally drawn *shapes world* (`pipelines/shapes/world.py`): 64x64 images of one or "
    "two coloured shapes (6 colours, 3 shapes, 2 sizes, 9 places, 4 relations), or two or three copies of one "
    "kind (models trained since the counting words), on a pale background, drawn on the fly from a seed. Held-out "
    "attribute combinations (16 colour-shape-place triples, 13 object pairs, 6 colour-shape-count triples) never "
    "appear in a training image; the scores below are measured on them."
)


EVALUATE = "python -m pipelines.shapes.evaluate --write"


SD_LIMITS = """## History and limits (as released)
Trained in stages on a shared 2-core CPU, each stage starting from the previous one's EMA weights (`train unet
--from-release`, a fresh `--runs-dir` per stage; the facts above are the last stage's).
(1) 4,944 steps with SD's own schedule and epsilon prediction (about 172 wall minutes). It drew the right colours
and shapes but put a single object where the seed, not the prompt, said (place right 0.20): SD's schedule leaves
the layout faintly visible at t = T on 16x16 latents, so the model learned to read layout from the noise.
(2) 4,203 steps with a zero-terminal-SNR schedule and v-prediction (Lin et al. 2024, `--zero-snr`; the scheduler
config says `rescale_betas_zero_snr`, `v_prediction`, `trailing` timesteps; 124 wall minutes). At t = T the input
is pure noise, so the prompt has to say where things go: place right 0.20 -> 1.0. Two-object scenes right 0.31.
(3) 3,000 steps with 70 % two-object scenes (`--seed 1 --two-object-fraction 0.7`, 106 wall minutes): two-object
0.39, but the relation stayed a coin flip (0.47-0.52 at every snapshot from 1,000 to 3,000 steps): the model put
the two objects on the right axis and in either order.
(4) 1,000 steps with 90 % two-object scenes and 60 % of the timesteps drawn from t >= 600, where the layout is
decided (`--seed 2 --two-object-fraction 0.9 --layout-focus 0.6`, 27 wall minutes): relation 0.60, two-object 0.51.
(5) 2,400 steps with 80 % two-object scenes and half the timesteps from t >= 600 (`--seed 3 --two-object-fraction
0.8 --layout-focus 0.5`, 63 wall minutes): relation 0.87, two-object 0.72.
(6) 800 steps with 80 % two-object scenes and 30 % of the timesteps from t >= 600 (`--seed 4
--two-object-fraction 0.8 --layout-focus 0.3`, 21 wall minutes): two-object 0.74, not released alone (inpainting
method (a) on it fell to 85 % in-mask over the bench's 120 cases, from 92 %).
(7) 1,200 steps with 70 % two-object scenes, layout focus 0.3 (`--seed 5 --two-object-fraction 0.7 --layout-focus
0.3`, 31 wall minutes sharing the CPU with another run): two-object 0.83, inpainting (a) back at 93 % over the 120
cases. It followed the canonical captions only: in the phrasings the grammar also reads ("Violet box at the lower
right corner.") one object right 0.38, two objects 0.37.
(8)-(10) not released: continued training lost the schedule and trained the epsilon objective (a bug of
`--from-release`, since fixed).
(11) 1,200 steps at batch 64 from stage 7 with 60 % of the captions in a random phrasing (`phrasing.phrase`: synonyms,
other prepositions, articles or none, capitals, punctuation; `--seed 9 --two-object-fraction 0.8 --layout-focus 0.3
--phrasing-share 0.6`, 43 wall minutes). Over seeds 0-7: paraphrased prompts one object 0.98, two objects 0.77
(from 0.38 / 0.37); canonical one object 0.94, two objects 0.82 (stage 7: 0.95 / 0.83 at seeds 0-3).
(12)-(13) not released: continuations of stage 11 with more of the same data, or a lower learning rate, lost on both.
(14) 2,000 steps at batch 64 from stage 11 with counts of one kind ("three blue squares", 30 % of the scenes; the
text encoder grew rows for the counting words: each plural from its singular, "two" and "three" from "one" plus
seeded noise), half the rest two-object scenes, 60 % phrased captions (`--seed 17 --count-fraction 0.3
--two-object-fraction 0.5 --layout-focus 0.3 --phrasing-share 0.6`, 80 wall minutes sharing the CPU; the facts
above). Seeds 0-3: canonical one object 0.94 -> 0.95, two objects 0.81 -> 0.88; paraphrased 1.00 / 0.76 ->
0.94 / 0.76; held-out counts drawn with the right number 0.11 -> 0.78 (colour 0.90, shape 0.78). Learning to count
also cured most one-object duplicates (the commonest one-object miss before).
(15) not released: 1,066 steps from stage 14 with more counts and phrasings at the same learning rate (one object
0.92, counts 0.75).
(16) 1,600 steps at batch 64 from stage 14 at a lower peak learning rate, 40 % counts, half the rest two-object
scenes, 60 % phrased captions (`--lr 2e-4 --seed 23 --count-fraction 0.4 --two-object-fraction 0.5 --layout-focus
0.3 --phrasing-share 0.6`, 75 wall minutes sharing the CPU; the facts above). Seeds 0-3: held-out counts drawn
with the right number 0.78 -> 0.90 (colour 0.94, shape 0.81; in other phrasings 0.89), paraphrased prompts
0.92 / 0.82 against canonical 0.94 / 0.84 (within 0.02 for one object and for two; stage 14: 0.94 / 0.76 against
0.95 / 0.88). One object fell by one image of 64 and two objects by two of 52 on the canonical captions.
Tuning the text encoder alone afterwards (`train text`, distillation; tried on stage 14) closed the paraphrase gap
too but moved the canonical readings (two objects 0.88 -> 0.78-0.82), or with `--anchor 0.05` kept them and left
the gap at 0.08, so it was not released.
The numbers above were read by the judge of before 2026-12-07, which took small triangles with tips the VAE softens
for circles and an orange object's soft rim for a second, yellow object. The current judge reads stage 16 (seeds
0-3): one object 1.00 / 1.00 (canonical / other phrasings), two objects 0.93 / 0.88, counts right number 0.89,
colour 0.94, shape 0.92.
(17) not released: 1,200 steps from stage 16 at a peak learning rate of 1e-4 with 40-50 % counts (two runs, `--seed
41 --count-fraction 0.4 --two-object-fraction 0.35 --layout-focus 0.3` and `--seed 43 --count-fraction 0.5
--two-object-fraction 0.3 --layout-focus 0`, `--phrasing-share 0.5`; 75 wall minutes each, side by side): counted
colours 0.86-0.89 and shapes 0.85-0.90, two objects 0.89-0.90, none better than stage 16.
Then the autoencoder's decoder alone was tuned on scenes with 40 % counts, on latents jittered as a UNet's are
(`train vae --from-release --steps 800 --batch-size 32 --lr 2e-4 --seed 101 --count-fraction 0.4`, 15 wall minutes;
its facts are above): it had shifted the colours of large flat areas (three large blue squares drawn purple). PSNR
36.9 -> 38.4 dB on held-out images, 31.1 -> 34.3 dB on held-out counts; with stage 16's UNet, counted shapes
0.92 -> 0.94, and other phrasings of two objects 0.88 -> 0.89. The remaining counting misses are "three large green
squares" (a held-out combination): the UNet draws four squares in a grid with patches of other colours. Trained
colours fail that layout too (three large squares fit only in three of four corners): over seeds 0-7 three large red,
blue, yellow, purple, orange squares are right 3, 2, 1, 4, 1 times of 8.
(18) not released: two 1,200-step runs from stage 16 with more of the counts saying their size (`--lr 2e-4
--count-fraction 0.4 --two-object-fraction 0.5 --layout-focus 0.3 --phrasing-share 0.6`, `--seed 51 --count-size-share
0.7` and `--seed 53 --count-size-share 0.5`; 80 wall minutes each, side by side). The first's three large squares of
all six colours over seeds 0-7: 11 -> 22 of 48, circles 24 -> 35, triangles 33 -> 46; but "three large green squares"
stayed wrong on 3-4 of 4 seeds at all twelve snapshots (every 200 steps), and held-out counts read right number
0.67-0.92, colour 0.92-0.96, shape 0.93-0.97 (seeds 0-3), none better than stage 16 on all three.
As released: one object colour {colour}, shape {shape}, place {place}; two objects right {two_all}
(relation {relation}, right number of objects {count}, colours {two_colour}, shapes {two_shape}): a wrong number
of objects, and two-object colours and shapes, are the commonest misses. Its 9-channel inpainting sibling
`shapes-sd-inpaint` was fine-tuned from stage (2) and keeps its schedule."""

INPAINT_LIMITS = """## Limits (as released)
Fine-tuned from the stage-2 (zero-terminal-SNR, v-prediction) `shapes-sd` UNet at 4,203 steps, whose schedule it
keeps: 2,800 steps at batch 32 (`python -m pipelines.shapes.train inpaint --steps 2800 --batch-size 32 --threads
1`; 103 wall minutes on a CPU shared with another training). Scores from `python -m bench.inpaint` (written into
`eval.json` by hand; `evaluate` does not measure inpainting). It changes no pixel outside the mask and leaves no
seam (the any-model method leaves a faint one when the prompt names only the new object, GLIDE's point).
Describe the whole finished picture in the prompt, as its training captions do: naming only the new object works
much less often. The earlier release, fine-tuned from the stage-1 (epsilon) UNet, put the asked object in the
mask 68 % of the time on the same bench. Its text encoder, which had met only the canonical captions, was then tuned
alone to read other phrasings as those (`python -m pipelines.shapes.train inpaint-text --steps 600 --seed 7
--two-object-fraction 0.4 --layout-focus 0.3 --phrasing-share 0.8 --anchor 0.05 --threads 1`, 15 wall minutes;
its facts follow the training table): the scene asked in other phrasings 60 % -> 82 %, the canonical 92 % -> 90 %
(one case of 40); the 80-case and object-only rows predate it. Those percentages were read by the judge of before
2026-12-07; the current one reads 92 % canonical and 90 % in other phrasings on the same bench, the scores above.
It does not know the counting words."""


def _card(
    title: str,
    body: str,
    stages: list[Path],
    folder: Path,
    scores: dict,
    limits: str = "",
    more_facts: str = "",
) -> str:
    """`stages`: the `training.json` of each part's last stage, in the order they ran (the runs of each part's
    `runs/<model>` folder resume them); the first, the model's main part, fills the training table."""
    stages_facts = [json.loads(path.read_text()) for path in stages if path.is_file()]
    reproduce = "\n".join([*(train_command(facts) for facts in stages_facts), EVALUATE])
    resumable = " and ".join(f"`runs/{facts['model']}/checkpoint.safetensors`" for facts in stages_facts)
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
{_facts(stages[0])}
{more_facts}
The last stage of each part (seeded, resumable from {resumable}; a stage that continued a release
starts from the folder it is saved in, so run them on a copy, `--assets-dir`):
```
{reproduce}
```

## Scores (`python -m pipelines.shapes.evaluate`)
| metric | value |
|---|---|
{score_rows}

{limits}
"""


def write_cards(assets: Path, results: dict) -> None:
    clip, sd, inpaint = assets / "shapes-clip", assets / "shapes-sd", assets / "shapes-sd-inpaint"
    # a text encoder tuned alone after its UNet (`train text`) records its own facts
    sd_text, inpaint_text = sd / "text_encoder" / "training.json", inpaint / "text_encoder" / "training.json"
    tuned_title = "Text encoder, then tuned alone to read other phrasings as the canonical captions"
    sd_vae = sd / "vae" / "training.json"
    decoder_tuned = sd_vae.is_file() and json.loads(sd_vae.read_text()).get("trained") == "decoder only"
    decoder_note = "; its decoder later tuned alone on scenes with counts, encoder unchanged" if decoder_tuned else ""
    sd_sections = [(tuned_title, sd_text)]
    if decoder_tuned:
        sd_sections.append(("Autoencoder, its decoder then tuned alone (`train vae --from-release`)", sd_vae))
    if clip.exists():
        clip.joinpath("README.md").write_text(
            _card(
                "shapes-clip: a tiny CLIP pair for the shapes world",
                "`transformers.CLIPModel` (text: 3-layer causal transformer, width 128, word-level tokenizer of the "
                "shapes vocabulary, 16 tokens; vision: 3-layer ViT, 8x8 patches of 64x64 images; 64-d joint space), "
                "trained contrastively (symmetric InfoNCE, identical captions in a batch counted as matches); then "
                "its text tower alone tuned on captions 60 % written in other phrasings the grammar reads (the image "
                "tower, and every image embedding, unchanged). "
                "It is the studio's CLIP scorer, CLIP-guidance model and image embedder; its text tower initialises "
                "the text encoder of `shapes-sd`. Load: `CLIPModel.from_pretrained(folder)`, "
                "`AutoTokenizer.from_pretrained(folder)`.",
                [clip / "training.json"],
                clip,
                {
                    "zero-shot caption retrieval, top-1, held-out images": results.get("clip_retrieval_top1", "n/a"),
                    "the same, captions in other phrasings": results.get("clip_retrieval_top1_paraphrase", "n/a"),
                },
            )
        )
    if sd.exists():
        scores = {
            "autoencoder PSNR (dB), held-out images": results.get("vae_psnr_db", "n/a"),
            "autoencoder PSNR (dB), held-out counts of one kind": results.get("vae_psnr_counts_db", "n/a"),
        }
        t2i = results.get("text_to_image", {})
        for key, value in t2i.items():
            scores[f"text-to-image {key}"] = value
        for key, value in results.get("text_to_image_paraphrase", {}).items():
            scores[f"text-to-image, paraphrased prompts, {key}"] = value
        for key, value in results.get("text_to_image_counting", {}).items():
            scores[f"counting {key}"] = value
        for key, value in results.get("text_to_image_counting_paraphrase", {}).items():
            scores[f"counting, paraphrased prompts, {key}"] = value
        sd.joinpath("README.md").write_text(
            _card(
                "shapes-sd: a tiny Stable Diffusion for the shapes world",
                "A plain `StableDiffusionPipeline` folder: `UNet2DConditionModel` (blocks 64/128/128, fp16 "
                "weights, cross-attention at 16x16 and 8x8 latents, context width 128), `AutoencoderKL` (4x "
                "downsampling, 4 latent channels, blocks 16/32/64"
                + decoder_note
                + "), `CLIPTextModel` text encoder (initialised "
                "from `shapes-clip`, fine-tuned with the UNet"
                + (
                    "; then tuned alone, the UNet frozen, to read other phrasings as it reads the canonical captions"
                    if sd_text.is_file()
                    else ""
                )
                + "), word-level tokenizer, DPM++ 2M scheduler, no "
                "safety checker. Native size 64x64. Trained with the caption dropped 15 % of the time, so "
                "classifier-free guidance works; EMA weights; zero-terminal-SNR noise schedule with v-prediction "
                "(min-SNR-5 weights floored at 1). Text-to-image scores use "
                "DPM++ 2M, 20 steps, CFG scale 5, seeds 0-3 over the held-out prompts "
                "(`world.held_out_prompts()`) and over the same pictures asked in other words the grammar reads "
                "(`world.held_out_paraphrases()`: synonyms, other prepositions and articles, 'left of', the converse "
                "relation, capitals, punctuation). Loads with no code of ours: "
                "`StableDiffusionPipeline.from_pretrained(folder)`.",
                [sd / "unet" / "training.json", sd_text, sd_vae],
                sd,
                scores,
                SD_LIMITS.format(
                    colour=t2i.get("one/colour", "n/a"),
                    shape=t2i.get("one/shape", "n/a"),
                    place=t2i.get("one/position", "n/a"),
                    two_all=t2i.get("two/all", "n/a"),
                    relation=t2i.get("two/relation", "n/a"),
                    count=t2i.get("two/count", "n/a"),
                    two_colour=t2i.get("two/colour", "n/a"),
                    two_shape=t2i.get("two/shape", "n/a"),
                ),
                facts_sections(sd_sections),
            )
        )
    if inpaint.exists():
        inpaint.joinpath("README.md").write_text(
            _card(
                "shapes-sd-inpaint: a 9-channel inpainting UNet for the shapes world",
                "`StableDiffusionInpaintPipeline` folder: the `shapes-sd` UNet with 5 extra zero-initialised input "
                "channels (mask, masked-image latents), fine-tuned with GLIDE's random erasing (10 % full masks, 45 % "
                "random rectangles, 45 % one object's box plus a margin). VAE, text encoder and tokenizer are those "
                "of the `shapes-sd` it was fine-tuned from.",
                [inpaint / "unet" / "training.json", inpaint_text],
                inpaint,
                {k: v for k, v in results.get("inpaint", {}).items()},
                INPAINT_LIMITS,
                facts_sections([(tuned_title, inpaint_text)]),
            )
        )
