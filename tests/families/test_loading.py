"""Every model family loads from a user's `--config` folder through the manager, the registry describes it honestly,
and every task it offers draws a finite image of the right size with a plain diffusers call (2 steps)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.errors import UnsupportedTaskError
from pipelines.manager import ManagerConfig, PipelineManager
from pipelines.models import IMG2IMG, INPAINT, TXT2IMG, UNCLIP, UPSCALE, ModelRegistry
from pipelines.testing import TINY_FAMILIES, build_tiny_kandinsky22_folder
from pipelines.testing.families import CLIP_FOLDERS

ALL = (TXT2IMG, IMG2IMG, INPAINT)
# What the registry must offer per family: the tasks diffusers' pipelines really serve for it.
EXPECTED_TASKS = {
    "tiny-sd": ALL,
    "tiny-sd2": ALL,
    "tiny-sdxl": ALL,
    "tiny-sdxl-refiner": (IMG2IMG,),
    "tiny-sdxl-inpaint": (INPAINT,),
    "tiny-sd-inpaint": (INPAINT,),
    "tiny-kandinsky22-prior": (),
    "tiny-kandinsky22": (TXT2IMG, IMG2IMG),
    "tiny-kandinsky22-inpaint": (INPAINT,),
    "tiny-sd-unclip": (UNCLIP,),
    "tiny-if": ALL,
    "tiny-if-stage2": (UPSCALE,),
    "tiny-sd-upscaler": (UPSCALE,),
}
# The pipeline class the manager hands out per (model, task).
EXPECTED_CLASS = {
    ("tiny-sd", TXT2IMG): "StableDiffusionPipeline",
    ("tiny-sd", IMG2IMG): "StableDiffusionImg2ImgPipeline",
    ("tiny-sd", INPAINT): "StableDiffusionInpaintPipeline",
    ("tiny-sd2", TXT2IMG): "StableDiffusionPipeline",
    ("tiny-sd2", IMG2IMG): "StableDiffusionImg2ImgPipeline",
    ("tiny-sd2", INPAINT): "StableDiffusionInpaintPipeline",
    ("tiny-sdxl", TXT2IMG): "StableDiffusionXLPipeline",
    ("tiny-sdxl", IMG2IMG): "StableDiffusionXLImg2ImgPipeline",
    ("tiny-sdxl", INPAINT): "StableDiffusionXLInpaintPipeline",
    ("tiny-sdxl-refiner", IMG2IMG): "StableDiffusionXLImg2ImgPipeline",
    ("tiny-sdxl-inpaint", INPAINT): "StableDiffusionXLInpaintPipeline",
    ("tiny-sd-inpaint", INPAINT): "StableDiffusionInpaintPipeline",
    ("tiny-kandinsky22", TXT2IMG): "KandinskyV22CombinedPipeline",
    ("tiny-kandinsky22", IMG2IMG): "KandinskyV22Img2ImgCombinedPipeline",
    ("tiny-kandinsky22-inpaint", INPAINT): "KandinskyV22InpaintCombinedPipeline",
    ("tiny-sd-unclip", UNCLIP): "StableUnCLIPImg2ImgPipeline",
    ("tiny-if", TXT2IMG): "IFPipeline",
    ("tiny-if", IMG2IMG): "IFImg2ImgPipeline",
    ("tiny-if", INPAINT): "IFInpaintingPipeline",
}
FAMILIES = {f.name: f for f in TINY_FAMILIES}
PROMPT = "a red circle above a blue square"


def _source(size: int) -> Image.Image:
    image = np.zeros((size, size, 3), np.uint8)
    image[: size // 2] = (200, 40, 40)
    return Image.fromarray(image)


def _mask(size: int) -> Image.Image:
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    return Image.fromarray(mask)


def _draw(pipe, task: str, size: int) -> np.ndarray:
    """One plain diffusers call of `pipe` for `task`, 2 steps, as numpy images (B, H, W, 3) in [0, 1]."""
    kwargs = {"num_inference_steps": 2, "generator": torch.Generator("cpu").manual_seed(0), "output_type": "np"}
    if task == UNCLIP:
        kwargs.update(image=_source(size), prompt=PROMPT)
    else:
        kwargs["prompt"] = PROMPT
    if task in (IMG2IMG, INPAINT):
        kwargs.update(image=_source(size), strength=1.0)
    if task == INPAINT:
        kwargs["mask_image"] = _mask(size)
    if "IF" not in type(pipe).__name__:  # IF's img2img and inpainting take the size of their image
        kwargs.update(height=size, width=size)
    if "Kandinsky" in type(pipe).__name__:
        kwargs["prior_num_inference_steps"] = 2
    return np.asarray(pipe(**kwargs).images)


def test_the_fixture_builds_every_family_fast_and_small(build_facts):
    assert set(build_facts) == set(FAMILIES) | set(CLIP_FOLDERS)
    assert sum(f["seconds"] for f in build_facts.values()) < 30
    for name, facts in build_facts.items():
        assert 0 < facts["bytes"] < 10 * 2**20, name


@pytest.mark.parametrize("name", list(FAMILIES))
def test_registry_describes_each_family(families_manager, name):
    tiny = FAMILIES[name]
    entry = families_manager.registry.get(name)
    assert entry.kind == "local"
    assert entry.family == tiny.family
    assert entry.description.startswith(tiny.pipeline_class)
    assert entry.tasks == EXPECTED_TASKS[name]
    if tiny.native_size is not None:
        assert entry.native_size == tiny.native_size
        assert entry.native_size % entry.size_multiple == 0
    for key, other in tiny.extras.items():
        assert families_manager.extra_entry(entry, key).name == other


@pytest.mark.parametrize("name,task", list(EXPECTED_CLASS))
def test_every_offered_task_loads_and_draws(families_manager, name, task):
    entry = families_manager.entry(name, task)
    assert task in entry.tasks
    pipe = families_manager.pipeline(name, task)
    assert type(pipe).__name__ == EXPECTED_CLASS[name, task]
    size = entry.native_size
    images = _draw(families_manager.request_pipeline(name, task), task, size)
    assert images.shape == (1, size, size, 3)
    assert np.isfinite(images).all() and 0.0 <= images.min() and images.max() <= 1.0
    assert images.std() > 0  # not a blank image


def test_one_model_pipelines_share_one_copy_of_the_weights(families_manager):
    for name in ("tiny-sdxl", "tiny-kandinsky22", "tiny-if"):
        tasks = EXPECTED_TASKS[name]
        pipes = [families_manager.pipeline(name, task) for task in tasks]
        assert len({id(p.unet) for p in pipes}) == 1, name
        (loaded,) = [m for m in families_manager.report() if m.name == name]
        assert set(loaded.pipelines) == set(tasks)


def test_tasks_a_family_cannot_do_are_refused(families_manager):
    refused = (
        ("tiny-sdxl-refiner", TXT2IMG),
        ("tiny-sd-inpaint", TXT2IMG),
        ("tiny-sdxl-inpaint", TXT2IMG),
        ("tiny-sd-unclip", INPAINT),
        ("tiny-kandinsky22", INPAINT),  # the plain decoder's UNet takes 4 channels; inpainting needs its 9-channel one
    )
    for name, task in refused:
        with pytest.raises(UnsupportedTaskError, match=f"model '{name}' cannot do '{task}'"):
            families_manager.pipeline(name, task)
    assert "tiny-kandinsky22-prior" not in families_manager.registry.names(TXT2IMG)
    assert "tiny-if-stage2" not in families_manager.registry.names(TXT2IMG)


def test_kandinsky_decoder_without_its_prior_offers_nothing(tmp_path):
    folder = build_tiny_kandinsky22_folder(tmp_path / "decoder")
    config = tmp_path / "models.toml"
    config.write_text(f'[[models]]\nname = "decoder only"\npath = "{folder}"\n')
    entry = ModelRegistry.discover(models_dir=None, config_path=config, include_hub=False).get("decoder only")
    assert entry.family == "kandinsky22" and entry.tasks == ()
    assert "needs its prior" in entry.description


def test_kandinsky_request_pipelines_have_their_own_sub_pipelines(families_manager):
    shared = families_manager.pipeline("tiny-kandinsky22")
    clone = families_manager.request_pipeline("tiny-kandinsky22", sampler="DDIM")
    assert clone.decoder_pipe is not shared.decoder_pipe and clone.prior_pipe is not shared.prior_pipe
    assert clone.decoder_pipe.scheduler is clone.scheduler
    assert type(clone.decoder_pipe.scheduler).__name__ == "DDIMScheduler"
    assert clone.prior_pipe.scheduler is not shared.prior_pipe.scheduler
    assert clone.decoder_pipe.unet is shared.decoder_pipe.unet  # same weights


def test_kandinsky_prior_gives_image_embeddings(families_config):
    from diffusers import KandinskyV22PriorPipeline

    prior = KandinskyV22PriorPipeline.from_pretrained(families_config.parent / "tiny-kandinsky22-prior")
    out = prior(PROMPT, num_inference_steps=2, generator=torch.Generator("cpu").manual_seed(0))
    assert out.image_embeds.shape == out.negative_image_embeds.shape == (1, 32)
    assert torch.isfinite(out.image_embeds).all()


def test_sdxl_base_then_refiner_split_at_one_noise_level(families_manager):
    """eDiff-I's experts by noise level: the base denoises to f, the refiner (its `extras`) from f to the end."""
    base = families_manager.request_pipeline("tiny-sdxl", TXT2IMG)
    refiner_entry = families_manager.extra_entry(families_manager.entry("tiny-sdxl"), "refiner")
    refiner = families_manager.request_pipeline(refiner_entry.name, IMG2IMG)
    generator = torch.Generator("cpu").manual_seed(0)
    latents = base(PROMPT, num_inference_steps=4, denoising_end=0.5, output_type="latent", generator=generator).images
    assert latents.shape == (1, 4, 16, 16)
    images = refiner(
        PROMPT, image=latents, num_inference_steps=4, denoising_start=0.5, output_type="np", generator=generator
    ).images
    assert images.shape == (1, 64, 64, 3) and np.isfinite(images).all()


def test_if_stage_one_then_stage_two(families_manager, families_config):
    from diffusers import IFSuperResolutionPipeline

    stage_1 = families_manager.request_pipeline("tiny-if")
    stage_2_entry = families_manager.extra_entry(families_manager.entry("tiny-if"), "stage_2")
    stage_2 = IFSuperResolutionPipeline.from_pretrained(stage_2_entry.source, local_files_only=True)
    prompt_embeds, negative_embeds = stage_1.encode_prompt(PROMPT)
    generator = torch.Generator("cpu").manual_seed(0)
    common = {"prompt_embeds": prompt_embeds, "negative_prompt_embeds": negative_embeds, "generator": generator}
    low = stage_1(num_inference_steps=2, output_type="pt", **common).images
    assert low.shape == (1, 3, 32, 32)
    high = stage_2(image=low, num_inference_steps=2, output_type="np", **common).images
    assert high.shape == (1, 64, 64, 3) and np.isfinite(high).all()


def test_a_t5_tokenizer_folder_reloads_offline(families_config):
    from diffusers import IFPipeline

    pipe = IFPipeline.from_pretrained(families_config.parent / "tiny-if", local_files_only=True)
    ids = pipe.tokenizer(PROMPT, padding="max_length", max_length=77, truncation=True).input_ids
    assert len(ids) == 77 and ids[len(PROMPT.split())] == pipe.tokenizer.eos_token_id
    assert pipe.tokenizer.unk_token_id not in ids


def test_a_fresh_manager_loads_the_config_like_the_studio(families_config):
    """`python app.py --config models.toml` builds its manager this way (Hub presets listed, bundled models too)."""
    started = time.perf_counter()
    manager = PipelineManager(ManagerConfig(config_path=families_config, device="cpu", offline=True))
    for tiny in TINY_FAMILIES:
        assert tiny.name in manager.registry.names()
    assert "tiny-sdxl" in manager.registry.names(TXT2IMG)
    manager.pipeline("tiny-if")
    assert time.perf_counter() - started < 10


def test_a_config_clip_names_the_clip_pair_the_model_uses(families_manager, families_config):
    """`clip = "<folder>"` in the config is the CLIP a model's scores and text diffs use (here the tiny pair)."""
    entry = families_manager.registry.get("tiny-sd-unclip")
    assert entry.clip == str((families_config.parent / "tiny-clip").resolve())
    scorer = families_manager.clip_scorer(entry)
    assert scorer is not None and scorer.text_embeddings(["a red circle"]).shape[-1] == 32
