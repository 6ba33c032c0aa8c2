"""Paint with words (eDiff-I, Balaji et al. 2022, https://arxiv.org/abs/2211.01324): training-free layout control.

The user paints regions in a few colours and ties each colour to a phrase of the prompt. In every
cross-attention layer of the UNet the attention logits get a bias where a pixel lies in a phrase's region::

    logits = Q Kᵀ / √d
    logits += w · log(1 + σ) · max(Q Kᵀ / √d) · M          (conditional half of the batch only)
    out     = softmax(logits) V

Notation:
    - `M[pixel, token]` (`token_map`): the phrase weight where the pixel is painted with the phrase's colour
      and the token belongs to (any occurrence of) the phrase, else 0. The painted map is resized with
      NEAREST to each layer's resolution, so colours stay exact.
    - `σ` (`sigma`): the noise level of the current step, σ_t = sqrt((1 − ᾱ_t) / ᾱ_t), read from the
      scheduler's `alphas_cumprod` at the timestep the UNet is called with (this is the σ that Euler/DPM
      schedulers use; fractional timesteps are interpolated the way they do). Large early, small late:
      the layout follows the paint, details stay natural.
    - `w` (`paint_weight`): the global user weight, typically 0.1–0.4.
    - `max(Q Kᵀ / √d)`: the largest logit of that layer for that sample (over heads, pixels and tokens),
      as in the public reference implementation (paint-with-words-sd).

Self-attention and the unconditional (classifier-free guidance) half are left to the original processors.
The processors are installed for one call and the originals restored in `try/finally`; when the bias is
zero (w = 0) the original processor runs and nothing is steered, so w = 0 gives plain text-to-image bit for bit.

With `steer_layout` (the default) the first quarter of the steps is also followed by backward layout
guidance (`layout_guidance.py`, Chen et al. 2023), step size w · GUIDANCE_STEP: the bias alone shapes the
attention, but on the bundled model the objects still often formed beside their regions.

Lifecycle: check inputs → region map (snap colours) → load model, phrase → token indices → install
processors + σ hook → the text-to-image denoising loop (+ steering after the first steps) → restore →
images + region map.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image

from .attention import cross_attention, cross_attention_wrapped
from .capabilities import PAINT_WITH_WORDS, require
from .jobs import StepInfo
from .layout_guidance import LayoutTarget, can_guide, guide_latents, guided_steps
from .limits import check
from .manager import PipelineManager
from .models import TXT2IMG
from .png_info import attach
from .regions import layer_labels, resize_labels
from .text_to_image import TextToImageRequest, resolve, text_to_image, validate

logger = logging.getLogger(__name__)

ALPHA_PAINTED = 128  # layer pixels at least this opaque count as painted (anti-aliased edges are fainter)
GUIDANCE_STEP = 0.1  # backward layout guidance: mean latent change per iteration at w = 1
INFO_KEY = "paint_with_words"  # PNG text chunk holding the colour → phrase mapping (JSON)


@dataclass(frozen=True)
class BrushColour:
    """One brush of the fixed palette: a name people read and the exact RGB the canvas paints."""

    name: str
    rgb: tuple[int, int, int]
    emoji: str  # shown in the UI's table, so the colour is visible in plain text

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


# Opaque, far apart in RGB, none close to white (the unpainted background).
PALETTE: tuple[BrushColour, ...] = (
    BrushColour("red", (229, 57, 53), "🟥"),
    BrushColour("blue", (30, 136, 229), "🟦"),
    BrushColour("green", (67, 160, 71), "🟩"),
    BrushColour("yellow", (253, 216, 53), "🟨"),
    BrushColour("purple", (142, 36, 170), "🟪"),
    BrushColour("orange", (251, 140, 0), "🟧"),
)
UNPAINTED_RGB = (255, 255, 255)  # an RGB layout (no alpha) reads white as "not painted"


def brush(colour: str | tuple[int, int, int]) -> BrushColour:
    """The palette entry for a name, a '#rrggbb' hex, or an exact RGB triple; ValueError otherwise."""
    for b in PALETTE:
        if colour == b.rgb or (isinstance(colour, str) and colour.strip().lower() in (b.name, b.hex)):
            return b
    if isinstance(colour, (tuple, list)) and len(colour) == 3:
        colour = tuple(int(c) for c in colour)
        for b in PALETTE:
            if colour == b.rgb:
                return b
    raise ValueError(
        f"`colour` must be one of the palette's {[b.name for b in PALETTE]} (or their hex codes), got {colour!r}"
    )


@dataclass(frozen=True)
class Region:
    """One row of the colour → phrase table."""

    colour: str  # a palette name ("red") or hex code ("#e53935")
    phrase: str  # words of the prompt; every occurrence of its tokens gets the region
    weight: float = 1.0  # multiplies w for this phrase


@dataclass(frozen=True, eq=False)
class PaintWithWordsRequest:
    """Everything that decides the images. The text-to-image fields mean what they mean there."""

    prompt: str
    layout: np.ndarray  # (H, W, 4) RGBA or (H, W, 3) RGB uint8 colour layer; any size, resized with NEAREST
    regions: tuple[Region, ...]  # colour → phrase (+ weight); each colour at most once
    paint_weight: float = 0.3  # the global w of w·log(1+σ)·max(QKᵀ/√d)·M (0 = plain text-to-image)
    steer_layout: bool = True  # also backward layout guidance in the first steps, step size w·GUIDANCE_STEP
    negative_prompt: str = ""
    model: str | None = None
    sampler: str = TextToImageRequest.sampler
    steps: int = TextToImageRequest.steps
    cfg_scale: float = TextToImageRequest.cfg_scale
    seed: int = -1
    width: int | None = None
    height: int | None = None
    batch_size: int = 1

    def text_to_image_request(self) -> TextToImageRequest:
        """The same generation without the paint (what w = 0 must reproduce)."""
        return TextToImageRequest(
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            model=self.model,
            sampler=self.sampler,
            steps=self.steps,
            cfg_scale=self.cfg_scale,
            seed=self.seed,
            width=self.width,
            height=self.height,
            batch_size=self.batch_size,
        )


@dataclass(frozen=True)
class PhraseTokens:
    """Where a region's phrase sits in the padded prompt."""

    colour: BrushColour
    phrase: str
    weight: float
    indices: tuple[int, ...]  # token positions in the padded sequence (BOS/EOS/padding never included)


@dataclass(frozen=True)
class PaintWithWordsResult:
    images: list[Image.Image]  # `.info["parameters"]` and `.info["paint_with_words"]` set
    parameters: list[str]
    seed: int
    request: PaintWithWordsRequest  # with model, seed, width, height resolved
    region_map: Image.Image  # the snapped layout at the image size, palette colours on white; PNG-ready
    phrases: tuple[PhraseTokens, ...]
    steered: bool = False  # backward layout guidance ran (asked for, w > 0, and a UNet it can drive)
    stopped_at: int | None = None


# --------------------------------------------------------------------------------------- region maps
def snap_to_palette(layout: np.ndarray) -> np.ndarray:
    """Labels each pixel of a colour layer with its nearest palette colour.

    Anti-aliased stroke edges and lossy pixels land on the nearest brush; faint (alpha < 128) or white
    pixels are unpainted.

    Args:
        layout: (H, W, 4) RGBA or (H, W, 3) RGB, uint8.

    Returns:
        (H, W) uint8 labels: 0 = unpainted, i + 1 = `PALETTE[i]`.
    """
    array = np.asarray(layout)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"`layout` must be an (H, W, 3) RGB or (H, W, 4) RGBA image, got shape {array.shape}")
    rgb = array[..., :3].astype(np.float32)
    candidates = np.array([UNPAINTED_RGB] + [b.rgb for b in PALETTE], dtype=np.float32)  # (1 + K, 3)
    distances = np.linalg.norm(rgb[:, :, None, :] - candidates[None, None], axis=-1)  # (H, W, 1 + K)
    labels = distances.argmin(-1).astype(np.uint8)
    if array.shape[2] == 4:
        labels[array[..., 3] < ALPHA_PAINTED] = 0
    return labels


def render_labels(labels: np.ndarray) -> Image.Image:
    """The label map as an RGB picture: palette colours on white."""
    colours = np.array([UNPAINTED_RGB] + [b.rgb for b in PALETTE], dtype=np.uint8)
    return Image.fromarray(colours[labels])


def used_colours(layout: np.ndarray) -> list[tuple[BrushColour, int]]:
    """The palette colours painted on `layout` with their pixel counts, in palette order."""
    counts = np.bincount(snap_to_palette(layout).ravel(), minlength=len(PALETTE) + 1)
    return [(b, int(counts[i + 1])) for i, b in enumerate(PALETTE) if counts[i + 1]]


# --------------------------------------------------------------------------------------- tokens
def find_phrase_tokens(tokenizer, prompt: str, phrase: str, max_length: int | None = None) -> tuple[int, ...]:
    """Every position of `phrase`'s token subsequence in the padded, tokenised prompt.

    The prompt is tokenised as the pipeline does (padding to `max_length`, truncation); the phrase without
    BOS/EOS. Positions holding BOS, EOS or padding never match. A phrase occurring twice gets both places.

    Raises:
        ValueError: empty phrase, words the tokenizer does not know, or not in the prompt.
    """
    if not isinstance(phrase, str) or not phrase.strip():
        raise ValueError(f"`phrase` must be words of the prompt, got {phrase!r}")
    max_length = max_length or tokenizer.model_max_length
    prompt_ids = tokenizer(prompt, padding="max_length", max_length=max_length, truncation=True).input_ids
    phrase_ids = tokenizer(phrase.strip(), add_special_tokens=False).input_ids
    unk = tokenizer.unk_token_id
    if unk is not None and unk in phrase_ids:
        raise ValueError(f"`phrase` {phrase!r} has words the model's tokenizer does not know; use words of the prompt")
    special = {i for i in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) if i is not None}
    n = len(phrase_ids)
    indices: list[int] = []
    for start in range(len(prompt_ids) - n + 1):
        window = prompt_ids[start : start + n]
        if window == phrase_ids and not special.intersection(window):
            indices.extend(range(start, start + n))
    if not indices:
        raise ValueError(
            f"`phrase` {phrase!r} is not in the prompt {prompt!r} (within its first {max_length} tokens); "
            "each phrase must be words copied from the prompt"
        )
    return tuple(sorted(set(indices)))


# --------------------------------------------------------------------------------------- the processor
class PaintState:
    """What the processors of one call share: the region map, token weights, w and the current σ.

    Args:
        labels: (H, W) uint8 label map (0 = unpainted, i + 1 = PALETTE[i]).
        token_weights: (1 + K, tokens) float, row i + 1 = the weight of each token for PALETTE[i]'s phrase.
        weight: global w.
        cfg: whether the batch is [unconditional, conditional] (classifier-free guidance on).
        alphas_cumprod: the scheduler's ᾱ_t for the training timesteps, for σ_t.
    """

    def __init__(self, labels, token_weights, weight: float, cfg: bool, alphas_cumprod: torch.Tensor):
        self.labels = labels
        self.token_weights = token_weights
        self.weight = float(weight)
        self.cfg = cfg
        # Floored as diffusers' zero-terminal-SNR schedulers floor it, so σ at t = T stays finite there too.
        alphas = alphas_cumprod.double().cpu().clamp(min=2**-24)
        self._sigmas = ((1 - alphas) / alphas).sqrt().numpy()  # σ_t for integer t
        self.sigma: float | None = None
        self.latent_size: tuple[int, int] | None = None
        self._maps: dict[tuple, torch.Tensor] = {}

    def set_timestep(self, timestep, latent_size: tuple[int, int]) -> None:
        """Called before every UNet call: σ of `timestep` (interpolated for fractional ones)."""
        t = float(torch.as_tensor(timestep).flatten()[0])
        self.sigma = float(np.interp(t, np.arange(len(self._sigmas)), self._sigmas))
        self.latent_size = latent_size

    @property
    def bias_scale(self) -> float:
        """w · log(1 + σ) of the current step."""
        if self.sigma is None:
            raise RuntimeError("paint-with-words processor called outside a UNet call (no σ set)")
        return self.weight * math.log1p(self.sigma)

    def token_map(self, n_pixels: int, device, dtype) -> torch.Tensor:
        """M for a layer with `n_pixels` query positions: (n_pixels, tokens)."""
        key = (n_pixels, device, dtype)
        if key not in self._maps:
            labels = layer_labels(self.labels, n_pixels, self.latent_size)
            self._maps[key] = self.token_weights[labels].to(device=device, dtype=dtype)
        return self._maps[key]

    def conditional_rows(self, batch: int, device) -> torch.Tensor:
        """(batch,) 1 for conditional samples, 0 for unconditional ones (first half under CFG)."""
        rows = torch.ones(batch, device=device)
        if self.cfg:
            rows[: batch // 2] = 0
        return rows


class PaintWithWordsAttnProcessor:
    """Cross-attention with the paint-with-words bias; everything else goes to the original processor."""

    def __init__(self, original, state: PaintState):
        self.original = original
        self.state = state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        if encoder_hidden_states is None or self.state.bias_scale == 0:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, temb, **kwargs)
        return cross_attention(attn, hidden_states, encoder_hidden_states, attention_mask, temb, self.bias)

    def bias(self, logits: torch.Tensor) -> torch.Tensor:
        """logits + w·log(1+σ)·max(QKᵀ/√d)·M on the conditional samples; logits (B, heads, pixels, tokens)."""
        batch, _, n_pixels, _ = logits.shape
        m = self.state.token_map(n_pixels, logits.device, logits.dtype)  # (pixels, tokens)
        peak = logits.amax(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1): per sample, over heads, pixels, tokens
        rows = self.state.conditional_rows(batch, logits.device).view(batch, 1, 1, 1)
        return logits + rows * self.state.bias_scale * peak * m


@contextmanager
def paint_with_words_installed(unet, state: PaintState):
    """Installs the processors on every cross-attention layer and a σ hook, for the `with` block only."""

    def set_sigma(module, args, kwargs):
        sample = args[0] if args else kwargs["sample"]
        timestep = args[1] if len(args) > 1 else kwargs["timestep"]
        state.set_timestep(timestep, tuple(sample.shape[-2:]))

    with cross_attention_wrapped(unet, lambda original: PaintWithWordsAttnProcessor(original, state)):
        hook = unet.register_forward_pre_hook(set_sigma, with_kwargs=True)
        try:
            yield
        finally:
            hook.remove()


# --------------------------------------------------------------------------------------- the method
def validate_paint(request: PaintWithWordsRequest) -> None:
    """Raises a ValueError naming the parameter for the paint-specific fields (text-to-image ones: `validate`)."""
    check(request.paint_weight, "paint_weight")
    snap_to_palette(request.layout)  # shape check
    if not request.regions:
        raise ValueError("`regions` must tie at least one painted colour to a phrase of the prompt, got none")
    seen: set[str] = set()
    for i, region in enumerate(request.regions):
        b = brush(region.colour)
        if b.name in seen:
            raise ValueError(f"`regions[{i}].colour` {b.name} appears twice; give each colour one phrase")
        seen.add(b.name)
        check(region.weight, "region_weight", f"regions[{i}].weight")


def phrase_tokens(tokenizer, prompt: str, regions: tuple[Region, ...], labels: np.ndarray) -> tuple[PhraseTokens, ...]:
    """Resolves each region's colour and phrase; a colour that is not painted is an error."""
    painted = set(np.unique(labels).tolist())
    out = []
    for i, region in enumerate(regions):
        b = brush(region.colour)
        if PALETTE.index(b) + 1 not in painted:
            raise ValueError(
                f"`regions[{i}].colour` {b.name} is not painted on the layout; paint it or remove the row"
            )
        try:
            indices = find_phrase_tokens(tokenizer, prompt, region.phrase)
        except ValueError as e:
            raise ValueError(f"`regions[{i}].phrase` ({b.name}): {e}") from None
        out.append(PhraseTokens(b, region.phrase.strip(), float(region.weight), indices))
    return tuple(out)


def token_weight_table(phrases: tuple[PhraseTokens, ...], n_tokens: int) -> torch.Tensor:
    """(1 + K, n_tokens): row i + 1 holds PALETTE[i]'s phrase weight at its token positions."""
    table = torch.zeros(len(PALETTE) + 1, n_tokens)
    for p in phrases:
        table[PALETTE.index(p.colour) + 1, list(p.indices)] = p.weight
    return table


def describe_regions(weight: float, steered: bool, phrases: tuple[PhraseTokens, ...]) -> str:
    """One line for the PNG parameters: `w 0.3; steered; red: a red circle (1); blue: a blue square (1)`."""
    parts = [f"w {weight:g}"] + (["steered"] if steered else [])
    parts += [f"{p.colour.name}: {p.phrase} ({p.weight:g})" for p in phrases]
    return "; ".join(parts).replace('"', "'")


def steering(request: PaintWithWordsRequest, labels: np.ndarray, phrases: tuple[PhraseTokens, ...], steps: int):
    """The `adjust_latents` hook of text-to-image: backward layout guidance after the first steps."""
    target = LayoutTarget(labels, tuple((PALETTE.index(p.colour) + 1, p.indices) for p in phrases if p.weight > 0))
    guided = guided_steps(steps)
    step_size = GUIDANCE_STEP * request.paint_weight

    def adjust(pipeline, i: int, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
        latents = tensors["latents"]
        if i >= guided or not target.phrases:
            return latents
        # Under classifier-free guidance the conditioning is [negative; positive]: guide with the prompt's.
        n = latents.shape[0]
        context = tensors["prompt_embeds"][-n:]
        added = None
        if "add_text_embeds" in tensors:  # SDXL
            added = {"text_embeds": tensors["add_text_embeds"][-n:], "time_ids": tensors["add_time_ids"][-n:]}
        timestep = pipeline.scheduler.timesteps[i + 1]
        return guide_latents(pipeline.unet, pipeline.scheduler, latents, timestep, context, target, step_size, added)

    return adjust


def paint_with_words(
    manager: PipelineManager,
    request: PaintWithWordsRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    stop: threading.Event | None = None,
    preview_every: int = 0,
) -> PaintWithWordsResult:
    """Generates images whose painted regions hold the phrases tied to their colours.

    Args:
        manager: loads the model (lazily) and serialises work on the device.
        request: what to draw and where; validated here, errors name the parameter.
        on_step, stop, preview_every: as for `text_to_image`.

    Returns:
        The images (with parameters and the colour → phrase mapping in their PNG text), the region map
        at the image size, and where each phrase's tokens were found.
    """
    # 1. Check inputs (the text-to-image fields with text-to-image's own rules)
    entry = require(manager, PAINT_WITH_WORDS, request.model)
    t2i = resolve(request.text_to_image_request(), entry)
    validate(t2i, entry)
    validate_paint(request)
    request = replace(request, model=t2i.model, seed=t2i.seed, width=t2i.width, height=t2i.height)
    return manager.run(_generate, manager, request, t2i, on_step, stop, preview_every)


def _generate(manager, request, t2i, on_step, stop, preview_every) -> PaintWithWordsResult:
    # 2. Region map: snap the colours, then to the image size (NEAREST)
    labels = resize_labels(snap_to_palette(request.layout), t2i.height, t2i.width)

    # 3. Phrases → token positions, with the model's tokenizer
    shared = manager.pipeline(t2i.model, TXT2IMG)  # the unet and tokenizer every request pipeline shares
    n_tokens = shared.tokenizer.model_max_length
    phrases = phrase_tokens(shared.tokenizer, request.prompt, request.regions, labels)
    cfg = t2i.cfg_scale > 1 and getattr(shared.unet.config, "time_cond_proj_dim", None) is None
    state = PaintState(
        labels, token_weight_table(phrases, n_tokens), request.paint_weight, cfg, shared.scheduler.alphas_cumprod
    )

    steered = request.steer_layout and request.paint_weight > 0 and can_guide(shared.unet)
    if request.steer_layout and not can_guide(shared.unet):
        logger.info("%s needs conditions steering cannot pass: paint with words without steering", t2i.model)
    steer = steering(request, labels, phrases, t2i.steps) if steered else None

    # 4. Denoising loop: text-to-image's own, with the processors in for this call only
    with paint_with_words_installed(shared.unet, state):
        result = text_to_image(
            manager, t2i, on_step=on_step, stop=stop, preview_every=preview_every, adjust_latents=steer
        )

    # 5. Parameters and the mapping on every image; the region map beside them
    summary = describe_regions(request.paint_weight, steered, phrases)
    mapping = json.dumps(
        {
            "paint_weight": request.paint_weight,
            "steered": steered,
            "regions": [
                {"colour": p.colour.hex, "name": p.colour.name, "phrase": p.phrase, "weight": p.weight}
                for p in phrases
            ],
        }
    )
    texts = []
    for image, text in zip(result.images, result.parameters, strict=True):
        text = f'{text}, Paint with words: "{summary}"'
        attach(image, text)
        image.info[INFO_KEY] = mapping
        texts.append(text)
    region_map = render_labels(labels)
    region_map.info[INFO_KEY] = mapping
    return PaintWithWordsResult(
        images=result.images,
        parameters=texts,
        seed=result.seed,
        request=request,
        region_map=region_map,
        phrases=phrases,
        steered=steered,
        stopped_at=result.stopped_at,
    )
